/* GET /v1/balance and GET /v1/balance_transactions: the merchant's side of
 * the ledger projection (store/proj_ledger.c, docs/ledger.md). */
#include <stdio.h>
#include <string.h>
#include "core/router.h"
#include "core/list_page.h"
#include "core/scheduler.h"
#include "core/doc.h"

struct balance_build {
    struct store_txn *t;
    struct req_ctx *rc;
    int64_t now_us;
    json_t *available, *pending;
    int err;
};

static int currency_visit(void *ctx, const char *currency)
{
    struct balance_build *b = ctx;
    int64_t available = 0, pending = 0;
    int err = store_ledger_balance(b->t, b->rc->merchant_id, b->rc->livemode, currency, b->now_us, &available, &pending);
    if (err) {
        b->err = err;
        return 1;
    }
    json_array_append_new(b->available, json_pack("{s:I,s:s}", "amount", (json_int_t)available, "currency", currency));
    json_array_append_new(b->pending, json_pack("{s:I,s:s}", "amount", (json_int_t)pending, "currency", currency));
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
                              .available = json_array(), .pending = json_array()};
    err = store_ledger_currencies(&t, rc->merchant_id, rc->livemode, currency_visit, &b);
    store_abort(&t);
    if (err || b.err) {
        json_decref(b.available);
        json_decref(b.pending);
        respond_fail(rc, err ? err : b.err, "", "the balance could not be read");
        return;
    }
    respond_json(rc, 200, json_pack("{s:s,s:b,s:o,s:o}", "object", "balance", "livemode", rc->livemode, "available",
                                    b.available, "pending", b.pending));
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
                                        "payout_failure", "order_payable", "order_reduction", "disbursement", NULL};
    unsigned limit;
    if (query_check_known(rc, allowed) || list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    struct txn_list l = {.type = query_param(rc, "type"), .source = query_param(rc, "source")};
    const char *cursor = query_param(rc, "cursor"), *after = query_param(rc, "starting_after");
    const char *name = after ? "starting_after" : "cursor";
    if (cursor && after) {
        respond_fail(rc, CS_EPARAM, "starting_after", "give cursor or starting_after, not both");
        return;
    }
    if (after)
        cursor = after;
    if (l.type && !doc_one_of(l.type, types)) {
        respond_fail(rc, CS_EPARAM, "type", "type must be charge, refund, refund_failure, dispute_debit, "
                     "dispute_reversal, payout, payout_failure, order_payable, order_reduction or disbursement");
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
            respond_fail(rc, CS_EPARAM, name, "%s must be the next_cursor of a previous page", name);
        else
            respond_fail(rc, err, "", "the balance transactions could not be listed");
        return;
    }
    list_page_respond(&l.page, rc);
}
