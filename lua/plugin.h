#ifndef CAISSE_PLUGIN_H
#define CAISSE_PLUGIN_H
/* Lua plugins (docs/plugins.md): a directory of plugins/<name>/plugin.lua +
 * manifest.json, each loaded into its OWN sandboxed lua_State (lua/sandbox.c:
 * allow-listed environment, instruction budget, memory cap) with its own
 * budgets. A plugin that fails to load (bad manifest, route collision, Lua
 * error) is listed with its error; the others load. A reload swaps each
 * plugin only if its new version loads.
 *
 * This layer knows nothing of the store or HTTP: the core passes a `find`
 * callback (caisse.orders.find) and runs the commands a handler returns.
 * Everything here runs on the loop thread. */
#include <stddef.h>
#include <jansson.h>
#include "core/errors.h"

#define PLUGIN_NAME_BYTES_MAX     64
#define PLUGIN_VERSION_BYTES_MAX  32
#define PLUGIN_DESC_BYTES_MAX     500
#define PLUGIN_ROUTES_MAX         32
#define PLUGIN_PATH_BYTES_MAX     128
#define PLUGIN_COMMANDS_MAX       16
#define PLUGIN_FINDS_MAX          16    /* caisse.orders.find calls per request (each reads the store) */
#define PLUGINS_MAX               64
#define PLUGIN_FILE_BYTES_MAX     (1u << 20)

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
};

/* Parses and validates manifest.json of folder `folder`: an object with
 * "name" (== folder, [a-z0-9_-], 1..64), "version" (semver-ish: N.N[.N][-x]),
 * "description" (optional string), "routes" (array of {method, path}, path
 * relative: starts with "/", segments of [A-Za-z0-9._~-] or "{param}", no
 * duplicate method+path). Unknown keys are refused. Returns 0 or -1 with
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

struct plugin_options {
    const char *dir;              /* the plugin directory; NULL: no plugins */
    unsigned instructions_max;    /* per call; 0: CS_LUA_INSTRUCTIONS_MAX */
    size_t memory_bytes_max;      /* per plugin state; 0: CS_LUA_MEMORY_BYTES_MAX */
    plugin_find_fn find;
    void *find_ctx;
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

/* [{name, version, description, routes, status, error}] in name order. */
json_t *plugins_list_json(const struct plugins *p);
unsigned plugins_count(const struct plugins *p);

/* Calls the handler of plugin `name` for `method subpath` with `request`
 * (borrowed; its "params" member is set from the route pattern). On success
 * *response is a validated object {status, body?, commands?}: status an
 * integer 100..599 (default 200), body a table/array or string (optional),
 * commands an array of {op: "ship"|"confirm"|"cancel", order, params?}.
 * Errors: CS_EROUTE (no such plugin or route), CS_EMETHOD (path known, other
 * method; d->param holds the allowed methods), CS_EPLUGINFAIL (the plugin
 * is not loaded, raised, ran out of budget or memory, or returned a bad
 * response; d names the plugin and source:line). */
int plugins_handle(struct plugins *p, const char *name, const char *method, const char *subpath,
                   const char *merchant_id, int livemode, json_t *request, json_t **response,
                   struct cs_diag *d);

#endif
