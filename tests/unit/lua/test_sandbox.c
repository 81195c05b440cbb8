/* The sandbox: what a policy cannot reach, the budgets it cannot escape,
 * diagnostics with source:line, and reloads that swap only on success. */
#include "tests/unit/lua/lua_test_util.h"
#include "core/errors.h"

/* Line numbers matter: tests check "50-test.lua:<line>:". */
static const char *const escapes_lua =
    "caisse.policy.define('t.os', function() os.execute('true') return {} end)\n"           /* 1 */
    "caisse.policy.define('t.io', function() io.open('/etc/passwd') return {} end)\n"       /* 2 */
    "caisse.policy.define('t.require', function() require('os') return {} end)\n"           /* 3 */
    "caisse.policy.define('t.debug', function() debug.getinfo(1) return {} end)\n"          /* 4 */
    "caisse.policy.define('t.dump', function() string.dump(print or tostring) return {} end)\n" /* 5 */
    "caisse.policy.define('t.dump_method', function() return {f = ('').dump(tostring)} end)\n" /* 6 */
    "caisse.policy.define('t.binary', function()\n"                                          /* 7 */
    "  local f, err = load(string.char(27) .. 'Lua')\n"                                      /* 8 */
    "  assert(f, err)\n"                                                                     /* 9 */
    "  return {}\n"
    "end)\n"
    "caisse.policy.define('t.mode_b', function() assert(load('return 1', 'x', 'b')) return {} end)\n" /* 12 */
    "caisse.policy.define('t.load_ok', function()\n"
    "  local f = assert(load('return type(caisse.money.split), type(os)'))\n"
    "  local a, b = f()\n"
    "  return {split = a, os = b}\n"
    "end)\n"
    "caisse.policy.define('t.globals', function() return {\n"
    "  dofile = type(dofile), loadfile = type(loadfile), collectgarbage = type(collectgarbage),\n"
    "  print = type(print), os = type(os), io = type(io), package = type(package),\n"
    "  debug = type(debug), require = type(require), coroutine = type(coroutine),\n"
    "  string = type(string), table = type(table), math = type(math), utf8 = type(utf8),\n"
    "  pcall = type(pcall), dump = type(string.dump), g = _G == _ENV } end)\n"
    "caisse.policy.define('t.gc', function() setmetatable({}, {__gc = function() end}) return {} end)\n" /* 24 */
    "caisse.policy.define('t.raise', function(input)\n"                                     /* 25 */
    "  local x = input.missing\n"                                                            /* 26 */
    "  return x.field\n"                                                                     /* 27 */
    "end)\n"
    "caisse.policy.define('t.raise_table', function() error({code = 1}) end)\n"            /* 29 */
    "caisse.policy.define('t.raise_level0', function() error('plain', 0) end)\n"           /* 30 */
    "n = 0\n"
    "caisse.policy.define('t.count', function() n = n + 1 return {n = n} end)\n"
    "caisse.policy.define('t.loop', function() while true do end end)\n"                   /* 33 */
    "caisse.policy.define('t.pcall_loop', function()\n"
    "  pcall(function() while true do end end)\n"
    "  return {swallowed = true}\n"
    "end)\n"
    "caisse.policy.define('t.pcall_forever', function()\n"
    "  while true do pcall(function() while true do end end) end\n"
    "end)\n"
    "caisse.policy.define('t.membomb', function()\n"
    "  local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) end\n"
    "  return {}\n"
    "end)\n"
    "caisse.policy.define('t.membomb_pcall', function()\n"
    "  pcall(function() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) end end)\n"
    "  return {swallowed = true}\n"
    "end)\n"
    "caisse.policy.define('t.bigstring', function() return {s = string.rep('x', 1 << 30)} end)\n"
    "caisse.policy.define('t.spin', function(input) local s = 0 for i = 1, input.n do s = s + i end return {s = s} end)\n"
    "local default = caisse.policy.get('risk.decide')\n"
    "caisse.policy.define('risk.decide', function(input)\n"
    "  if input.country == 'PT' then return {decision = 'review'} end\n"
    "  return default(input)\n"
    "end)\n";

static void expect_fail(struct policy_engine *e, const char *hook, const char *needle, const char *what)
{
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, hook, "{}", &rc, &d);
    char w[160];
    snprintf(w, sizeof w, "%s: CS_EPOLICYFAIL", what);
    EQ_INT(rc, CS_EPOLICYFAIL, w);
    snprintf(w, sizeof w, "%s: diagnostic", what);
    CONTAINS(d.message, needle, w);
    OK(out == NULL, "%s: no output", what);
    json_decref(out);
}

static int64_t call_int(struct policy_engine *e, const char *hook, const char *in, const char *key)
{
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, hook, in, &rc, &d);
    if (rc)
        printf("#   %s\n", d.message);
    json_t *v = json_object_get(out, key);
    int64_t r = json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
    json_decref(out);
    return r;
}

static void test_escapes(struct policy_engine *e)
{
    expect_fail(e, "t.os", "50-test.lua:1: attempt to index a nil value (global 'os')", "os.execute");
    expect_fail(e, "t.io", "50-test.lua:2: attempt to index a nil value (global 'io')", "io.open");
    expect_fail(e, "t.require", "50-test.lua:3: attempt to call a nil value (global 'require')", "require");
    expect_fail(e, "t.debug", "50-test.lua:4: attempt to index a nil value (global 'debug')", "debug.getinfo");
    expect_fail(e, "t.dump", "50-test.lua:5: attempt to call a nil value (field 'dump')", "string.dump");
    expect_fail(e, "t.dump_method", "50-test.lua:6: attempt to call a nil value (field 'dump')", "(''):dump");
    expect_fail(e, "t.binary", "50-test.lua:9: attempt to load a binary chunk", "load of a binary chunk");
    expect_fail(e, "t.mode_b", "only text chunks", "load with mode 'b'");
    expect_fail(e, "t.gc", "__gc metamethods are not allowed", "setmetatable with __gc");

    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "t.load_ok", "{}", &rc, &d);
    EQ_INT(rc, 0, "load of a text chunk works");
    EQ_STR(json_string_value(json_object_get(out, "split")), "function", "loaded chunk sees caisse");
    EQ_STR(json_string_value(json_object_get(out, "os")), "nil", "loaded chunk does not see os");
    json_decref(out);

    out = call_json(e, "t.globals", "{}", &rc, &d);
    EQ_INT(rc, 0, "globals listing runs");
    static const char *const absent[] = { "dofile", "loadfile", "collectgarbage", "print", "os", "io",
                                          "package", "debug", "require", "coroutine", "dump", NULL };
    for (const char *const *k = absent; *k; k++) {
        char w[64];
        snprintf(w, sizeof w, "no %s in the sandbox", *k);
        EQ_STR(json_string_value(json_object_get(out, *k)), "nil", w);
    }
    static const char *const present[] = { "string", "table", "math", "utf8", NULL };
    for (const char *const *k = present; *k; k++) {
        char w[64];
        snprintf(w, sizeof w, "%s in the sandbox", *k);
        EQ_STR(json_string_value(json_object_get(out, *k)), "table", w);
    }
    OK(json_is_true(json_object_get(out, "g")), "_G is the sandbox environment");
    json_decref(out);
}

static void test_errors(struct policy_engine *e)
{
    expect_fail(e, "t.raise", "policy t.raise failed: ", "raising policy");
    expect_fail(e, "t.raise", "50-test.lua:27: attempt to index a nil value (local 'x')", "raising policy: file:line");
    expect_fail(e, "t.raise_table", "50-test.lua:29: (error object is a table value)", "error({}): file:line");
    expect_fail(e, "t.raise_level0", "50-test.lua:30: plain", "error(msg, 0): file:line added");
}

static void test_budgets(struct policy_engine *e)
{
    EQ_INT(call_int(e, "t.count", "{}", "n"), 1, "counter 1");
    EQ_INT(call_int(e, "t.count", "{}", "n"), 2, "counter 2 (same state)");

    expect_fail(e, "t.loop", "policy t.loop exceeded its instruction budget (at ", "while true do end");
    expect_fail(e, "t.loop", "50-test.lua:33)", "budget message names the line");
    EQ_INT(call_int(e, "t.count", "{}", "n"), 1, "state rebuilt after the budget failure");
    EQ_INT(call_int(e, "t.count", "{}", "n"), 2, "and usable");

    expect_fail(e, "t.pcall_loop", "exceeded its instruction budget", "pcall cannot swallow the budget");
    expect_fail(e, "t.pcall_forever", "exceeded its instruction budget", "a loop around pcall cannot either");

    expect_fail(e, "t.membomb", "policy t.membomb exceeded its memory cap", "memory bomb");
    EQ_INT(call_int(e, "t.count", "{}", "n"), 1, "next call works after the memory bomb (rebuilt)");
    expect_fail(e, "t.membomb_pcall", "exceeded its memory cap", "pcall cannot swallow the memory cap");
    expect_fail(e, "t.bigstring", "exceeded its memory cap", "string.rep of 1 GiB");
    EQ_INT(call_int(e, "t.spin", "{\"n\":1000}", "s"), 500500, "a modest loop is fine");
}

static void test_wrap(struct policy_engine *e)
{
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "risk.decide",
        "{\"country\":\"PT\",\"purchase_date\":\"2026-01-31\",\"livemode\":false,"
        "\"customer\":{\"email\":\"a@b.c\",\"birth_date\":\"1990-01-01\"}}", &rc, &d);
    EQ_STR(json_string_value(json_object_get(out, "decision")), "review", "override wraps risk.decide (PT)");
    json_decref(out);
    out = call_json(e, "risk.decide",
        "{\"country\":\"FR\",\"purchase_date\":\"2026-01-31\",\"livemode\":false,"
        "\"customer\":{\"email\":\"a+reject@b.c\",\"birth_date\":\"1990-01-01\"}}", &rc, &d);
    EQ_STR(json_string_value(json_object_get(out, "decision")), "rejected", "wrapped default still applies (FR)");
    json_decref(out);
}

static void test_options(void)
{
    char *dir = tdir_new();
    tdir_write(dir, "10-spin.lua",
               "caisse.policy.define('t.spin', function(input) local s = 0 for i = 1, input.n do s = s + i end return {s = s} end)\n");
    struct policy_options o = { .override_dir = dir, .instructions_max = 20000 };
    struct policy_engine *e = NULL;
    struct cs_diag d;
    EQ_INT(policy_engine_new(&o, &e, &d), 0, "engine with a small budget");
    EQ_INT(call_int(e, "t.spin", "{\"n\":100}", "s"), 5050, "small loop within a small budget");
    expect_fail(e, "t.spin", "10-spin.lua:1: bad 'for' limit", "spin without n: an ordinary error");
    int rc;
    json_t *out = call_json(e, "t.spin", "{\"n\":100000}", &rc, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, "instructions_max is honoured");
    CONTAINS(d.message, "exceeded its instruction budget", "instructions_max: budget message");
    json_decref(out);
    policy_engine_free(e);

    /* A top-level loop in an override: the engine is refused, naming the file. */
    tdir_write(dir, "20-hang.lua", "while true do end\n");
    o.instructions_max = 0;
    e = NULL;
    rc = policy_engine_new(&o, &e, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, "top-level loop in an override: engine refused");
    CONTAINS(d.message, "20-hang.lua exceeded its instruction budget", "names the file");
    OK(e == NULL, "no engine");
    tdir_free(dir);
}

static void test_reload(void)
{
    char *dir = tdir_new();
    tdir_write(dir, "50-v.lua", "caisse.policy.define('t.v', function() return {v = 1} end)\n");
    struct policy_options o = { .override_dir = dir };
    struct policy_engine *e = NULL;
    struct cs_diag d;
    EQ_INT(policy_engine_new(&o, &e, &d), 0, "engine for reload");
    EQ_INT(call_int(e, "t.v", "{}", "v"), 1, "v = 1 before reload");
    EQ_INT(policy_engine_generation(e), 0, "generation 0");

    tdir_write(dir, "50-v.lua", "caisse.policy.define('t.v', function() return {v = 2} end)\n");
    EQ_INT(call_int(e, "t.v", "{}", "v"), 1, "file changed, not reloaded: still 1");
    EQ_INT(policy_engine_reload(e, &d), 0, "reload succeeds");
    EQ_INT(call_int(e, "t.v", "{}", "v"), 2, "v = 2 after reload");
    EQ_INT(policy_engine_generation(e), 1, "generation 1");

    tdir_write(dir, "50-v.lua", "caisse.policy.define('t.v', function() return {v = 3} end)\nthis is not lua\n");
    int rc = policy_engine_reload(e, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, "reload of a broken file fails");
    CONTAINS(d.message, "50-v.lua:2:", "syntax error names file:line");
    EQ_INT(call_int(e, "t.v", "{}", "v"), 2, "old behaviour kept after a failed reload");
    EQ_INT(policy_engine_generation(e), 1, "generation unchanged");

    tdir_write(dir, "50-v.lua", "caisse.policy.define('t.v', function() return {v = 4} end)\n");
    tdir_write(dir, "60-raise.lua", "local x\n\nx.y = 1\n");
    rc = policy_engine_reload(e, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, "reload with a file raising at load fails");
    CONTAINS(d.message, "60-raise.lua:3: attempt to index a nil value", "runtime load error names file:line");
    EQ_INT(call_int(e, "t.v", "{}", "v"), 2, "old behaviour kept again");

    /* Name order: 70 redefines what 60 defined. */
    tdir_write(dir, "60-raise.lua", "caisse.policy.define('t.v', function() return {v = 60} end)\n");
    tdir_write(dir, "70-last.lua", "caisse.policy.define('t.v', function() return {v = 70} end)\n");
    tdir_write(dir, "README.txt", "not a policy\n");
    EQ_INT(policy_engine_reload(e, &d), 0, "reload with three files");
    EQ_INT(call_int(e, "t.v", "{}", "v"), 70, "files load in name order; the last definition wins");
    policy_engine_free(e);
    tdir_free(dir);

    e = NULL;
    o.override_dir = "/nonexistent/caisse-policies";
    rc = policy_engine_new(&o, &e, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, "missing override directory: error");
    CONTAINS(d.message, "/nonexistent/caisse-policies", "names the directory");
}

int main(void)
{
    struct cs_diag d;
    char *dir = NULL;
    struct policy_engine *e = engine_with(escapes_lua, &dir, &d);
    OK(e != NULL, "engine with the test override");
    if (!e) {
        printf("#   %s\n", d.message);
        return tap_done();
    }
    test_escapes(e);
    test_errors(e);
    test_budgets(e);
    test_wrap(e);
    policy_engine_free(e);
    tdir_free(dir);
    test_options();
    test_reload();
    return tap_done();
}
