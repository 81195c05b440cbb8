/* The strict multipart/form-data reader (core/multipart.h): well-formed
 * bodies as browsers, curl and Python send them, and malformed ones, each
 * refused with CS_EPARAM and never read past their end. */
#include <stdlib.h>
#include <string.h>
#include "core/multipart.h"
#include "tests/unit/tap.h"

static struct multipart_part parts[MULTIPART_PARTS_MAX];
static size_t n;
static struct cs_diag d;

/* Parses a copy of `body` in a buffer of exactly its size (ASan catches any
 * read past the end). */
static int parse(const char *body, size_t len, const char *boundary)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    memset(&d, 0, sizeof d);
    memset(parts, 0, sizeof parts);
    n = 0;
    int rc = multipart_parse(copy, len, boundary, parts, &n, &d);
    /* part data points into copy: compare before freeing */
    static char kept[4][256];
    for (size_t i = 0; i < n && i < 4; i++) {
        size_t k = parts[i].len < 255 ? parts[i].len : 255;
        memcpy(kept[i], parts[i].data, k);
        kept[i][k] = 0;
        parts[i].data = kept[i];
    }
    free(copy);
    return rc;
}

#define PARSE(lit, b) parse(lit, sizeof(lit) - 1, b)

static void boundaries(void)
{
    char b[MULTIPART_BOUNDARY_BYTES_MAX + 1];
    struct cs_diag e = {0};
    EQ_INT(multipart_boundary("multipart/form-data; boundary=abc123", b, &e), 0, "plain boundary");
    EQ_STR(b, "abc123", "boundary read");
    EQ_INT(multipart_boundary("Multipart/Form-Data;charset=utf-8;  BOUNDARY=\"a b'c\"", b, &e), 0,
           "case-insensitive, quoted, another parameter first");
    EQ_STR(b, "a b'c", "quoted boundary with a space");
    EQ_INT(multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", b, &e), 0,
           "a browser's boundary");
    EQ_INT(multipart_boundary("application/json", b, &e), CS_EMEDIATYPE, "JSON is another media type");
    EQ_INT(multipart_boundary(NULL, b, &e), CS_EMEDIATYPE, "no Content-Type");
    EQ_INT(multipart_boundary("multipart/form-dataX; boundary=a", b, &e), CS_EMEDIATYPE, "a longer media type");
    EQ_INT(multipart_boundary("multipart/mixed; boundary=a", b, &e), CS_EMEDIATYPE, "multipart/mixed");
    EQ_INT(multipart_boundary("multipart/form-data", b, &e), CS_EPARAM, "no boundary");
    EQ_STR(e.param, "Content-Type", "names the header");
    EQ_INT(multipart_boundary("multipart/form-data; boundary=", b, &e), CS_EPARAM, "empty boundary");
    EQ_INT(multipart_boundary("multipart/form-data; boundary=\"ends \"", b, &e), CS_EPARAM, "ends with a space");
    EQ_INT(multipart_boundary("multipart/form-data; boundary=a; boundary=b", b, &e), CS_EPARAM, "twice");
    EQ_INT(multipart_boundary("multipart/form-data; boundary=\"a{b\"", b, &e), CS_EPARAM, "not a bchar");
    EQ_INT(multipart_boundary("multipart/form-data; boundary=\"unclosed", b, &e), CS_EPARAM, "unclosed quote");
    EQ_INT(multipart_boundary("multipart/form-data; boundary", b, &e), CS_EPARAM, "no '='");
    char longb[200] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    EQ_INT(multipart_boundary(longb, b, &e), CS_EPARAM, "71 characters");
    longb[strlen(longb) - 1] = 0;
    EQ_INT(multipart_boundary(longb, b, &e), 0, "70 characters");
}

static void well_formed(void)
{
    EQ_INT(PARSE("--XYZ\r\n"
                 "Content-Disposition: form-data; name=\"file\"; filename=\"re\\\"cu.pdf\"\r\n"
                 "Content-Type: application/pdf\r\n"
                 "\r\n"
                 "%PDF-1.4\r\n--XY not the end\r\n"
                 "--XYZ\r\n"
                 "content-disposition: FORM-DATA; name=text\r\n"
                 "X-Ignored: yes\r\n"
                 "Content-Transfer-Encoding: binary\r\n"
                 "\r\n"
                 "Livr\xc3\xa9 le 3 mars\r\n"
                 "--XYZ  \t\r\n"
                 "Content-Disposition: form-data; name=\"empty\"\r\n"
                 "\r\n"
                 "\r\n"
                 "--XYZ--\r\n"
                 "epilogue, ignored\r\n", "XYZ"), 0, "three parts");
    EQ_INT(n, 3, "three parts read");
    EQ_STR(parts[0].name, "file", "name");
    EQ_STR(parts[0].filename, "re\"cu.pdf", "quoted-pair in a filename");
    OK(parts[0].has_filename, "has a filename");
    EQ_STR(parts[0].content_type, "application/pdf", "declared type");
    EQ_STR(parts[0].data, "%PDF-1.4\r\n--XY not the end", "content up to the CRLF before the delimiter");
    EQ_STR(parts[1].name, "text", "token name, header names any case");
    OK(!parts[1].has_filename, "no filename");
    EQ_STR(parts[1].content_type, "", "no declared type");
    EQ_STR(parts[1].data, "Livr\xc3\xa9 le 3 mars", "UTF-8 content");
    EQ_INT(parts[2].len, 0, "an empty part");

    EQ_INT(PARSE("preamble line\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--", "b"), 0,
           "a preamble, no CRLF after the close");
    EQ_INT(n, 1, "one part after a preamble");
    EQ_STR(parts[0].data, "x", "its content");

    EQ_INT(PARSE("--b--\r\n", "b"), 0, "no parts at all");
    EQ_INT(n, 0, "zero parts");

    EQ_INT(PARSE("--b\r\nContent-Disposition: form-data; name=a; filename=\"\"\r\n\r\n\r\n--b--", "b"), 0,
           "an empty filename");
    OK(parts[0].has_filename && parts[0].filename[0] == 0, "filename present and empty");

    /* binary content with NULs, CRs and LFs */
    static const char bin[] = "--b\r\nContent-Disposition: form-data; name=f\r\n\r\n\x89PNG\r\n\x1a\n\0\0\r--b\n\r\n--b--";
    EQ_INT(parse(bin, sizeof bin - 1, "b"), 0, "binary content");
    EQ_INT(parts[0].len, 15, "binary length, NULs included");
}

static void malformed(void)
{
    static const struct { const char *body, *why; } bad[] = {
        {"", "an empty body"},
        {"--other\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--other--", "another boundary"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx", "no closing delimiter"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b", "a delimiter at the very end"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--bc\r\n", "a longer boundary-like line"},
        {"--b\nContent-Disposition: form-data; name=a\n\nx\n--b--", "bare LF line ends"},
        {"--b\r\nContent-Disposition: form-data; name=a\n\r\nx\r\n--b--", "a header ending in bare LF"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n", "headers that never end"},
        {"--b\r\nContent-Disposition form-data; name=a\r\n\r\nx\r\n--b--", "a header without a colon"},
        {"--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nx\r\n--b--", "a folded header"},
        {"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "no Content-Disposition"},
        {"--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--", "not form-data"},
        {"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "no name"},
        {"--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--b--", "an empty name"},
        {"--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--", "name twice"},
        {"--b\r\nContent-Disposition: form-data; name=a; filename=x; filename=y\r\n\r\nx\r\n--b--", "filename twice"},
        {"--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x.pdf\r\n\r\nx\r\n--b--", "filename*"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--", "an unclosed quote"},
        {"--b\r\nContent-Disposition: form-data; name=a;\r\n\r\nx\r\n--b--", "a trailing semicolon"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n\r\nx\r\n--b--",
         "Content-Disposition twice"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64\r\n\r\neA==\r\n--b--",
         "base64 transfer encoding"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\nx\r\n--b--", "a control character in a name"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b junk\r\n", "junk after a delimiter"},
        {"--b\r\n: empty\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--", "an empty header name"},
        {"--b\r\nContent-Disposition: form-data; name=a\rb\r\n\r\nx\r\n--b--", "a bare CR in a header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i].body, strlen(bad[i].body), "b");
        EQ_INT(rc, CS_EPARAM, bad[i].why);
        OK(rc != CS_EPARAM || strcmp(d.param, "body") == 0, "%s: names the body", bad[i].why);
    }
    /* NUL inside a header line */
    static const char nul[] = "--b\r\nContent-Disposition: form-data; name=a\0b\r\n\r\nx\r\n--b--";
    EQ_INT(parse(nul, sizeof nul - 1, "b"), CS_EPARAM, "a NUL in a header");

    /* more than MULTIPART_PARTS_MAX parts */
    char many[4096] = "";
    for (unsigned i = 0; i <= MULTIPART_PARTS_MAX; i++)
        strcat(many, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n");
    strcat(many, "--b--");
    EQ_INT(parse(many, strlen(many), "b"), CS_EPARAM, "17 parts");
    OK(strstr(d.message, "at most 16 parts") != NULL, "says the limit: %s", d.message);

    /* headers over the limit */
    size_t big = MULTIPART_PART_HEADER_BYTES_MAX + 200;
    char *h = malloc(big + 200);
    strcpy(h, "--b\r\nContent-Disposition: form-data; name=a\r\nX-Long: ");
    size_t at = strlen(h);
    memset(h + at, 'v', big);
    strcpy(h + at + big, "\r\n\r\nx\r\n--b--");
    EQ_INT(parse(h, strlen(h), "b"), CS_EPARAM, "a header over 8 KiB");
    free(h);
}

int main(void)
{
    boundaries();
    well_formed();
    malformed();
    return tap_done();
}
