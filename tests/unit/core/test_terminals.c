/* Payment terminals (core/terminals.c): when a month is billed (01:00 UTC
 * on the 1st of the next month, December -> January), which month a run
 * bills, month ranges, serial numbers, and the billing decision (a stale
 * month refused, the next run set). */
#include <string.h>
#include <jansson.h>
#include "core/terminals.h"
#include "core/clock.h"
#include "tests/unit/tap.h"

#define H_US (3600LL * 1000000)

static int64_t at(const char *rfc3339)
{
    return clock_parse_rfc3339(rfc3339);
}

int main(void)
{
    struct cs_diag d = {0};
    char m[16];
    EQ_INT(terminal_bill_time_after(at("2026-11-23T10:00:00.000000Z")), at("2026-12-01T01:00:00.000000Z"),
           "November -> 1 December 01:00 UTC");
    EQ_INT(terminal_bill_time_after(at("2026-12-31T23:59:59.999999Z")), at("2027-01-01T01:00:00.000000Z"),
           "the last microsecond of December -> 1 January of the next year");
    EQ_INT(terminal_bill_time_after(at("2026-12-01T00:00:00.000000Z")), at("2027-01-01T01:00:00.000000Z"),
           "midnight on the 1st belongs to that month");
    EQ_INT(terminal_bill_time_after(at("2026-12-01T00:30:00.000000Z")), at("2027-01-01T01:00:00.000000Z"),
           "before the run's hour on the 1st: still that month, billed a month later");
    EQ_INT(terminal_bill_time_after(at("2026-12-01T01:00:00.000000Z")), at("2027-01-01T01:00:00.000000Z"),
           "a run at its time sets the next month's");
    EQ_INT(terminal_bill_time_after(at("2028-01-31T12:00:00.000000Z")), at("2028-02-01T01:00:00.000000Z"),
           "January -> February");
    EQ_INT(terminal_bill_time_after(at("2028-02-29T12:00:00.000000Z")), at("2028-03-01T01:00:00.000000Z"),
           "a leap day -> March");

    terminal_billed_month(at("2027-01-01T01:00:00.000000Z"), m, sizeof m);
    EQ_STR(m, "2026-12", "the January run bills December of the year before");
    terminal_billed_month(at("2026-12-01T01:00:00.000000Z"), m, sizeof m);
    EQ_STR(m, "2026-11", "the December run bills November");
    terminal_billed_month(at("2026-12-02T09:00:00.000000Z"), m, sizeof m);
    EQ_STR(m, "2026-11", "a late run still bills the month before its due time's month");

    int64_t s = 0, e = 0;
    EQ_INT(terminal_month_range("2026-12", &s, &e), 0, "a month");
    EQ_INT(s, at("2026-12-01T00:00:00.000000Z"), "starts on the 1st at 00:00 UTC");
    EQ_INT(e, at("2027-01-01T00:00:00.000000Z"), "ends where January begins");
    EQ_INT(terminal_month_range("2028-02", &s, &e), 0, "February of a leap year");
    EQ_INT((e - s) / (24 * H_US), 29, "29 days");
    EQ_INT(terminal_month_range("2026-13", &s, &e), -1, "no 13th month");
    EQ_INT(terminal_month_range("2026-1", &s, &e), -1, "two digits");
    EQ_INT(terminal_month_range(NULL, &s, &e), -1, "none");

    OK(terminal_serial_valid("PAX-A920-0042"), "letters, digits and '-'");
    OK(terminal_serial_valid("ABCD"), "4 characters");
    OK(!terminal_serial_valid("ABC"), "3 are too few");
    OK(terminal_serial_valid("0123456789012345678901234567890X"), "32 characters");
    OK(!terminal_serial_valid("0123456789012345678901234567890XY"), "33 are too many");
    OK(!terminal_serial_valid("PAX A920"), "no space");
    OK(!terminal_serial_valid("PAX_A920"), "no '_'");
    OK(!terminal_serial_valid(NULL), "none");

    /* create, then bill November: the billing, the fee, the next run */
    json_t *data = NULL;
    int64_t created = at("2026-11-23T10:00:00.000000Z");
    EQ_INT(terminal_decide_create("trm_01M83A1B2C3D4E5F6G7H8J9K0M", "mer_01M834885QTQ25T05FQDY3GPQN", 0, "PAX-1",
                                  NULL, created, &data, &d), 0, "create");
    json_t *doc = json_incref(json_object_get(data, "object"));
    OK(json_is_null(json_object_get(doc, "name")) && json_is_null(json_object_get(doc, "billing")),
       "no name, no billing yet");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "jobs"), "terminal.bill")),
           at("2026-12-01T01:00:00.000000Z"), "the first run: 1 December");
    EQ_STR(json_string_value(json_object_get(doc, "next_billing_at")), "2026-12-01T01:00:00.000000Z", "shown");
    json_decref(data);
    EQ_INT(terminal_decide_create("trm_01M83A1B2C3D4E5F6G7H8J9K0M", "mer_01M834885QTQ25T05FQDY3GPQN", 0, "PAX 1",
                                  NULL, created, &data, &d), CS_EPARAM, "a bad serial number");
    EQ_STR(d.param, "serial_number", "named");

    int64_t due = at("2026-12-01T01:00:00.000000Z");
    EQ_INT(terminal_decide_bill(doc, "2026-11", 3, 2500, 500, "EUR", due, due, &data, &d), 0, "bill November");
    json_t *n = json_object_get(data, "object"), *fee = json_object_get(data, "fee");
    EQ_STR(json_string_value(json_object_get(json_object_get(n, "billing"), "last_month")), "2026-11", "billed month");
    EQ_INT(json_integer_value(json_object_get(fee, "fee")), 2500, "the fee in the event");
    EQ_INT(json_integer_value(json_object_get(fee, "vat")), 500, "its VAT");
    EQ_INT(json_integer_value(json_object_get(n, "version")), 2, "the next version");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "jobs"), "terminal.bill")),
           at("2027-01-01T01:00:00.000000Z"), "the next run: 1 January");
    json_t *billed = json_incref(n);
    json_decref(data);
    EQ_INT(terminal_decide_bill(billed, "2026-11", 3, 2500, 500, "EUR", due, due, &data, &d), CS_ESTATE,
           "the same month twice is stale");
    EQ_INT(terminal_decide_bill(billed, "2026-10", 3, 2500, 500, "EUR", due, due, &data, &d), CS_ESTATE,
           "an earlier month too");
    EQ_INT(terminal_decide_bill(billed, "2026-12", 3, -1, 0, "EUR", due, due, &data, &d), CS_EAMOUNT,
           "a negative fee is refused");
    EQ_INT(terminal_decide_bill(billed, "2026-12", 200, 0, 0, "EUR", at("2027-01-01T01:00:00.000000Z"),
                                at("2027-01-01T01:00:00.000000Z"), &data, &d), 0, "a free month is billed 0");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "fee"), "fee")), 0, "nothing to pay");
    json_decref(data);
    json_decref(billed);
    json_decref(doc);
    return tap_done();
}
