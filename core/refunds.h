#ifndef CAISSE_REFUNDS_H
#define CAISSE_REFUNDS_H
/* The refund aggregate (refunds of card payments, docs/refunds.md): the
 * validation of a new refund and the decide functions of every change, pure
 * of I/O: (refund document, payment document, command) -> event.
 *
 * Every refund event's data is {"object": the refund after the event,
 * "jobs": {...}} (store/proj_objects.c, store/proj_schedule.c), and, when the
 * refund moves its payment's refunded amount, "related": [{"id": payment id,
 * "set": {"amount_refunded": n[, "refunds": [refund ids]]}}] with the
 * payment's new absolute values, decided here and never re-derived at replay.
 *
 * States (seed 003, "Etat des remboursements"):
 *   pending -> sent -> refunded
 *   pending -> payment_cancelled   (the payment was disputed before sending)
 *   sent    -> not_honored | failed
 * A refund counts in its payment's amount_refunded while pending, sent or
 * refunded; failed, not_honored and payment_cancelled give the amount back.
 *
 * A disputed payment (its "dispute" set) takes no refund and cancels its
 * pending ones: the card scheme gives the payer the money back, a refund on
 * top would pay twice. Once the dispute is won (the scheme gave the money
 * back to the merchant) the payment can be refunded again. The functions
 * take that dispute's status (NULL: none or unknown) as the caller read it. */
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

/* The daily refund run: pending refunds are sent at the first 06:00 UTC
 * strictly after their creation (so within 24 h, as seed 003 promises). */
#define REFUND_RUN_HOUR_UTC 6
/* The simulated payer's bank answers this long after a refund is sent. */
#define REFUND_SETTLE_AFTER_US (2LL * 3600 * 1000000)
/* The simulated bank's answer by the refund amount's last two digits (amount
 * modulo 100, in minor units): these refuse, any other amount is refunded. */
#define REFUND_MAGIC_NOT_HONORED 13
#define REFUND_MAGIC_FAILED 14

extern const char *const refund_reasons[];    /* requested_by_customer, duplicate, fraudulent, other */
extern const char *const refund_statuses[];   /* pending, sent, refunded, failed, not_honored, payment_cancelled */


/* Validates the body of POST /v1/refunds; *params is a new object with the
 * validated fields ("payment", and "amount", "reason", "metadata" when
 * given). Each error names its field. */
int refund_validate_create(json_t *body, json_t **params, struct cs_diag *d);

/* The time of the daily run that sends a refund created at now_us. */
int64_t refund_next_run_us(int64_t now_us);

/* What can still be refunded on a payment: amount_captured minus
 * amount_refunded. CS_ESTATE naming `payment` if the payment cannot be
 * refunded at all (failed, cancelled, awaiting its card, nothing captured,
 * disputed and the dispute not won). */
int refund_refundable(json_t *payment, const char *dispute_status, int64_t *out, struct cs_diag *d);

/* A new refund of `payment` (loaded, the merchant's): params as validated;
 * no amount means all that is refundable. Refuses (CS_ESTATE naming
 * `payment`, CS_EAMOUNT naming `amount`) anything beyond what is
 * refundable. *type is "refund.created". */
int refund_decide_create(json_t *payment, const char *dispute_status, json_t *params, const char *id,
                         const char *merchant_id, int livemode, const char *actor, int64_t now_us,
                         const char **type, json_t **data, struct cs_diag *d);

/* Job refund.send, at the daily run: sent, or payment_cancelled if the
 * payment is disputed (and the dispute not won). CS_ESTATE when the job is
 * stale. */
int refund_decide_send(json_t *refund, json_t *payment, const char *dispute_status, int64_t now_us,
                       const char **type, json_t **data, struct cs_diag *d);

/* Job refund.settle: the payer's bank answers (refund_bank_answer).
 * CS_ESTATE when the job is stale. */
int refund_decide_settle(json_t *refund, json_t *payment, int64_t now_us, const char **type, json_t **data,
                         struct cs_diag *d);

/* The simulated payer's bank: "refunded", "not_honored" or "failed" for a
 * refund of `amount` (REFUND_MAGIC_*). */
const char *refund_bank_answer(int64_t amount);

#endif
