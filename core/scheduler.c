#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/scheduler.h"
#include "core/writer.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/orders.h"
#include "core/notify.h"

#define SCHED_TICK_MS 1000u
#define SCHED_FIRE_PER_TICK 64u
#define SCHED_TRACKED_MAX 4096u   /* jobs in flight or found stale, remembered by id */

#define job sched_job

struct scheduler {
    struct app *app;
    uv_timer_t tick;
    /* Ids of jobs in flight (fired, not yet committed) and of jobs found stale
     * (their order moved on by a path that left them behind): not fired again. */
    char (*tracked)[96];
    unsigned char *stale;
    unsigned ntracked;
};

struct run {                     /* one scheduler_run_until */
    struct scheduler *s;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    int64_t until_us;
    int fired;
    void (*done)(void *ctx, int fired, int err);
    void *ctx;
    uv_timer_t wait;             /* when the next job is in flight from a tick */
};

struct job_cmd {
    struct write_cmd base;
    struct scheduler *s;
    struct job job;
    int64_t time_us;
    int acted;                   /* an event was appended */
    json_t *prepared;            /* what the kind's prepare decided (loop thread) */
    struct run *run;             /* NULL when fired by the tick */
};

int64_t merchant_now_us(struct app *app, const char *merchant_id, int livemode)
{
    int64_t now = clock_now_us(), off = 0;
    if (livemode)
        return now;
    struct store_txn t;
    if (store_read_begin(app->store, &t) == 0) {
        store_test_clock_offset(&t, merchant_id, livemode, &off);
        store_abort(&t);
    }
    return now + off;
}

/* ---- tracking ---------------------------------------------------------------- */

static int tracked_find(struct scheduler *s, const char *id)
{
    for (unsigned i = 0; i < s->ntracked; i++)
        if (strcmp(s->tracked[i], id) == 0)
            return (int)i;
    return -1;
}

static int track(struct scheduler *s, const char *id, int stale)
{
    if (s->ntracked >= SCHED_TRACKED_MAX)
        return -1;
    snprintf(s->tracked[s->ntracked], sizeof s->tracked[0], "%s", id);
    s->stale[s->ntracked++] = (unsigned char)stale;
    return 0;
}

static void untrack(struct scheduler *s, const char *id)
{
    int i = tracked_find(s, id);
    if (i < 0)
        return;
    s->ntracked--;
    memcpy(s->tracked[i], s->tracked[s->ntracked], sizeof s->tracked[0]);
    s->stale[i] = s->stale[s->ntracked];
}

/* ---- executing a job (writer thread) -------------------------------------------- */

static int job_parse(const char *text, size_t len, struct job *j)
{
    json_t *o = json_loadb(text, len, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *agg = json_string_value(json_object_get(o, "aggregate_id"));
    const char *mer = json_string_value(json_object_get(o, "merchant"));
    int ok = id && kind && agg && mer;
    if (ok) {
        snprintf(j->id, sizeof j->id, "%s", id);
        snprintf(j->kind, sizeof j->kind, "%s", kind);
        snprintf(j->aggregate_id, sizeof j->aggregate_id, "%s", agg);
        snprintf(j->merchant_id, sizeof j->merchant_id, "%s", mer);
        j->livemode = json_is_true(json_object_get(o, "livemode"));
        j->due_us = json_integer_value(json_object_get(o, "due_us"));
    }
    json_decref(o);
    return ok ? 0 : CS_ECORRUPT;
}

static const struct job_kind *kind_find(const char *kind)
{
    for (const struct job_kind *k = job_kinds; k->kind; k++)
        if (strcmp(k->kind, kind) == 0)
            return k;
    return NULL;
}

int sched_append(struct store_txn *t, const struct sched_job *j, int64_t time_us, const char *aggregate_id,
                 const char *type, uint64_t expected_version, json_t *data)
{
    char evt[CS_ID_BYTES_MAX];
    if (id_new("evt", time_us, evt, sizeof evt) != 0)
        return CS_EINTERNAL;
    struct event_in ev = {.id = evt, .type = type, .aggregate_id = aggregate_id,
                          .expected_version = expected_version, .merchant_id = j->merchant_id,
                          .livemode = j->livemode, .actor = "scheduler", .time_us = time_us, .data = data};
    return store_event_append(t, &ev, NULL);
}

static int exec_job(struct store_txn *t, struct write_cmd *wc)
{
    struct job_cmd *c = (struct job_cmd *)wc;
    c->acted = 0;
    if (store_schedule_has(t, c->job.id) != 0)
        return write_cmd_reply(wc, 200, "{}", 2);   /* already done by another path */
    const struct job_kind *k = kind_find(c->job.kind);
    if (k) {
        int rc = k->exec(t, &c->job, c->time_us, c->prepared, &wc->diag);
        if (rc < 0)
            return write_cmd_fail(wc, rc);
        wc->events = (unsigned)rc;
        c->acted = rc > 0;
        return write_cmd_reply(wc, 200, "{}", 2);
    }
    MDB_val v;
    int rc = store_order_get(t, c->job.aggregate_id, &v);
    if (rc)
        return write_cmd_fail(wc, rc == CS_ENOENT ? CS_ECORRUPT : rc);
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    const char *status = json_string_value(json_object_get(doc, "status"));
    const char *risk = json_string_value(json_object_get(doc, "risk_decision"));
    uint64_t version = (uint64_t)json_integer_value(json_object_get(doc, "version"));
    const char *type = NULL;
    json_t *data = NULL;
    if (strcmp(c->job.kind, "order.abandon") == 0 && status && strcmp(status, "approved") == 0)
        type = "order.abandoned";
    else if (strcmp(c->job.kind, "order.expire") == 0 && status && strcmp(status, "pending") == 0 &&
             risk && strcmp(risk, "review") == 0)
        type = "order.expired";
    else if (strcmp(c->job.kind, "order.charge") == 0 && status &&
             (strcmp(status, "shipped") == 0 || strcmp(status, "partially_shipped") == 0) &&
             order_decide_charge(doc, c->time_us, &type, &data, &wc->diag) != 0)
        type = NULL;
    if (type && !data)
        data = json_pack("{s:{s:s}}", "hold", "status", "released");
    json_decref(doc);
    if (!type)
        return write_cmd_reply(wc, 200, "{}", 2);   /* stale: nothing to do */
    char evt[CS_ID_BYTES_MAX];
    if (id_new("evt", c->time_us, evt, sizeof evt) != 0) {
        json_decref(data);
        return write_cmd_fail(wc, CS_EINTERNAL);
    }
    struct event_in ev = {.id = evt, .type = type, .aggregate_id = c->job.aggregate_id,
                          .expected_version = version, .merchant_id = c->job.merchant_id,
                          .livemode = c->job.livemode, .actor = "scheduler", .time_us = c->time_us,
                          .data = data};
    rc = store_event_append(t, &ev, NULL);
    json_decref(data);
    if (rc == 0)
        rc = notify_order_event(t, type, c->job.aggregate_id, c->time_us);
    if (rc)
        return write_cmd_fail(wc, rc);
    wc->events = 1;
    c->acted = 1;
    return write_cmd_reply(wc, 200, "{}", 2);
}

static void run_next(struct run *r);

static void run_closed(uv_handle_t *h)
{
    free(h->data);
}

static void job_done(struct write_cmd *wc)
{
    struct job_cmd *c = (struct job_cmd *)wc;
    struct scheduler *s = c->s;
    untrack(s, c->job.id);
    if (wc->err == 0 && !c->acted)
        track(s, c->job.id, 1);   /* stale: do not fire it again in this process */
    if (wc->err)
        fprintf(stderr, "caisse: scheduler: job %s failed: %s\n", c->job.id, wc->diag.message);
    struct run *r = c->run;
    int err = wc->err;
    json_decref(c->prepared);
    free(wc->body);
    free(c);
    if (r) {
        if (err) {
            r->done(r->ctx, r->fired, err);
            uv_close((uv_handle_t *)&r->wait, run_closed);
            return;
        }
        r->fired++;
        run_next(r);
    }
}

static int fire(struct scheduler *s, const struct job *j, struct run *r)
{
    struct job_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->base.exec = exec_job;
    c->base.done = job_done;
    c->s = s;
    c->job = *j;
    c->run = r;
    /* A test clock jumps: the job happens at its due time, not at the jump's end. */
    c->time_us = j->livemode ? clock_now_us() : j->due_us;
    if (track(s, j->id, 0) != 0) {
        free(c);
        return CS_EBUSY;
    }
    const struct job_kind *k = kind_find(j->kind);
    if (k && k->prepare)
        c->prepared = k->prepare(s->app, j, c->time_us);
    int rc = writer_submit(s->app->writer, &c->base);
    if (rc) {
        untrack(s, j->id);
        json_decref(c->prepared);
        free(c);
    }
    return rc;
}

/* ---- the periodic tick ------------------------------------------------------------ */

struct tick_scan {
    struct scheduler *s;
    struct store_txn *t;
    int64_t now;
    int64_t horizon;           /* now + the largest test-clock offset: jobs are sorted by due time */
    struct job due[SCHED_FIRE_PER_TICK];
    unsigned n;
};

static int tick_visit(void *ctx, const char *text, size_t len)
{
    struct tick_scan *ts = ctx;
    struct job j;
    if (job_parse(text, len, &j) != 0)
        return 0;
    if (j.due_us > ts->horizon)
        return 1;   /* everything after is due later still, for every merchant */
    int64_t off = 0;
    if (!j.livemode)
        store_test_clock_offset(ts->t, j.merchant_id, 0, &off);
    if (j.due_us > ts->now + off || tracked_find(ts->s, j.id) >= 0)
        return 0;
    ts->due[ts->n++] = j;
    return ts->n == SCHED_FIRE_PER_TICK;
}

static void on_tick(uv_timer_t *h)
{
    struct scheduler *s = h->data;
    if (s->app->stopping)
        return;
    struct tick_scan *ts = calloc(1, sizeof *ts);
    if (!ts)
        return;
    struct store_txn t;
    ts->s = s;
    ts->t = &t;
    ts->now = clock_now_us();
    if (store_read_begin(s->app->store, &t) == 0) {
        int64_t max_off = 0;
        store_test_clock_max_offset(&t, &max_off);
        ts->horizon = ts->now + max_off;
        store_schedule_each(&t, tick_visit, ts);
        store_abort(&t);
    }
    for (unsigned i = 0; i < ts->n; i++)
        fire(s, &ts->due[i], NULL);
    free(ts);
}

/* ---- run until (the test clock's advance) --------------------------------------- */

struct first_due {
    struct run *r;
    struct job job;
    int found, busy;
};

static int first_visit(void *ctx, const char *text, size_t len)
{
    struct first_due *f = ctx;
    struct job j;
    if (job_parse(text, len, &j) != 0 || strcmp(j.merchant_id, f->r->merchant_id) != 0 ||
        j.livemode != f->r->livemode)
        return 0;
    if (j.due_us > f->r->until_us)
        return 1;   /* jobs come earliest first: nothing more is due */
    int i = tracked_find(f->r->s, j.id);
    if (i >= 0 && f->r->s->stale[i])
        return 0;
    if (i >= 0) {
        f->busy = 1;   /* fired by a tick, not committed yet: wait for it */
        return 1;
    }
    f->job = j;
    f->found = 1;
    return 1;
}

static void on_wait(uv_timer_t *h)
{
    run_next(h->data);
}

static void run_next(struct run *r)
{
    struct first_due f = {.r = r};
    struct store_txn t;
    int err = store_read_begin(r->s->app->store, &t);
    if (err == 0) {
        err = store_schedule_each(&t, first_visit, &f);
        store_abort(&t);
    }
    if (!err && f.busy) {
        uv_timer_start(&r->wait, on_wait, 5, 0);
        return;
    }
    if (!err && f.found && (err = fire(r->s, &f.job, r)) == 0)
        return;
    r->done(r->ctx, r->fired, err);
    uv_close((uv_handle_t *)&r->wait, run_closed);
}

void scheduler_run_until(struct scheduler *s, const char *merchant_id, int livemode, int64_t until_us,
                         void (*done)(void *ctx, int fired, int err), void *ctx)
{
    struct run *r = calloc(1, sizeof *r);
    if (!r) {
        done(ctx, 0, CS_ENOMEM);
        return;
    }
    r->s = s;
    snprintf(r->merchant_id, sizeof r->merchant_id, "%s", merchant_id);
    r->livemode = livemode;
    r->until_us = until_us;
    r->done = done;
    r->ctx = ctx;
    uv_timer_init(s->app->loop, &r->wait);
    r->wait.data = r;
    run_next(r);
}

int scheduler_start(struct app *app, struct scheduler **out)
{
    struct scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return CS_ENOMEM;
    s->tracked = calloc(SCHED_TRACKED_MAX, sizeof *s->tracked);
    s->stale = calloc(SCHED_TRACKED_MAX, 1);
    if (!s->tracked || !s->stale) {
        free(s->tracked);
        free(s->stale);
        free(s);
        return CS_ENOMEM;
    }
    s->app = app;
    uv_timer_init(app->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, SCHED_TICK_MS, SCHED_TICK_MS);
    *out = s;
    return 0;
}

static void sched_closed(uv_handle_t *h)
{
    struct scheduler *s = h->data;
    free(s->tracked);
    free(s->stale);
    free(s);
}

void scheduler_stop(struct scheduler *s)
{
    if (!s)
        return;
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, sched_closed);
}
