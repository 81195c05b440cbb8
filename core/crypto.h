#ifndef CAISSE_CRYPTO_H
#define CAISSE_CRYPTO_H
/* Randomness (mbedTLS) and hashing (core/sha256.c) for core/. */
#include <stddef.h>
#include <stdint.h>

/* Fills buf from a per-thread CTR-DRBG seeded from the OS entropy source.
 * Returns 0, or CS_EINTERNAL if the generator could not be seeded. */
int crypto_random(void *buf, size_t n);
void crypto_sha256(const void *data, size_t n, uint8_t out[32]);
/* Hex of a SHA-256: out must hold 65 bytes. */
void crypto_sha256_hex(const void *data, size_t n, char out[65]);
void crypto_hex(const uint8_t *in, size_t n, char *out); /* out: 2n+1 bytes */
/* Constant-time comparison of n bytes; 1 if equal. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
