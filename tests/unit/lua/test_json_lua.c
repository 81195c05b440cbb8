/* JSON <-> Lua conversion and the caisse.money / caisse.date helpers. */
#include "tests/unit/lua/lua_test_util.h"
#include "core/errors.h"

static const char *const hooks_lua =
    "caisse.policy.define('t.echo', function(input) return input end)\n"
    "caisse.policy.define('t.types', function(i) return {\n"
    "  int = math.type(i.int), real = math.type(i.real), whole_real = math.type(i.whole_real),\n"
    "  null = i.null == caisse.null, nested = i.a.b[2].c, arr_len = #i.arr, empty_arr_len = #i.empty_arr,\n"
    "  big = i.big, big_type = math.type(i.big), bool = type(i.t), str = i.s, missing = i.nothing == nil } end)\n"
    "caisse.policy.define('t.out', function() return {\n"
    "  float = 1.5, whole_float = 2.0, int = 3, null = caisse.null, empty = {}, empty_arr = caisse.array(),\n"
    "  seq = {1, 2, 3}, nested = {a = {b = {{c = 'd'}}}}, t = true, f = false, marked = caisse.array({'x'}) } end)\n"
    "caisse.policy.define('t.bad_fn', function() return {f = tostring} end)\n"
    "caisse.policy.define('t.bad_sparse', function() return {a = {1, 2, nil, 4}} end)\n"
    "caisse.policy.define('t.bad_mixed', function() return {a = {1, x = 2}} end)\n"
    "caisse.policy.define('t.bad_nan', function() return {x = 0/0} end)\n"
    "caisse.policy.define('t.bad_deep_path', function() return {a = {b = caisse.array({1, {c = 1/0}})}} end)\n"
    "caisse.policy.define('t.bad_inf', function() return {x = math.huge} end)\n"
    "caisse.policy.define('t.bad_utf8', function() return {x = '\\xff'} end)\n"
    "caisse.policy.define('t.bad_cycle', function() local t = {} t.self = t return t end)\n"
    "caisse.policy.define('t.bad_array_top', function() return {1, 2} end)\n"
    "caisse.policy.define('t.bad_marked_top', function() return caisse.array() end)\n"
    "caisse.policy.define('t.bad_string_top', function() return 'x' end)\n"
    "caisse.policy.define('t.bad_nil', function() end)\n"
    "caisse.policy.define('t.bad_key', function() return {[true] = 1} end)\n"
    "caisse.policy.define('t.bad_float_key', function() return {[1.5] = 1} end)\n"
    "caisse.policy.define('t.bad_marked', function() return {a = caisse.array({x = 1})} end)\n"
    "caisse.policy.define('t.split', function(i) return {parts = caisse.money.split(i.total, i.n)} end)\n"
    "caisse.policy.define('t.percent', function(i) return {v = caisse.money.percent(i.amount, i.bp, i.mode)} end)\n"
    "caisse.policy.define('t.add_months', function(i) return {d = caisse.date.add_months(i.date, i.k, i.day)} end)\n"
    "caisse.policy.define('t.array_meta', function() local t = caisse.array() return {mt = getmetatable(t),\n"
    "  ok = pcall(setmetatable, t, {})} end)\n"
    "caisse.policy.define('t.define_bad', function() caisse.policy.define('Bad Name', function() end) end)\n"
    "caisse.policy.define('t.log', function() caisse.log('info', 'hello from a test policy') return {} end)\n";

static struct policy_engine *E;

static json_t *run(const char *hook, const char *in, int *rc, struct cs_diag *d)
{
    return call_json(E, hook, in, rc, d);
}

static void test_echo(void)
{
    const char *in = "{\"int\":1,\"real\":1.5,\"whole_real\":2.0,\"null\":null,\"empty_obj\":{},\"empty_arr\":[],"
                     "\"nested\":{\"a\":[1,[2,{\"x\":\"y\"}]]},\"s\":\"\\u00e9t\\u00e9\",\"t\":true,\"f\":false,"
                     "\"big\":9007199254740993,\"neg\":-9223372036854775807}";
    struct cs_diag d;
    int rc;
    json_t *out = run("t.echo", in, &rc, &d);
    json_t *want = json_loads(in, 0, NULL);
    EQ_INT(rc, 0, "echo succeeds");
    OK(json_equal(out, want), "echo round-trips every JSON type ({} stays {}, [] stays [])");
    if (!json_equal(out, want)) {
        char *s = json_dumps(out, JSON_COMPACT);
        printf("#   got %s\n", s ? s : "(null)");
        free(s);
    }
    json_decref(want);
    json_decref(out);

    out = run("t.types", "{\"int\":1,\"real\":1.5,\"whole_real\":2.0,\"null\":null,\"a\":{\"b\":[0,{\"c\":\"deep\"}]},"
              "\"arr\":[1,2,3],\"empty_arr\":[],\"big\":9007199254740993,\"t\":true,\"s\":\"str\"}", &rc, &d);
    EQ_INT(rc, 0, "types succeeds");
    if (rc)
        printf("#   %s\n", d.message);
    EQ_STR(json_string_value(json_object_get(out, "int")), "integer", "JSON integer -> Lua integer");
    EQ_STR(json_string_value(json_object_get(out, "real")), "float", "JSON real -> Lua float");
    EQ_STR(json_string_value(json_object_get(out, "whole_real")), "float", "JSON 2.0 stays a float");
    OK(json_is_true(json_object_get(out, "null")), "JSON null -> caisse.null");
    OK(json_is_true(json_object_get(out, "missing")), "absent key -> nil");
    EQ_STR(json_string_value(json_object_get(out, "nested")), "deep", "nested objects and arrays (1-based)");
    EQ_INT(json_integer_value(json_object_get(out, "arr_len")), 3, "array length");
    EQ_INT(json_integer_value(json_object_get(out, "empty_arr_len")), 0, "empty array length");
    EQ_INT(json_integer_value(json_object_get(out, "big")), 9007199254740993LL, "2^53+1 survives (64-bit integers)");
    EQ_STR(json_string_value(json_object_get(out, "big_type")), "integer", "big stays an integer");
    EQ_STR(json_string_value(json_object_get(out, "bool")), "boolean", "true -> boolean");
    json_decref(out);
}

static void test_out(void)
{
    struct cs_diag d;
    int rc;
    json_t *out = run("t.out", "{}", &rc, &d);
    EQ_INT(rc, 0, "out succeeds");
    OK(json_is_real(json_object_get(out, "float")) && json_real_value(json_object_get(out, "float")) == 1.5,
       "Lua float -> JSON real");
    OK(json_is_real(json_object_get(out, "whole_float")), "Lua 2.0 -> JSON real, not integer");
    OK(json_is_integer(json_object_get(out, "int")) && json_integer_value(json_object_get(out, "int")) == 3,
       "Lua integer -> JSON integer");
    OK(json_is_null(json_object_get(out, "null")), "caisse.null -> null");
    OK(json_is_object(json_object_get(out, "empty")) && json_object_size(json_object_get(out, "empty")) == 0,
       "empty Lua table -> {}");
    OK(json_is_array(json_object_get(out, "empty_arr")) && json_array_size(json_object_get(out, "empty_arr")) == 0,
       "caisse.array() -> []");
    OK(json_is_array(json_object_get(out, "seq")) && json_array_size(json_object_get(out, "seq")) == 3,
       "sequence -> array");
    OK(json_is_array(json_object_get(out, "marked")) && json_array_size(json_object_get(out, "marked")) == 1,
       "caisse.array({'x'}) -> [\"x\"]");
    json_t *c = json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(out, "nested"), "a"), "b"), 0), "c");
    EQ_STR(json_string_value(c), "d", "nested tables");
    OK(json_is_true(json_object_get(out, "t")) && json_is_false(json_object_get(out, "f")), "booleans");
    json_decref(out);

    out = run("t.array_meta", "{}", &rc, &d);
    EQ_STR(json_string_value(json_object_get(out, "mt")), "caisse.array", "array metatable is protected");
    OK(json_is_false(json_object_get(out, "ok")), "array metatable cannot be replaced");
    json_decref(out);
}

static void expect_fail(const char *hook, const char *in, const char *needle)
{
    struct cs_diag d;
    int rc;
    json_t *out = run(hook, in, &rc, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, hook);
    CONTAINS(d.message, needle, hook);
    OK(out == NULL, "%s: no output", hook);
    json_decref(out);
}

static void test_bad_results(void)
{
    expect_fail("t.bad_fn", "{}", "result is not JSON: f: a function value cannot become JSON");
    expect_fail("t.bad_sparse", "{}", "a: a sparse array");
    expect_fail("t.bad_mixed", "{}", "a: a table mixes string and integer keys");
    expect_fail("t.bad_nan", "{}", "x: a NaN or infinite number");
    expect_fail("t.bad_deep_path", "{}", "its result is not JSON: a.b[1].c: a NaN or infinite number");
    expect_fail("t.bad_inf", "{}", "x: a NaN or infinite number");
    expect_fail("t.bad_utf8", "{}", "x: a string is not valid UTF-8");
    expect_fail("t.bad_cycle", "{}", "nested too deeply (or a cycle)");
    expect_fail("t.bad_array_top", "{}", "returned an array, not a table");
    expect_fail("t.bad_marked_top", "{}", "returned an array, not a table");
    expect_fail("t.bad_string_top", "{}", "returned a string value, not a table");
    expect_fail("t.bad_nil", "{}", "returned a nil value, not a table");
    expect_fail("t.bad_key", "{}", "a table key of type boolean");
    expect_fail("t.bad_float_key", "{}", "a table key of type number");
    expect_fail("t.bad_marked", "{}", "a: a table marked as an array must have keys 1..n only");
    expect_fail("t.define_bad", "{}", "a policy name uses a-z");

    /* Input nested deeper than CS_JSON_DEPTH_MAX. */
    char deep[256] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    char in[300];
    snprintf(in, sizeof in, "{\"x\":%s}", deep);
    expect_fail("t.echo", in, "nested deeper than");
}

static void test_split(void)
{
    struct cs_diag d;
    int rc;
    json_t *out = run("t.split", "{\"total\":10001,\"n\":3}", &rc, &d);
    json_t *want = json_loads("{\"parts\":[3334,3334,3333]}", 0, NULL);
    OK(json_equal(out, want), "split(10001, 3) = 3334, 3334, 3333");
    json_decref(out);
    json_decref(want);
    out = run("t.split", "{\"total\":-10,\"n\":3}", &rc, &d);
    want = json_loads("{\"parts\":[-4,-3,-3]}", 0, NULL);
    OK(json_equal(out, want), "split(-10, 3) = -4, -3, -3");
    json_decref(out);
    json_decref(want);
    out = run("t.split", "{\"total\":5,\"n\":1}", &rc, &d);
    want = json_loads("{\"parts\":[5]}", 0, NULL);
    OK(json_equal(out, want), "split(5, 1) = 5");
    json_decref(out);
    json_decref(want);
    expect_fail("t.split", "{\"total\":10,\"n\":0}", "the number of parts must be 1..1000");
    expect_fail("t.split", "{\"total\":10,\"n\":1001}", "the number of parts must be 1..1000");
    expect_fail("t.split", "{\"total\":10.5,\"n\":3}", "integer expected, got float");
    expect_fail("t.split", "{\"total\":\"10\",\"n\":3}", "integer expected, got string");
}

static void test_percent(void)
{
    static const struct { long long amount, bp; const char *mode; long long want; } cases[] = {
        { 10000, 250, "half_up", 250 },
        { 333, 150, "half_up", 5 }, { 333, 150, "down", 4 }, { 333, 150, "up", 5 },
        { 1, 5000, "half_up", 1 }, { 1, 5000, "down", 0 }, { 1, 5000, "up", 1 },
        { 1, 4999, "half_up", 0 }, { 10, 5000, "up", 5 }, { 10, 5000, "down", 5 },
        { -333, 150, "half_up", -5 }, { -333, 150, "down", -4 }, { -333, 150, "up", -5 },
        { -1, 5000, "half_up", -1 }, { 0, 9999, "up", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[160], what[96];
        snprintf(in, sizeof in, "{\"amount\":%lld,\"bp\":%lld,\"mode\":\"%s\"}", cases[i].amount, cases[i].bp,
                 cases[i].mode);
        snprintf(what, sizeof what, "percent(%lld, %lld, %s)", cases[i].amount, cases[i].bp, cases[i].mode);
        struct cs_diag d;
        int rc;
        json_t *out = run("t.percent", in, &rc, &d);
        EQ_INT(json_integer_value(json_object_get(out, "v")), cases[i].want, what);
        json_decref(out);
    }
    expect_fail("t.percent", "{\"amount\":9223372036854775807,\"bp\":2,\"mode\":\"down\"}", "overflows");
    expect_fail("t.percent", "{\"amount\":100,\"bp\":2,\"mode\":\"nearest\"}", "invalid option 'nearest'");
    expect_fail("t.percent", "{\"amount\":100,\"bp\":2}", "string expected, got nil");
    expect_fail("t.percent", "{\"amount\":100,\"bp\":2.5,\"mode\":\"up\"}", "integer expected, got float");
}

static void test_add_months(void)
{
    static const struct { const char *date; int k; int day; const char *want; } cases[] = {
        { "2026-01-31", 1, 0, "2026-02-28" }, { "2024-01-31", 1, 0, "2024-02-29" },
        { "2100-01-31", 1, 0, "2100-02-28" }, { "2000-01-31", 1, 0, "2000-02-29" },
        { "2026-01-31", 13, 0, "2027-02-28" }, { "2026-03-31", -1, 0, "2026-02-28" },
        { "2026-02-28", 1, 31, "2026-03-31" }, { "2026-12-15", 1, 0, "2027-01-15" },
        { "2026-01-15", -13, 0, "2024-12-15" }, { "2026-05-31", 0, 0, "2026-05-31" },
        { "2026-08-31", 1, 0, "2026-09-30" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[160], what[96], day[32] = "";
        if (cases[i].day)
            snprintf(day, sizeof day, ",\"day\":%d", cases[i].day);
        snprintf(in, sizeof in, "{\"date\":\"%s\",\"k\":%d%s}", cases[i].date, cases[i].k, day);
        snprintf(what, sizeof what, "add_months(%s, %d, %d)", cases[i].date, cases[i].k, cases[i].day);
        struct cs_diag d;
        int rc;
        json_t *out = run("t.add_months", in, &rc, &d);
        EQ_STR(json_string_value(json_object_get(out, "d")), cases[i].want, what);
        json_decref(out);
    }
    expect_fail("t.add_months", "{\"date\":\"2026-02-30\",\"k\":1}", "a valid date \"YYYY-MM-DD\" expected");
    expect_fail("t.add_months", "{\"date\":\"2026-1-31\",\"k\":1}", "a valid date \"YYYY-MM-DD\" expected");
    expect_fail("t.add_months", "{\"date\":\"2026-01-31\",\"k\":1.0}", "integer expected, got float");
    expect_fail("t.add_months", "{\"date\":\"9999-12-01\",\"k\":1}", "outside years 0001..9999");
    expect_fail("t.add_months", "{\"date\":\"2026-01-01\",\"k\":9223372036854775807}", "month count out of range");
    expect_fail("t.add_months", "{\"date\":\"2026-01-01\",\"k\":1,\"day\":32}", "day must be 1..31");
}

int main(void)
{
    struct cs_diag d;
    E = engine_with(hooks_lua, NULL, &d);
    OK(E != NULL, "engine with the conversion hooks");
    if (!E) {
        printf("#   %s\n", d.message);
        return tap_done();
    }
    test_echo();
    test_out();
    test_bad_results();
    test_split();
    test_percent();
    test_add_months();
    int rc;
    json_t *out = run("t.log", "{}", &rc, &d);
    EQ_INT(rc, 0, "caisse.log works");
    json_decref(out);
    policy_engine_free(E);
    return tap_done();
}
