/* The write command shared by every handler that changes state
 * (core/command.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/command.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/crypto.h"
#include "core/scheduler.h"
#include "core/arena.h"

void command_free(struct command *c)
{
    if (!c)
        return;
    if (c->free_extra)
        c->free_extra(c);
    json_decref(c->params);
    free(c->base.body);
    free(c);
}

/* Answers the client (or the callback) from the outcome: loop thread. */
static void command_done(struct write_cmd *wc)
{
    struct command *c = (struct command *)wc;
    if (c->cb_done) {
        if (wc->err) {
            char buf[1024];
            size_t n = cs_diag_render(&wc->diag, buf, sizeof buf);
            c->cb_done(c->cb_ctx, cs_err_status(wc->diag.err ? wc->diag.err : wc->err), buf, n);
        } else {
            c->cb_done(c->cb_ctx, wc->status, wc->body, wc->body_len);
        }
    } else if (wc->err) {
        c->rc->diag = wc->diag;
        respond_error(c->rc);
    } else {
        respond_json_text(c->rc, wc->status, wc->body, wc->body_len);
    }
    command_free(c);
}

/* What only exec needed is freed on the writer thread, which waits on fsync
 * with CPU to spare, rather than on the loop thread, which has none. */
static void command_release(struct write_cmd *wc)
{
    struct command *c = (struct command *)wc;
    json_decref(c->params);
    c->params = NULL;
}

static struct command *alloc_command(struct app *app, size_t size, write_exec_fn exec, const char *merchant_id,
                                     int livemode, const char *actor)
{
    if (size < sizeof(struct command))
        return NULL;
    struct command *c = calloc(1, size);
    if (!c)
        return NULL;
    c->base.exec = exec;
    c->base.release = command_release;
    c->base.done = command_done;
    snprintf(c->merchant_id, sizeof c->merchant_id, "%s", merchant_id);
    c->livemode = livemode;
    snprintf(c->actor, sizeof c->actor, "%s", actor);
    c->now_us = merchant_now_us(app, merchant_id, livemode);
    return c;
}

void *command_new(struct req_ctx *rc, size_t size, write_exec_fn exec)
{
    struct command *c = alloc_command(rc->app, size, exec, rc->merchant_id, rc->livemode, rc->actor);
    if (!c) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return NULL;
    }
    c->rc = rc;
    const char *key = http_header(rc->req, "idempotency-key");
    if (!key)
        return c;
    size_t n = strlen(key);
    if (n == 0 || n > CS_IDEMPOTENCY_KEY_BYTES_MAX || !jin_printable(key)) {
        respond_fail(rc, CS_EPARAM, "Idempotency-Key", "Idempotency-Key must be 1 to %u printable bytes",
                     CS_IDEMPOTENCY_KEY_BYTES_MAX);
        free(c);
        return NULL;
    }
    memcpy(c->idem_key, key, n + 1);
    /* the request's identity: method, path and body */
    size_t ml = strlen(rc->req->method), pl = strlen(rc->req->path);
    char *buf = arena_alloc(rc->req->arena, ml + pl + rc->req->body_len + 2);
    if (!buf) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        free(c);
        return NULL;
    }
    memcpy(buf, rc->req->method, ml);
    buf[ml] = ' ';
    memcpy(buf + ml + 1, rc->req->path, pl);
    buf[ml + 1 + pl] = '\n';
    if (rc->req->body_len)
        memcpy(buf + ml + pl + 2, rc->req->body, rc->req->body_len);
    crypto_sha256(buf, ml + pl + 2 + rc->req->body_len, c->request_sha256);
    return c;
}

void *command_new_cb(struct app *app, size_t size, write_exec_fn exec, const char *merchant_id, int livemode,
                     const char *actor, void (*done)(void *ctx, int status, const char *body, size_t len),
                     void *ctx)
{
    struct command *c = alloc_command(app, size, exec, merchant_id, livemode, actor);
    if (c) {
        c->cb_done = done;
        c->cb_ctx = ctx;
    }
    return c;
}

void command_submit(struct command *c)
{
    struct req_ctx *rc = c->rc;
    int err = writer_submit(rc->app->writer, &c->base);
    if (err) {
        command_free(c);
        respond_fail(rc, err, "", err == CS_EBUSY ? "too many writes in flight; retry with backoff"
                                                  : "the server is shutting down");
    }
}

void command_submit_new(struct command *c, const char *prefix)
{
    if (id_new(prefix, c->now_us, c->object_id, sizeof c->object_id) != 0) {
        struct req_ctx *rc = c->rc;
        command_free(c);
        respond_fail(rc, CS_EINTERNAL, "", "could not make an id");
        return;
    }
    command_submit(c);
}

int command_submit_cb(struct app *app, struct command *c, struct cs_diag *d)
{
    int err = writer_submit(app->writer, &c->base);
    if (err) {
        command_free(c);
        return cs_fail(d, err, "", err == CS_EBUSY ? "too many writes in flight; retry with backoff"
                                                   : "the server is shutting down");
    }
    return 0;
}

int command_idem_check(struct store_txn *t, struct command *c)
{
    if (!c->idem_key[0])
        return 0;
    struct idem_record rec;
    int rc = store_idem_get(t, c->merchant_id, c->livemode, c->idem_key, c->now_us,
                            (int64_t)CS_IDEMPOTENCY_TTL_S * 1000000, &rec);
    if (rc == CS_ENOENT)
        return 0;
    if (rc != 0) {
        write_cmd_fail(&c->base, rc);
        return 1;
    }
    if (!crypto_equal(rec.request_sha256, c->request_sha256, 32)) {
        cs_fail(&c->base.diag, CS_EIDEMPOTENCY, "Idempotency-Key",
                "this Idempotency-Key was used with another request; use a new key for a new request");
        write_cmd_fail(&c->base, CS_EIDEMPOTENCY);
        return 1;
    }
    write_cmd_reply(&c->base, rec.status, rec.body, rec.body_len);
    return 1;
}

void command_idem_store(struct store_txn *t, struct command *c)
{
    if (!c->idem_key[0] || c->base.err)
        return;
    struct idem_record rec = {.status = c->base.status, .created_us = c->now_us,
                              .body = c->base.body, .body_len = c->base.body_len};
    memcpy(rec.request_sha256, c->request_sha256, 32);
    store_idem_put(t, c->merchant_id, c->livemode, c->idem_key, &rec);
}

int command_append(struct store_txn *t, struct command *c, const char *aggregate_id, const char *type,
                   uint64_t expected_version, json_t *data)
{
    return command_append_text(t, c, aggregate_id, type, expected_version, data, NULL, 0);
}

int command_append_text(struct store_txn *t, struct command *c, const char *aggregate_id, const char *type,
                        uint64_t expected_version, json_t *data, const char *text, size_t text_len)
{
    char evt_id[CS_ID_BYTES_MAX];
    if (id_new("evt", c->now_us, evt_id, sizeof evt_id) != 0)
        return CS_EINTERNAL;
    struct event_in ev = {.id = evt_id, .type = type, .aggregate_id = aggregate_id,
                          .expected_version = expected_version, .merchant_id = c->merchant_id,
                          .livemode = c->livemode, .actor = c->actor, .time_us = c->now_us,
                          .data = data, .data_text = text, .data_text_len = text_len};
    int rc = store_event_append(t, &ev, NULL);
    if (rc == 0)
        c->base.events++;
    return rc;
}
