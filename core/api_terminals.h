#ifndef CAISSE_API_TERMINALS_H
#define CAISSE_API_TERMINALS_H
/* The monthly billing of a payment terminal, a job of core/jobs.c
 * (core/api_terminals.c): terminal.bill on the terminal. prepare (loop
 * thread) counts the closed month's transactions and prices them with
 * fees.compute kind "terminal"; exec (writer thread) records terminal.billed
 * and sets the next month's run. */
#include <jansson.h>
#include "core/app.h"
#include "core/scheduler.h"

json_t *terminal_job_bill_prepare(struct app *app, const struct sched_job *j, int64_t time_us);
int terminal_job_bill(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                      struct cs_diag *d);

#endif
