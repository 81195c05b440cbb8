/* Disbursement arithmetic (core/disbursements.c): when a run is asked, how a
 * run adds up (commission charged or given back, carry-over of a net
 * reduction), the reference, and refusals. */
#include <string.h>
#include <jansson.h>
#include "core/disbursements.h"
#include "core/limits.h"
#include "tests/unit/tap.h"

#define DAY_US (86400LL * 1000000)
#define H_US (3600LL * 1000000)

int main(void)
{
    struct cs_diag d = {0};
    /* 2026-11-27 (a Friday) 15:30 UTC -> 2026-11-28 06:00 UTC */
    int64_t fri = 1795737600LL * 1000000 + 15 * H_US + 30 * 60 * 1000000LL;
    int64_t fri0 = 1795737600LL * 1000000;
    EQ_INT(fri0 % DAY_US, 0, "the fixture is a midnight");
    EQ_INT(disbursement_run_after_us(fri), fri0 + DAY_US + 6 * H_US, "06:00 UTC the next day");
    EQ_INT(disbursement_run_after_us(fri0), fri0 + DAY_US + 6 * H_US, "at midnight: still the next day");
    EQ_INT(disbursement_run_after_us(fri0 + DAY_US - 1), fri0 + DAY_US + 6 * H_US, "a microsecond before midnight");
    EQ_INT(disbursement_run_after_us(fri0 + 7 * H_US), fri0 + DAY_US + 6 * H_US, "after 06:00: the next day too");

    /* 129.90 EUR shipped on pay in 3: 3.45 % = 4.48155 -> 4.48, VAT 20 % = 0.896 -> 0.90 */
    struct disbursement_order o[3] = {{.payable = 12990, .fee_priced = 448, .vat_priced = 90},
                                      {.payable = 5000, .reduction = 2000, .fee_priced = 104, .vat_priced = 21},
                                      {.reduction = 3000, .fee_priced = 104, .vat_priced = 21}};
    struct disbursement_totals t;
    int disburse = -1;
    EQ_INT(disbursement_add_up(o, 2, &t, &disburse, &d), 0, "two orders");
    EQ_INT(o[0].net, 12990 - 448 - 90, "the first order's net");
    EQ_INT(o[1].amount, 3000, "payable less reduction");
    EQ_INT(o[1].net, 3000 - 104 - 21, "the second order's net");
    EQ_INT(t.amount, 15990, "total amount");
    EQ_INT(t.fees, 552, "total commission");
    EQ_INT(t.vat, 111, "total VAT");
    EQ_INT(t.net, 15990 - 552 - 111, "net = amount - fees - vat");
    EQ_INT(disburse, 1, "a positive net is disbursed");

    EQ_INT(disbursement_add_up(o + 2, 1, &t, &disburse, &d), 0, "a reduction alone");
    EQ_INT(o[2].fee, -104, "the commission is given back");
    EQ_INT(o[2].vat, -21, "and its VAT");
    EQ_INT(o[2].net, -3000 + 125, "net of the reduction");
    EQ_INT(disburse, 0, "a negative net carries over");
    EQ_INT(disbursement_add_up(o, 0, &t, &disburse, &d), 0, "no orders");
    OK(disburse == 0 && t.net == 0, "nothing to disburse");
    EQ_INT(disbursement_add_up(o, 3, &t, &disburse, &d), 0, "the reduction recovered from payables");
    EQ_INT(t.net, 12990 - 448 - 90 + 3000 - 125 - 3000 + 125, "net over the three");
    EQ_INT(disburse, 1, "disbursed");

    struct disbursement_order bad[] = {{.payable = -1}, {.reduction = CS_AMOUNT_MINOR_MAX + 1}, {.fee_priced = -5}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        EQ_INT(disbursement_add_up(bad + i, 1, &t, &disburse, &d), CS_EAMOUNT, "an amount out of range is refused");
    enum { MANY = 100 };
    static struct disbursement_order many[MANY];
    for (size_t i = 0; i < MANY; i++)
        many[i] = (struct disbursement_order){.payable = CS_AMOUNT_MINOR_MAX};
    EQ_INT(disbursement_add_up(many, MANY, &t, &disburse, &d), 0, "large sums fit int64");
    EQ_INT(t.amount, MANY * CS_AMOUNT_MINOR_MAX, "summed exactly");

    char ref[DISBURSEMENT_REFERENCE_BYTES];
    EQ_INT(disbursement_reference("2026-11-30", 7, ref), 0, "a reference");
    EQ_STR(ref, "DSB-20261130-7", "DSB-<date>-<n>");
    EQ_INT(disbursement_reference("2026-11-30", 4294967295u, ref), 0, "the largest number fits");
    EQ_STR(ref, "DSB-20261130-4294967295", "all its digits");
    EQ_INT(disbursement_reference("2026/11/30", 1, ref), CS_EPARAM, "a malformed date");
    EQ_INT(disbursement_reference("2026-11-3", 1, ref), CS_EPARAM, "a short date");
    EQ_INT(disbursement_reference(NULL, 1, ref), CS_EPARAM, "no date");
    EQ_INT(disbursement_reference("2026-11-30", 0, ref), CS_EPARAM, "numbers start at 1");

    /* the schedule's run record: created at version 1, then next versions */
    char sid[64];
    disbursement_schedule_id("mer_01M834VDF8PD5F2Z9G3MCA998P", 0, sid, sizeof sid);
    EQ_STR(sid, "dss_mer_01M834VDF8PD5F2Z9G3MCA998P_t", "dss_<merchant>_<t|l>");
    struct disbursement_run r = {.schedule_id = sid, .merchant_id = "mer_01M834VDF8PD5F2Z9G3MCA998P",
                                 .currency = "EUR", .date = "2026-11-28", .now_us = fri0 + DAY_US + 6 * H_US,
                                 .through_seq = 42, .next_run_us = fri0 + 3 * DAY_US + 6 * H_US};
    json_t *data = NULL;
    EQ_INT(disbursement_decide_run(NULL, &r, "not_a_business_day", "Saturday", NULL, 0, &data, &d), 0, "a first run");
    json_t *doc = json_object_get(data, "object");
    EQ_INT(json_integer_value(json_object_get(doc, "version")), 1, "created at version 1");
    EQ_INT(json_integer_value(json_object_get(doc, "disbursed_through_seq")), 0, "nothing settled");
    EQ_STR(json_string_value(json_object_get(doc, "next_run_at")), "2026-11-30T06:00:00.000000Z", "Monday 06:00");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "jobs"), "disbursement.run")), r.next_run_us,
           "the job moves to the next run");
    json_t *sched = json_incref(doc);
    json_decref(data);
    r.next_run_us = -1;
    r.date = "2026-11-30";
    EQ_INT(disbursement_decide_run(sched, &r, "disbursed", NULL, "dsb_x", 1, &data, &d), 0, "a disbursing run");
    doc = json_object_get(data, "object");
    EQ_INT(json_integer_value(json_object_get(doc, "version")), 2, "the next version");
    EQ_INT(json_integer_value(json_object_get(doc, "disbursed_through_seq")), 42, "settled through the run's seq");
    EQ_INT(json_integer_value(json_object_get(doc, "count")), 1, "one disbursement");
    OK(json_is_null(json_object_get(json_object_get(data, "jobs"), "disbursement.run")), "no next run asked");
    OK(json_is_null(json_object_get(doc, "next_run_at")), "next_run_at null");
    json_decref(data);
    json_decref(sched);
    return tap_done();
}
