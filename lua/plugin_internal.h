#ifndef CAISSE_PLUGIN_INTERNAL_H
#define CAISSE_PLUGIN_INTERNAL_H
/* Private to lua/plugin*.c: the plugin and the plugin set, shared by the
 * runtime (plugin.c), key-value storage (plugin_kv.c), event subscriptions
 * (plugin_events.c), policy overrides (plugin_policy.c) and the test runner
 * (plugin_test.c). Everything here runs on one thread (the loop thread, or
 * the CLI's). */
#include <lua.h>
#include "core/limits.h"
#include "lua/plugin.h"
#include "lua/sandbox.h"

/* What a plugin's Lua is running for: it decides what caisse.orders.find and
 * caisse.kv may touch (only the merchant and mode of the call). */
enum plugin_call_kind {
    PLUGIN_CALL_NONE = 0,     /* loading plugin.lua, or idle: no merchant */
    PLUGIN_CALL_ROUTE,
    PLUGIN_CALL_EVENT,
    PLUGIN_CALL_POLICY,       /* read-only: caisse.kv.get only */
};

struct plugin {
    char name[PLUGIN_NAME_BYTES_MAX + 1];
    struct plugin_manifest man;
    int manifest_ok;
    int loaded;                   /* sb is usable (or rebuildable from text) */
    char error[512];              /* "" when none */
    char *text;                   /* plugin.lua, kept to rebuild after a budget/memory failure */
    size_t len;
    char chunkname[PLUGIN_NAME_BYTES_MAX + 16];
    struct sandbox *sb;
    struct plugins *host;
    int loading;                  /* registrations are allowed only while plugin.lua's top level runs */
    unsigned registered;          /* routes registered by caisse.route while loading */
    unsigned policies_registered; /* overrides registered by caisse.policy.override while loading */
    /* caisse.on_event subscriptions, in registration order (functions in the registry) */
    char subs[PLUGIN_SUBSCRIPTIONS_MAX][CS_EVENT_TYPE_BYTES_MAX];
    unsigned nsubs;
    /* the call being run */
    enum plugin_call_kind cur_kind;
    const char *cur_merchant;
    int cur_livemode;
    unsigned finds;               /* caisse.orders.find calls in this call */
    json_t *call_writes;          /* this call's caisse.kv writes in order: [{key, value?}] */
    json_t *call_view;            /* key -> this call's last write to it (read-your-writes) */
    json_t *scratch;              /* a JSON value being pushed: freed even if the push raises */
};

struct plugins {
    char *dir;
    char *only;                   /* load only this folder (plugin_options.only) */
    struct sandbox_limits lim;
    plugin_find_fn find;
    void *find_ctx;
    plugin_kv_get_fn kv_get;
    plugin_kv_each_fn kv_each;
    void *kv_ctx;
    /* KV writes of finished calls that are not committed yet:
     * "<plugin>\x1f<merchant>\x1f<t|l>\x1f<key>" -> the write {key, value?}
     * (the same json_t as in the batch handed to the host, so that
     * plugins_kv_settled removes only its own writes). */
    json_t *overlay;
    struct plugin *list[PLUGINS_MAX];
    unsigned n;
};

struct plugin *plugin_find(struct plugins *h, const char *name);

/* Before and after every call into a plugin's state: sets whose behalf it
 * runs on; plugin_call_end drops what the call left (the scratch value, its
 * KV writes unless plugin_kv_take took them) and rebuilds the state if the
 * call tripped a budget. */
void plugin_call_begin(struct plugin *p, enum plugin_call_kind kind, const char *merchant_id, int livemode);
void plugin_call_end(struct plugin *p);
/* (Re)builds p->sb from its sources if it is NULL: 0 or the error. */
int plugin_ensure_state(struct plugin *p, struct cs_diag *d);

/* Validates a handler's `commands` array (plugin.c): ops, ids, params.
 * An empty Lua table ({}) is replaced by []. */
int plugin_check_commands(json_t *holder, char *err, size_t cap);

/* plugin_kv.c: adds caisse.kv to the `caisse` table on top of the stack. */
void plugin_kv_extend(lua_State *L, struct plugin *p);
/* After a successful call: the call's writes (a new reference to the array,
 * NULL if none), now in the overlay until plugins_kv_settled. */
json_t *plugin_kv_take(struct plugin *p);
/* 1 if the plugin holds a key (committed or pending) for the merchant and mode. */
int plugin_kv_enrolled(struct plugin *p, const char *merchant_id, int livemode);

/* plugin_events.c: caisse.on_event; plugin_policy.c: caisse.policy.override. */
void plugin_events_extend(lua_State *L, struct plugin *p);
void plugin_policy_extend(lua_State *L, struct plugin *p);
int plugin_has_override(struct plugin *p, const char *hook);

#endif
