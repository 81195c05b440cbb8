/* Payment terminals (docs/terminals.md): the routes of /v1/terminals and
 * the monthly billing job (core/terminals.h for the decisions). */
#include <stdio.h>
#include <string.h>
#include "core/router.h"
#include "core/terminals.h"
#include "core/api_terminals.h"
#include "core/disputes.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/doc.h"

static json_t *load(struct store_txn *t, const char *id, int (*get)(struct store_txn *, const char *, MDB_val *))
{
    MDB_val v;
    if (get(t, id, &v) != 0)
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}

/* ---- POST /v1/terminals ------------------------------------------------------------------- */

struct serial_walk {
    const char *serial;
    int found, err;
};

static int serial_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct serial_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o)
        w->err = CS_ECORRUPT;
    else if (doc_is(o, "serial_number", w->serial))
        w->found = 1;
    json_decref(o);
    return w->found || w->err;
}

static int exec_create(struct store_txn *t, struct write_cmd *wc)
{
    struct command *c = (struct command *)wc;
    if (command_idem_check(t, c))
        return 0;
    const char *serial = json_string_value(json_object_get(c->params, "serial_number"));
    const char *name = json_string_value(json_object_get(c->params, "name"));
    /* One terminal per serial number and mode: checked here, against the
     * terminals as the writer sees them. */
    struct serial_walk w = {.serial = serial};
    int rc = store_objects_each(t, c->merchant_id, c->livemode, "terminal", NULL, serial_visit, &w);
    if (rc == 0 && w.err)
        rc = w.err;
    if (rc == 0 && w.found)
        rc = cs_fail(&wc->diag, CS_ESTATE, "serial_number", "a terminal with serial number %s exists already", serial);
    json_t *data = NULL;
    if (rc == 0)
        rc = terminal_decide_create(c->object_id, c->merchant_id, c->livemode, serial, name, c->now_us, &data,
                                    &wc->diag);
    if (rc == 0)
        rc = object_append(t, c, "terminal.created", data);
    json_decref(data);
    return object_done(t, c, rc, 201);
}

/* name: absent or null (none), or 1 to 64 bytes of printable text. */
static int read_name(json_t *body, const char **name, struct cs_diag *d)
{
    int rc = jin_string(body, "", "name", 0, 1, TERMINAL_NAME_BYTES_MAX, name, d);
    if (rc == 0 && *name && !jin_printable(*name))
        rc = cs_fail(d, CS_EPARAM, "name", "name must be printable text");
    return rc;
}

void api_terminals_create(struct req_ctx *rc)
{
    static const char *const keys[] = {"serial_number", "name", NULL};
    json_t *body = NULL;
    const char *serial = NULL, *name = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "serial_number", 1, 1, 64, &serial, &rc->diag) || read_name(body, &name, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (!terminal_serial_valid(serial)) {
        json_decref(body);
        respond_fail(rc, CS_EPARAM, "serial_number", "serial_number must be %d to %d letters, digits or '-'",
                     TERMINAL_SERIAL_BYTES_MIN, TERMINAL_SERIAL_BYTES_MAX);
        return;
    }
    struct command *c = command_new(rc, sizeof *c, exec_create);
    if (!c) {
        json_decref(body);
        return;
    }
    c->params = body;
    command_submit_new(c, "trm");
}

/* ---- POST /v1/terminals/{id}: rename ---------------------------------------------------------- */

static int change_rename(struct command *c, json_t *doc, const char **type, json_t **data)
{
    *type = "terminal.updated";
    return terminal_decide_rename(doc, json_string_value(json_object_get(c->params, "name")), c->now_us, data,
                                  &c->base.diag);
}

static int exec_rename(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "terminal", change_rename);
}

void api_terminals_update(struct req_ctx *rc)
{
    static const char *const keys[] = {"name", NULL};
    json_t *body = NULL;
    const char *name = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        read_name(body, &name, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (!json_object_get(body, "name")) {
        json_decref(body);
        respond_fail(rc, CS_EMISSING, "name", "name is required (null removes it)");
        return;
    }
    if (!id_valid(rc->params[0], "trm")) {
        json_decref(body);
        respond_fail(rc, CS_ENOTFOUND, "id", "no such terminal: %s", rc->params[0]);
        return;
    }
    struct command *c = command_new(rc, sizeof *c, exec_rename);
    if (!c) {
        json_decref(body);
        return;
    }
    snprintf(c->object_id, sizeof c->object_id, "%s", rc->params[0]);
    c->params = body;
    command_submit(c);
}

/* ---- reads -------------------------------------------------------------------------------- */

void api_terminals_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "starting_after", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    object_list_respond(rc, "terminal", "trm", "terminal", NULL);
}

void api_terminals_get(struct req_ctx *rc)
{
    object_get_handler(rc, "trm", "terminal");
}

/* ---- the monthly billing (job terminal.bill) ------------------------------------------------ */

/* The terminal's transactions of [start, end): its card payments created
 * then that did not fail. The merchant's payments come newest first. */
struct count_walk {
    const char *terminal;
    int64_t start, end, count;
    int err;
};

static int count_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct count_walk *w = ctx;
    json_t *p = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!p) {
        w->err = CS_ECORRUPT;
        return 1;
    }
    int64_t created = doc_int(p, "created_us");
    if (created >= w->start && created < w->end && doc_is(p, "channel", "terminal") &&
        doc_is(p, "terminal", w->terminal) && !doc_is(p, "status", "failed"))
        w->count++;
    json_decref(p);
    return created < w->start;
}

/* {"month", "transactions", "fee", "vat", "currency"}, or with "error" when
 * the month could not be counted or priced (the job then fails and is
 * tried again). */
json_t *terminal_job_bill_prepare(struct app *app, const struct sched_job *j, int64_t time_us)
{
    (void)time_us;
    char month[16];
    terminal_billed_month(j->due_us, month, sizeof month);   /* the due time, even when the run is late */
    struct count_walk w = {.terminal = j->aggregate_id};
    json_t *out = json_pack("{s:s}", "month", month);
    if (!out)
        return NULL;
    if (terminal_month_range(month, &w.start, &w.end) != 0) {
        json_object_set_new(out, "error", json_string("the billed month could not be computed"));
        return out;
    }
    struct store_txn t;
    json_t *merchant = NULL;
    int err = store_read_begin(app->store, &t);
    if (err == 0) {
        merchant = load(&t, j->merchant_id, store_merchant_get);
        err = store_objects_each(&t, j->merchant_id, j->livemode, "payment", NULL, count_visit, &w);
        if (!err)
            err = w.err;
        store_abort(&t);
    }
    json_t *currency = json_object_get(merchant, "currency");
    if (err || !json_is_string(currency)) {
        json_object_set_new(out, "error", json_string(err ? "the payments could not be read"
                                                          : "the merchant has no settlement currency"));
        json_decref(merchant);
        return out;
    }
    json_t *in = json_pack("{s:s,s:I,s:s,s:O,s:{s:s,s:O?},s:{s:s},s:b}", "kind", "terminal", "transactions",
                           (json_int_t)w.count, "month", month, "currency", currency, "merchant", "id",
                           j->merchant_id, "country", json_object_get(merchant, "country"), "terminal", "id",
                           j->aggregate_id, "livemode", j->livemode);
    json_t *price = NULL;
    int64_t fee = 0, vat = 0;
    struct cs_diag d = {0};
    int rc = in ? policy_call(app->policy, "fees.compute", in, &price, &d) : CS_ENOMEM;
    if (rc == 0)
        rc = dispute_fees_read(price, &fee, &vat, &d);   /* the same {fee, vat} shape */
    json_decref(in);
    json_decref(price);
    if (rc) {
        fprintf(stderr, "caisse: terminal billing of %s: fees.compute failed: %s\n", j->aggregate_id, d.message);
        json_object_set_new(out, "error", json_string(d.message[0] ? d.message : "fees.compute failed"));
    } else {
        json_object_set_new(out, "transactions", json_integer(w.count));
        json_object_set_new(out, "fee", json_integer(fee));
        json_object_set_new(out, "vat", json_integer(vat));
        json_object_set(out, "currency", currency);
    }
    json_decref(merchant);
    return out;
}

int terminal_job_bill(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                      struct cs_diag *d)
{
    if (!prepared)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    if (json_object_get(prepared, "error"))
        return cs_fail(d, CS_EPOLICYFAIL, "", "terminal billing: %s", doc_str(prepared, "error"));
    json_t *doc = load(t, j->aggregate_id, store_object_get);
    if (!doc)
        return 0;
    json_t *data = NULL;
    struct cs_diag quiet = {0};
    int rc = terminal_decide_bill(doc, doc_str(prepared, "month"), doc_int(prepared, "transactions"),
                                  doc_int(prepared, "fee"), doc_int(prepared, "vat"),
                                  json_string_value(json_object_get(prepared, "currency")), j->due_us, time_us, &data,
                                  &quiet);
    json_decref(doc);
    if (rc == CS_ESTATE)
        return 0;   /* stale: that month is billed */
    if (rc) {
        json_decref(data);
        *d = quiet;
        return rc;
    }
    rc = object_job_append(t, j, time_us, "terminal.billed", data);
    json_decref(data);
    return rc ? rc : 1;
}
