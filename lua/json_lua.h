#ifndef CAISSE_JSON_LUA_H
#define CAISSE_JSON_LUA_H
/* JSON <-> Lua conversion for the policy engine (internal to lua/).
 *
 *   JSON            Lua
 *   object          table (string keys)
 *   array           sequence carrying the array mark (caisse.array), so an
 *                   empty array survives a round trip as []
 *   integer         integer (json_int_t = 64 bits = lua_Integer)
 *   real            float
 *   string          string (bytes; must be UTF-8 on the way out)
 *   true/false      boolean
 *   null            caisse.null (a light userdata)
 *
 * A table without the array mark is an array if its keys are exactly 1..n
 * (n >= 1), an object if all its keys are strings; an empty unmarked table is
 * an object. Anything else (mixed or sparse keys, functions, NaN, invalid
 * UTF-8, nesting deeper than CS_JSON_DEPTH_MAX) is an error. */
#include <stddef.h>
#include <jansson.h>
#include <lua.h>

/* Registry keys (light userdata addresses) and the null sentinel. */
extern const char jl_array_mt_key;   /* registry[&jl_array_mt_key] = the array metatable */
extern const char jl_null_tag;       /* caisse.null == lightuserdata(&jl_null_tag) */

/* Creates the array metatable in the registry. Raises on memory errors. */
void jl_init(lua_State *L);

/* Pushes `v` as a Lua value. Raises a Lua error (call it protected). */
void jl_push(lua_State *L, const json_t *v);

/* Converts the value at `idx` to a new JSON reference. Never raises and never
 * allocates in Lua (safe outside a protected call). On failure returns NULL and
 * writes "path: reason" into err. */
json_t *jl_to_json(lua_State *L, int idx, char *err, size_t errcap);

/* Nonzero if the value at idx carries the array mark. */
int jl_is_marked_array(lua_State *L, int idx);

#endif
