/* GET and POST /v1/risk_settings: a merchant's risk controls, one settings
 * object per mode (core/risk_settings.h, docs/risk.md). The payment create
 * path applies them in the writer (core/api_payments.c risk_decide). */
#include <stdio.h>
#include <string.h>
#include "core/router.h"
#include "core/risk_settings.h"
#include "core/api_payments.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/clock.h"

/* The document: the seven settings `fields` framed as an object (version 0
 * and null times: never updated, the defaults). */
static json_t *settings_document(const char *id, const char *merchant_id, int livemode, json_t *fields,
                                 json_int_t version, json_t *created, json_t *updated)
{
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s}", "id", id, "object", "risk_settings", "livemode", livemode,
                            "merchant", merchant_id);
    if (!doc)
        return NULL;
    if (json_object_update(doc, fields) != 0) {
        json_decref(doc);
        return NULL;
    }
    json_object_set_new(doc, "version", json_integer(version));
    json_object_set(doc, "created", created ? created : json_null());
    json_object_set(doc, "updated", updated ? updated : json_null());
    return doc;
}

void api_risk_settings_get(struct req_ctx *rc)
{
    static const char *const params[] = {NULL};
    if (query_check_known(rc, params)) {
        respond_error(rc);
        return;
    }
    char id[CS_ID_BYTES_MAX];
    payments_risk_settings_id(rc->merchant_id, rc->livemode, id);
    json_t *doc = NULL;
    int err = object_read_own(rc, id, &doc);
    if (err == CS_ENOENT) {
        /* Never set: the defaults, and nothing is written by reading them. */
        json_t *fields = risk_settings_defaults();
        doc = fields ? settings_document(id, rc->merchant_id, rc->livemode, fields, 0, NULL, NULL) : NULL;
        json_decref(fields);
        err = doc ? 0 : CS_ENOMEM;
    }
    if (err) {
        respond_fail(rc, err, "", "the risk settings could not be read");
        return;
    }
    respond_json(rc, 200, doc);
}

/* In the writer: the patch (validated on the loop thread, cmd.params) is
 * merged into the settings as they are now, so two partial updates in one
 * batch compose instead of one undoing the other. */
static int exec_update(struct store_txn *t, struct write_cmd *wc)
{
    struct command *c = (struct command *)wc;
    if (command_idem_check(t, c))
        return 0;
    json_t *cur = NULL;
    int rc = object_load_own(t, c->object_id, c->merchant_id, c->livemode, &cur);
    if (rc && rc != CS_ENOENT)
        return write_cmd_fail(wc, rc);
    json_t *prev = NULL;
    json_t *fields = risk_settings_apply(cur, c->params, &prev);
    char now[40];
    clock_format_rfc3339(c->now_us, now, sizeof now);
    json_t *updated = json_string(now);
    json_t *doc = fields ? settings_document(c->object_id, c->merchant_id, c->livemode, fields,
                                             cur ? json_integer_value(json_object_get(cur, "version")) + 1 : 1,
                                             cur ? json_object_get(cur, "created") : updated, updated)
                         : NULL;
    json_decref(fields);
    json_decref(updated);
    json_decref(cur);
    json_t *data = doc ? json_pack("{s:o,s:o}", "object", doc, "previous_attributes", prev) : NULL;
    if (!data) {
        if (!doc)
            json_decref(prev);
        return write_cmd_fail(wc, CS_ENOMEM);
    }
    rc = object_append(t, c, "risk_settings.updated", data);
    json_decref(data);
    return object_done(t, c, rc, 200);
}

void api_risk_settings_update(struct req_ctx *rc)
{
    json_t *body = NULL, *patch = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        risk_settings_validate(body, &patch, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    struct command *c = command_new(rc, sizeof *c, exec_update);
    if (!c) {
        json_decref(patch);
        return;
    }
    payments_risk_settings_id(rc->merchant_id, rc->livemode, c->object_id);
    c->params = patch;
    command_submit(c);
}
