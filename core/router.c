#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "core/router.h"
#include "core/crypto.h"
#include "core/portal.h"
#include "core/api_plugins.h"

/* ---- responses ---------------------------------------------------------- */

void respond_json_text(struct req_ctx *rc, int status, const char *json, size_t len)
{
    http_respond(rc->req, status, "application/json", NULL, json, len);
}

void respond_json(struct req_ctx *rc, int status, json_t *v)
{
    char *s = v ? jout_dumps(v, NULL) : NULL;
    json_decref(v);
    if (!s) {
        respond_fail(rc, CS_ENOMEM, "", "could not render the response");
        return;
    }
    respond_json_text(rc, status, s, strlen(s));
    free(s);
}

void respond_error(struct req_ctx *rc)
{
    char buf[1024];
    size_t n = cs_diag_render(&rc->diag, buf, sizeof buf);
    http_respond(rc->req, cs_err_status(rc->diag.err), "application/json", NULL, buf, n);
}

void respond_fail(struct req_ctx *rc, int err, const char *param, const char *fmt, ...)
{
    rc->diag.err = err;
    snprintf(rc->diag.param, sizeof rc->diag.param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rc->diag.message, sizeof rc->diag.message, fmt, ap);
    va_end(ap);
    respond_error(rc);
}

/* ---- query strings ------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) into arena memory; '+' is a space. NULL if malformed. */
static char *url_decode(struct arena *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n)
                return NULL;
            h = hexval((unsigned char)s[i + 1]);
            l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return NULL;
            *o++ = (char)(h << 4 | l);
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = 0;
    return out;
}

const char *query_param(struct req_ctx *rc, const char *name)
{
    const char *q = rc->req->query;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        char *key = url_decode(rc->req->arena, q, klen);
        if (key && strcmp(key, name) == 0) {
            if (!eq)
                return "";
            return url_decode(rc->req->arena, eq + 1, len - klen - 1);
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

int query_check_known(struct req_ctx *rc, const char *const *allowed)
{
    for (const char *q = rc->req->query; q && *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (klen > 0) {
            char *key = url_decode(rc->req->arena, q, klen);
            if (!key)
                return cs_fail(&rc->diag, CS_EPARAM, "query", "the query string is not well encoded");
            int known = 0;
            for (const char *const *p = allowed; *p && !known; p++)
                known = strcmp(*p, key) == 0;
            if (!known)
                return cs_fail(&rc->diag, CS_EUNKNOWN, key, "unknown query parameter %s", key);
            if (eq && !url_decode(rc->req->arena, eq + 1, len - klen - 1))
                return cs_fail(&rc->diag, CS_EPARAM, key, "the value of %s is not well encoded", key);
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* ---- matching ----------------------------------------------------------- */

/* Matches path against pattern segment by segment; "{x}" takes one non-empty
 * segment. Captured segments are copied into the arena. */
static int route_match(const char *pattern, const char *path, struct req_ctx *rc)
{
    unsigned n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t len = se ? (size_t)(se - s) : strlen(s);
            if (len == 0 || n >= 2)
                return 0;
            rc->params[n++] = arena_strndup(rc->req->arena, s, len);
            p = pe + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p || *s)
        return 0;
    rc->nparams = n;
    return 1;
}

static void req_ctx_free(void *arg)
{
    struct req_ctx *rc = arg;
    json_decref(rc->merchant);
}

/* The last merchant document parsed on this thread and its text: a busy
 * merchant's requests come in a row, and parsing it was 2.5 % of a checkout.
 * Reused only while the stored text is byte for byte the same. */
static _Thread_local struct {
    char *text;
    size_t len;
    json_t *doc;
} merchant_cache;

json_t *req_merchant(struct req_ctx *rc)
{
    if (rc->merchant)
        return rc->merchant;
    struct store_txn t;
    if (store_read_begin(rc->app->store, &t) != 0)
        return NULL;
    MDB_val doc;
    if (store_merchant_get(&t, rc->merchant_id, &doc) == 0) {
        if (merchant_cache.doc && merchant_cache.len == doc.mv_size &&
            memcmp(merchant_cache.text, doc.mv_data, doc.mv_size) == 0) {
            rc->merchant = json_incref(merchant_cache.doc);
        } else if ((rc->merchant = json_loadb(doc.mv_data, doc.mv_size, 0, NULL))) {
            char *text = malloc(doc.mv_size ? doc.mv_size : 1);
            json_decref(merchant_cache.doc);
            free(merchant_cache.text);
            merchant_cache.doc = text ? json_incref(rc->merchant) : NULL;
            merchant_cache.text = text;
            merchant_cache.len = doc.mv_size;
            if (text)
                memcpy(text, doc.mv_data, doc.mv_size);
        }
    }
    store_abort(&t);
    return rc->merchant;
}

/* ---- authentication ----------------------------------------------------- */

static const char *bearer(struct http_request *req)
{
    const char *h = http_header(req, "authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static int authenticate_merchant(struct req_ctx *rc)
{
    const char *key = bearer(rc->req);
    if (!key)
        return cs_fail(&rc->diag, CS_EAUTH, "", "no API key: send Authorization: Bearer sk_test_… or sk_live_…");
    char hash[65];
    crypto_sha256_hex(key, strlen(key), hash);
    struct store_txn t;
    int rc_ = store_read_begin(rc->app->store, &t);
    if (rc_ != 0)
        return cs_fail(&rc->diag, rc_, "", "the store could not be read");
    rc_ = store_api_key_lookup(&t, hash, rc->merchant_id, &rc->livemode);
    store_abort(&t);
    if (rc_ == CS_ENOENT)
        return cs_fail(&rc->diag, CS_EAUTH, "", "the API key is not valid");
    if (rc_ != 0)
        return cs_fail(&rc->diag, rc_, "", "the API key could not be checked");
    snprintf(rc->actor, sizeof rc->actor, "api_key:%.12s", hash);
    return 0;
}

static int authenticate_operator(struct req_ctx *rc)
{
    const char *tok = bearer(rc->req);
    if (!rc->app->operator_token_sha256[0])
        return cs_fail(&rc->diag, CS_EFORBIDDEN, "", "the operator API is disabled: start the server with an operator token");
    if (!tok)
        return cs_fail(&rc->diag, CS_EAUTH, "", "no operator token");
    char hash[65];
    crypto_sha256_hex(tok, strlen(tok), hash);
    if (!crypto_equal(hash, rc->app->operator_token_sha256, 64))
        return cs_fail(&rc->diag, CS_EAUTH, "", "the operator token is not valid");
    snprintf(rc->actor, sizeof rc->actor, "operator");
    return 0;
}

static int media_type_ok(struct http_request *req)
{
    if (req->body_len == 0)
        return 1;
    const char *ct = http_header(req, "content-type");
    if (!ct)
        return 0;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* ---- dispatch ----------------------------------------------------------- */

void router_handle(struct http_request *req, void *ctx)
{
    struct app *app = ctx;
    struct req_ctx *rc = arena_alloc(req->arena, sizeof *rc);
    if (!rc) {
        http_respond(req, 500, "application/json", NULL, "{\"error\":{\"type\":\"api_error\",\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}", 79);
        return;
    }
    memset(rc, 0, sizeof *rc);
    rc->app = app;
    rc->req = req;
    arena_on_free(req->arena, req_ctx_free, rc);

    /* Plugin routes (docs/plugins.md): a merchant's Bearer key, then the plugin. */
    if (strncmp(req->path, PLUGINS_MOUNT, strlen(PLUGINS_MOUNT)) == 0) {
        req->route = "/plugins/{name}/...";
        if (authenticate_merchant(rc) != 0) {
            respond_error(rc);
            return;
        }
        api_plugins_dispatch(rc);
        return;
    }
    const struct route *match = NULL;
    char allow[128] = "";
    for (const struct route *r = routes; r->method; r++) {
        if (!route_match(r->pattern, req->path, rc))
            continue;
        if (strcmp(r->method, req->method) == 0) {
            match = r;
            break;
        }
        if (!strstr(allow, r->method)) {
            if (allow[0]) strncat(allow, ", ", sizeof allow - strlen(allow) - 1);
            strncat(allow, r->method, sizeof allow - strlen(allow) - 1);
        }
    }
    if (!match) {
        if (allow[0]) {
            /* the same path with another method: 405 with Allow */
            req->route = "method_not_allowed";
            char hdr[160];
            snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
            cs_fail(&rc->diag, CS_EMETHOD, "", "%s is not allowed here; allowed: %s", req->method, allow);
            char buf[512];
            size_t n = cs_diag_render(&rc->diag, buf, sizeof buf);
            http_respond(req, 405, "application/json", hdr, buf, n);
            return;
        }
        req->route = "unmatched";
        respond_fail(rc, CS_EROUTE, "", "no route for %s %s", req->method, req->path);
        return;
    }
    req->route = match->pattern;
    if (app->stopping && (match->flags & ROUTE_WRITE)) {
        respond_fail(rc, CS_ESHUTDOWN, "", "the server is shutting down; retry on another instance or later");
        return;
    }
    int err = 0;
    if (match->flags & ROUTE_MERCHANT)
        err = authenticate_merchant(rc);
    else if (match->flags & ROUTE_OPERATOR)
        err = authenticate_operator(rc);
    else if (match->flags & ROUTE_SHOPPER)
        err = portal_authenticate(rc, bearer(rc->req));
    if (err) {
        respond_error(rc);
        return;
    }
    if ((match->flags & ROUTE_JSON_BODY) && !media_type_ok(req)) {
        respond_fail(rc, CS_EMEDIATYPE, "", "send the body as Content-Type: application/json");
        return;
    }
    match->fn(rc);
}
