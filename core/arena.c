/* A chunked bump allocator, one per request (core/arena.h).
 *
 * The arena header lives at the start of its first chunk, so a small request
 * costs one malloc; freed arenas (first chunk only) go to a small global cache
 * so that the steady state of the HTTP loop costs no malloc at all. Allocations
 * larger than a quarter chunk get a chunk of their own, so one big body does
 * not waste the rest of the current chunk. Every chunk byte counts against
 * CS_ARENA_BYTES_MAX: the cap is on memory really taken, not on bytes asked. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/arena.h"
#include "core/errors.h"
#include "core/limits.h"

#define ARENA_ALIGN        16u
#define ARENA_LARGE_BYTES  (CS_ARENA_CHUNK_BYTES / 4)
#define ARENA_CACHE_MAX    256u   /* cached arenas: 256 * 16 KiB = 4 MiB at most */

struct arena_chunk {
    struct arena_chunk *next;
    size_t bytes;                 /* whole malloc'd block, header included */
};

struct arena_hook {
    void (*fn)(void *arg);
    void *arg;
    struct arena_hook *prev;      /* LIFO: the newest hook is run first */
};

struct arena {
    char *pos, *end;              /* free space in the current chunk */
    struct arena_chunk *extra;    /* chunks after the first, freed at arena_free */
    struct arena_hook *hooks;
    size_t used;                  /* bytes handed out (rounded) */
    size_t reserved;              /* chunk bytes taken from malloc */
    struct arena *next_cached;
};

/* The first chunk: the arena header, then the payload, 16-aligned. */
#define ARENA_HEAD_BYTES   ((sizeof(struct arena) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))
#define CHUNK_HEAD_BYTES   ((sizeof(struct arena_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))
_Static_assert(CS_ARENA_CHUNK_BYTES > 1024, "a chunk holds a request head");

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena *cache_head;
static unsigned cache_n;

static size_t round_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

static void arena_reset_first(struct arena *a)
{
    a->pos = (char *)a + ARENA_HEAD_BYTES;
    a->end = (char *)a + CS_ARENA_CHUNK_BYTES;
    a->extra = NULL;
    a->hooks = NULL;
    a->used = 0;
    a->reserved = CS_ARENA_CHUNK_BYTES;
    a->next_cached = NULL;
}

struct arena *arena_new(void)
{
    struct arena *a = NULL;
    pthread_mutex_lock(&cache_lock);
    if (cache_head) {
        a = cache_head;
        cache_head = a->next_cached;
        cache_n--;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!a) {
        /* aligned_alloc so the payload alignment does not depend on malloc's. */
        a = aligned_alloc(ARENA_ALIGN, CS_ARENA_CHUNK_BYTES);
        if (!a)
            return NULL;
    }
    arena_reset_first(a);
    return a;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    /* Hooks may still use arena memory (they are often stored in it): run them
     * all before anything is released. A hook registered by a hook is run too. */
    while (a->hooks) {
        struct arena_hook *h = a->hooks;
        a->hooks = h->prev;
        h->fn(h->arg);
    }
    struct arena_chunk *c = a->extra;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    pthread_mutex_lock(&cache_lock);
    if (cache_n < ARENA_CACHE_MAX) {
        a->next_cached = cache_head;
        cache_head = a;
        cache_n++;
        a = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
    free(a);
}

/* A new chunk of `payload` bytes, linked into the extra list; NULL past the cap. */
static char *chunk_add(struct arena *a, size_t payload, size_t *got)
{
    size_t bytes = CHUNK_HEAD_BYTES + payload;
    if (bytes < payload || a->reserved + bytes > CS_ARENA_BYTES_MAX)
        return NULL;
    struct arena_chunk *c = aligned_alloc(ARENA_ALIGN, round_up(bytes));
    if (!c)
        return NULL;
    c->bytes = bytes;
    c->next = a->extra;
    a->extra = c;
    a->reserved += bytes;
    *got = payload;
    return (char *)c + CHUNK_HEAD_BYTES;
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > CS_ARENA_BYTES_MAX)
        return NULL;
    n = round_up(n);
    if ((size_t)(a->end - a->pos) >= n) {
        void *p = a->pos;
        a->pos += n;
        a->used += n;
        return p;
    }
    size_t got;
    if (n > ARENA_LARGE_BYTES) {
        /* Its own chunk; the current chunk keeps serving small allocations. */
        char *p = chunk_add(a, n, &got);
        if (p)
            a->used += n;
        return p;
    }
    char *p = chunk_add(a, CS_ARENA_CHUNK_BYTES - CHUNK_HEAD_BYTES, &got);
    if (!p)
        return NULL;
    a->pos = p + n;
    a->end = p + got;
    a->used += n;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    n = strnlen(s, n);
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_sprintf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    /* Try to print straight into the free space of the current chunk. */
    size_t room = (size_t)(a->end - a->pos);
    va_start(ap, fmt);
    int n = vsnprintf(a->pos, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n < room) {
        char *p = a->pos;
        size_t take = round_up((size_t)n + 1);
        if (take > room)
            take = room;   /* the chunk end is aligned, so this never misaligns */
        a->pos += take;
        a->used += take;
        return p;
    }
    char *p = arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int arena_on_free(struct arena *a, void (*fn)(void *arg), void *arg)
{
    struct arena_hook *h = arena_alloc(a, sizeof *h);
    if (!h)
        return CS_ENOMEM;
    h->fn = fn;
    h->arg = arg;
    h->prev = a->hooks;
    a->hooks = h;
    return 0;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}
