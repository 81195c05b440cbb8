/* Evidence files (core/evidence.h): the type judged by content, safe names,
 * and the content-addressed store (write, read back, checked on read). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/evidence.h"
#include "core/crypto.h"
#include "tests/unit/tap.h"

static const char pdf[] = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                    0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde};
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1,
                                     0, 0, 0xff, 0xd9};

static void types(void)
{
    const char *t = evidence_type(pdf, sizeof pdf - 1);
    EQ_STR(t ? t : "(null)", "application/pdf", "a PDF");
    t = evidence_type(png, sizeof png);
    EQ_STR(t ? t : "(null)", "image/png", "a PNG");
    t = evidence_type(jpeg, sizeof jpeg);
    EQ_STR(t ? t : "(null)", "image/jpeg", "a JPEG");
    OK(!evidence_type("hello, this is text named .pdf\n", 31), "text is refused whatever its name");
    OK(!evidence_type("<html><body>x</body></html>", 27), "HTML is refused");
    OK(!evidence_type("GIF89a\x01\x00\x01\x00\x00\x00\x00", 13), "GIF is refused");
    OK(!evidence_type("PK\x03\x04\x14\x00\x00\x00", 8), "a zip is refused");
    OK(!evidence_type(pdf, 0), "empty is refused");
    OK(!evidence_type(" %PDF-1.4\n", 10), "the magic must be at the start");
}

static void names(void)
{
    char out[EVIDENCE_FILENAME_BYTES_MAX + 1];
    evidence_filename("facture-2026_03.pdf", "application/pdf", out);
    EQ_STR(out, "facture-2026_03.pdf", "a plain name is kept");
    evidence_filename("../../etc/passwd", "application/pdf", out);
    EQ_STR(out, "passwd", "path segments dropped");
    evidence_filename("C:\\Users\\me\\re\xc3\xa7u (1).pdf", "application/pdf", out);
    EQ_STR(out, "re\xc3\xa7u (1).pdf", "Windows path dropped, UTF-8 letters kept");
    evidence_filename("..hidden", "image/png", out);
    EQ_STR(out, "hidden", "leading dots dropped");
    evidence_filename("a\"b;c<d>e\x7f" "f\x01.png", "image/png", out);
    EQ_STR(out, "a_b_c_d_e_f_.png", "quotes, separators and controls replaced");
    evidence_filename("bad\xff\xfeutf8.jpg", "image/jpeg", out);
    EQ_STR(out, "bad__utf8.jpg", "invalid UTF-8 bytes replaced");
    evidence_filename("/", "image/jpeg", out);
    EQ_STR(out, "evidence.jpg", "nothing left: a name from the type");
    evidence_filename(NULL, "application/pdf", out);
    EQ_STR(out, "evidence.pdf", "no name");
    evidence_filename("name   ", "application/pdf", out);
    EQ_STR(out, "name", "trailing spaces dropped");
    char longname[400];
    memset(longname, 'x', 99);
    strcpy(longname + 99, "\xc3\xa9\xc3\xa9.pdf");
    evidence_filename(longname, "application/pdf", out);
    EQ_INT(strlen(out), 99, "cut before a character that would not fit");
    OK(strlen(out) <= EVIDENCE_FILENAME_BYTES_MAX, "within the limit");
    OK(evidence_sha256_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), "a sha256");
    OK(!evidence_sha256_valid("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"), "upper case");
    OK(!evidence_sha256_valid("../../x"), "a path");
    OK(!evidence_sha256_valid(NULL), "NULL");
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void store(void)
{
    char dir[] = "/tmp/caisse-evidence-XXXXXX";
    OK(mkdtemp(dir) != NULL, "a temporary data directory");
    char sha[65], path[512];
    struct cs_diag d = {0};
    crypto_sha256_hex(pdf, sizeof pdf - 1, sha);
    EQ_INT(evidence_put(dir, sha, pdf, sizeof pdf - 1, &d), 0, "stored");
    snprintf(path, sizeof path, "%s/evidence/%.2s/%s", dir, sha, sha);
    OK(access(path, R_OK) == 0, "at evidence/<2 hex>/<sha256>");
    snprintf(path, sizeof path, "%s/evidence/%.2s", dir, sha);
    EQ_INT(count_entries(path), 1, "no temporary file left");
    EQ_INT(evidence_put(dir, sha, pdf, sizeof pdf - 1, &d), 0, "stored again: nothing to do");
    EQ_INT(count_entries(path), 1, "still one file");

    char *buf = NULL;
    size_t len = 0;
    EQ_INT(evidence_get(dir, sha, &buf, &len, &d), 0, "read back");
    OK(buf && len == sizeof pdf - 1 && memcmp(buf, pdf, len) == 0, "the same bytes");
    free(buf);

    char other[65];
    crypto_sha256_hex(png, sizeof png, other);
    EQ_INT(evidence_get(dir, other, &buf, &len, &d), CS_ENOENT, "a file never stored");
    EQ_INT(evidence_get(dir, "../../../etc/passwd", &buf, &len, &d), CS_ENOENT, "a path is not a name");
    EQ_INT(evidence_put(dir, "nothex", pdf, 4, &d), CS_EINTERNAL, "put refuses a bad name");

    /* damage on disk is found on read */
    snprintf(path, sizeof path, "%s/evidence/%.2s/%s", dir, sha, sha);
    FILE *f = fopen(path, "r+b");
    OK(f != NULL, "open to damage");
    if (f) {
        fputc('X', f);
        fclose(f);
    }
    EQ_INT(evidence_get(dir, sha, &buf, &len, &d), CS_ECORRUPT, "content that does not match its name");
    OK(buf == NULL, "nothing returned");

    /* an unwritable directory: CS_EIO, said */
    EQ_INT(evidence_put("/proc/caisse-no-such-dir", other, png, sizeof png, &d), CS_EIO, "an unwritable place");
    OK(strstr(d.message, "evidence store") != NULL, "the message says where: %s", d.message);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    OK(system(cmd) == 0, "cleaned up");
}

int main(void)
{
    types();
    names();
    store();
    return tap_done();
}
