/* The sandboxed lua_State: allow-listed environment, instruction budget,
 * memory cap, and sb_run(), the one crossing from Lua failures to C
 * diagnostics. See sandbox.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "core/limits.h"
#include "lua/host.h"
#include "lua/json_lua.h"
#include "lua/sandbox.h"

enum sb_trip { SB_TRIP_NONE = 0, SB_TRIP_BUDGET, SB_TRIP_MEMORY };

struct sandbox {
    lua_State *L;
    size_t mem_used_bytes, mem_max_bytes;
    unsigned instr_max, instr_used, hook_every;
    int trip;               /* enum sb_trip: the hook raises on every instruction while set */
    int mem_hit;            /* the allocator refused a request during this run */
    int tainted;            /* a run tripped: rebuild before the next call */
    char err_where[96];     /* source:line of the innermost Lua frame at the last error */
    char err_msg[200];      /* the last error, as text */
    const struct sandbox_ext *ext;  /* during sandbox_new only */
};

/* Registry keys (their addresses). */
static const char env_key = 0;
static const char budget_msg_key = 0;
static const char memory_msg_key = 0;

/* ---- memory cap ------------------------------------------------------------ */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    size_t old = ptr ? osize : 0;   /* for a new block, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        sb->mem_used_bytes -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > sb->mem_max_bytes - sb->mem_used_bytes) {
        sb->mem_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        if (nsize <= old)
            return ptr;             /* Lua assumes shrinking never fails: keep the block */
        sb->mem_hit = 1;
        return NULL;
    }
    sb->mem_used_bytes = sb->mem_used_bytes - old + nsize;
    return p;
}

static struct sandbox *sb_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- instruction budget ---------------------------------------------------- */

static void lhost_count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct sandbox *sb = sb_of(L);
    if (sb->trip == SB_TRIP_NONE) {
        if (sb->mem_hit)
            sb->trip = SB_TRIP_MEMORY;
        else if (sb->instr_max - sb->instr_used <= sb->hook_every)   /* no unsigned wrap */
            sb->trip = SB_TRIP_BUDGET;
        else {
            sb->instr_used += sb->hook_every;
            return;
        }
        /* From now on, raise before every instruction until control is back in C. */
        lua_sethook(L, lhost_count_hook, LUA_MASKCOUNT, 1);
    }
    /* Preallocated message: raising must not need memory. */
    lua_rawgetp(L, LUA_REGISTRYINDEX, sb->trip == SB_TRIP_MEMORY ? &memory_msg_key : &budget_msg_key);
    lua_error(L);
}

/* ---- message handler: records the text and source:line, allocates nothing -- */

static int lhost_msgh(lua_State *L)
{
    struct sandbox *sb = sb_of(L);
    switch (lua_type(L, 1)) {
    case LUA_TSTRING:
        snprintf(sb->err_msg, sizeof sb->err_msg, "%s", lua_tostring(L, 1));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, 1))
            snprintf(sb->err_msg, sizeof sb->err_msg, "%lld", (long long)lua_tointeger(L, 1));
        else
            snprintf(sb->err_msg, sizeof sb->err_msg, "%.14g", (double)lua_tonumber(L, 1));
        break;
    default:
        snprintf(sb->err_msg, sizeof sb->err_msg, "(error object is a %s value)", luaL_typename(L, 1));
        break;
    }
    lua_Debug ar;
    sb->err_where[0] = '\0';
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            snprintf(sb->err_where, sizeof sb->err_where, "%s:%d", ar.short_src, ar.currentline);
            break;
        }
    }
    return 1;
}

/* "file:12: ..." already names its position. */
static int has_position(const char *msg)
{
    const char *c = strchr(msg, ':');
    if (!c || !isdigit((unsigned char)c[1]))
        return 0;
    for (c++; isdigit((unsigned char)*c); c++)
        ;
    return *c == ':';
}

/* The one crossing Lua -> C: runs the function below `nargs` arguments on the
 * stack under the budget, the cap and the message handler. On success leaves
 * `nres` results; on failure leaves nothing and fills d for `what`
 * ("policy risk.decide", "policy file plans.lua"). */
static int sb_run(struct sandbox *sb, int nargs, int nres, const char *what, struct cs_diag *d)
{
    lua_State *L = sb->L;
    int fn = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lhost_msgh);
    lua_insert(L, fn);
    sb->instr_used = 0;
    sb->trip = SB_TRIP_NONE;
    sb->mem_hit = 0;
    sb->err_where[0] = sb->err_msg[0] = '\0';
    lua_sethook(L, lhost_count_hook, LUA_MASKCOUNT, (int)sb->hook_every);
    int st = lua_pcall(L, nargs, nres, fn);
    lua_sethook(L, NULL, 0, 0);

    int trip = sb->trip;
    if (trip == SB_TRIP_NONE && (sb->mem_hit || st == LUA_ERRMEM))
        trip = SB_TRIP_MEMORY;      /* a refused allocation fails the run even if caught */
    if (st == LUA_OK && trip == SB_TRIP_NONE) {
        lua_remove(L, fn);
        return 0;
    }
    if (st != LUA_OK && !sb->err_msg[0]) {  /* no handler ran: memory error, error in handler */
        const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error";
        snprintf(sb->err_msg, sizeof sb->err_msg, "%s", m);
    }
    lua_settop(L, fn - 1);
    if (trip != SB_TRIP_NONE) {
        sb->tainted = 1;
        if (trip == SB_TRIP_MEMORY)
            return cs_fail(d, CS_EPOLICYFAIL, "", "%s exceeded its memory cap", what);
        if (sb->err_where[0])
            return cs_fail(d, CS_EPOLICYFAIL, "", "%s exceeded its instruction budget (at %s)", what,
                           sb->err_where);
        return cs_fail(d, CS_EPOLICYFAIL, "", "%s exceeded its instruction budget", what);
    }
    if (!has_position(sb->err_msg) && sb->err_where[0])
        return cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: %s: %s", what, sb->err_where, sb->err_msg);
    return cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: %s", what, sb->err_msg);
}

/* ---- the environment ------------------------------------------------------- */

/* load(chunk [, chunkname [, mode]]): strings only, text only, sandbox env. */
static int lhost_load(lua_State *L)
{
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_argerror(L, 1, "string expected (reader functions are not allowed in the sandbox)");
    const char *s = lua_tolstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (!lua_isnoneornil(L, 4))
        return luaL_argerror(L, 4, "a custom environment is not allowed in the sandbox");
    if (strcmp(mode, "t") != 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "load: only text chunks (mode \"t\") are allowed in the sandbox");
        return 2;
    }
    if (luaL_loadbufferx(L, s, len, chunkname, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;               /* nil, message -- like the standard load */
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

/* setmetatable without __gc: finalizers run with hooks off, out of the budget. */
static int lhost_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed in the sandbox");
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static const char *const base_allowed[] = {
    "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
    "rawget", "rawlen", "rawset", "select", "tonumber", "tostring", "type", "xpcall",
    "_VERSION", NULL,
};

/* Runs protected: opens the allowed libraries and builds the environment. */
static int lhost_setup(lua_State *L)
{
    lua_pushliteral(L, "policy exceeded its instruction budget");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &budget_msg_key);
    lua_pushliteral(L, "policy exceeded its memory cap");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &memory_msg_key);
    jl_init(L);

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);       /* into the real globals, never seen by scripts */
    lua_pop(L, 1);

    lua_newtable(L);                                    /* env */
    int env = lua_gettop(L);
    for (const char *const *name = base_allowed; *name; name++) {
        lua_getglobal(L, *name);
        lua_setfield(L, env, *name);
    }
    lua_pushcfunction(L, lhost_setmetatable);
    lua_setfield(L, env, "setmetatable");
    lua_pushvalue(L, env);
    lua_pushcclosure(L, lhost_load, 1);
    lua_setfield(L, env, "load");
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");

    /* string: the same table serves as the strings' metatable __index, so
     * removing dump here removes ("").dump too. */
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_setfield(L, env, LUA_STRLIBNAME);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    lua_setfield(L, env, LUA_TABLIBNAME);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    lua_setfield(L, env, LUA_MATHLIBNAME);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    lua_setfield(L, env, LUA_UTF8LIBNAME);

    host_push_caisse(L);
    struct sandbox *self = sb_of(L);
    if (self->ext && self->ext->extend)
        self->ext->extend(L, self->ext->ud);
    lua_setfield(L, env, "caisse");

    lua_pushvalue(L, env);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &env_key);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------- */

void sandbox_free(struct sandbox *sb)
{
    if (!sb)
        return;
    if (sb->L) {
        /* Anything Lua still runs while closing fails at once. */
        sb->trip = SB_TRIP_BUDGET;
        lua_sethook(sb->L, lhost_count_hook, LUA_MASKCOUNT, 1);
        lua_close(sb->L);
    }
    free(sb);
}

int sandbox_new(const struct sandbox_limits *lim, const struct sandbox_source *src, size_t n,
                struct sandbox **out, struct cs_diag *d)
{
    return sandbox_new_ext(lim, src, n, NULL, out, d);
}

int sandbox_new_ext(const struct sandbox_limits *lim, const struct sandbox_source *src, size_t n,
                    const struct sandbox_ext *ext, struct sandbox **out, struct cs_diag *d)
{
    const char *label = ext && ext->label ? ext->label : "policy";
    *out = NULL;
    struct sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return cs_fail(d, CS_ENOMEM, "", "policy engine: out of memory");
    sb->instr_max = lim && lim->instructions_max ? lim->instructions_max : CS_LUA_INSTRUCTIONS_MAX;
    sb->mem_max_bytes = lim && lim->memory_bytes_max ? lim->memory_bytes_max : CS_LUA_MEMORY_BYTES_MAX;
    sb->hook_every = sb->instr_max < CS_LUA_HOOK_INSTRUCTIONS ? sb->instr_max : CS_LUA_HOOK_INSTRUCTIONS;
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L) {
        free(sb);
        return cs_fail(d, CS_ENOMEM, "", "policy engine: cannot create a Lua state within its memory cap");
    }
    lua_State *L = sb->L;
    sb->ext = ext;
    lua_pushcfunction(L, lhost_setup);
    char setup_what[80];
    snprintf(setup_what, sizeof setup_what, "%s sandbox setup", label);
    int rc = sb_run(sb, 0, 0, setup_what, d);
    sb->ext = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char what[300];
        snprintf(what, sizeof what, "%s file %s", label, src[i].name);
        if (luaL_loadbufferx(L, src[i].text, src[i].len, src[i].chunkname, "t") != LUA_OK) {
            const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "cannot load";
            rc = cs_fail(d, CS_EPOLICYFAIL, "", "%s failed to load: %s", what, m);
            break;
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &env_key);
        if (!lua_setupvalue(L, -2, 1))
            lua_pop(L, 1);
        rc = sb_run(sb, 0, 0, what, d);
    }
    if (rc) {
        sandbox_free(sb);
        return rc;
    }
    lua_settop(L, 0);
    *out = sb;
    return 0;
}

int sandbox_tainted(const struct sandbox *sb) { return sb->tainted; }

int sandbox_protected(struct sandbox *sb, lua_CFunction fn, void *ud, const char *what,
                      struct cs_diag *d)
{
    lua_State *L = sb->L;
    lua_settop(L, 0);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, ud);
    int rc = sb_run(sb, 1, 0, what, d);
    lua_settop(L, 0);
    return rc;
}
size_t sandbox_memory_bytes(const struct sandbox *sb) { return sb->mem_used_bytes; }

/* ---- calls ----------------------------------------------------------------- */

struct call_ctx {
    const char *name;
    json_t *input;
    int not_found;
};

/* Runs protected: looks the hook up, converts the input, calls. */
static int lhost_call_trampoline(lua_State *L)
{
    struct call_ctx *c = lua_touserdata(L, 1);
    host_push_hook(L, c->name);
    if (lua_type(L, -1) != LUA_TFUNCTION) {
        c->not_found = 1;
        return 0;
    }
    jl_push(L, c->input);
    lua_call(L, 1, 1);
    return 1;
}

int sandbox_call(struct sandbox *sb, const char *name, json_t *input, json_t **output,
                 struct cs_diag *d)
{
    *output = NULL;
    lua_State *L = sb->L;
    struct call_ctx c = { name, input, 0 };
    char what[128];
    snprintf(what, sizeof what, "policy %s", name);
    lua_settop(L, 0);
    lua_pushcfunction(L, lhost_call_trampoline);
    lua_pushlightuserdata(L, &c);
    int rc = sb_run(sb, 1, 1, what, d);
    if (rc)
        return rc;
    if (c.not_found) {
        lua_settop(L, 0);
        return cs_fail(d, CS_ENOTFOUND, "", "no policy named %s", name);
    }
    if (lua_type(L, -1) != LUA_TTABLE || jl_is_marked_array(L, -1)) {
        if (lua_type(L, -1) == LUA_TTABLE)
            rc = cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: returned an array, not a table", what);
        else
            rc = cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: returned a %s value, not a table", what,
                         luaL_typename(L, -1));
        lua_settop(L, 0);
        return rc;
    }
    char err[200];
    json_t *j = jl_to_json(L, -1, err, sizeof err);
    lua_settop(L, 0);
    if (!j)
        return cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: its result is not JSON: %s", what, err);
    if (!json_is_object(j)) {
        json_decref(j);
        return cs_fail(d, CS_EPOLICYFAIL, "", "%s failed: returned an array, not a table", what);
    }
    *output = j;
    return 0;
}
