/* The HTTP side of Lua plugins (api_plugins.h): decisions first (the
 * handler runs in the plugin's sandbox on the loop thread and returns
 * commands), effects after (the commands run one by one through the writer
 * as the authenticated merchant; no Lua runs meanwhile). */
#define _GNU_SOURCE   /* memmem */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/api_refunds.h"
#include "core/api_plugins.h"
#include "core/plugin_effects.h"
#include "core/plugin_events.h"
#include "core/json_in.h"
#include "core/router.h"
#include "lua/plugin.h"

#define FIND_RESULTS_MAX 10

/* ---- caisse.orders.find ----------------------------------------------------- */

struct find_ctx {
    const char *reference;
    json_t *out;
    int escaped;            /* the reference has characters JSON escapes */
};

static int find_visit(void *ctx, const char *order_id, const MDB_val *doc)
{
    struct find_ctx *f = ctx;
    size_t rl = strlen(f->reference);
    /* cheap filter before parsing: a reference JSON stores unescaped must
     * appear in the document as is */
    if (!f->escaped && !memmem(doc->mv_data, doc->mv_size, f->reference, rl))
        return 0;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    const char *ref = json_string_value(json_object_get(o, "reference"));
    if (ref && strcmp(ref, f->reference) == 0)
        json_array_append(f->out, o);
    json_decref(o);
    return json_array_size(f->out) >= FIND_RESULTS_MAX;
}

/* The merchant's orders (one mode) with that reference, newest first. A scan
 * of the merchant's orders: fine for one slice; an index by reference is the
 * next step if plugins call it often on large merchants. */
static json_t *find_orders(void *ctx, const char *merchant_id, int livemode, const char *reference)
{
    struct app *app = ctx;
    struct find_ctx f = {reference, json_array(), 0};
    for (const char *c = reference; *c; c++)
        f.escaped |= *c == '"' || *c == '\\' || (unsigned char)*c < 0x20;
    struct store_txn t;
    if (!f.out || store_read_begin(app->store, &t) != 0) {
        json_decref(f.out);
        return NULL;
    }
    store_orders_each(&t, merchant_id, livemode, NULL, find_visit, &f);
    store_abort(&t);
    return f.out;
}

/* ---- caisse.kv: the committed side (the runtime adds what is pending) ----------------- */

static json_t *kv_get(void *ctx, const char *plugin, const char *merchant_id, int livemode, const char *key)
{
    struct app *app = ctx;
    struct store_txn t;
    if (store_read_begin(app->store, &t) != 0)
        return NULL;
    MDB_val v;
    json_t *out = NULL;
    if (store_plugin_kv_get(&t, plugin, merchant_id, livemode, key, &v) == 0)
        out = json_loadb(v.mv_data, v.mv_size, JSON_DECODE_ANY, NULL);
    store_abort(&t);
    return out;
}

struct kv_each_ctx {
    int (*fn)(void *fctx, const char *key);
    void *fctx;
};

static int kv_each_visit(void *ctx, const char *key, size_t klen, const MDB_val *value)
{
    (void)klen;
    (void)value;
    struct kv_each_ctx *e = ctx;
    return e->fn(e->fctx, key);
}

static void kv_each(void *ctx, const char *plugin, const char *merchant_id, int livemode,
                    int (*fn)(void *fctx, const char *key), void *fctx)
{
    struct app *app = ctx;
    struct store_txn t;
    if (store_read_begin(app->store, &t) != 0)
        return;
    struct kv_each_ctx e = {fn, fctx};
    store_plugin_kv_each(&t, plugin, merchant_id, livemode, kv_each_visit, &e);
    store_abort(&t);
}

int api_plugins_start(struct app *app, const char *dir, struct cs_diag *d)
{
    struct plugin_options po = {.dir = dir, .find = find_orders, .find_ctx = app, .kv_get = kv_get,
                                .kv_each = kv_each, .kv_ctx = app};
    if (plugins_new(&po, &app->plugins, d) != 0)
        return d->err;
    /* per-merchant policy overrides: asked first by every policy call */
    policy_engine_set_resolver(app->policy, plugins_policy_call, app->plugins);
    json_t *list = plugins_list_json(app->plugins);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *err = json_string_value(json_object_get(p, "error"));
        if (err)
            fprintf(stderr, "caisse: plugin %s: %s\n", json_string_value(json_object_get(p, "name")), err);
    }
    if (dir)
        fprintf(stderr, "caisse: %zu plugin(s) from %s\n", json_array_size(list), dir);
    json_decref(list);
    return 0;
}

void api_plugins_reload_log(struct app *app)
{
    if (!app->plugins)
        return;
    unsigned failed = plugins_reload(app->plugins);
    fprintf(stderr, "caisse: plugins reloaded (%u of %u failed)\n", failed, plugins_count(app->plugins));
    plugin_events_kick(app);
    json_t *list = plugins_list_json(app->plugins);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) {
        const char *err = json_string_value(json_object_get(p, "error"));
        if (err)
            fprintf(stderr, "caisse: plugin %s: %s\n", json_string_value(json_object_get(p, "name")), err);
    }
    json_decref(list);
}

/* ---- operator endpoints --------------------------------------------------------- */

void api_plugins_list(struct req_ctx *rc)
{
    json_t *list = plugins_list_json(rc->app->plugins);
    plugin_events_describe(rc->app, list);
    respond_json(rc, 200, json_pack("{s:s,s:o}", "object", "list", "data", list));
}

void api_admin_plugins_reload(struct req_ctx *rc)
{
    static const char *const keys[] = {NULL};
    json_t *body = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    unsigned failed = rc->app->plugins ? plugins_reload(rc->app->plugins) : 0;
    fprintf(stderr, "caisse: plugins reloaded by the operator (%u failed)\n", failed);
    plugin_events_kick(rc->app);     /* new subscriptions start now */
    json_t *list = plugins_list_json(rc->app->plugins);
    plugin_events_describe(rc->app, list);
    respond_json(rc, 200, json_pack("{s:b,s:i,s:o}", "reloaded", 1, "failed", (int)failed, "data", list));
}

/* ---- the request table ------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decoded [s, s+n) as a JSON string; NULL if malformed or not UTF-8. */
static json_t *decoded(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int l = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}

static json_t *query_object(const char *q)
{
    json_t *obj = json_object();
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        json_t *k = klen ? decoded(q, klen) : NULL;
        json_t *v = eq ? decoded(eq + 1, len - klen - 1) : json_string("");
        if (k && v && !json_object_get(obj, json_string_value(k)))
            json_object_set(obj, json_string_value(k), v);   /* the first of repeated keys */
        json_decref(k);
        json_decref(v);
        q = amp ? amp + 1 : NULL;
    }
    return obj;
}

static json_t *request_table(struct req_ctx *rc, const char *subpath)
{
    struct http_request *req = rc->req;
    json_t *headers = json_object();
    for (unsigned i = 0; i < req->nheaders; i++) {
        char name[128];
        size_t n = strlen(req->headers[i].name);
        if (n >= sizeof name)
            continue;
        for (size_t k = 0; k <= n; k++)
            name[k] = (char)tolower((unsigned char)req->headers[i].name[k]);
        if (strcmp(name, "authorization") == 0 || strcmp(name, "cookie") == 0)
            continue;   /* the merchant's key never reaches a plugin */
        json_t *v = json_string(req->headers[i].value);
        if (v && !json_object_get(headers, name))
            json_object_set_new(headers, name, v);
        else
            json_decref(v);
    }
    json_t *body = json_stringn(req->body ? req->body : "", req->body_len);
    json_t *parsed = req->body_len ? json_loadb(req->body, req->body_len, JSON_DECODE_ANY, NULL) : NULL;
    json_t *r = json_pack("{s:s,s:s,s:o,s:o,s:{s:s,s:b}}", "method", req->method, "path", subpath, "query",
                          query_object(req->query), "headers", headers, "merchant", "id", rc->merchant_id,
                          "livemode", rc->livemode);
    if (r && body)
        json_object_set(r, "body", body);
    if (r && parsed)
        json_object_set(r, "json", parsed);
    json_decref(body);
    json_decref(parsed);
    return r;
}

/* ---- running what a call decided ------------------------------------------------------ */

struct command_run {
    struct app *app;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char actor[64];
    json_t *commands;       /* borrowed from the owner, alive until finish */
    json_t *results;
    size_t next, n;
    int failed_status;      /* the first failed command's status, 0 if none */
    void (*finish)(void *ctx, json_t *results, int failed_status);
    void *ctx;
};

/* The field naming what a command acts on. */
static const char *target_field(json_t *cmd)
{
    return json_object_get(cmd, "payment") ? "payment" : "order";
}

static void record(struct command_run *run, int status, const char *body, size_t len)
{
    json_t *cmd = json_array_get(run->commands, run->next);
    const char *field = target_field(cmd);
    json_t *b = json_loadb(body, len, 0, NULL);
    json_array_append_new(run->results, json_pack("{s:O,s:O,s:i,s:o}", "op", json_object_get(cmd, "op"), field,
                                                  json_object_get(cmd, field), "status", status, "body",
                                                  b ? b : json_null()));
    if (status >= 300 && !run->failed_status)
        run->failed_status = status;
    run->next++;
}

static void run_next(struct command_run *run);

static void command_done(void *ctx, int status, const char *body, size_t len)
{
    struct command_run *run = ctx;
    record(run, status, body, len);
    run_next(run);
}

/* One command through the API's own path (same validation, same events). */
static int submit_one(struct command_run *run, json_t *cmd, struct cs_diag *d)
{
    const char *op = json_string_value(json_object_get(cmd, "op"));
    if (run->app->stopping)
        return cs_fail(d, CS_ESHUTDOWN, "", "the server is shutting down; retry on another instance or later");
    if (op && strcmp(op, "refund") == 0)
        return refunds_submit_command(run->app, run->merchant_id, run->livemode, run->actor,
                                      json_string_value(json_object_get(cmd, "payment")), json_object_get(cmd, "params"),
                                      command_done, run, d);
    return orders_submit_command(run->app, run->merchant_id, run->livemode, run->actor, op,
                                 json_string_value(json_object_get(cmd, "order")), json_object_get(cmd, "params"),
                                 command_done, run, d);
}

/* Runs the commands in order; the first that fails stops the run (the ones
 * after it are listed as skipped). */
static void run_next(struct command_run *run)
{
    while (run->next < run->n) {
        json_t *cmd = json_array_get(run->commands, run->next);
        if (run->failed_status) {
            const char *field = target_field(cmd);
            json_array_append_new(run->results, json_pack("{s:O,s:O,s:n,s:b}", "op", json_object_get(cmd, "op"),
                                                          field, json_object_get(cmd, field), "status",
                                                          "skipped", 1));
            run->next++;
            continue;
        }
        struct cs_diag d = {0};
        if (submit_one(run, cmd, &d) == 0)
            return;     /* command_done continues */
        char buf[1024];
        size_t n = cs_diag_render(&d, buf, sizeof buf);
        record(run, cs_err_status(d.err), buf, n);
    }
    run->finish(run->ctx, run->results, run->failed_status);
    json_decref(run->results);
    free(run);
}

int plugin_commands_run(struct app *app, const char *merchant_id, int livemode, const char *actor,
                        json_t *commands, void (*finish)(void *ctx, json_t *results, int failed_status),
                        void *ctx)
{
    struct command_run *run = calloc(1, sizeof *run);
    json_t *results = json_array();
    if (!run || !results) {
        free(run);
        json_decref(results);
        return CS_ENOMEM;
    }
    run->app = app;
    snprintf(run->merchant_id, sizeof run->merchant_id, "%s", merchant_id);
    run->livemode = livemode;
    snprintf(run->actor, sizeof run->actor, "%s", actor);
    run->commands = commands;
    run->results = results;
    run->n = json_array_size(commands);
    run->finish = finish;
    run->ctx = ctx;
    run_next(run);
    return 0;
}

/* ---- answering a request ---------------------------------------------------------------- */

struct plugin_request {
    struct req_ctx *rc;           /* not to be touched once answered */
    struct app *app;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char name[PLUGIN_NAME_BYTES_MAX + 1];
    json_t *resp;           /* the handler's validated response */
    json_t *kv_writes;      /* its caisse.kv writes, or NULL */
    json_t *results;        /* the commands' results, NULL if it returned none */
    int failed_status;
};

static void respond_plain(struct req_ctx *rc, int status, json_t *body)
{
    if (status == 204 || status == 304 || !body) {
        if (status == 204 || status == 304)
            http_respond(rc->req, status, NULL, NULL, "", 0);
        else
            respond_json_text(rc, status, "{}", 2);
        return;
    }
    if (json_is_string(body)) {
        http_respond(rc->req, status, "text/plain; charset=utf-8", NULL, json_string_value(body),
                     json_string_length(body));
        return;
    }
    respond_json(rc, status, json_incref(body));
}

static void request_free(struct plugin_request *pr)
{
    if (pr->kv_writes) {
        plugins_kv_settled(pr->app->plugins, pr->name, pr->merchant_id, pr->livemode, pr->kv_writes);
        json_decref(pr->kv_writes);
    }
    json_decref(pr->resp);
    json_decref(pr->results);
    free(pr);
}

/* The handler's answer, with the commands' results when it returned commands. */
static void request_answer(struct plugin_request *pr)
{
    json_t *body = json_object_get(pr->resp, "body");
    int status = (int)json_integer_value(json_object_get(pr->resp, "status"));
    if (!pr->results) {
        respond_plain(pr->rc, status, body);
        request_free(pr);
        return;
    }
    json_t *out;
    if (json_is_object(body))
        out = json_deep_copy(body);
    else {
        out = json_object();
        if (body)
            json_object_set(out, "body", body);
    }
    json_object_set(out, "results", pr->results);
    respond_json(pr->rc, pr->failed_status ? pr->failed_status : status, out);
    request_free(pr);
}

static void kv_committed(void *ctx, int err, const struct cs_diag *d)
{
    struct plugin_request *pr = ctx;
    if (err) {
        /* the commands (if any) are done; the plugin's own writes are not */
        fprintf(stderr, "caisse: plugin %s: its KV writes were not recorded: %s\n", pr->name, d->message);
        pr->rc->diag = *d;
        respond_error(pr->rc);
        request_free(pr);
        return;
    }
    request_answer(pr);
}

static void request_commit_kv(struct plugin_request *pr)
{
    if (!pr->kv_writes) {
        request_answer(pr);
        return;
    }
    struct cs_diag d = {0};
    if (plugin_effects_submit(pr->app, pr->name, pr->merchant_id, pr->livemode, pr->kv_writes, -1,
                              kv_committed, pr, &d) != 0)
        kv_committed(pr, d.err, &d);
}

static void request_commands_done(void *ctx, json_t *results, int failed_status)
{
    struct plugin_request *pr = ctx;
    pr->results = json_incref(results);
    pr->failed_status = failed_status;
    request_commit_kv(pr);
}

void api_plugins_dispatch(struct req_ctx *rc)
{
    const char *rest = rc->req->path + strlen(PLUGINS_MOUNT);
    const char *slash = strchr(rest, '/');
    size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (nlen == 0 || nlen > PLUGIN_NAME_BYTES_MAX || !rc->app->plugins) {
        respond_fail(rc, CS_EROUTE, "", "no route for %s %s", rc->req->method, rc->req->path);
        return;
    }
    char name[PLUGIN_NAME_BYTES_MAX + 1];
    memcpy(name, rest, nlen);
    name[nlen] = '\0';
    const char *subpath = slash ? slash : "/";
    json_t *request = request_table(rc, subpath);
    if (!request) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    json_t *resp = NULL, *writes = NULL;
    int err = plugins_handle(rc->app->plugins, name, rc->req->method, subpath, rc->merchant_id, rc->livemode,
                             request, &resp, &writes, &rc->diag);
    json_decref(request);
    if (err == CS_EMETHOD) {
        char hdr[160], buf[512];
        snprintf(hdr, sizeof hdr, "Allow: %s\r\n", rc->diag.param);
        rc->diag.param[0] = '\0';
        size_t n = cs_diag_render(&rc->diag, buf, sizeof buf);
        http_respond(rc->req, 405, "application/json", hdr, buf, n);
        return;
    }
    if (err) {
        if (err == CS_EPLUGINFAIL)
            fprintf(stderr, "caisse: %s %s: %s\n", rc->req->method, rc->req->path, rc->diag.message);
        respond_error(rc);
        return;
    }
    struct plugin_request *pr = calloc(1, sizeof *pr);
    if (!pr) {
        if (writes)
            plugins_kv_settled(rc->app->plugins, name, rc->merchant_id, rc->livemode, writes);
        json_decref(writes);
        json_decref(resp);
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    pr->rc = rc;
    pr->app = rc->app;
    snprintf(pr->merchant_id, sizeof pr->merchant_id, "%s", rc->merchant_id);
    pr->livemode = rc->livemode;
    snprintf(pr->name, sizeof pr->name, "%s", name);
    pr->resp = resp;
    pr->kv_writes = writes;
    json_t *cmds = json_object_get(resp, "commands");
    if (json_array_size(cmds) == 0) {
        request_commit_kv(pr);
        return;
    }
    if (plugin_commands_run(rc->app, rc->merchant_id, rc->livemode, rc->actor, cmds, request_commands_done, pr)) {
        request_free(pr);
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
    }
}
