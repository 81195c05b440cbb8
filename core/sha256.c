/* SHA-256 and HMAC-SHA-256 through mbedTLS (core/sha256.h). The _ret
 * functions of mbedTLS 2.28 only fail on bad arguments, which these never
 * pass. */
#include <mbedtls/md.h>
#include "core/sha256.h"

void sha256_init(struct sha256 *c)
{
    mbedtls_sha256_init(&c->m);
    (void)mbedtls_sha256_starts_ret(&c->m, 0);
}

void sha256_update(struct sha256 *c, const void *data, size_t n)
{
    (void)mbedtls_sha256_update_ret(&c->m, data, n);
}

void sha256_final(struct sha256 *c, uint8_t out[32])
{
    (void)mbedtls_sha256_finish_ret(&c->m, out);
    mbedtls_sha256_free(&c->m);
}

void sha256_hmac(const void *key, size_t key_len, const void *msg, size_t n, uint8_t out[32])
{
    (void)mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, key_len, msg, n, out);
}
