/* The `events_by_merchant` projection: merchant NUL mode seq(BE) -> type.
 * Every event with a merchant is indexed, known type or not. */
#include <string.h>
#include "store/store_internal.h"

/* merchant NUL mode: the prefix of all of one merchant's keys in one mode. */
static size_t merchant_prefix(uint8_t *buf, const char *merchant_id, int livemode)
{
    size_t n = strlen(merchant_id);
    memcpy(buf, merchant_id, n + 1);
    buf[n + 1] = (uint8_t)mode_byte(livemode);
    return n + 2;
}

int proj_events_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (!v->merchant_id)
        return 0;
    if (strlen(v->merchant_id) >= CS_ID_BYTES_MAX)
        return CS_ECORRUPT;
    uint8_t kb[CS_ID_BYTES_MAX + 10];
    size_t n = merchant_prefix(kb, v->merchant_id, v->livemode);
    be64_put(kb + n, v->seq);
    MDB_val k = { n + 8, kb }, val = { strlen(v->type), (void *)v->type };
    return store_err(mdb_put(txn, dbi[DBI_EVENTS_BY_MERCHANT], &k, &val, MDB_NOOVERWRITE));
}

int store_merchant_events_each(struct store_txn *t, const char *merchant_id, int livemode,
                               uint64_t after_seq, int descending, const char *type,
                               int (*fn)(void *ctx, uint64_t seq), void *ctx)
{
    if (t->err)
        return t->err;
    if (!merchant_id)
        return CS_EPARAM;
    if (!store_id_valid(merchant_id))
        return 0;   /* no such merchant, no events */
    if (!descending && after_seq == UINT64_MAX)
        return 0;
    uint8_t kb[CS_ID_BYTES_MAX + 10];
    size_t n = merchant_prefix(kb, merchant_id, livemode);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_EVENTS_BY_MERCHANT], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { n + 8, kb }, v;
    MDB_cursor_op step = descending ? MDB_PREV : MDB_NEXT;
    if (descending) {
        be64_put(kb + n, after_seq ? after_seq : UINT64_MAX);
        rc = store_cursor_below(c, &k, &k, &v);
    } else {
        be64_put(kb + n, after_seq + 1);
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, step)) {
        if (k.mv_size != n + 8 || memcmp(k.mv_data, kb, n) != 0)
            break;
        if (store_type_match(type, v.mv_data, v.mv_size) &&
            fn(ctx, be64_get((const uint8_t *)k.mv_data + n)))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}
