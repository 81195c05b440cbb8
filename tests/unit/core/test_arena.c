/* core/arena.c: alignment, the cap, large allocations, cleanup hook order. */
#include <stdint.h>
#include <string.h>
#include "core/arena.h"
#include "core/errors.h"
#include "core/limits.h"
#include "tests/unit/tap.h"

static char order[16];
static int norder;
static void hook(void *arg) { order[norder++] = *(const char *)arg; }

static void test_alignment(void)
{
    struct arena *a = arena_new();
    OK(a != NULL, "arena_new");
    int aligned = 1;
    for (size_t n = 1; n < 3000; n += 7) {
        void *p = arena_alloc(a, n);
        if (!p || ((uintptr_t)p & 15u)) {
            aligned = 0;
            break;
        }
        memset(p, 0xab, n);   /* ASan: the whole block is ours */
    }
    OK(aligned, "every allocation is 16-byte aligned, across chunks");
    char *s = arena_sprintf(a, "%s-%d", "abc", 42);
    EQ_STR(s, "abc-42", "arena_sprintf");
    OK(((uintptr_t)arena_alloc(a, 1) & 15u) == 0, "aligned after sprintf");
    EQ_STR(arena_strndup(a, "hello world", 5), "hello", "arena_strndup cuts at n");
    char big[40000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char *bs = arena_sprintf(a, "%s", big);
    OK(bs && strlen(bs) == sizeof big - 1, "arena_sprintf larger than a chunk");
    arena_free(a);
}

static void test_large_and_cap(void)
{
    struct arena *a = arena_new();
    void *small1 = arena_alloc(a, 32);
    void *large = arena_alloc(a, 1u << 20);
    void *small2 = arena_alloc(a, 32);
    OK(large && ((uintptr_t)large & 15u) == 0, "a 1 MiB allocation");
    memset(large, 1, 1u << 20);
    OK((char *)small2 == (char *)small1 + 32, "a large allocation leaves the current chunk in use");
    OK(arena_alloc(a, CS_ARENA_BYTES_MAX + 1) == NULL, "one allocation past the cap is refused");
    size_t got = 0;
    while (arena_alloc(a, 4096))
        got += 4096;
    OK(arena_used(a) <= CS_ARENA_BYTES_MAX, "used stays under the cap");
    OK(arena_used(a) > CS_ARENA_BYTES_MAX / 2, "the cap is reachable");
    OK(arena_alloc(a, 16) == NULL || arena_used(a) <= CS_ARENA_BYTES_MAX, "still capped");
    arena_free(a);

    a = arena_new();
    OK(arena_used(a) == 0, "a recycled arena starts empty");
    OK(arena_alloc(a, CS_HTTP_BODY_BYTES_MAX + 1) != NULL, "a maximal body fits a fresh arena");
    arena_free(a);
}

static void test_hooks(void)
{
    static const char tags[] = "abc";
    struct arena *a = arena_new();
    norder = 0;
    EQ_INT(arena_on_free(a, hook, (void *)&tags[0]), 0, "hook a");
    EQ_INT(arena_on_free(a, hook, (void *)&tags[1]), 0, "hook b");
    EQ_INT(arena_on_free(a, hook, (void *)&tags[2]), 0, "hook c");
    EQ_INT(norder, 0, "hooks do not run before arena_free");
    arena_free(a);
    order[norder] = 0;
    EQ_STR(order, "cba", "hooks run last-registered first");
}

int main(void)
{
    test_alignment();
    test_large_and_cap();
    test_hooks();
    return tap_done();
}
