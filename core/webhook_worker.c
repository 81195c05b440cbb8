/* The webhook delivery worker (see core/webhook_worker.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/webhook_worker.h"
#include "core/webhook_client.h"
#include "core/writer.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/ids.h"

enum attempt_kind { KIND_SENT, KIND_DROP };

/* One delivery being worked on: from the outbox row to its recorded outcome. */
struct flight {
    struct write_cmd base;        /* the record command (first: cast from write_cmd) */
    struct webhook_worker *w;
    struct flight *next;          /* w->flights */
    struct flight *rnext;         /* w->recorded */
    struct webhook_outbox_row row;
    enum attempt_kind kind;
    int recording;                /* handed to the writer */
    struct whc_conn *conn;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char event_id[CS_ID_BYTES_MAX];
    char event_type[CS_EVENT_TYPE_BYTES_MAX];
    char url[CS_WEBHOOK_URL_BYTES_MAX + 1];
    struct whc_result res;
    int64_t sent_us;
    int mail;                     /* set by exec: the endpoint was disabled for failing */
    char mail_to[256];
};

struct webhook_worker {
    struct webhooks *wh;
    struct store *store;
    struct writer *writer;
    struct whc_tls *tls;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t timer;
    pthread_mutex_t mu;
    int stopping;                 /* under mu */
    int closed;                   /* the async handle is gone: no more sends (under mu) */
    struct flight *recorded;      /* commands back from the writer (under mu) */
    struct flight *flights;       /* in flight, worker thread only */
    unsigned nflights;
};

/* ---- the record command (exec on the writer thread) ------------------------------ */

static int append_disabled(struct store_txn *t, struct flight *f, const char *reason, int64_t now)
{
    char evt[CS_ID_BYTES_MAX];
    if (id_new("evt", now, evt, sizeof evt) != 0)
        return CS_EINTERNAL;
    json_t *data = json_pack("{s:s}", "reason", reason);
    if (!data)
        return CS_ENOMEM;
    struct event_in ev = {.id = evt, .type = "webhook_endpoint.disabled", .aggregate_id = f->row.endpoint_id,
                          .expected_version = STORE_VERSION_ANY, .merchant_id = f->merchant_id,
                          .livemode = f->livemode, .actor = "webhooks", .time_us = now, .data = data};
    int rc = store_event_append(t, &ev, NULL);
    json_decref(data);
    if (rc == 0)
        f->base.events++;
    return rc;
}

static int endpoint_enabled(struct store_txn *t, const char *id)
{
    MDB_val doc;
    if (store_webhook_endpoint_get(t, id, &doc) != 0)
        return 0;
    json_t *o = json_loadb(doc.mv_data, doc.mv_size, 0, NULL);
    int on = json_is_true(json_object_get(o, "enabled"));
    json_decref(o);
    return on;
}

static int exec_record(struct store_txn *t, struct write_cmd *wc)
{
    struct flight *f = (struct flight *)wc;
    struct webhooks *wh = f->w->wh;
    int64_t now = clock_now_us();
    int rc = store_webhook_outbox_delete(t, f->row.due_us, f->row.msg_id);
    if (rc == CS_ENOENT || f->kind == KIND_DROP)
        return write_cmd_reply(wc, 200, "{}", 2);   /* already recorded, or nothing to record */
    if (rc)
        return write_cmd_fail(wc, rc);

    unsigned number = f->row.attempt + 1;
    int ok = !f->res.error && f->res.status >= 200 && f->res.status < 300;
    int gone = !f->res.error && f->res.status == 410;
    int64_t next_due = -1;
    if (!ok && !gone) {
        uint32_t rnd = 0;
        crypto_random(&rnd, sizeof rnd);
        int64_t delay = webhook_backoff_us(number, wh->backoff_scale, rnd);
        if (delay >= 0) {
            next_due = now + delay;
            struct webhook_outbox_row r = f->row;
            r.due_us = next_due;
            r.attempt = number;
            if ((rc = store_webhook_outbox_put(t, &r)))
                return write_cmd_fail(wc, rc);
        }
    }

    /* the delivery log */
    char attempt_id[CS_ID_BYTES_MAX], created[40], next_at[40];
    if (id_new("wha", f->sent_us, attempt_id, sizeof attempt_id) != 0)
        return write_cmd_fail(wc, CS_EINTERNAL);
    clock_format_rfc3339(f->sent_us, created, sizeof created);
    if (next_due >= 0)
        clock_format_rfc3339(next_due, next_at, sizeof next_at);
    json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:s,s:s}", "id", attempt_id, "object",
                          "webhook_attempt", "endpoint", f->row.endpoint_id, "webhook_id", f->row.msg_id,
                          "event_id", f->event_id, "event_seq", (json_int_t)f->row.seq, "event_type",
                          f->event_type, "attempt", (json_int_t)number, "created", created, "url", f->url);
    if (!a)
        return write_cmd_fail(wc, CS_ENOMEM);
    json_object_set_new(a, "result", json_string(ok ? "succeeded" : "failed"));
    json_object_set_new(a, "status_code", f->res.status ? json_integer(f->res.status) : json_null());
    json_object_set_new(a, "error", f->res.error ? json_string(f->res.error) : json_null());
    json_object_set_new(a, "error_detail", f->res.error && f->res.detail[0] ? json_string(f->res.detail) : json_null());
    json_object_set_new(a, "latency_ms", json_integer((json_int_t)f->res.latency_ms));
    /* the excerpt as text: invalid UTF-8 is replaced so the log stays JSON */
    char ex[CS_WEBHOOK_EXCERPT_BYTES_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < f->res.excerpt_len; i++) {
        unsigned char ch = (unsigned char)f->res.excerpt[i];
        ex[n++] = (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\t' ? (char)ch : '?';
    }
    ex[n] = 0;
    json_object_set_new(a, "response_excerpt", json_stringn(ex, n));
    json_object_set_new(a, "next_attempt_at", next_due >= 0 ? json_string(next_at) : json_null());
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!text)
        return write_cmd_fail(wc, CS_ENOMEM);
    rc = store_webhook_attempt_put(t, f->row.endpoint_id, attempt_id, text, strlen(text));
    free(text);
    if (rc)
        return write_cmd_fail(wc, rc);

    /* the endpoint's health */
    int64_t since = 0;
    if ((rc = store_webhook_health_get(t, f->row.endpoint_id, &since)))
        return write_cmd_fail(wc, rc);
    if (ok) {
        if (since && (rc = store_webhook_health_put(t, f->row.endpoint_id, 0)))
            return write_cmd_fail(wc, rc);
        return write_cmd_reply(wc, 200, "{}", 2);
    }
    if (!since && (rc = store_webhook_health_put(t, f->row.endpoint_id, f->sent_us)))
        return write_cmd_fail(wc, rc);
    int64_t limit = (int64_t)((double)WEBHOOK_FAILING_DISABLE_S * 1e6 *
                              (wh->backoff_scale > 0 ? wh->backoff_scale : 1.0));
    int failing = since && now - since >= limit;
    if ((gone || failing) && endpoint_enabled(t, f->row.endpoint_id)) {
        if ((rc = append_disabled(t, f, gone ? "endpoint_gone" : "failing", now)))
            return write_cmd_fail(wc, rc);
        f->mail = 1;
    }
    return write_cmd_reply(wc, 200, "{}", 2);
}

/* Loop thread (the writer's `done`): hand the flight back to the worker. */
static void record_done(struct write_cmd *wc)
{
    struct flight *f = (struct flight *)wc;
    struct webhook_worker *w = f->w;
    pthread_mutex_lock(&w->mu);
    if (w->closed) {
        pthread_mutex_unlock(&w->mu);
        free(f->base.body);
        free(f);
        return;
    }
    f->rnext = w->recorded;
    w->recorded = f;
    uv_async_send(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

/* ---- worker thread ------------------------------------------------------------------ */

static void flight_remove(struct webhook_worker *w, struct flight *f)
{
    for (struct flight **p = &w->flights; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next;
            w->nflights--;
            return;
        }
    }
}

static void scan(uv_timer_t *timer);

static void schedule_scan(struct webhook_worker *w, uint64_t delay_ms)
{
    if (!w->stopping)
        uv_timer_start(&w->timer, scan, delay_ms, 0);
}

static void record(struct webhook_worker *w, struct flight *f)
{
    f->recording = 1;
    f->conn = NULL;
    memset(&f->base, 0, sizeof f->base);
    f->base.exec = exec_record;
    f->base.done = record_done;
    f->base.ctx = f;
    if (writer_submit(w->writer, &f->base) != 0) {
        /* busy or stopping: the row stays due and is picked up again */
        flight_remove(w, f);
        free(f);
        schedule_scan(w, 200);
    }
}

static void on_sent(void *ctx, struct whc_result *r)
{
    struct flight *f = ctx;
    struct webhook_worker *w = f->w;
    f->conn = NULL;
    if (r->error && strcmp(r->error, "aborted") == 0) {
        flight_remove(w, f);
        free(f);
        return;
    }
    f->res = *r;
    record(w, f);
}

static void drop(struct webhook_worker *w, struct flight *f)
{
    f->kind = KIND_DROP;
    record(w, f);
}

static int header_host(const struct webhook_url *u, char *out, size_t cap)
{
    int dflt = strcmp(u->port, u->tls ? "443" : "80") == 0;
    int v6 = strchr(u->host, ':') != NULL;
    return snprintf(out, cap, "%s%s%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "", dflt ? "" : ":",
                    dflt ? "" : u->port);
}

/* Prepares and sends one delivery (read transaction open). */
static void start(struct webhook_worker *w, struct store_txn *t, const struct webhook_outbox_row *row)
{
    struct flight *f = calloc(1, sizeof *f);
    if (!f)
        return;
    f->w = w;
    f->row = *row;
    f->next = w->flights;
    w->flights = f;
    w->nflights++;

    MDB_val doc;
    int rc = store_webhook_endpoint_get(t, row->endpoint_id, &doc);
    json_t *ep = rc == 0 ? json_loadb(doc.mv_data, doc.mv_size, 0, NULL) : NULL;
    if (!ep || !json_is_true(json_object_get(ep, "enabled"))) {
        /* deleted or disabled since: the delivery is dropped */
        json_decref(ep);
        drop(w, f);
        return;
    }
    snprintf(f->merchant_id, sizeof f->merchant_id, "%s", json_string_value(json_object_get(ep, "merchant")));
    f->livemode = json_is_true(json_object_get(ep, "livemode"));
    snprintf(f->url, sizeof f->url, "%s", json_string_value(json_object_get(ep, "url")));
    int allow_private = !f->livemode && json_is_true(json_object_get(ep, "allow_private_network"));
    struct webhook_url url;
    const char *why;
    struct event_view ev;
    int64_t now = clock_now_us();
    char secrets[2][WEBHOOK_SECRET_TEXT_BYTES];
    int nsecrets = 0;
    if (webhook_secret_open(w->wh->master_key, row->endpoint_id, json_object_get(ep, "secret"), secrets[0]) == 0)
        nsecrets = 1;
    json_t *prev = json_object_get(ep, "previous_secret");
    const char *prev_exp = json_string_value(json_object_get(prev, "expires_at"));
    char now_text[40];
    clock_format_rfc3339(now, now_text, sizeof now_text);
    if (prev_exp && strcmp(now_text, prev_exp) < 0 &&
        webhook_secret_open(w->wh->master_key, row->endpoint_id, prev, secrets[nsecrets]) == 0)
        nsecrets++;
    json_decref(ep);
    if (webhook_url_parse(f->url, &url, &why) != 0 || nsecrets == 0 ||
        store_event_get(t, row->seq, &ev) != 0) {
        drop(w, f);   /* cannot be delivered, ever: not retried */
        return;
    }
    snprintf(f->event_id, sizeof f->event_id, "%s", ev.id);
    snprintf(f->event_type, sizeof f->event_type, "%s", ev.type);

    /* the signatures: one per valid secret, space-separated */
    int64_t ts = now / 1000000;
    char sig[2 * 64 + 2] = "";
    size_t sl = 0;
    for (int i = 0; i < nsecrets; i++) {
        uint8_t key[64];
        size_t klen = 0;
        if (webhook_secret_decode(secrets[i], key, sizeof key, &klen) != 0)
            continue;
        if (sl)
            sig[sl++] = ' ';
        sl += webhook_sign(key, klen, row->msg_id, ts, ev.json, ev.json_len, sig + sl, sizeof sig - sl);
    }
    memset(secrets, 0, sizeof secrets);
    char host[300];
    header_host(&url, host, sizeof host);
    size_t cap = strlen(url.path) + strlen(host) + ev.json_len + 512;
    char *req = malloc(cap);
    if (!req) {
        event_view_clear(&ev);
        flight_remove(w, f);
        free(f);
        return;
    }
    int hn = snprintf(req, cap,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: caisse-webhooks/1\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\nwebhook-id: %s\r\n"
                      "webhook-timestamp: %lld\r\nwebhook-signature: %s\r\nConnection: close\r\n\r\n",
                      url.path, host, ev.json_len, row->msg_id, (long long)ts, sig);
    memcpy(req + hn, ev.json, ev.json_len);
    size_t len = (size_t)hn + ev.json_len;
    event_view_clear(&ev);
    f->sent_us = now;
    struct whc_request wr = {.url = &url, .allow_private = allow_private, .bytes = req, .len = len,
                             .timeout_ms = CS_WEBHOOK_TIMEOUT_MS};
    rc = whc_send(&w->loop, w->tls, &wr, on_sent, f, &f->conn);
    free(req);
    if (rc) {
        f->res.error = "connect_failed";
        snprintf(f->res.detail, sizeof f->res.detail, "could not start the request");
        record(w, f);
    }
}

struct scan {
    struct webhook_worker *w;
    struct store_txn *t;
    int64_t now, next_due;
    unsigned looked;
};

static int in_flight(struct webhook_worker *w, const struct webhook_outbox_row *r, unsigned *same_endpoint)
{
    *same_endpoint = 0;
    int found = 0;
    for (struct flight *f = w->flights; f; f = f->next) {
        if (f->row.due_us == r->due_us && strcmp(f->row.msg_id, r->msg_id) == 0)
            found = 1;
        if (strcmp(f->row.endpoint_id, r->endpoint_id) == 0)
            (*same_endpoint)++;
    }
    return found;
}

static int scan_row(void *ctx, const struct webhook_outbox_row *r)
{
    struct scan *s = ctx;
    if (r->due_us > s->now) {
        s->next_due = r->due_us;
        return 1;
    }
    if (s->w->nflights >= CS_WEBHOOK_INFLIGHT_MAX || ++s->looked > CS_WEBHOOK_SCAN_ROWS_MAX)
        return 1;
    unsigned same;
    if (in_flight(s->w, r, &same) || same >= CS_WEBHOOK_ENDPOINT_INFLIGHT_MAX)
        return 0;
    start(s->w, s->t, r);
    return 0;
}

static void scan(uv_timer_t *timer)
{
    struct webhook_worker *w = timer->data;
    if (w->stopping)
        return;
    struct store_txn t;
    uint64_t delay = CS_WEBHOOK_POLL_MS;
    if (store_read_begin(w->store, &t) == 0) {
        struct scan s = {.w = w, .t = &t, .now = clock_now_us()};
        store_webhook_outbox_each(&t, scan_row, &s);
        store_abort(&t);
        if (s.next_due > s.now) {
            int64_t ms = (s.next_due - s.now + 999) / 1000;
            if (ms < (int64_t)delay)
                delay = (uint64_t)ms;
        }
    }
    uv_timer_start(&w->timer, scan, delay, 0);
}

static void on_stop_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_wake(uv_async_t *a)
{
    struct webhook_worker *w = a->data;
    pthread_mutex_lock(&w->mu);
    struct flight *done = w->recorded;
    w->recorded = NULL;
    int stopping = w->stopping;
    pthread_mutex_unlock(&w->mu);
    while (done) {
        struct flight *next = done->rnext;
        flight_remove(w, done);
        if (done->mail && w->wh->data_dir) {
            char subject[200], text[CS_WEBHOOK_URL_BYTES_MAX + 1200];
            snprintf(subject, sizeof subject, "Webhook endpoint %s disabled", done->row.endpoint_id);
            snprintf(text, sizeof text,
                     "Merchant %s (%s mode),\n\nyour webhook endpoint %s (%s) has failed every delivery "
                     "for three days and was disabled. Events are no longer sent to it.\n\n"
                     "Fix the receiver, then re-enable it with PATCH /v1/webhook_endpoints/%s "
                     "{\"enabled\": true} and redeliver what it missed with POST "
                     "/v1/webhook_endpoints/%s/redeliver.\n",
                     done->merchant_id, done->livemode ? "live" : "test", done->row.endpoint_id, done->url,
                     done->row.endpoint_id, done->row.endpoint_id);
            char to[CS_ID_BYTES_MAX + 40];
            snprintf(to, sizeof to, "merchant-%s@merchants.invalid", done->merchant_id);
            if (webhook_mail_spool(w->wh->data_dir, to, subject, text) != 0)
                fprintf(stderr, "caisse: webhooks: could not spool the e-mail for %s\n", done->row.endpoint_id);
        }
        free(done->base.body);
        free(done);
        done = next;
    }
    if (!stopping) {
        uv_timer_start(&w->timer, scan, 0, 0);
        return;
    }
    /* stopping: abort what is in flight (on_sent frees those flights), then close */
    for (struct flight *f = w->flights, *next; f; f = next) {
        next = f->next;
        if (f->conn)
            whc_abort(f->conn);
    }
    uv_timer_stop(&w->timer);
    if (!uv_is_closing((uv_handle_t *)&w->timer))
        uv_close((uv_handle_t *)&w->timer, on_stop_closed);
    pthread_mutex_lock(&w->mu);
    if (!w->closed) {
        w->closed = 1;
        uv_close((uv_handle_t *)&w->wake, on_stop_closed);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
    struct webhook_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* flights still recording: their done frees them (closed is set) */
    return NULL;
}

int webhook_worker_start(struct webhook_worker **out, struct webhooks *wh, struct store *s,
                         struct writer *wr, struct cs_diag *d)
{
    struct webhook_worker *w = calloc(1, sizeof *w);
    if (!w)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    w->wh = wh;
    w->store = s;
    w->writer = wr;
    if (wh->ca_file) {
        struct cs_diag td = {0};
        if (whc_tls_new(&w->tls, wh->ca_file, &td) != 0)
            fprintf(stderr, "caisse: webhooks: HTTPS deliveries will fail: %s\n", td.message);
    }
    pthread_mutex_init(&w->mu, NULL);
    if (uv_loop_init(&w->loop) != 0) {
        free(w);
        return cs_fail(d, CS_EINTERNAL, "", "cannot create the webhook loop");
    }
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, scan, 0, 0);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->timer, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return cs_fail(d, CS_EINTERNAL, "", "cannot start the webhook thread");
    }
    wh->worker = w;
    *out = w;
    return 0;
}

void webhook_worker_wake(struct webhook_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    if (!w->closed)
        uv_async_send(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

void webhooks_on_commit(void *ctx)
{
    struct webhooks *wh = ctx;
    if (__atomic_exchange_n(&wh->outbox_dirty, 0, __ATOMIC_ACQ_REL))
        webhook_worker_wake(wh->worker);
}

void webhook_worker_stop(struct webhook_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    if (!w->closed)
        uv_async_send(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
}

void webhook_worker_free(struct webhook_worker *w)
{
    if (!w)
        return;
    /* the loop has ended; connections closed by whc_abort ran their close callbacks */
    uv_loop_close(&w->loop);
    for (struct flight *f = w->recorded, *next; f; f = next) {
        next = f->rnext;
        free(f->base.body);
        free(f);
    }
    whc_tls_free(w->tls);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
