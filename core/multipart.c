/* The strict multipart/form-data reader (core/multipart.h). */
#define _GNU_SOURCE   /* memmem */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "core/multipart.h"

/* ---- header values: a token, then ; name=value parameters (RFC 9110 §5.6) ---- */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The token at *sp into out (cap bytes); advances *sp. -1 if none or too long. */
static int read_token(const char **sp, char *out, size_t cap)
{
    const char *s = *sp;
    size_t n = 0;
    while (is_tchar((unsigned char)s[n]))
        n++;
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, s, n);
    out[n] = 0;
    *sp = s + n;
    return 0;
}

/* A token or a quoted string (RFC 9110 §5.6.4: `\` escapes one character;
 * no control characters but tab). -1 if malformed or longer than cap - 1. */
static int read_value(const char **sp, char *out, size_t cap)
{
    const char *s = *sp;
    if (*s != '"')
        return read_token(sp, out, cap);
    size_t n = 0;
    for (s++;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c == '\\') {
            c = (unsigned char)*++s;
            if (c == 0)
                return -1;
        }
        if (c == 0 || (c < 0x20 && c != '\t') || c == 0x7f || n + 1 >= cap)
            return -1;
        out[n++] = (char)c;
    }
    out[n] = 0;
    *sp = s + 1;
    return 0;
}

/* The next `; name=value` of a header value: 1 with name and value filled, 0
 * at the end, -1 if malformed. Names are folded to lower case. */
static int next_param(const char **sp, char *name, size_t ncap, char *value, size_t vcap)
{
    const char *s = skip_ows(*sp);
    if (*s == 0) {
        *sp = s;
        return 0;
    }
    if (*s != ';')
        return -1;
    s = skip_ows(s + 1);
    if (read_token(&s, name, ncap) != 0)
        return -1;
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    s = skip_ows(s);
    if (*s != '=')
        return -1;
    s = skip_ows(s + 1);
    if (read_value(&s, value, vcap) != 0)
        return -1;
    *sp = s;
    return 1;
}

/* RFC 2046 §5.1.1: bchars, not ending with a space. */
static int boundary_ok(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > MULTIPART_BOUNDARY_BYTES_MAX || b[n - 1] == ' ')
        return 0;
    for (const unsigned char *p = (const unsigned char *)b; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("'()+_,-./:=? ", *p)))
            return 0;
    return 1;
}

int multipart_boundary(const char *content_type, char *out, struct cs_diag *d)
{
    static const char form[] = "multipart/form-data";
    const char *s = content_type ? skip_ows(content_type) : "";
    size_t n = strlen(form);
    if (strncasecmp(s, form, n) != 0 || (s[n] != 0 && s[n] != ';' && s[n] != ' ' && s[n] != '\t'))
        return cs_fail(d, CS_EMEDIATYPE, "", "send the body as Content-Type: multipart/form-data");
    s += n;
    char name[64], value[MULTIPART_BOUNDARY_BYTES_MAX + 2];
    int got = 0, rc;
    while ((rc = next_param(&s, name, sizeof name, value, sizeof value)) == 1) {
        if (strcmp(name, "boundary") != 0)
            continue;
        if (got++)
            return cs_fail(d, CS_EPARAM, "Content-Type", "the boundary parameter is given twice");
        if (!boundary_ok(value))
            return cs_fail(d, CS_EPARAM, "Content-Type", "the boundary must be 1 to 70 characters of RFC 2046 "
                           "(letters, digits, '()+_,-./:=? and inner spaces)");
        memcpy(out, value, strlen(value) + 1);
    }
    if (rc < 0)
        return cs_fail(d, CS_EPARAM, "Content-Type", "the Content-Type parameters are malformed (or a boundary "
                       "is longer than 70 characters)");
    if (!got)
        return cs_fail(d, CS_EPARAM, "Content-Type", "multipart/form-data needs a boundary parameter");
    return 0;
}

/* ---- the body ------------------------------------------------------------------- */

struct reader {
    const char *body;
    size_t len;
    const char *delim;            /* "--" boundary */
    size_t dlen;
    struct cs_diag *d;
};

static int bad(struct reader *r, size_t part, const char *what)
{
    return cs_fail(r->d, CS_EPARAM, "body", "malformed multipart/form-data body (part %zu): %s", part + 1, what);
}

static int printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* Content-Disposition: form-data; name="…"[; filename="…"] */
static int read_disposition(struct reader *r, size_t k, const char *v, struct multipart_part *p)
{
    char kind[32];
    if (read_token(&v, kind, sizeof kind) != 0 || strcasecmp(kind, "form-data") != 0)
        return bad(r, k, "Content-Disposition must be form-data");
    char name[32], value[MULTIPART_FILENAME_BYTES_MAX + 2];
    int has_name = 0, rc;
    while ((rc = next_param(&v, name, sizeof name, value, sizeof value)) == 1) {
        if (strcmp(name, "name") == 0) {
            if (has_name++)
                return bad(r, k, "the name parameter is given twice");
            if (!*value || strlen(value) > MULTIPART_NAME_BYTES_MAX || !printable(value))
                return bad(r, k, "the field name must be 1 to 64 printable bytes");
            memcpy(p->name, value, strlen(value) + 1);
        } else if (strcmp(name, "filename") == 0) {
            if (p->has_filename++)
                return bad(r, k, "the filename parameter is given twice");
            if (strlen(value) > MULTIPART_FILENAME_BYTES_MAX || !printable(value))
                return bad(r, k, "the filename must be at most 255 printable bytes");
            memcpy(p->filename, value, strlen(value) + 1);
        } else if (strcmp(name, "filename*") == 0) {
            return bad(r, k, "filename* is not used by multipart/form-data (RFC 7578 4.2): send filename");
        }
    }
    if (rc < 0)
        return bad(r, k, "the Content-Disposition parameters are malformed (or a value is too long)");
    if (!has_name)
        return bad(r, k, "Content-Disposition has no name parameter");
    return 0;
}

/* One header line [s, e) (without its CRLF). */
static int read_header(struct reader *r, size_t k, const char *s, const char *e, struct multipart_part *p,
                       unsigned *seen)
{
    char line[MULTIPART_PART_HEADER_BYTES_MAX + 1];
    size_t n = (size_t)(e - s);
    if (n > MULTIPART_PART_HEADER_BYTES_MAX)
        return bad(r, k, "a header line is too long");
    memcpy(line, s, n);
    line[n] = 0;
    if (strlen(line) != n)
        return bad(r, k, "a header contains a NUL byte");
    if (line[0] == ' ' || line[0] == '\t')
        return bad(r, k, "folded header lines are not allowed");
    char *colon = strchr(line, ':');
    if (!colon)
        return bad(r, k, "a header line has no colon");
    *colon = 0;
    const char *hn = line, *hv = skip_ows(colon + 1);
    for (const char *c = hn; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return bad(r, k, "a header name is not a token");
    if (!*hn)
        return bad(r, k, "a header name is empty");
    char *end = (char *)hv + strlen(hv);
    while (end > hv && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = 0;
    if (strcasecmp(hn, "Content-Disposition") == 0) {
        if (*seen & 1)
            return bad(r, k, "Content-Disposition is given twice");
        *seen |= 1;
        return read_disposition(r, k, hv, p);
    }
    if (strcasecmp(hn, "Content-Type") == 0) {
        if (*seen & 2)
            return bad(r, k, "Content-Type is given twice");
        *seen |= 2;
        if (!*hv || strlen(hv) > MULTIPART_TYPE_BYTES_MAX || !printable(hv))
            return bad(r, k, "the part's Content-Type must be 1 to 127 printable bytes");
        memcpy(p->content_type, hv, strlen(hv) + 1);
        return 0;
    }
    if (strcasecmp(hn, "Content-Transfer-Encoding") == 0) {
        if (strcasecmp(hv, "binary") != 0 && strcasecmp(hv, "8bit") != 0 && strcasecmp(hv, "7bit") != 0)
            return bad(r, k, "Content-Transfer-Encoding must be binary, 8bit or 7bit (RFC 7578 4.7)");
        return 0;
    }
    return 0;   /* other header fields are ignored (RFC 7578 4.8) */
}

/* The headers of part k from pos up to and including the empty line; *pos
 * ends at the content's first byte. */
static int read_headers(struct reader *r, size_t k, size_t *pos, struct multipart_part *p)
{
    size_t at = *pos, total = 0;
    unsigned seen = 0;
    for (;;) {
        const char *s = r->body + at;
        const char *lf = memchr(s, '\n', r->len - at);
        if (!lf)
            return bad(r, k, "the part's headers do not end");
        if (lf == s || lf[-1] != '\r')
            return bad(r, k, "header lines must end with CRLF");
        const char *e = lf - 1;
        if (memchr(s, '\r', (size_t)(e - s)))
            return bad(r, k, "a bare CR in the headers");
        at = (size_t)(lf - r->body) + 1;
        total += (size_t)(lf - s) + 1;
        if (total > MULTIPART_PART_HEADER_BYTES_MAX)
            return bad(r, k, "the part's headers are larger than 8 KiB");
        if (e == s)
            break;   /* the empty line */
        int rc = read_header(r, k, s, e, p, &seen);
        if (rc)
            return rc;
    }
    if (!(seen & 1))
        return bad(r, k, "the part has no Content-Disposition header");
    *pos = at;
    return 0;
}

/* After a delimiter at pos: 1 for the closing one ("--"), 0 for one followed
 * by (transport padding and) CRLF, with *pos after it; -1 otherwise. */
static int after_delimiter(struct reader *r, size_t *pos)
{
    size_t at = *pos;
    if (r->len - at >= 2 && r->body[at] == '-' && r->body[at + 1] == '-')
        return 1;
    while (at < r->len && (r->body[at] == ' ' || r->body[at] == '\t'))
        at++;
    if (r->len - at < 2 || r->body[at] != '\r' || r->body[at + 1] != '\n')
        return -1;
    *pos = at + 2;
    return 0;
}

int multipart_parse(const char *body, size_t len, const char *boundary, struct multipart_part *parts,
                    size_t *n, struct cs_diag *d)
{
    char delim[MULTIPART_BOUNDARY_BYTES_MAX + 5];   /* "\r\n--" boundary */
    int dn = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    if (dn < 5 || (size_t)dn >= sizeof delim)
        return cs_fail(d, CS_EPARAM, "Content-Type", "the boundary is malformed");
    struct reader r = {.body = body, .len = len, .delim = delim + 2, .dlen = (size_t)dn - 2, .d = d};
    *n = 0;
    /* The first delimiter opens the body or ends a preamble line (RFC 2046). */
    size_t pos;
    if (len >= r.dlen && memcmp(body, r.delim, r.dlen) == 0) {
        pos = r.dlen;
    } else {
        const char *f = body ? memmem(body, len, delim, (size_t)dn) : NULL;
        if (!f)
            return cs_fail(d, CS_EPARAM, "body", "malformed multipart/form-data body: no delimiter line "
                           "--<boundary> (is the boundary that of the Content-Type?)");
        pos = (size_t)(f - body) + (size_t)dn;
    }
    for (size_t k = 0;; k++) {
        int last = after_delimiter(&r, &pos);
        if (last < 0)
            return bad(&r, k, "a delimiter line must end with CRLF or --");
        if (last)
            return 0;   /* the epilogue, if any, is ignored */
        if (k >= MULTIPART_PARTS_MAX)
            return cs_fail(d, CS_EPARAM, "body", "a multipart/form-data body has at most %u parts",
                           MULTIPART_PARTS_MAX);
        struct multipart_part *p = &parts[k];
        memset(p, 0, sizeof *p);
        int rc = read_headers(&r, k, &pos, p);
        if (rc)
            return rc;
        const char *end = memmem(body + pos, len - pos, delim, (size_t)dn);
        if (!end)
            return bad(&r, k, "the part is not closed by a delimiter line");
        p->data = body + pos;
        p->len = (size_t)(end - (body + pos));
        pos = (size_t)(end - body) + (size_t)dn;
        *n = k + 1;
    }
}
