/* Webhooks in the store.
 *
 * The `webhook_endpoints` projection (a pure fold of webhook_endpoint.* events):
 *   webhook_endpoints              id -> endpoint JSON (with the encrypted secrets)
 *   webhook_endpoints_by_merchant  merchant NUL mode id -> [u8 enabled][filters, each NUL-terminated]
 * The index value lets the outbox observer match an event against a merchant's
 * endpoints without parsing any JSON.
 *
 * Not projections (delivery state, kept like idempotency records, not rebuilt
 * by replay and not in its digests):
 *   webhook_outbox    due_us(BE u64) msg_id -> [seq BE u64][attempt BE u32][first_us BE u64][endpoint id]
 *   webhook_attempts  endpoint NUL attempt id -> attempt JSON (the delivery log)
 *   webhook_health    endpoint id -> failing_since_us (BE u64; absent or 0: healthy) */
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

#define WH_INDEX_KEY_BYTES_MAX (2 * CS_ID_BYTES_MAX + 2)
#define WH_OUTBOX_KEY_BYTES_MAX (8 + CS_ID_BYTES_MAX)
#define WH_OUTBOX_VAL_HEAD (8u + 4u + 8u)

static size_t index_key(uint8_t *buf, const char *merchant_id, int livemode, const char *id)
{
    size_t m = strlen(merchant_id), n = id ? strlen(id) : 0;
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    if (n)
        memcpy(buf + m + 2, id, n);
    return m + 2 + n;
}

/* ---- the fold ------------------------------------------------------------------ */

static int put_endpoint(MDB_txn *txn, const MDB_dbi *dbi, const char *id, json_t *doc)
{
    const char *merchant = json_string_value(json_object_get(doc, "merchant"));
    json_t *events = json_object_get(doc, "enabled_events");
    if (!merchant || !store_id_valid(merchant) || !json_is_array(events))
        return 0;   /* not a well-formed endpoint: nothing to project, replay does the same */
    char *text = jout_dumps(doc, NULL);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { strlen(id), (void *)id }, v = { strlen(text), text };
    int rc = mdb_put(txn, dbi[DBI_WEBHOOK_ENDPOINTS], &k, &v, 0);
    free(text);
    if (rc)
        return store_err(rc);
    /* the routing value: enabled flag, then the filters */
    size_t len = 1, i;
    json_t *e;
    json_array_foreach(events, i, e)
        if (json_is_string(e))
            len += strlen(json_string_value(e)) + 1;
    uint8_t *val = malloc(len);
    if (!val)
        return CS_ENOMEM;
    val[0] = json_is_true(json_object_get(doc, "enabled")) ? 1 : 0;
    size_t off = 1;
    json_array_foreach(events, i, e) {
        if (!json_is_string(e))
            continue;
        size_t n = strlen(json_string_value(e)) + 1;
        memcpy(val + off, json_string_value(e), n);
        off += n;
    }
    uint8_t kb[WH_INDEX_KEY_BYTES_MAX];
    int livemode = json_is_true(json_object_get(doc, "livemode"));
    MDB_val ik = { index_key(kb, merchant, livemode, id), kb }, iv = { len, val };
    rc = mdb_put(txn, dbi[DBI_WEBHOOK_ENDPOINTS_BY_MERCHANT], &ik, &iv, 0);
    free(val);
    return store_err(rc);
}

static json_t *get_endpoint(MDB_txn *txn, const MDB_dbi *dbi, const char *id, int *err)
{
    MDB_val k = { strlen(id), (void *)id }, v;
    int rc = mdb_get(txn, dbi[DBI_WEBHOOK_ENDPOINTS], &k, &v);
    *err = 0;
    if (rc == MDB_NOTFOUND)
        return NULL;
    if (rc) {
        *err = store_err(rc);
        return NULL;
    }
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        *err = CS_ECORRUPT;
        return NULL;
    }
    return doc;
}

int proj_webhooks_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strncmp(v->type, "webhook_endpoint.", 17) != 0 || strlen(v->aggregate_id) >= CS_ID_BYTES_MAX)
        return 0;
    const char *what = v->type + 17;
    if (strcmp(what, "created") == 0) {
        json_t *ep = json_object_get(v->data, "endpoint");
        if (!json_is_object(ep))
            return 0;
        return put_endpoint(txn, dbi, v->aggregate_id, ep);
    }
    int err;
    json_t *doc = get_endpoint(txn, dbi, v->aggregate_id, &err);
    if (!doc)
        return err;
    char at[STORE_TIME_TEXT_BYTES];
    store_time_format(v->time_us, at);
    if (strcmp(what, "deleted") == 0) {
        const char *merchant = json_string_value(json_object_get(doc, "merchant"));
        uint8_t kb[WH_INDEX_KEY_BYTES_MAX];
        MDB_val k = { strlen(v->aggregate_id), (void *)v->aggregate_id };
        int rc = mdb_del(txn, dbi[DBI_WEBHOOK_ENDPOINTS], &k, NULL);
        if (!rc && merchant && store_id_valid(merchant)) {
            MDB_val ik = { index_key(kb, merchant, json_is_true(json_object_get(doc, "livemode")),
                                     v->aggregate_id), kb };
            rc = mdb_del(txn, dbi[DBI_WEBHOOK_ENDPOINTS_BY_MERCHANT], &ik, NULL);
        }
        json_decref(doc);
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
    }
    if (strcmp(what, "updated") == 0) {
        json_t *changes = json_object_get(v->data, "changes");
        const char *key;
        json_t *val;
        json_object_foreach(changes, key, val)
            json_object_set(doc, key, val);
        if (json_is_true(json_object_get(changes, "enabled")))
            json_object_set_new(doc, "disabled_reason", json_null());
    } else if (strcmp(what, "secret_rotated") == 0) {
        json_object_set(doc, "secret", json_object_get(v->data, "secret"));
        json_object_set(doc, "previous_secret", json_object_get(v->data, "previous_secret"));
    } else if (strcmp(what, "disabled") == 0) {
        json_object_set_new(doc, "enabled", json_false());
        json_object_set(doc, "disabled_reason", json_object_get(v->data, "reason"));
    } else {
        json_decref(doc);
        return 0;
    }
    json_object_set_new(doc, "updated", json_string(at));
    err = put_endpoint(txn, dbi, v->aggregate_id, doc);
    json_decref(doc);
    return err;
}

/* ---- read side ----------------------------------------------------------------- */

int store_webhook_endpoint_get(struct store_txn *t, const char *id, MDB_val *doc)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(id))
        return CS_ENOENT;
    MDB_val k = { strlen(id), (void *)id };
    int rc = mdb_get(t->txn, t->store->dbi[DBI_WEBHOOK_ENDPOINTS], &k, doc);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_webhook_routes_each(struct store_txn *t, const char *merchant_id, int livemode,
                              const char *after_id,
                              int (*fn)(void *ctx, const char *endpoint_id, int enabled,
                                        const char *filters, size_t filters_len),
                              void *ctx)
{
    if (t->err)
        return t->err;
    if (!merchant_id || !store_id_valid(merchant_id) || (after_id && !store_id_valid(after_id)))
        return 0;
    uint8_t kb[WH_INDEX_KEY_BYTES_MAX];
    size_t prefix = index_key(kb, merchant_id, livemode, NULL);
    size_t klen = after_id ? index_key(kb, merchant_id, livemode, after_id) : prefix;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_WEBHOOK_ENDPOINTS_BY_MERCHANT], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { klen, kb }, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && after_id && k.mv_size == klen && memcmp(k.mv_data, kb, klen) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix || k.mv_size - prefix >= CS_ID_BYTES_MAX ||
            memcmp(k.mv_data, kb, prefix) != 0)
            break;
        if (v.mv_size < 1) {
            rc = MDB_CORRUPTED;
            break;
        }
        char id[CS_ID_BYTES_MAX];
        memcpy(id, (const uint8_t *)k.mv_data + prefix, k.mv_size - prefix);
        id[k.mv_size - prefix] = 0;
        const uint8_t *val = v.mv_data;
        if (fn(ctx, id, val[0], (const char *)val + 1, v.mv_size - 1))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

/* ---- the outbox ---------------------------------------------------------------- */

static int outbox_key(uint8_t *buf, int64_t due_us, const char *msg_id, MDB_val *k)
{
    if (!store_id_valid(msg_id) || due_us < 0)
        return CS_EPARAM;
    size_t n = strlen(msg_id);
    be64_put(buf, (uint64_t)due_us);
    memcpy(buf + 8, msg_id, n);
    k->mv_size = 8 + n;
    k->mv_data = buf;
    return 0;
}

int store_webhook_outbox_put(struct store_txn *t, const struct webhook_outbox_row *r)
{
    if (t->err)
        return t->err;
    if (!t->write || !store_id_valid(r->endpoint_id))
        return CS_EPARAM;
    uint8_t kb[WH_OUTBOX_KEY_BYTES_MAX], vb[WH_OUTBOX_VAL_HEAD + CS_ID_BYTES_MAX];
    MDB_val k, v;
    int err = outbox_key(kb, r->due_us, r->msg_id, &k);
    if (err)
        return err;
    size_t n = strlen(r->endpoint_id);
    be64_put(vb, r->seq);
    be32_put(vb + 8, r->attempt);
    be64_put(vb + 12, (uint64_t)r->first_us);
    memcpy(vb + WH_OUTBOX_VAL_HEAD, r->endpoint_id, n);
    v.mv_size = WH_OUTBOX_VAL_HEAD + n;
    v.mv_data = vb;
    int rc = mdb_put(t->txn, t->store->dbi[DBI_WEBHOOK_OUTBOX], &k, &v, 0);
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_webhook_outbox_delete(struct store_txn *t, int64_t due_us, const char *msg_id)
{
    if (t->err)
        return t->err;
    uint8_t kb[WH_OUTBOX_KEY_BYTES_MAX];
    MDB_val k;
    int err = outbox_key(kb, due_us, msg_id, &k);
    if (err)
        return err;
    int rc = mdb_del(t->txn, t->store->dbi[DBI_WEBHOOK_OUTBOX], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_webhook_outbox_each(struct store_txn *t,
                              int (*fn)(void *ctx, const struct webhook_outbox_row *r), void *ctx)
{
    if (t->err)
        return t->err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_WEBHOOK_OUTBOX], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= 8 || k.mv_size - 8 >= CS_ID_BYTES_MAX || v.mv_size <= WH_OUTBOX_VAL_HEAD ||
            v.mv_size - WH_OUTBOX_VAL_HEAD >= CS_ID_BYTES_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        struct webhook_outbox_row r;
        const uint8_t *kp = k.mv_data, *vp = v.mv_data;
        r.due_us = (int64_t)be64_get(kp);
        memcpy(r.msg_id, kp + 8, k.mv_size - 8);
        r.msg_id[k.mv_size - 8] = 0;
        r.seq = be64_get(vp);
        r.attempt = be32_get(vp + 8);
        r.first_us = (int64_t)be64_get(vp + 12);
        memcpy(r.endpoint_id, vp + WH_OUTBOX_VAL_HEAD, v.mv_size - WH_OUTBOX_VAL_HEAD);
        r.endpoint_id[v.mv_size - WH_OUTBOX_VAL_HEAD] = 0;
        if (fn(ctx, &r))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

/* ---- the delivery log ---------------------------------------------------------- */

int store_webhook_attempt_put(struct store_txn *t, const char *endpoint_id, const char *attempt_id,
                              const char *json, size_t len)
{
    if (t->err)
        return t->err;
    if (!t->write || !store_id_valid(endpoint_id) || !store_id_valid(attempt_id))
        return CS_EPARAM;
    uint8_t kb[WH_INDEX_KEY_BYTES_MAX];
    size_t e = strlen(endpoint_id), a = strlen(attempt_id);
    memcpy(kb, endpoint_id, e + 1);
    memcpy(kb + e + 1, attempt_id, a);
    MDB_val k = { e + 1 + a, kb }, v = { len, (void *)json };
    int rc = mdb_put(t->txn, t->store->dbi[DBI_WEBHOOK_ATTEMPTS], &k, &v, 0);
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_webhook_attempts_each(struct store_txn *t, const char *endpoint_id, const char *before_id,
                                int (*fn)(void *ctx, const char *attempt_id, const MDB_val *doc),
                                void *ctx)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(endpoint_id) || (before_id && !store_id_valid(before_id)))
        return before_id ? CS_EPARAM : 0;
    uint8_t kb[WH_INDEX_KEY_BYTES_MAX];
    size_t e = strlen(endpoint_id), prefix = e + 1, klen;
    memcpy(kb, endpoint_id, e + 1);
    if (before_id) {
        size_t a = strlen(before_id);
        memcpy(kb + prefix, before_id, a);
        klen = prefix + a;
    } else {
        kb[prefix] = 0xff;   /* above every id character */
        klen = prefix + 1;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_WEBHOOK_ATTEMPTS], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { klen, kb }, v;
    for (rc = store_cursor_below(c, &k, &k, &v); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (k.mv_size <= prefix || k.mv_size - prefix >= CS_ID_BYTES_MAX || memcmp(k.mv_data, kb, prefix) != 0)
            break;
        char id[CS_ID_BYTES_MAX];
        memcpy(id, (const uint8_t *)k.mv_data + prefix, k.mv_size - prefix);
        id[k.mv_size - prefix] = 0;
        if (fn(ctx, id, &v))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

/* ---- endpoint health ----------------------------------------------------------- */

int store_webhook_health_get(struct store_txn *t, const char *endpoint_id, int64_t *failing_since_us)
{
    *failing_since_us = 0;
    if (t->err)
        return t->err;
    if (!store_id_valid(endpoint_id))
        return CS_EPARAM;
    MDB_val k = { strlen(endpoint_id), (void *)endpoint_id }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_WEBHOOK_HEALTH], &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size != 8)
        return store_txn_fail(t, CS_ECORRUPT);
    *failing_since_us = (int64_t)be64_get(v.mv_data);
    return 0;
}

int store_webhook_health_put(struct store_txn *t, const char *endpoint_id, int64_t failing_since_us)
{
    if (t->err)
        return t->err;
    if (!t->write || !store_id_valid(endpoint_id))
        return CS_EPARAM;
    uint8_t vb[8];
    be64_put(vb, (uint64_t)failing_since_us);
    MDB_val k = { strlen(endpoint_id), (void *)endpoint_id }, v = { 8, vb };
    int rc = mdb_put(t->txn, t->store->dbi[DBI_WEBHOOK_HEALTH], &k, &v, 0);
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

/* ---- the append observer --------------------------------------------------------- */

void store_set_append_observer(struct store *s, store_append_observer_fn fn, void *ctx)
{
    s->observer = fn;
    s->observer_ctx = ctx;
}
