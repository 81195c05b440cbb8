#ifndef CAISSE_RECONCILIATION_H
#define CAISSE_RECONCILIATION_H
/* Reconciliation of a day of card payments (docs/reconciliation.md), pure:
 * from the day's balance transactions, the merchant's payouts and the
 * payment documents to the report's items, payouts and findings. The
 * handlers (core/api_reconciliation.c) read the store and hand it here.
 *
 * Each balance transaction of the day gets the standard payout that
 * carried it (core/ledger_lines.h's window rule) and a state:
 *   paid_out         its payout is paid
 *   in_payout        its payout is pending or in_transit
 *   awaiting_payout  available, not carried yet (or its payout failed and
 *                    the money went back to the balance)
 *   held             not available yet (the 7-day hold)
 * A failed payment and a dispute are not money received: they are items
 * of state `unpaid` with their reason code.
 *
 * A finding is a mismatch, never silence: payout_mismatch, payout_failed,
 * payout_late, ledger_mismatch. */
#include <stdint.h>
#include <jansson.h>
#include "core/csv.h"
#include "core/errors.h"

/* Checks `date` ("YYYY-MM-DD", required) against the merchant's clock
 * `now_us`: not after its today, not more than RECON_MONTHS_BACK months
 * before it. On success [*start_us, *end_us) is the UTC day; otherwise a
 * CS_EMISSING/CS_EPARAM failure naming "date" is filled in `d`. */
#define RECON_MONTHS_BACK 15
int recon_check_date(const char *date, int64_t now_us, int64_t *start_us, int64_t *end_us, struct cs_diag *d);

/* The time after which a capture available at avail_us that no payout has
 * carried is late: the payout run of the first day after its hold (deferred
 * past a weekend), plus 2 business days, at the end of that day. Weekends
 * only: a public holiday is not counted (docs/reconciliation.md). */
int64_t recon_late_after_us(int64_t avail_us);

struct recon_input {
    int64_t day_start_us, day_end_us, now_us;
    json_t *txns;             /* array: the balance transactions created that day */
    json_t *payouts;          /* array: every payout of the merchant and mode */
    json_t *payout_lines;     /* object: payout id -> array of the lines it carried (the day's standard payouts) */
    json_t *objects;          /* object: id -> document of the payments, refunds and disputes the items name */
    json_t *ledger_captured;  /* object: payment id -> sum of the amounts of its charge transactions */
    json_t *failed;           /* array: payments whose failure happened that day */
    json_t *disputes;         /* array: disputes opened that day */
};

/* *out = {"items": [...], "payouts": [...], "findings": [...]}; items
 * oldest first. CS_EAMOUNT if a sum overflows, CS_ENOMEM. */
int recon_build(const struct recon_input *in, json_t **out, struct cs_diag *d);

/* The items as CSV rows (RFC 4180), header first. */
#define RECON_CSV_HEADER "id,type,source,payment,currency,amount,fee,vat,net,created,available_on,payout," \
                         "payout_status,state,reason\r\n"
void recon_csv(json_t *items, struct csv_buf *c);

#endif
