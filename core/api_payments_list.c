/* GET /v1/payments (filters, cursor pagination; the rejects are the failed
 * payments by failure_code) and GET /v1/payments/export (the same filters,
 * every match, as CSV). Fifteen months of history are online (seed 004):
 * the walk, newest first, stops at the online history's first day, and a
 * created bound before it is refused with a pointer to the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/doc.h"
#include "core/router.h"
#include "core/payments.h"
#include "core/reports.h"
#include "core/scheduler.h"
#include "core/list_page.h"
#include "core/csv.h"
#include "core/ids.h"
#include "core/json_in.h"

#define EXPORT_ROWS_MAX 100000u   /* one export; narrow the filters past that */

struct payment_filter {
    const char *status, *type, *channel, *failure_code, *card_last4, *order_reference, *customer, *shop;
    int64_t created_gte, created_lte;     /* inclusive, microseconds */
    int64_t amount_gte, amount_lte;       /* inclusive; -1: open */
    int64_t stop_before_us;               /* the walk ends at the first payment created before this */
};

#define FILTER_PARAMS "status", "type", "channel", "failure_code", "created[gte]", "created[lte]", "amount[gte]", \
                      "amount[lte]", "card_last4", "order_reference", "customer", "shop"

static int all_of(const char *s, const char *set)
{
    return *s && strspn(s, set) == strlen(s);
}

static int amount_param(struct req_ctx *rc, const char *name, int64_t *out)
{
    const char *s = query_param(rc, name);
    *out = -1;
    if (!s)
        return 0;
    if (!all_of(s, "0123456789") || strlen(s) > 12 || strtoll(s, NULL, 10) > CS_AMOUNT_MINOR_MAX)
        return cs_fail(&rc->diag, CS_EPARAM, name, "%s must be an amount in minor units from 0 to %lld", name,
                       (long long)CS_AMOUNT_MINOR_MAX);
    *out = strtoll(s, NULL, 10);
    return 0;
}

/* A created bound: refused before the online history's first moment. */
static int time_param(struct req_ctx *rc, const char *name, int end_of_day, int64_t first_us, int64_t *out)
{
    const char *s = query_param(rc, name);
    if (!s)
        return 0;
    if (report_parse_time(s, end_of_day, out) != 0)
        return cs_fail(&rc->diag, CS_EPARAM, name, "%s must be a date YYYY-MM-DD, an RFC 3339 time or Unix seconds",
                       name);
    if (*out < first_us) {
        char first[11];
        report_date_of_day(first_us / REPORT_DAY_US, first);
        return cs_fail(&rc->diag, CS_EPARAM, name, "%s is before %s: %d months of payments are online; older ones "
                       "are in the event log (caisse events dump %s %lld)", name, first, REPORT_HISTORY_MONTHS,
                       end_of_day ? "--until" : "--since",
                       (long long)(*out / 1000000));
    }
    return 0;
}

/* Reads the filters from the query string; on error fills rc->diag. */
static int parse_filter(struct req_ctx *rc, struct payment_filter *f)
{
    static const char *const statuses[] = {"requires_payment", "authorized", "captured", "cancelled", "failed", NULL};
    static const char *const channels[] = {"api", "manual", "payment_link", NULL};
    memset(f, 0, sizeof *f);
    int64_t first_us = report_history_first_day(merchant_now_us(rc->app, rc->merchant_id, rc->livemode)) *
                       REPORT_DAY_US;
    f->created_gte = first_us;
    f->created_lte = INT64_MAX;
    f->status = query_param(rc, "status");
    f->type = query_param(rc, "type");
    f->channel = query_param(rc, "channel");
    f->failure_code = query_param(rc, "failure_code");
    f->card_last4 = query_param(rc, "card_last4");
    f->order_reference = query_param(rc, "order_reference");
    f->customer = query_param(rc, "customer");
    f->shop = query_param(rc, "shop");
    if (f->status && !doc_one_of(f->status, statuses))
        return cs_fail(&rc->diag, CS_EPARAM, "status", "status must be requires_payment, authorized, captured, "
                       "cancelled or failed");
    if (f->type && !doc_one_of(f->type, payment_types))
        return cs_fail(&rc->diag, CS_EPARAM, "type", "type must be at_order, deferred, split, deposit, at_shipment "
                       "or at_delivery");
    if (f->channel && !doc_one_of(f->channel, channels))
        return cs_fail(&rc->diag, CS_EPARAM, "channel", "channel must be api, manual or payment_link");
    if (f->failure_code && (!all_of(f->failure_code, "abcdefghijklmnopqrstuvwxyz_") || strlen(f->failure_code) > 40))
        return cs_fail(&rc->diag, CS_EPARAM, "failure_code", "failure_code must be a failure code such as "
                       "risk_blocked or do_not_honor");
    if (f->card_last4 && (strlen(f->card_last4) != 4 || !all_of(f->card_last4, "0123456789")))
        return cs_fail(&rc->diag, CS_EPARAM, "card_last4", "card_last4 must be the card number's last 4 digits");
    if (f->order_reference && (!*f->order_reference || strlen(f->order_reference) > CS_REFERENCE_BYTES_MAX ||
                               !jin_printable(f->order_reference)))
        return cs_fail(&rc->diag, CS_EPARAM, "order_reference", "order_reference must be 1 to %u printable bytes",
                       CS_REFERENCE_BYTES_MAX);
    if (f->customer && !id_valid(f->customer, "cus"))
        return cs_fail(&rc->diag, CS_EPARAM, "customer", "customer must be a customer id (cus_…)");
    if (f->shop && (!jin_token(f->shop) || strlen(f->shop) > CS_SHOP_ID_BYTES_MAX))
        return cs_fail(&rc->diag, CS_EPARAM, "shop", "shop must be letters, digits, '-' or '_'");
    int rc2;
    if ((rc2 = time_param(rc, "created[gte]", 0, first_us, &f->created_gte)) ||
        (rc2 = time_param(rc, "created[lte]", 1, first_us, &f->created_lte)) ||
        (rc2 = amount_param(rc, "amount[gte]", &f->amount_gte)) ||
        (rc2 = amount_param(rc, "amount[lte]", &f->amount_lte)))
        return rc2;
    if (f->created_gte > f->created_lte)
        return cs_fail(&rc->diag, CS_EPARAM, "created[lte]", "created[lte] must not be before created[gte]");
    if (f->amount_gte >= 0 && f->amount_lte >= 0 && f->amount_gte > f->amount_lte)
        return cs_fail(&rc->diag, CS_EPARAM, "amount[lte]", "amount[lte] must not be less than amount[gte]");
    f->stop_before_us = f->created_gte;
    return 0;
}

static int str_is(json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

/* The payment's creation time: created_us (set at creation), else its
 * "created" text. */
static int64_t created_us(json_t *o)
{
    json_t *v = json_object_get(o, "created_us");
    int64_t t = 0;
    if (json_is_integer(v))
        return json_integer_value(v);
    const char *s = json_string_value(json_object_get(o, "created"));
    return s && report_parse_time(s, 0, &t) == 0 ? t : 0;
}

/* 1 if o passes the filters, 0 if not, -1 when it is older than the walk
 * goes (the index is newest first: nothing after it can pass). */
static int matches(const struct payment_filter *f, json_t *o)
{
    if (!json_is_object(o))
        return 0;
    int64_t at = created_us(o), amount = json_integer_value(json_object_get(o, "amount"));
    if (at < f->stop_before_us)
        return -1;
    return at <= f->created_lte && (!f->status || str_is(o, "status", f->status)) &&
           (!f->type || str_is(o, "type", f->type)) && (!f->channel || str_is(o, "channel", f->channel)) &&
           (!f->failure_code || str_is(json_object_get(o, "failure"), "code", f->failure_code)) &&
           (!f->card_last4 || str_is(json_object_get(o, "card"), "last4", f->card_last4)) &&
           (!f->order_reference || str_is(o, "order_reference", f->order_reference)) &&
           (!f->customer || str_is(o, "customer_id", f->customer)) && (!f->shop || str_is(o, "shop", f->shop)) &&
           (f->amount_gte < 0 || amount >= f->amount_gte) && (f->amount_lte < 0 || amount <= f->amount_lte);
}

/* ---- list ------------------------------------------------------------------------------ */

struct list_state {
    struct payment_filter f;
    struct list_page page;
};

static int list_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct list_state *ls = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    int m = matches(&ls->f, o);
    json_decref(o);
    if (m <= 0)
        return m < 0;
    return list_page_add(&ls->page, doc->mv_data, doc->mv_size, id) || ls->page.err;
}

static void cursor_error(struct req_ctx *rc, const char *name)
{
    respond_fail(rc, CS_EPARAM, name, "%s must be the id of a payment of a previous page (its next_cursor)", name);
}

void api_payments_list(struct req_ctx *rc)
{
    static const char *const params[] = {"limit", "starting_after", "cursor", FILTER_PARAMS, NULL};
    struct list_state ls;
    unsigned limit;
    if (query_check_known(rc, params) || list_parse_limit(rc, &limit) || parse_filter(rc, &ls.f)) {
        respond_error(rc);
        return;
    }
    /* starting_after (Stripe's name) or cursor (the orders list's): the
     * id of the last payment of the previous page, its next_cursor. */
    const char *after = query_param(rc, "starting_after"), *cursor = query_param(rc, "cursor");
    const char *name = after ? "starting_after" : "cursor";
    if (after && cursor) {
        respond_fail(rc, CS_EPARAM, "cursor", "give starting_after or cursor, not both");
        return;
    }
    if (!after)
        after = cursor;
    if (after && !id_valid(after, "pay")) {
        cursor_error(rc, name);
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    list_page_init(&ls.page, limit);
    err = store_objects_each(&t, rc->merchant_id, rc->livemode, "payment", after, list_visit, &ls);
    store_abort(&t);
    if (err) {
        list_page_free(&ls.page);
        if (err == CS_EPARAM || err == CS_ENOENT)
            cursor_error(rc, name);
        else
            respond_fail(rc, err, "", "the payments could not be listed");
        return;
    }
    list_page_respond(&ls.page, rc);
}

/* ---- export ------------------------------------------------------------------------------ */

struct export_state {
    struct payment_filter f;
    struct csv_buf csv;
    unsigned rows;
    int too_many;
};

static const char *text_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int export_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct export_state *x = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    int m = matches(&x->f, o);
    if (m <= 0) {
        json_decref(o);
        return m < 0;
    }
    if (x->rows++ == EXPORT_ROWS_MAX) {
        json_decref(o);
        x->too_many = 1;
        return 1;
    }
    struct csv_buf *c = &x->csv;
    json_t *card = json_object_get(o, "card"), *failure = json_object_get(o, "failure"),
           *risk = json_object_get(o, "risk"), *customer = json_object_get(o, "customer");
    csv_text(c, id, 0);
    csv_text(c, text_of(o, "created"), 0);
    csv_text(c, text_of(o, "status"), 0);
    csv_text(c, text_of(o, "type"), 0);
    csv_text(c, text_of(o, "channel"), 0);
    csv_int(c, json_integer_value(json_object_get(o, "amount")), 0);
    csv_text(c, text_of(o, "currency"), 0);
    csv_int(c, json_integer_value(json_object_get(o, "amount_authorized")), 0);
    csv_int(c, json_integer_value(json_object_get(o, "amount_captured")), 0);
    csv_int(c, json_integer_value(json_object_get(o, "amount_refunded")), 0);
    csv_int(c, json_integer_value(json_object_get(o, "amount_disputed")), 0);
    csv_text(c, text_of(card, "brand"), 0);
    csv_text(c, text_of(card, "last4"), 0);
    csv_text(c, text_of(card, "country"), 0);
    csv_text(c, text_of(failure, "code"), 0);
    csv_text(c, text_of(failure, "message"), 0);
    csv_text(c, text_of(risk, "decision"), 0);
    csv_text(c, text_of(risk, "rule"), 0);
    csv_text(c, text_of(o, "order_reference"), 0);
    csv_text(c, text_of(o, "shop"), 0);
    csv_text(c, text_of(o, "customer_id"), 0);
    csv_text(c, text_of(customer, "email"), 0);
    csv_text(c, text_of(o, "description"), 1);
    json_decref(o);
    return c->err != 0;
}

void api_payments_export(struct req_ctx *rc)
{
    static const char *const params[] = {FILTER_PARAMS, NULL};
    struct export_state x = {0};
    if (query_check_known(rc, params) || parse_filter(rc, &x.f)) {
        respond_error(rc);
        return;
    }
    static const char header[] = "id,created,status,type,channel,amount,currency,amount_authorized,amount_captured,"
                                 "amount_refunded,amount_disputed,card_brand,card_last4,card_country,failure_code,"
                                 "failure_message,risk_decision,risk_rule,order_reference,shop,customer_id,"
                                 "customer_email,description\r\n";
    csv_raw(&x.csv, header, sizeof header - 1);
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        csv_free(&x.csv);
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    err = store_objects_each(&t, rc->merchant_id, rc->livemode, "payment", NULL, export_visit, &x);
    store_abort(&t);
    if (err || x.csv.err || x.too_many) {
        csv_free(&x.csv);
        if (x.too_many)
            respond_fail(rc, CS_EPARAM, "created[gte]", "more than %u payments match: narrow the dates",
                         EXPORT_ROWS_MAX);
        else
            respond_fail(rc, err ? err : x.csv.err, "", "the payments could not be exported");
        return;
    }
    http_respond(rc->req, 200, "text/csv; charset=utf-8",
                 "Content-Disposition: attachment; filename=\"payments.csv\"\r\n", x.csv.out, x.csv.len);
    csv_free(&x.csv);
}
