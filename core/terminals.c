/* Payment terminal decisions (core/terminals.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/terminals.h"
#include "core/doc.h"
#include "core/clock.h"
#include "core/limits.h"

#define HOUR_US (3600LL * 1000000)

int terminal_serial_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < TERMINAL_SERIAL_BYTES_MIN || n > TERMINAL_SERIAL_BYTES_MAX)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The UTC year and month (1..12) of us. */
static void year_month(int64_t us, int *y, int *m)
{
    time_t s = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
}

static int64_t month_start_us(int y, int m)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = 1};
    return (int64_t)timegm(&tm) * 1000000;
}

int64_t terminal_bill_time_after(int64_t us)
{
    int y, m;
    year_month(us, &y, &m);
    if (++m > 12) {
        m = 1;
        y++;
    }
    return month_start_us(y, m) + TERMINAL_BILL_HOUR_UTC * HOUR_US;
}

void terminal_billed_month(int64_t due_us, char *out, size_t cap)
{
    int y, m;
    year_month(due_us, &y, &m);
    if (--m < 1) {
        m = 12;
        y--;
    }
    snprintf(out, cap, "%04d-%02d", y, m);
}

int terminal_month_range(const char *month, int64_t *start_us, int64_t *end_us)
{
    int y, m, d;
    char ymd[16];
    if (!month || strlen(month) != 7)
        return -1;
    snprintf(ymd, sizeof ymd, "%s-01", month);
    if (clock_parse_date(ymd, &y, &m, &d) != 0)
        return -1;
    *start_us = month_start_us(y, m);
    *end_us = m == 12 ? month_start_us(y + 1, 1) : month_start_us(y, m + 1);
    return 0;
}

int terminal_decide_create(const char *id, const char *merchant_id, int livemode, const char *serial,
                           const char *name, int64_t now_us, json_t **data, struct cs_diag *d)
{
    if (!terminal_serial_valid(serial))
        return cs_fail(d, CS_EPARAM, "serial_number", "serial_number must be 4 to 32 letters, digits or '-'");
    char created[40];
    clock_format_rfc3339(now_us, created, sizeof created);
    int64_t next = terminal_bill_time_after(now_us);
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s?,s:s,s:n,s:s,s:s,s:i}", "id", id, "object", "terminal",
                            "livemode", livemode, "merchant", merchant_id, "serial_number", serial, "name", name,
                            "status", "active", "billing", "created", created, "updated", created, "version", 1);
    if (doc && !name)
        json_object_set_new(doc, "name", json_null());
    if (doc)
        doc_set_time(doc, "next_billing_at", next);
    *data = doc ? doc_event_data(doc, json_pack("{s:I}", "terminal.bill", (json_int_t)next), NULL) : NULL;
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int terminal_decide_rename(json_t *doc, const char *name, int64_t now_us, json_t **data, struct cs_diag *d)
{
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(n, "name", name ? json_string(name) : json_null());
    *data = doc_event_data(n, NULL, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int terminal_decide_bill(json_t *doc, const char *month, int64_t transactions, int64_t fee, int64_t vat,
                         const char *currency, int64_t due_us, int64_t now_us, json_t **data, struct cs_diag *d)
{
    json_t *last = json_object_get(json_object_get(doc, "billing"), "last_month");
    const char *lm = json_string_value(last);
    if (lm && strcmp(lm, month) >= 0)
        return cs_fail(d, CS_ESTATE, "", "month %s is already billed", month);
    if (fee < 0 || vat < 0 || fee > CS_AMOUNT_MINOR_MAX || vat > CS_AMOUNT_MINOR_MAX || transactions < 0)
        return cs_fail(d, CS_EAMOUNT, "", "a terminal fee is a non-negative amount");
    if (!currency || strlen(currency) != 3)
        return cs_fail(d, CS_ECURRENCY, "", "the merchant has no settlement currency");
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    int64_t next = terminal_bill_time_after(due_us);
    json_object_set_new(n, "billing", json_pack("{s:s,s:I,s:I,s:I,s:s}", "last_month", month, "last_transactions",
                                                (json_int_t)transactions, "last_fee", (json_int_t)fee, "last_vat",
                                                (json_int_t)vat, "currency", currency));
    doc_set_time(n, "next_billing_at", next);
    *data = doc_event_data(n, json_pack("{s:I}", "terminal.bill", (json_int_t)next), NULL);
    if (*data)
        json_object_set_new(*data, "fee", json_pack("{s:s,s:I,s:I,s:I,s:s}", "month", month, "transactions",
                                                     (json_int_t)transactions, "fee", (json_int_t)fee, "vat",
                                                     (json_int_t)vat, "currency", currency));
    return *data && json_object_get(*data, "fee") ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}
