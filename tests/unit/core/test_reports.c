/* The efficiency report is a pure fold over payment events; the online
 * history's bounds and the query-string times are pure too. */
#include <string.h>
#include "core/reports.h"
#include "core/clock.h"
#include "tests/unit/tap.h"

#define DAY REPORT_DAY_US

static int64_t day_of(const char *ymd)
{
    int y, m, d;
    if (clock_parse_date(ymd, &y, &m, &d) != 0)
        return -1;
    return report_day_of_date(y, m, d);
}

static void test_days(void)
{
    EQ_INT(day_of("1970-01-01"), 0, "epoch");
    EQ_INT(day_of("2000-03-01"), 11017, "2000-03-01");
    EQ_INT(day_of("1969-12-31"), -1, "before the epoch");
    char b[11];
    const char *dates[] = {"1970-01-01", "1999-12-31", "2000-02-29", "2024-02-29", "2026-11-23", "2100-03-01",
                           "1900-03-01", NULL};
    for (const char **s = dates; *s; s++) {
        report_date_of_day(day_of(*s), b);
        EQ_STR(b, *s, "a date survives the round trip");
    }
    EQ_INT(day_of("2026-03-01") - day_of("2026-02-28"), 1, "2026 is not a leap year");
    EQ_INT(report_day_of_us(-1), -1, "a microsecond before the epoch is the day before");
    EQ_INT(report_day_of_us(DAY - 1), 0, "the last microsecond of day 0");
    EQ_INT(report_day_of_us(DAY), 1, "day 1");
}

static void test_history(void)
{
    char b[11];
    report_date_of_day(report_history_first_day(day_of("2026-11-23") * DAY + 5 * 3600 * 1000000LL), b);
    EQ_STR(b, "2025-08-23", "15 months before 2026-11-23");
    report_date_of_day(report_history_first_day(day_of("2026-05-31") * DAY), b);
    EQ_STR(b, "2025-02-28", "31 May clamps to the last of February");
    report_date_of_day(report_history_first_day(day_of("2025-05-31") * DAY), b);
    EQ_STR(b, "2024-02-29", "and to the 29th in a leap year");
    report_date_of_day(report_history_first_day(day_of("2026-03-15") * DAY), b);
    EQ_STR(b, "2024-12-15", "across a year boundary");
}

static void test_parse_time(void)
{
    int64_t t = 0;
    OK(report_parse_time("1700000000", 0, &t) == 0 && t == 1700000000LL * 1000000, "Unix seconds");
    OK(report_parse_time("2026-11-23", 0, &t) == 0 && t == day_of("2026-11-23") * DAY, "a date is its midnight");
    OK(report_parse_time("2026-11-23", 1, &t) == 0 && t == day_of("2026-11-24") * DAY - 1,
       "as an upper bound, its last microsecond");
    OK(report_parse_time("2026-11-23T10:00:00Z", 0, &t) == 0 && t == day_of("2026-11-23") * DAY + 36000LL * 1000000,
       "RFC 3339 UTC");
    OK(report_parse_time("2026-11-23T10:00:00.5Z", 0, &t) == 0 &&
       t == day_of("2026-11-23") * DAY + 36000LL * 1000000 + 500000, "a fraction");
    OK(report_parse_time("2026-11-23T10:00:00.123456789Z", 0, &t) == 0 &&
       t == day_of("2026-11-23") * DAY + 36000LL * 1000000 + 123456, "nanoseconds are cut to microseconds");
    OK(report_parse_time("2026-11-23T11:00:00+01:00", 0, &t) == 0 && t == day_of("2026-11-23") * DAY + 36000LL * 1000000,
       "an offset");
    OK(report_parse_time("2026-11-23T11:00:00 01:00", 0, &t) == 0 && t == day_of("2026-11-23") * DAY + 36000LL * 1000000,
       "a '+' turned into a space by form encoding");
    OK(report_parse_time("2026-11-23T09:00:00-01:00", 0, &t) == 0 && t == day_of("2026-11-23") * DAY + 36000LL * 1000000,
       "a negative offset");
    const char *bad[] = {"", "2026-13-01", "2026-02-30", "2026-11-23T24:00:00Z", "2026-11-23T10:00:00",
                         "2026-11-23T10:00Z", "2026-11-23T10:00:00.Z", "2026-11-23 10:00:00Z", "yesterday",
                         "-5", "9999999999999", "2026-11-23T10:00:00+1:00", "2026-11-23X", NULL};
    for (const char **s = bad; *s; s++)
        OK(report_parse_time(*s, 0, &t) != 0, "refused: \"%s\"", *s);
}

/* Events as the payment commands write them (only what the report reads). */
static json_t *created(const char *type, const char *at, int64_t amount, const char *failure, json_t *charges)
{
    json_t *doc = json_pack("{s:I}", "amount", (json_int_t)amount);
    if (strcmp(type, "payment.failed") == 0)
        json_object_set_new(doc, "failure", json_pack("{s:s}", "code", failure));
    else
        json_object_set_new(doc, "authorization", json_pack("{s:s}", "authorized_at", at));
    if (charges)
        json_object_set_new(doc, "charges", charges);
    return json_pack("{s:o}", "object", doc);
}

static int64_t at_us(const char *rfc3339)
{
    int64_t t = 0;
    report_parse_time(rfc3339, 0, &t);
    return t;
}

static void test_efficiency(void)
{
    struct eff_report r;
    int64_t d0 = day_of("2026-11-20"), d2 = day_of("2026-11-22");
    OK(eff_report_init(&r, d2, d0) != 0, "from after to is refused");
    OK(eff_report_init(&r, d0, d2) == 0, "three days");
    const char *t1 = "2026-11-20T10:00:00.000000Z", *t2 = "2026-11-21T23:59:59.999999Z",
               *t3 = "2026-11-22T00:00:00.000000Z";
    json_t *e;
    /* day 1: 2 succeeded (one split: its first charge counts), 1 declined */
    e = created("payment.captured", t1, 1000, NULL, NULL);
    EQ_INT(eff_report_add(&r, "payment.captured", at_us(t1), e), 1, "a captured creation counts");
    json_decref(e);
    e = created("payment.authorized", t1, 900, NULL, json_pack("[{s:I},{s:I},{s:I}]", "amount", (json_int_t)300,
                                                              "amount", (json_int_t)300, "amount", (json_int_t)300));
    EQ_INT(eff_report_add(&r, "payment.authorized", at_us(t1), e), 1, "a split's first authorization counts");
    json_decref(e);
    e = created("payment.failed", t1, 500, "do_not_honor", NULL);
    EQ_INT(eff_report_add(&r, "payment.failed", at_us(t1), e), 1, "a decline counts");
    json_decref(e);
    /* a capture of an earlier authorization is not an attempt */
    e = created("payment.captured", t1, 700, NULL, NULL);
    EQ_INT(eff_report_add(&r, "payment.captured", at_us(t2), e), 0, "a later capture does not count");
    json_decref(e);
    /* day 2: a risk refusal and a failed scheduled charge */
    e = created("payment.failed", t2, 2500, "risk_blocked", NULL);
    EQ_INT(eff_report_add(&r, "payment.failed", at_us(t2), e), 1, "a risk refusal counts");
    json_decref(e);
    e = json_pack("{s:{s:I,s:[{s:I,s:s,s:s},{s:I,s:s,s:{s:s,s:s}}]}}", "object", "amount", (json_int_t)800,
                  "charges", "amount", (json_int_t)400, "status", "paid", "paid_at", t1, "amount", (json_int_t)400,
                  "status", "failed", "last_failure", "code", "insufficient_funds", "failed_at", t2);
    EQ_INT(eff_report_add(&r, "payment.charge_failed", at_us(t2), e), 1, "a failed charge counts");
    json_decref(e);
    /* day 3: a paid scheduled charge */
    e = json_pack("{s:{s:I,s:[{s:I,s:s,s:s},{s:I,s:s,s:s}]}}", "object", "amount", (json_int_t)800, "charges",
                  "amount", (json_int_t)400, "status", "paid", "paid_at", t1, "amount", (json_int_t)450, "status",
                  "paid", "paid_at", t3);
    EQ_INT(eff_report_add(&r, "payment.charge_succeeded", at_us(t3), e), 1, "a paid charge counts");
    json_decref(e);
    /* outside the range, and other events */
    e = created("payment.failed", "2026-11-23T00:00:00.000000Z", 1, "do_not_honor", NULL);
    EQ_INT(eff_report_add(&r, "payment.failed", at_us("2026-11-23T00:00:00Z"), e), 0, "the day after is out");
    EQ_INT(eff_report_add(&r, "payment.failed", at_us("2026-11-19T23:59:59Z"), e), 0, "the day before is out");
    EQ_INT(eff_report_add(&r, "payment.cancelled", at_us(t1), e), 0, "a cancellation is no attempt");
    json_decref(e);

    EQ_INT(r.days[0].succeeded, 2, "day 1 succeeded");
    EQ_INT(r.days[0].amount_succeeded, 1300, "day 1 amount succeeded (1000 + the first charge 300)");
    EQ_INT(r.days[0].failed, 1, "day 1 failed");
    EQ_INT(eff_reject_rate_bp(&r.days[0]), 3333, "1 in 3: 33.33 %");
    EQ_INT(r.days[1].failed, 2, "day 2 failed");
    EQ_INT(r.days[1].amount_failed, 2900, "day 2 amount failed");
    EQ_INT(eff_reject_rate_bp(&r.days[1]), 10000, "all failed: 100 %");
    EQ_INT(r.days[2].amount_succeeded, 450, "day 3: the charge paid that day");
    EQ_INT(r.total.succeeded, 3, "total succeeded");
    EQ_INT(r.total.failed, 3, "total failed");
    EQ_INT(eff_reject_rate_bp(&r.total), 5000, "total 50 %");
    EQ_INT(r.creations.succeeded + r.creations.failed, 4, "4 creations");
    EQ_INT(r.charges.succeeded + r.charges.failed, 2, "2 scheduled charges");

    json_t *j = eff_report_json(&r, "EUR");
    OK(j != NULL, "the report renders");
    EQ_STR(json_string_value(json_object_get(j, "from")), "2026-11-20", "from");
    EQ_STR(json_string_value(json_object_get(j, "to")), "2026-11-22", "to");
    EQ_INT(json_array_size(json_object_get(j, "days")), 3, "one entry per day");
    json_t *codes = json_object_get(j, "failures_by_code");
    EQ_INT(json_array_size(codes), 3, "three failure codes");
    /* equal counts: by code name */
    EQ_STR(json_string_value(json_object_get(json_array_get(codes, 0), "code")), "do_not_honor", "sorted");
    EQ_STR(json_string_value(json_object_get(json_array_get(codes, 2), "code")), "risk_blocked", "sorted");
    EQ_INT(json_integer_value(json_object_get(json_array_get(codes, 2), "amount")), 2500, "its amount");
    json_decref(j);
    eff_report_destroy(&r);

    struct eff_counts none = {0}, two_of_three = {.succeeded = 1, .failed = 2}, one_of_eight = {.succeeded = 7, .failed = 1};
    EQ_INT(eff_reject_rate_bp(&none), -1, "no attempt: no rate");
    EQ_INT(eff_reject_rate_bp(&two_of_three), 6667, "66.666 % rounds up to 6667");
    EQ_INT(eff_reject_rate_bp(&one_of_eight), 1250, "12.5 % exactly");
}

static void test_many_codes(void)
{
    struct eff_report r;
    OK(eff_report_init(&r, 0, 0) == 0, "one day");
    char code[32];
    for (int i = 0; i < REPORT_FAILURE_CODES_MAX + 10; i++) {
        snprintf(code, sizeof code, "code_%d", i);
        json_t *e = created("payment.failed", "", 1, code, NULL);
        eff_report_add(&r, "payment.failed", 1000, e);
        json_decref(e);
    }
    EQ_INT(r.ncodes, REPORT_FAILURE_CODES_MAX + 1, "the codes past the limit share one slot");
    EQ_STR(r.codes[REPORT_FAILURE_CODES_MAX].code, "other", "named other");
    EQ_INT(r.codes[REPORT_FAILURE_CODES_MAX].count, 10, "holding the rest");
    eff_report_destroy(&r);
}

int main(void)
{
    test_days();
    test_history();
    test_parse_time();
    test_efficiency();
    test_many_codes();
    return tap_done();
}
