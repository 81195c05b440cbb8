/* Idempotency records: merchant NUL mode NUL client key ->
 * [sha256 32][status BE u32][created_us BE u64][response body].
 * Not a projection: responses kept for retries, not rebuilt by replay. */
#include <string.h>
#include "store/store_internal.h"

#define IDEM_HEADER_BYTES (32u + 4u + 8u)

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
