/* A plugin call's own state, committed through the writer: its KV writes as
 * events and its on_event position (core/plugin_effects.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/crypto.h"
#include "core/ids.h"
#include "core/plugin_effects.h"
#include "core/scheduler.h"
#include "core/writer.h"
#include "lua/plugin.h"

struct effects_cmd {
    struct write_cmd base;
    char plugin[PLUGIN_NAME_BYTES_MAX + 1];
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char actor[64];
    char aggregate[CS_ID_BYTES_MAX];
    int64_t now_us;
    json_t *writes;               /* a copy owned by the command: [{key, value?}] */
    int64_t cursor_seq;             /* < 0: no position to record */
    void (*done)(void *ctx, int err, const struct cs_diag *d);
    void *ctx;
};

void plugin_actor(const char *plugin, char out[64])
{
    snprintf(out, 64, "plugin:%.56s", plugin);
}

void plugin_kv_aggregate(const char *plugin, const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX])
{
    /* shaped like every other id ("<prefix>_" + 26 Crockford base32
     * characters), from 130 bits of the hash rather than a clock */
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    char buf[PLUGIN_NAME_BYTES_MAX + CS_ID_BYTES_MAX + 4];
    int n = snprintf(buf, sizeof buf, "%s%c%s%c%c", plugin, 0, merchant_id, 0, livemode ? 'l' : 't');
    uint8_t h[32];
    crypto_sha256(buf, (size_t)n, h);
    memcpy(out, "plg_", 4);
    for (int i = 0; i < ID_BODY_CHARS; i++) {
        int bit = i * 5, v = 0;
        for (int k = 0; k < 5; k++, bit++)
            v = v << 1 | (h[bit / 8] >> (7 - bit % 8) & 1);
        out[4 + i] = b32[v];
    }
    out[4 + ID_BODY_CHARS] = '\0';
}

/* Appends one KV event unless it changes nothing. */
static int apply_write(struct store_txn *t, struct effects_cmd *c, json_t *w)
{
    const char *key = json_string_value(json_object_get(w, "key"));
    json_t *value = json_object_get(w, "value");
    MDB_val cur;
    int rc = store_plugin_kv_get(t, c->plugin, c->merchant_id, c->livemode, key, &cur);
    if (rc && rc != CS_ENOENT)
        return rc;
    int exists = rc == 0;
    json_t *data;
    const char *type;
    if (value) {
        char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return CS_ENOMEM;
        int same = exists && cur.mv_size == strlen(text) && memcmp(cur.mv_data, text, cur.mv_size) == 0;
        free(text);
        if (same)
            return 0;
        type = "plugin.kv_set";
        data = json_pack("{s:s,s:s,s:O}", "plugin", c->plugin, "key", key, "value", value);
    } else {
        if (!exists)
            return 0;
        type = "plugin.kv_deleted";
        data = json_pack("{s:s,s:s}", "plugin", c->plugin, "key", key);
    }
    if (!data)
        return CS_ENOMEM;
    char evt_id[CS_ID_BYTES_MAX];
    if (id_new("evt", c->now_us, evt_id, sizeof evt_id) != 0) {
        json_decref(data);
        return CS_EINTERNAL;
    }
    struct event_in ev = {.id = evt_id, .type = type, .aggregate_id = c->aggregate,
                          .expected_version = STORE_VERSION_ANY, .merchant_id = c->merchant_id,
                          .livemode = c->livemode, .actor = c->actor, .time_us = c->now_us, .data = data};
    rc = store_event_append(t, &ev, NULL);
    json_decref(data);
    if (rc == 0)
        c->base.events++;
    return rc;
}

/* Writer thread, inside the batch's transaction. Every write was validated by
 * the plugin runtime; what can fail here is the store, which fails the whole
 * transaction (sticky), so nothing is half-written. */
static int exec_effects(struct store_txn *t, struct write_cmd *wc)
{
    struct effects_cmd *c = (struct effects_cmd *)wc;
    size_t i;
    json_t *w;
    json_array_foreach(c->writes, i, w) {
        int rc = apply_write(t, c, w);
        if (rc)
            return write_cmd_fail(wc, rc);
    }
    if (c->cursor_seq >= 0) {
        int rc = store_plugin_cursor_put(t, c->plugin, (uint64_t)c->cursor_seq);
        if (rc)
            return write_cmd_fail(wc, rc);
    }
    return write_cmd_reply(wc, 200, "{}", 2);
}

static void release_effects(struct write_cmd *wc)
{
    struct effects_cmd *c = (struct effects_cmd *)wc;
    json_decref(c->writes);
    c->writes = NULL;
}

static void done_effects(struct write_cmd *wc)
{
    struct effects_cmd *c = (struct effects_cmd *)wc;
    c->done(c->ctx, wc->err, &wc->diag);
    json_decref(c->writes);
    free(wc->body);
    free(c);
}

int plugin_effects_submit(struct app *app, const char *plugin, const char *merchant_id, int livemode,
                          json_t *kv_writes, int64_t cursor_seq,
                          void (*done)(void *ctx, int err, const struct cs_diag *d), void *ctx,
                          struct cs_diag *d)
{
    if (json_array_size(kv_writes) && !merchant_id)
        return cs_fail(d, CS_EINTERNAL, "", "plugin %s: KV writes without a merchant", plugin);
    struct effects_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    c->base.exec = exec_effects;
    c->base.release = release_effects;
    c->base.done = done_effects;
    snprintf(c->plugin, sizeof c->plugin, "%s", plugin);
    plugin_actor(plugin, c->actor);
    c->cursor_seq = cursor_seq;
    c->done = done;
    c->ctx = ctx;
    c->writes = kv_writes ? json_deep_copy(kv_writes) : json_array();
    if (!c->writes) {
        free(c);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    if (merchant_id) {
        snprintf(c->merchant_id, sizeof c->merchant_id, "%s", merchant_id);
        c->livemode = livemode;
        c->now_us = merchant_now_us(app, merchant_id, livemode);
        plugin_kv_aggregate(plugin, merchant_id, livemode, c->aggregate);
    }
    int err = writer_submit(app->writer, &c->base);
    if (err) {
        json_decref(c->writes);
        free(c);
        return cs_fail(d, err, "", err == CS_EBUSY ? "too many writes in flight; retry with backoff"
                                                   : "the server is shutting down");
    }
    return 0;
}
