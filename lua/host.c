/* The `caisse` table: the host API policies call (policy.h lists it). Every
 * lhost_* function checks all its arguments before doing anything: a Lua error
 * jumps past C code. Money is Lua integers only; a float where money is
 * expected is an error, never rounded silently. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "core/limits.h"
#include "lua/host.h"
#include "lua/json_lua.h"

/* Local bounds of the helpers (candidates for core/limits.h). */

static const char hooks_key = 0;   /* registry[&hooks_key] = { [name] = function } */

/* ---- argument checks --------------------------------------------------------- */

static lua_Integer check_integer(lua_State *L, int arg)
{
    if (lua_isinteger(L, arg))
        return lua_tointeger(L, arg);
    if (lua_type(L, arg) == LUA_TNUMBER)
        luaL_argerror(L, arg, "integer expected, got float (money is integral minor units)");
    luaL_typeerror(L, arg, "integer");
    return 0;
}

static int check_hook_name(lua_State *L, int arg)
{
    size_t len;
    const char *s = luaL_checklstring(L, arg, &len);
    if (len == 0 || len > CS_LUA_HOOK_NAME_BYTES_MAX)
        return luaL_argerror(L, arg, "a policy name has 1 to 64 characters");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return luaL_argerror(L, arg, "a policy name uses a-z, 0-9, '_' and '.' only");
    }
    return 0;
}

/* ---- caisse.policy ------------------------------------------------------------- */

/* caisse.policy.define(name, fn) */
static int lhost_policy_define(lua_State *L)
{
    check_hook_name(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &hooks_key);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    return 0;
}

/* caisse.policy.get(name) -> fn | nil */
static int lhost_policy_get(lua_State *L)
{
    check_hook_name(L, 1);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &hooks_key);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    return 1;
}

void host_push_hook(lua_State *L, const char *name)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &hooks_key);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* ---- caisse.log ------------------------------------------------------------------ */

/* caisse.log(level, msg): level is "info", "warn" or "error". */
static int lhost_log(lua_State *L)
{
    static const char *const levels[] = { "info", "warn", "error", NULL };
    int level = luaL_checkoption(L, 1, NULL, levels);
    size_t len;
    const char *msg = luaL_checklstring(L, 2, &len);
    luaL_where(L, 1);
    const char *where = lua_tostring(L, -1);
    fprintf(stderr, "policy %s: %s%.*s%s\n", levels[level], where, (int)(len > CS_LUA_LOG_BYTES_MAX ? CS_LUA_LOG_BYTES_MAX : len),
            msg, len > CS_LUA_LOG_BYTES_MAX ? "..." : "");
    return 0;
}

/* ---- caisse.money ---------------------------------------------------------------- */

/* caisse.money.split(total, n) -> { n integers summing to total }: each part is
 * total // n truncated toward zero; the remainder goes one unit at a time to
 * the first parts (for a negative total, -1 to the first parts). */
static int lhost_money_split(lua_State *L)
{
    lua_Integer total = check_integer(L, 1);
    lua_Integer n = check_integer(L, 2);
    luaL_argcheck(L, n >= 1 && n <= CS_LUA_SPLIT_PARTS_MAX, 2, "the number of parts must be 1..1000");
    lua_Integer q = total / n, r = total % n;   /* C division truncates; no overflow for n >= 1 */
    lua_Integer step = r < 0 ? -1 : 1;
    lua_Integer extra = r < 0 ? -r : r;
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_pushinteger(L, q + (i <= extra ? step : 0));
        lua_rawseti(L, -2, i);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &jl_array_mt_key);
    lua_setmetatable(L, -2);
    return 1;
}

/* caisse.money.percent(amount, basis_points, rounding) -> amount * bp / 10000
 * rounded: "down" toward zero, "up" away from zero, "half_up" to the nearest
 * with ties away from zero. Raises on overflow. */
static int lhost_money_percent(lua_State *L)
{
    static const char *const modes[] = { "half_up", "down", "up", NULL };
    lua_Integer amount = check_integer(L, 1);
    lua_Integer bp = check_integer(L, 2);
    int mode = luaL_checkoption(L, 3, NULL, modes);
    long long p;
    if (__builtin_mul_overflow((long long)amount, (long long)bp, &p))
        return luaL_error(L, "caisse.money.percent: amount * basis_points overflows");
    long long q = p / 10000, r = p % 10000, sign = p < 0 ? -1 : 1;
    long long ar = r < 0 ? -r : r;
    if ((mode == 2 && ar != 0) || (mode == 0 && ar >= 5000))
        q += sign;
    lua_pushinteger(L, (lua_Integer)q);
    return 1;
}

/* ---- caisse.date ----------------------------------------------------------------- */

static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(long y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Parses a valid "YYYY-MM-DD" (years 0001..9999). Returns 0 or -1. */
static int parse_ymd(const char *s, size_t len, long *y, int *m, int *d)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return 0;
}

/* caisse.date.add_months(ymd, k [, day]) -> "YYYY-MM-DD": k months after ymd
 * (k may be negative), on `day` (default: ymd's day) clamped to the last day
 * of that month. */
static int lhost_date_add_months(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer k = check_integer(L, 2);
    lua_Integer day = lua_isnoneornil(L, 3) ? 0 : check_integer(L, 3);
    long y;
    int m, d;
    if (parse_ymd(s, len, &y, &m, &d) != 0)
        return luaL_argerror(L, 1, "a valid date \"YYYY-MM-DD\" expected");
    luaL_argcheck(L, k >= -CS_LUA_ADD_MONTHS_MAX && k <= CS_LUA_ADD_MONTHS_MAX, 2, "month count out of range");
    luaL_argcheck(L, lua_isnoneornil(L, 3) || (day >= 1 && day <= 31), 3, "day must be 1..31");
    if (day == 0)
        day = d;
    long long total = (long long)y * 12 + (m - 1) + k;
    if (total < 12 || total > 9999LL * 12 + 11)
        return luaL_error(L, "caisse.date.add_months: result outside years 0001..9999");
    long ny = (long)(total / 12);
    int nm = (int)(total % 12) + 1;
    int dim = days_in_month(ny, nm);
    int nd = day > dim ? dim : (int)day;
    char out[16];
    snprintf(out, sizeof out, "%04ld-%02d-%02d", ny, nm, nd);
    lua_pushstring(L, out);
    return 1;
}

/* ---- caisse.array ---------------------------------------------------------------- */

/* caisse.array([t]) -> t marked as a JSON array (so {} becomes [] in JSON). */
static int lhost_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
        if (lua_getmetatable(L, 1)) {
            if (jl_is_marked_array(L, 1)) {
                lua_pop(L, 1);
                return 1;
            }
            return luaL_argerror(L, 1, "the table already has a metatable");
        }
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &jl_array_mt_key);
    lua_setmetatable(L, 1);
    return 1;
}

/* ---- the table --------------------------------------------------------------------- */

static const luaL_Reg policy_fns[] = {
    { "define", lhost_policy_define },
    { "get", lhost_policy_get },
    { NULL, NULL },
};
static const luaL_Reg money_fns[] = {
    { "split", lhost_money_split },
    { "percent", lhost_money_percent },
    { NULL, NULL },
};
static const luaL_Reg date_fns[] = {
    { "add_months", lhost_date_add_months },
    { NULL, NULL },
};
static const luaL_Reg caisse_fns[] = {
    { "log", lhost_log },
    { "array", lhost_array },
    { NULL, NULL },
};

void host_push_caisse(lua_State *L)
{
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &hooks_key);

    luaL_newlib(L, caisse_fns);
    luaL_newlib(L, policy_fns);
    lua_setfield(L, -2, "policy");
    luaL_newlib(L, money_fns);
    lua_setfield(L, -2, "money");
    luaL_newlib(L, date_fns);
    lua_setfield(L, -2, "date");
    lua_pushlightuserdata(L, (void *)&jl_null_tag);
    lua_setfield(L, -2, "null");
}
