/* Reports over payment events and the online history's bounds
 * (core/reports.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/reports.h"
#include "core/clock.h"
#include "core/money.h"

/* ---- days ---------------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (the
 * usual era arithmetic: 400-year eras of 146097 days, years from March so
 * the leap day ends a year). */
int64_t report_day_of_date(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void report_date_of_day(int64_t day, char out[11])
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    char b[40];   /* the compiler cannot see that m and d are 2 digits */
    snprintf(b, sizeof b, "%04d-%02d-%02d", (int)(y % 10000), (int)m, (int)d);
    memcpy(out, b, 10);
    out[10] = 0;
}

int64_t report_day_of_us(int64_t us)
{
    return us >= 0 ? us / REPORT_DAY_US : -((-(us + 1)) / REPORT_DAY_US) - 1;
}

int64_t report_history_first_day(int64_t now_us)
{
    char today[11];
    report_date_of_day(report_day_of_us(now_us), today);
    int y, m, d;
    if (clock_parse_date(today, &y, &m, &d) != 0)
        return 0;
    int months = y * 12 + (m - 1) - REPORT_HISTORY_MONTHS;
    y = months / 12;
    m = months % 12 + 1;
    int last = clock_days_in_month(y, m);
    return report_day_of_date(y, m, d > last ? last : d);
}

/* ---- query-string times ---------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int report_parse_time(const char *s, int end_of_day, int64_t *out_us)
{
    size_t n = strlen(s);
    if (n == 0)
        return -1;
    if (strspn(s, "0123456789") == n) {   /* Unix seconds, as the orders list takes them */
        if (n > 12)
            return -1;
        long long v = strtoll(s, NULL, 10);
        if (v > 253402300799LL)   /* 9999-12-31T23:59:59Z */
            return -1;
        *out_us = (int64_t)v * 1000000;
        return 0;
    }
    char date[11];
    if (n < 10)
        return -1;
    memcpy(date, s, 10);
    date[10] = 0;
    int y, m, d;
    if (clock_parse_date(date, &y, &m, &d) != 0)
        return -1;
    int64_t day_us = report_day_of_date(y, m, d) * REPORT_DAY_US;
    if (n == 10) {
        *out_us = end_of_day ? day_us + REPORT_DAY_US - 1 : day_us;
        return 0;
    }
    /* RFC 3339: date "T" HH:MM:SS [.fraction] ("Z" | ("+"|"-") HH:MM) */
    const char *p = s + 10;
    int hh, mm, ss;
    if ((*p != 'T' && *p != 't') || n < 20 || digits(p + 1, 2, &hh) || p[3] != ':' || digits(p + 4, 2, &mm) ||
        p[6] != ':' || digits(p + 7, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
        return -1;
    p += 9;
    int64_t frac = 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 6)
                frac = frac * 10 + (*p - '0');
        if (nd == 0 || nd > 9)
            return -1;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int64_t offset_s = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == 0) {
        offset_s = 0;
    } else if ((*p == '+' || *p == '-' || *p == ' ') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    int64_t t = day_us + ((int64_t)hh * 3600 + mm * 60 + ss - offset_s) * 1000000 + frac;
    if (t < 0 || t > 253402300799LL * 1000000)
        return -1;
    *out_us = t;
    return 0;
}

/* ---- efficiency report ---------------------------------------------------------------- */

int eff_report_init(struct eff_report *r, int64_t from_day, int64_t to_day)
{
    memset(r, 0, sizeof *r);
    if (from_day > to_day)
        return -1;
    r->from_day = from_day;
    r->to_day = to_day;
    r->days = calloc((size_t)(to_day - from_day + 1), sizeof *r->days);
    return r->days ? 0 : -1;
}

void eff_report_destroy(struct eff_report *r)
{
    free(r->days);
    r->days = NULL;
}

static void count(struct eff_report *r, struct eff_counts *c, int ok, int64_t amount)
{
    int64_t *n = ok ? &c->succeeded : &c->failed, *a = ok ? &c->amount_succeeded : &c->amount_failed;
    if (money_add(*n, 1, n) != 0 || money_add(*a, amount, a) != 0)
        r->overflow = 1;
}

/* The slot of a failure code: past REPORT_FAILURE_CODES_MAX distinct codes
 * the rest share one "other" slot (the array has room for it). */
static struct eff_code *code_slot(struct eff_report *r, const char *code)
{
    if (!code || !*code || strlen(code) > REPORT_CODE_BYTES_MAX)
        code = "other";
    for (size_t i = 0; i < r->ncodes; i++)
        if (strcmp(r->codes[i].code, code) == 0)
            return &r->codes[i];
    if (r->ncodes >= REPORT_FAILURE_CODES_MAX && strcmp(code, "other") != 0)
        return code_slot(r, "other");
    struct eff_code *c = &r->codes[r->ncodes++];
    snprintf(c->code, sizeof c->code, "%s", code);
    return c;
}

static void count_code(struct eff_report *r, const char *code, int64_t amount)
{
    struct eff_code *c = code_slot(r, code);
    if (money_add(c->count, 1, &c->count) != 0 || money_add(c->amount, amount, &c->amount) != 0)
        r->overflow = 1;
}

static int str_eq(json_t *v, const char *s)
{
    const char *x = json_string_value(v);
    return x && strcmp(x, s) == 0;
}

/* The amount the first authorization asked of the card. */
static int64_t first_amount(json_t *doc)
{
    json_t *first = json_array_get(json_object_get(doc, "charges"), 0);
    return json_integer_value(json_object_get(first ? first : doc, "amount"));
}

/* The charge a charge event acted on: paid (or failed) at the event's time. */
static json_t *charge_at(json_t *doc, int ok, const char *at)
{
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(doc, "charges"), i, ch) {
        if (ok ? str_eq(json_object_get(ch, "paid_at"), at)
               : str_eq(json_object_get(json_object_get(ch, "last_failure"), "failed_at"), at))
            return ch;
    }
    return NULL;
}

int eff_report_add(struct eff_report *r, const char *type, int64_t time_us, json_t *data)
{
    int64_t day = report_day_of_us(time_us);
    if (!type || day < r->from_day || day > r->to_day)
        return 0;
    json_t *doc = json_object_get(data, "object");
    char at[40];
    clock_format_rfc3339(time_us, at, sizeof at);
    int ok, charge = 0;
    int64_t amount;
    const char *code = NULL;
    if (strcmp(type, "payment.failed") == 0) {
        ok = 0;
        amount = first_amount(doc);
        code = json_string_value(json_object_get(json_object_get(doc, "failure"), "code"));
    } else if (strcmp(type, "payment.authorized") == 0 || strcmp(type, "payment.captured") == 0) {
        /* A capture of an earlier authorization is no authorization attempt. */
        if (!str_eq(json_object_get(json_object_get(doc, "authorization"), "authorized_at"), at))
            return 0;
        ok = 1;
        amount = first_amount(doc);
    } else if (strcmp(type, "payment_link.payment_failed") == 0) {
        /* A card refused on a payment link's page: the payment stays open
         * for another card, the attempt failed all the same. */
        json_t *f = json_object_get(doc, "last_failure");
        ok = 0;
        amount = json_integer_value(json_object_get(doc, "amount"));
        code = json_string_value(json_object_get(f, "code"));
    } else if (strcmp(type, "payment.charge_succeeded") == 0 || strcmp(type, "payment.charge_failed") == 0) {
        ok = strcmp(type, "payment.charge_succeeded") == 0;
        charge = 1;
        json_t *ch = charge_at(doc, ok, at);
        amount = json_integer_value(json_object_get(ch, "amount"));
        if (!ok)
            code = json_string_value(json_object_get(json_object_get(ch, "last_failure"), "code"));
    } else {
        return 0;
    }
    if (amount < 0)
        amount = 0;
    count(r, &r->days[day - r->from_day], ok, amount);
    count(r, &r->total, ok, amount);
    count(r, charge ? &r->charges : &r->creations, ok, amount);
    if (!ok)
        count_code(r, code, amount);
    return 1;
}

int64_t eff_reject_rate_bp(const struct eff_counts *c)
{
    int64_t attempts = c->succeeded + c->failed;
    if (attempts <= 0)
        return -1;
    /* Half up: floor((2 * failed * 10000 + attempts) / (2 * attempts)). Counts
     * are far below 2^63 / 20000 (one event each). */
    return (2 * c->failed * 10000 + attempts) / (2 * attempts);
}

static json_t *counts_json(const struct eff_counts *c)
{
    int64_t bp = eff_reject_rate_bp(c);
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I}", "attempts", (json_int_t)(c->succeeded + c->failed), "succeeded",
                          (json_int_t)c->succeeded, "failed", (json_int_t)c->failed, "amount_succeeded",
                          (json_int_t)c->amount_succeeded, "amount_failed", (json_int_t)c->amount_failed);
    if (o)
        json_object_set_new(o, "reject_rate_bp", bp < 0 ? json_null() : json_integer(bp));
    return o;
}

static int code_order(const void *a, const void *b)
{
    const struct eff_code *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->code, y->code);
}

json_t *eff_report_json(const struct eff_report *r, const char *currency)
{
    char from[11], to[11];
    report_date_of_day(r->from_day, from);
    report_date_of_day(r->to_day, to);
    json_t *days = json_array(), *codes = json_array();
    json_t *out = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:o,s:o,s:{s:o,s:o},s:o}", "object", "efficiency_report", "from",
                            from, "to", to, "currency", currency, "timezone", "UTC", "days", days, "totals",
                            counts_json(&r->total), "by_source", "payments", counts_json(&r->creations),
                            "scheduled_charges", counts_json(&r->charges), "failures_by_code", codes);
    if (!out)
        return NULL;
    for (int64_t d = r->from_day; d <= r->to_day; d++) {
        char date[11];
        report_date_of_day(d, date);
        json_t *c = counts_json(&r->days[d - r->from_day]);
        if (!c || json_object_set_new(c, "date", json_string(date)) != 0 || json_array_append_new(days, c) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    struct eff_code sorted[REPORT_FAILURE_CODES_MAX + 1];
    memcpy(sorted, r->codes, r->ncodes * sizeof sorted[0]);
    qsort(sorted, r->ncodes, sizeof sorted[0], code_order);
    for (size_t i = 0; i < r->ncodes; i++) {
        json_t *c = json_pack("{s:s,s:I,s:I}", "code", sorted[i].code, "count", (json_int_t)sorted[i].count, "amount",
                              (json_int_t)sorted[i].amount);
        if (!c || json_array_append_new(codes, c) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
