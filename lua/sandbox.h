#ifndef CAISSE_SANDBOX_H
#define CAISSE_SANDBOX_H
/* One sandboxed lua_State (internal to lua/; the public face is policy.h).
 *
 * A sandbox is built from an ordered list of sources (the built-in policies,
 * then the overrides). Every piece of Lua it runs -- each file's top level and
 * each hook call -- runs through sb_run(), the one place where Lua failures
 * become a struct cs_diag, under:
 *   - an instruction budget: a count hook every CS_LUA_HOOK_INSTRUCTIONS; once
 *     the budget is spent it re-arms itself on every instruction and raises
 *     each time, so a pcall inside the script cannot swallow it;
 *   - a memory cap: the allocator refuses to grow past memory_bytes_max; the
 *     first refusal also trips the hook, so a script that catches the memory
 *     error with pcall still fails.
 * After either, the sandbox is "tainted": the owner must free it and build a
 * new one from the same sources before the next call. */
#include <stddef.h>
#include <jansson.h>
#include <lua.h>
#include "core/errors.h"

struct sandbox;

struct sandbox_source {
    const char *name;       /* shown in diagnostics: "plans.lua", "/etc/caisse/policy/10-fr.lua" */
    const char *chunkname;  /* Lua chunk name: "=plans.lua" or "@/etc/caisse/policy/10-fr.lua" */
    const char *text;
    size_t len;
};

struct sandbox_limits {
    unsigned instructions_max;  /* per run (each file's top level, each call) */
    size_t memory_bytes_max;    /* for the whole state */
};

/* How a plugin runtime (lua/plugin.c) extends a sandbox: `extend` runs
 * protected during setup with the new `caisse` table on top of the stack and
 * may add fields to it; `label` names the sources in diagnostics ("plugin
 * file woo/plugin.lua ..."; default "policy"). */
struct sandbox_ext {
    void (*extend)(lua_State *L, void *ud);
    void *ud;
    const char *label;
};

/* Builds a state and runs every source in order. Returns 0 or
 * CS_EPOLICYFAIL (d names the file and source:line) / CS_ENOMEM. */
int sandbox_new(const struct sandbox_limits *lim, const struct sandbox_source *src, size_t n,
                struct sandbox **out, struct cs_diag *d);
/* sandbox_new with an extension (ext may be NULL). */
int sandbox_new_ext(const struct sandbox_limits *lim, const struct sandbox_source *src, size_t n,
                    const struct sandbox_ext *ext, struct sandbox **out, struct cs_diag *d);
void sandbox_free(struct sandbox *sb);

/* Runs fn(L) with the light userdata `ud` as its one argument, protected and
 * under the budget and the cap, like a hook call; `what` names it in d
 * ("plugin woocommerce"). fn reports its results through ud. Returns 0 or
 * CS_EPOLICYFAIL. */
int sandbox_protected(struct sandbox *sb, lua_CFunction fn, void *ud, const char *what,
                      struct cs_diag *d);

/* Calls hook `name` with `input` (borrowed). On success *output is a new
 * reference to a JSON object. Returns 0, CS_ENOTFOUND or CS_EPOLICYFAIL. */
int sandbox_call(struct sandbox *sb, const char *name, json_t *input, json_t **output,
                 struct cs_diag *d);

/* Nonzero once a run hit the instruction budget or the memory cap. */
int sandbox_tainted(const struct sandbox *sb);

/* Bytes currently allocated by the state (tests, metrics). */
size_t sandbox_memory_bytes(const struct sandbox *sb);

#endif
