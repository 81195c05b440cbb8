/* The `merchants` projection: merchants (id -> merchant JSON) and api_keys
 * (sha256 hex -> {"merchant","livemode"}). */
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

#define SHA256_HEX_BYTES 64u

static int sha256_hex_valid(const char *s)
{
    if (!s || strlen(s) != SHA256_HEX_BYTES)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Puts key -> compact JSON of doc. */
static int put_json(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, json_t *doc)
{
    char *text = jout_dumps(doc, NULL);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { klen, (void *)key }, v = { strlen(text), text };
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    free(text);
    return store_err(rc);
}

int proj_merchants_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strcmp(v->type, "merchant.created") != 0)
        return 0;
    /* Folds take what is well formed and skip the rest, the same way on
     * append and on replay. */
    json_t *merchant = json_object_get(v->data, "merchant");
    if (json_is_object(merchant)) {
        int err = put_json(txn, dbi[DBI_MERCHANTS], v->aggregate_id, strlen(v->aggregate_id),
                           merchant);
        if (err)
            return err;
    }
    size_t i;
    json_t *key;
    json_array_foreach(json_object_get(v->data, "api_keys"), i, key) {
        const char *sha = json_string_value(json_object_get(key, "sha256"));
        json_t *live = json_object_get(key, "livemode");
        if (!sha256_hex_valid(sha) || !json_is_boolean(live))
            continue;
        json_t *doc = json_pack("{s:s,s:b}", "merchant", v->aggregate_id, "livemode",
                                json_is_true(live));
        if (!doc)
            return CS_ENOMEM;
        int err = put_json(txn, dbi[DBI_API_KEYS], sha, SHA256_HEX_BYTES, doc);
        json_decref(doc);
        if (err)
            return err;
    }
    return 0;
}

int store_merchant_get(struct store_txn *t, const char *merchant_id, MDB_val *doc)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id))
        return CS_ENOENT;
    MDB_val k = { strlen(merchant_id), (void *)merchant_id };
    int rc = mdb_get(t->txn, t->store->dbi[DBI_MERCHANTS], &k, doc);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_api_key_lookup(struct store_txn *t, const char *key_sha256_hex,
                         char merchant_id[CS_ID_BYTES_MAX], int *livemode)
{
    if (t->err)
        return t->err;
    if (!sha256_hex_valid(key_sha256_hex))
        return CS_ENOENT;
    MDB_val k = { SHA256_HEX_BYTES, (void *)key_sha256_hex }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_API_KEYS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    const char *m = json_string_value(json_object_get(doc, "merchant"));
    json_t *live = json_object_get(doc, "livemode");
    int err = 0;
    if (!m || strlen(m) >= CS_ID_BYTES_MAX || !json_is_boolean(live)) {
        err = store_txn_fail(t, CS_ECORRUPT);
    } else {
        memcpy(merchant_id, m, strlen(m) + 1);
        *livemode = json_is_true(live);
    }
    json_decref(doc);
    return err;
}
