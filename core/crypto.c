#include <string.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include "core/sha256.h"
#include "core/crypto.h"
#include "core/errors.h"

/* One generator per thread: CTR-DRBG contexts are not thread-safe, and the
 * loop thread, the writer and the CLI all make ids. Never freed: it lives as
 * long as its thread, which is the process for every thread caisse runs. */
struct drbg {
    int ready;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context ctr;
};
static _Thread_local struct drbg tls_drbg;

int crypto_random(void *buf, size_t n)
{
    struct drbg *g = &tls_drbg;
    if (!g->ready) {
        mbedtls_entropy_init(&g->entropy);
        mbedtls_ctr_drbg_init(&g->ctr);
        static const char pers[] = "caisse";
        if (mbedtls_ctr_drbg_seed(&g->ctr, mbedtls_entropy_func, &g->entropy,
                                  (const unsigned char *)pers, sizeof pers - 1) != 0)
            return CS_EINTERNAL;
        g->ready = 1;
    }
    unsigned char *p = buf;
    while (n > 0) { /* the DRBG hands out at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes a call */
        size_t k = n < MBEDTLS_CTR_DRBG_MAX_REQUEST ? n : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        if (mbedtls_ctr_drbg_random(&g->ctr, p, k) != 0)
            return CS_EINTERNAL;
        p += k;
        n -= k;
    }
    return 0;
}

void crypto_sha256(const void *data, size_t n, uint8_t out[32])
{
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, out);
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

void crypto_sha256_hex(const void *data, size_t n, char out[65])
{
    uint8_t h[32];
    crypto_sha256(data, n, h);
    crypto_hex(h, 32, out);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}
