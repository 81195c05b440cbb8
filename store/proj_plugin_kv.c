/* The `plugin_kv` projection and the plugins' delivery positions.
 *
 * plugin_kv:      plugin NUL merchant NUL mode key -> the value's compact JSON
 *                 text. Folds plugin.kv_set {"plugin","key","value"} (put) and
 *                 plugin.kv_deleted {"plugin","key"} (delete), both appended
 *                 by core/plugin_effects.c on the aggregate plg_<hash> of the
 *                 plugin, merchant and mode; the event's merchant and mode
 *                 complete the key.
 * plugin_cursors: plugin name -> seq(BE u64), the last event its on_event
 *                 handlers have handled (core/plugin_events.c). Delivery
 *                 state like the webhook outbox: replay does not rebuild it. */
#include <stdlib.h>
#include <string.h>
#include "store/store_internal.h"

#define KV_PLUGIN_BYTES_MAX 64u
#define KV_KEY_BYTES (KV_PLUGIN_BYTES_MAX + 1 + CS_ID_BYTES_MAX + 1 + 1 + STORE_PLUGIN_KV_KEY_BYTES_MAX)

/* plugin NUL merchant NUL mode [key]: returns the length, 0 if a part is out of bounds. */
static size_t kv_key(uint8_t buf[KV_KEY_BYTES], const char *plugin, const char *merchant_id, int livemode,
                     const char *key, size_t klen)
{
    size_t p = plugin ? strlen(plugin) : 0, m = merchant_id ? strlen(merchant_id) : 0;
    if (p == 0 || p > KV_PLUGIN_BYTES_MAX || m == 0 || m >= CS_ID_BYTES_MAX || klen > STORE_PLUGIN_KV_KEY_BYTES_MAX)
        return 0;
    memcpy(buf, plugin, p + 1);
    memcpy(buf + p + 1, merchant_id, m + 1);
    buf[p + m + 2] = (uint8_t)mode_byte(livemode);
    if (klen)
        memcpy(buf + p + m + 3, key, klen);
    return p + m + 3 + klen;
}

int proj_plugin_kv_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    int set = strcmp(v->type, "plugin.kv_set") == 0;
    if (!set && strcmp(v->type, "plugin.kv_deleted") != 0)
        return 0;
    const char *plugin = json_string_value(json_object_get(v->data, "plugin"));
    const char *key = json_string_value(json_object_get(v->data, "key"));
    json_t *value = json_object_get(v->data, "value");
    uint8_t kb[KV_KEY_BYTES];
    size_t klen = key ? strlen(key) : 0;
    size_t n = klen ? kv_key(kb, plugin, v->merchant_id, v->livemode, key, klen) : 0;
    if (!n || (set && !value))
        return 0;   /* nothing to project; replay skips it the same way */
    MDB_val k = { n, kb };
    if (!set) {
        int rc = mdb_del(txn, dbi[DBI_PLUGIN_KV], &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : store_err(rc);
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return CS_ENOMEM;
    MDB_val val = { strlen(text), text };
    int err = store_err(mdb_put(txn, dbi[DBI_PLUGIN_KV], &k, &val, 0));
    free(text);
    return err;
}

/* ---- read side ------------------------------------------------------------------ */

int store_plugin_kv_get(struct store_txn *t, const char *plugin, const char *merchant_id, int livemode,
                        const char *key, MDB_val *value)
{
    if (t->err)
        return t->err;
    uint8_t kb[KV_KEY_BYTES];
    size_t klen = key ? strlen(key) : 0;
    size_t n = klen ? kv_key(kb, plugin, merchant_id, livemode, key, klen) : 0;
    if (!n)
        return CS_ENOENT;
    MDB_val k = { n, kb };
    int rc = mdb_get(t->txn, t->store->dbi[DBI_PLUGIN_KV], &k, value);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

int store_plugin_kv_each(struct store_txn *t, const char *plugin, const char *merchant_id, int livemode,
                         int (*fn)(void *ctx, const char *key, size_t klen, const MDB_val *value), void *ctx)
{
    if (t->err)
        return t->err;
    uint8_t kb[KV_KEY_BYTES];
    size_t prefix = kv_key(kb, plugin, merchant_id, livemode, NULL, 0);
    if (!prefix)
        return 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_PLUGIN_KV], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { prefix, kb }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix || memcmp(k.mv_data, kb, prefix) != 0)
            break;
        char key[STORE_PLUGIN_KV_KEY_BYTES_MAX + 1];
        size_t klen = k.mv_size - prefix;
        if (klen > STORE_PLUGIN_KV_KEY_BYTES_MAX)
            continue;
        memcpy(key, (const uint8_t *)k.mv_data + prefix, klen);
        key[klen] = '\0';
        if (fn(ctx, key, klen, &v))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

/* ---- delivery positions ------------------------------------------------------------ */

int store_plugin_cursor_get(struct store_txn *t, const char *plugin, uint64_t *seq)
{
    if (t->err)
        return t->err;
    size_t n = plugin ? strlen(plugin) : 0;
    if (n == 0 || n > KV_PLUGIN_BYTES_MAX)
        return CS_ENOENT;
    MDB_val k = { n, (void *)plugin }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_PLUGIN_CURSORS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size != 8)
        return store_txn_fail(t, CS_ECORRUPT);
    *seq = be64_get(v.mv_data);
    return 0;
}

int store_plugin_cursor_put(struct store_txn *t, const char *plugin, uint64_t seq)
{
    if (t->err)
        return t->err;
    size_t n = plugin ? strlen(plugin) : 0;
    if (n == 0 || n > KV_PLUGIN_BYTES_MAX)
        return CS_EPARAM;
    uint8_t b[8];
    be64_put(b, seq);
    MDB_val k = { n, (void *)plugin }, v = { 8, b };
    int rc = mdb_put(t->txn, t->store->dbi[DBI_PLUGIN_CURSORS], &k, &v, 0);
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}
