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
#include "core/app.h"

struct scheduler;

int scheduler_start(struct app *app, struct scheduler **out);
void scheduler_stop(struct scheduler *s);

/* Fires, one after another in due order, every job of (merchant, livemode)
 * due at or before until_us; then done(ctx, fired, err). */
void scheduler_run_until(struct scheduler *s, const char *merchant_id, int livemode, int64_t until_us,
                         void (*done)(void *ctx, int fired, int err), void *ctx);

/* Platform time for a merchant: the clock, plus its test clock in test mode. */
int64_t merchant_now_us(struct app *app, const char *merchant_id, int livemode);

#endif
