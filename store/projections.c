/* The projection registry: each projection's name, its DBIs (in digest
 * order) and its fold. Append and replay both apply folds through here. */
#include <string.h>
#include "store/store_internal.h"

const struct store_projection store_projections[] = {
    { "streams", { DBI_STREAMS }, 1, proj_streams_fold },
    { "merchants", { DBI_MERCHANTS, DBI_API_KEYS }, 2, proj_merchants_fold },
    { "orders", { DBI_ORDERS, DBI_ORDERS_BY_MERCHANT }, 2, proj_orders_fold },
    { "events_by_merchant", { DBI_EVENTS_BY_MERCHANT }, 1, proj_events_fold },
    { "customers", { DBI_CUSTOMERS, DBI_CUSTOMERS_BY_MERCHANT, DBI_CUSTOMERS_BY_DOCUMENT, DBI_CUSTOMERS_BY_CONTACT }, 4,
      proj_customers_fold },
    { "schedule", { DBI_SCHEDULE, DBI_SCHEDULE_JOBS }, 2, proj_schedule_fold },
    { "test_clocks", { DBI_TEST_CLOCKS }, 1, proj_test_clocks_fold },
    { "portal", { DBI_PORTAL }, 1, proj_portal_fold },
    { "webhook_endpoints", { DBI_WEBHOOK_ENDPOINTS, DBI_WEBHOOK_ENDPOINTS_BY_MERCHANT }, 2,
      proj_webhooks_fold },
    { "objects", { DBI_OBJECTS, DBI_OBJECTS_BY_MERCHANT, DBI_PAYMENTS_BY_CARD, DBI_OBJECT_TOKENS }, 4,
      proj_objects_fold },
    { "ledger", { DBI_LEDGER_TXNS, DBI_LEDGER_ACCOUNTS, DBI_LEDGER_STATE }, 3, proj_ledger_fold },
    { "plugin_kv", { DBI_PLUGIN_KV }, 1, proj_plugin_kv_fold },
};
const unsigned store_projections_n = sizeof store_projections / sizeof store_projections[0];

const struct store_projection *store_projection_find(const char *name)
{
    for (unsigned i = 0; name && i < store_projections_n; i++)
        if (strcmp(store_projections[i].name, name) == 0)
            return &store_projections[i];
    return NULL;
}

int store_projections_apply(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    for (unsigned i = 0; i < store_projections_n; i++) {
        int err = store_projections[i].fold(txn, dbi, v);
        if (err)
            return err;
    }
    return 0;
}

static void sha_u32(mbedtls_sha256_context *c, size_t n)
{
    uint8_t b[4];
    be32_put(b, (uint32_t)n);
    mbedtls_sha256_update_ret(c, b, 4);
}

/* SHA-256 over (u32 klen, key, u32 vlen, value) of every entry of every DBI
 * of the projection, in key order (lengths big-endian). */
int store_projection_digest_raw(MDB_txn *txn, const MDB_dbi *dbi, const struct store_projection *p,
                                uint8_t out[STORE_HASH_BYTES], uint64_t *entries)
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    uint64_t n = 0;
    int rc = 0;
    for (unsigned i = 0; i < p->n_dbis && !rc; i++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, dbi[p->dbis[i]], &cur)))
            break;
        MDB_val k, v;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            sha_u32(&c, k.mv_size);
            mbedtls_sha256_update_ret(&c, k.mv_data, k.mv_size);
            sha_u32(&c, v.mv_size);
            mbedtls_sha256_update_ret(&c, v.mv_data, v.mv_size);
            n++;
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
    if (entries)
        *entries = n;
    return store_err(rc);
}

int store_projection_digest(struct store_txn *t, const char *name, uint8_t out[32])
{
    if (t->err)
        return t->err;
    const struct store_projection *p = store_projection_find(name);
    if (!p)
        return CS_EPARAM;
    int err = t->write ? store_projections_flush(t->txn, t->store->dbi) : 0;
    if (!err)
        err = store_projection_digest_raw(t->txn, t->store->dbi, p, out, NULL);
    return err ? store_txn_fail(t, err) : 0;
}

void store_projections_txn_end(void)
{
    proj_orders_forget();
}

int store_projections_flush(MDB_txn *txn, const MDB_dbi *dbi)
{
    return proj_orders_flush(txn, dbi);
}

int store_index_walk_newest(struct store_txn *t, enum store_dbi index, enum store_dbi docs, const uint8_t *start,
                            size_t start_len, size_t prefix,
                            int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[index], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { start_len, (void *)start }, v;
    for (rc = store_cursor_below(c, &k, &k, &v); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (k.mv_size <= prefix + 8 || k.mv_size - prefix - 8 >= CS_ID_BYTES_MAX ||
            memcmp(k.mv_data, start, prefix) != 0)
            break;
        char id[CS_ID_BYTES_MAX];
        size_t idlen = k.mv_size - prefix - 8;
        memcpy(id, (const uint8_t *)k.mv_data + prefix + 8, idlen);
        id[idlen] = 0;
        MDB_val ik = { idlen, id }, doc;
        if ((rc = mdb_get(t->txn, t->store->dbi[docs], &ik, &doc))) {
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;   /* indexed but absent */
            break;
        }
        if (fn(ctx, id, &doc))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}
