/* GET and POST /v1/bank_account: the merchant's bank account, where payouts
 * go, one per mode (core/bank_account.h, docs/bank_account.md). */
#include <string.h>
#include "core/router.h"
#include "core/bank_account.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/clock.h"

void api_bank_account_get(struct req_ctx *rc)
{
    static const char *const params[] = {NULL};
    if (query_check_known(rc, params)) {
        respond_error(rc);
        return;
    }
    char id[CS_ID_BYTES_MAX];
    bank_account_id(rc->merchant_id, rc->livemode, id);
    json_t *doc = NULL;
    int err = object_read_own(rc, id, &doc);
    if (err == CS_ENOENT)
        respond_fail(rc, CS_ENOTFOUND, "", "no bank account yet in %s mode: set it with POST /v1/bank_account",
                     rc->livemode ? "live" : "test");
    else if (err)
        respond_fail(rc, err, "", "the bank account could not be read");
    else
        respond_json(rc, 200, doc);
}

/* In the writer: the account replaces the one on file as a whole (the
 * IBAN, BIC and name belong together). The same values again record
 * nothing and answer the account as it is. */
static int exec_set(struct store_txn *t, struct write_cmd *wc)
{
    struct command *c = (struct command *)wc;
    if (command_idem_check(t, c))
        return 0;
    json_t *cur = NULL;
    int rc = object_load_own(t, c->object_id, c->merchant_id, c->livemode, &cur);
    if (rc && rc != CS_ENOENT)
        return write_cmd_fail(wc, rc);
    char now[40];
    clock_format_rfc3339(c->now_us, now, sizeof now);
    json_int_t version = cur ? json_integer_value(json_object_get(cur, "version")) + 1 : 1;
    const char *created = cur ? json_string_value(json_object_get(cur, "created")) : now;
    json_t *doc = bank_account_document(c->object_id, c->merchant_id, c->livemode, c->params, version,
                                        created ? created : now, now);
    json_t *prev = doc && cur ? bank_account_changes(cur, doc) : NULL;
    int had_one = cur != NULL;
    json_decref(cur);
    if (!doc || (had_one && !prev)) {
        json_decref(doc);
        json_decref(prev);
        return write_cmd_fail(wc, CS_ENOMEM);
    }
    if (prev && json_object_size(prev) == 0) {
        json_decref(doc);
        json_decref(prev);
        object_reply(t, c, c->object_id, 200);
        command_idem_store(t, c);
        return 0;
    }
    /* previous_attributes: null when there was no account before. */
    json_t *data = json_pack("{s:o,s:o}", "object", doc, "previous_attributes", prev ? prev : json_null());
    if (!data)
        return write_cmd_fail(wc, CS_ENOMEM);
    rc = object_append(t, c, "bank_account.updated", data);
    json_decref(data);
    return object_done(t, c, rc, 200);
}

void api_bank_account_set(struct req_ctx *rc)
{
    json_t *body = NULL, *fields = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        bank_account_validate(body, rc->livemode, &fields, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    struct command *c = command_new(rc, sizeof *c, exec_set);
    if (!c) {
        json_decref(fields);
        return;
    }
    bank_account_id(rc->merchant_id, rc->livemode, c->object_id);
    c->params = fields;
    command_submit(c);
}
