#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include "core/keys.h"
#include "core/crypto.h"
#include "core/errors.h"

int keys_load(const char *data_dir, const char *name, uint8_t key[32])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, key, 32);
        close(fd);
        return n == 32 ? 0 : CS_EIO;
    }
    if (errno != ENOENT)
        return CS_EIO;
    if (crypto_random(key, 32) != 0)
        return CS_EINTERNAL;
    /* O_EXCL: two processes starting at once must not both write a key. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return errno == EEXIST ? keys_load(data_dir, name, key) : CS_EIO;
    ssize_t n = write(fd, key, 32);
    int ok = n == 32 && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : CS_EIO;
}
