/* caisse.on_event(pattern, fn): a plugin's subscriptions to committed events
 * (docs/plugins.md "Events"). This side registers them while plugin.lua
 * loads and calls the matching handlers for one event; what to deliver and
 * when (after commit, at least once, from a durable position) is the host's
 * (core/plugin_events.c). */
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua/json_lua.h"
#include "lua/plugin_internal.h"

static const char subs_key = 0;   /* registry[&subs_key] = { fn1, fn2, ... } in registration order */

/* "*", an exact type ("order.shipped") or a prefix ("order.*"): [a-z_.] */
static int pattern_ok(const char *s, size_t len)
{
    if (len == 0 || len >= CS_EVENT_TYPE_BYTES_MAX)
        return 0;
    if (len == 1 && s[0] == '*')
        return 1;
    size_t body = len;
    if (len > 2 && s[len - 1] == '*' && s[len - 2] == '.')
        body = len - 2;
    if (s[0] == '.' || s[body - 1] == '.')
        return 0;
    for (size_t i = 0; i < body; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static int pattern_match(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (n == 1 && pattern[0] == '*')
        return 1;
    if (n > 2 && pattern[n - 1] == '*')
        return strncmp(type, pattern, n - 1) == 0;
    return strcmp(type, pattern) == 0;
}

/* A plugin's own writes (plugin.kv_set...) are never delivered to plugins: a
 * handler that writes on every event would otherwise feed itself forever. */
static int deliverable(const char *type)
{
    return type && strncmp(type, "plugin.", 7) != 0;
}

/* caisse.on_event(pattern, fn): only while plugin.lua loads. */
static int lon_event(lua_State *L)
{
    struct plugin *p = lua_touserdata(L, lua_upvalueindex(1));
    size_t len;
    const char *pattern = luaL_checklstring(L, 1, &len);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!p->loading)
        return luaL_error(L, "caisse.on_event: subscriptions are made when plugin.lua loads, not later");
    if (!pattern_ok(pattern, len))
        return luaL_argerror(L, 1, "a pattern is \"*\", an event type (\"order.shipped\") or a prefix (\"order.*\")");
    if (strncmp(pattern, "plugin.", 7) == 0)
        return luaL_argerror(L, 1, "plugin.* events (caisse.kv writes) are not delivered to plugins");
    if (p->nsubs >= PLUGIN_SUBSCRIPTIONS_MAX)
        return luaL_error(L, "caisse.on_event: at most %d subscriptions per plugin", PLUGIN_SUBSCRIPTIONS_MAX);
    lua_settop(L, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &subs_key);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, (lua_Integer)p->nsubs + 1);
    snprintf(p->subs[p->nsubs], sizeof p->subs[0], "%s", pattern);
    p->nsubs++;
    return 0;
}

void plugin_events_extend(lua_State *L, struct plugin *p)
{
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &subs_key);
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, lon_event, 1);
    lua_setfield(L, -2, "on_event");
}

int plugins_subscribed(struct plugins *h, const char *name, const char *type)
{
    struct plugin *p = plugin_find(h, name);
    if (!p || !p->loaded || !deliverable(type))
        return 0;
    for (unsigned i = 0; i < p->nsubs; i++)
        if (pattern_match(p->subs[i], type))
            return 1;
    return 0;
}

int plugins_has_subscriptions(struct plugins *h, const char *name)
{
    struct plugin *p = plugin_find(h, name);
    return p && p->loaded && p->nsubs > 0;
}

struct event_call {
    struct plugin *p;
    json_t *event;
    json_t *commands;             /* collected from every handler */
    char err[320];   /* room for the longest message below: a 64-byte pattern and 120 of detail */
};

/* Runs protected: each matching handler with the event; a handler returns
 * nil or { commands = {...} }. */
static int levent_call(lua_State *L)
{
    struct event_call *c = lua_touserdata(L, 1);
    const char *type = json_string_value(json_object_get(c->event, "type"));
    lua_rawgetp(L, LUA_REGISTRYINDEX, &subs_key);
    int subs = lua_gettop(L);
    for (unsigned i = 0; i < c->p->nsubs; i++) {
        if (!pattern_match(c->p->subs[i], type))
            continue;
        lua_rawgeti(L, subs, (lua_Integer)i + 1);
        jl_push(L, c->event);    /* a fresh table per handler: one cannot change what the next sees */
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        char err[160];
        int is_table = lua_type(L, -1) == LUA_TTABLE;
        json_t *r = is_table ? jl_to_json(L, -1, err, sizeof err) : NULL;
        lua_pop(L, 1);
        if (!r) {
            snprintf(c->err, sizeof c->err, "the handler of %.64s returned %s%.100s", c->p->subs[i],
                     is_table ? "a table that is not JSON: " : "neither nil nor a table", is_table ? err : "");
            return 0;
        }
        const char *key;
        json_t *v;
        json_object_foreach(r, key, v) {
            if (strcmp(key, "commands") != 0) {
                snprintf(c->err, sizeof c->err, "the handler of %.64s returned an unknown field %.40s (commands)",
                         c->p->subs[i], key);
                json_decref(r);
                return 0;
            }
        }
        if (!json_is_object(r) || plugin_check_commands(r, err, sizeof err) != 0) {
            snprintf(c->err, sizeof c->err, "the handler of %.64s: %.120s", c->p->subs[i],
                     json_is_object(r) ? err : "returned an array, not a table");
            json_decref(r);
            return 0;
        }
        json_t *cmds = json_object_get(r, "commands");
        if (json_array_size(c->commands) + json_array_size(cmds) > PLUGIN_COMMANDS_MAX) {
            snprintf(c->err, sizeof c->err, "the handlers returned more than %d commands for one event",
                     PLUGIN_COMMANDS_MAX);
            json_decref(r);
            return 0;
        }
        json_array_extend(c->commands, cmds);
        json_decref(r);
    }
    return 0;
}

int plugins_event(struct plugins *h, const char *name, json_t *event, json_t **commands, json_t **kv_writes,
                  struct cs_diag *d)
{
    *commands = NULL;
    *kv_writes = NULL;
    struct plugin *p = plugin_find(h, name);
    if (!p)
        return cs_fail(d, CS_EROUTE, "", "no plugin named %s", name);
    if (!p->loaded)
        return cs_fail(d, CS_EPLUGINFAIL, "", "plugin %s is not loaded: %s", name, p->error);
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *merchant = json_string_value(json_object_get(event, "merchant"));
    json_t *live = json_object_get(event, "livemode");
    if (!type || !merchant || !json_is_boolean(live))
        return cs_fail(d, CS_EPARAM, "event", "an event needs a type, a merchant and livemode");
    int rc = plugin_ensure_state(p, d);
    if (rc)
        return rc;
    char what[PLUGIN_NAME_BYTES_MAX + CS_EVENT_TYPE_BYTES_MAX + 32];
    snprintf(what, sizeof what, "plugin %s on_event %s", name, type);
    struct event_call c = {.p = p, .event = event, .commands = json_array()};
    if (!c.commands)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    plugin_call_begin(p, PLUGIN_CALL_EVENT, merchant, json_is_true(live));
    rc = sandbox_protected(p->sb, levent_call, &c, what, d);
    if (!rc && c.err[0])
        rc = cs_fail(d, CS_EPLUGINFAIL, "", "%s failed: %s", what, c.err);
    json_t *writes = rc ? NULL : plugin_kv_take(p);
    plugin_call_end(p);
    if (rc) {
        json_decref(c.commands);
        d->err = CS_EPLUGINFAIL;
        return CS_EPLUGINFAIL;
    }
    *commands = c.commands;
    *kv_writes = writes;
    return 0;
}
