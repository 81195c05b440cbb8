/* CSV rows (core/csv.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/csv.h"
#include "core/errors.h"

void csv_raw(struct csv_buf *c, const char *s, size_t n)
{
    if (c->err)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8192;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b) {
            c->err = CS_ENOMEM;
            return;
        }
        c->out = b;
        c->cap = cap;
    }
    memcpy(c->out + c->len, s, n);
    c->len += n;
    c->out[c->len] = 0;
}

static void end_field(struct csv_buf *c, int last)
{
    csv_raw(c, last ? "\r\n" : ",", last ? 2 : 1);
}

void csv_text(struct csv_buf *c, const char *s, int last)
{
    if (!s)
        s = "";
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        csv_raw(c, "\"", 1);
    if (s[0] && strchr("=+-@\t\r", s[0]))
        csv_raw(c, "'", 1);
    for (const char *p = s; *p;) {
        const char *q = strchr(p, '"');
        size_t n = q ? (size_t)(q - p) + 1 : strlen(p);
        csv_raw(c, p, n);
        if (q)
            csv_raw(c, "\"", 1);   /* the quote doubled */
        p += n;
    }
    if (quote)
        csv_raw(c, "\"", 1);
    end_field(c, last);
}

void csv_int(struct csv_buf *c, int64_t v, int last)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    csv_raw(c, b, (size_t)n);
    end_field(c, last);
}

void csv_free(struct csv_buf *c)
{
    free(c->out);
    c->out = NULL;
    c->len = c->cap = 0;
}
