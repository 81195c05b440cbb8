/* SHA-256 (FIPS 180-4): the x86 SHA extensions when present, else mbedTLS
 * (sha256.h). */
#include <string.h>
#include <mbedtls/sha256.h>
#include "core/sha256.h"

/* Elsewhere: mbedTLS's block function on our state (its context's fields
 * are public in 2.28). */
static void blocks_c(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    mbedtls_sha256_context m;
    memcpy(m.state, state, sizeof m.state);
    for (; nblocks--; p += 64)
        mbedtls_internal_sha256_process(&m, p);
    memcpy(state, m.state, sizeof m.state);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_SHA_NI 1

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* The state lives as ABEF / CDGH in two registers, as sha256rnds2 wants it;
 * each step runs four rounds and computes the next four schedule words. */
__attribute__((target("sha,sse4.1"))) static void blocks_ni(uint32_t state[8], const uint8_t *p, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);   /* CDAB */
    __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);   /* EFGH */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);                                         /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);                                              /* CDGH */
    for (; nblocks--; p += 64) {
        __m128i save0 = st0, save1 = st1, w[4];
        for (int g = 0; g < 16; g++) {   /* words 4g .. 4g+3; w[g % 4] holds group g */
            __m128i m;
            if (g < 4) {
                m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
            } else {
                m = _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]);               /* W[t-16] + s0(W[t-15]) */
                m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4)); /* + W[t-7] */
                m = _mm_sha256msg2_epu32(m, w[(g + 3) % 4]);                       /* + s1(W[t-2]) */
            }
            w[g % 4] = m;
            __m128i wk = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * g]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, wk);
            st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(wk, 0x0E));
        }
        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
    }
    tmp = _mm_shuffle_epi32(st0, 0x1B);   /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);   /* DCHG */
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(tmp, st1, 0xF0));   /* DCBA */
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(st1, tmp, 8));      /* HGFE */
}
#endif

static void (*blocks)(uint32_t state[8], const uint8_t *p, size_t nblocks) = blocks_c;

int sha256_accelerated(void)
{
#ifdef HAVE_SHA_NI
    return blocks == blocks_ni;
#else
    return 0;
#endif
}

/* Chosen once, before main and any thread. */
__attribute__((constructor)) static void sha256_choose(void)
{
#ifdef HAVE_SHA_NI
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1"))
        blocks = blocks_ni;
#endif
}

void sha256_use_portable(int yes)
{
    blocks = blocks_c;
    if (!yes)
        sha256_choose();
}

void sha256_init(struct sha256 *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->state, iv, sizeof iv);
    c->total_bytes = 0;
    c->used = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    c->total_bytes += n;
    if (c->used) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->block + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used < 64)
            return;
        blocks(c->state, c->block, 1);
        c->used = 0;
    }
    if (n >= 64) {
        blocks(c->state, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
    }
    memcpy(c->block, p, n);
    c->used = n;
}

void sha256_final(struct sha256 *c, uint8_t out[32])
{
    uint64_t bits = c->total_bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (c->used < 56 ? 56 : 120) - c->used;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->state[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->state[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->state[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->state[i];
    }
}

void sha256_hmac(const void *key, size_t key_len, const void *msg, size_t n, uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    struct sha256 c;
    if (key_len > sizeof k) {   /* RFC 2104: a long key is hashed first */
        sha256_init(&c);
        sha256_update(&c, key, key_len);
        sha256_final(&c, k);
    } else {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&c);
    sha256_update(&c, pad, sizeof pad);
    sha256_update(&c, msg, n);
    sha256_final(&c, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&c);
    sha256_update(&c, pad, sizeof pad);
    sha256_update(&c, inner, sizeof inner);
    sha256_final(&c, out);
}
