/* SHA-256: known digests, then random inputs fed in random pieces (as the
 * log's records come) against the one-shot digest, and HMAC. The seed is
 * printed; CAISSE_SEED replays one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/sha256.h>
#include <mbedtls/md.h>
#include "core/sha256.h"
#include "core/crypto.h"
#include "tests/unit/tap.h"

static void digest_hex(const void *data, size_t n, char out[65])
{
    struct sha256 c;
    uint8_t h[32];
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, h);
    crypto_hex(h, 32, out);
}

/* HMAC against mbedTLS: RFC 4231 case 2, then random keys (short and longer
 * than a block) and messages. */
static void run_hmac(const char *label)
{
    uint8_t got[32], want[32];
    char hex[65];
    sha256_hmac("Jefe", 4, "what do ya want for nothing?", 28, got);
    crypto_hex(got, 32, hex);
    EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", label);
    static uint8_t key[150], msg[300];
    int fails = 0;
    for (int i = 0; i < 200; i++) {
        size_t kn = (size_t)rand() % sizeof key, mn = (size_t)rand() % sizeof msg;
        for (size_t k = 0; k < kn; k++)
            key[k] = (uint8_t)rand();
        for (size_t k = 0; k < mn; k++)
            msg[k] = (uint8_t)rand();
        sha256_hmac(key, kn, msg, mn, got);
        mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, kn, msg, mn, want);
        fails += memcmp(got, want, 32) != 0;
    }
    EQ_INT(fails, 0, label);
}

static unsigned long long rng;
static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng >> 33) % n);
}

static void run(const char *label)
{
    char hex[65];
    digest_hex("", 0, hex);
    EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", label);
    digest_hex("abc", 3, hex);
    EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", label);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    digest_hex(two, strlen(two), hex);
    EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", label);

    static uint8_t buf[5000];
    int fails = 0;
    for (int i = 0; i < 400; i++) {
        size_t n = rnd(i < 200 ? 200 : sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rnd(256);
        uint8_t want[32], got[32];
        mbedtls_sha256_ret(buf, n, want, 0);
        struct sha256 c;
        sha256_init(&c);
        for (size_t at = 0; at < n;) {   /* random pieces, as the record and its prefix come */
            size_t take = 1 + rnd(130);
            if (take > n - at)
                take = n - at;
            sha256_update(&c, buf + at, take);
            at += take;
        }
        sha256_final(&c, got);
        fails += memcmp(want, got, 32) != 0;
    }
    EQ_INT(fails, 0, label);
}

int main(void)
{
    const char *seed_env = getenv("CAISSE_SEED");
    rng = seed_env ? strtoull(seed_env, NULL, 10) : (unsigned long long)time(NULL);
    printf("# seed %llu (CAISSE_SEED to replay)\n", rng);
    srand((unsigned)rng);
    run("SHA-256");
    run_hmac("HMAC");
    return tap_done();
}
