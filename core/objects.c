/* Shared by the handlers of payments, refunds, disputes, payment links and
 * risk settings (core/objects.h). */
#include <string.h>
#include "core/objects.h"
#include "core/ids.h"
#include "core/scheduler.h"
#include "core/list_page.h"

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

int object_job_append(struct store_txn *t, const struct sched_job *j, int64_t time_us, const char *type,
                      json_t *data)
{
    json_t *obj = json_object_get(data, "object");
    const char *id = json_string_value(json_object_get(obj, "id"));
    json_int_t version = json_integer_value(json_object_get(obj, "version"));
    if (!id || version < 1)
        return CS_EINTERNAL;
    return sched_append(t, j, time_us, id, type, (uint64_t)(version - 1), data);
}

struct all_walk {
    json_t *into;
    int err;
};

static int all_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct all_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o)
        w->err = CS_ECORRUPT;
    else if (json_array_append_new(w->into, o))
        w->err = CS_ENOMEM;
    return w->err;
}

int object_list_all(struct store_txn *t, const char *merchant_id, int livemode, const char *kind, json_t *into)
{
    struct all_walk w = {.into = into};
    int err = store_objects_each(t, merchant_id, livemode, kind, NULL, all_visit, &w);
    return err ? err : w.err;
}

int object_reply(struct store_txn *t, struct command *c, const char *id, int status)
{
    MDB_val doc;
    int rc = store_object_get(t, id, &doc);
    if (rc)
        return write_cmd_fail(&c->base, rc);
    return write_cmd_reply(&c->base, status, doc.mv_data, doc.mv_size);
}

int object_done(struct store_txn *t, struct command *c, int rc, int status)
{
    if (rc)
        return write_cmd_fail(&c->base, rc);
    object_reply(t, c, c->object_id, status);
    command_idem_store(t, c);
    return 0;
}

int object_exec_change(struct store_txn *t, struct command *c, const char *what, object_change_fn change)
{
    struct write_cmd *wc = &c->base;
    if (command_idem_check(t, c))
        return 0;
    json_t *doc = NULL;
    int rc = object_load_own(t, c->object_id, c->merchant_id, c->livemode, &doc);
    if (rc == CS_ENOENT) {
        cs_fail(&wc->diag, CS_ENOTFOUND, "id", "no such %s: %s", what, c->object_id);
        return write_cmd_fail(wc, CS_ENOTFOUND);
    }
    if (rc)
        return write_cmd_fail(wc, rc);
    const char *type = NULL;
    json_t *data = NULL;
    rc = change(c, doc, &type, &data);
    json_decref(doc);
    if (rc == 0)
        rc = object_append(t, c, type, data);
    json_decref(data);
    return object_done(t, c, rc, 200);
}

int object_read_own(struct req_ctx *rc, const char *id, json_t **doc)
{
    struct store_txn t;
    *doc = NULL;
    int err = store_read_begin(rc->app->store, &t);
    if (err)
        return err;
    err = object_load_own(&t, id, rc->merchant_id, rc->livemode, doc);
    store_abort(&t);
    return err;
}

int object_fetch(struct req_ctx *rc, const char *id, const char *param, const char *what, json_t **doc)
{
    int err = object_read_own(rc, id, doc);
    if (err == CS_ENOENT)
        respond_fail(rc, CS_ENOTFOUND, param, "no such %s: %s", what, id);
    else if (err)
        respond_fail(rc, err, "", "the %s could not be read", what);
    return err;
}

void object_get_handler(struct req_ctx *rc, const char *prefix, const char *what)
{
    const char *id = rc->params[0];
    json_t *doc = NULL;
    if (!id_valid(id, prefix))
        respond_fail(rc, CS_ENOTFOUND, "id", "no such %s: %s", what, id);
    else if (object_fetch(rc, id, "id", what, &doc) == 0)
        respond_json(rc, 200, doc);
}

struct object_walk {
    const char *const *fields;
    const char *values[8];
    unsigned n;
    struct list_page page;
};

static int walk_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct object_walk *w = ctx;
    if (w->n) {
        json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
        int keep = 1;
        for (unsigned i = 0; i < w->n && keep; i++) {
            const char *v = json_string_value(json_object_get(o, w->fields[i]));
            keep = !w->values[i] || (v && strcmp(v, w->values[i]) == 0);
        }
        json_decref(o);
        if (!keep)
            return 0;
    }
    return list_page_add(&w->page, doc->mv_data, doc->mv_size, id) || w->page.err;
}

void object_list_respond(struct req_ctx *rc, const char *kind, const char *prefix, const char *what,
                         const char *const *eq_fields)
{
    struct object_walk w = {.fields = eq_fields};
    for (; eq_fields && eq_fields[w.n] && w.n < sizeof w.values / sizeof *w.values; w.n++)
        w.values[w.n] = query_param(rc, eq_fields[w.n]);
    unsigned limit;
    const char *cursor, *name;
    if (list_parse_limit(rc, &limit) || list_parse_cursor(rc, &cursor, &name)) {
        respond_error(rc);
        return;
    }
    if (cursor && !id_valid(cursor, prefix)) {
        list_cursor_refused(rc, name);
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    list_page_init(&w.page, limit);
    err = store_objects_each(&t, rc->merchant_id, rc->livemode, kind, cursor, walk_visit, &w);
    store_abort(&t);
    if (err) {
        list_page_free(&w.page);
        if (err == CS_EPARAM)
            list_cursor_refused(rc, name);
        else
            respond_fail(rc, err, "", "the %ss could not be listed", what);
        return;
    }
    list_page_respond(&w.page, rc);
}
