/* The `streams` projection: aggregate id NUL version(BE u64) -> seq(BE u64).
 * It is what expected-version checks read. */
#include <string.h>
#include "store/store_internal.h"

size_t store_stream_key(uint8_t *buf, const char *aggregate_id, uint64_t version)
{
    size_t n = strlen(aggregate_id);
    memcpy(buf, aggregate_id, n + 1);   /* with its NUL: the separator */
    be64_put(buf + n + 1, version);
    return n + 9;
}

int proj_streams_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    uint8_t kb[CS_ID_BYTES_MAX + 9], vb[8];
    if (strlen(v->aggregate_id) >= CS_ID_BYTES_MAX)
        return CS_ECORRUPT;   /* the append path validated it: the log is damaged */
    MDB_val k = { store_stream_key(kb, v->aggregate_id, v->aggregate_version), kb };
    MDB_val val = { 8, vb };
    be64_put(vb, v->seq);
    /* A version is written once; a second write means the log and the
     * projection disagree (MDB_KEYEXIST -> CS_ECORRUPT). */
    return store_err(mdb_put(txn, dbi[DBI_STREAMS], &k, &val, MDB_NOOVERWRITE));
}

int store_stream_version_raw(MDB_txn *txn, MDB_dbi streams, const char *aggregate_id,
                             uint64_t *version)
{
    *version = 0;
    size_t n = strlen(aggregate_id);
    if (n >= CS_ID_BYTES_MAX)
        return 0;   /* no such stream can exist */
    /* The last entry below "id NUL FF..FF" is the stream's highest version. */
    uint8_t kb[CS_ID_BYTES_MAX + 9];
    MDB_val bound = { store_stream_key(kb, aggregate_id, UINT64_MAX), kb }, k, v;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, streams, &c);
    if (rc)
        return store_err(rc);
    rc = store_cursor_below(c, &bound, &k, &v);
    if (rc == 0 && k.mv_size == n + 9 && memcmp(k.mv_data, kb, n + 1) == 0)
        *version = be64_get((const uint8_t *)k.mv_data + n + 1);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int store_stream_version(struct store_txn *t, const char *aggregate_id, uint64_t *version)
{
    *version = 0;
    if (t->err)
        return t->err;
    if (!aggregate_id)
        return CS_EPARAM;
    int err = store_stream_version_raw(t->txn, t->store->dbi[DBI_STREAMS], aggregate_id, version);
    return err ? store_txn_fail(t, err) : 0;
}

int store_stream_each(struct store_txn *t, const char *aggregate_id,
                      int (*fn)(void *ctx, uint64_t version, uint64_t seq), void *ctx)
{
    if (t->err)
        return t->err;
    if (!aggregate_id)
        return CS_EPARAM;
    size_t n = strlen(aggregate_id);
    if (n >= CS_ID_BYTES_MAX)
        return 0;
    uint8_t kb[CS_ID_BYTES_MAX + 9];
    MDB_val k = { store_stream_key(kb, aggregate_id, 0), kb }, v;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_STREAMS], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != n + 9 || memcmp(k.mv_data, kb, n + 1) != 0)
            break;
        if (v.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (fn(ctx, be64_get((const uint8_t *)k.mv_data + n + 1), be64_get(v.mv_data)))
            break;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND || rc == 0)
        return 0;
    return store_txn_fail(t, store_err(rc));
}
