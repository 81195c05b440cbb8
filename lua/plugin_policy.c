/* caisse.policy.override(name, fn): per-merchant policy overrides from
 * plugins (docs/plugins.md "Policy overrides").
 *
 * A plugin lists the hooks it overrides in manifest.json ("policies") and
 * registers one function for each while plugin.lua loads. The engine
 * (lua/policy.c) asks plugins_policy_call first for every call whose input
 * names a merchant (merchant.id) and a mode (livemode): the overrides of the
 * plugins that keep a KV key for that merchant and mode ("installed" it) are
 * chained in plugin name order. Each is called as fn(input, base), where
 * base(input) calls the next one and the last one's base is the engine's own
 * hook (built-ins and operator overrides). Each runs in its plugin's sandbox
 * under its budgets; a failure fails the policy call (never silently skips a
 * merchant's rule). */
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua/json_lua.h"
#include "lua/plugin_internal.h"

static const char overrides_key = 0;   /* registry[&overrides_key] = { ["risk.decide"] = fn } */

int plugin_has_override(struct plugin *p, const char *hook)
{
    for (unsigned i = 0; i < p->man.npolicies; i++)
        if (strcmp(p->man.policies[i], hook) == 0)
            return 1;
    return 0;
}

/* caisse.policy.override(name, fn): only while plugin.lua loads; only hooks
 * that manifest.json lists; each once. */
static int loverride(lua_State *L)
{
    struct plugin *p = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!p->loading)
        return luaL_error(L, "caisse.policy.override: overrides are registered when plugin.lua loads, not later");
    if (!plugin_has_override(p, name))
        return luaL_error(L, "caisse.policy.override: %s is not listed in manifest.json \"policies\"", name);
    lua_settop(L, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &overrides_key);
    if (lua_getfield(L, 3, name) != LUA_TNIL)
        return luaL_error(L, "caisse.policy.override: %s is overridden twice", name);
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_setfield(L, 3, name);
    p->policies_registered++;
    return 0;
}

void plugin_policy_extend(lua_State *L, struct plugin *p)
{
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &overrides_key);
    lua_getfield(L, -1, "policy");
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, loverride, 1);
    lua_setfield(L, -2, "override");
    lua_pop(L, 1);
}

/* ---- the chain ------------------------------------------------------------------ */

struct chain {
    struct plugins *h;
    const char *name;
    const char *merchant;
    int livemode;
    policy_base_fn base;
    void *base_ctx;
};

/* One override call. */
struct ocall {
    struct chain *chain;
    unsigned index;               /* the plugin's index in h->list */
    json_t *input;
    json_t *out;
    unsigned base_calls;
    char err[200];
};

static int chain_from(struct chain *c, unsigned from, json_t *input, json_t **out, struct cs_diag *d);

/* base(input) -> the next override's (or the engine's) output. */
static int lbase(lua_State *L)
{
    struct ocall *oc = lua_touserdata(L, lua_upvalueindex(1));
    struct plugin *p = oc->chain->h->list[oc->index];
    luaL_checktype(L, 1, LUA_TTABLE);
    if (++oc->base_calls > PLUGIN_BASE_CALLS_MAX)
        return luaL_error(L, "base: at most %d calls per override call", PLUGIN_BASE_CALLS_MAX);
    char err[160];
    json_t *in = jl_to_json(L, 1, err, sizeof err);
    if (!in)
        return luaL_error(L, "base: the input is not JSON: %s", err);
    json_t *out = NULL;
    struct cs_diag bd = {0};
    int rc = chain_from(oc->chain, oc->index + 1, in, &out, &bd);
    json_decref(in);
    if (rc) {
        json_decref(out);
        lua_pushfstring(L, "base %s failed: %s", oc->chain->name, bd.message);
        return lua_error(L);
    }
    json_decref(p->scratch);
    p->scratch = out;             /* freed by plugin_call_end if the push raises */
    jl_push(L, out);
    p->scratch = NULL;
    json_decref(out);
    return 1;
}

/* Runs protected in the plugin's state: fn(input, base). */
static int lcall_override(lua_State *L)
{
    struct ocall *oc = lua_touserdata(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &overrides_key);
    if (lua_getfield(L, -1, oc->chain->name) != LUA_TFUNCTION) {
        snprintf(oc->err, sizeof oc->err, "no override of %s", oc->chain->name);
        return 0;
    }
    jl_push(L, oc->input);
    lua_pushlightuserdata(L, oc);
    lua_pushcclosure(L, lbase, 1);
    lua_call(L, 2, 1);
    if (lua_type(L, -1) != LUA_TTABLE || jl_is_marked_array(L, -1)) {
        snprintf(oc->err, sizeof oc->err, "returned %s, not a table",
                 lua_type(L, -1) == LUA_TTABLE ? "an array" : luaL_typename(L, -1));
        return 0;
    }
    char err[160];
    oc->out = jl_to_json(L, -1, err, sizeof err);
    if (!oc->out)
        snprintf(oc->err, sizeof oc->err, "its result is not JSON: %s", err);
    else if (!json_is_object(oc->out))
        snprintf(oc->err, sizeof oc->err, "returned an array, not a table");
    return 0;
}

static int applies(struct chain *c, struct plugin *p)
{
    return p->loaded && plugin_has_override(p, c->name) && plugin_kv_enrolled(p, c->merchant, c->livemode);
}

static int call_override(struct chain *c, unsigned index, json_t *input, json_t **out, struct cs_diag *d)
{
    struct plugin *p = c->h->list[index];
    int rc = plugin_ensure_state(p, d);
    if (rc) {
        d->err = CS_EPOLICYFAIL;    /* the caller reports a policy failure, naming the plugin */
        return CS_EPOLICYFAIL;
    }
    char what[PLUGIN_NAME_BYTES_MAX + CS_LUA_HOOK_NAME_BYTES_MAX + 32];
    snprintf(what, sizeof what, "plugin %s policy %s", p->name, c->name);
    struct ocall oc = {.chain = c, .index = index, .input = input};
    plugin_call_begin(p, PLUGIN_CALL_POLICY, c->merchant, c->livemode);
    rc = sandbox_protected(p->sb, lcall_override, &oc, what, d);
    if (!rc && oc.err[0])
        rc = cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: %s", what, oc.err);
    plugin_call_end(p);
    if (rc) {
        json_decref(oc.out);
        d->err = CS_EPOLICYFAIL;
        return CS_EPOLICYFAIL;
    }
    *out = oc.out;
    return 0;
}

static int chain_from(struct chain *c, unsigned from, json_t *input, json_t **out, struct cs_diag *d)
{
    for (unsigned i = from; i < c->h->n; i++)
        if (applies(c, c->h->list[i]))
            return call_override(c, i, input, out, d);
    return c->base(c->base_ctx, input, out, d);
}

int plugins_policy_call(void *plugins, const char *name, json_t *input, policy_base_fn base, void *base_ctx,
                        json_t **output, struct cs_diag *d)
{
    struct plugins *h = plugins;
    *output = NULL;
    const char *merchant = json_string_value(json_object_get(json_object_get(input, "merchant"), "id"));
    json_t *live = json_object_get(input, "livemode");
    if (!h || !merchant || !json_is_boolean(live))
        return CS_ENOTFOUND;
    struct chain c = {h, name, merchant, json_is_true(live), base, base_ctx};
    for (unsigned i = 0; i < h->n; i++)
        if (applies(&c, h->list[i]))
            return call_override(&c, i, input, output, d);
    return CS_ENOTFOUND;
}
