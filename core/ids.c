#include <string.h>
#include "core/ids.h"
#include "core/crypto.h"
#include "core/errors.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int id_new(const char *prefix, int64_t now_us, char *out, size_t cap)
{
    size_t plen = strlen(prefix);
    if (cap < plen + 2 + ID_BODY_CHARS)
        return CS_EINTERNAL;
    uint8_t rnd[10];
    if (crypto_random(rnd, sizeof rnd) != 0)
        return CS_EINTERNAL;
    uint64_t ms = (uint64_t)(now_us / 1000) & ((1ull << 48) - 1);
    memcpy(out, prefix, plen);
    out[plen] = '_';
    char *b = out + plen + 1;
    /* 48 bits of time in 10 chars (50 bits, top 2 zero), then 80 bits in 16. */
    for (int i = 9; i >= 0; i--) {
        b[i] = crockford[ms & 31];
        ms >>= 5;
    }
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 5; i++) hi = hi << 8 | rnd[i];
    for (int i = 5; i < 10; i++) lo = lo << 8 | rnd[i];
    for (int i = 7; i >= 0; i--) { b[10 + i] = crockford[hi & 31]; hi >>= 5; }
    for (int i = 7; i >= 0; i--) { b[18 + i] = crockford[lo & 31]; lo >>= 5; }
    b[ID_BODY_CHARS] = 0;
    return 0;
}

int id_valid(const char *s, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0 || s[plen] != '_')
        return 0;
    const char *b = s + plen + 1;
    size_t i = 0;
    for (; b[i]; i++)
        if (i >= ID_BODY_CHARS || !strchr(crockford, b[i]))
            return 0;
    return i == ID_BODY_CHARS;
}

int api_key_new(int livemode, char *out, size_t cap)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const char *prefix = livemode ? "sk_live_" : "sk_test_";
    size_t plen = strlen(prefix), n = 32;
    if (cap < plen + n + 1)
        return CS_EINTERNAL;
    memcpy(out, prefix, plen);
    size_t i = 0;
    while (i < n) {
        uint8_t r[32];
        if (crypto_random(r, sizeof r) != 0)
            return CS_EINTERNAL;
        for (size_t j = 0; j < sizeof r && i < n; j++)
            if (r[j] < 248) /* 248 = 4 * 62: rejection sampling keeps the draw uniform */
                out[plen + i++] = b62[r[j] % 62];
    }
    out[plen + n] = 0;
    return 0;
}
