/* `caisse serve`: wires the store, the writer, the policy engine and the HTTP
 * server on one libuv loop, and shuts them down in order on SIGTERM/SIGINT:
 * stop accepting, let in-flight requests (and their commits) finish and be
 * answered, stop the writer, close the store. SIGHUP reloads the policies. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>
#include "core/server.h"
#include "core/app.h"
#include "core/router.h"
#include "core/writer.h"
#include "core/crypto.h"
#include "core/keys.h"
#include "core/scheduler.h"
#include "core/mail_spool.h"
#include "core/idem_sweeper.h"
#include "core/webhooks.h"
#include "core/webhook_worker.h"
#include "core/api_plugins.h"
#include "core/plugin_events.h"
#include "lua/plugin.h"

struct server {
    struct app app;
    struct webhooks webhooks;
    struct idem_sweeper *idem_sweeper;
    uv_signal_t sig_term, sig_int, sig_hup;
};

static void on_http_closed(void *ctx)
{
    struct server *s = ctx;
    scheduler_stop(s->app.scheduler);
    s->app.scheduler = NULL;
    mail_spool_stop(s->app.mail);
    s->app.mail = NULL;
    idem_sweeper_stop(s->idem_sweeper);        /* before the writer: it submits commands */
    s->idem_sweeper = NULL;
    webhook_worker_stop(s->webhooks.worker);   /* before the writer: it submits commands */
    plugin_events_stop(&s->app);               /* likewise (plugins' on_event deliveries) */
    writer_stop(s->app.writer);
    writer_free(s->app.writer);
    s->app.writer = NULL;
    webhook_worker_free(s->webhooks.worker);
    s->webhooks.worker = NULL;
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    fprintf(stderr, "caisse: stopped\n");
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    if (s->app.stopping)
        return;
    s->app.stopping = 1;
    fprintf(stderr, "caisse: %s: finishing in-flight requests\n", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    http_server_shutdown(s->app.http, on_http_closed, s);
}

/* After each committed batch (writer thread): the webhook outbox and the
 * plugins' on_event delivery learn that there is something new. */
static void on_commit(void *ctx)
{
    struct server *s = ctx;
    webhooks_on_commit(&s->webhooks);
    plugin_events_on_commit(&s->app);
}

static void on_hup(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    struct cs_diag d = {0};
    if (policy_engine_reload(s->app.policy, &d) == 0)
        fprintf(stderr, "caisse: policies reloaded (generation %u)\n", policy_engine_generation(s->app.policy));
    else
        fprintf(stderr, "caisse: policy reload failed, keeping the previous policies: %s\n", d.message);
    api_plugins_reload_log(&s->app);
}

int server_run(const struct serve_options *o)
{
    static struct server s;   /* lives as long as the process's one loop */
    struct cs_diag d = {0};
    struct store_options so = {.map_bytes_max = o->map_bytes_max};
    if (o->unsafe_nosync) {
        so.env_flags = MDB_NOSYNC;
        so.allow_unsafe = 1;
        fprintf(stderr, "caisse: WARNING: --unsafe-nosync: acknowledged writes can be lost on a crash (benchmarks only)\n");
    }
    if (store_open(&s.app.store, o->data_dir, &so, &d) != 0) {
        fprintf(stderr, "caisse: cannot open the store in %s: %s\n", o->data_dir, d.message);
        return 1;
    }
    struct policy_options po = {.override_dir = o->policy_dir};
    if (policy_engine_new(&po, &s.app.policy, &d) != 0) {
        fprintf(stderr, "caisse: cannot load the policies: %s\n", d.message);
        store_close(s.app.store);
        return 1;
    }
    if (api_plugins_start(&s.app, o->plugin_dir, &d) != 0) {
        fprintf(stderr, "caisse: cannot load the plugins: %s\n", d.message);
        policy_engine_free(s.app.policy);
        store_close(s.app.store);
        return 1;
    }
    if (o->operator_token && o->operator_token[0])
        crypto_sha256_hex(o->operator_token, strlen(o->operator_token), s.app.operator_token_sha256);

    if (keys_load(o->data_dir, "otp.key", s.app.otp_key) != 0) {
        fprintf(stderr, "caisse: cannot read or create %s/otp.key\n", o->data_dir);
        return 1;
    }
    if (keys_load(o->data_dir, "card-fingerprint.key", s.app.card_key) != 0) {
        fprintf(stderr, "caisse: cannot read or create %s/card-fingerprint.key\n", o->data_dir);
        return 1;
    }
    /* Webhooks: the master key encrypts endpoint secrets; the observer writes
     * the outbox in each append's transaction. */
    if (webhook_master_key_load(o->data_dir, s.webhooks.master_key, &d) != 0) {
        fprintf(stderr, "caisse: %s\n", d.message);
        return 1;
    }
    s.webhooks.backoff_scale = o->webhook_backoff_scale > 0 ? o->webhook_backoff_scale : 1.0;
    s.webhooks.ca_file = o->webhook_ca_file ? o->webhook_ca_file : "/etc/ssl/certs/ca-certificates.crt";
    s.webhooks.data_dir = o->data_dir;
    s.app.webhooks = &s.webhooks;
    store_set_append_observer(s.app.store, webhooks_observe, &s.webhooks);
    s.app.data_dir = o->data_dir;
    s.app.loop = uv_default_loop();
    s.app.started_ns = uv_hrtime();
    if (writer_start(&s.app.writer, s.app.store, s.app.loop) != 0) {
        fprintf(stderr, "caisse: cannot start the writer thread\n");
        return 1;
    }
    writer_set_commit_hook(s.app.writer, on_commit, &s);
    if (plugin_events_start(&s.app) != 0) {
        fprintf(stderr, "caisse: cannot start the plugins' event delivery\n");
        return 1;
    }
    if (webhook_worker_start(&s.webhooks.worker, &s.webhooks, s.app.store, s.app.writer, &d) != 0) {
        fprintf(stderr, "caisse: cannot start the webhook worker: %s\n", d.message);
        return 1;
    }
    if (scheduler_start(&s.app, &s.app.scheduler) != 0) {
        fprintf(stderr, "caisse: cannot start the scheduler\n");
        return 1;
    }
    if (mail_spool_start(&s.app, o->data_dir, o->smtp_relay, &s.app.mail) != 0) {
        fprintf(stderr, "caisse: cannot create the mail spool in %s/mail-spool\n", o->data_dir);
        return 1;
    }
    if (idem_sweeper_start(&s.app, &s.idem_sweeper) != 0) {
        fprintf(stderr, "caisse: cannot start the idempotency sweep\n");
        return 1;
    }
    struct http_server_options ho = {.host = o->host, .port = o->port, .handler = router_handle,
                                     .handler_ctx = &s.app,
                                     .header_timeout_ms = o->header_timeout_ms,
                                     .body_timeout_ms = o->body_timeout_ms,
                                     .idle_timeout_ms = o->idle_timeout_ms};
    int rc = http_server_start(s.app.loop, &ho, &s.app.http);
    if (rc != 0) {
        fprintf(stderr, "caisse: cannot listen on %s:%d: %s\n", o->host, o->port, uv_strerror(rc));
        writer_stop(s.app.writer);
        return 1;
    }
    uv_signal_init(s.app.loop, &s.sig_term);
    uv_signal_init(s.app.loop, &s.sig_int);
    uv_signal_init(s.app.loop, &s.sig_hup);
    s.sig_term.data = s.sig_int.data = s.sig_hup.data = &s;
    uv_signal_start(&s.sig_term, on_stop_signal, SIGTERM);
    uv_signal_start(&s.sig_int, on_stop_signal, SIGINT);
    uv_signal_start(&s.sig_hup, on_hup, SIGHUP);
    signal(SIGPIPE, SIG_IGN);

    /* Payment links' URLs: the public base given, else the address bound. */
    if (o->public_url)
        snprintf(s.app.public_url, sizeof s.app.public_url, "%s", o->public_url);
    else
        snprintf(s.app.public_url, sizeof s.app.public_url, strchr(o->host, ':') ? "http://[%s]:%d" : "http://%s:%d",
                 o->host, http_server_port(s.app.http));   /* an IPv6 literal in brackets */

    /* The readiness line that scripts and tests wait for. */
    printf("caisse listening on http://%s:%d data=%s\n", o->host, http_server_port(s.app.http), o->data_dir);
    fflush(stdout);

    uv_run(s.app.loop, UV_RUN_DEFAULT);

    http_server_free(s.app.http);
    plugins_free(s.app.plugins);
    policy_engine_free(s.app.policy);
    store_close(s.app.store);
    uv_loop_close(s.app.loop);
    return 0;
}
