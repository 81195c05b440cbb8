/* The e-mail outbox: a plain table of messages waiting for the spooler. Not a
 * projection (replay never sends mail): rows are written beside the event
 * that sends them, in the same write transaction, and deleted once spooled. */
#include <string.h>
#include "store/store_internal.h"

int store_mail_put(struct store_txn *t, const char *key, const char *msg, size_t len)
{
    if (t->err)
        return t->err;
    MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)msg };
    if (k.mv_size == 0 || k.mv_size > STORE_KEY_BYTES_MAX)
        return CS_EPARAM;
    int rc = mdb_put(t->txn, t->store->dbi[DBI_MAIL_OUTBOX], &k, &v, 0);
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_mail_each(struct store_txn *t, int (*fn)(void *ctx, const char *key, size_t klen,
                                                   const char *msg, size_t len), void *ctx)
{
    if (t->err)
        return t->err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_MAIL_OUTBOX], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

int store_mail_del(struct store_txn *t, const char *key, size_t klen)
{
    if (t->err)
        return t->err;
    MDB_val k = { klen, (void *)key };
    int rc = mdb_del(t->txn, t->store->dbi[DBI_MAIL_OUTBOX], &k, NULL);
    return rc && rc != MDB_NOTFOUND ? store_txn_fail(t, store_err(rc)) : 0;
}
