#ifndef CAISSE_API_REFUNDS_H
#define CAISSE_API_REFUNDS_H
/* The refund jobs of core/jobs.c (core/api_refunds.c): the daily run sends a
 * pending refund (refund.send), the payer's bank answers later
 * (refund.settle). Each returns the number of events appended (0: stale). */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"

/* A refund asked by a plugin (lua/plugin.h "commands"): the same validation
 * and decision as POST /v1/refunds, as the merchant the plugin acts for,
 * answered through done() with the status and body the API would give.
 * Returns 0 (done will be called) or the refusal, d filled. */
int refunds_submit_command(struct app *app, const char *merchant_id, int livemode, const char *actor,
                           const char *payment_id, json_t *params,
                           void (*done)(void *ctx, int status, const char *body, size_t len), void *ctx,
                           struct cs_diag *d);

int refund_job_send(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                    struct cs_diag *d);
int refund_job_settle(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                      struct cs_diag *d);

#endif
