#ifndef CAISSE_CLOCK_H
#define CAISSE_CLOCK_H
/* The one clock of caisse. Commands read it once and record the time in their
 * events; projections and replay never read it. */
#include <stddef.h>
#include <stdint.h>

/* Platform time: UTC microseconds since the epoch. */
int64_t clock_now_us(void);
/* RFC 3339 UTC with microseconds ("2026-11-23T10:00:00.123456Z"); buf >= 28. */
void clock_format_rfc3339(int64_t us, char *buf, size_t cap);
/* The inverse of clock_format_rfc3339 (exactly that form): UTC microseconds,
 * or -1 if s is not such a time. */
int64_t clock_parse_rfc3339(const char *s);
/* "YYYY-MM-DD" of the UTC day of `us`; buf >= 11. */
void clock_format_date(int64_t us, char *buf, size_t cap);
/* Parses "YYYY-MM-DD" into y/m/d and checks it is a real calendar date. */
int clock_parse_date(const char *s, int *y, int *m, int *d);
/* Days in month m (1..12) of year y. */
int clock_days_in_month(int y, int m);

#endif
