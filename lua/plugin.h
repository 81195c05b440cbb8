#ifndef CAISSE_PLUGIN_H
#define CAISSE_PLUGIN_H
/* Lua plugins (docs/plugins.md): a directory of plugins/<name>/plugin.lua +
 * manifest.json, each loaded into its OWN sandboxed lua_State (lua/sandbox.c:
 * allow-listed environment, instruction budget, memory cap) with its own
 * budgets. A plugin that fails to load (bad manifest, route collision, Lua
 * error) is listed with its error; the others load. A reload swaps each
 * plugin only if its new version loads.
 *
 * This layer knows nothing of the store or HTTP: the core passes callbacks
 * that read (caisse.orders.find, caisse.kv.get) and runs what a call decided
 * (the commands a handler returns, the KV writes it made). Everything here
 * runs on the loop thread. */
#include <stddef.h>
#include <jansson.h>
#include "core/errors.h"
#include "core/limits.h"
#include "lua/policy.h"

#define PLUGIN_NAME_BYTES_MAX     64
#define PLUGIN_VERSION_BYTES_MAX  32
#define PLUGIN_DESC_BYTES_MAX     500
#define PLUGIN_ROUTES_MAX         32
#define PLUGIN_PATH_BYTES_MAX     128
#define PLUGIN_COMMANDS_MAX       16
#define PLUGIN_FINDS_MAX          16    /* caisse.orders.find calls per request (each reads the store) */
#define PLUGINS_MAX               64
#define PLUGIN_FILE_BYTES_MAX     (1u << 20)
#define PLUGIN_SUBSCRIPTIONS_MAX  16    /* caisse.on_event calls per plugin */
#define PLUGIN_POLICIES_MAX       8     /* hooks a plugin may override (manifest "policies") */
#define PLUGIN_KV_KEY_BYTES_MAX   128   /* [A-Za-z0-9_.:-] */
#define PLUGIN_KV_VALUE_BYTES_MAX 16384 /* a value's compact JSON */
#define PLUGIN_KV_WRITES_MAX      32    /* caisse.kv.put/delete per call */
#define PLUGIN_BASE_CALLS_MAX     8     /* base() calls per policy override call */

struct plugin_route {
    char method[8];                       /* GET POST PUT PATCH DELETE */
    char path[PLUGIN_PATH_BYTES_MAX];     /* "/webhook", "/orders/{id}" (relative to /plugins/<name>) */
};

struct plugin_manifest {
    char name[PLUGIN_NAME_BYTES_MAX + 1];
    char version[PLUGIN_VERSION_BYTES_MAX + 1];
    char description[PLUGIN_DESC_BYTES_MAX + 1];
    struct plugin_route routes[PLUGIN_ROUTES_MAX];
    unsigned nroutes;
    char policies[PLUGIN_POLICIES_MAX][CS_LUA_HOOK_NAME_BYTES_MAX + 1];   /* hooks it overrides */
    unsigned npolicies;
};

/* Parses and validates manifest.json of folder `folder`: an object with
 * "name" (== folder, [a-z0-9_-], 1..64), "version" (semver-ish: N.N[.N][-x]),
 * "description" (optional string), "routes" (array of {method, path}, path
 * relative: starts with "/", segments of [A-Za-z0-9._~-] or "{param}", no
 * duplicate method+path), "policies" (optional array of distinct hook
 * names, [a-z0-9_.], that plugin.lua overrides with caisse.policy.override).
 * Unknown keys are refused. Returns 0 or -1 with
 * `err` saying what is wrong. */
int plugin_manifest_parse(const char *folder, const char *text, size_t len, struct plugin_manifest *m,
                          char *err, size_t errcap);

/* Matches a request path against a route pattern; "{x}" takes one non-empty
 * segment. On a match returns 1 and, if params is non-NULL, sets
 * params[x] = segment. */
int plugin_path_match(const char *pattern, const char *path, json_t *params);

/* caisse.orders.find(reference): the merchant's order documents with that
 * reference (a new JSON array), or NULL for none. */
typedef json_t *(*plugin_find_fn)(void *ctx, const char *merchant_id, int livemode, const char *reference);

/* caisse.kv.get: the committed value of a plugin's key for a merchant and
 * mode (a new reference), or NULL if there is none. */
typedef json_t *(*plugin_kv_get_fn)(void *ctx, const char *plugin, const char *merchant_id, int livemode,
                                     const char *key);
/* Visits the plugin's committed keys for a merchant and mode; fn returns
 * nonzero to stop. */
typedef void (*plugin_kv_each_fn)(void *ctx, const char *plugin, const char *merchant_id, int livemode,
                                  int (*fn)(void *fctx, const char *key), void *fctx);

struct plugin_options {
    const char *dir;              /* the plugin directory; NULL: no plugins */
    unsigned instructions_max;    /* per call; 0: CS_LUA_INSTRUCTIONS_MAX */
    size_t memory_bytes_max;      /* per plugin state; 0: CS_LUA_MEMORY_BYTES_MAX */
    plugin_find_fn find;
    void *find_ctx;
    plugin_kv_get_fn kv_get;      /* NULL: every get answers nil */
    plugin_kv_each_fn kv_each;
    void *kv_ctx;
    const char *only;             /* load only this folder of dir (caisse plugin test) */
};

struct plugins;

/* Loads every plugin of o->dir. Fails only on memory exhaustion; a plugin
 * that does not load is kept in the list with its error. */
int plugins_new(const struct plugin_options *o, struct plugins **out, struct cs_diag *d);
void plugins_free(struct plugins *p);

/* Re-reads the directory: each plugin whose new version loads replaces the
 * old one; one that fails keeps its previous loaded version (with the error
 * recorded) or is listed as failed; plugins whose folder is gone are
 * dropped. Returns the number of plugins that failed to (re)load. */
unsigned plugins_reload(struct plugins *p);

/* [{name, version, description, routes, policies, events, status, error}]
 * in name order. */
json_t *plugins_list_json(const struct plugins *p);
unsigned plugins_count(const struct plugins *p);
/* The name of the i-th plugin (name order), or NULL. */
const char *plugins_name(const struct plugins *p, unsigned i);

/* Calls the handler of plugin `name` for `method subpath` with `request`
 * (borrowed; its "params" member is set from the route pattern). On success
 * *response is a validated object {status, body?, commands?}: status an
 * integer 100..599 (default 200), body a table/array or string (optional),
 * commands an array of {op: "ship"|"confirm"|"cancel"|"cart"|"return", order,
 * params?} or {op: "refund", payment, params?}.
 * *kv_writes gets the caisse.kv writes the handler made (see
 * plugins_kv_settled), or NULL.
 * Errors: CS_EROUTE (no such plugin or route), CS_EMETHOD (path known, other
 * method; d->param holds the allowed methods), CS_EPLUGINFAIL (the plugin
 * is not loaded, raised, ran out of budget or memory, or returned a bad
 * response; d names the plugin and source:line). */
int plugins_handle(struct plugins *p, const char *name, const char *method, const char *subpath,
                   const char *merchant_id, int livemode, json_t *request, json_t **response,
                   json_t **kv_writes, struct cs_diag *d);

/* ---- key-value storage (docs/plugins.md "Key-value storage") ----------------------
 * caisse.kv.put/delete record writes during a call; when the call succeeds
 * they are handed to the caller as an array [{key, value?}] (no value: a
 * delete) for the merchant and mode of the call, to be committed as events
 * in one transaction, and kept in an overlay that later gets read until
 * plugins_kv_settled says the batch is committed (or failed). A failed call's
 * writes are dropped. */
void plugins_kv_settled(struct plugins *p, const char *name, const char *merchant_id, int livemode,
                        json_t *kv_writes);

/* ---- events (caisse.on_event) -------------------------------------------------------- */

/* 1 if plugin `name` is loaded and one of its subscriptions matches the
 * event type (plugin.* events are never delivered to plugins). */
int plugins_subscribed(struct plugins *p, const char *name, const char *type);
/* 1 if plugin `name` is loaded with at least one subscription. */
int plugins_has_subscriptions(struct plugins *p, const char *name);
/* Calls every handler of plugin `name` whose pattern matches event->type, in
 * registration order, with the event (borrowed: the event object as the
 * events API shows it, with "seq", "merchant" and "livemode"). *commands
 * gets the commands they returned (an array, possibly empty), *kv_writes
 * their KV writes or NULL. Errors: CS_EROUTE (no such plugin),
 * CS_EPLUGINFAIL (not loaded, raised, budget, bad return; d says which). */
int plugins_event(struct plugins *p, const char *name, json_t *event, json_t **commands, json_t **kv_writes,
                  struct cs_diag *d);

/* ---- policy overrides (caisse.policy.override) ------------------------------------------
 * A policy_resolver_fn (lua/policy.h; ctx = struct plugins): for an input
 * with merchant.id and livemode, the overrides of `name` of every loaded
 * plugin that holds a KV key for that merchant and mode are chained in name
 * order, each getting base() = the next one, the last the engine's hook.
 * CS_ENOTFOUND when no plugin applies (the engine then calls its own). */
int plugins_policy_call(void *plugins, const char *name, json_t *input, policy_base_fn base, void *base_ctx,
                        json_t **output, struct cs_diag *d);

#endif
