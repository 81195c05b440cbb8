/* Delivery of committed events to plugins' on_event handlers
 * (core/plugin_events.h). One pump on the loop thread, woken after each
 * commit; per plugin a position, at most one delivery in flight and its own
 * retry clock, so plugins advance independently. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/api_plugins.h"
#include "core/plugin_effects.h"
#include "core/plugin_events.h"
#include "lua/plugin.h"

#define DELIVERY_RETRIES      2       /* after the first failure: then the event is skipped */
#define SCAN_PER_PUMP         1024u   /* events read per plugin before yielding the loop */
#define PERSIST_DELAY_MS      500u    /* positions of events without effects are written lazily */
#define STORE_RETRY_MS        1000u   /* after a failed commit of a delivery's effects */
#define DELIVERY_STATES_MAX   (2 * PLUGINS_MAX)

static const uint64_t retry_ms[DELIVERY_RETRIES] = {200, 1000};

struct sub_state {
    char name[PLUGIN_NAME_BYTES_MAX + 1];
    int known;                    /* pos is set (from the store, or the head for a new plugin) */
    uint64_t pos;                 /* the last sequence handled */
    uint64_t persisted;           /* the last position recorded (or being recorded) durably */
    int busy;                     /* a delivery or a position write is in flight */
    unsigned attempt;             /* failures of the event after pos so far */
    uint64_t retry_at_ms;         /* uv_now() before which that event is not tried again */
    uint64_t delivered, failures, skipped;
    char last_error[300];
};

struct delivery {
    struct app *app;
    uv_async_t wake;              /* the commit hook, from the writer thread */
    uv_timer_t retry_timer;
    uv_timer_t persist_timer;
    pthread_mutex_t mu;           /* guards `closed` against the writer thread */
    int started, closed;
    int persist_armed;
    struct sub_state s[DELIVERY_STATES_MAX];
    unsigned n;
};

static struct delivery D;         /* one server per process */

/* One event being delivered with effects. */
struct job {
    unsigned state;               /* index in D.s */
    uint64_t seq;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    json_t *commands;
    json_t *kv_writes;
};

static void pump(void);

static struct sub_state *state_for(const char *name)
{
    for (unsigned i = 0; i < D.n; i++)
        if (strcmp(D.s[i].name, name) == 0)
            return &D.s[i];
    if (D.n == DELIVERY_STATES_MAX)
        return NULL;
    struct sub_state *st = &D.s[D.n++];
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    return st;
}

static void kick(void)
{
    pthread_mutex_lock(&D.mu);
    if (D.started && !D.closed)
        uv_async_send(&D.wake);
    pthread_mutex_unlock(&D.mu);
}

/* ---- recording positions ------------------------------------------------------------- */

struct persist {
    unsigned state;
    uint64_t seq;
};

static void persisted(void *ctx, int err, const struct cs_diag *d)
{
    struct persist *pp = ctx;
    struct sub_state *st = &D.s[pp->state];
    st->busy = 0;
    if (err) {
        fprintf(stderr, "caisse: plugin %s: cannot record its event position %llu: %s\n", st->name,
                (unsigned long long)pp->seq, d->message);
        if (st->persisted == pp->seq)
            st->persisted = 0;   /* try again later */
    }
    free(pp);
    pump();
}

/* Records st->pos durably (one small write with no event). */
static void persist(struct sub_state *st)
{
    struct persist *pp = malloc(sizeof *pp);
    if (!pp)
        return;
    pp->state = (unsigned)(st - D.s);
    pp->seq = st->pos;
    struct cs_diag d = {0};
    st->busy = 1;
    st->persisted = st->pos;
    if (plugin_effects_submit(D.app, st->name, NULL, 0, NULL, (int64_t)st->pos, persisted, pp, &d) != 0) {
        st->busy = 0;
        st->persisted = 0;
        free(pp);
    }
}

static void on_persist_timer(uv_timer_t *t)
{
    (void)t;
    D.persist_armed = 0;
    if (D.closed || D.app->stopping)
        return;
    for (unsigned i = 0; i < D.n; i++)
        if (D.s[i].known && !D.s[i].busy && D.s[i].pos > D.s[i].persisted)
            persist(&D.s[i]);
}

static void persist_later(void)
{
    if (D.persist_armed)
        return;
    D.persist_armed = 1;
    uv_timer_start(&D.persist_timer, on_persist_timer, PERSIST_DELAY_MS, 0);
}

/* ---- one delivery with effects ---------------------------------------------------------- */

static void job_free(struct job *j)
{
    if (j->kv_writes) {
        plugins_kv_settled(D.app->plugins, D.s[j->state].name, j->merchant_id, j->livemode, j->kv_writes);
        json_decref(j->kv_writes);
    }
    json_decref(j->commands);
    free(j);
}

static void job_effects_done(void *ctx, int err, const struct cs_diag *d)
{
    struct job *j = ctx;
    struct sub_state *st = &D.s[j->state];
    st->busy = 0;
    if (err) {
        /* the handler's writes and position are not recorded: the event is
         * delivered again later (its commands may run twice: at least once) */
        fprintf(stderr, "caisse: plugin %s: event %llu: its effects were not recorded (delivered again in %u ms): "
                "%s\n", st->name, (unsigned long long)j->seq, STORE_RETRY_MS, d->message);
        snprintf(st->last_error, sizeof st->last_error, "event %llu: %s", (unsigned long long)j->seq, d->message);
        st->retry_at_ms = uv_now(D.app->loop) + STORE_RETRY_MS;
    } else {
        st->pos = st->persisted = j->seq;
        st->delivered++;
    }
    job_free(j);
    pump();
}

static void job_commands_done(void *ctx, json_t *results, int failed_status)
{
    struct job *j = ctx;
    struct sub_state *st = &D.s[j->state];
    if (failed_status) {
        /* a refused command is the handler's decision meeting the state of
         * things (an order already shipped...): logged, not retried */
        size_t i;
        json_t *r;
        json_array_foreach(results, i, r) {
            json_t *status = json_object_get(r, "status");
            if (json_is_integer(status) && json_integer_value(status) >= 300) {
                const char *msg = json_string_value(json_object_get(json_object_get(json_object_get(r, "body"),
                                                                                     "error"), "message"));
                fprintf(stderr, "caisse: plugin %s: event %llu: command %s %s failed (%d): %s\n", st->name,
                        (unsigned long long)j->seq, json_string_value(json_object_get(r, "op")),
                        json_string_value(json_object_get(r, json_object_get(r, "payment") ? "payment" : "order")),
                        (int)json_integer_value(status), msg ? msg : "");
            }
        }
    }
    struct cs_diag d = {0};
    if (plugin_effects_submit(D.app, st->name, j->merchant_id, j->livemode, j->kv_writes, (int64_t)j->seq,
                              job_effects_done, j, &d) != 0)
        job_effects_done(j, d.err, &d);
}

/* ---- the pump ------------------------------------------------------------------------------ */

/* The next event after st->pos (up to head) that the plugin subscribes to, as
 * a new JSON object; NULL if none within SCAN_PER_PUMP events (st->pos then
 * moves past those read). */
static json_t *next_event(struct sub_state *st, uint64_t head, int *more)
{
    struct store_txn t;
    *more = 0;
    if (store_read_begin(D.app->store, &t) != 0)
        return NULL;
    json_t *found = NULL;
    unsigned scanned = 0;
    while (st->pos < head && !found) {
        if (scanned++ == SCAN_PER_PUMP) {
            *more = 1;
            break;
        }
        struct event_view v;
        uint64_t seq = st->pos + 1;
        if (store_event_get(&t, seq, &v) != 0)
            break;               /* a read error: try again on the next pump */
        if (v.merchant_id && plugins_subscribed(D.app->plugins, st->name, v.type)) {
            found = json_deep_copy(v.root);
            if (found)
                json_object_set_new(found, "seq", json_integer((json_int_t)seq));
        } else {
            st->pos = seq;
        }
        event_view_clear(&v);
        if (!found && st->pos != seq)
            break;               /* out of memory copying it: try again later */
    }
    store_abort(&t);
    return found;
}

static void on_retry_timer(uv_timer_t *t)
{
    (void)t;
    pump();
}

static void retry_at(uint64_t at_ms)
{
    uint64_t now = uv_now(D.app->loop);
    uint64_t due = uv_timer_get_due_in(&D.retry_timer);
    uint64_t in = at_ms > now ? at_ms - now : 0;
    if (!uv_is_active((uv_handle_t *)&D.retry_timer) || in < due)
        uv_timer_start(&D.retry_timer, on_retry_timer, in, 0);
}

/* Delivers one event; returns 1 if the plugin is now busy or waiting. */
static int deliver(struct sub_state *st, json_t *ev)
{
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
    json_t *commands = NULL, *writes = NULL;
    struct cs_diag d = {0};
    int err = plugins_event(D.app->plugins, st->name, ev, &commands, &writes, &d);
    if (err) {
        st->failures++;
        st->attempt++;
        snprintf(st->last_error, sizeof st->last_error, "event %llu (%s): %s", (unsigned long long)seq,
                 json_string_value(json_object_get(ev, "type")), d.message);
        if (st->attempt > DELIVERY_RETRIES) {
            fprintf(stderr, "caisse: plugin %s: event %llu skipped after %u failures: %s\n", st->name,
                    (unsigned long long)seq, st->attempt, d.message);
            st->skipped++;
            st->attempt = 0;
            st->pos = seq;
            return 0;
        }
        fprintf(stderr, "caisse: plugin %s: event %llu failed (attempt %u, retried in %llu ms): %s\n", st->name,
                (unsigned long long)seq, st->attempt, (unsigned long long)retry_ms[st->attempt - 1], d.message);
        st->retry_at_ms = uv_now(D.app->loop) + retry_ms[st->attempt - 1];
        retry_at(st->retry_at_ms);
        return 1;
    }
    st->attempt = 0;
    if (json_array_size(commands) == 0 && !writes) {
        json_decref(commands);
        st->pos = seq;           /* recorded lazily: redelivered after a crash, which is allowed */
        st->delivered++;
        return 0;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        if (writes)
            plugins_kv_settled(D.app->plugins, st->name, json_string_value(json_object_get(ev, "merchant")),
                               json_is_true(json_object_get(ev, "livemode")), writes);
        json_decref(writes);
        json_decref(commands);
        st->retry_at_ms = uv_now(D.app->loop) + STORE_RETRY_MS;
        retry_at(st->retry_at_ms);
        return 1;
    }
    j->state = (unsigned)(st - D.s);
    j->seq = seq;
    snprintf(j->merchant_id, sizeof j->merchant_id, "%s", json_string_value(json_object_get(ev, "merchant")));
    j->livemode = json_is_true(json_object_get(ev, "livemode"));
    j->commands = commands;
    j->kv_writes = writes;
    st->busy = 1;
    char actor[64];
    plugin_actor(st->name, actor);
    if (plugin_commands_run(D.app, j->merchant_id, j->livemode, actor, commands, job_commands_done, j) != 0) {
        st->busy = 0;
        job_free(j);
        st->retry_at_ms = uv_now(D.app->loop) + STORE_RETRY_MS;
        retry_at(st->retry_at_ms);
    }
    return 1;
}

static void advance(struct sub_state *st, uint64_t head)
{
    while (st->pos < head) {
        int more = 0;
        json_t *ev = next_event(st, head, &more);
        if (!ev) {
            if (more)
                kick();          /* yield the loop, then go on */
            break;
        }
        int waiting = deliver(st, ev);
        json_decref(ev);
        if (waiting)
            return;
    }
    if (st->pos > st->persisted && !st->busy)
        persist_later();
}

static void pump(void)
{
    if (!D.started || D.closed || D.app->stopping || !D.app->plugins)
        return;
    unsigned subscribers = 0;
    for (unsigned i = 0; i < plugins_count(D.app->plugins); i++)
        subscribers += plugins_has_subscriptions(D.app->plugins, plugins_name(D.app->plugins, i));
    if (!subscribers)
        return;                  /* the common case: nothing to read after a commit */
    uint64_t head = 0;
    uint8_t hash[32];
    struct store_txn t;
    if (store_read_begin(D.app->store, &t) != 0)
        return;
    int rc = store_head(&t, &head, hash);
    store_abort(&t);
    if (rc != 0)
        return;
    uint64_t now = uv_now(D.app->loop);
    for (unsigned i = 0; i < plugins_count(D.app->plugins); i++) {
        const char *name = plugins_name(D.app->plugins, i);
        if (!plugins_has_subscriptions(D.app->plugins, name))
            continue;
        struct sub_state *st = state_for(name);
        if (!st || st->busy)
            continue;
        if (!st->known) {
            uint64_t seq = 0;
            if (store_read_begin(D.app->store, &t) != 0)
                continue;
            rc = store_plugin_cursor_get(&t, name, &seq);
            store_abort(&t);
            if (rc == 0) {
                st->pos = st->persisted = seq;
                st->known = 1;
            } else if (rc == CS_ENOENT) {
                /* a new subscriber starts at the head, once that is recorded */
                st->pos = head;
                st->known = 1;
                persist(st);
                continue;
            } else {
                continue;
            }
        }
        if (st->retry_at_ms > now) {
            retry_at(st->retry_at_ms);
            continue;
        }
        advance(st, head);
    }
}

static void on_wake(uv_async_t *h)
{
    (void)h;
    pump();
}

int plugin_events_start(struct app *app)
{
    memset(&D, 0, sizeof D);
    D.app = app;
    if (pthread_mutex_init(&D.mu, NULL) != 0)
        return CS_ENOMEM;
    uv_async_init(app->loop, &D.wake, on_wake);
    uv_timer_init(app->loop, &D.retry_timer);
    uv_timer_init(app->loop, &D.persist_timer);
    pthread_mutex_lock(&D.mu);
    D.started = 1;
    pthread_mutex_unlock(&D.mu);
    kick();                      /* plugins loaded at start: record their positions, catch up */
    return 0;
}

void plugin_events_on_commit(void *ctx)
{
    (void)ctx;
    kick();
}

void plugin_events_kick(struct app *app)
{
    (void)app;
    kick();
}

void plugin_events_stop(struct app *app)
{
    (void)app;
    if (!D.started)
        return;
    /* the positions of events handled without effects: recorded before the
     * writer drains its queue (a failure only means a redelivery) */
    if (!D.closed)
        for (unsigned i = 0; i < D.n; i++)
            if (D.s[i].known && !D.s[i].busy && D.s[i].pos > D.s[i].persisted)
                persist(&D.s[i]);
    pthread_mutex_lock(&D.mu);
    D.closed = 1;
    pthread_mutex_unlock(&D.mu);
    uv_close((uv_handle_t *)&D.wake, NULL);
    uv_close((uv_handle_t *)&D.retry_timer, NULL);
    uv_close((uv_handle_t *)&D.persist_timer, NULL);
}

void plugin_events_describe(struct app *app, json_t *list)
{
    (void)app;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        struct sub_state *st = NULL;
        for (unsigned k = 0; name && k < D.n; k++)
            if (strcmp(D.s[k].name, name) == 0)
                st = &D.s[k];
        if (!st || !st->known)
            continue;
        json_object_set_new(p, "delivery", json_pack("{s:I,s:I,s:I,s:I,s:s*}", "position", (json_int_t)st->pos,
                                                     "delivered", (json_int_t)st->delivered, "failures",
                                                     (json_int_t)st->failures, "skipped", (json_int_t)st->skipped,
                                                     "last_error", st->last_error[0] ? st->last_error : NULL));
    }
}
