/* The `orders` projection: orders (id -> order JSON) and orders_by_merchant
 * (merchant NUL mode created_us(BE) id -> ""), the list index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

static size_t index_key(uint8_t *buf, const char *merchant_id, int livemode, int64_t created_us,
                        const char *order_id)
{
    size_t m = strlen(merchant_id), o = strlen(order_id);
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    be64_put(buf + m + 2, (uint64_t)created_us);
    memcpy(buf + m + 10, order_id, o);
    return m + 10 + o;
}
#define INDEX_KEY_BYTES_MAX (2 * CS_ID_BYTES_MAX + 10)

/* The last document this thread folded, kept parsed for the next fold of the
 * same order in the same write transaction, and not yet written while
 * `dirty`: a checkout appends order.created and its decision together, and
 * writing (and parsing back) the document between them was most of the
 * second fold's cost and all of the first's write. It is written when another
 * order is folded, and by proj_orders_flush, which every reader of
 * DBI_ORDERS in a write transaction and the commit call first. Dropped
 * whenever a write transaction ends (store_projections_txn_end), so an
 * aborted batch never leaks into the next. */
static _Thread_local struct {
    MDB_txn *txn;
    char id[CS_ID_BYTES_MAX];
    json_t *doc;
    int dirty;
} last_doc;

void proj_orders_forget(void)
{
    json_decref(last_doc.doc);
    last_doc.doc = NULL;
    last_doc.txn = NULL;
    last_doc.dirty = 0;
}

int proj_orders_flush(MDB_txn *txn, const MDB_dbi *dbi)
{
    if (!last_doc.dirty || last_doc.txn != txn)
        return 0;
    size_t len;
    char *text = jout_dumps(last_doc.doc, &len);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { strlen(last_doc.id), last_doc.id };
    MDB_val val = { len, text };
    int err = store_err(mdb_put(txn, dbi[DBI_ORDERS], &k, &val, 0));
    free(text);
    if (!err)
        last_doc.dirty = 0;
    return err;
}

/* Keeps doc as the last folded document, unwritten. */
static void remember(MDB_txn *txn, const char *id, json_t *doc)
{
    proj_orders_forget();
    last_doc.txn = txn;
    snprintf(last_doc.id, sizeof last_doc.id, "%s", id);
    last_doc.doc = json_incref(doc);
    last_doc.dirty = 1;
}

/* The current document of an order as a new JSON object, or NULL (absent). */
static int doc_load(MDB_txn *txn, const MDB_dbi *dbi, const char *id, json_t **doc)
{
    if (last_doc.doc && last_doc.txn == txn && strcmp(last_doc.id, id) == 0) {
        *doc = json_incref(last_doc.doc);   /* the fold updates it, then remembers it again */
        return 0;
    }
    MDB_val k = { strlen(id), (void *)id }, v;
    *doc = NULL;
    int rc = mdb_get(txn, dbi[DBI_ORDERS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_err(rc);
    *doc = json_loadb(v.mv_data, v.mv_size, JSON_ALLOW_NUL, NULL);
    return json_is_object(*doc) ? 0 : CS_ECORRUPT;
}

/* Sets doc[key] to data[member] if that is a string. */
static void copy_string(json_t *doc, const char *key, json_t *data, const char *member)
{
    json_t *s = json_object_get(data, member);
    if (json_is_string(s))
        json_object_set(doc, key, s);
}

/* The card hold's status moves ("held" -> "captured" | "released" | "refunded"). */
static void hold_set(json_t *doc, const char *status)
{
    json_t *hold = json_object_get(doc, "hold");
    if (json_is_object(hold))
        json_object_set_new(hold, "status", json_string(status));
}

/* data.payment = {"instalment": n, "amount": principal+fee, "paid_at"}: that
 * instalment is paid and the order's amount_paid grows. */
static void fold_payment(json_t *doc, json_t *data)
{
    json_t *pay = json_object_get(data, "payment");
    if (!json_is_object(pay))
        return;
    json_int_t n = json_integer_value(json_object_get(pay, "instalment"));
    json_t *inst = json_array_get(json_object_get(json_object_get(doc, "plan"), "schedule"), (size_t)(n - 1));
    if (json_is_object(inst)) {
        json_object_set_new(inst, "status", json_string("paid"));
        json_object_set(inst, "paid_at", json_object_get(pay, "paid_at"));
        if (json_is_integer(json_object_get(pay, "attempt")))
            json_object_set(inst, "attempts", json_object_get(pay, "attempt"));
    }
    json_int_t paid = json_integer_value(json_object_get(doc, "amount_paid"));
    json_object_set_new(doc, "amount_paid", json_integer(paid + json_integer_value(json_object_get(pay, "amount"))));
}

/* data.failure = {"instalment": n, "attempt", "code", "message", "failed_at"}. */
static void fold_failure(json_t *doc, json_t *data)
{
    json_t *f = json_object_get(data, "failure");
    json_int_t n = json_integer_value(json_object_get(f, "instalment"));
    json_t *inst = json_array_get(json_object_get(json_object_get(doc, "plan"), "schedule"), (size_t)(n - 1));
    if (!json_is_object(inst))
        return;
    json_object_set_new(inst, "status", json_string("failed"));
    json_object_set(inst, "attempts", json_object_get(f, "attempt"));
    json_object_set_new(inst, "last_failure", json_pack("{s:O?,s:O?,s:O?}", "code", json_object_get(f, "code"),
                                                        "message", json_object_get(f, "message"),
                                                        "failed_at", json_object_get(f, "failed_at")));
}

/* data.schedule replaces the plan's schedule; data.refund (or null) joins the
 * refunds and the refunded amount. */
static void fold_schedule_and_refund(json_t *doc, json_t *data)
{
    json_t *sched = json_object_get(data, "schedule");
    json_t *plan = json_object_get(doc, "plan");
    if (json_is_array(sched) && json_is_object(plan))
        json_object_set(plan, "schedule", sched);
    json_t *refund = json_object_get(data, "refund");
    if (!json_is_object(refund))
        return;
    json_t *refunds = json_object_get(doc, "refunds");
    if (!json_is_array(refunds)) {
        refunds = json_array();
        json_object_set_new(doc, "refunds", refunds);
    }
    json_array_append(refunds, refund);
    json_int_t done = json_integer_value(json_object_get(doc, "amount_refunded"));
    json_object_set_new(doc, "amount_refunded", json_integer(done + json_integer_value(json_object_get(refund, "amount"))));
}

/* data.payoff = {"amount", "instalments": [{"instalment", "amount", "fee_waived"}], "paid_at"}. */
static void fold_payoff(json_t *doc, json_t *data)
{
    json_t *p = json_object_get(data, "payoff");
    json_t *sched = json_object_get(json_object_get(doc, "plan"), "schedule");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(p, "instalments"), i, row) {
        json_int_t n = json_integer_value(json_object_get(row, "instalment"));
        json_t *inst = json_array_get(sched, (size_t)(n - 1));
        if (!json_is_object(inst))
            continue;
        json_object_set_new(inst, "status", json_string("paid"));
        json_object_set(inst, "paid_at", json_object_get(p, "paid_at"));
        if (json_integer_value(json_object_get(row, "fee_waived")) > 0)
            json_object_set_new(inst, "fee", json_integer(0));
    }
    json_int_t paid = json_integer_value(json_object_get(doc, "amount_paid"));
    json_object_set_new(doc, "amount_paid", json_integer(paid + json_integer_value(json_object_get(p, "amount"))));
}

/* Every instalment paid and everything shipped: the order is completed. */
static void fold_completed(json_t *doc)
{
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(json_object_get(doc, "plan"), "schedule"), i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (!st || (strcmp(st, "paid") != 0 && strcmp(st, "cancelled") != 0))
            return;   /* cancelled: re-computed away by an edit or a return */
    }
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (status && strcmp(status, "shipped") == 0)
        json_object_set_new(doc, "status", json_string("completed"));
}

/* order.shipped: the shipment joins the document, each line's shipped
 * quantity grows, and the amount and status decided at command time apply. */
static void fold_shipped(json_t *doc, json_t *data)
{
    json_t *shipment = json_object_get(data, "shipment");
    if (!json_is_object(shipment))
        return;
    json_t *shipments = json_object_get(doc, "shipments");
    if (!json_is_array(shipments)) {
        shipments = json_array();
        json_object_set_new(doc, "shipments", shipments);
    }
    json_array_append(shipments, shipment);
    size_t i, j;
    json_t *sl, *line;
    json_array_foreach(json_object_get(shipment, "lines"), i, sl) {
        const char *ref = json_string_value(json_object_get(sl, "reference"));
        json_int_t qty = json_integer_value(json_object_get(sl, "quantity"));
        json_array_foreach(json_object_get(doc, "lines"), j, line) {
            const char *lref = json_string_value(json_object_get(line, "reference"));
            const char *type = json_string_value(json_object_get(line, "type"));
            if (ref && lref && type && strcmp(type, "product") == 0 && strcmp(ref, lref) == 0) {
                json_int_t done = json_integer_value(json_object_get(line, "quantity_shipped"));
                json_object_set_new(line, "quantity_shipped", json_integer(done + qty));
                break;
            }
        }
    }
    json_t *amount = json_object_get(data, "shipped_amount"), *status = json_object_get(data, "status");
    if (json_is_integer(amount))
        json_object_set(doc, "shipped_amount", amount);
    if (json_is_string(status))
        json_object_set(doc, "status", status);
    fold_completed(doc);   /* the last shipment after the last payment */
}

int proj_orders_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strncmp(v->type, "order.", 6) != 0)
        return 0;
    if (strlen(v->aggregate_id) >= CS_ID_BYTES_MAX ||
        (v->merchant_id && strlen(v->merchant_id) >= CS_ID_BYTES_MAX))
        return CS_ECORRUPT;
    json_t *doc = NULL;
    int err = 0;
    if (strcmp(v->type, "order.created") == 0) {
        json_t *order = json_object_get(v->data, "order");
        if (!json_is_object(order))
            return 0;   /* nothing to project; replay skips it the same way */
        doc = json_copy(order);   /* shallow: we only add members to the copy */
        if (!doc)
            return CS_ENOMEM;
        if (v->merchant_id) {
            uint8_t kb[INDEX_KEY_BYTES_MAX];
            MDB_val k = { index_key(kb, v->merchant_id, v->livemode, v->time_us, v->aggregate_id), kb };
            MDB_val empty = { 0, (void *)"" };
            err = store_err(mdb_put(txn, dbi[DBI_ORDERS_BY_MERCHANT], &k, &empty, 0));
        }
    } else {
        if ((err = doc_load(txn, dbi, v->aggregate_id, &doc)) || !doc) {
            json_decref(doc);
            return err;   /* no order to fold into: ignored */
        }
        const char *decision = NULL;
        if (strcmp(v->type, "order.approved") == 0) {
            json_object_set_new(doc, "status", json_string("approved"));
            decision = "approved";
        } else if (strcmp(v->type, "order.rejected") == 0) {
            json_object_set_new(doc, "status", json_string("rejected"));
            hold_set(doc, "released");   /* at once, on rejection */
            decision = "rejected";
        } else if (strcmp(v->type, "order.review_requested") == 0) {
            decision = "review";   /* status stays "pending" */
        } else if (strcmp(v->type, "order.confirmed") == 0) {
            json_object_set_new(doc, "status", json_string("confirmed"));
            copy_string(doc, "confirmed_at", v->data, "confirmed_at");
            copy_string(doc, "customer_id", v->data, "customer_id");
            hold_set(doc, "captured");   /* the first instalment is paid */
            fold_payment(doc, v->data);
        } else if (strcmp(v->type, "order.cancelled") == 0) {
            json_object_set_new(doc, "status", json_string("cancelled"));
            json_t *c = json_pack("{s:O?,s:O?,s:O?}", "reason", json_object_get(v->data, "reason"),
                                  "comment", json_object_get(v->data, "comment"), "cancelled_at",
                                  json_object_get(v->data, "cancelled_at"));
            json_object_set_new(doc, "cancellation", c ? c : json_null());
            const char *hold = json_string_value(json_object_get(json_object_get(v->data, "hold"), "status"));
            if (hold)
                hold_set(doc, hold);
            json_t *refunded = json_object_get(v->data, "amount_refunded");
            json_t *refund = json_object_get(v->data, "refund");
            if (json_is_object(refund)) {
                json_t *refunds = json_object_get(doc, "refunds");
                if (json_is_array(refunds))
                    json_array_append(refunds, refund);
            }
            if (json_is_integer(refunded))
                json_object_set(doc, "amount_refunded", refunded);
        } else if (strcmp(v->type, "order.expired") == 0 || strcmp(v->type, "order.abandoned") == 0) {
            json_object_set_new(doc, "status", json_string(v->type + 6));   /* "expired", "abandoned" */
            hold_set(doc, "released");
        } else if (strcmp(v->type, "order.shipped") == 0) {
            fold_shipped(doc, v->data);
        } else if (strcmp(v->type, "order.cart_updated") == 0) {
            json_t *after = json_object_get(v->data, "after");
            if (json_is_array(json_object_get(after, "lines")))
                json_object_set(doc, "lines", json_object_get(after, "lines"));
            if (json_is_integer(json_object_get(after, "amount")))
                json_object_set(doc, "amount", json_object_get(after, "amount"));
            fold_schedule_and_refund(doc, v->data);
            if (json_is_string(json_object_get(v->data, "status")))
                json_object_set(doc, "status", json_object_get(v->data, "status"));
            fold_completed(doc);
        } else if (strcmp(v->type, "order.returned") == 0) {
            if (json_is_array(json_object_get(v->data, "lines")))
                json_object_set(doc, "lines", json_object_get(v->data, "lines"));
            if (json_is_integer(json_object_get(v->data, "amount_after")))
                json_object_set(doc, "amount", json_object_get(v->data, "amount_after"));
            json_t *returns = json_object_get(doc, "returns");
            if (!json_is_array(returns)) {
                returns = json_array();
                json_object_set_new(doc, "returns", returns);
            }
            if (json_is_object(json_object_get(v->data, "return")))
                json_array_append(returns, json_object_get(v->data, "return"));
            if (json_is_string(json_object_get(v->data, "status")))
                json_object_set(doc, "status", json_object_get(v->data, "status"));
            fold_schedule_and_refund(doc, v->data);
            fold_completed(doc);
        } else if (strcmp(v->type, "order.early_payment") == 0 ||
                   strcmp(v->type, "order.due_day_changed") == 0) {
            json_t *plan = json_object_get(doc, "plan");
            if (json_is_array(json_object_get(v->data, "schedule")) && json_is_object(plan))
                json_object_set(plan, "schedule", json_object_get(v->data, "schedule"));
            json_t *pay = json_object_get(v->data, "payment");
            if (json_is_object(pay))
                json_object_set_new(doc, "amount_paid",
                                    json_integer(json_integer_value(json_object_get(doc, "amount_paid")) +
                                                 json_integer_value(json_object_get(pay, "amount"))));
            fold_completed(doc);
        } else if (strcmp(v->type, "order.paid_off") == 0) {
            fold_payoff(doc, v->data);
            fold_completed(doc);
        } else if (strcmp(v->type, "order.card_changed") == 0) {
            if (json_is_object(json_object_get(v->data, "card")))
                json_object_set(doc, "card", json_object_get(v->data, "card"));
        } else if (strcmp(v->type, "order.instalment_paid") == 0) {
            fold_payment(doc, v->data);
            fold_completed(doc);
        } else if (strcmp(v->type, "order.instalment_failed") == 0) {
            fold_failure(doc, v->data);
        }
        /* Other order.* types are from a newer version: only version and
         * updated move, so the document still tracks its stream. */
        if (decision)
            json_object_set_new(doc, "risk_decision", json_string(decision));
    }
    if (!err) {
        json_object_set_new(doc, "version", json_integer((json_int_t)v->aggregate_version));
        char updated[STORE_TIME_TEXT_BYTES];
        store_time_format(v->time_us, updated);   /* the event's "created", from its time */
        json_object_set_new(doc, "updated", json_string(updated));
        if (strcmp(last_doc.id, v->aggregate_id) != 0)
            err = proj_orders_flush(txn, dbi);   /* another order's document first */
    }
    if (err)
        proj_orders_forget();
    else
        remember(txn, v->aggregate_id, doc);
    json_decref(doc);
    return err;
}

int store_order_get(struct store_txn *t, const char *order_id, MDB_val *doc)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(order_id))
        return CS_ENOENT;
    int err = t->write ? proj_orders_flush(t->txn, t->store->dbi) : 0;
    if (err)
        return store_txn_fail(t, err);
    MDB_val k = { strlen(order_id), (void *)order_id };
    int rc = mdb_get(t->txn, t->store->dbi[DBI_ORDERS], &k, doc);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

/* The cursor position of order `after_id`: its index key, rebuilt from its
 * order.created event (stream version 1), which holds the merchant, the mode
 * and the creation time the index uses. CS_EPARAM if it is not an order of
 * this merchant and mode. */
static int cursor_key(struct store_txn *t, const char *merchant_id, int livemode,
                      const char *after_id, uint8_t *kb, size_t *klen)
{
    if (!store_id_valid(after_id))
        return CS_EPARAM;
    uint8_t sk[CS_ID_BYTES_MAX + 9];
    MDB_val k = { store_stream_key(sk, after_id, 1), sk }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_STREAMS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_EPARAM;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size != 8)
        return store_txn_fail(t, CS_ECORRUPT);
    struct event_view ev;
    int err = store_event_get(t, be64_get(v.mv_data), &ev);
    if (err)
        return err == CS_ENOENT ? store_txn_fail(t, CS_ECORRUPT) : err;
    if (strcmp(ev.type, "order.created") != 0 || !ev.merchant_id ||
        strcmp(ev.merchant_id, merchant_id) != 0 || ev.livemode != !!livemode)
        err = CS_EPARAM;
    else
        *klen = index_key(kb, merchant_id, livemode, ev.time_us, after_id);
    event_view_clear(&ev);
    return err;
}

int store_orders_each(struct store_txn *t, const char *merchant_id, int livemode,
                      const char *after_id,
                      int (*fn)(void *ctx, const char *order_id, const MDB_val *doc), void *ctx)
{
    if (t->err)
        return t->err;
    if (!merchant_id)
        return CS_EPARAM;
    if (!store_id_valid(merchant_id))
        return after_id ? CS_EPARAM : 0;
    size_t m = strlen(merchant_id), prefix = m + 2;
    uint8_t kb[INDEX_KEY_BYTES_MAX];
    size_t klen = 0;
    int err = t->write ? proj_orders_flush(t->txn, t->store->dbi) : 0;
    if (err)
        return store_txn_fail(t, err);
    if (after_id) {
        if ((err = cursor_key(t, merchant_id, livemode, after_id, kb, &klen)))
            return err;
    } else {
        /* Above every key of the prefix: merchant NUL mode FF*8 FF. */
        memcpy(kb, merchant_id, m + 1);
        kb[m + 1] = (uint8_t)mode_byte(livemode);
        memset(kb + prefix, 0xff, 9);
        klen = prefix + 9;
    }
    return store_index_walk_newest(t, DBI_ORDERS_BY_MERCHANT, DBI_ORDERS, kb, klen, prefix, fn, ctx);
}
