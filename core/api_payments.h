#ifndef CAISSE_API_PAYMENTS_H
#define CAISSE_API_PAYMENTS_H
/* What the payment handlers share with the other handlers and the
 * scheduler (core/api_payments.c). */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"
#include "core/cards.h"

/* The id of a merchant's risk settings object (one per mode) and its
 * document (a new reference, NULL if never set). */
void payments_risk_settings_id(const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX]);
json_t *payments_risk_settings(struct store_txn *t, const char *merchant_id, int livemode);
/* The counters the risk controls and risk.decide see for a card (docs/payments.md). */
json_t *payments_card_counters(struct store_txn *t, const char *merchant_id, int livemode, const char *fingerprint,
                               json_t *settings, int64_t now_us);

/* The merchant's risk.decide Lua rule for a payment about to meet its card
 * (loop thread; counters read now): a new {"decision", "rule"}, or NULL with
 * rc->diag filled. `draft` holds amount, currency, type, channel,
 * order_reference, customer (a payment draft or document). */
json_t *payments_policy_decide(struct req_ctx *rc, json_t *draft, const struct card_facts *card, int64_t now_us);
/* The risk decision recorded on the payment (writer thread): the built-in
 * controls against exact counters, then `policy` (the Lua answer, may be
 * NULL). A new {"decision": "approved"|"blocked", "rule", "source", "counters"}. */
json_t *payments_risk_decide(struct store_txn *t, const char *merchant_id, int livemode,
                             const struct card_facts *card, json_t *policy, int64_t amount, int64_t now_us);

/* fees.compute for what a payment captures now (loop thread): `payment` is
 * the payment or its draft (currency, type, channel), `card` its card facts
 * (JSON), `amount` what is captured (0: nothing, q->set stays 0). */
struct fee_quote;
int payments_fee_quote(struct app *app, json_t *merchant, int livemode, json_t *payment, json_t *card,
                       int64_t amount, struct fee_quote *q, struct cs_diag *d);

/* Jobs of core/jobs.c. */
int payment_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d);
int payment_job_charge(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d);
json_t *payment_job_charge_prepare(struct app *app, const struct sched_job *j, int64_t time_us);

#endif
