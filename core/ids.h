#ifndef CAISSE_IDS_H
#define CAISSE_IDS_H
/* Object ids: "<prefix>_" + 26 Crockford base32 characters = 48 bits of
 * milliseconds since the epoch (so ids sort by creation time) + 80 random
 * bits (so they cannot be guessed). */
#include <stddef.h>
#include <stdint.h>

#define ID_BODY_CHARS 26

/* Writes a new id into out (cap >= strlen(prefix) + 28). Returns 0 or CS_EINTERNAL. */
int id_new(const char *prefix, int64_t now_us, char *out, size_t cap);
/* 1 if s is "<prefix>_" followed by exactly 26 Crockford base32 characters. */
int id_valid(const char *s, const char *prefix);

/* Secret API keys: "sk_test_" / "sk_live_" + 32 base62 characters (190 bits). */
int api_key_new(int livemode, char *out, size_t cap);

#endif
