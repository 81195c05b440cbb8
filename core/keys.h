#ifndef CAISSE_KEYS_H
#define CAISSE_KEYS_H
/* Per-installation secret keys kept beside the data (never in the log). */
#include <stdint.h>

/* Loads `<data_dir>/<name>`, a 32-byte key, creating it (mode 0600, from the
 * CSPRNG) on first use. Returns 0, or CS_EIO with errno set. */
int keys_load(const char *data_dir, const char *name, uint8_t key[32]);

#endif
