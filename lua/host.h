#ifndef CAISSE_HOST_H
#define CAISSE_HOST_H
/* The `caisse` table seen by policies (internal to lua/; documented in
 * policy.h and docs/policies.md). */
#include <lua.h>

/* Pushes a new `caisse` table (policy, log, money, date, null, array) and
 * creates the hook registry. Raises on memory errors (call it protected). */
void host_push_caisse(lua_State *L);

/* Pushes the hook defined under `name`, or nil. */
void host_push_hook(lua_State *L, const char *name);

#endif
