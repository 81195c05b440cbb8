#ifndef CAISSE_API_DISBURSEMENTS_H
#define CAISSE_API_DISBURSEMENTS_H
/* The disbursement run of core/jobs.c (core/api_disbursements.c): job
 * disbursement.run on the merchant's disbursement schedule. prepare (loop
 * thread) asks country.rules for the day and prices every order waiting
 * with fees.compute; exec (writer thread) re-checks and records. */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"

json_t *disbursement_job_run_prepare(struct app *app, const struct sched_job *j, int64_t time_us);
int disbursement_job_run(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                         struct cs_diag *d);

#endif
