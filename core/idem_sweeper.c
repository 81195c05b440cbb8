/* The idempotency sweep (idem_sweeper.h): a timer on the loop thread submits
 * one step at a time to the writer; the step works on its own copy of the
 * sweep's position, which the loop keeps only once the step is committed (a
 * failed batch leaves the position where it was: the step is done again). */
#include <stdlib.h>
#include <string.h>
#include "core/idem_sweeper.h"
#include "core/app.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "core/writer.h"

struct idem_sweeper {
    struct app *app;
    uv_timer_t timer;
    struct idem_sweep at;   /* committed position of the sweep in progress */
    int in_flight;          /* a step is with the writer */
    int stopped;            /* the timer is closed; free when the step is back */
};

struct step {
    struct write_cmd base;
    struct idem_sweeper *s;
    struct idem_sweep sw;
    int64_t now_us;
};

static void on_timer(uv_timer_t *h);

static int exec_step(struct store_txn *t, struct write_cmd *wc)
{
    struct step *st = (struct step *)wc;
    int rc = store_idem_purge(t, st->now_us, (int64_t)CS_IDEMPOTENCY_TTL_S * 1000000,
                              CS_IDEMPOTENCY_SWEEP_STEP, &st->sw);
    return rc ? write_cmd_fail(wc, rc) : 0;
}

static void sweeper_closed(uv_handle_t *h)
{
    struct idem_sweeper *s = h->data;
    if (!s->in_flight)
        free(s);
    else
        s->stopped = 1;   /* step_done frees it */
}

static void step_done(struct write_cmd *wc)
{
    struct step *st = (struct step *)wc;
    struct idem_sweeper *s = st->s;
    int failed = wc->err != 0;
    s->in_flight = 0;
    if (!failed) {
        metrics_observe_idem_sweep(st->sw.visited - s->at.visited, st->sw.purged - s->at.purged, st->sw.done);
        s->at = st->sw;
    }
    free(wc->body);
    free(st);
    if (s->stopped) {
        free(s);
        return;
    }
    if (s->app->stopping)
        return;
    if (s->at.done) {
        memset(&s->at, 0, sizeof s->at);
        uv_timer_start(&s->timer, on_timer, CS_IDEMPOTENCY_SWEEP_PERIOD_MS, 0);
    } else {
        /* the next step at once, or after a failed one, in a second */
        uv_timer_start(&s->timer, on_timer, failed ? 1000 : 0, 0);
    }
}

static void on_timer(uv_timer_t *h)
{
    struct idem_sweeper *s = h->data;
    if (s->in_flight || s->app->stopping)
        return;
    struct step *st = calloc(1, sizeof *st);
    if (!st) {
        uv_timer_start(&s->timer, on_timer, 1000, 0);
        return;
    }
    st->base.exec = exec_step;
    st->base.done = step_done;
    st->s = s;
    st->sw = s->at;
    st->now_us = clock_now_us();
    s->in_flight = 1;
    if (writer_submit(s->app->writer, &st->base) != 0) {
        /* busy or shutting down: not now */
        s->in_flight = 0;
        free(st);
        if (!s->app->stopping)
            uv_timer_start(&s->timer, on_timer, 1000, 0);
    }
}

int idem_sweeper_start(struct app *app, struct idem_sweeper **out)
{
    struct idem_sweeper *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->app = app;
    if (uv_timer_init(app->loop, &s->timer) != 0) {
        free(s);
        return CS_EINTERNAL;
    }
    s->timer.data = s;
    uv_timer_start(&s->timer, on_timer, CS_IDEMPOTENCY_SWEEP_FIRST_MS, 0);
    *out = s;
    return 0;
}

void idem_sweeper_stop(struct idem_sweeper *s)
{
    if (!s)
        return;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, sweeper_closed);
}
