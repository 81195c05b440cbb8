#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/writer.h"
#include "core/limits.h"
#include "core/metrics.h"

struct writer {
    struct store *store;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct write_cmd *queue_head, *queue_tail;  /* submitted, not yet taken */
    unsigned queued;
    unsigned executing;
    struct write_cmd *done_head, *done_tail;    /* finished, not yet answered */
    int stopping;
    uv_async_t async;                           /* wakes the loop for `done` */
    void (*commit_hook)(void *ctx);             /* writer_set_commit_hook() */
    void *commit_hook_ctx;
    int started;
};

int write_cmd_reply(struct write_cmd *c, int status, const char *body, size_t len)
{
    free(c->body);
    c->body = malloc(len + 1);
    if (!c->body) {
        c->body_len = 0;
        return write_cmd_fail(c, CS_ENOMEM);
    }
    memcpy(c->body, body, len);
    c->body[len] = 0;
    c->body_len = len;
    c->status = status;
    c->err = 0;
    return 0;
}

int write_cmd_fail(struct write_cmd *c, int err)
{
    c->err = err;
    c->status = cs_err_status(err);
    if (!c->diag.err)
        cs_fail(&c->diag, err, "", "%s", cs_err_code(err));
    return err;
}

static void reset_outcome(struct write_cmd *c)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    c->status = 0;
    c->err = 0;
    c->events = 0;
    memset(&c->diag, 0, sizeof c->diag);
}

/* One transaction over the batch. Returns 0 if committed, else the error that
 * failed the whole batch. */
static int run_batch(struct writer *w, struct write_cmd *batch, unsigned n)
{
    struct store_txn t;
    int rc = store_write_begin(w->store, &t);
    if (rc != 0)
        return rc;
    unsigned events = 0;
    for (struct write_cmd *c = batch; c; c = c->next) {
        reset_outcome(c);
        c->exec(&t, c);
        events += c->events;
        if (t.err)  /* sticky: the transaction is lost, stop early */
            break;
    }
    uint64_t fsync_ns = 0;
    rc = store_commit(&t, &fsync_ns);
    if (rc == 0)
        metrics_observe_commit(n, events, fsync_ns);
    return rc;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->queue_head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->mu);
        if (!w->queue_head && w->stopping)
            break;
        /* Take everything queued, up to the batch limit. */
        struct write_cmd *batch = w->queue_head, *last = batch;
        unsigned n = 1;
        while (last->next && n < CS_WRITER_BATCH_MAX) {
            last = last->next;
            n++;
        }
        w->queue_head = last->next;
        if (!w->queue_head)
            w->queue_tail = NULL;
        last->next = NULL;
        w->queued -= n;
        w->executing = n;
        pthread_mutex_unlock(&w->mu);

        int rc;
        for (;;) {
            rc = run_batch(w, batch, n);
            if (rc == CS_ESTORAGE && store_grow(w->store) == 0)
                continue;  /* the map grew: the same batch again, from scratch */
            break;
        }
        if (rc == 0 && w->commit_hook)
            w->commit_hook(w->commit_hook_ctx);
        if (rc != 0) {
            metrics_observe_commit_failure();
            for (struct write_cmd *c = batch; c; c = c->next) {
                reset_outcome(c);
                cs_fail(&c->diag, rc, "",
                        rc == CS_ESTORAGE ? "the event log is full: the write was not recorded"
                                          : "the write could not be made durable and was not recorded");
                write_cmd_fail(c, rc);
            }
        }

        for (struct write_cmd *c = batch; c; c = c->next)
            if (c->release)
                c->release(c);

        pthread_mutex_lock(&w->mu);
        w->executing = 0;
        if (w->done_tail)
            w->done_tail->next = batch;
        else
            w->done_head = batch;
        w->done_tail = last;
        pthread_mutex_unlock(&w->mu);
        uv_async_send(&w->async);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void on_done(uv_async_t *a)
{
    struct writer *w = a->data;
    pthread_mutex_lock(&w->mu);
    struct write_cmd *c = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (c) {
        struct write_cmd *next = c->next;
        c->next = NULL;
        c->done(c);  /* may free c */
        c = next;
    }
}

static void writer_closed(uv_handle_t *h)
{
    free(h->data);
}

int writer_start(struct writer **out, struct store *s, uv_loop_t *loop)
{
    struct writer *w = calloc(1, sizeof *w);
    if (!w)
        return CS_ENOMEM;
    w->store = s;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (uv_async_init(loop, &w->async, on_done) != 0) {
        free(w);
        return CS_EINTERNAL;
    }
    w->async.data = w;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        uv_close((uv_handle_t *)&w->async, writer_closed);
        return CS_EINTERNAL;
    }
    w->started = 1;
    *out = w;
    return 0;
}

int writer_submit(struct writer *w, struct write_cmd *c)
{
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return CS_ESHUTDOWN;
    }
    if (w->queued >= CS_WRITER_QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        return CS_EBUSY;
    }
    c->next = NULL;
    if (w->queue_tail)
        w->queue_tail->next = c;
    else
        w->queue_head = c;
    w->queue_tail = c;
    w->queued++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void writer_set_commit_hook(struct writer *w, void (*fn)(void *ctx), void *ctx)
{
    w->commit_hook = fn;
    w->commit_hook_ctx = ctx;
}

unsigned writer_pending(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    unsigned n = w->queued + w->executing;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void writer_stop(struct writer *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = 0;
    on_done(&w->async);  /* answer what the last batches produced */
}

void writer_free(struct writer *w)
{
    if (!w)
        return;
    uv_close((uv_handle_t *)&w->async, writer_closed);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
}
