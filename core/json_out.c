/* JSON text out of jansson values (json_out.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/errors.h"
#include "core/json_out.h"

/* jansson's own parser refuses deeper nesting: text deeper than this could
 * never be read back. */
#define JOUT_DUMPS_DEPTH_MAX 2048u

static int reserve(struct jout *o, size_t n)
{
    if (n <= o->cap - o->len)
        return 0;
    if (n > SIZE_MAX / 2 - o->len)
        return CS_ENOMEM;
    size_t cap = o->cap ? o->cap : 256;
    while (cap - o->len < n)
        cap *= 2;
    char *b = realloc(o->buf, cap);
    if (!b)
        return CS_ENOMEM;
    o->buf = b;
    o->cap = cap;
    return 0;
}

int jout_bytes(struct jout *o, const char *s, size_t n)
{
    if (reserve(o, n + 1))
        return CS_ENOMEM;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
    return 0;
}

/* The length of the valid UTF-8 sequence at s (first byte >= 0x80), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629), the
 * rules jansson holds its strings to. */
size_t jout_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000))
        return 0;
    return k;
}

/* Bytes that go into a string as they are: printable ASCII but '"' and '\\'.
 * The rest are escaped (below 0x20, '"', '\\') or start a UTF-8 sequence. */
static const unsigned char plain[256] = {
    [0x20] = 1, [0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0x7F] = 1,
};

static int put_string(struct jout *o, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    /* One reservation covers the common case (nothing to escape); each escape
     * reserves its own few bytes. */
    if (reserve(o, n + 3))
        return CS_ENOMEM;
    char *p = o->buf + o->len;
    *p++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && plain[s[run]])
            run++;
        memcpy(p, s + i, run - i);
        p += run - i;
        i = run;
        if (i == n)
            break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = jout_utf8_seq(s + i, n - i);
            if (!k)
                return CS_EPARAM;
            memcpy(p, s + i, k);
            p += k;
            i += k;
            continue;
        }
        o->len = (size_t)(p - o->buf);
        if (reserve(o, 6 + (n - i) + 2))
            return CS_ENOMEM;
        p = o->buf + o->len;
        *p++ = '\\';
        switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
            break;
        }
        i++;
    }
    *p++ = '"';
    o->len = (size_t)(p - o->buf);
    return 0;
}

/* One byte of punctuation. */
static inline int put_char(struct jout *o, char c)
{
    if (o->len == o->cap && reserve(o, 1))
        return CS_ENOMEM;
    o->buf[o->len++] = c;
    return 0;
}

static int put_integer(struct jout *o, json_int_t v)
{
    char tmp[24], *end = tmp + sizeof tmp, *p = end;
    /* Negate as unsigned: INT64_MIN has no positive counterpart. */
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(end - p);
    if (reserve(o, n))
        return CS_ENOMEM;
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

static int put_value(struct jout *o, const json_t *v, unsigned depth, unsigned depth_max)
{
    if (depth > depth_max)
        return CS_EPARAM;
    int rc;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len;
        json_t *val;
        int first = 1;
        if ((rc = put_char(o, '{')))
            return rc;
        json_object_keylen_foreach((json_t *)v, key, key_len, val) {
            if ((!first && (rc = put_char(o, ','))) || (rc = put_string(o, key, key_len)) ||
                (rc = put_char(o, ':')) || (rc = put_value(o, val, depth + 1, depth_max)))
                return rc;
            first = 0;
        }
        return put_char(o, '}');
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if ((rc = put_char(o, '[')))
            return rc;
        for (size_t i = 0; i < n; i++)
            if ((i && (rc = put_char(o, ','))) || (rc = put_value(o, json_array_get(v, i), depth + 1, depth_max)))
                return rc;
        return put_char(o, ']');
    }
    case JSON_STRING:
        return put_string(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(o, json_integer_value(v));
    case JSON_REAL: {
        /* Rare on this path (amounts are integers): jansson's own text, so its
         * precision and exponent rules hold without being copied here. */
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!t)
            return CS_ENOMEM;
        rc = jout_bytes(o, t, strlen(t));
        free(t);
        return rc;
    }
    case JSON_TRUE:
        return jout_bytes(o, "true", 4);
    case JSON_FALSE:
        return jout_bytes(o, "false", 5);
    case JSON_NULL:
        return jout_bytes(o, "null", 4);
    }
    return CS_EPARAM;
}

int jout_append(struct jout *o, const json_t *v, unsigned depth_max)
{
    if (!v)
        return CS_EPARAM;
    size_t start = o->len;
    int rc = put_value(o, v, 1, depth_max);
    if (rc == 0)
        rc = reserve(o, 1);
    if (rc) {
        o->len = start;
        return rc;
    }
    o->buf[o->len] = 0;
    return 0;
}

void jout_free(struct jout *o)
{
    free(o->buf);
    memset(o, 0, sizeof *o);
}

char *jout_dumps(const json_t *v, size_t *len)
{
    struct jout o = {0};
    if (!json_is_object(v) && !json_is_array(v))
        return NULL;   /* like json_dumps without JSON_ENCODE_ANY */
    if (jout_append(&o, v, JOUT_DUMPS_DEPTH_MAX)) {
        jout_free(&o);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.buf;
}
