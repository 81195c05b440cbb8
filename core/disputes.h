#ifndef CAISSE_DISPUTES_H
#define CAISSE_DISPUTES_H
/* The dispute aggregate (chargebacks of card payments, seed 003,
 * docs/disputes.md): the decisions of every change, pure of I/O:
 * (document, command, policy results, time) -> event.
 *
 * Every dispute event's data is {"object": the document after the event,
 * "balance_impact": what the event does to the merchant's balance (minor
 * units, 0 when nothing moves), "jobs": {...}} (store/proj_objects.c,
 * store/proj_schedule.c); dispute.opened adds amount, fee, vat and
 * "related" (the payment's dispute and amount_disputed).
 *
 * States: open -> sending -> evidence_sent -> under_review -> won | lost;
 * open -> accepted | expired; not_contestable -> accepted. */
#include <stdint.h>
#include <jansson.h>
#include "core/clock.h"
#include "core/errors.h"

#define DISPUTE_WINDOW_MONTHS          13                          /* after the payment's first capture */
#define DISPUTE_EVIDENCE_WINDOW_US     (30LL * 86400 * 1000000)    /* open: to accept or submit evidence */
#define DISPUTE_SENDING_US             (5LL * 60 * 1000000)        /* sending -> evidence_sent */
#define DISPUTE_SENT_TO_REVIEW_US      (1LL * 86400 * 1000000)     /* evidence_sent -> under_review */
#define DISPUTE_REVIEW_US              (30LL * 86400 * 1000000)    /* under_review: the scheme's usual time */
#define DISPUTE_FILES_MAX              5u                          /* evidence files per dispute */
#define DISPUTE_TEXT_BYTES_MAX         20000u                      /* the evidence's text, UTF-8 */

extern const char *const dispute_reasons[];    /* fraudulent, product_not_received, ... NULL-terminated */
extern const char *const dispute_statuses[];   /* open, sending, ..., not_contestable; NULL-terminated */


/* What of `payment` a dispute may take at now_us: its captured amount less
 * what was refunded. Refused (CS_ESTATE, param "payment") if nothing was
 * captured, it is already disputed, nothing is left, or its first capture is
 * more than DISPUTE_WINDOW_MONTHS old. */
int dispute_disputable(json_t *payment, int64_t now_us, int64_t *amount, struct cs_diag *d);

/* Checks what the fees.compute policy answered ({fee, vat}: integers from
 * 0 to CS_AMOUNT_MINOR_MAX); CS_EPOLICYFAIL otherwise. */
int dispute_fees_read(json_t *out, int64_t *fee, int64_t *vat, struct cs_diag *d);

struct dispute_opening {
    const char *id;              /* dp_… */
    const char *reason;          /* one of dispute_reasons */
    int64_t amount;              /* -1: all that is disputable */
    int contestable;
    int64_t fee, vat;            /* decided by fees.compute */
    const char *opened_via;      /* "test_api" | "test_card" */
    int64_t available;           /* the merchant's available balance in the payment's currency before the
                                  * debit (store_ledger_balance): what it cannot cover is recorded as owed */
};

/* The new dispute of `payment` (its document) at now_us: dispute.opened. */
int dispute_decide_open(json_t *payment, const struct dispute_opening *o, int64_t now_us, const char **type,
                        json_t **data, struct cs_diag *d);

/* Whether `adding` more evidence files may join the dispute now (state,
 * deadline, count). Used before files are stored, and again by the decision. */
int dispute_evidence_allowed(json_t *doc, size_t adding, int64_t now_us, struct cs_diag *d);

/* New evidence: files [{sha256, filename, content_type, size}] (may be
 * empty) and a text (NULL: unchanged): dispute.evidence_added. */
int dispute_decide_evidence(json_t *doc, json_t *files, const char *text, int64_t now_us, const char **type,
                            json_t **data, struct cs_diag *d);

/* The evidence goes to the scheme: dispute.submitted (status sending). */
int dispute_decide_submit(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);

/* The merchant accepts the dispute (open or not_contestable): dispute.accepted. */
int dispute_decide_accept(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);

/* Test mode: the scheme's outcome ("won" | "lost") of evidence_sent or
 * under_review: dispute.won (the amount and fees given back) or dispute.lost. */
int dispute_decide_resolve(json_t *doc, const char *outcome, int64_t now_us, const char **type, json_t **data,
                           struct cs_diag *d);

/* Jobs (CS_ESTATE when stale). dispute.advance: sending -> evidence_sent ->
 * under_review; dispute.expire: open past its deadline -> expired. */
int dispute_decide_advance(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);
int dispute_decide_expire(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);
/* us plus `months` calendar months (the day clamped to the month's last). */
int64_t dispute_add_months(int64_t us, int months);

#endif
