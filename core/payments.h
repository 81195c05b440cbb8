#ifndef CAISSE_PAYMENTS_H
#define CAISSE_PAYMENTS_H
/* The payment aggregate (card payments of the virtual POS, docs/payments.md):
 * validation of a new payment, the merchant's risk controls, and the decide
 * functions of every change, pure of I/O: (document, command) -> event.
 *
 * Every payment event's data is {"object": the document after the event,
 * "jobs": {...}} (store/proj_objects.c, store/proj_schedule.c), so each
 * decide function returns the whole new document: a copy of the current one
 * with its changes, version + 1 and updated = now.
 *
 * States: requires_payment -> authorized -> captured | cancelled; failed.
 * A split or deposit payment is `authorized` while charges remain to be
 * collected and `captured` once the last one is paid. A partially captured
 * authorization that is cancelled (or expires) ends `captured`, the rest
 * released. */
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"
#include "core/cards.h"

#define PAYMENT_AUTH_WINDOW_US_DEFERRED   (7LL * 86400 * 1000000)    /* deferred capture */
#define PAYMENT_AUTH_WINDOW_US_FULFILMENT (30LL * 86400 * 1000000)   /* at shipment, at delivery */
#define PAYMENT_SPLIT_COUNT_MAX 12
/* Test mode: a payment captured on the disputing test card is disputed by
 * the simulated card scheme this long after its first capture (job
 * dispute.simulate on the payment). */
#define PAYMENT_SIMULATED_DISPUTE_AFTER_US (2LL * 86400 * 1000000)
#define PAYMENT_CHARGE_HOUR_UTC 6          /* scheduled charges run at 06:00 UTC on their day */

extern const char *const payment_types[];     /* at_order, deferred, split, deposit, at_shipment, at_delivery */
extern const char *const payment_channels[];  /* api, manual, terminal (payment_link is set by links) */

/* Validates the body of POST /v1/payments (everything but the card) against
 * the merchant (currency) at now_us; *draft is a new object with the
 * validated fields. */
int payment_validate_create(json_t *body, json_t *merchant, int64_t now_us, json_t **draft, struct cs_diag *d);

/* The merchant's built-in risk controls (docs/payments.md "Risk controls")
 * against a card and the counters of its recent payments
 * ({"count", "amount", "outstanding"} over the settings' windows). Returns
 * the name of the rule that refuses the payment, or NULL. */
const char *payment_risk_rule(json_t *settings, json_t *card, int64_t amount, json_t *counters);

/* The document of a new payment. `draft` (validated), `card` facts (NULL for
 * a payment awaiting its card: requires_payment), `risk` the recorded
 * decision ({"decision": "approved"|"blocked", "rule"}); blocked payments
 * fail without reaching the acquirer. *type is the event type
 * (payment.created, payment.authorized, payment.captured, payment.failed);
 * *data the event data. */
int payment_decide_create(json_t *draft, const struct card_facts *card, json_t *risk, const char *id,
                          const char *merchant_id, int livemode, const char *actor, int64_t now_us,
                          const char **type, json_t **data, struct cs_diag *d);

/* A payment awaiting its card (payment links) gets one: the same decisions
 * as at creation. */
int payment_decide_pay(json_t *doc, const struct card_facts *card, json_t *risk, int64_t now_us,
                       const char **type, json_t **data, struct cs_diag *d);

/* Capture `amount` (-1: all that remains) of an authorization; for a split
 * or deposit payment, collects the next charge now (amount must be -1 or
 * that charge's amount). */
int payment_decide_capture(json_t *doc, int64_t amount, int64_t now_us, const char **type, json_t **data,
                           struct cs_diag *d);
/* Cancel what is not captured. reason: requested_by_customer, duplicate,
 * fraudulent, abandoned, other (or NULL). */
int payment_decide_cancel(json_t *doc, const char *reason, int64_t now_us, const char **type, json_t **data,
                          struct cs_diag *d);
/* Change the amount before any capture; a larger amount is authorized again. */
int payment_decide_amount(json_t *doc, int64_t amount, int64_t now_us, const char **type, json_t **data,
                          struct cs_diag *d);

/* Fees (docs/ledger.md): each capture (at order, a partial or full
 * capture, a split or deposit charge) is priced by the Lua policy
 * fees.compute on the loop thread before the command runs; the writer then
 * records the quote on the capture it makes. */
struct fee_quote {
    int set;
    int64_t amount;              /* the captured amount the quote prices */
    int64_t fee, vat;            /* minor units, in the payment's currency */
};
/* The amount a create (at order: all; split/deposit: the first charge) or a
 * capture (`amount`, -1: what remains or the next charge) of `doc` would
 * capture, 0 if none. */
int64_t payment_capture_amount(json_t *doc, int64_t amount);
/* For the event `data` just decided (data.object: the payment after it): puts
 * the quote on the capture it made beyond `before` (NULL for a new payment),
 * and asks for the merchant's payout run once the capture's hold ends
 * (data.related: the payout schedule's job, at the earliest; docs/payouts.md).
 * CS_ECONFLICT if a capture was made that the quote does not price (the
 * payment moved between pricing and deciding: retry). */
#define PAYMENT_HOLD_US (7LL * 86400 * 1000000)   /* captures are held 7 days (seed 003) */
#define PAYOUT_RUN_HOUR_UTC 6
int payment_price_capture(json_t *before, json_t *data, const struct fee_quote *q, struct cs_diag *d);
/* The payout schedule object of a merchant and mode: "pos_<merchant id>_<t|l>". */
void payout_schedule_id(const char *merchant_id, int livemode, char *out, size_t cap);
/* 06:00 UTC of the day of `us`, or of the next day if that is past. */
int64_t payout_run_time(int64_t us);

/* Jobs. Expiry of an authorization; the next scheduled charge (split,
 * deposit) with retry_after_us the delay before the next attempt if this one
 * fails (< 0: no further attempt). CS_ESTATE when the job is stale. */
int payment_decide_expire(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);
int payment_decide_charge(json_t *doc, int64_t now_us, int64_t retry_after_us, const char **type, json_t **data,
                          struct cs_diag *d);
/* The attempt number the next charge would be (1 for a first attempt). */
int payment_next_charge_attempt(json_t *doc);

#endif
