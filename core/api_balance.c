/* GET /v1/balance and GET /v1/balance_transactions: the merchant's side of
 * the ledger projection (store/proj_ledger.c, docs/ledger.md). */
#include <stdio.h>
#include <string.h>
#include "core/router.h"
#include "core/list_page.h"
#include "core/scheduler.h"
#include "core/doc.h"
#include "core/money.h"

/* Per currency: available and pending (the merchant account split by
 * available_on), owed (what a short balance owes: a dispute debit beyond the
 * available funds), reserved (the debits of disputes not decided yet: they
 * come back if won), fees (caisse's fees and their VAT charged so far, both
 * streams) and paid_out (standard and early payouts, net of failures). */
struct balance_build {
    struct store_txn *t;
    struct req_ctx *rc;
    int64_t now_us;
    json_t *reserved_by_currency;   /* currency -> integer */
    json_t *lists[6];
    int err;
};

enum { B_AVAILABLE, B_PENDING, B_OWED, B_RESERVED, B_FEES, B_PAID_OUT };
static const char *const balance_names[] = {"available", "pending", "owed", "reserved", "fees", "paid_out"};

static const char *const undecided_dispute[] = {"open", "sending", "evidence_sent", "under_review", NULL};

static int reserved_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct balance_build *b = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    const char *cur = json_string_value(json_object_get(o, "currency"));
    if (o && cur && doc_one_of(json_string_value(json_object_get(o, "status")), undecided_dispute)) {
        int64_t sum = doc_int(o, "amount"), now = json_integer_value(json_object_get(b->reserved_by_currency, cur));
        if (money_add(sum, doc_int(o, "fee"), &sum) || money_add(sum, doc_int(o, "fee_vat"), &sum) ||
            money_add(now, sum, &sum))
            b->err = CS_EAMOUNT;
        else
            json_object_set_new(b->reserved_by_currency, cur, json_integer(sum));
    }
    json_decref(o);
    return o ? b->err != 0 : (b->err = CS_ECORRUPT);
}

static int currency_visit(void *ctx, const char *currency)
{
    struct balance_build *b = ctx;
    const char *merchant = b->rc->merchant_id;
    int live = b->rc->livemode;
    int64_t v[6] = {0}, vat = 0;
    int err = store_ledger_balance(b->t, merchant, live, currency, b->now_us, &v[B_AVAILABLE], &v[B_PENDING]);
    if (!err)
        err = store_ledger_account(b->t, merchant, live, currency, "fees", &v[B_FEES]);
    if (!err)
        err = store_ledger_account(b->t, merchant, live, currency, "vat", &vat);
    if (!err)
        err = store_ledger_account(b->t, merchant, live, currency, "payouts", &v[B_PAID_OUT]);
    if (!err && money_add(v[B_FEES], vat, &v[B_FEES]))
        err = CS_EAMOUNT;
    if (err) {
        b->err = err;
        return 1;
    }
    v[B_OWED] = v[B_AVAILABLE] < 0 ? -v[B_AVAILABLE] : 0;
    v[B_RESERVED] = json_integer_value(json_object_get(b->reserved_by_currency, currency));
    for (int i = 0; i < 6; i++)
        json_array_append_new(b->lists[i], json_pack("{s:I,s:s}", "amount", (json_int_t)v[i], "currency", currency));
    return 0;
}

void api_balance_get(struct req_ctx *rc)
{
    static const char *const allowed[] = {NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    struct balance_build b = {.t = &t, .rc = rc, .now_us = merchant_now_us(rc->app, rc->merchant_id, rc->livemode),
                              .reserved_by_currency = json_object()};
    for (int i = 0; i < 6; i++)
        b.lists[i] = json_array();
    err = store_objects_each(&t, rc->merchant_id, rc->livemode, "dispute", NULL, reserved_visit, &b);
    if (!err && !b.err)
        err = store_ledger_currencies(&t, rc->merchant_id, rc->livemode, currency_visit, &b);
    store_abort(&t);
    json_t *out = json_pack("{s:s,s:b}", "object", "balance", "livemode", rc->livemode);
    for (int i = 0; i < 6; i++)
        json_object_set_new(out, balance_names[i], b.lists[i]);
    json_decref(b.reserved_by_currency);
    if (err || b.err) {
        json_decref(out);
        respond_fail(rc, err ? err : b.err, "", "the balance could not be read");
        return;
    }
    respond_json(rc, 200, out);
}

struct txn_list {
    const char *type, *source;
    struct list_page page;
};

static int txn_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct txn_list *l = ctx;
    if (l->type || l->source) {
        json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
        int keep = (!l->type || doc_is(o, "type", l->type)) && (!l->source || doc_is(o, "source", l->source));
        json_decref(o);
        if (!keep)
            return 0;
    }
    return list_page_add(&l->page, doc->mv_data, doc->mv_size, id) || l->page.err;
}

void api_balance_transactions(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "starting_after", "type", "source", NULL};
    static const char *const types[] = {"charge", "refund", "refund_failure", "dispute_debit", "dispute_reversal", "payout",
                                        "payout_failure", "order_payable", "order_reduction", "disbursement",
                                        "terminal_fee", NULL};
    unsigned limit;
    const char *cursor, *name;
    if (query_check_known(rc, allowed) || list_parse_limit(rc, &limit) || list_parse_cursor(rc, &cursor, &name)) {
        respond_error(rc);
        return;
    }
    struct txn_list l = {.type = query_param(rc, "type"), .source = query_param(rc, "source")};
    if (l.type && !doc_one_of(l.type, types)) {
        respond_fail(rc, CS_EPARAM, "type", "type must be charge, refund, refund_failure, dispute_debit, "
                     "dispute_reversal, payout, payout_failure, order_payable, order_reduction, disbursement or "
                     "terminal_fee");
        return;
    }
    if (l.source && (strlen(l.source) >= CS_ID_BYTES_MAX || !strchr(l.source, '_'))) {
        respond_fail(rc, CS_EPARAM, "source", "source must be the id of a payment, refund, dispute, payout or order");
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    list_page_init(&l.page, limit);
    err = store_ledger_txns_each(&t, rc->merchant_id, rc->livemode, cursor, txn_visit, &l);
    store_abort(&t);
    if (err) {
        list_page_free(&l.page);
        if (err == CS_EPARAM)
            list_cursor_refused(rc, name);
        else
            respond_fail(rc, err, "", "the balance transactions could not be listed");
        return;
    }
    list_page_respond(&l.page, rc);
}
