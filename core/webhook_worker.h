#ifndef CAISSE_WEBHOOK_WORKER_H
#define CAISSE_WEBHOOK_WORKER_H
/* The webhook delivery worker: its own thread and libuv loop.
 *
 * It reads due outbox rows (LMDB read transactions, never blocking the
 * writer), signs and sends each through the outbound client with bounded
 * concurrency (CS_WEBHOOK_INFLIGHT_MAX in all, CS_WEBHOOK_ENDPOINT_INFLIGHT_MAX
 * per endpoint, so a slow or dead endpoint holds a few sockets and nothing
 * else), and records every outcome through the writer as a write command: the
 * attempt in the delivery log, the row removed or rescheduled with backoff,
 * the endpoint disabled on 410 or after failing for WEBHOOK_FAILING_DISABLE_S.
 * A crash at any point leaves the row in the outbox: it is sent again after
 * the restart (at least once). */
#include <uv.h>
#include "core/webhooks.h"

struct webhook_worker;
struct writer;

/* Starts the thread. The writer must outlive the worker (stop the worker
 * first, then the writer, then free the worker). */
int webhook_worker_start(struct webhook_worker **out, struct webhooks *wh, struct store *s,
                         struct writer *w, struct cs_diag *d);
/* Any thread: look at the outbox now. */
void webhook_worker_wake(struct webhook_worker *w);
/* Aborts the attempts in flight (they are not recorded: their rows stay due)
 * and joins the thread. */
void webhook_worker_stop(struct webhook_worker *w);
/* After writer_stop(): record commands of the worker may still have been in
 * the writer's queue until then. */
void webhook_worker_free(struct webhook_worker *w);

#endif
