#ifndef CAISSE_EMBEDDED_H
#define CAISSE_EMBEDDED_H
#include <stddef.h>

/* Files compiled into the binary by tools/embed.cmake (built-in Lua policies,
 * the OpenAPI document). Paths are relative to the source root, e.g.
 * "lua/policy/plans.lua". Each `data` is NUL-terminated; `len` excludes it. */
struct embedded_file {
    const char *path;
    const char *data;
    size_t len;
};

extern const struct embedded_file embedded_files[]; /* ends with path == NULL */

/* Returns the file at `path`, or NULL. */
const struct embedded_file *embedded_find(const char *path);

#endif
