#ifndef CAISSE_MULTIPART_H
#define CAISSE_MULTIPART_H
/* A strict reader of multipart/form-data bodies (RFC 7578, on the framing of
 * RFC 2046 §5.1), for uploads that arrive whole in memory (the HTTP layer
 * bounds a body by CS_HTTP_BODY_BYTES_MAX). Zero copy: each part's content
 * points into the body; the part's names are copied into the part itself.
 *
 * What is accepted (docs/disputes.md "Uploading evidence"):
 *   - lines end with CRLF; the boundary is 1..70 characters of RFC 2046's
 *     bchars, not ending with a space; a preamble before the first delimiter
 *     and an epilogue after the closing one are ignored (RFC 2046);
 *     transport padding (spaces, tabs) after a delimiter is allowed;
 *   - each part has a `Content-Disposition: form-data; name="…"` header,
 *     optionally `filename="…"`, and optionally a `Content-Type`; other header
 *     fields are ignored except `Content-Transfer-Encoding`, which must be
 *     7bit, 8bit or binary (RFC 7578 §4.7 deprecates the others);
 *   - parameter values are tokens or quoted strings (with `\"` and `\\`
 *     escapes); `filename*` (RFC 5987) is refused, as RFC 7578 §4.2 says
 *     senders must not use it;
 *   - at most MULTIPART_PARTS_MAX parts and MULTIPART_PART_HEADER_BYTES_MAX
 *     bytes of header per part.
 * Anything else (a bare LF, a header without a colon, no closing delimiter, a
 * duplicated name or filename parameter, a name that is empty or not UTF-8
 * printable) is refused with CS_EPARAM and a message saying where. */
#include <stddef.h>
#include "core/errors.h"

#define MULTIPART_PARTS_MAX              16u
#define MULTIPART_BOUNDARY_BYTES_MAX     70u      /* RFC 2046 */
#define MULTIPART_PART_HEADER_BYTES_MAX  (8u * 1024)
#define MULTIPART_NAME_BYTES_MAX         64u      /* a form field's name */
#define MULTIPART_FILENAME_BYTES_MAX     255u     /* as sent; callers sanitize it */
#define MULTIPART_TYPE_BYTES_MAX         127u     /* a part's declared Content-Type */

struct multipart_part {
    char name[MULTIPART_NAME_BYTES_MAX + 1];
    char filename[MULTIPART_FILENAME_BYTES_MAX + 1];
    int has_filename;                   /* a filename parameter was present (maybe "") */
    char content_type[MULTIPART_TYPE_BYTES_MAX + 1];   /* "" if none was declared */
    const char *data;                   /* into the body; not NUL-terminated */
    size_t len;
};

/* The boundary of a Content-Type header value if its media type is
 * multipart/form-data (case-insensitive, parameters in any order, the
 * boundary quoted or not). Returns 0, or CS_EMEDIATYPE for another media
 * type (or none), or CS_EPARAM if the boundary is missing or malformed
 * (d filled either way). out: MULTIPART_BOUNDARY_BYTES_MAX + 1 bytes. */
int multipart_boundary(const char *content_type, char *out, struct cs_diag *d);

/* Reads the parts of `body` (len bytes) delimited by `boundary` into
 * parts[0..*n). Returns 0 or CS_EPARAM (d->param "body", d->message says
 * what and at which part). */
int multipart_parse(const char *body, size_t len, const char *boundary, struct multipart_part *parts,
                    size_t *n, struct cs_diag *d);

#endif
