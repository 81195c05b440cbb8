#ifndef CAISSE_API_PAYOUTS_H
#define CAISSE_API_PAYOUTS_H
/* The payout jobs of core/jobs.c (core/api_payouts.c): the merchant's payout
 * run (payout.run on its payout schedule, its calendar asked of
 * country.rules by prepare) and a payout's steps (payout.advance). Each
 * returns the number of events appended (0: stale). */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"

json_t *payout_job_run_prepare(struct app *app, const struct sched_job *j, int64_t time_us);
int payout_job_run(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                   struct cs_diag *d);
int payout_job_advance(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d);

#endif
