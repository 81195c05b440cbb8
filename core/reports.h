#ifndef CAISSE_REPORTS_H
#define CAISSE_REPORTS_H
/* Reports over a merchant's payment events, pure of I/O (docs/risk.md
 * "Efficiency report"): the handlers (core/api_reports.c) walk the log and
 * feed each event here. Also the bounds of the online history that the
 * payments list and the reports share (seed 004: 15 months online; older data
 * is in the log, `caisse events dump --since`). */
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define REPORT_HISTORY_MONTHS   15     /* online history: payments list, export, reports */
#define REPORT_DEFAULT_DAYS     30     /* the efficiency report without from/to: the last 30 days */
#define REPORT_FAILURE_CODES_MAX 64    /* distinct failure codes kept; the rest count as "other" */
#define REPORT_CODE_BYTES_MAX   40     /* a failure code longer than this counts as "other" */
#define REPORT_DAY_US           (86400LL * 1000000)
/* The report walks the log newest first and stops at the first event older
 * than its first day by more than this: an event is recorded out of time
 * order only when a scheduled job fires late (at its due time, after the
 * server was down), so a job more than this late on its day is not counted. */
#define REPORT_EVENT_LATENESS_DAYS_MAX 31

/* Days since 1970-01-01 of a valid "YYYY-MM-DD" (clock_parse_date), and back. */
int64_t report_day_of_date(int y, int m, int d);
void report_date_of_day(int64_t day, char out[11]);
/* The UTC day of a time (floor division: times before 1970 work too). */
int64_t report_day_of_us(int64_t us);

/* The first day of the online history: today's date (the UTC day of now_us)
 * REPORT_HISTORY_MONTHS calendar months back, the day clamped to that
 * month's last (31 May -> 28 or 29 February). Data created from 00:00 UTC
 * of that day on is online. */
int64_t report_history_first_day(int64_t now_us);

/* A time bound of a query string: Unix seconds, a date "YYYY-MM-DD" (00:00
 * UTC, or with end_of_day the day's last microsecond), or RFC 3339
 * ("2026-11-23T10:00:00Z", fraction and a "+01:00" offset allowed; a space
 * stands for the '+' that form encoding turns into one). 0 or -1. */
int report_parse_time(const char *s, int end_of_day, int64_t *out_us);

/* ---- efficiency report ---------------------------------------------------------
 * Card authorization attempts, per UTC day of [from_day, to_day]:
 *   - a payment's first authorization (at creation, or when a payment link is
 *     paid): payment.authorized or payment.captured whose authorization was
 *     made by that very event, succeeded; payment.failed, failed (its
 *     failure.code: an acquirer decline or risk_blocked);
 *   - a scheduled charge of a split or deposit payment:
 *     payment.charge_succeeded, succeeded; payment.charge_failed, failed
 *     (the charge's last_failure.code).
 * The amount of an attempt is what was asked of the card: the first charge
 * of a split or deposit payment, the whole amount otherwise; the charge's
 * amount for a scheduled charge. Other events count for nothing. */
struct eff_counts {
    int64_t succeeded, failed;                 /* attempts */
    int64_t amount_succeeded, amount_failed;   /* minor units */
};
struct eff_code {
    char code[REPORT_CODE_BYTES_MAX + 1];
    int64_t count, amount;
};
struct eff_report {
    int64_t from_day, to_day;
    struct eff_counts *days;                   /* to_day - from_day + 1 */
    struct eff_counts total, creations, charges;
    struct eff_code codes[REPORT_FAILURE_CODES_MAX + 1];   /* + "other" */
    size_t ncodes;
    int overflow;                              /* a sum passed INT64_MAX: the report is refused */
};

/* 0, or -1 (out of memory; from_day > to_day). */
int eff_report_init(struct eff_report *r, int64_t from_day, int64_t to_day);
void eff_report_destroy(struct eff_report *r);
/* Counts one event (its type, time and data). Returns 1 if it counted. */
int eff_report_add(struct eff_report *r, const char *type, int64_t time_us, json_t *data);
/* The reject rate in basis points, rounded half up: failed * 10000 / attempts;
 * -1 when there was no attempt. */
int64_t eff_reject_rate_bp(const struct eff_counts *c);
/* The report as the API shows it (a new object; NULL on out of memory). */
json_t *eff_report_json(const struct eff_report *r, const char *currency);

#endif
