#ifndef CAISSE_POLICY_H
#define CAISSE_POLICY_H
/* The Lua policy engine: one sandboxed lua_State per executing thread, loaded
 * with the built-in policies (the .lua files of lua/policy, compiled into the binary) and
 * then the operator's override files (a directory of *.lua, loaded in name
 * order). A policy is a named hook ("plans.offer", "risk.decide") holding a
 * Lua function of one table to one table.
 *
 * The sandbox (lua/sandbox.c): base (without dofile, loadfile, require,
 * collectgarbage, print*, and load restricted to text chunks in the sandbox
 * environment), string (without dump), table, math, utf8; no io, os, debug,
 * package. Every call runs under an instruction budget (a count hook that
 * stays armed, so pcall cannot swallow it) and a memory cap (a capping
 * allocator). A policy that raises, runs out of budget or memory fails that
 * call with a diagnostic naming the hook and source:line; the engine stays
 * usable (its state is rebuilt from the same sources if the failure left it in
 * doubt).
 *
 * The Lua side sees a global `caisse` table:
 *   caisse.policy.define(name, fn)   -- defines or replaces a hook
 *   caisse.policy.get(name)          -- the current function (to wrap it)
 *   caisse.log(level, msg)           -- to the server log ("info", "warn", "error")
 *   caisse.money.split(total, n)     -- n integer parts summing to total; the
 *                                    -- remainder goes to the first parts (explicit rounding)
 *   caisse.money.percent(amount, basis_points, rounding) -- "half_up" | "down" | "up"
 *   caisse.date.add_months(ymd, k, day) -- "YYYY-MM-DD" k months later on `day`
 *                                    -- (clamped to the month's last day; day defaults to ymd's)
 *   caisse.array([t])                -- marks t (default: a new table) as a JSON array
 *   caisse.null                      -- JSON null
 *
 * JSON <-> Lua: objects are tables, arrays are sequences, integers stay Lua
 * integers (money is integral minor units), reals are floats, null is
 * `caisse.null`. An empty table becomes {} unless marked with caisse.array
 * (arrays coming from JSON carry the mark, so [] round-trips). Returning a
 * table with a float where an integer is expected is the caller's error to
 * report. docs/policies.md documents the hooks' input and output tables. */
#include <jansson.h>
#include "core/errors.h"

struct policy_engine;

struct policy_options {
    const char *override_dir;     /* NULL: built-ins only */
    unsigned instructions_max;    /* 0: CS_LUA_INSTRUCTIONS_MAX */
    size_t memory_bytes_max;      /* 0: CS_LUA_MEMORY_BYTES_MAX */
};

/* Builds an engine: loads built-ins then overrides. On a load error returns it
 * (d names the file and line) and *out is NULL. */
int policy_engine_new(const struct policy_options *o, struct policy_engine **out, struct cs_diag *d);
void policy_engine_free(struct policy_engine *e);

/* Re-reads the override directory into a new state; swaps it in only if every
 * file loads, else keeps the old one and returns the error. */
int policy_engine_reload(struct policy_engine *e, struct cs_diag *d);

/* Calls hook `name` with `input` (borrowed). On success *output is a new
 * reference to a JSON object. Errors: CS_EPOLICYFAIL (raised, budget, memory,
 * bad return type; d->message says which, with source:line), CS_ENOTFOUND (no
 * such hook). */
int policy_call(struct policy_engine *e, const char *name, json_t *input, json_t **output,
                struct cs_diag *d);

/* Number of successful reloads since creation (for tests and /metrics). */
unsigned policy_engine_generation(const struct policy_engine *e);

/* Per-merchant overrides (Lua plugins, lua/plugin.h plugins_policy_call).
 * When a resolver is set, policy_call asks it first; it answers the call
 * (0 or an error) or CS_ENOTFOUND to let the engine's own hook answer. It may
 * call `base` (the engine's hook, never the resolver again) any number of
 * times. Loop thread only, like every call. */
typedef int (*policy_base_fn)(void *base_ctx, json_t *input, json_t **output, struct cs_diag *d);
typedef int (*policy_resolver_fn)(void *ctx, const char *name, json_t *input, policy_base_fn base,
                                  void *base_ctx, json_t **output, struct cs_diag *d);
void policy_engine_set_resolver(struct policy_engine *e, policy_resolver_fn fn, void *ctx);

#endif
