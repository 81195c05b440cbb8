/* caisse.kv: a plugin's key-value storage per merchant and mode
 * (docs/plugins.md "Key-value storage").
 *
 * Writes are decisions like commands: a call records them (and sees them
 * itself, read-your-writes), and only when it returns successfully are they
 * handed to the host, which commits them as plugin.kv_set / plugin.kv_deleted
 * events in one transaction. Until the host says the batch is settled
 * (plugins_kv_settled), the writes stay in a per-plugin-set overlay that every
 * later get reads first, so a value put by one request is seen by the next
 * even before its commit. A call that fails writes nothing.
 *
 * A call touches only the storage of the merchant and mode it runs for: the
 * authenticated merchant of a route, the event's merchant of an on_event
 * handler, the input's merchant of a policy override (which may only read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua/json_lua.h"
#include "lua/plugin_internal.h"

#define OVERLAY_KEY_BYTES (PLUGIN_NAME_BYTES_MAX + CS_ID_BYTES_MAX + PLUGIN_KV_KEY_BYTES_MAX + 8)

static void overlay_key(char out[OVERLAY_KEY_BYTES], const char *plugin, const char *merchant_id, int livemode,
                        const char *key)
{
    snprintf(out, OVERLAY_KEY_BYTES, "%s\x1f%s\x1f%c\x1f%s", plugin, merchant_id, livemode ? 'l' : 't', key);
}

static int key_ok(const char *s, size_t len)
{
    if (len == 0 || len > PLUGIN_KV_KEY_BYTES_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

/* Checks (merchant_id, key) against the call; returns the key. Raises. */
static const char *check_access(lua_State *L, struct plugin *p, const char *fn)
{
    const char *merchant = luaL_checkstring(L, 1);
    size_t klen;
    const char *key = luaL_checklstring(L, 2, &klen);
    if (!p->cur_merchant)
        luaL_error(L, "caisse.kv.%s: only inside a handler (a route, an event or a policy override)", fn);
    if (strcmp(merchant, p->cur_merchant) != 0)
        luaL_error(L, "caisse.kv.%s: merchant %s is not the merchant this call runs for (%s): a plugin reads "
                   "and writes only the storage of the merchant of the request, event or policy call", fn,
                   merchant, p->cur_merchant);
    if (!key_ok(key, klen))
        luaL_argerror(L, 2, "a key has 1 to 128 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'");
    return key;
}

static struct plugin *plugin_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* The pending write of key for the call's merchant and mode, or NULL. */
static json_t *pending(struct plugin *p, const char *key)
{
    json_t *w = json_object_get(p->call_view, key);
    if (w)
        return w;
    char ok[OVERLAY_KEY_BYTES];
    overlay_key(ok, p->name, p->cur_merchant, p->cur_livemode, key);
    return json_object_get(p->host->overlay, ok);
}

/* caisse.kv.get(merchant_id, key) -> value | nil */
static int lkv_get(lua_State *L)
{
    struct plugin *p = plugin_of(L);
    const char *key = check_access(L, p, "get");
    json_t *w = pending(p, key);
    if (w) {
        json_t *v = json_object_get(w, "value");
        if (!v)
            lua_pushnil(L);       /* a pending delete */
        else
            jl_push(L, v);        /* borrowed from the overlay: nothing to free if it raises */
        return 1;
    }
    json_t *v = p->host->kv_get ? p->host->kv_get(p->host->kv_ctx, p->name, p->cur_merchant, p->cur_livemode, key)
                                : NULL;
    if (!v) {
        lua_pushnil(L);
        return 1;
    }
    json_decref(p->scratch);
    p->scratch = v;               /* freed by plugin_call_end if the push raises */
    jl_push(L, v);
    p->scratch = NULL;
    json_decref(v);
    return 1;
}

/* Records one write {key, value?} of the call. Raises. */
static void record(lua_State *L, struct plugin *p, const char *fn, const char *key, json_t *value)
{
    if (p->cur_kind == PLUGIN_CALL_POLICY) {
        json_decref(value);
        luaL_error(L, "caisse.kv.%s: a policy override only decides; it may read (caisse.kv.get) but not write", fn);
    }
    if (json_array_size(p->call_writes) >= PLUGIN_KV_WRITES_MAX) {
        json_decref(value);
        luaL_error(L, "caisse.kv.%s: at most %d writes per call", fn, PLUGIN_KV_WRITES_MAX);
    }
    if (!p->call_writes)
        p->call_writes = json_array();
    if (!p->call_view)
        p->call_view = json_object();
    json_t *w = json_pack("{s:s}", "key", key);
    if (!w || !p->call_writes || !p->call_view) {
        json_decref(w);
        json_decref(value);
        luaL_error(L, "caisse.kv.%s: out of memory", fn);
    }
    if (value)
        json_object_set_new(w, "value", value);
    json_object_set(p->call_view, key, w);
    json_array_append_new(p->call_writes, w);
}

/* caisse.kv.put(merchant_id, key, value): value a string, number, boolean or
 * JSON-able table; at most PLUGIN_KV_VALUE_BYTES_MAX bytes of JSON. */
static int lkv_put(lua_State *L)
{
    struct plugin *p = plugin_of(L);
    const char *key = check_access(L, p, "put");
    luaL_checkany(L, 3);
    if (lua_isnil(L, 3) || (lua_islightuserdata(L, 3) && lua_touserdata(L, 3) == (void *)&jl_null_tag))
        return luaL_argerror(L, 3, "a value is required (caisse.kv.delete removes a key)");
    if (lua_type(L, 3) == LUA_TFUNCTION || lua_type(L, 3) == LUA_TUSERDATA || lua_type(L, 3) == LUA_TTHREAD)
        return luaL_argerror(L, 3, "a string, number, boolean or JSON-able table expected");
    char err[160];
    json_t *v = jl_to_json(L, 3, err, sizeof err);
    if (!v)
        return luaL_error(L, "caisse.kv.put: the value is not JSON: %s", err);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = text ? strlen(text) : 0;
    free(text);
    if (!n || n > PLUGIN_KV_VALUE_BYTES_MAX) {
        json_decref(v);
        return luaL_error(L, "caisse.kv.put: a value has at most %d bytes of JSON (this one: %I)",
                          PLUGIN_KV_VALUE_BYTES_MAX, (lua_Integer)n);
    }
    record(L, p, "put", key, v);
    return 0;
}

/* caisse.kv.delete(merchant_id, key) */
static int lkv_delete(lua_State *L)
{
    struct plugin *p = plugin_of(L);
    const char *key = check_access(L, p, "delete");
    record(L, p, "delete", key, NULL);
    return 0;
}

void plugin_kv_extend(lua_State *L, struct plugin *p)
{
    static const luaL_Reg fns[] = {{"get", lkv_get}, {"put", lkv_put}, {"delete", lkv_delete}, {NULL, NULL}};
    luaL_newlibtable(L, fns);
    lua_pushlightuserdata(L, p);
    luaL_setfuncs(L, fns, 1);
    lua_setfield(L, -2, "kv");
}

json_t *plugin_kv_take(struct plugin *p)
{
    json_t *writes = p->call_writes;
    if (!writes || json_array_size(writes) == 0)
        return NULL;
    size_t i;
    json_t *w;
    json_array_foreach(writes, i, w) {
        char ok[OVERLAY_KEY_BYTES];
        overlay_key(ok, p->name, p->cur_merchant, p->cur_livemode, json_string_value(json_object_get(w, "key")));
        json_object_set(p->host->overlay, ok, w);
    }
    return json_incref(writes);
}

void plugins_kv_settled(struct plugins *h, const char *name, const char *merchant_id, int livemode,
                        json_t *kv_writes)
{
    size_t i;
    json_t *w;
    json_array_foreach(kv_writes, i, w) {
        char ok[OVERLAY_KEY_BYTES];
        overlay_key(ok, name, merchant_id, livemode, json_string_value(json_object_get(w, "key")));
        if (json_object_get(h->overlay, ok) == w)   /* not replaced by a later write */
            json_object_del(h->overlay, ok);
    }
}

/* ---- enrolment: a merchant's policy calls go through a plugin's overrides
 * once the plugin keeps a key for that merchant and mode ------------------------ */

struct enrol {
    struct plugin *p;
    const char *merchant;
    int livemode;
    int found;
};

static int enrol_visit(void *ctx, const char *key)
{
    struct enrol *e = ctx;
    char ok[OVERLAY_KEY_BYTES];
    overlay_key(ok, e->p->name, e->merchant, e->livemode, key);
    json_t *w = json_object_get(e->p->host->overlay, ok);
    if (w && !json_object_get(w, "value"))
        return 0;               /* committed, but a delete is pending */
    e->found = 1;
    return 1;
}

int plugin_kv_enrolled(struct plugin *p, const char *merchant_id, int livemode)
{
    char prefix[OVERLAY_KEY_BYTES];
    overlay_key(prefix, p->name, merchant_id, livemode, "");
    size_t plen = strlen(prefix);
    const char *k;
    json_t *w;
    json_object_foreach(p->host->overlay, k, w)
        if (strncmp(k, prefix, plen) == 0 && json_object_get(w, "value"))
            return 1;           /* a pending put */
    if (!p->host->kv_each)
        return 0;
    struct enrol e = {p, merchant_id, livemode, 0};
    p->host->kv_each(p->host->kv_ctx, p->name, merchant_id, livemode, enrol_visit, &e);
    return e.found;
}
