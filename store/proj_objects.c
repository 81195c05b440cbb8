/* The `objects` projection: payments, refunds, disputes, payment links and
 * risk settings. Their events carry the object as it is after the event in
 * data.object (docs/events.md "Objects"), so this fold stores it as it is;
 * what an event decides for another object (a refund moves its payment's
 * amount_refunded) comes as data.related = [{"id", "set": {field: value}}],
 * values decided by the command, merged here field by field.
 *
 * objects:             id -> document
 * objects_by_merchant: merchant NUL mode kind NUL created_us(BE) id -> ""
 * payments_by_card:    merchant NUL mode fingerprint NUL created_us(BE) id -> "" (the
 *                      payment's created_us, from its document)
 * object_tokens:       data.token_sha256 (hex) -> id (payment links' URLs) */
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

static const char *const kinds[] = {"payment", "refund", "dispute", "payment_link", "risk_settings",
                                     "bank_account", "payout", "payout_schedule", "disbursement",
                                     "disbursement_schedule", "terminal", NULL};

/* The kind of an event type ("refund.sent" -> "refund"), or NULL. */
static const char *kind_of(const char *type, size_t *len)
{
    for (const char *const *k = kinds; *k; k++) {
        size_t n = strlen(*k);
        if (strncmp(type, *k, n) == 0 && type[n] == '.') {
            *len = n;
            return *k;
        }
    }
    return NULL;
}

/* merchant NUL mode kind NUL: the list prefix. */
static size_t list_prefix(uint8_t *buf, const char *merchant_id, int livemode, const char *kind)
{
    size_t m = strlen(merchant_id), k = strlen(kind);
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    memcpy(buf + m + 2, kind, k + 1);
    return m + 3 + k;
}
#define LIST_KEY_BYTES_MAX (2 * CS_ID_BYTES_MAX + 96)

static int put_text(MDB_txn *txn, MDB_dbi db, const char *id, json_t *doc)
{
    char *text = jout_dumps(doc, NULL);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { strlen(id), (void *)id }, val = { strlen(text), text };
    int err = store_err(mdb_put(txn, db, &k, &val, 0));
    free(text);
    return err;
}

static int index_put(MDB_txn *txn, MDB_dbi db, const uint8_t *prefix, size_t plen, int64_t time_us,
                     const char *id)
{
    uint8_t kb[LIST_KEY_BYTES_MAX];
    size_t n = strlen(id);
    if (plen + 8 + n > sizeof kb)
        return CS_ECORRUPT;
    memcpy(kb, prefix, plen);
    be64_put(kb + plen, (uint64_t)time_us);
    memcpy(kb + plen + 8, id, n);
    MDB_val k = { plen + 8 + n, kb }, v = { 0, "" };
    return store_err(mdb_put(txn, db, &k, &v, 0));
}

/* data.related: fields that this event decided for other objects. */
static int apply_related(MDB_txn *txn, const MDB_dbi *dbi, json_t *related)
{
    size_t i;
    json_t *r;
    json_array_foreach(related, i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        json_t *set = json_object_get(r, "set");
        if (!id || !store_id_valid(id) || !json_is_object(set))
            continue;
        MDB_val k = { strlen(id), (void *)id }, v;
        int rc = mdb_get(txn, dbi[DBI_OBJECTS], &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return store_err(rc);
        json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return CS_ECORRUPT;
        }
        json_object_update(doc, set);
        int err = put_text(txn, dbi[DBI_OBJECTS], id, doc);
        json_decref(doc);
        if (err)
            return err;
    }
    return 0;
}

int proj_objects_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    size_t klen = 0;
    const char *kind = kind_of(v->type, &klen);
    json_t *obj = json_object_get(v->data, "object");
    if (!kind || !json_is_object(obj) || !v->merchant_id || !store_id_valid(v->aggregate_id) ||
        !store_id_valid(v->merchant_id))
        return 0;
    int err = put_text(txn, dbi[DBI_OBJECTS], v->aggregate_id, obj);
    uint8_t pb[LIST_KEY_BYTES_MAX];
    if (!err && v->aggregate_version == 1) {
        size_t plen = list_prefix(pb, v->merchant_id, v->livemode, kind);
        err = index_put(txn, dbi[DBI_OBJECTS_BY_MERCHANT], pb, plen, v->time_us, v->aggregate_id);
    }
    /* A payment joins its card's index once it has a card: at creation, or
     * later for a payment link's payment. The key holds the payment's
     * creation time, so putting it again at each event changes nothing. */
    const char *fp = json_string_value(json_object_get(json_object_get(obj, "card"), "fingerprint"));
    json_t *created = json_object_get(obj, "created_us");
    if (!err && strcmp(kind, "payment") == 0 && fp && strlen(fp) < 80) {
        size_t plen = list_prefix(pb, v->merchant_id, v->livemode, fp);
        err = index_put(txn, dbi[DBI_PAYMENTS_BY_CARD], pb, plen,
                        json_is_integer(created) ? json_integer_value(created) : v->time_us, v->aggregate_id);
    }
    const char *token = json_string_value(json_object_get(v->data, "token_sha256"));
    if (!err && token && *token) {
        MDB_val k = { strlen(token), (void *)token }, val = { strlen(v->aggregate_id), (void *)v->aggregate_id };
        err = store_err(mdb_put(txn, dbi[DBI_OBJECT_TOKENS], &k, &val, 0));
    }
    json_t *related = json_object_get(v->data, "related");
    if (!err && json_is_array(related))
        err = apply_related(txn, dbi, related);
    return err;
}

/* ---- read side ------------------------------------------------------------------ */

int store_object_get(struct store_txn *t, const char *id, MDB_val *doc)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(id))
        return CS_ENOENT;
    MDB_val k = { strlen(id), (void *)id };
    int rc = mdb_get(t->txn, t->store->dbi[DBI_OBJECTS], &k, doc);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_object_by_token(struct store_txn *t, const char *token_sha256_hex, char id[CS_ID_BYTES_MAX])
{
    if (t->err)
        return t->err;
    MDB_val k = { strlen(token_sha256_hex), (void *)token_sha256_hex }, v;
    if (k.mv_size == 0 || k.mv_size > 128)
        return CS_ENOENT;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_OBJECT_TOKENS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size == 0 || v.mv_size >= CS_ID_BYTES_MAX)
        return store_txn_fail(t, CS_ECORRUPT);
    memcpy(id, v.mv_data, v.mv_size);
    id[v.mv_size] = 0;
    return 0;
}

/* The creation time of object `id` (its stream's first event), checking that
 * it is of this merchant, mode and kind: CS_EPARAM otherwise. */
static int created_of(struct store_txn *t, const char *merchant_id, int livemode, const char *kind,
                      const char *id, int64_t *time_us)
{
    if (!store_id_valid(id))
        return CS_EPARAM;
    uint8_t sk[CS_ID_BYTES_MAX + 9];
    MDB_val k = { store_stream_key(sk, id, 1), sk }, v;
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
    size_t klen = 0;
    const char *k2 = kind_of(ev.type, &klen);
    if (!k2 || strcmp(k2, kind) != 0 || !ev.merchant_id || strcmp(ev.merchant_id, merchant_id) != 0 ||
        ev.livemode != !!livemode)
        err = CS_EPARAM;
    else
        *time_us = ev.time_us;
    event_view_clear(&ev);
    return err;
}

int store_objects_each(struct store_txn *t, const char *merchant_id, int livemode, const char *kind,
                       const char *after_id, int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx)
{
    if (t->err)
        return t->err;
    if (!merchant_id || !kind || strlen(kind) > 32)
        return CS_EPARAM;
    if (!store_id_valid(merchant_id))
        return after_id ? CS_EPARAM : 0;
    uint8_t kb[LIST_KEY_BYTES_MAX];
    size_t prefix = list_prefix(kb, merchant_id, livemode, kind), klen;
    if (after_id) {
        int64_t created = 0;
        int err = created_of(t, merchant_id, livemode, kind, after_id, &created);
        if (err)
            return err;
        size_t n = strlen(after_id);
        be64_put(kb + prefix, (uint64_t)created);
        memcpy(kb + prefix + 8, after_id, n);
        klen = prefix + 8 + n;
    } else {
        memset(kb + prefix, 0xff, 9);
        klen = prefix + 9;
    }
    return store_index_walk_newest(t, DBI_OBJECTS_BY_MERCHANT, DBI_OBJECTS, kb, klen, prefix, fn, ctx);
}

int store_card_payments_each(struct store_txn *t, const char *merchant_id, int livemode, const char *fingerprint,
                             int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx)
{
    if (t->err)
        return t->err;
    if (!merchant_id || !store_id_valid(merchant_id) || !fingerprint || strlen(fingerprint) >= 80)
        return 0;
    uint8_t kb[LIST_KEY_BYTES_MAX];
    size_t prefix = list_prefix(kb, merchant_id, livemode, fingerprint);
    memset(kb + prefix, 0xff, 9);
    return store_index_walk_newest(t, DBI_PAYMENTS_BY_CARD, DBI_OBJECTS, kb, prefix + 9, prefix, fn, ctx);
}
