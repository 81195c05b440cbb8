#ifndef CAISSE_SHA256_H
#define CAISSE_SHA256_H
/* SHA-256 for the write path: every event record is hashed into the chain,
 * and mbedTLS's portable C code was 15 % of the instructions of a checkout.
 * On a CPU with the x86 SHA extensions (sha_ni) the blocks go through them,
 * several times faster; elsewhere through mbedTLS. Same digests either way
 * (tests/unit/core/test_sha256.c). */
#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t used;            /* bytes waiting in block */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
void sha256_final(struct sha256 *c, uint8_t out[32]);
/* HMAC-SHA-256 (RFC 2104) of msg under key: the card fingerprint of every
 * checkout. */
void sha256_hmac(const void *key, size_t key_len, const void *msg, size_t n, uint8_t out[32]);
/* For the tests: 1 if the SHA extensions are in use; force the portable code
 * (yes = 1) or go back to the best one (0). Not while other threads hash. */
int sha256_accelerated(void);
void sha256_use_portable(int yes);

#endif
