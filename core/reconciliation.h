#ifndef CAISSE_RECONCILIATION_H
#define CAISSE_RECONCILIATION_H
/* Reconciliation of a day (docs/reconciliation.md), pure: from the day's
 * balance transactions, the merchant's payouts and disbursements and the
 * payment documents to the report's items, payouts, disbursements and
 * findings. The handlers (core/api_reconciliation.c) read the store, ask
 * the country's calendar and hand it all here.
 *
 * Each card balance transaction of the day gets the standard payout that
 * carried it (core/ledger_lines.h's window rule) and a state:
 *   paid_out         its payout is paid
 *   in_payout        its payout is pending or in_transit
 *   awaiting_payout  available, not carried yet (or its payout failed and
 *                    the money went back to the balance)
 *   held             not available yet (the 7-day hold)
 * Each buy-now-pay-later one (order_payable, order_reduction, disbursement)
 * gets the disbursement that carried it (the one whose settled event range,
 * after the previous disbursement's through_event_seq up to its own,
 * holds the transaction's event_seq) and a state:
 *   disbursed              a disbursement carried it
 *   carried_over           not yet: a run since found the reductions
 *                          outweighing the payables and disbursed nothing
 *   awaiting_disbursement  not yet: the next run takes it
 * A failed payment and a dispute are not money received: they are items
 * of state `unpaid` with their reason code.
 *
 * A finding is a mismatch, never silence: payout_mismatch, payout_failed,
 * payout_late, ledger_mismatch, disbursement_mismatch, disbursement_late. */
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

/* The business days: `calendar` maps "YYYY-MM-DD" to true (a business
 * day) or false (a weekend day or a public holiday), as the country.rules
 * policy answered for the merchant's country; a day it does not hold (or a
 * NULL calendar) is a business day unless it is a Saturday or a Sunday. */
int recon_business_day(json_t *calendar, int64_t day_number);

/* The time after which a capture available at avail_us that no payout has
 * carried is late: the payout run of the first business day after its hold,
 * plus 2 business days, at the end of that day. */
int64_t recon_late_after_us(int64_t avail_us, json_t *calendar);

/* The time after which an order_payable created at created_us that no
 * disbursement has carried is late: the disbursement run of the first
 * business day after its day, plus 1 business day, at the end of that day. */
int64_t recon_disbursement_late_after_us(int64_t created_us, json_t *calendar);

/* How many days after the reconciled one the handlers ask country.rules
 * about (up to the merchant's today); later days: weekends only. */
#define RECON_CALENDAR_DAYS 31

struct recon_input {
    int64_t day_start_us, day_end_us, now_us;
    json_t *txns;             /* array: the balance transactions created that day */
    json_t *payouts;          /* array: every payout of the merchant and mode */
    json_t *payout_lines;     /* object: payout id -> array of the lines it carried (the day's standard payouts) */
    json_t *objects;          /* object: id -> document of the payments, refunds and disputes the items name */
    json_t *ledger_captured;  /* object: payment id -> sum of the amounts of its charge transactions */
    json_t *ledger_refunded;  /* object: payment id -> what its refunds' transactions took from the balance,
                                 less what their failures gave back (positive) */
    json_t *failed;           /* array: payments whose failure happened that day */
    json_t *disputes;         /* array: disputes opened that day */
    json_t *disbursements;    /* array: every disbursement of the merchant and mode (NULL: none) */
    json_t *bnpl_carried;     /* array: the bnpl order_payable/order_reduction transactions after the
                                 through_event_seq of the disbursement before the day's first one (what the
                                 day's disbursements carried; NULL: none) */
    int64_t carried_over_seq; /* the event seq of the newest run that recorded carried_over since the last
                                 disbursement; 0 if none */
    json_t *calendar;         /* object: "YYYY-MM-DD" -> business day (bool), or NULL: weekends only */
};

/* *out = {"items": [...], "payouts": [...], "disbursements": [...],
 * "findings": [...]}; items oldest first. CS_EAMOUNT if a sum overflows,
 * CS_ENOMEM. */
int recon_build(const struct recon_input *in, json_t **out, struct cs_diag *d);

/* The items as CSV rows (RFC 4180), header first. */
#define RECON_CSV_HEADER "id,type,source,payment,currency,amount,fee,vat,net,created,available_on,payout," \
                         "payout_status,state,reason,disbursement\r\n"
void recon_csv(json_t *items, struct csv_buf *c);

/* The findings as CSV rows, header first. */
#define RECON_FINDINGS_CSV_HEADER "code,id,message\r\n"
void recon_findings_csv(json_t *findings, struct csv_buf *c);

#endif
