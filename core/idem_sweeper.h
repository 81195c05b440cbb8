#ifndef CAISSE_IDEM_SWEEPER_H
#define CAISSE_IDEM_SWEEPER_H
/* Deletes expired idempotency records in the background (store_idem_purge):
 * a sweep soon after start, then hourly, CS_IDEMPOTENCY_SWEEP_STEP records a
 * write command so that ordinary writes keep flowing between the steps. */
struct app;
struct idem_sweeper;

int idem_sweeper_start(struct app *app, struct idem_sweeper **out);
/* Stops the timer; a step already submitted finishes with the writer. */
void idem_sweeper_stop(struct idem_sweeper *s);

#endif
