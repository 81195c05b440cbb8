#ifndef CAISSE_SHA256_H
#define CAISSE_SHA256_H
/* SHA-256 and HMAC-SHA-256 for the write path (the event chain, API-key
 * hashes, card fingerprints), through mbedTLS: one small interface so the
 * callers do not each spell out mbedTLS's context dance. */
#include <stddef.h>
#include <stdint.h>
#include <mbedtls/sha256.h>

struct sha256 {
    mbedtls_sha256_context m;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
/* Writes the digest and frees the context. */
void sha256_final(struct sha256 *c, uint8_t out[32]);
/* HMAC-SHA-256 (RFC 2104) of msg under key: the card fingerprint of every
 * checkout. */
void sha256_hmac(const void *key, size_t key_len, const void *msg, size_t n, uint8_t out[32]);

#endif
