/* GET /v1/reconciliation, GET /v1/reconciliation/export and GET
 * /v1/reconciliation/findings.csv (docs/reconciliation.md): reads a day of
 * the merchant's ledger, its payouts, disbursements and payment documents,
 * asks country.rules for the business days after it, and hands them to the
 * pure reconciliation (core/reconciliation.h). Read-only: nothing is
 * written. */
#include <stdio.h>
#include <string.h>
#include "core/router.h"
#include "core/reconciliation.h"
#include "core/ledger_lines.h"
#include "core/objects.h"
#include "core/scheduler.h"
#include "core/clock.h"
#include "core/doc.h"
#include "core/money.h"

/* What the handlers gather, all under one read transaction. */
struct gather {
    struct store_txn *t;
    struct recon_input in;
    int64_t oldest_payment_us;   /* the ledger walk for amount_captured goes back to here */
    json_t *refund_payment;      /* refund id -> its payment, for the payments in in.objects */
    int64_t carried_from_seq;    /* the bnpl walk for the day's disbursements goes back to here */
    json_t *merchant;
    int err;
};

static json_t *load(const MDB_val *doc, int *err)
{
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o)
        *err = CS_ECORRUPT;
    return o;
}

static int64_t time_of(json_t *o, const char *key)
{
    return clock_parse_rfc3339(json_string_value(json_object_get(o, key)));
}

/* The day's balance transactions. */
static int txn_visit(void *ctx, json_t *o, int64_t created_us)
{
    (void)created_us;
    struct gather *g = ctx;
    if (json_array_append(g->in.txns, o))
        g->err = CS_ENOMEM;
    return g->err;
}

/* The bnpl order transactions after carried_from_seq, newest first (the
 * ledger is in event order, so the walk stops below it). */
static int carried_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct gather *g = ctx;
    json_t *o = load(doc, &g->err);
    if (!o)
        return 1;
    int stop = doc_int(o, "event_seq") <= g->carried_from_seq;
    if (!stop && (doc_is(o, "type", "order_payable") || doc_is(o, "type", "order_reduction")) &&
        json_array_append(g->in.bnpl_carried, o))
        g->err = CS_ENOMEM;
    json_decref(o);
    return stop || g->err;
}

/* The newest disbursement run since the last disbursement that recorded
 * carried_over, newest first: stops at the first run that disbursed or
 * carried over. */
static int run_visit(void *ctx, uint64_t seq)
{
    struct gather *g = ctx;
    struct event_view v;
    int err = store_event_get(g->t, seq, &v);
    if (err) {
        g->err = err;
        return 1;
    }
    const char *outcome = json_string_value(json_object_get(v.data, "outcome"));
    int stop = outcome && (strcmp(outcome, "disbursed") == 0 || strcmp(outcome, "carried_over") == 0);
    if (outcome && strcmp(outcome, "carried_over") == 0)
        g->in.carried_over_seq = (int64_t)seq;
    event_view_clear(&v);
    return stop;
}

/* What the day's disbursements carried: from the through_event_seq of the
 * disbursement before the first of them. */
static int gather_disbursements(struct req_ctx *rc, struct gather *g)
{
    int64_t from = INT64_MAX;
    size_t i, k;
    json_t *o, *p;
    json_array_foreach(g->in.disbursements, i, o) {
        int64_t created = time_of(o, "created"), through = doc_int(o, "through_event_seq"), prev = 0;
        if (created < g->in.day_start_us || created >= g->in.day_end_us)
            continue;
        json_array_foreach(g->in.disbursements, k, p) {
            int64_t t = doc_int(p, "through_event_seq");
            if (t < through && t > prev)
                prev = t;
        }
        if (prev < from)
            from = prev;
    }
    int err = 0;
    if (from != INT64_MAX) {
        g->carried_from_seq = from;
        err = store_ledger_txns_each(g->t, rc->merchant_id, rc->livemode, NULL, carried_visit, g);
    }
    if (!err && !g->err)
        err = store_merchant_events_each(g->t, rc->merchant_id, rc->livemode, 0, 1, "disbursement_schedule.ran",
                                         run_visit, g);
    return err ? err : g->err;
}

/* Loads the object `id` into in.objects once (absent: left out, which the
 * reconciliation reports as a finding). */
static int object_add(struct gather *g, const char *id)
{
    if (!id || json_object_get(g->in.objects, id))
        return 0;
    MDB_val mv;
    int err = store_object_get(g->t, id, &mv);
    if (err == CS_ENOENT)
        return 0;
    if (err)
        return err;
    json_t *o = load(&mv, &err);
    if (!o)
        return err;
    if (doc_is(o, "object", "payment")) {
        int64_t created = time_of(o, "created");
        if (created >= 0 && created < g->oldest_payment_us)
            g->oldest_payment_us = created;
    }
    return json_object_set_new(g->in.objects, id, o) ? CS_ENOMEM : 0;
}

/* Payments whose failure happened that day (a payment created earlier can
 * fail that day: a deferred or split charge), so every payment is read. */
static int payment_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct gather *g = ctx;
    json_t *o = load(doc, &g->err);
    if (!o)
        return 1;
    int64_t failed = time_of(json_object_get(o, "failure"), "failed_at");
    if (failed >= g->in.day_start_us && failed < g->in.day_end_us && json_array_append(g->in.failed, o))
        g->err = CS_ENOMEM;
    json_decref(o);
    return g->err;
}

static int dispute_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct gather *g = ctx;
    json_t *o = load(doc, &g->err);
    if (!o)
        return 1;
    int64_t created = time_of(o, "created");
    if (created >= g->in.day_start_us && created < g->in.day_end_us && json_array_append(g->in.disputes, o))
        g->err = CS_ENOMEM;
    json_decref(o);
    return g->err;
}

/* The sum of the charge transactions of each payment in in.objects, back to
 * the oldest of them (a payment's charges are made after it). */
static int captured_visit(void *ctx, json_t *o, int64_t created_us)
{
    (void)created_us;
    struct gather *g = ctx;
    const char *source = json_string_value(json_object_get(o, "source"));
    if (doc_is(o, "type", "charge") && source && json_object_get(g->in.objects, source)) {
        int64_t sum = doc_int(g->in.ledger_captured, source);
        if (money_add(sum, doc_int(o, "amount"), &sum))
            g->err = CS_EAMOUNT;
        else if (json_object_set_new(g->in.ledger_captured, source, json_integer(sum)))
            g->err = CS_ENOMEM;
    }
    /* a refund takes its amount from the balance (negative), a failure gives it back */
    const char *payment = source ? json_string_value(json_object_get(g->refund_payment, source)) : NULL;
    if (payment && (doc_is(o, "type", "refund") || doc_is(o, "type", "refund_failure"))) {
        int64_t sum = doc_int(g->in.ledger_refunded, payment), amount = doc_int(o, "amount");
        if (amount == INT64_MIN || money_add(sum, -amount, &sum))
            g->err = CS_EAMOUNT;
        else if (json_object_set_new(g->in.ledger_refunded, payment, json_integer(sum)))
            g->err = CS_ENOMEM;
    }
    return g->err;
}

static int gather(struct req_ctx *rc, struct gather *g)
{
    const char *m = rc->merchant_id;
    int lm = rc->livemode, err;
    size_t i;
    json_t *o;
    if ((err = ledger_txns_created_in(g->t, m, lm, g->in.day_start_us, g->in.day_end_us, txn_visit, g)) ||
        (err = g->err) || (err = object_list_all(g->t, m, lm, "payout", g->in.payouts)) ||
        (err = store_objects_each(g->t, m, lm, "payment", NULL, payment_visit, g)) || (err = g->err) ||
        (err = store_objects_each(g->t, m, lm, "dispute", NULL, dispute_visit, g)) || (err = g->err) ||
        (err = object_list_all(g->t, m, lm, "disbursement", g->in.disbursements)) ||
        (err = gather_disbursements(rc, g)))
        return err;
    MDB_val mv;
    if (store_merchant_get(g->t, m, &mv) == 0 && !(g->merchant = load(&mv, &err)))
        return err;
    /* the objects the items name, and the payments behind refunds and disputes */
    json_array_foreach(g->in.txns, i, o)
        if (!doc_is(o, "type", "payout") && !doc_is(o, "type", "payout_failure") && !doc_is(o, "stream", "bnpl") &&
            (err = object_add(g, json_string_value(json_object_get(o, "source")))))
            return err;
    json_array_foreach(g->in.failed, i, o)
        if ((err = object_add(g, json_string_value(json_object_get(o, "id")))))
            return err;
    json_array_foreach(g->in.disputes, i, o)
        if ((err = object_add(g, json_string_value(json_object_get(o, "id")))))
            return err;
    const char *key;
    json_t *val, *payments = json_array();
    if (!payments)
        return CS_ENOMEM;
    json_object_foreach(g->in.objects, key, val)
        if (!doc_is(val, "object", "payment") && json_is_string(json_object_get(val, "payment")))
            json_array_append(payments, json_object_get(val, "payment"));
    json_array_foreach(payments, i, o)
        if (!err)
            err = object_add(g, json_string_value(o));
    json_decref(payments);
    if (err)
        return err;
    /* the lines each of the day's standard payouts carried */
    json_array_foreach(g->in.payouts, i, o) {
        int64_t created = time_of(o, "created");
        if (!doc_is(o, "method", "standard") || created < g->in.day_start_us || created >= g->in.day_end_us)
            continue;
        json_t *lines = NULL;
        if ((err = ledger_lines_of_payout(g->t, m, lm, o, &lines)))
            return err;
        if (json_object_set_new(g->in.payout_lines, json_string_value(json_object_get(o, "id")), lines))
            return CS_ENOMEM;
    }
    /* every refund of those payments, whatever its day: amount_refunded counts them all */
    json_object_foreach(g->in.objects, key, val) {
        size_t j;
        json_t *r;
        if (!doc_is(val, "object", "payment"))
            continue;
        json_array_foreach(json_object_get(val, "refunds"), j, r)
            if (json_is_string(r) && json_object_set_new(g->refund_payment, json_string_value(r), json_string(key)))
                return CS_ENOMEM;
    }
    if (g->oldest_payment_us != INT64_MAX &&
        (err = ledger_txns_created_in(g->t, m, lm, g->oldest_payment_us, INT64_MAX, captured_visit, g)))
        return err;
    return g->err;
}

static void gather_free(struct gather *g)
{
    json_decref(g->in.txns);
    json_decref(g->in.payouts);
    json_decref(g->in.payout_lines);
    json_decref(g->in.objects);
    json_decref(g->in.ledger_captured);
    json_decref(g->in.ledger_refunded);
    json_decref(g->refund_payment);
    json_decref(g->in.failed);
    json_decref(g->in.disputes);
    json_decref(g->in.disbursements);
    json_decref(g->in.bnpl_carried);
    json_decref(g->in.calendar);
    json_decref(g->merchant);
}

/* The business days after the reconciled day, up to the merchant's today
 * and RECON_CALENDAR_DAYS at most, as country.rules (purpose "payout",
 * the calendar of the payout and disbursement runs) answers for the
 * merchant's country; later days count weekends only, which cannot make a
 * finding early: a deadline past today is not reached. A merchant without a
 * country: weekends only. */
static int ask_calendar(struct req_ctx *rc, struct gather *g)
{
    json_t *country = json_object_get(g->merchant, "country");
    if (!json_is_string(country))
        return 0;
    int64_t day = g->in.day_start_us / (86400LL * 1000000), today = g->in.now_us / (86400LL * 1000000);
    for (int64_t n = 1; n <= RECON_CALENDAR_DAYS && day + n <= today; n++) {
        char date[16];
        clock_format_date((day + n) * 86400LL * 1000000, date, sizeof date);
        json_t *in = json_pack("{s:O,s:s,s:s,s:{s:s},s:b}", "country", country, "purpose", "payout", "date", date,
                               "merchant", "id", rc->merchant_id, "livemode", rc->livemode), *out = NULL;
        int err = in ? policy_call(rc->app->policy, "country.rules", in, &out, &rc->diag)
                     : cs_fail(&rc->diag, CS_ENOMEM, "", "out of memory");
        json_decref(in);
        if (err)
            return err;
        json_t *business = json_object_get(out, "business_day");
        if (!json_is_boolean(business)) {
            json_decref(out);
            return cs_fail(&rc->diag, CS_EPOLICYFAIL, "", "country.rules gave no business_day for %s", date);
        }
        err = json_object_set(g->in.calendar, date, business) ? cs_fail(&rc->diag, CS_ENOMEM, "", "out of memory") : 0;
        json_decref(out);
        if (err)
            return err;
    }
    return 0;
}

/* Parses the query, reads the store and builds the report; NULL after
 * answering the request with the error. */
static json_t *reconcile(struct req_ctx *rc, const char **date)
{
    static const char *const allowed[] = {"date", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return NULL;
    }
    *date = query_param(rc, "date");
    struct gather g = {.oldest_payment_us = INT64_MAX};
    g.in.now_us = merchant_now_us(rc->app, rc->merchant_id, rc->livemode);
    if (recon_check_date(*date, g.in.now_us, &g.in.day_start_us, &g.in.day_end_us, &rc->diag)) {
        respond_error(rc);
        return NULL;
    }
    g.in.txns = json_array();
    g.in.payouts = json_array();
    g.in.payout_lines = json_object();
    g.in.objects = json_object();
    g.in.ledger_captured = json_object();
    g.in.ledger_refunded = json_object();
    g.refund_payment = json_object();
    g.in.failed = json_array();
    g.in.disputes = json_array();
    g.in.disbursements = json_array();
    g.in.bnpl_carried = json_array();
    g.in.calendar = json_object();
    struct store_txn t;
    int err = !g.in.txns || !g.in.payouts || !g.in.payout_lines || !g.in.objects || !g.in.ledger_captured ||
              !g.in.ledger_refunded || !g.refund_payment ||
              !g.in.failed || !g.in.disputes || !g.in.disbursements || !g.in.bnpl_carried || !g.in.calendar
              ? CS_ENOMEM : store_read_begin(rc->app->store, &t);
    if (err) {
        gather_free(&g);
        respond_fail(rc, err, "", "the store could not be read");
        return NULL;
    }
    g.t = &t;
    err = gather(rc, &g);
    store_abort(&t);
    json_t *report = NULL;
    if (err)
        respond_fail(rc, err, "", "the day's transactions could not be read");
    else if (ask_calendar(rc, &g) || recon_build(&g.in, &report, &rc->diag))
        respond_error(rc);
    gather_free(&g);
    return report;
}

void api_reconciliation_get(struct req_ctx *rc)
{
    const char *date = NULL;
    json_t *r = reconcile(rc, &date);
    if (!r)
        return;
    json_object_set_new(r, "object", json_string("reconciliation"));
    json_object_set_new(r, "livemode", json_boolean(rc->livemode));
    json_object_set_new(r, "date", json_string(date));
    respond_json(rc, 200, r);
}

static void csv_export(struct req_ctx *rc, int findings)
{
    const char *date = NULL;
    json_t *r = reconcile(rc, &date);
    if (!r)
        return;
    struct csv_buf c = {0};
    if (findings)
        recon_findings_csv(json_object_get(r, "findings"), &c);
    else
        recon_csv(json_object_get(r, "items"), &c);
    json_decref(r);
    if (c.err) {
        int err = c.err;
        csv_free(&c);
        respond_fail(rc, err, "", "the export could not be made");
        return;
    }
    char disposition[96];
    snprintf(disposition, sizeof disposition,
             "Content-Disposition: attachment; filename=\"reconciliation-%s%s.csv\"\r\n", findings ? "findings-" : "",
             date);
    http_respond(rc->req, 200, "text/csv; charset=utf-8", disposition, c.out, c.len);
    csv_free(&c);
}

void api_reconciliation_export(struct req_ctx *rc)
{
    csv_export(rc, 0);
}

void api_reconciliation_findings_csv(struct req_ctx *rc)
{
    csv_export(rc, 1);
}
