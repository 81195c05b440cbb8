#include <string.h>
#include "core/text.h"

/* The lower-case code point of c, for the ranges utf8_fold covers. */
static unsigned fold_cp(unsigned c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c == 0x178)
        return 0xFF;   /* Ÿ */
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c | 1;   /* pairs: upper even, lower odd */
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c + 1 : c;   /* pairs: upper odd, lower even */
    return c;
}

static size_t put_cp(unsigned c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
}

size_t utf8_fold(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    while (*p) {
        unsigned c = *p;
        size_t len = 1;
        if (c >= 0xC0 && c < 0xE0 && (p[1] & 0xC0) == 0x80) {
            c = (c & 0x1F) << 6 | (p[1] & 0x3F);
            len = 2;
        } else if (c >= 0x80) {
            /* 3- and 4-byte sequences (and stray bytes) pass through unchanged */
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 1;
            for (size_t i = 1; i < n; i++)
                if ((p[i] & 0xC0) != 0x80) { n = i; break; }
            if (o + n + 1 > cap)
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
            continue;
        }
        char buf[2];
        size_t w = put_cp(fold_cp(c), buf);
        if (o + w + 1 > cap)
            break;
        memcpy(out + o, buf, w);
        o += w;
        p += len;
    }
    if (cap)
        out[o] = 0;
    return o;
}

int utf8_contains_folded(const char *haystack, const char *needle)
{
    char h[512], n[512];
    utf8_fold(haystack, h, sizeof h);
    utf8_fold(needle, n, sizeof n);
    return strstr(h, n) != NULL;
}
