/* Shared by the handlers of payments, refunds, disputes, payment links and
 * risk settings (core/objects.h). */
#include <string.h>
#include "core/objects.h"
#include "core/ids.h"

int object_load_own(struct store_txn *t, const char *id, const char *merchant_id, int livemode, json_t **doc)
{
    MDB_val v;
    int rc = store_object_get(t, id, &v);
    if (rc)
        return rc;
    json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!o)
        return CS_ECORRUPT;
    const char *m = json_string_value(json_object_get(o, "merchant"));
    if (!m || strcmp(m, merchant_id) != 0 || json_is_true(json_object_get(o, "livemode")) != !!livemode) {
        json_decref(o);
        return CS_ENOENT;
    }
    *doc = o;
    return 0;
}

int object_append(struct store_txn *t, struct command *c, const char *type, json_t *data)
{
    json_t *obj = json_object_get(data, "object");
    const char *id = json_string_value(json_object_get(obj, "id"));
    json_int_t version = json_integer_value(json_object_get(obj, "version"));
    if (!id || version < 1)
        return CS_EINTERNAL;
    return command_append(t, c, id, type, (uint64_t)(version - 1), data);
}

int object_reply(struct store_txn *t, struct command *c, const char *id, int status)
{
    MDB_val doc;
    int rc = store_object_get(t, id, &doc);
    if (rc)
        return write_cmd_fail(&c->base, rc);
    return write_cmd_reply(&c->base, status, doc.mv_data, doc.mv_size);
}

void object_get_handler(struct req_ctx *rc, const char *prefix, const char *what)
{
    const char *id = rc->params[0];
    if (!id_valid(id, prefix)) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such %s: %s", what, id);
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    json_t *doc = NULL;
    err = object_load_own(&t, id, rc->merchant_id, rc->livemode, &doc);
    store_abort(&t);
    if (err == 0)
        respond_json(rc, 200, doc);
    else if (err == CS_ENOENT)
        respond_fail(rc, CS_ENOTFOUND, "id", "no such %s: %s", what, id);
    else
        respond_fail(rc, err, "", "the %s could not be read", what);
}
