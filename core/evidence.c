/* Evidence files: type by content, safe names, the content-addressed store
 * (core/evidence.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <magic.h>
#include "core/evidence.h"
#include "core/crypto.h"

/* ---- type by content ------------------------------------------------------------- */

/* One libmagic handle for the process: a magic_t is not safe for concurrent
 * use, and loading the database costs more than a lookup. */
static pthread_mutex_t magic_mu = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic_db;
static int magic_failed;

const char *evidence_type(const void *data, size_t len)
{
    static const char *const allowed[] = {"application/pdf", "image/png", "image/jpeg", NULL};
    const char *found = NULL;
    if (!data || len == 0)
        return NULL;
    pthread_mutex_lock(&magic_mu);
    if (!magic_db && !magic_failed) {
        /* Only the magic database's tests: the text, encoding, JSON, CSV and
         * archive heuristics can only name types we refuse, and some read
         * the whole buffer. */
        magic_db = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TAR | MAGIC_NO_CHECK_ELF |
                              MAGIC_NO_CHECK_CDF | MAGIC_NO_CHECK_ENCODING | MAGIC_NO_CHECK_TOKENS |
                              MAGIC_NO_CHECK_TEXT | MAGIC_NO_CHECK_JSON | MAGIC_NO_CHECK_CSV);
        if (!magic_db || magic_load(magic_db, NULL) != 0) {
            fprintf(stderr, "caisse: libmagic could not load its database: %s\n",
                    magic_db ? magic_error(magic_db) : "out of memory");
            if (magic_db)
                magic_close(magic_db);
            magic_db = NULL;
            magic_failed = 1;   /* every file is then refused: fail closed */
        }
    }
    const char *t = magic_db ? magic_buffer(magic_db, data, len) : NULL;
    for (const char *const *a = allowed; t && *a; a++)
        if (strcmp(t, *a) == 0)
            found = *a;   /* a static string: valid after the lock */
    pthread_mutex_unlock(&magic_mu);
    return found;
}

/* ---- names ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence (non-ASCII, not overlong, no
 * surrogates) at s, or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

void evidence_filename(const char *name, const char *content_type, char *out)
{
    const char *base = name ? name : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)base;
    while (*s == '.' || *s == ' ')
        s++;
    while (*s) {
        size_t k = 1;
        if (*s >= 0x80) {
            k = utf8_seq(s);
            if (k == 0) {
                k = 1;
                if (n + 1 > EVIDENCE_FILENAME_BYTES_MAX)
                    break;
                out[n++] = '_';
                s++;
                continue;
            }
            if (n + k > EVIDENCE_FILENAME_BYTES_MAX)
                break;
            memcpy(out + n, s, k);
        } else {
            if (n + 1 > EVIDENCE_FILENAME_BYTES_MAX)
                break;
            int keep = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                       strchr(" ._-()+,@", *s);
            out[n] = keep ? (char)*s : '_';
        }
        n += k;
        s += k;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = 0;
    if (n == 0) {
        const char *ext = !content_type ? "" : strcmp(content_type, "application/pdf") == 0 ? ".pdf"
                        : strcmp(content_type, "image/png") == 0 ? ".png"
                        : strcmp(content_type, "image/jpeg") == 0 ? ".jpg" : "";
        snprintf(out, EVIDENCE_FILENAME_BYTES_MAX + 1, "evidence%s", ext);
    }
}

int evidence_sha256_valid(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* ---- the store -------------------------------------------------------------------- */

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir that tolerates an existing directory; a new one is made durable in
 * its parent. */
static int ensure_dir(const char *path, const char *parent)
{
    if (mkdir(path, 0750) == 0)
        return fsync_dir(parent);
    return errno == EEXIST ? 0 : -1;
}

static int io_fail(struct cs_diag *d, const char *what, const char *path)
{
    return cs_fail(d, CS_EIO, "", "evidence store: %s %s: %s", what, path, strerror(errno));
}

int evidence_put(const char *data_dir, const char *sha256_hex, const void *data, size_t len, struct cs_diag *d)
{
    char root[EVIDENCE_PATH_BYTES_MAX], sub[EVIDENCE_PATH_BYTES_MAX], final[EVIDENCE_PATH_BYTES_MAX],
        tmp[EVIDENCE_PATH_BYTES_MAX];
    if (!evidence_sha256_valid(sha256_hex) || len > EVIDENCE_FILE_BYTES_MAX)
        return cs_fail(d, CS_EINTERNAL, "", "evidence store: bad name or size");
    uint8_t rnd[8];
    char rhex[17];
    if (crypto_random(rnd, sizeof rnd) != 0)
        return cs_fail(d, CS_EINTERNAL, "", "evidence store: no randomness for a temporary name");
    crypto_hex(rnd, sizeof rnd, rhex);
    if ((size_t)snprintf(root, sizeof root, "%s/evidence", data_dir) >= sizeof root ||
        (size_t)snprintf(sub, sizeof sub, "%s/%.2s", root, sha256_hex) >= sizeof sub ||
        (size_t)snprintf(final, sizeof final, "%s/%s", sub, sha256_hex) >= sizeof final ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%s", sub, sha256_hex, rhex) >= sizeof tmp)
        return cs_fail(d, CS_EIO, "", "evidence store: the data directory's path is too long");
    struct stat st;
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
        return 0;   /* content-addressed: the same bytes are already durable */
    if (ensure_dir(root, data_dir) != 0)
        return io_fail(d, "cannot create", root);
    if (ensure_dir(sub, root) != 0)
        return io_fail(d, "cannot create", sub);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return io_fail(d, "cannot create", tmp);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int rc = io_fail(d, "cannot write", tmp);
            close(fd);
            unlink(tmp);
            return rc;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int rc = io_fail(d, "cannot fsync", tmp);
        close(fd);
        unlink(tmp);
        return rc;
    }
    if (close(fd) != 0) {
        int rc = io_fail(d, "cannot close", tmp);
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, final) != 0) {
        int rc = io_fail(d, "cannot rename into", final);
        unlink(tmp);
        return rc;
    }
    if (fsync_dir(sub) != 0)
        return io_fail(d, "cannot fsync", sub);
    return 0;
}

int evidence_get(const char *data_dir, const char *sha256_hex, char **out, size_t *len, struct cs_diag *d)
{
    char path[EVIDENCE_PATH_BYTES_MAX];
    *out = NULL;
    *len = 0;
    if (!evidence_sha256_valid(sha256_hex))
        return CS_ENOENT;
    if ((size_t)snprintf(path, sizeof path, "%s/evidence/%.2s/%s", data_dir, sha256_hex, sha256_hex) >= sizeof path)
        return cs_fail(d, CS_EIO, "", "evidence store: the data directory's path is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? cs_fail(d, CS_ENOENT, "", "evidence store: %s is missing", path)
                               : io_fail(d, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)EVIDENCE_FILE_BYTES_MAX) {
        close(fd);
        return cs_fail(d, CS_ECORRUPT, "", "evidence store: %s is not a stored file", path);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int rc = r < 0 ? io_fail(d, "cannot read", path)
                           : cs_fail(d, CS_ECORRUPT, "", "evidence store: %s shrank while read", path);
            free(buf);
            close(fd);
            return rc;
        }
        got += (size_t)r;
    }
    close(fd);
    /* Checked after the read, as every read of the disk is (STYLE.md 14). */
    char hex[65];
    crypto_sha256_hex(buf, n, hex);
    if (strcmp(hex, sha256_hex) != 0) {
        free(buf);
        return cs_fail(d, CS_ECORRUPT, "", "evidence store: %s does not match its SHA-256", path);
    }
    *out = buf;
    *len = n;
    return 0;
}
