#ifndef CAISSE_JSON_IN_H
#define CAISSE_JSON_IN_H
/* Validation of request bodies. Each check names the offending field by its
 * path ("customer.email", "lines[2].quantity") in the diagnostic. */
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

/* Parses a request body that must be one JSON object (duplicate keys refused,
 * nesting bounded by CS_JSON_DEPTH_MAX). An empty body parses as {}. */
int jin_parse(const char *body, size_t len, json_t **out, struct cs_diag *d);

/* Joins a path and a key ("customer" + "email" -> "customer.email"). */
void jin_path(char *out, size_t cap, const char *path, const char *key);

/* `v` (at `path`) must be an object whose keys all appear in `allowed`
 * (NULL-terminated). */
int jin_object(json_t *v, const char *path, const char *const *allowed, struct cs_diag *d);

/* Field getters: `obj` is an object at `path`. A missing optional field leaves
 * *out untouched and returns 0. JSON null counts as missing. */
int jin_string(json_t *obj, const char *path, const char *key, int required, size_t min_bytes,
               size_t max_bytes, const char **out, struct cs_diag *d);
int jin_int(json_t *obj, const char *path, const char *key, int required, int64_t min, int64_t max,
            int64_t *out, struct cs_diag *d);
int jin_bool(json_t *obj, const char *path, const char *key, int required, int *out, struct cs_diag *d);
/* Returns the member (object/array) if present and of the type, else NULL with
 * an error in *rc (0 if simply absent and optional). */
json_t *jin_child(json_t *obj, const char *path, const char *key, json_type type, int required,
                  int *rc, struct cs_diag *d);

/* The optional "metadata" member of obj: at most CS_METADATA_KEYS_MAX keys of
 * 1 to 40 printable bytes, string values of at most 500 printable bytes.
 * *out is borrowed (NULL when absent). */
int jin_metadata(json_t *obj, const char *path, json_t **out, struct cs_diag *d);

/* Character-class checks for strings already fetched. */
int jin_printable(const char *s);          /* UTF-8 without control characters */
int jin_token(const char *s);              /* [A-Za-z0-9_-]+ */
int jin_email(const char *s);              /* local@domain.tld, at most 254 bytes, no spaces */
int jin_phone(const char *s);              /* E.164: + then 8 to 15 digits */

#endif
