/* HTTP handlers of /v1/refunds and the refund jobs: validate on the loop
 * thread; in the writer, decide against the payment as the projection holds
 * it at that instant (so concurrent refunds of one payment are judged one
 * after the other and never exceed its capture) and append the refund's
 * event (core/refunds.h). */
#include <stdio.h>
#include <string.h>
#include "core/doc.h"
#include "core/router.h"
#include "core/refunds.h"
#include "core/api_refunds.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/list_page.h"

/* The status of the payment's dispute, if it has one the store knows, into
 * out (NUL-terminated); "" otherwise. Returns out, or NULL for none. */
static const char *dispute_status(struct store_txn *t, json_t *payment, char *out, size_t cap)
{
    const char *id = json_string_value(json_object_get(payment, "dispute"));
    MDB_val v;
    out[0] = 0;
    if (!id || store_object_get(t, id, &v) != 0)
        return NULL;
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    const char *s = json_string_value(json_object_get(doc, "status"));
    if (s)
        snprintf(out, cap, "%s", s);
    json_decref(doc);
    return out[0] ? out : NULL;
}

/* ---- create ------------------------------------------------------------------------------ */

static int exec_create(struct store_txn *t, struct write_cmd *wc)
{
    struct command *c = (struct command *)wc;
    if (command_idem_check(t, c))
        return 0;
    const char *pid = json_string_value(json_object_get(c->params, "payment"));
    json_t *payment = NULL;
    int rc = object_load_own(t, pid, c->merchant_id, c->livemode, &payment);
    if (rc == CS_ENOENT) {
        /* Another merchant's payment looks exactly like none at all. */
        cs_fail(&wc->diag, CS_ENOTFOUND, "payment", "no such payment: %s", pid);
        return write_cmd_fail(wc, CS_ENOTFOUND);
    }
    if (rc)
        return write_cmd_fail(wc, rc);
    const char *type = NULL;
    json_t *data = NULL;
    char ds[32];
    rc = refund_decide_create(payment, dispute_status(t, payment, ds, sizeof ds), c->params, c->object_id,
                              c->merchant_id, c->livemode, c->actor, c->now_us, &type, &data, &wc->diag);
    json_decref(payment);
    if (rc == 0)
        rc = object_append(t, c, type, data);
    json_decref(data);
    return object_done(t, c, rc, 201);
}

void api_refunds_create(struct req_ctx *rc)
{
    json_t *body = NULL, *params = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        refund_validate_create(body, &params, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    struct command *c = command_new(rc, sizeof *c, exec_create);
    if (!c) {
        json_decref(params);
        return;
    }
    c->params = params;
    command_submit_new(c, "rfd");
}

int refunds_submit_command(struct app *app, const char *merchant_id, int livemode, const char *actor,
                           const char *payment_id, json_t *params,
                           void (*done)(void *ctx, int status, const char *body, size_t len), void *ctx,
                           struct cs_diag *d)
{
    if (params && !json_is_object(params) && !(json_is_array(params) && json_array_size(params) == 0))
        return cs_fail(d, CS_EPARAM, "params", "params must be an object");
    json_t *body = json_is_object(params) ? json_deep_copy(params) : json_object(), *validated = NULL;
    if (!body)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    if (json_object_get(body, "payment")) {
        json_decref(body);
        return cs_fail(d, CS_EUNKNOWN, "params.payment", "the payment is the command's own field, not a param");
    }
    json_object_set_new(body, "payment", json_string(payment_id ? payment_id : ""));
    int rc = refund_validate_create(body, &validated, d);
    json_decref(body);
    if (rc)
        return rc;
    struct command *c = command_new_cb(app, sizeof *c, exec_create, merchant_id, livemode, actor, done, ctx);
    if (!c) {
        json_decref(validated);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    c->params = validated;
    if (id_new("rfd", c->now_us, c->object_id, sizeof c->object_id) != 0) {
        command_free(c);
        return cs_fail(d, CS_EINTERNAL, "", "could not make an id");
    }
    return command_submit_cb(app, c, d);
}

/* ---- read ---------------------------------------------------------------------------------- */

void api_refunds_get(struct req_ctx *rc)
{
    object_get_handler(rc, "rfd", "refund");
}

struct refund_list {
    const char *status;          /* NULL: any */
    struct list_page page;
};

static int keep(const struct refund_list *l, const MDB_val *doc)
{
    if (!l->status)
        return 1;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    const char *s = json_string_value(json_object_get(o, "status"));
    int k = s && strcmp(s, l->status) == 0;
    json_decref(o);
    return k;
}

static int list_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct refund_list *l = ctx;
    if (!keep(l, doc))
        return 0;
    return list_page_add(&l->page, doc->mv_data, doc->mv_size, id) || l->page.err;
}

/* The refunds of one payment, newest first: its `refunds` array holds them
 * in the order they were made, so a page is read from the end, without
 * walking the merchant's other refunds. A payment that is not the
 * merchant's has none. CS_EPARAM if the cursor is not one of them. */
static int list_of_payment(struct store_txn *t, struct req_ctx *rc, const char *pid, const char *cursor,
                           struct refund_list *l)
{
    json_t *payment = NULL;
    int err = object_load_own(t, pid, rc->merchant_id, rc->livemode, &payment);
    if (err)
        return err == CS_ENOENT ? (cursor ? CS_EPARAM : 0) : err;
    json_t *ids = json_object_get(payment, "refunds");
    size_t n = json_array_size(ids), i = n;
    if (cursor) {
        while (i > 0 && !(json_is_string(json_array_get(ids, i - 1)) &&
                          strcmp(json_string_value(json_array_get(ids, i - 1)), cursor) == 0))
            i--;
        if (i == 0)
            err = CS_EPARAM;
        else
            i--;   /* start after the cursor */
    }
    for (; !err && i > 0; i--) {
        const char *id = json_string_value(json_array_get(ids, i - 1));
        MDB_val doc;
        if (!id || (err = store_object_get(t, id, &doc)) != 0) {
            err = err == CS_ENOENT || !id ? CS_ECORRUPT : err;
            break;
        }
        if (list_visit(l, id, &doc))
            break;
    }
    json_decref(payment);
    return err;
}

void api_refunds_list(struct req_ctx *rc)
{
    static const char *const params[] = {"limit", "cursor", "payment", "status", NULL};
    struct refund_list l = {.status = query_param(rc, "status")};
    unsigned limit;
    if (query_check_known(rc, params) || list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    const char *cursor = query_param(rc, "cursor"), *payment = query_param(rc, "payment");
    if (l.status && !doc_one_of(l.status, refund_statuses)) {
        respond_fail(rc, CS_EPARAM, "status", "status must be pending, sent, refunded, failed, not_honored or "
                     "payment_cancelled");
        return;
    }
    if (payment && !id_valid(payment, "pay")) {
        respond_fail(rc, CS_EPARAM, "payment", "payment must be a payment id (pay_…)");
        return;
    }
    if (cursor && !id_valid(cursor, "rfd")) {
        respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    list_page_init(&l.page, limit);
    if (payment)
        err = list_of_payment(&t, rc, payment, cursor, &l);
    else
        err = store_objects_each(&t, rc->merchant_id, rc->livemode, "refund", cursor, list_visit, &l);
    store_abort(&t);
    if (err) {
        list_page_free(&l.page);
        if (err == CS_EPARAM || err == CS_ENOENT)
            respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
        else
            respond_fail(rc, err, "", "the refunds could not be listed");
        return;
    }
    list_page_respond(&l.page, rc);
}

/* ---- jobs (core/jobs.c) --------------------------------------------------------------------- */

typedef int (*refund_job_fn)(json_t *refund, json_t *payment, const char *dispute_status, int64_t now_us,
                             const char **type, json_t **data, struct cs_diag *d);

static json_t *load(struct store_txn *t, const char *id, int *rc)
{
    MDB_val v;
    *rc = id ? store_object_get(t, id, &v) : CS_ECORRUPT;
    if (*rc)
        return NULL;
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!doc)
        *rc = CS_ECORRUPT;
    return doc;
}

static int run_job(struct store_txn *t, const struct sched_job *j, int64_t time_us, refund_job_fn decide,
                   struct cs_diag *d)
{
    int rc;
    json_t *refund = load(t, j->aggregate_id, &rc);
    if (!refund)
        return rc == CS_ENOENT ? 0 : rc;
    json_t *payment = load(t, json_string_value(json_object_get(refund, "payment")), &rc);
    if (!payment) {
        json_decref(refund);
        return rc == CS_ENOENT ? CS_ECORRUPT : rc;   /* a refund's payment never goes away */
    }
    const char *type = NULL;
    json_t *data = NULL;
    struct cs_diag quiet = {0};
    char ds[32];
    rc = decide(refund, payment, dispute_status(t, payment, ds, sizeof ds), time_us, &type, &data, &quiet);
    json_decref(refund);
    json_decref(payment);
    if (rc == CS_ESTATE)
        return 0;   /* stale: the refund moved on */
    if (rc) {
        *d = quiet;
        return rc;
    }
    rc = object_job_append(t, j, time_us, type, data);
    json_decref(data);
    return rc ? rc : 1;
}

int refund_job_send(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                    struct cs_diag *d)
{
    (void)prepared;
    return run_job(t, j, time_us, refund_decide_send, d);
}

/* The bank's answer does not depend on the payment's dispute: once sent,
 * the refund is the bank's. */
static int decide_settle(json_t *refund, json_t *payment, const char *dispute_status, int64_t now_us,
                         const char **type, json_t **data, struct cs_diag *d)
{
    (void)dispute_status;
    return refund_decide_settle(refund, payment, now_us, type, data, d);
}

int refund_job_settle(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                      struct cs_diag *d)
{
    (void)prepared;
    return run_job(t, j, time_us, decide_settle, d);
}
