#ifndef CAISSE_JSON_OUT_H
#define CAISSE_JSON_OUT_H
/* JSON text out of jansson values, for the write path.
 *
 * jout_append writes exactly the bytes json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes: same key order, same escapes (\" \\ \b \f \n \r \t,
 * other control characters as \u00XX, everything else as is), same numbers.
 * The stored events and projections are that text and `caisse replay`
 * compares them byte for byte, so logs written before and after stay alike.
 * It is several times faster: jansson checks every array and object for a
 * cycle by printing its address into a hash table and emits each token
 * through a callback; here a cycle or absurd nesting is caught by the depth
 * limit instead, and the text goes straight into one growing buffer. */
#include <stddef.h>
#include <jansson.h>

struct jout {
    char *buf;      /* NUL-terminated after a successful append; owned */
    size_t len, cap;
};

/* Appends the text of `v` to o->buf. No value may sit deeper than
 * `depth_max` levels (the root is level 1). Returns 0, CS_ENOMEM, or
 * CS_EPARAM (too deep, or a string or key that is not valid UTF-8, which
 * json_dumps refuses too). On failure o->len is unchanged. */
int jout_append(struct jout *o, const json_t *v, unsigned depth_max);
/* Appends raw bytes. Returns 0 or CS_ENOMEM. */
int jout_bytes(struct jout *o, const char *s, size_t n);
void jout_free(struct jout *o);
/* The length of the valid UTF-8 sequence at s (s[0] >= 0x80, n > 0 bytes
 * there), or 0: the rules jansson holds its strings to (no overlong forms,
 * no surrogates, nothing above U+10FFFF). Also for core/json_in.c. */
size_t jout_utf8_seq(const unsigned char *s, size_t n);

/* Like json_dumps(v, JSON_COMPACT): a malloc'd NUL-terminated text (length in
 * *len if not NULL), or NULL. No depth limit beyond the parser's own (2048). */
char *jout_dumps(const json_t *v, size_t *len);

#endif
