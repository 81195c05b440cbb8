/* Buy-now-pay-later disbursements (docs/disbursements.md): the merchant's
 * disbursement run as a scheduler job and the disbursements through the API
 * (core/disbursements.h for the arithmetic and the documents). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/disbursements.h"
#include "core/api_disbursements.h"
#include "core/api_payouts.h"
#include "core/disputes.h"
#include "core/objects.h"
#include "core/ids.h"
#include "core/doc.h"
#include "core/clock.h"
#include "core/notify.h"

#define ORDERS_PER_RUN_MAX 10000   /* a run settles at most this many orders; the rest wait for the next */

static json_t *load(struct store_txn *t, const char *id, int (*get)(struct store_txn *, const char *, MDB_val *))
{
    MDB_val v;
    if (get(t, id, &v) != 0)
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}

/* The bnpl transactions after `from_seq`, newest first: per order, what
 * became payable and what was reduced since; to_seq the newest event. */
struct bnpl_walk {
    int64_t from_seq, to_seq;
    const char *currency;
    json_t *orders;   /* order id -> {payable, reduction} */
    int err;
};

static int bnpl_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct bnpl_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o) {
        w->err = CS_ECORRUPT;
        return 1;
    }
    int64_t seq = doc_int(o, "event_seq");
    int stop = seq <= w->from_seq;
    int payable = doc_is(o, "type", "order_payable"), reduction = doc_is(o, "type", "order_reduction");
    if (!stop && (payable || reduction) && doc_is(o, "currency", w->currency)) {
        const char *order = doc_str(o, "source");
        json_t *e = json_object_get(w->orders, order);
        if (!e) {
            if (json_object_size(w->orders) >= ORDERS_PER_RUN_MAX) {
                w->to_seq = 0;   /* too many: settle only the older ones, from a later walk */
                json_object_clear(w->orders);
            }
            e = json_pack("{s:I,s:I}", "payable", (json_int_t)0, "reduction", (json_int_t)0);
            json_object_set_new(w->orders, order, e);
        }
        const char *k = payable ? "payable" : "reduction";
        json_object_set_new(e, k, json_integer(doc_int(e, k) + (payable ? 1 : -1) * doc_int(o, "amount")));
        if (seq > w->to_seq)
            w->to_seq = seq;
    }
    json_decref(o);
    return stop;
}

/* {"calendar": country.rules' answer, "from_seq", "to_seq", "currency",
 * "orders": [{order, reference, product, payable, reduction, fee, vat}]}
 * or with "error" when an order could not be priced. */
json_t *disbursement_job_run_prepare(struct app *app, const struct sched_job *j, int64_t time_us)
{
    json_t *cal = payout_job_run_prepare(app, j, time_us);   /* the same business-day calendar */
    json_t *out = json_pack("{s:o,s:[]}", "calendar", cal ? cal : json_null(), "orders");
    if (!out)
        return NULL;
    struct store_txn t;
    if (store_read_begin(app->store, &t) != 0)
        return out;
    json_t *merchant = load(&t, j->merchant_id, store_merchant_get);
    json_t *schedule = load(&t, j->aggregate_id, store_object_get);
    struct bnpl_walk w = {.from_seq = doc_int(schedule, "disbursed_through_seq"),
                          .currency = json_string_value(json_object_get(merchant, "currency")),
                          .orders = json_object()};
    if (w.currency && w.orders)
        store_ledger_txns_each(&t, j->merchant_id, j->livemode, NULL, bnpl_visit, &w);
    json_object_set_new(out, "from_seq", json_integer(w.from_seq));
    json_object_set_new(out, "to_seq", json_integer(w.to_seq));
    json_object_set_new(out, "currency", w.currency ? json_string(w.currency) : json_null());
    const char *order_id;
    json_t *e, *lines = json_object_get(out, "orders");
    json_object_foreach(w.orders, order_id, e) {
        json_t *order = load(&t, order_id, store_order_get);
        const char *product = json_string_value(json_object_get(json_object_get(order, "plan"), "product"));
        int64_t amount = doc_int(e, "payable") - doc_int(e, "reduction");
        json_t *in = json_pack("{s:s,s:I,s:s,s:s?,s:{s:s,s:O?},s:b}", "kind", "order", "amount",
                               (json_int_t)(amount < 0 ? -amount : amount), "currency", w.currency, "product",
                               product, "merchant", "id", j->merchant_id, "country",
                               json_object_get(merchant, "country"), "livemode", j->livemode);
        json_t *price = NULL;
        int64_t fee = 0, vat = 0;
        struct cs_diag d = {0};
        int rc = in ? policy_call(app->policy, "fees.compute", in, &price, &d) : CS_ENOMEM;
        if (rc == 0)
            rc = dispute_fees_read(price, &fee, &vat, &d);
        json_decref(in);
        json_decref(price);
        if (rc) {
            fprintf(stderr, "caisse: disbursement run of %s: fees.compute failed for %s: %s\n", j->merchant_id,
                    order_id, d.message);
            json_object_set_new(out, "error", json_string(d.message[0] ? d.message : "fees.compute failed"));
            json_decref(order);
            break;
        }
        json_array_append_new(lines, json_pack("{s:s,s:O?,s:s?,s:I,s:I,s:I,s:I}", "order", order_id, "reference",
                                               json_object_get(order, "reference"), "product", product, "payable",
                                               (json_int_t)doc_int(e, "payable"), "reduction",
                                               (json_int_t)doc_int(e, "reduction"), "fee", (json_int_t)fee, "vat",
                                               (json_int_t)vat));
        json_decref(order);
    }
    store_abort(&t);
    json_decref(w.orders);
    json_decref(merchant);
    json_decref(schedule);
    return out;
}

/* Is a bnpl movement newer than `seq` waiting (made between prepare and exec)? */
struct newer_walk {
    int64_t seq;
    int found;
};

static int newer_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct newer_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    int64_t seq = doc_int(o, "event_seq");
    if (seq > w->seq && (doc_is(o, "type", "order_payable") || doc_is(o, "type", "order_reduction")))
        w->found = 1;
    json_decref(o);
    return !o || w->found || seq <= w->seq;
}

int disbursement_job_run(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                         struct cs_diag *d)
{
    json_t *cal = json_object_get(prepared, "calendar");
    const char *next_day = json_string_value(json_object_get(cal, "next_business_day"));
    int y, mo, dd;
    if (!next_day || clock_parse_date(next_day, &y, &mo, &dd) != 0)
        return cs_fail(d, CS_EPOLICYFAIL, "", "the disbursement calendar (country.rules) gave no next business day");
    if (json_object_get(prepared, "error"))
        return cs_fail(d, CS_EPOLICYFAIL, "", "fees.compute: %s", doc_str(prepared, "error"));
    char stamp[40], date[16];
    snprintf(stamp, sizeof stamp, "%.10sT%02d:00:00.000000Z", next_day, DISBURSEMENT_RUN_HOUR_UTC);
    clock_format_date(time_us, date, sizeof date);
    json_t *schedule = load(t, j->aggregate_id, store_object_get);
    if (doc_int(schedule, "disbursed_through_seq") != doc_int(prepared, "from_seq")) {
        json_decref(schedule);
        return 0;   /* another run settled since prepare: stale */
    }
    struct disbursement_run r = {.schedule_id = j->aggregate_id, .merchant_id = j->merchant_id,
                                 .currency = json_string_value(json_object_get(prepared, "currency")), .date = date,
                                 .livemode = j->livemode, .now_us = time_us,
                                 .through_seq = doc_int(prepared, "to_seq"), .next_run_us = -1};
    json_t *lines = json_object_get(prepared, "orders");
    size_t n = json_array_size(lines);
    const char *outcome, *detail = NULL;
    char dsb_id[CS_ID_BYTES_MAX] = "";
    int rc = 0;
    if (!json_is_true(json_object_get(cal, "business_day"))) {
        outcome = "not_a_business_day";
        detail = json_string_value(json_object_get(cal, "holiday"));
        r.next_run_us = clock_parse_rfc3339(stamp);
    } else if (n == 0 || !r.currency) {
        outcome = "nothing_payable";
    } else {
        struct disbursement_order *orders = calloc(n, sizeof *orders);
        struct disbursement_totals tot;
        int disburse = 0;
        size_t i;
        json_t *l;
        json_array_foreach(lines, i, l) if (orders) orders[i] = (struct disbursement_order){
            .payable = doc_int(l, "payable"), .reduction = doc_int(l, "reduction"),
            .fee_priced = doc_int(l, "fee"), .vat_priced = doc_int(l, "vat")};
        rc = !orders ? CS_ENOMEM : disbursement_add_up(orders, n, &tot, &disburse, d);
        if (rc == 0 && !disburse) {
            outcome = "carried_over";   /* reductions outweigh payables: recovered from a later run */
        } else if (rc == 0) {
            outcome = "disbursed";
            json_t *data = NULL;
            uint32_t count = (uint32_t)doc_int(schedule, "count") + 1;
            rc = id_new("dsb", time_us, dsb_id, sizeof dsb_id) ? CS_EINTERNAL
                 : disbursement_decide_create(&r, dsb_id, count, lines, orders, &tot, &data, d);
            if (rc == 0)
                rc = object_job_append(t, j, time_us, "disbursement.created", data);
            json_t *merchant = rc == 0 ? load(t, j->merchant_id, store_merchant_get) : NULL;
            if (merchant)
                rc = notify_disbursement(t, merchant, json_object_get(data, "object"), time_us);
            json_decref(merchant);
            json_decref(data);
            struct newer_walk nw = {.seq = r.through_seq};
            if (rc == 0)
                rc = store_ledger_txns_each(t, j->merchant_id, j->livemode, NULL, newer_visit, &nw);
            if (nw.found)
                r.next_run_us = clock_parse_rfc3339(stamp);   /* a shipment came in meanwhile */
        }
        free(orders);
    }
    json_t *data = NULL;
    if (rc == 0)
        rc = disbursement_decide_run(schedule, &r, outcome, detail, dsb_id[0] ? dsb_id : NULL, dsb_id[0] != 0, &data,
                                     d);
    json_decref(schedule);
    if (rc == 0)
        rc = object_job_append(t, j, time_us, "disbursement_schedule.ran", data);
    json_decref(data);
    return rc ? rc : (dsb_id[0] ? 2 : 1);
}

/* ---- GET /v1/disbursements, GET /v1/disbursements/{id} ------------------------------------ */

void api_disbursements_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "starting_after", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    object_list_respond(rc, "disbursement", "dsb", "disbursement", NULL);
}

void api_disbursements_get(struct req_ctx *rc)
{
    object_get_handler(rc, "dsb", "disbursement");
}
