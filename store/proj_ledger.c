/* The `ledger` projection (docs/ledger.md): the merchant's balance as
 * double-entry postings derived from the events of payments, refunds and
 * disputes. Each movement of a merchant's balance is a balance transaction;
 * each balance transaction posts to accounts so that its postings sum to zero
 * per currency:
 *
 *   merchant      the merchant's balance (what caisse owes the merchant)
 *   cardholders   the card side: money in from captures, out by refunds and
 *                 disputes
 *   fees          caisse's fees
 *   vat           the VAT on those fees
 *   payouts       what left for the merchant's bank account
 *   bnpl          buy-now-pay-later: what the financier owes the merchant for
 *                 shipped orders (docs/disbursements.md), a second stream
 *                 kept apart from the card balance
 *   financier     its other side
 *   disbursements what the financier paid the merchant
 *
 * ledger_txns:     merchant NUL mode seq(BE) idx(u8) -> balance transaction JSON
 * ledger_accounts: merchant NUL mode currency NUL account -> total (BE, two's complement)
 * ledger_state:    payment id -> captures already posted (BE u32)
 *
 * Everything a posting needs is in the event (the fee of a capture, the
 * dispute's fee and VAT): the fold decides nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

#define LEDGER_HOLD_US (7LL * 86400 * 1000000)   /* captures are held 7 days (seed 003) */
#define TXN_KEY_BYTES_MAX (CS_ID_BYTES_MAX + 2 + 9)
#define ACCOUNT_KEY_BYTES_MAX (CS_ID_BYTES_MAX + 2 + 4 + 16)

static size_t merchant_prefix(uint8_t *buf, const char *merchant_id, int livemode)
{
    size_t m = strlen(merchant_id);
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    return m + 2;
}

static int post(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, const char *currency,
                const char *account, int64_t amount)
{
    if (amount == 0)
        return 0;
    uint8_t kb[ACCOUNT_KEY_BYTES_MAX];
    size_t n = merchant_prefix(kb, v->merchant_id, v->livemode), c = strlen(currency), a = strlen(account);
    memcpy(kb + n, currency, c + 1);
    memcpy(kb + n + c + 1, account, a);
    MDB_val k = { n + c + 1 + a, kb }, val;
    int64_t total = 0;
    int rc = mdb_get(txn, dbi[DBI_LEDGER_ACCOUNTS], &k, &val);
    if (rc == 0 && val.mv_size == 8)
        total = (int64_t)be64_get(val.mv_data);
    else if (rc != MDB_NOTFOUND)
        return rc ? store_err(rc) : CS_ECORRUPT;
    if (__builtin_add_overflow(total, amount, &total))
        return CS_ECORRUPT;   /* cannot happen with amounts bounded by CS_AMOUNT_MINOR_MAX */
    uint8_t vb[8];
    be64_put(vb, (uint64_t)total);
    MDB_val nv = { 8, vb };
    return store_err(mdb_put(txn, dbi[DBI_LEDGER_ACCOUNTS], &k, &nv, 0));
}

struct movement {
    const char *stream;        /* NULL: "card"; "bnpl": posts to bnpl/financier, never to merchant */
    const char *type;          /* charge, refund, refund_failure, dispute, dispute_reversal */
    const char *source;        /* the object id */
    const char *currency;
    int64_t amount, fee, vat;  /* signed as the merchant's balance sees them; net = amount - fee - vat */
    int64_t cardholders;       /* the card side's posting */
    int64_t payouts;           /* the bank side's posting (payouts) */
    int64_t financier;         /* the financier's posting (bnpl) */
    int64_t disbursed;         /* what a disbursement paid the merchant (bnpl) */
    int64_t available_us;
    int64_t owed;              /* a dispute debit: the part the available balance could not cover */
};

/* Writes one balance transaction and its postings. */
static int record(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, unsigned idx,
                  const struct movement *m)
{
    if (!m->currency || strlen(m->currency) != 3)
        return 0;
    int64_t net = m->amount - m->fee - m->vat;
    int bnpl = m->stream && strcmp(m->stream, "bnpl") == 0;
    /* Double entry, per transaction: its postings sum to zero, or the event
     * is refused (in the writer) and replay stops here (caisse audit ledger
     * then checks the accounts' totals per currency). */
    int64_t sum = bnpl ? m->amount + m->financier - m->fee - m->vat + m->disbursed
                       : net + m->cardholders + m->fee + m->vat + m->payouts;
    if (sum != 0)
        return CS_ECORRUPT;
    int err;
    if (bnpl) {
        /* Signed as the bnpl stream sees them: a disbursement gives up the
         * whole amount (−gross), of which the commission and its VAT
         * (−fee, −vat) go to caisse and the net to the merchant. */
        if ((err = post(txn, dbi, v, m->currency, "bnpl", m->amount)) ||
            (err = post(txn, dbi, v, m->currency, "financier", m->financier)) ||
            (err = post(txn, dbi, v, m->currency, "fees", -m->fee)) ||
            (err = post(txn, dbi, v, m->currency, "vat", -m->vat)) ||
            (err = post(txn, dbi, v, m->currency, "disbursements", m->disbursed)))
            return err;
    } else if ((err = post(txn, dbi, v, m->currency, "merchant", net)) ||
               (err = post(txn, dbi, v, m->currency, "cardholders", m->cardholders)) ||
               (err = post(txn, dbi, v, m->currency, "fees", m->fee)) ||
               (err = post(txn, dbi, v, m->currency, "vat", m->vat)) ||
               (err = post(txn, dbi, v, m->currency, "payouts", m->payouts))) {
        return err;
    }
    char id[48], created[STORE_TIME_TEXT_BYTES], avail[STORE_TIME_TEXT_BYTES];
    snprintf(id, sizeof id, "btx_%llu_%u", (unsigned long long)v->seq, idx);
    store_time_format(v->time_us, created);
    store_time_format(m->available_us, avail);
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:I}", "id", id, "object",
                            "balance_transaction", "livemode", v->livemode, "merchant", v->merchant_id, "stream",
                            bnpl ? "bnpl" : "card", "type", m->type,
                            "source", m->source, "currency", m->currency, "amount", (json_int_t)m->amount, "fee",
                            (json_int_t)m->fee, "vat", (json_int_t)m->vat, "net", (json_int_t)net, "available_on",
                            avail, "available_on_us", (json_int_t)m->available_us, "created", created, "event_seq",
                            (json_int_t)v->seq);
    if (doc && m->owed)
        json_object_set_new(doc, "owed", json_integer(m->owed));
    char *text = doc ? jout_dumps(doc, NULL) : NULL;
    json_decref(doc);
    if (!text)
        return CS_ENOMEM;
    uint8_t kb[TXN_KEY_BYTES_MAX];
    size_t n = merchant_prefix(kb, v->merchant_id, v->livemode);
    be64_put(kb + n, v->seq);
    kb[n + 8] = (uint8_t)idx;
    MDB_val k = { n + 9, kb }, val = { strlen(text), text };
    err = store_err(mdb_put(txn, dbi[DBI_LEDGER_TXNS], &k, &val, 0));
    free(text);
    return err;
}

static int64_t iget(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* The captures of a payment not posted yet: one charge each. */
static int fold_payment(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, json_t *obj)
{
    json_t *caps = json_object_get(obj, "captures");
    MDB_val k = { strlen(v->aggregate_id), (void *)v->aggregate_id }, val;
    uint32_t seen = 0;
    int rc = mdb_get(txn, dbi[DBI_LEDGER_STATE], &k, &val);
    if (rc == 0 && val.mv_size == 4)
        seen = be32_get(val.mv_data);
    else if (rc != MDB_NOTFOUND)
        return rc ? store_err(rc) : CS_ECORRUPT;
    size_t n = json_array_size(caps);
    if (n <= seen)
        return 0;
    const char *currency = json_string_value(json_object_get(obj, "currency"));
    for (size_t i = seen; i < n; i++) {
        json_t *cap = json_array_get(caps, i);
        int64_t amount = iget(cap, "amount");
        struct movement m = {.type = "charge", .source = v->aggregate_id, .currency = currency, .amount = amount,
                             .fee = iget(cap, "fee"), .vat = iget(cap, "vat"), .cardholders = -amount,
                             .available_us = v->time_us + LEDGER_HOLD_US};
        if ((rc = record(txn, dbi, v, (unsigned)(i - seen), &m)))
            return rc;
    }
    uint8_t vb[4];
    be32_put(vb, (uint32_t)n);
    MDB_val nv = { 4, vb };
    return store_err(mdb_put(txn, dbi[DBI_LEDGER_STATE], &k, &nv, 0));
}

static int fold_refund(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, json_t *obj)
{
    const char *t = v->type + strlen("refund.");
    int debit = strcmp(t, "created") == 0;
    int credit = strcmp(t, "failed") == 0 || strcmp(t, "not_honored") == 0 || strcmp(t, "payment_cancelled") == 0;
    if (!debit && !credit)
        return 0;
    int64_t amount = iget(obj, "amount");
    struct movement m = {.type = debit ? "refund" : "refund_failure", .source = v->aggregate_id,
                         .currency = json_string_value(json_object_get(obj, "currency")),
                         .amount = debit ? -amount : amount, .cardholders = debit ? amount : -amount,
                         .available_us = v->time_us};
    return record(txn, dbi, v, 0, &m);
}

/* data.balance_impact: the opening's debit (amount, fee and its VAT), the
 * win's reversal; 0 otherwise. */
static int fold_dispute(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, json_t *obj)
{
    int64_t impact = iget(v->data, "balance_impact");
    if (impact == 0)
        return 0;
    int64_t sign = impact < 0 ? -1 : 1, amount = iget(obj, "amount");
    struct movement m = {.type = sign < 0 ? "dispute_debit" : "dispute_reversal", .source = v->aggregate_id,
                         .currency = json_string_value(json_object_get(obj, "currency")), .amount = sign * amount,
                         .fee = -sign * iget(obj, "fee"), .vat = -sign * iget(obj, "fee_vat"),
                         .cardholders = -sign * amount, .available_us = v->time_us,
                         .owed = sign < 0 ? iget(obj, "owed") : 0};
    if (m.amount - m.fee - m.vat != impact)
        return CS_ECORRUPT;   /* the event's parts and its total disagree */
    return record(txn, dbi, v, 0, &m);
}

/* A payout takes its amount (and an early payout's fee) from the balance;
 * a failed payout gives them back. */
static int fold_payout(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, json_t *obj)
{
    int out = strcmp(v->type, "payout.created") == 0, back = strcmp(v->type, "payout.failed") == 0;
    if (!out && !back)
        return 0;
    int64_t sign = out ? -1 : 1, amount = iget(obj, "amount");
    struct movement m = {.type = out ? "payout" : "payout_failure", .source = v->aggregate_id,
                         .currency = json_string_value(json_object_get(obj, "currency")), .amount = sign * amount,
                         .fee = -sign * iget(obj, "fee"), .vat = -sign * iget(obj, "fee_vat"), .payouts = -sign * amount,
                         .available_us = v->time_us};
    return record(txn, dbi, v, 0, &m);
}

/* Buy-now-pay-later (docs/disbursements.md): a shipment makes its amount
 * payable by the financier, a return of shipped goods takes it back. The
 * order events carry no currency: the order's document, folded by the
 * orders projection just before this one (store/projections.c), has it. */
/* What of an order's lines the financier owes once shipped: the products'
 * shipped quantities at their price and, once every product has shipped,
 * the other lines (handling, discounts), as the completing shipment carries
 * them (core/orders.c). CS_EAMOUNT on overflow. */
static int payable_of_lines(json_t *lines, int64_t *out)
{
    int64_t products = 0, others = 0;
    int complete = 1;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *type = json_string_value(json_object_get(l, "type"));
        int64_t q = iget(l, "quantity"), shipped = iget(l, "quantity_shipped"), part;
        if (!type || strcmp(type, "product") != 0) {
            if (__builtin_add_overflow(others, iget(l, "amount"), &others))
                return CS_EAMOUNT;
            continue;
        }
        if (shipped < q)
            complete = 0;
        if (__builtin_mul_overflow(shipped, iget(l, "unit_price"), &part) ||
            __builtin_add_overflow(products, part, &products))
            return CS_EAMOUNT;
    }
    return __builtin_add_overflow(products, complete ? others : 0, out) ? CS_EAMOUNT : 0;
}

/* A cart edit moves what is payable when it touches what already shipped:
 * a discount added to a shipped order, a cart cut down to what left (its
 * handling and discount lines become payable), goods added to a shipped
 * order (they wait for the shipment that completes it again). */
static int cart_delta(const struct event_view *v, int64_t *delta)
{
    int64_t before = 0, after = 0;
    int err = payable_of_lines(json_object_get(json_object_get(v->data, "before"), "lines"), &before);
    if (!err)
        err = payable_of_lines(json_object_get(json_object_get(v->data, "after"), "lines"), &after);
    if (!err && __builtin_sub_overflow(after, before, delta))
        err = CS_EAMOUNT;
    return err;
}

static int fold_order(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    int shipped = strcmp(v->type, "order.shipped") == 0, returned = strcmp(v->type, "order.returned") == 0;
    int64_t amount;
    if (strcmp(v->type, "order.cart_updated") == 0) {
        int64_t delta = 0;
        int err = cart_delta(v, &delta);
        if (err || delta == 0)
            return err;
        shipped = delta > 0;
        amount = delta > 0 ? delta : -delta;
    } else if (shipped || returned) {
        amount = iget(json_object_get(v->data, shipped ? "shipment" : "return"), "amount");
    } else {
        return 0;
    }
    if (amount <= 0)
        return 0;
    MDB_val k = { strlen(v->aggregate_id), (void *)v->aggregate_id }, val;
    int rc = proj_orders_flush(txn, dbi);
    if (rc)
        return rc;
    rc = mdb_get(txn, dbi[DBI_ORDERS], &k, &val);
    if (rc == MDB_NOTFOUND)
        return 0;   /* no order to move money for: ignored, as the orders projection does */
    if (rc)
        return store_err(rc);
    json_t *order = json_loadb(val.mv_data, val.mv_size, JSON_ALLOW_NUL, NULL);
    if (!order)
        return CS_ECORRUPT;
    int64_t sign = shipped ? 1 : -1;
    struct movement m = {.stream = "bnpl", .type = shipped ? "order_payable" : "order_reduction",
                         .source = v->aggregate_id, .currency = json_string_value(json_object_get(order, "currency")),
                         .amount = sign * amount, .financier = -sign * amount, .available_us = v->time_us};
    rc = record(txn, dbi, v, 0, &m);
    json_decref(order);
    return rc;
}

/* A disbursement settles the bnpl stream: −gross, of which the commission
 * and its VAT to caisse and the net to the merchant. */
static int fold_disbursement(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, json_t *obj)
{
    if (strcmp(v->type, "disbursement.created") != 0)
        return 0;
    int64_t net = iget(obj, "amount");
    struct movement m = {.stream = "bnpl", .type = "disbursement", .source = v->aggregate_id,
                         .currency = json_string_value(json_object_get(obj, "currency")),
                         .amount = -iget(obj, "gross_amount"), .fee = -iget(obj, "fees"),
                         .vat = -iget(obj, "fees_vat"), .disbursed = net, .available_us = v->time_us};
    if (m.amount - m.fee - m.vat != -net)
        return CS_ECORRUPT;   /* the document's parts and its total disagree */
    return record(txn, dbi, v, 0, &m);
}

/* A terminal's monthly fee (docs/terminals.md): taken from the card balance
 * at once, fee and VAT to caisse; nothing when the month was free. */
static int fold_terminal(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strcmp(v->type, "terminal.billed") != 0)
        return 0;
    json_t *fee = json_object_get(v->data, "fee");
    if (iget(fee, "fee") == 0 && iget(fee, "vat") == 0)
        return 0;
    struct movement m = {.type = "terminal_fee", .source = v->aggregate_id,
                         .currency = json_string_value(json_object_get(fee, "currency")), .amount = 0,
                         .fee = iget(fee, "fee"), .vat = iget(fee, "vat"), .available_us = v->time_us};
    return record(txn, dbi, v, 0, &m);
}

int proj_ledger_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strncmp(v->type, "order.", 6) == 0)
        return v->merchant_id && store_id_valid(v->merchant_id) && strlen(v->aggregate_id) < CS_ID_BYTES_MAX
                   ? fold_order(txn, dbi, v)
                   : 0;
    json_t *obj = json_object_get(v->data, "object");
    if (!json_is_object(obj) || !v->merchant_id || !store_id_valid(v->merchant_id) ||
        strlen(v->aggregate_id) >= CS_ID_BYTES_MAX)
        return 0;
    if (strncmp(v->type, "payment.", 8) == 0)
        return fold_payment(txn, dbi, v, obj);
    if (strncmp(v->type, "refund.", 7) == 0)
        return fold_refund(txn, dbi, v, obj);
    if (strncmp(v->type, "dispute.", 8) == 0)
        return fold_dispute(txn, dbi, v, obj);
    if (strncmp(v->type, "payout.", 7) == 0)
        return fold_payout(txn, dbi, v, obj);
    if (strncmp(v->type, "disbursement.", 13) == 0)
        return fold_disbursement(txn, dbi, v, obj);
    if (strncmp(v->type, "terminal.", 9) == 0)
        return fold_terminal(txn, dbi, v);
    return 0;
}

/* ---- read side ------------------------------------------------------------------ */

int store_ledger_account(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                         const char *account, int64_t *total)
{
    *total = 0;
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id) || strlen(currency) != 3 || strlen(account) > 15)
        return 0;
    uint8_t kb[ACCOUNT_KEY_BYTES_MAX];
    size_t n = merchant_prefix(kb, merchant_id, livemode), a = strlen(account);
    memcpy(kb + n, currency, 4);
    memcpy(kb + n + 4, account, a);
    MDB_val k = { n + 4 + a, kb }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_LEDGER_ACCOUNTS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size != 8)
        return store_txn_fail(t, CS_ECORRUPT);
    *total = (int64_t)be64_get(v.mv_data);
    return 0;
}

int store_ledger_currencies(struct store_txn *t, const char *merchant_id, int livemode,
                            int (*fn)(void *ctx, const char *currency), void *ctx)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id))
        return 0;
    uint8_t kb[ACCOUNT_KEY_BYTES_MAX];
    size_t n = merchant_prefix(kb, merchant_id, livemode);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_LEDGER_ACCOUNTS], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    char last[4] = "";
    MDB_val k = { n, kb }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < n + 4 || memcmp(k.mv_data, kb, n) != 0)
            break;
        const char *cur = (const char *)k.mv_data + n;
        if (memcmp(cur, last, 3) == 0)
            continue;
        memcpy(last, cur, 3);
        last[3] = 0;
        if (fn(ctx, last))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

int store_ledger_txns_each(struct store_txn *t, const char *merchant_id, int livemode, const char *after_id,
                           int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id))
        return after_id ? CS_EPARAM : 0;
    uint8_t kb[TXN_KEY_BYTES_MAX];
    size_t n = merchant_prefix(kb, merchant_id, livemode), klen = n + 9;
    if (after_id) {
        unsigned long long seq;
        unsigned idx;
        char tail;
        if (sscanf(after_id, "btx_%llu_%u%c", &seq, &idx, &tail) != 2 || idx > 255)
            return CS_EPARAM;
        be64_put(kb + n, seq);
        kb[n + 8] = (uint8_t)idx;
    } else {
        memset(kb + n, 0xff, 9);
        klen = n + 9;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_LEDGER_TXNS], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { klen, kb }, v;
    for (rc = store_cursor_below(c, &k, &k, &v); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (k.mv_size != n + 9 || memcmp(k.mv_data, kb, n) != 0)
            break;
        char id[48];
        snprintf(id, sizeof id, "btx_%llu_%u", (unsigned long long)be64_get((const uint8_t *)k.mv_data + n),
                 ((const uint8_t *)k.mv_data)[n + 8]);
        if (fn(ctx, id, &v))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

struct pending_walk {
    int64_t now_us;
    const char *currency;
    int64_t pending;
    int err;
};

/* Newest first: what is not available yet. A transaction is available at
 * most a hold after it was made, so once one is more than a hold past its
 * own availability, everything older is available too. */
static int pending_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct pending_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o) {
        w->err = CS_ECORRUPT;
        return 1;
    }
    int64_t avail = iget(o, "available_on_us"), net = iget(o, "net");
    const char *cur = json_string_value(json_object_get(o, "currency"));
    const char *stream = json_string_value(json_object_get(o, "stream"));
    int card = !stream || strcmp(stream, "card") == 0;   /* bnpl never moves the merchant account */
    if (card && avail > w->now_us && cur && strcmp(cur, w->currency) == 0)
        w->pending += net;
    json_decref(o);
    return avail + LEDGER_HOLD_US < w->now_us;
}

int store_ledger_balance(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                         int64_t now_us, int64_t *available, int64_t *pending)
{
    int64_t total = 0;
    *available = *pending = 0;
    int err = store_ledger_account(t, merchant_id, livemode, currency, "merchant", &total);
    struct pending_walk w = {.now_us = now_us, .currency = currency};
    if (!err)
        err = store_ledger_txns_each(t, merchant_id, livemode, NULL, pending_visit, &w);
    if (err || w.err)
        return err ? err : store_txn_fail(t, w.err);
    *pending = w.pending;
    *available = total - w.pending;
    return 0;
}

int store_ledger_check(struct store_txn *t, FILE *report, uint64_t *unbalanced)
{
    *unbalanced = 0;
    if (t->err)
        return t->err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_LEDGER_ACCOUNTS], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    /* Keys sort by merchant, mode, currency: sum each group. */
    uint8_t group[CS_ID_BYTES_MAX + 8];
    size_t glen = 0;
    int64_t sum = 0;
    uint64_t groups = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t len = 0;
        if (rc == 0) {
            const uint8_t *p = k.mv_data;
            const uint8_t *nul = memchr(p, 0, k.mv_size);
            len = nul ? (size_t)(nul - p) + 2 + 4 : 0;   /* merchant NUL mode currency NUL */
            if (!nul || len > k.mv_size || len > sizeof group || v.mv_size != 8) {
                rc = MDB_CORRUPTED;
                break;
            }
        }
        if (glen && (rc != 0 || len != glen || memcmp(k.mv_data, group, glen) != 0)) {
            groups++;
            if (sum != 0) {
                (*unbalanced)++;
                if (report)
                    fprintf(report, "unbalanced: merchant %s mode %c currency %.3s: postings sum to %lld\n",
                            (const char *)group, group[strlen((const char *)group) + 1],
                            (const char *)group + strlen((const char *)group) + 2, (long long)sum);
            }
            glen = 0;
            sum = 0;
        }
        if (rc != 0)
            break;
        if (!glen) {
            memcpy(group, k.mv_data, len);
            glen = len;
        }
        sum += (int64_t)be64_get(v.mv_data);
    }
    mdb_cursor_close(c);
    if (report)
        fprintf(report, "ledger: %llu merchant currencies, %llu unbalanced\n", (unsigned long long)groups,
                (unsigned long long)*unbalanced);
    if (rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}
