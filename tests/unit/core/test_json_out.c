/* jout_append writes what json_dumps(JSON_COMPACT) writes, byte for byte:
 * fixed cases for each escape and number form, then random trees compared
 * with jansson's own text (the seed is printed; CAISSE_SEED replays one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/errors.h"
#include "core/json_out.h"
#include "tests/unit/tap.h"

static int same_as_jansson(const json_t *v, const char *what)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    struct jout o = {0};
    int rc = jout_append(&o, v, 2000);
    int same = want && rc == 0 && o.len == strlen(want) && memcmp(o.buf, want, o.len) == 0;
    if (!same && what)
        printf("# %s\n#   jansson: %s\n#   jout:    %.*s (rc %d)\n", what, want ? want : "(null)", (int)o.len,
               o.buf ? o.buf : "", rc);
    free(want);
    jout_free(&o);
    return same;
}

static unsigned long long rng;
static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng >> 33) % n);
}

/* A random string of ASCII, control characters, escapes and multi-byte UTF-8. */
static json_t *random_string(void)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t",
                                         "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "\xef\xbf\xbf", "{", "}", ":", ","};
    char buf[64];
    size_t n = 0, k = rnd(12);
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];
        size_t l = strlen(p);
        memcpy(buf + n, p, l);
        n += l;
    }
    if (rnd(8) == 0)
        buf[n++] = 0;   /* an embedded NUL: jansson writes \u0000 */
    return json_stringn(buf, n);
}

static json_t *random_value(unsigned depth)
{
    unsigned kind = depth > 5 ? 2 + rnd(6) : rnd(8);
    switch (kind) {
    case 0: {
        json_t *o = json_object();
        unsigned n = rnd(6);
        for (unsigned i = 0; i < n; i++) {
            json_t *k = random_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k), random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    case 1: {
        json_t *a = json_array();
        unsigned n = rnd(6);
        for (unsigned i = 0; i < n; i++)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    case 2: return random_string();
    case 3: {
        static const json_int_t ints[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN, -9007199254740993LL};
        return json_integer(rnd(3) ? ints[rnd(10)] : (json_int_t)rnd(1000000) - 500000);
    }
    case 4: {
        static const double reals[] = {0.0, -0.0, 1.5, 0.1, 1e100, -2.5e-300, 123456789.0, 3.0};
        return json_real(reals[rnd(8)]);
    }
    case 5: return json_true();
    case 6: return json_false();
    default: return json_null();
    }
}

int main(void)
{
    /* fixed cases */
    const char *texts[] = {
        "{}", "[]", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
        "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"]",
        "{\"\\u00e9t\\u00e9\":\"\\u20ac \\ud83d\\ude00\"}",
        "[0,-0,1,-1,9223372036854775807,-9223372036854775808]",
        "[1.5,0.1,1e100,-2.5e-300,3.0,100000000000000000000.0]",
        "{\"z\":1,\"a\":2,\"m\":3}",   /* insertion order, not sorted */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *v = json_loads(texts[i], JSON_ALLOW_NUL, NULL);
        OK(v && same_as_jansson(v, texts[i]), "same text as jansson: %s", texts[i]);
        json_decref(v);
    }
    json_t *nul = json_stringn("a\0b", 3);
    OK(same_as_jansson(nul, "NUL"), "an embedded NUL as \\u0000");
    json_decref(nul);

    /* refusals: invalid UTF-8 (json_dumps refuses it too) and nesting */
    json_t *bad = json_object();
    json_object_set_new(bad, "s", json_string_nocheck("\xff\xfe"));
    struct jout o = {0};
    EQ_INT(jout_append(&o, bad, 2000), CS_EPARAM, "invalid UTF-8 refused");
    EQ_INT(o.len, 0, "nothing written on failure");
    OK(json_dumps(bad, JSON_COMPACT) == NULL, "as jansson refuses it");
    json_decref(bad);
    const char *overlong[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"};
    for (size_t i = 0; i < sizeof overlong / sizeof overlong[0]; i++) {
        json_t *s = json_string_nocheck(overlong[i]);
        EQ_INT(jout_append(&o, s, 10), CS_EPARAM, "overlong, surrogate, out of range or cut UTF-8 refused");
        json_decref(s);
    }
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 9; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    EQ_INT(jout_append(&o, deep, 10), 0, "10 levels within a limit of 10");
    o.len = 0;
    json_array_append_new(cur, json_integer(1));
    EQ_INT(jout_append(&o, deep, 10), CS_EPARAM, "a scalar on level 11 refused");
    EQ_INT(o.len, 0, "nothing written on failure");
    json_decref(deep);
    jout_free(&o);

    size_t len = 0;
    json_t *obj = json_pack("{s:s,s:i}", "a", "b", "n", 7);
    char *t = jout_dumps(obj, &len);
    EQ_STR(t, "{\"a\":\"b\",\"n\":7}", "jout_dumps");
    EQ_INT(len, strlen(t ? t : ""), "its length");
    free(t);
    json_decref(obj);
    json_t *scalar = json_integer(1);
    OK(jout_dumps(scalar, NULL) == NULL, "jout_dumps refuses a scalar, like json_dumps");
    json_decref(scalar);

    /* random trees */
    const char *seed_env = getenv("CAISSE_SEED");
    rng = seed_env ? strtoull(seed_env, NULL, 10) : (unsigned long long)time(NULL);
    printf("# seed %llu (CAISSE_SEED to replay)\n", rng);
    int fails = 0;
    for (int i = 0; i < 3000 && fails < 3; i++) {
        json_t *v = random_value(0);
        if (!same_as_jansson(v, "random tree"))
            fails++;
        json_decref(v);
    }
    EQ_INT(fails, 0, "3000 random trees written as jansson writes them");
    return tap_done();
}
