#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_in.h"
#include "core/json_out.h"
#include "core/limits.h"

static unsigned json_depth(json_t *v)
{
    unsigned max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            unsigned d = json_depth(c);
            if (d > max) max = d;
            if (max > CS_JSON_DEPTH_MAX) break;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            unsigned d = json_depth(c);
            if (d > max) max = d;
            if (max > CS_JSON_DEPTH_MAX) break;
        }
        return max + 1;
    }
    return 0;
}

/* ---- the common case, parsed fast ---------------------------------------------
 *
 * json_loadb spends about 150 instructions a byte (a character stream with a
 * UTF-8 check per character, a token buffer, a hash lookup for duplicate
 * keys): it was 8 % of a checkout. fast_parse handles what request bodies are
 * made of -- objects, arrays, strings, integers, true/false/null -- and
 * builds the same tree jansson would (same members in the same order, same
 * values). Anything else, valid or not (a real number, a \u escape of a
 * surrogate or NUL, a duplicate key, deep nesting, an error), it leaves to
 * json_loadb, so jansson still decides every refusal and writes its message. */

#define FAST_DEPTH_MAX 64u   /* deeper: jansson's own parse, then the depth check */

struct fast {
    const unsigned char *p, *end;
    char *tmp;               /* a string with its escapes decoded */
    size_t tmp_cap;
};

static void fast_ws(struct fast *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\t' || *f->p == '\r'))
        f->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    *out = v;
    return 0;
}

/* The string at f->p ('"'): *s and *n point into the input when it has no
 * escape, else into f->tmp. -1: leave it to jansson. */
static int fast_string(struct fast *f, const char **s, size_t *n)
{
    const unsigned char *start = ++f->p, *q = start;
    while (q < f->end && *q != '"' && *q != '\\') {
        if (*q < 0x20)
            return -1;
        if (*q >= 0x80) {
            size_t k = jout_utf8_seq(q, (size_t)(f->end - q));
            if (!k)
                return -1;
            q += k;
        } else {
            q++;
        }
    }
    if (q >= f->end)
        return -1;
    if (*q == '"') {
        *s = (const char *)start;
        *n = (size_t)(q - start);
        f->p = q + 1;
        return 0;
    }
    /* Escapes: decode into tmp. The decoded text is never longer. */
    size_t need = (size_t)(f->end - start);
    if (need > f->tmp_cap) {
        char *t = realloc(f->tmp, need);
        if (!t)
            return -1;
        f->tmp = t;
        f->tmp_cap = need;
    }
    size_t len = (size_t)(q - start);
    memcpy(f->tmp, start, len);
    while (q < f->end && *q != '"') {
        if (*q < 0x20)
            return -1;
        if (*q >= 0x80) {
            size_t k = jout_utf8_seq(q, (size_t)(f->end - q));
            if (!k)
                return -1;
            memcpy(f->tmp + len, q, k);
            len += k;
            q += k;
            continue;
        }
        if (*q != '\\') {
            f->tmp[len++] = (char)*q++;
            continue;
        }
        if (f->end - q < 2)
            return -1;
        char c = 0;
        switch (q[1]) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            unsigned u;
            if (f->end - q < 6 || hex4(q + 2, &u) || u == 0 || (u >= 0xD800 && u <= 0xDFFF))
                return -1;   /* NUL and surrogate pairs: jansson's rules */
            if (u < 0x80) {
                f->tmp[len++] = (char)u;
            } else if (u < 0x800) {
                f->tmp[len++] = (char)(0xC0 | u >> 6);
                f->tmp[len++] = (char)(0x80 | (u & 0x3F));
            } else {
                f->tmp[len++] = (char)(0xE0 | u >> 12);
                f->tmp[len++] = (char)(0x80 | (u >> 6 & 0x3F));
                f->tmp[len++] = (char)(0x80 | (u & 0x3F));
            }
            q += 6;
            continue;
        }
        default:
            return -1;
        }
        f->tmp[len++] = c;
        q += 2;
    }
    if (q >= f->end)
        return -1;
    f->p = q + 1;
    *s = f->tmp;
    *n = len;
    return 0;
}

static json_t *fast_value(struct fast *f, unsigned depth);

static json_t *fast_number(struct fast *f)
{
    const unsigned char *q = f->p;
    int neg = q < f->end && *q == '-';
    q += neg;
    const unsigned char *digits = q;
    while (q < f->end && *q >= '0' && *q <= '9')
        q++;
    size_t nd = (size_t)(q - digits);
    /* A real, a leading zero, no digits or 19 of them and more: jansson's. */
    if (nd == 0 || nd > 18 || (nd > 1 && *digits == '0') ||
        (q < f->end && (*q == '.' || *q == 'e' || *q == 'E')))
        return NULL;
    json_int_t v = 0;
    for (const unsigned char *d = digits; d < q; d++)
        v = v * 10 + (*d - '0');
    f->p = q;
    return json_integer(neg ? -v : v);
}

/* Past the opening '{' or '[': 1 if the container closes at once (empty). */
static int fast_open(struct fast *f, char close)
{
    f->p++;
    fast_ws(f);
    if (f->p < f->end && *f->p == close) {
        f->p++;
        return 1;
    }
    return 0;
}

/* After a member or element: 1 if a ',' announces another, 0 if the
 * container closes, -1 for anything else. */
static int fast_next(struct fast *f, char close)
{
    fast_ws(f);
    if (f->p < f->end && *f->p == ',') {
        f->p++;
        fast_ws(f);
        return 1;
    }
    if (f->p < f->end && *f->p == close) {
        f->p++;
        return 0;
    }
    return -1;
}

static json_t *fast_object(struct fast *f, unsigned depth)
{
    json_t *o = json_object();
    if (fast_open(f, '}'))
        return o;
    int more;
    do {
        const char *k;
        size_t kn;
        json_t *v = NULL;
        if (f->p >= f->end || *f->p != '"' || fast_string(f, &k, &kn) || json_object_getn(o, k, kn))
            break;   /* json_object_getn: a duplicate key */
        char key[256];
        if (kn >= sizeof key)
            break;
        memcpy(key, k, kn);   /* k may sit in f->tmp, which the value reuses */
        fast_ws(f);
        if (f->p >= f->end || *f->p != ':')
            break;
        f->p++;
        fast_ws(f);
        if (!(v = fast_value(f, depth + 1)) || json_object_setn_new_nocheck(o, key, kn, v))
            break;
        if ((more = fast_next(f, '}')) == 0)
            return o;
    } while (more > 0);
    json_decref(o);
    return NULL;
}

static json_t *fast_array(struct fast *f, unsigned depth)
{
    json_t *a = json_array();
    if (fast_open(f, ']'))
        return a;
    int more;
    do {
        json_t *v = fast_value(f, depth + 1);
        if (!v || json_array_append_new(a, v))
            break;
        if ((more = fast_next(f, ']')) == 0)
            return a;
    } while (more > 0);
    json_decref(a);
    return NULL;
}

static int literal(struct fast *f, const char *word, size_t n)
{
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
        return 0;
    f->p += n;
    return 1;
}

static json_t *fast_value(struct fast *f, unsigned depth)
{
    if (depth > FAST_DEPTH_MAX || f->p >= f->end)
        return NULL;
    switch (*f->p) {
    case '{': return fast_object(f, depth);
    case '[': return fast_array(f, depth);
    case '"': {
        const char *s;
        size_t n;
        return fast_string(f, &s, &n) ? NULL : json_stringn_nocheck(s, n);
    }
    case 't': return literal(f, "true", 4) ? json_true() : NULL;
    case 'f': return literal(f, "false", 5) ? json_false() : NULL;
    case 'n': return literal(f, "null", 4) ? json_null() : NULL;
    default: return fast_number(f);
    }
}

/* An object, with nothing but whitespace after it; NULL: ask jansson. */
static json_t *fast_parse(const char *body, size_t len)
{
    struct fast f = { (const unsigned char *)body, (const unsigned char *)body + len, NULL, 0 };
    fast_ws(&f);
    json_t *v = f.p < f.end && *f.p == '{' ? fast_object(&f, 1) : NULL;
    fast_ws(&f);
    free(f.tmp);
    if (v && f.p != f.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}

int jin_parse(const char *body, size_t len, json_t **out, struct cs_diag *d)
{
    *out = NULL;
    if (len == 0) {
        *out = json_object();
        return 0;
    }
    json_error_t e;
    json_t *v = fast_parse(body, len);
    if (!v)
        v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!v)
        return cs_fail(d, CS_EJSON, "", "the body is not valid JSON: %s at line %d column %d",
                       e.text, e.line, e.column);
    if (!json_is_object(v)) {
        json_decref(v);
        return cs_fail(d, CS_EJSON, "", "the body must be a JSON object");
    }
    if (json_depth(v) > CS_JSON_DEPTH_MAX) {
        json_decref(v);
        return cs_fail(d, CS_EJSON, "", "the body nests deeper than %u levels", CS_JSON_DEPTH_MAX);
    }
    *out = v;
    return 0;
}

void jin_path(char *out, size_t cap, const char *path, const char *key)
{
    if (path && path[0])
        snprintf(out, cap, "%s.%s", path, key);
    else
        snprintf(out, cap, "%s", key);
}

int jin_object(json_t *v, const char *path, const char *const *allowed, struct cs_diag *d)
{
    if (!json_is_object(v))
        return cs_fail(d, CS_EPARAM, path, "%s must be an object", path[0] ? path : "the body");
    const char *k;
    json_t *c;
    json_object_foreach(v, k, c) {
        int known = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) { known = 1; break; }
        if (!known) {
            char p[128];
            jin_path(p, sizeof p, path, k);
            return cs_fail(d, CS_EUNKNOWN, p, "unknown field %s", p);
        }
    }
    return 0;
}

static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int jin_printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int jin_token(const char *s)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

int jin_string(json_t *obj, const char *path, const char *key, int required, size_t min_bytes,
               size_t max_bytes, const char **out, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    json_t *v = member(obj, key);
    if (!v)
        return required ? cs_fail(d, CS_EMISSING, p, "%s is required", p) : 0;
    if (!json_is_string(v))
        return cs_fail(d, CS_EPARAM, p, "%s must be a string", p);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n || !jin_printable(s))
        return cs_fail(d, CS_EPARAM, p, "%s contains control characters", p);
    if (n < min_bytes)
        return cs_fail(d, CS_EPARAM, p, "%s must not be empty", p);
    if (n > max_bytes)
        return cs_fail(d, CS_EPARAM, p, "%s is longer than %zu bytes", p, max_bytes);
    *out = s;
    return 0;
}

int jin_int(json_t *obj, const char *path, const char *key, int required, int64_t min, int64_t max,
            int64_t *out, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    json_t *v = member(obj, key);
    if (!v)
        return required ? cs_fail(d, CS_EMISSING, p, "%s is required", p) : 0;
    if (!json_is_integer(v))
        return cs_fail(d, CS_EPARAM, p, "%s must be an integer", p);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return cs_fail(d, CS_EPARAM, p, "%s must be between %lld and %lld", p, (long long)min,
                       (long long)max);
    *out = i;
    return 0;
}

int jin_bool(json_t *obj, const char *path, const char *key, int required, int *out, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    json_t *v = member(obj, key);
    if (!v)
        return required ? cs_fail(d, CS_EMISSING, p, "%s is required", p) : 0;
    if (!json_is_boolean(v))
        return cs_fail(d, CS_EPARAM, p, "%s must be true or false", p);
    *out = json_is_true(v);
    return 0;
}

json_t *jin_child(json_t *obj, const char *path, const char *key, json_type type, int required,
                  int *rc, struct cs_diag *d)
{
    char p[128];
    jin_path(p, sizeof p, path, key);
    *rc = 0;
    json_t *v = member(obj, key);
    if (!v) {
        if (required)
            *rc = cs_fail(d, CS_EMISSING, p, "%s is required", p);
        return NULL;
    }
    if (json_typeof(v) != type) {
        *rc = cs_fail(d, CS_EPARAM, p, "%s must be an %s", p, type == JSON_ARRAY ? "array" : "object");
        return NULL;
    }
    return v;
}

int jin_metadata(json_t *obj, const char *path, json_t **out, struct cs_diag *d)
{
    int rc = 0;
    char mp[128];
    jin_path(mp, sizeof mp, path, "metadata");
    json_t *meta = jin_child(obj, path, "metadata", JSON_OBJECT, 0, &rc, d);
    *out = NULL;
    if (rc || !meta)
        return rc;
    if (json_object_size(meta) > CS_METADATA_KEYS_MAX)
        return cs_fail(d, CS_EPARAM, mp, "metadata holds more than %u keys", CS_METADATA_KEYS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        char p[sizeof mp + 48];   /* keys longer than 40 bytes are refused below */
        snprintf(p, sizeof p, "%s.%.40s", mp, k);
        if (strlen(k) == 0 || strlen(k) > 40 || !jin_printable(k))
            return cs_fail(d, CS_EPARAM, p, "metadata keys are 1 to 40 printable bytes");
        if (!json_is_string(v) || json_string_length(v) > 500 || !jin_printable(json_string_value(v)))
            return cs_fail(d, CS_EPARAM, p, "%s must be a string of at most 500 bytes", p);
    }
    *out = meta;
    return 0;
}

int jin_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
        return 0;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == 0)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == ',' || *p == ';' || *p == '<' || *p == '>')
            return 0;
    return 1;
}

int jin_phone(const char *s)
{
    if (s[0] != '+')
        return 0;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9')
            return 0;
    return n >= 8 && n <= 15 && s[1] != '0';
}
