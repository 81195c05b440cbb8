#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tests/unit/tap.h"

static int tap_n, tap_failed;

void tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
}

void tap_eq_i64(int64_t got, int64_t want, const char *file, int line, const char *what)
{
    tap_ok(got == want, file, line, "%s", what);
    if (got != want)
        printf("#   got %lld, want %lld\n", (long long)got, (long long)want);
}

void tap_eq_str(const char *got, const char *want, const char *file, int line, const char *what)
{
    int same = got && want ? strcmp(got, want) == 0 : got == want;
    tap_ok(same, file, line, "%s", what);
    if (!same)
        printf("#   got \"%s\", want \"%s\"\n", got ? got : "(null)", want ? want : "(null)");
}

int tap_done(void)
{
    printf("1..%d\n", tap_n);
    if (tap_failed)
        printf("# %d of %d checks failed\n", tap_failed, tap_n);
    return tap_failed ? 1 : 0;
}
