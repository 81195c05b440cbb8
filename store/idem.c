/* Idempotency records: merchant NUL mode NUL client key ->
 * [sha256 32][status BE u32][created_us BE u64][response body].
 * Not a projection: responses kept for retries, not rebuilt by replay. */
#include <string.h>
#include "store/store_internal.h"

#define IDEM_HEADER_BYTES (32u + 4u + 8u)
_Static_assert(sizeof(((struct idem_sweep *)0)->key) > STORE_KEY_BYTES_MAX, "a sweep holds any key");

static int idem_key(uint8_t *buf, const char *merchant_id, int livemode, const char *key,
                    MDB_val *out)
{
    if (!store_id_valid(merchant_id) || !key)
        return CS_EPARAM;
    size_t m = strlen(merchant_id), n = strlen(key);
    if (n == 0 || n > CS_IDEMPOTENCY_KEY_BYTES_MAX)
        return CS_EPARAM;
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    buf[m + 2] = 0;
    memcpy(buf + m + 3, key, n);
    out->mv_size = m + 3 + n;
    out->mv_data = buf;
    return 0;
}

int store_idem_get(struct store_txn *t, const char *merchant_id, int livemode, const char *key,
                   int64_t now_us, int64_t ttl_us, struct idem_record *rec)
{
    if (t->err)
        return t->err;
    uint8_t kb[STORE_KEY_BYTES_MAX];
    MDB_val k, v;
    int err = idem_key(kb, merchant_id, livemode, key, &k);
    if (err)
        return err;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_IDEMPOTENCY], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size < IDEM_HEADER_BYTES)
        return store_txn_fail(t, CS_ECORRUPT);
    const uint8_t *p = v.mv_data;
    int64_t created = (int64_t)be64_get(p + 36);
    if (now_us - created > ttl_us)
        return CS_ENOENT;   /* expired: as if never stored */
    memcpy(rec->request_sha256, p, 32);
    rec->status = (int)be32_get(p + 32);
    rec->created_us = created;
    rec->body = (const char *)p + IDEM_HEADER_BYTES;
    rec->body_len = v.mv_size - IDEM_HEADER_BYTES;
    return 0;
}

int store_idem_put(struct store_txn *t, const char *merchant_id, int livemode, const char *key,
                   const struct idem_record *rec)
{
    if (t->err)
        return t->err;
    if (!t->write || !rec || (rec->body_len && !rec->body))
        return CS_EPARAM;
    uint8_t kb[STORE_KEY_BYTES_MAX];
    MDB_val k, v;
    int err = idem_key(kb, merchant_id, livemode, key, &k);
    if (err)
        return err;
    /* MDB_RESERVE: LMDB hands us the space and we fill it in place. */
    v.mv_size = IDEM_HEADER_BYTES + rec->body_len;
    int rc = mdb_put(t->txn, t->store->dbi[DBI_IDEMPOTENCY], &k, &v, MDB_RESERVE);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    uint8_t *p = v.mv_data;
    memcpy(p, rec->request_sha256, 32);
    be32_put(p + 32, (uint32_t)rec->status);
    be64_put(p + 36, (uint64_t)rec->created_us);
    if (rec->body_len)
        memcpy(p + IDEM_HEADER_BYTES, rec->body, rec->body_len);
    return 0;
}

/* The time a record's merchant and mode live in: the wall clock, moved by the
 * merchant's test clock in test mode (it only moves forward, so a record is
 * never purged while store_idem_get would still return it). The sweep meets
 * each merchant's records together: one lookup a merchant and mode. */
struct clock_memo {
    char merchant[CS_ID_BYTES_MAX];
    char mode;
    int64_t now_us;
};

static int record_now(struct store_txn *t, const uint8_t *key, size_t len, int64_t wall_us,
                      struct clock_memo *m, int64_t *now_us)
{
    const uint8_t *nul = memchr(key, 0, len);
    size_t mlen = nul ? (size_t)(nul - key) : len;
    if (!nul || mlen >= sizeof m->merchant || mlen + 2 >= len || key[mlen + 2] != 0)
        return CS_ECORRUPT;
    char mode = (char)key[mlen + 1];
    if (mode != mode_byte(0) && mode != mode_byte(1))
        return CS_ECORRUPT;
    if (m->mode != mode || strncmp(m->merchant, (const char *)key, mlen) != 0 || m->merchant[mlen] != 0) {
        memcpy(m->merchant, key, mlen);
        m->merchant[mlen] = 0;
        m->mode = mode;
        int64_t off = 0;
        int err = mode == mode_byte(1) ? 0 : store_test_clock_offset(t, m->merchant, 0, &off);
        if (err)
            return err;
        m->now_us = wall_us + off;
    }
    *now_us = m->now_us;
    return 0;
}

int store_idem_purge(struct store_txn *t, int64_t now_us, int64_t ttl_us, unsigned max,
                     struct idem_sweep *sw)
{
    if (t->err)
        return t->err;
    if (!t->write || !sw || max == 0 || ttl_us < 0)
        return CS_EPARAM;
    if (sw->done)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_IDEMPOTENCY], &cur);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    struct clock_memo memo = {{0}, 0, 0};
    MDB_val k = {sw->key_len, sw->key}, v;
    rc = sw->started ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    /* Resuming lands on the last record visited if it was kept: not again. */
    if (rc == 0 && sw->started && k.mv_size == sw->key_len && memcmp(k.mv_data, sw->key, k.mv_size) == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    int err = 0;
    for (unsigned n = 0; rc == 0 && n < max; n++) {
        if (k.mv_size > sizeof sw->key || v.mv_size < IDEM_HEADER_BYTES) {
            err = CS_ECORRUPT;
            break;
        }
        memcpy(sw->key, k.mv_data, k.mv_size);   /* k points into a page the delete may move */
        sw->key_len = k.mv_size;
        sw->started = 1;
        sw->visited++;
        int64_t created = (int64_t)be64_get((const uint8_t *)v.mv_data + 36), now;
        if ((err = record_now(t, sw->key, sw->key_len, now_us, &memo, &now)))
            break;
        if (now - created > ttl_us) {
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
            sw->purged++;
            /* From the deleted key's place: the first key after it. */
            k.mv_size = sw->key_len;
            k.mv_data = sw->key;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        } else {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    mdb_cursor_close(cur);
    if (err)
        return store_txn_fail(t, err);
    if (rc == MDB_NOTFOUND) {
        sw->done = 1;
        return 0;
    }
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}
