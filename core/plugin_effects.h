#ifndef CAISSE_PLUGIN_EFFECTS_H
#define CAISSE_PLUGIN_EFFECTS_H
/* What a plugin call decided that is the plugin's own state, committed
 * through the writer (docs/plugins.md "Key-value storage", "Events"):
 *   - its caisse.kv writes, as events plugin.kv_set {"plugin","key","value"}
 *     and plugin.kv_deleted {"plugin","key"} of the merchant and mode of the
 *     call, on the aggregate "plg_" + 26 Crockford base32 characters of
 *     SHA-256(plugin NUL merchant NUL mode), actor "plugin:<name>" (the name
 *     cut at 56 characters); a put of the value already stored and a
 *     delete of an absent key append nothing;
 *   - its on_event position (the last sequence handled), in the same
 *     transaction, so that the writes of a handled event and the position
 *     past it are durable together. */
#include <stdint.h>
#include <jansson.h>
#include "core/app.h"

/* The KV aggregate of a plugin, merchant and mode (plg_…). */
void plugin_kv_aggregate(const char *plugin, const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX]);

/* Submits `kv_writes` (borrowed; [{key, value?}] as lua/plugin.h hands them;
 * may be NULL) for merchant_id/livemode (may be NULL when there are no
 * writes) and, if cursor_seq >= 0, the plugin's position. done(ctx, err, d)
 * runs on the loop thread once committed (err 0) or failed. Returns 0, or an
 * error (queue full, shutting down) with d filled and done not called. */
int plugin_effects_submit(struct app *app, const char *plugin, const char *merchant_id, int livemode,
                          json_t *kv_writes, int64_t cursor_seq,
                          void (*done)(void *ctx, int err, const struct cs_diag *d), void *ctx,
                          struct cs_diag *d);

/* The actor of a plugin's writes and commands: "plugin:<name>". */
void plugin_actor(const char *plugin, char out[64]);

#endif
