#ifndef CAISSE_PAYOUTS_H
#define CAISSE_PAYOUTS_H
/* Payouts of card payments (docs/payouts.md): what the merchant's balance
 * holds is sent to its bank account. Pure decisions here; the routes and the
 * jobs are in core/api_payouts.c.
 *
 * A payout (`po_…`): pending -> in_transit -> paid | failed. Standard
 * payouts are made by the merchant's payout run (a job of its payout
 * schedule `pos_<merchant>_<t|l>`) on business days of the merchant's
 * country, for the whole available balance; an early payout is asked
 * through the API, for an amount up to the whole balance (held funds
 * included), for a fee. A failed payout gives its amount (and fee) back to
 * the balance (the ledger posts it: store/proj_ledger.c). */
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

#define PAYOUT_IN_TRANSIT_AFTER_US (3600LL * 1000000)   /* the transfer file leaves within the hour */
#define PAYOUT_ARRIVAL_AFTER_US (86400LL * 1000000)     /* the bank credits the account a day later */
/* Test mode: the simulated bank rejects transfers to an account whose holder
 * name is this (docs/payouts.md). */
#define PAYOUT_TEST_FAILING_HOLDER "Payout Failure"

/* A new payout of `amount` (minor units of `currency`) to the merchant's
 * bank account document `bank` (its holder, IBAN and BIC are copied: the
 * payout names where it went), method "standard" or "instant" (an early
 * payout, with its fee and VAT). *data is payout.created's data. */
int payout_decide_create(const char *id, const char *merchant_id, int livemode, int64_t amount, const char *currency,
                         const char *method, int64_t fee, int64_t vat, json_t *bank, int64_t now_us, json_t **data,
                         struct cs_diag *d);

/* The payout's next step (job payout.advance): pending -> in_transit, then
 * in_transit -> paid, or failed when the simulated bank rejects it.
 * CS_ESTATE when there is nothing to advance. */
int payout_decide_advance(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);

/* The payout schedule's run (job payout.run) on `date` ("YYYY-MM-DD"):
 * `schedule` its document or NULL (the first run), `outcome` one of
 * paid_out, nothing_available, no_bank_account, not_a_business_day,
 * `detail` (a holiday's name, or NULL), `payout` the payout made or NULL,
 * `next_run_us` the next run or -1 for none. *data is payout_schedule.ran's. */
int payout_decide_run(json_t *schedule, const char *id, const char *merchant_id, int livemode, const char *date,
                      const char *outcome, const char *detail, const char *payout, int64_t next_run_us,
                      int64_t now_us, json_t **data, struct cs_diag *d);

#endif
