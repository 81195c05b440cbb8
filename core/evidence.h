#ifndef CAISSE_EVIDENCE_H
#define CAISSE_EVIDENCE_H
/* The evidence files of disputes (docs/disputes.md "Evidence files"):
 * checked by their content, named safely, and kept content-addressed beside
 * the event log:
 *
 *   <data dir>/evidence/<first 2 hex of the SHA-256>/<SHA-256 hex>
 *
 * A file is written to a temporary name in its final directory, fsynced,
 * renamed, and its directory fsynced, all BEFORE the event that references
 * it is appended: a crash leaves at most a file that nothing references,
 * never an event that references a missing file. The same content is stored
 * once whatever its name or dispute. Files are never deleted by caisse. */
#include <stddef.h>
#include <stdint.h>
#include "core/errors.h"

#define EVIDENCE_FILE_BYTES_MAX      (512u * 1024)   /* one file */
#define EVIDENCE_FILENAME_BYTES_MAX  100u            /* a sanitized name */
#define EVIDENCE_PATH_BYTES_MAX      4096u

/* The media type of `data` judged by its content (libmagic, not the name nor
 * the declared type): "application/pdf", "image/png" or "image/jpeg"; NULL
 * for anything else (also when the detection fails). Thread-safe. */
const char *evidence_type(const void *data, size_t len);

/* A file name safe to store, show and send back in a Content-Disposition
 * header: the last path segment of `name`; ASCII letters, digits and
 * " ._-()+,@" kept, other ASCII replaced by '_', valid UTF-8 beyond ASCII
 * kept (an invalid byte becomes '_'); leading dots and spaces and trailing
 * spaces dropped; cut to EVIDENCE_FILENAME_BYTES_MAX bytes on a character
 * boundary. An empty result becomes "evidence" plus the extension of
 * `content_type`. out: EVIDENCE_FILENAME_BYTES_MAX + 1 bytes. */
void evidence_filename(const char *name, const char *content_type, char *out);

/* Stores `data` under its SHA-256 (sha256_hex, 64 lower-case hex digits,
 * computed by the caller) in <data_dir>/evidence. Already there with the
 * same size: nothing is written. Returns 0 or CS_EIO (d says what failed).
 * Blocking (write, fsync, rename): call it off the loop thread. */
int evidence_put(const char *data_dir, const char *sha256_hex, const void *data, size_t len, struct cs_diag *d);

/* Reads the stored file of sha256_hex into a new malloc'd buffer (*out,
 * *len) and checks its SHA-256: CS_ENOENT if absent, CS_ECORRUPT if the
 * content does not match its name, CS_EIO on a read error. */
int evidence_get(const char *data_dir, const char *sha256_hex, char **out, size_t *len, struct cs_diag *d);

/* 1 if s is 64 lower-case hex digits. */
int evidence_sha256_valid(const char *s);

#endif
