#ifndef CAISSE_DISBURSEMENTS_H
#define CAISSE_DISBURSEMENTS_H
/* Buy-now-pay-later disbursements (docs/disbursements.md): what the
 * financier pays the merchant for the order amounts that became payable
 * (shipped), less the commission and its VAT, less the reductions (returns,
 * cart reductions) of orders already disbursed. Pure arithmetic here: when a
 * run is due, how one run adds up, its reference. The commission itself is
 * priced by the Lua policy fees.compute (kind "order") on the loop thread. */
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

/* A run is asked at this hour (UTC) of the day after a shipment. */
#define DISBURSEMENT_RUN_HOUR_UTC 6
#define DISBURSEMENT_REFERENCE_BYTES 32

/* When a shipment made at `shipped_us` asks its merchant's disbursement run:
 * 06:00 UTC of the next calendar day (the run then rolls over weekends and
 * holidays of the merchant's country itself). The schedule projection asks
 * it on each order.shipped by the same rule (store/proj_schedule.c). */
int64_t disbursement_run_after_us(int64_t shipped_us);

/* One order's part of a run. In: what became payable and the reductions
 * since the last disbursement (both >= 0, minor units), and the commission
 * and its VAT priced by fees.compute on |payable - reduction| (both >= 0).
 * Out: the commission and VAT signed as charged (positive) or given back
 * (negative, when the order's movement is a net reduction), and net, what
 * the merchant receives for the order (payable - reduction - fee - vat). */
struct disbursement_order {
    int64_t payable, reduction, fee_priced, vat_priced;   /* in */
    int64_t amount, fee, vat, net;                         /* out: amount = payable - reduction */
};

/* The totals of a run over n orders. */
struct disbursement_totals {
    int64_t amount, fees, vat, net;   /* fees and vat: the commission VAT excluded, its VAT */
};

/* Adds a run up. Returns 0 with *disburse = 1 when the net is positive (a
 * disbursement of `net` is made), *disburse = 0 when it is zero or negative
 * (nothing is disbursed: the transactions stay for the next run, which
 * recovers the reductions from its payables). CS_EAMOUNT for an input out of
 * 0..CS_AMOUNT_MINOR_MAX or a sum that overflows. */
int disbursement_add_up(struct disbursement_order *orders, size_t n, struct disbursement_totals *t, int *disburse,
                        struct cs_diag *d);

/* "DSB-YYYYMMDD-<n>": the run's date (UTC, "YYYY-MM-DD") and the merchant's
 * disbursement number (1, 2, ...). CS_EPARAM for a malformed date. */
int disbursement_reference(const char *date, uint32_t n, char out[DISBURSEMENT_REFERENCE_BYTES]);

/* The merchant's disbursement schedule: "dss_<merchant>_<t|l>". */
void disbursement_schedule_id(const char *merchant_id, int livemode, char *out, size_t cap);

/* A run's facts, decided on the writer thread from what prepare priced. */
struct disbursement_run {
    const char *schedule_id, *merchant_id, *currency, *date;   /* date: the run's day, "YYYY-MM-DD" */
    int livemode;
    int64_t now_us;
    int64_t through_seq;       /* the last event whose bnpl transactions this run settles */
    int64_t next_run_us;       /* -1: none asked (the next shipment asks one) */
};

/* disbursement.created's data for a disbursement `id` numbered `n` over the
 * orders `lines` ([{order, reference, product, payable, reduction, fee, vat}]
 * as priced; the lines gain amount, fee and vat signed, net) whose totals
 * are `t`. */
int disbursement_decide_create(const struct disbursement_run *r, const char *id, uint32_t n, json_t *lines,
                               const struct disbursement_order *orders, const struct disbursement_totals *t,
                               json_t **data, struct cs_diag *d);

/* disbursement_schedule.ran's data: the schedule's next version (created at
 * version 1 when `schedule` is NULL) with last_run {date, outcome, detail,
 * disbursement}, disbursed_through_seq, count, next_run_at, and data.jobs
 * (re)scheduling or cancelling disbursement.run. `disbursed`: 1 when this
 * run made a disbursement (count grows, through_seq moves). */
int disbursement_decide_run(json_t *schedule, const struct disbursement_run *r, const char *outcome,
                            const char *detail, const char *disbursement, int disbursed, json_t **data,
                            struct cs_diag *d);

#endif
