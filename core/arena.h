#ifndef CAISSE_ARENA_H
#define CAISSE_ARENA_H
/* A bump allocator per request: everything the request allocates comes from it
 * and goes at once in arena_free(). Cleanup hooks release what is not memory. */
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
/* Runs the cleanup hooks (last registered first), then frees all memory. */
void arena_free(struct arena *a);
/* Returns 16-byte aligned memory, or NULL past CS_ARENA_BYTES_MAX. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_sprintf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Registers fn(arg) to run at arena_free. Returns 0 or CS_ENOMEM. */
int arena_on_free(struct arena *a, void (*fn)(void *arg), void *arg);
size_t arena_used(const struct arena *a);

#endif
