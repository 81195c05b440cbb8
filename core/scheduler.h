#ifndef CAISSE_SCHEDULER_H
#define CAISSE_SCHEDULER_H
/* The scheduler fires the jobs of the `schedule` projection when they become
 * due on their merchant's clock (platform time, plus the test clock's offset
 * in test mode): abandoned checkouts release their hold after 1 h, reviews
 * expire after 24 h. Each job is a command through the writer, recorded as an
 * event by actor "scheduler" at the job's due time, so replay never needs the
 * scheduler. A periodic tick on the loop thread finds due jobs;
 * scheduler_run_until() fires one merchant's jobs in time order (the test
 * clock's advance waits for it). */
#include <stdint.h>
#include <jansson.h>
#include "core/app.h"
#include "store/store.h"

struct scheduler;

int scheduler_start(struct app *app, struct scheduler **out);
void scheduler_stop(struct scheduler *s);

/* Fires, one after another in due order, every job of (merchant, livemode)
 * due at or before until_us; then done(ctx, fired, err). */
void scheduler_run_until(struct scheduler *s, const char *merchant_id, int livemode, int64_t until_us,
                         void (*done)(void *ctx, int fired, int err), void *ctx);

/* A pending job, as the schedule projection holds it. */
struct sched_job {
    char id[96];                  /* "<kind>:<aggregate id>" */
    char kind[32];
    char aggregate_id[CS_ID_BYTES_MAX];
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    int64_t due_us;
};

/* Job kinds other than the orders' (scheduled by an event's data.jobs). At
 * the job's time, `prepare` (optional) runs on the loop thread, where Lua
 * policies may be called, and returns what it decided (a new JSON reference
 * or NULL); then `exec` runs on the writer thread inside the batch: it reads
 * the aggregate, decides and appends (sched_append), returning the number
 * of events it appended (0: the job was stale, nothing to do) or a CS_E*
 * code with d filled. The table is in core/jobs.c, ending with kind == NULL. */
typedef json_t *(*job_prepare_fn)(struct app *app, const struct sched_job *j, int64_t time_us);
typedef int (*job_exec_fn)(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                           struct cs_diag *d);
struct job_kind {
    const char *kind;
    job_prepare_fn prepare;
    job_exec_fn exec;
};
extern const struct job_kind job_kinds[];

/* Appends an event of a job: actor "scheduler", the job's merchant and mode,
 * at time_us. */
int sched_append(struct store_txn *t, const struct sched_job *j, int64_t time_us, const char *aggregate_id,
                 const char *type, uint64_t expected_version, json_t *data);

/* Platform time for a merchant: the clock, plus its test clock in test mode. */
int64_t merchant_now_us(struct app *app, const char *merchant_id, int livemode);

#endif
