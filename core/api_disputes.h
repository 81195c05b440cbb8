#ifndef CAISSE_API_DISPUTES_H
#define CAISSE_API_DISPUTES_H
/* The dispute jobs of core/jobs.c (core/api_disputes.c). */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"

/* dispute.simulate, on a payment (test mode, the disputing test card): the
 * simulated card scheme opens a dispute for what is captured and not
 * refunded. prepare (loop thread) prices it with fees.compute. */
json_t *dispute_job_simulate_prepare(struct app *app, const struct sched_job *j, int64_t time_us);
int dispute_job_simulate(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                         struct cs_diag *d);
/* dispute.advance (sending -> evidence_sent -> under_review) and
 * dispute.expire (open at its evidence deadline -> expired), on a dispute. */
int dispute_job_advance(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                        struct cs_diag *d);
int dispute_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d);

#endif
