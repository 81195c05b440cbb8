/* Request validation names the offending field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/json_in.h"
#include "core/errors.h"
#include "tests/unit/tap.h"

/* What jin_parse answered before it had a fast path: jansson's parse, its
 * message, then the same checks. */
static void old_jin_parse(const char *body, size_t len, json_t **out, char *msg, size_t cap)
{
    json_error_t e;
    *out = NULL;
    msg[0] = 0;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!v)
        snprintf(msg, cap, "the body is not valid JSON: %s at line %d column %d", e.text, e.line, e.column);
    else if (!json_is_object(v))
        snprintf(msg, cap, "the body must be a JSON object");
    else
        *out = v;
    if (!*out)
        json_decref(v);
}

/* jin_parse gives what jansson gives: the same tree, members in the same
 * order, or the same refusal. Depth is checked after either parse. */
static int same_parse(const char *body, size_t len, const char *what)
{
    json_t *got = NULL, *want = NULL;
    struct cs_diag d = {0};
    char msg[300];
    int rc = jin_parse(body, len, &got, &d);
    old_jin_parse(body, len, &want, msg, sizeof msg);
    int same;
    if (!want) {
        same = rc == CS_EJSON && strcmp(d.message, msg) == 0;
    } else if (rc == CS_EJSON && strstr(d.message, "deeper")) {
        same = 1;   /* the depth check, the same after either parse */
    } else {
        char *a = json_dumps(got, JSON_COMPACT | JSON_ENSURE_ASCII), *b = json_dumps(want, JSON_COMPACT | JSON_ENSURE_ASCII);
        same = rc == 0 && a && b && strcmp(a, b) == 0 && json_equal(got, want);
        free(a);
        free(b);
    }
    if (!same)
        printf("# %s: %.*s -> rc %d %s / want %s\n", what, (int)(len > 200 ? 200 : len), body, rc, d.message, msg);
    json_decref(got);
    json_decref(want);
    return same;
}

static unsigned long long rng;
static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng >> 33) % n);
}

static json_t *random_value(unsigned depth)
{
    static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x7f",
                                         "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "{", "}", ",", ":"};
    unsigned kind = depth > 4 ? 2 + rnd(6) : rnd(8);
    if (kind == 0 || kind == 1) {
        json_t *c = kind ? json_array() : json_object();
        for (unsigned i = 0, n = rnd(5); i < n; i++) {
            char key[8];
            snprintf(key, sizeof key, "k%u", rnd(6));
            if (kind)
                json_array_append_new(c, random_value(depth + 1));
            else
                json_object_set_new(c, key, random_value(depth + 1));
        }
        return c;
    }
    if (kind == 2) {
        char buf[64] = "";
        for (unsigned i = 0, n = rnd(8); i < n; i++)
            strcat(buf, pieces[rnd(sizeof pieces / sizeof *pieces)]);
        return json_string(buf);
    }
    if (kind == 3) {
        static const json_int_t ints[] = {0, 1, -1, 42, -999999999999999999LL, 999999999999999999LL,
                                          1000000000000000000LL, INT64_MAX, INT64_MIN};
        return json_integer(ints[rnd(9)]);
    }
    if (kind == 4)
        return json_real(rnd(2) ? 1.5 : 100.0);
    return kind == 5 ? json_true() : kind == 6 ? json_false() : json_null();
}

static void test_fast_path(void)
{
    static const char *const docs[] = {
        "{}", " {\"a\" : 1 } \n", "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}", "{\"s\":\"x\\u00e9\\u20ac\\/\\\"\"}",
        "{\"a\":1,\"a\":2}", "{\"a\":01}", "{\"a\":-}", "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":-0}",
        "{\"a\":12345678901234567890}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":1,}",
        "{\"a\":[1,]}", "{,}", "{\"a\" 1}", "{} x", "{}{}", "[1]", "\"s\"", "{\"a\":1", "{\"a\":\"x",
        "\xef\xbb\xbf{}", "{\"\\u00e9\":1,\"\xc3\xa9\":2}", "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
        OK(same_parse(docs[i], strlen(docs[i]), "fixed"), "as jansson: %s", docs[i]);
    OK(same_parse("{\"a\":1}\0", 8, "NUL after"), "a NUL after the object");

    const char *seed_env = getenv("CAISSE_SEED");
    rng = seed_env ? strtoull(seed_env, NULL, 10) : (unsigned long long)time(NULL);
    printf("# seed %llu (CAISSE_SEED to replay)\n", rng);
    static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(2), JSON_COMPACT | JSON_ENSURE_ASCII,
                                   JSON_ESCAPE_SLASH, JSON_INDENT(1) | JSON_ENSURE_ASCII};
    int fails = 0;
    for (int i = 0; i < 2000 && fails < 3; i++) {
        json_t *v = json_object();
        json_object_set_new(v, "x", random_value(1));
        json_object_set_new(v, "y", random_value(1));
        char *text = json_dumps(v, flags[rnd(5)]);
        if (text) {
            size_t n = strlen(text);
            if (rnd(4) == 0 && n > 2)
                text[rnd((unsigned)n)] = "{}[]\",:\\ 0"[rnd(10)];   /* often invalid now */
            fails += !same_parse(text, strlen(text), "random");
        }
        free(text);
        json_decref(v);
    }
    EQ_INT(fails, 0, "2000 random bodies parsed as jansson parses them");
}

int main(void)
{
    struct cs_diag d = {0};
    json_t *v = NULL;
    EQ_INT(jin_parse("{\"a\":1}", 7, &v, &d), 0, "parses an object");
    json_decref(v);
    EQ_INT(jin_parse("", 0, &v, &d), 0, "empty body is {}");
    OK(json_is_object(v), "{}");
    json_decref(v);
    EQ_INT(jin_parse("[1]", 3, &v, &d), CS_EJSON, "array refused");
    EQ_INT(jin_parse("{\"a\":", 5, &v, &d), CS_EJSON, "truncated refused");
    EQ_INT(jin_parse("{\"a\":1,\"a\":2}", 13, &v, &d), CS_EJSON, "duplicate keys refused");
    const char *deep = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}}}}}}}}}}";
    EQ_INT(jin_parse(deep, strlen(deep), &v, &d), CS_EJSON, "too deep refused");

    json_t *o = json_loads("{\"name\":\"x\",\"n\":5,\"f\":1.5,\"s\":\"\",\"b\":true,\"ctl\":\"a\\u0001\"}", 0, NULL);
    static const char *const allowed[] = {"name", "n", "f", "s", "b", "ctl", NULL};
    static const char *const fewer[] = {"name", NULL};
    EQ_INT(jin_object(o, "", allowed, &d), 0, "known keys");
    EQ_INT(jin_object(o, "cart", fewer, &d), CS_EUNKNOWN, "unknown key");
    OK(strncmp(d.param, "cart.", 5) == 0, "param names the path: %s", d.param);
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;
    EQ_INT(jin_string(o, "", "name", 1, 1, 10, &s, &d), 0, "string");
    EQ_STR(s, "x", "string value");
    EQ_INT(jin_string(o, "", "missing", 1, 1, 10, &s, &d), CS_EMISSING, "missing required");
    EQ_STR(d.param, "missing", "param of the missing field");
    EQ_INT(jin_string(o, "", "missing", 0, 1, 10, &s, &d), 0, "missing optional");
    EQ_INT(jin_string(o, "", "s", 1, 1, 10, &s, &d), CS_EPARAM, "empty string refused");
    EQ_INT(jin_string(o, "", "n", 1, 1, 10, &s, &d), CS_EPARAM, "int is not a string");
    EQ_INT(jin_string(o, "", "ctl", 1, 1, 10, &s, &d), CS_EPARAM, "control characters refused");
    EQ_INT(jin_int(o, "x", "n", 1, 0, 10, &i, &d), 0, "int");
    EQ_INT(i, 5, "int value");
    EQ_INT(jin_int(o, "x", "n", 1, 6, 10, &i, &d), CS_EPARAM, "int below min");
    EQ_STR(d.param, "x.n", "param path");
    EQ_INT(jin_int(o, "", "f", 1, 0, 10, &i, &d), CS_EPARAM, "float is not an int");
    EQ_INT(jin_bool(o, "", "b", 1, &b, &d), 0, "bool");
    EQ_INT(b, 1, "bool value");
    json_decref(o);

    char buf[512];
    cs_fail(&d, CS_EPARAM, "customer.email", "customer.email is not valid");
    size_t n = cs_diag_render(&d, buf, sizeof buf);
    OK(n > 0 && strstr(buf, "\"param\":\"customer.email\"") && strstr(buf, "\"code\":\"parameter_invalid\""),
       "error body: %s", buf);
    EQ_INT(cs_err_status(CS_ESTORAGE), 507, "storage full is 507");
    EQ_INT(cs_err_status(CS_EIDEMPOTENCY), 409, "idempotency reuse is 409");
    EQ_INT(cs_err_status(12345), 500, "unknown code is 500");
    test_fast_path();
    return tap_done();
}
