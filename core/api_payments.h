#ifndef CAISSE_API_PAYMENTS_H
#define CAISSE_API_PAYMENTS_H
/* What the payment handlers share with the other handlers and the
 * scheduler (core/api_payments.c). */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"

/* The id of a merchant's risk settings object (one per mode) and its
 * document (a new reference, NULL if never set). */
void payments_risk_settings_id(const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX]);
json_t *payments_risk_settings(struct store_txn *t, const char *merchant_id, int livemode);
/* The counters the risk controls and risk.decide see for a card (docs/payments.md). */
json_t *payments_card_counters(struct store_txn *t, const char *merchant_id, int livemode, const char *fingerprint,
                               json_t *settings, int64_t now_us);

/* Jobs of core/jobs.c. */
int payment_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d);
int payment_job_charge(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d);
json_t *payment_job_charge_prepare(struct app *app, const struct sched_job *j, int64_t time_us);

#endif
