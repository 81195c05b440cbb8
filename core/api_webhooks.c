/* HTTP handlers of /v1/webhook_endpoints. Validation on the loop thread; the
 * writer appends the webhook_endpoint.* events (the endpoints are
 * event-sourced) and writes outbox rows for redeliveries. Secrets are made and
 * encrypted on the loop thread; only their ciphertext reaches the log, and the
 * clear secret appears once, in the create/rotate response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/writer.h"
#include "core/webhooks.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/clock.h"
#include "core/list_page.h"

enum wh_op { OP_CREATE, OP_UPDATE, OP_DELETE, OP_ROTATE, OP_REDELIVER };

struct wh_cmd {
    struct write_cmd base;
    struct req_ctx *rc;
    enum wh_op op;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char actor[64];
    char endpoint_id[CS_ID_BYTES_MAX];
    int64_t now_us;
    json_t *data;                 /* create: the endpoint; update: the changes; rotate: the event data */
    char secret[WEBHOOK_SECRET_TEXT_BYTES];   /* create/rotate: shown once */
    uint64_t *seqs;               /* redeliver */
    unsigned nseqs;
    uint64_t next_since;          /* redeliver: 0 if all were queued */
};

static void wh_cmd_free(struct wh_cmd *c)
{
    json_decref(c->data);
    free(c->seqs);
    free(c->base.body);
    memset(c->secret, 0, sizeof c->secret);
    free(c);
}

static void wh_cmd_done(struct write_cmd *wc)
{
    struct wh_cmd *c = (struct wh_cmd *)wc;
    if (wc->err) {
        c->rc->diag = wc->diag;
        respond_error(c->rc);
    } else {
        respond_json_text(c->rc, wc->status, wc->body, wc->body_len);
    }
    wh_cmd_free(c);
}

/* The endpoint as the API shows it: without the encrypted secrets, with the
 * clear one when it was just made. */
static json_t *public_view(const char *text, size_t len, const char *secret)
{
    json_t *o = json_loadb(text, len, 0, NULL);
    if (!o)
        return NULL;
    json_object_del(o, "secret");
    json_object_del(o, "previous_secret");
    if (secret)
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

static int reply_json(struct write_cmd *wc, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s)
        return write_cmd_fail(wc, CS_ENOMEM);
    int rc = write_cmd_reply(wc, status, s, strlen(s));
    free(s);
    return rc;
}

/* The endpoint document if it is the caller's (merchant and mode), else
 * CS_ENOTFOUND in the diag: another merchant's endpoint does not exist. */
static json_t *own_endpoint(struct store_txn *t, const char *id, const char *merchant_id, int livemode,
                            struct cs_diag *d, int *err)
{
    MDB_val v;
    *err = store_webhook_endpoint_get(t, id, &v);
    json_t *o = NULL;
    if (*err == 0) {
        o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        const char *m = json_string_value(json_object_get(o, "merchant"));
        if (!m || strcmp(m, merchant_id) != 0 || json_is_true(json_object_get(o, "livemode")) != !!livemode) {
            json_decref(o);
            o = NULL;
            *err = CS_ENOENT;
        }
    }
    if (*err == CS_ENOENT) {
        *err = cs_fail(d, CS_ENOTFOUND, "id", "no such webhook endpoint: %s", id);
    } else if (*err) {
        cs_fail(d, *err, "", "the webhook endpoint could not be read");
    }
    return o;
}

static int append_event(struct store_txn *t, struct wh_cmd *c, const char *type, uint64_t expected, json_t *data)
{
    char evt[CS_ID_BYTES_MAX];
    if (id_new("evt", c->now_us, evt, sizeof evt) != 0)
        return CS_EINTERNAL;
    struct event_in ev = {.id = evt, .type = type, .aggregate_id = c->endpoint_id, .expected_version = expected,
                          .merchant_id = c->merchant_id, .livemode = c->livemode, .actor = c->actor,
                          .time_us = c->now_us, .data = data};
    int rc = store_event_append(t, &ev, NULL);
    if (rc == 0)
        c->base.events++;
    return rc;
}

static int reply_endpoint(struct store_txn *t, struct wh_cmd *c, int status, const char *secret)
{
    MDB_val v;
    int rc = store_webhook_endpoint_get(t, c->endpoint_id, &v);
    if (rc)
        return write_cmd_fail(&c->base, rc);
    return reply_json(&c->base, status, public_view(v.mv_data, v.mv_size, secret));
}

static int count_route(void *ctx, const char *id, int enabled, const char *f, size_t n)
{
    (*(unsigned *)ctx)++;
    return 0;
}

static int exec_webhook(struct store_txn *t, struct write_cmd *wc)
{
    struct wh_cmd *c = (struct wh_cmd *)wc;
    int rc;
    if (c->op == OP_CREATE) {
        unsigned n = 0;
        if ((rc = store_webhook_routes_each(t, c->merchant_id, c->livemode, NULL, count_route, &n)))
            return write_cmd_fail(wc, rc);
        if (n >= CS_WEBHOOK_ENDPOINTS_MAX) {
            cs_fail(&wc->diag, CS_ESTATE, "", "a merchant can have at most %u webhook endpoints per mode",
                    CS_WEBHOOK_ENDPOINTS_MAX);
            return write_cmd_fail(wc, CS_ESTATE);
        }
        json_t *data = json_pack("{s:O}", "endpoint", c->data);
        rc = append_event(t, c, "webhook_endpoint.created", STORE_VERSION_NEW, data);
        json_decref(data);
        if (rc)
            return write_cmd_fail(wc, rc);
        return reply_endpoint(t, c, 201, c->secret);
    }

    json_t *doc = own_endpoint(t, c->endpoint_id, c->merchant_id, c->livemode, &wc->diag, &rc);
    if (!doc)
        return write_cmd_fail(wc, rc);
    switch (c->op) {
    case OP_UPDATE: {
        const char *url = json_string_value(json_object_get(c->data, "url"));
        if (url) {
            struct webhook_url u;
            const char *why = NULL;
            int allow = !c->livemode && json_is_true(json_object_get(doc, "allow_private_network"));
            if (webhook_url_parse(url, &u, &why) == 0 && (why = webhook_host_refused(&u, allow))) {
                json_decref(doc);
                cs_fail(&wc->diag, CS_EPARAM, "url", "url points to a %s address: webhooks are only sent to "
                        "public addresses", why);
                return write_cmd_fail(wc, CS_EPARAM);
            }
        }
        json_t *data = json_pack("{s:O}", "changes", c->data);
        rc = append_event(t, c, "webhook_endpoint.updated", STORE_VERSION_ANY, data);
        json_decref(data);
        if (!rc && json_is_true(json_object_get(c->data, "enabled")))
            rc = store_webhook_health_put(t, c->endpoint_id, 0);   /* a fresh start */
        json_decref(doc);
        if (rc)
            return write_cmd_fail(wc, rc);
        return reply_endpoint(t, c, 200, NULL);
    }
    case OP_DELETE: {
        json_decref(doc);
        json_t *data = json_object();
        rc = append_event(t, c, "webhook_endpoint.deleted", STORE_VERSION_ANY, data);
        json_decref(data);
        if (rc)
            return write_cmd_fail(wc, rc);
        return reply_json(wc, 200, json_pack("{s:s,s:s,s:b}", "id", c->endpoint_id, "object",
                                             "webhook_endpoint", "deleted", 1));
    }
    case OP_ROTATE: {
        /* the previous secret keeps signing until expires_at (from the rotation
         * data built by the handler), so receivers can switch over */
        json_t *prev = json_object_get(c->data, "previous_secret");
        if (json_is_object(prev)) {
            json_t *old = json_object_get(doc, "secret");
            json_object_set(prev, "nonce", json_object_get(old, "nonce"));
            json_object_set(prev, "ciphertext", json_object_get(old, "ciphertext"));
        }
        json_decref(doc);
        rc = append_event(t, c, "webhook_endpoint.secret_rotated", STORE_VERSION_ANY, c->data);
        if (rc)
            return write_cmd_fail(wc, rc);
        return reply_endpoint(t, c, 200, c->secret);
    }
    case OP_REDELIVER: {
        int enabled = json_is_true(json_object_get(doc, "enabled"));
        json_decref(doc);
        if (!enabled) {
            cs_fail(&wc->diag, CS_ESTATE, "", "the endpoint is disabled: enable it first (PATCH enabled=true)");
            return write_cmd_fail(wc, CS_ESTATE);
        }
        for (unsigned i = 0; i < c->nseqs; i++) {
            struct webhook_outbox_row r = {.due_us = c->now_us, .seq = c->seqs[i], .first_us = c->now_us};
            snprintf(r.endpoint_id, sizeof r.endpoint_id, "%s", c->endpoint_id);
            webhook_msg_id(c->endpoint_id, c->seqs[i], r.msg_id);
            if ((rc = store_webhook_outbox_put(t, &r)))
                return write_cmd_fail(wc, rc);
        }
        if (c->nseqs)
            __atomic_store_n(&c->rc->app->webhooks->outbox_dirty, 1, __ATOMIC_RELEASE);
        json_t *out = json_pack("{s:s,s:s,s:i}", "object", "webhook_redelivery", "endpoint", c->endpoint_id,
                                "queued", (int)c->nseqs);
        if (out)
            json_object_set_new(out, "next_since_seq", c->next_since ? json_integer((json_int_t)c->next_since)
                                                                      : json_null());
        return reply_json(wc, 202, out);
    }
    default:
        json_decref(doc);
        return write_cmd_fail(wc, CS_EINTERNAL);
    }
}

static struct wh_cmd *cmd_new(struct req_ctx *rc, enum wh_op op)
{
    struct wh_cmd *c = calloc(1, sizeof *c);
    if (!c) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return NULL;
    }
    c->base.exec = exec_webhook;
    c->base.done = wh_cmd_done;
    c->rc = rc;
    c->op = op;
    snprintf(c->merchant_id, sizeof c->merchant_id, "%s", rc->merchant_id);
    c->livemode = rc->livemode;
    snprintf(c->actor, sizeof c->actor, "%s", rc->actor);
    c->now_us = clock_now_us();
    if (rc->nparams > 0)
        snprintf(c->endpoint_id, sizeof c->endpoint_id, "%s", rc->params[0]);
    return c;
}

static void submit(struct req_ctx *rc, struct wh_cmd *c)
{
    int err = writer_submit(rc->app->writer, &c->base);
    if (err) {
        wh_cmd_free(c);
        respond_fail(rc, err, "", err == CS_EBUSY ? "too many writes in flight; retry with backoff"
                                                  : "the server is shutting down");
    }
}

/* ---- validation ------------------------------------------------------------------- */

static int check_url(struct req_ctx *rc, const char *url, int allow_private)
{
    struct webhook_url u;
    const char *why = NULL;
    if (webhook_url_parse(url, &u, &why) != 0)
        return cs_fail(&rc->diag, CS_EPARAM, "url", "%s", why);
    if ((why = webhook_host_refused(&u, allow_private)))
        return cs_fail(&rc->diag, CS_EPARAM, "url",
                       "url points to a %s address: webhooks are only sent to public addresses%s", why,
                       rc->livemode || !strcmp(why, "metadata") ? ""
                       : " (test-mode endpoints may set allow_private_network)");
    return 0;
}

/* enabled_events: 1..CS_WEBHOOK_FILTERS_MAX known types or wildcards, no duplicates. */
static int check_events(struct req_ctx *rc, json_t *events)
{
    size_t n = json_array_size(events), i;
    if (n == 0 || n > CS_WEBHOOK_FILTERS_MAX)
        return cs_fail(&rc->diag, CS_EPARAM, "enabled_events", "enabled_events must list 1 to %u event types",
                       CS_WEBHOOK_FILTERS_MAX);
    json_t *e;
    json_array_foreach(events, i, e) {
        char p[48];
        snprintf(p, sizeof p, "enabled_events[%zu]", i);
        const char *s = json_string_value(e);
        if (!s || !webhook_filter_valid(s))
            return cs_fail(&rc->diag, CS_EPARAM, p, "%s is not a known event type (such as order.confirmed), "
                           "a wildcard such as order.*, or *", s ? s : "this entry");
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(events, j)), s) == 0)
                return cs_fail(&rc->diag, CS_EPARAM, p, "%s is listed twice", s);
    }
    return 0;
}

static int check_description(struct req_ctx *rc, json_t *body, const char **out)
{
    return jin_string(body, "", "description", 0, 0, CS_WEBHOOK_DESCRIPTION_BYTES_MAX, out, &rc->diag);
}

static int path_endpoint_id(struct req_ctx *rc)
{
    if (id_valid(rc->params[0], "we"))
        return 0;
    respond_fail(rc, CS_ENOTFOUND, "id", "no such webhook endpoint: %s", rc->params[0]);
    return -1;
}

/* ---- handlers ---------------------------------------------------------------------- */

void api_webhooks_create(struct req_ctx *rc)
{
    static const char *const keys[] = {"url", "enabled_events", "description", "enabled",
                                       "allow_private_network", NULL};
    json_t *body = NULL, *events;
    const char *url = NULL, *description = NULL;
    int enabled = 1, allow = 0, err = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "url", 1, 1, CS_WEBHOOK_URL_BYTES_MAX, &url, &rc->diag) ||
        !(events = jin_child(body, "", "enabled_events", JSON_ARRAY, 1, &err, &rc->diag)) ||
        check_description(rc, body, &description) ||
        jin_bool(body, "", "enabled", 0, &enabled, &rc->diag) ||
        jin_bool(body, "", "allow_private_network", 0, &allow, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (allow && rc->livemode) {
        json_decref(body);
        respond_fail(rc, CS_EPARAM, "allow_private_network",
                     "allow_private_network is for test mode only: live webhooks go to public addresses");
        return;
    }
    if (check_url(rc, url, allow) || check_events(rc, events)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    struct wh_cmd *c = cmd_new(rc, OP_CREATE);
    if (!c) {
        json_decref(body);
        return;
    }
    json_t *sealed = NULL;
    char created[40];
    clock_format_rfc3339(c->now_us, created, sizeof created);
    if (id_new("we", c->now_us, c->endpoint_id, sizeof c->endpoint_id) != 0 || webhook_secret_new(c->secret) != 0 ||
        webhook_secret_seal(rc->app->webhooks->master_key, c->endpoint_id, c->secret, &sealed) != 0) {
        json_decref(body);
        wh_cmd_free(c);
        respond_fail(rc, CS_EINTERNAL, "", "could not make the endpoint's secret");
        return;
    }
    c->data = json_pack("{s:s,s:s,s:b,s:s,s:s,s:o,s:O,s:b,s:n,s:b,s:s,s:s,s:o,s:n}", "id", c->endpoint_id,
                        "object", "webhook_endpoint", "livemode", rc->livemode, "merchant", rc->merchant_id,
                        "url", url, "description", description ? json_string(description) : json_null(),
                        "enabled_events", events, "enabled", enabled,
                        "disabled_reason", "allow_private_network", allow, "created", created, "updated",
                        created, "secret", sealed, "previous_secret");
    json_decref(body);
    if (!c->data) {
        wh_cmd_free(c);
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    submit(rc, c);
}

void api_webhooks_update(struct req_ctx *rc)
{
    static const char *const keys[] = {"url", "enabled_events", "description", "enabled", NULL};
    json_t *body = NULL, *events = NULL;
    const char *url = NULL, *description = NULL;
    int enabled = -1, err = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "url", 0, 1, CS_WEBHOOK_URL_BYTES_MAX, &url, &rc->diag) ||
        (!(events = jin_child(body, "", "enabled_events", JSON_ARRAY, 0, &err, &rc->diag)) && err) ||
        check_description(rc, body, &description) ||
        jin_bool(body, "", "enabled", 0, &enabled, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if ((url && check_url(rc, url, 1)) || (events && check_events(rc, events))) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (!url && !events && !description && enabled < 0 && !json_is_null(json_object_get(body, "description"))) {
        json_decref(body);
        respond_fail(rc, CS_EMISSING, "", "nothing to update: send url, enabled_events, description or enabled");
        return;
    }
    if (path_endpoint_id(rc)) {
        json_decref(body);
        return;
    }
    struct wh_cmd *c = cmd_new(rc, OP_UPDATE);
    if (!c) {
        json_decref(body);
        return;
    }
    c->data = json_object();
    if (url)
        json_object_set_new(c->data, "url", json_string(url));
    if (events)
        json_object_set(c->data, "enabled_events", events);
    if (description || json_is_null(json_object_get(body, "description")))
        json_object_set_new(c->data, "description", description ? json_string(description) : json_null());
    if (enabled >= 0)
        json_object_set_new(c->data, "enabled", json_boolean(enabled));
    json_decref(body);
    submit(rc, c);
}

void api_webhooks_delete(struct req_ctx *rc)
{
    if (rc->req->body_len) {
        json_t *body = NULL;
        static const char *const none[] = {NULL};
        if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", none, &rc->diag)) {
            json_decref(body);
            respond_error(rc);
            return;
        }
        json_decref(body);
    }
    if (path_endpoint_id(rc))
        return;
    struct wh_cmd *c = cmd_new(rc, OP_DELETE);
    if (c)
        submit(rc, c);
}

void api_webhooks_rotate(struct req_ctx *rc)
{
    static const char *const keys[] = {"expires_in_seconds", NULL};
    json_t *body = NULL;
    int64_t overlap = CS_WEBHOOK_OVERLAP_S_DEFAULT;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "expires_in_seconds", 0, 0, CS_WEBHOOK_OVERLAP_S_MAX, &overlap, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    if (path_endpoint_id(rc))
        return;
    struct wh_cmd *c = cmd_new(rc, OP_ROTATE);
    if (!c)
        return;
    json_t *sealed = NULL;
    if (webhook_secret_new(c->secret) != 0 ||
        webhook_secret_seal(rc->app->webhooks->master_key, c->endpoint_id, c->secret, &sealed) != 0) {
        wh_cmd_free(c);
        respond_fail(rc, CS_EINTERNAL, "", "could not make the new secret");
        return;
    }
    char expires[40];
    clock_format_rfc3339(c->now_us + overlap * 1000000, expires, sizeof expires);
    c->data = overlap > 0 ? json_pack("{s:o,s:{s:s}}", "secret", sealed, "previous_secret", "expires_at", expires)
                          : json_pack("{s:o,s:n}", "secret", sealed, "previous_secret");
    if (!c->data) {
        wh_cmd_free(c);
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    submit(rc, c);
}

/* ---- redeliver: the events are looked up here, the rows written by the writer ---- */

struct redeliver_scan {
    struct store_txn *t;
    const char *event_id;         /* one event, or */
    uint64_t since;               /* every event from this seq */
    json_t *filters;
    uint64_t *seqs;
    unsigned n;
    uint64_t next_since;
    uint64_t found_seq;
    int found_mismatch;
    int err;
};

static int filters_match(json_t *filters, const char *type)
{
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f)
        if (json_is_string(f) && webhook_filter_match(json_string_value(f), type))
            return 1;
    return 0;
}

static int redeliver_visit(void *ctx, uint64_t seq)
{
    struct redeliver_scan *s = ctx;
    struct event_view v;
    if ((s->err = store_event_get(s->t, seq, &v)))
        return 1;
    int stop = 0;
    if (s->event_id) {
        if (strcmp(v.id, s->event_id) == 0) {
            s->found_seq = seq;
            s->found_mismatch = !filters_match(s->filters, v.type);
            stop = 1;
        }
    } else if (filters_match(s->filters, v.type)) {
        if (s->n == CS_WEBHOOK_REDELIVER_MAX) {
            s->next_since = seq;
            stop = 1;
        } else {
            s->seqs[s->n++] = seq;
        }
    }
    event_view_clear(&v);
    return stop;
}

void api_webhooks_redeliver(struct req_ctx *rc)
{
    static const char *const keys[] = {"event_id", "since_seq", NULL};
    json_t *body = NULL;
    const char *event_id = NULL;
    int64_t since = -1;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "event_id", 0, 1, CS_ID_BYTES_MAX, &event_id, &rc->diag) ||
        jin_int(body, "", "since_seq", 0, 1, INT64_MAX, &since, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if ((event_id != NULL) == (since >= 0)) {
        json_decref(body);
        respond_fail(rc, CS_EMISSING, event_id ? "since_seq" : "event_id",
                     "send exactly one of event_id (one event) or since_seq (every event from that sequence)");
        return;
    }
    if (event_id && !id_valid(event_id, "evt")) {
        json_decref(body);
        respond_fail(rc, CS_EPARAM, "event_id", "event_id must be an event id such as evt_…");
        return;
    }
    if (path_endpoint_id(rc)) {
        json_decref(body);
        return;
    }
    struct wh_cmd *c = cmd_new(rc, OP_REDELIVER);
    struct store_txn t;
    int err;
    if (!c) {
        json_decref(body);
        return;
    }
    if ((err = store_read_begin(rc->app->store, &t))) {
        json_decref(body);
        wh_cmd_free(c);
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    json_t *doc = own_endpoint(&t, c->endpoint_id, rc->merchant_id, rc->livemode, &rc->diag, &err);
    struct redeliver_scan s = {.t = &t, .event_id = event_id, .since = since > 0 ? (uint64_t)since : 0,
                               .filters = json_object_get(doc, "enabled_events")};
    if (doc) {
        s.seqs = malloc(sizeof *s.seqs * (event_id ? 1 : CS_WEBHOOK_REDELIVER_MAX));
        if (!s.seqs)
            err = cs_fail(&rc->diag, CS_ENOMEM, "", "out of memory");
        else if (event_id) /* newest first: a redelivery is usually of something recent */
            err = store_merchant_events_each(&t, rc->merchant_id, rc->livemode, 0, 1, NULL, redeliver_visit, &s);
        else
            err = store_merchant_events_each(&t, rc->merchant_id, rc->livemode, s.since - 1, 0, NULL,
                                             redeliver_visit, &s);
        if (!err && s.err)
            err = s.err;
        if (err && err != CS_ENOMEM)
            cs_fail(&rc->diag, err, "", "the events could not be read");
    }
    store_abort(&t);
    json_decref(doc);
    if (!err && event_id && !s.found_seq)
        err = cs_fail(&rc->diag, CS_ENOTFOUND, "event_id", "no such event: %s", event_id);
    if (!err && event_id && s.found_mismatch)
        err = cs_fail(&rc->diag, CS_EPARAM, "event_id", "the endpoint does not subscribe to this event's type");
    if (err) {
        free(s.seqs);
        json_decref(body);
        wh_cmd_free(c);
        respond_error(rc);
        return;
    }
    if (event_id)
        s.seqs[s.n++] = s.found_seq;
    c->seqs = s.seqs;
    c->nseqs = s.n;
    c->next_since = s.next_since;
    json_decref(body);
    submit(rc, c);
}

/* ---- reads ---------------------------------------------------------------------------- */

void api_webhooks_get(struct req_ctx *rc)
{
    if (path_endpoint_id(rc))
        return;
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    json_t *doc = own_endpoint(&t, rc->params[0], rc->merchant_id, rc->livemode, &rc->diag, &err);
    store_abort(&t);
    if (!doc) {
        respond_error(rc);
        return;
    }
    json_object_del(doc, "secret");
    json_object_del(doc, "previous_secret");
    respond_json(rc, 200, doc);
}

struct list_ctx {
    struct store_txn *t;
    struct list_page page;
    int err;
};

static int list_visit(void *ctx, const char *id, int enabled, const char *f, size_t n)
{
    struct list_ctx *l = ctx;
    if (l->page.count == l->page.limit) {
        l->page.has_more = 1;
        return 1;
    }
    MDB_val v;
    if ((l->err = store_webhook_endpoint_get(l->t, id, &v)))
        return 1;
    json_t *o = public_view(v.mv_data, v.mv_size, NULL);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        l->err = CS_ENOMEM;
        return 1;
    }
    list_page_add(&l->page, s, strlen(s), id);
    free(s);
    return l->page.err != 0;
}

void api_webhooks_list(struct req_ctx *rc)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    unsigned limit;
    if (query_check_known(rc, params) || list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    const char *cursor = query_param(rc, "cursor");
    if (cursor && !id_valid(cursor, "we")) {
        respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    struct list_ctx l = {.t = &t};
    list_page_init(&l.page, limit);
    err = store_webhook_routes_each(&t, rc->merchant_id, rc->livemode, cursor, list_visit, &l);
    store_abort(&t);
    if (err || l.err) {
        list_page_free(&l.page);
        respond_fail(rc, err ? err : l.err, "", "the webhook endpoints could not be listed");
        return;
    }
    list_page_respond(&l.page, rc);
}

static int attempts_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct list_page *p = ctx;
    return list_page_add(p, doc->mv_data, doc->mv_size, id) || p->err;
}

void api_webhooks_deliveries(struct req_ctx *rc)
{
    static const char *const params[] = {"limit", "cursor", NULL};
    unsigned limit;
    if (query_check_known(rc, params) || list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    const char *cursor = query_param(rc, "cursor");
    if (cursor && !id_valid(cursor, "wha")) {
        respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    if (path_endpoint_id(rc))
        return;
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    json_t *doc = own_endpoint(&t, rc->params[0], rc->merchant_id, rc->livemode, &rc->diag, &err);
    if (!doc) {
        store_abort(&t);
        respond_error(rc);
        return;
    }
    json_decref(doc);
    struct list_page page;
    list_page_init(&page, limit);
    err = store_webhook_attempts_each(&t, rc->params[0], cursor, attempts_visit, &page);
    store_abort(&t);
    if (err) {
        list_page_free(&page);
        respond_fail(rc, err, "", "the delivery log could not be read");
        return;
    }
    list_page_respond(&page, rc);
}
