#ifndef CAISSE_TAP_H
#define CAISSE_TAP_H
/* A tiny TAP harness: each check prints "ok N - what" or "not ok N - what" with
 * the file:line and a reason; tap_done() prints the plan and returns the exit
 * status (nonzero if any check failed). */
#include <stdint.h>

void tap_ok(int cond, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void tap_eq_i64(int64_t got, int64_t want, const char *file, int line, const char *what);
void tap_eq_str(const char *got, const char *want, const char *file, int line, const char *what);
int tap_done(void);

#define OK(cond, ...)          tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define EQ_INT(got, want, what) tap_eq_i64((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, what)
#define EQ_STR(got, want, what) tap_eq_str((got), (want), __FILE__, __LINE__, what)

#endif
