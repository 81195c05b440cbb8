/* JSON <-> Lua conversion (see json_lua.h for the mapping). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <lauxlib.h>
#include "core/limits.h"
#include "lua/json_lua.h"

const char jl_array_mt_key = 0;
const char jl_null_tag = 0;

void jl_init(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "caisse.array");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "caisse.array");
    lua_setfield(L, -2, "__metatable");   /* scripts can neither read nor replace it */
    lua_rawsetp(L, LUA_REGISTRYINDEX, &jl_array_mt_key);
}

int jl_is_marked_array(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &jl_array_mt_key);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* ---- JSON -> Lua (raises) ------------------------------------------------ */

static void jl_push_depth(lua_State *L, const json_t *v, unsigned depth)
{
    if (depth > CS_JSON_DEPTH_MAX)
        luaL_error(L, "policy input nested deeper than %d levels", (int)CS_JSON_DEPTH_MAX);
    luaL_checkstack(L, 4, "policy input");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len;
        json_t *val;
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_keylen_foreach((json_t *)v, key, key_len, val) {
            lua_pushlstring(L, key, key_len);
            jl_push_depth(L, val, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, n > 1024 ? 1024 : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            jl_push_depth(L, json_array_get(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &jl_array_mt_key);
        lua_setmetatable(L, -2);
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, (lua_Number)json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    case JSON_NULL:
    default:
        lua_pushlightuserdata(L, (void *)&jl_null_tag);
        break;
    }
}

void jl_push(lua_State *L, const json_t *v)
{
    if (!v)
        luaL_error(L, "policy input is missing");
    jl_push_depth(L, v, 1);
}

/* ---- Lua -> JSON (never raises, never allocates Lua memory) --------------- */

/* Where the conversion is: one frame per step down from the result, so the
 * path an error names ("offers[0].schedule") is printed only for an error,
 * not for every member of every result. */
struct jl_frame {
    const struct jl_frame *up;   /* NULL: a member of the result itself */
    const char *key;             /* NULL: an array element */
    size_t key_len;
    lua_Integer index;           /* 0-based, of an array element */
};

struct jl_out {
    char *err;
    size_t errcap;
};

/* The path of frame f ("" for the result itself), each step appended within
 * cap as the error has always named it. */
static void jl_path(const struct jl_frame *f, char *path, size_t cap)
{
    if (!f) {
        path[0] = '\0';
        return;
    }
    jl_path(f->up, path, cap);
    size_t plen = strlen(path);
    if (f->key)
        snprintf(path + plen, cap - plen, "%s%.*s", plen ? "." : "", (int)(f->key_len > 64 ? 64 : f->key_len),
                 f->key);
    else
        snprintf(path + plen, cap - plen, "[%lld]", (long long)f->index);
}

static json_t *jl_fail(struct jl_out *o, const struct jl_frame *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *jl_fail(struct jl_out *o, const struct jl_frame *f, const char *fmt, ...)
{
    char path[192];
    jl_path(f, path, sizeof path);
    snprintf(o->err, o->errcap, "%s: ", path[0] ? path : "(result)");
    size_t n = strlen(o->err);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->err + n, o->errcap - n, fmt, ap);
    va_end(ap);
    return NULL;
}

static json_t *jl_value(lua_State *L, int idx, struct jl_out *o, const struct jl_frame *f, unsigned depth);

/* Classifies the table at idx: returns 1 (array of *n items), 0 (object), -1 error. */
static int jl_classify(lua_State *L, int idx, struct jl_out *o, const struct jl_frame *f, lua_Integer *n)
{
    int marked = jl_is_marked_array(L, idx);
    lua_Integer count = 0, max = 0;
    int strings = 0, ints = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings++;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            ints++;
            if (lua_tointeger(L, -1) > max)
                max = lua_tointeger(L, -1);
        } else {
            jl_fail(o, f, "a table key of type %s cannot become JSON (only strings, or integers 1..n)",
                    lua_isinteger(L, -1) ? "non-positive integer" : luaL_typename(L, -1));
            lua_pop(L, 1);
            return -1;
        }
    }
    *n = count;
    if (marked) {
        if (strings || max != count) {
            jl_fail(o, f, "%s", "a table marked as an array must have keys 1..n only");
            return -1;
        }
        return 1;
    }
    if (count == 0 || ints == 0)
        return 0;
    if (strings) {
        jl_fail(o, f, "%s", "a table mixes string and integer keys");
        return -1;
    }
    if (max != count) {
        jl_fail(o, f, "%s", "a sparse array (keys not exactly 1..n) cannot become JSON");
        return -1;
    }
    return 1;
}

static json_t *jl_table(lua_State *L, int idx, struct jl_out *o, const struct jl_frame *f, unsigned depth)
{
    lua_Integer n;
    int kind = jl_classify(L, idx, o, f, &n);
    if (kind < 0)
        return NULL;
    json_t *out = kind ? json_array() : json_object();
    if (!out)
        return jl_fail(o, f, "%s", "out of memory");
    struct jl_frame child = { f, NULL, 0, 0 };
    if (kind) {
        for (lua_Integer i = 1; i <= n; i++) {
            child.index = i - 1;
            lua_rawgeti(L, idx, i);
            json_t *v = jl_value(L, lua_gettop(L), o, &child, depth + 1);
            lua_pop(L, 1);
            if (!v || json_array_append_new(out, v) != 0) {
                if (v)
                    jl_fail(o, &child, "%s", "out of memory");
                json_decref(out);
                return NULL;
            }
        }
    } else {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            child.key = lua_tolstring(L, -2, &child.key_len); /* a string: no conversion */
            json_t *v = jl_value(L, lua_gettop(L), o, &child, depth + 1);
            lua_pop(L, 1);
            if (!v) {
                lua_pop(L, 1);
                json_decref(out);
                return NULL;
            }
            if (json_object_setn_new(out, child.key, child.key_len, v) != 0) {
                jl_fail(o, &child, "%s", "a key is not valid UTF-8");   /* while the key is on the stack */
                lua_pop(L, 1);
                json_decref(out);
                return NULL;
            }
        }
    }
    return out;
}

static json_t *jl_value(lua_State *L, int idx, struct jl_out *o, const struct jl_frame *f, unsigned depth)
{
    if (depth > CS_JSON_DEPTH_MAX)
        return jl_fail(o, f, "%s", "nested too deeply (or a cycle)");
    if (!lua_checkstack(L, 4))
        return jl_fail(o, f, "%s", "Lua stack exhausted");
    json_t *v = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TTABLE:
        return jl_table(L, idx, o, f, depth);
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            v = json_integer((json_int_t)lua_tointeger(L, idx));
        } else {
            double d = (double)lua_tonumber(L, idx);
            if (!isfinite(d))
                return jl_fail(o, f, "%s", "a NaN or infinite number cannot become JSON");
            v = json_real(d);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        v = json_stringn(s, len);
        if (!v)
            return jl_fail(o, f, "%s", "a string is not valid UTF-8");
        break;
    }
    case LUA_TBOOLEAN:
        v = json_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == (void *)&jl_null_tag) {
            v = json_null();
            break;
        }
        /* fall through */
    default:
        return jl_fail(o, f, "a %s value cannot become JSON", lua_typename(L, lua_type(L, idx)));
    }
    if (!v)
        return jl_fail(o, f, "%s", "out of memory");
    return v;
}

json_t *jl_to_json(lua_State *L, int idx, char *err, size_t errcap)
{
    struct jl_out o = { err, errcap };
    idx = lua_absindex(L, idx);
    return jl_value(L, idx, &o, NULL, 1);
}
