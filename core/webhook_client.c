/* The outbound HTTP/1.1 client (see core/webhook_client.h).
 *
 * A connection is a small state machine on one loop: resolve (uv_getaddrinfo)
 * -> check every address (SSRF) -> connect -> [TLS handshake] -> write the
 * request -> parse the response with llhttp -> done. A timer bounds it all.
 * The struct lives until every libuv object it embeds is finished: the lookup
 * request has called back, the socket and the timer are closed (`refs`). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <llhttp.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include "core/webhook_client.h"

#define WHC_TLS_IN_BYTES_MAX (64u * 1024)   /* undecrypted bytes buffered */

struct whc_tls {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

int whc_tls_new(struct whc_tls **out, const char *ca_file, struct cs_diag *d)
{
    *out = NULL;
    struct whc_tls *t = calloc(1, sizeof *t);
    if (!t)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    int rc;
    if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                    (const unsigned char *)"caisse-webhooks", 15))) {
        whc_tls_free(t);
        return cs_fail(d, CS_EINTERNAL, "", "cannot seed the TLS random generator");
    }
    if ((rc = mbedtls_x509_crt_parse_file(&t->ca, ca_file)) < 0) {
        char e[128];
        mbedtls_strerror(rc, e, sizeof e);
        whc_tls_free(t);
        return cs_fail(d, CS_EPARAM, "webhook-ca-file", "cannot load the CA bundle %s: %s", ca_file, e);
    }
    if ((rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT))) {
        whc_tls_free(t);
        return cs_fail(d, CS_EINTERNAL, "", "cannot configure TLS");
    }
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);   /* always */
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    *out = t;
    return 0;
}

void whc_tls_free(struct whc_tls *t)
{
    if (!t)
        return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    free(t);
}

/* ---- one connection ----------------------------------------------------------------- */

struct whc_conn {
    uv_loop_t *loop;
    struct whc_tls *tls;
    whc_done_fn done;
    void *ctx;
    int refs;                     /* libuv objects still to finish */
    int finished;                 /* done() has run */
    int tcp_open, timer_open, gai_pending, handshake_done, eof;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timer;
    struct webhook_url url;
    int allow_private;
    char *request;
    size_t request_len;
    llhttp_t parser;
    llhttp_settings_t settings;
    size_t head_bytes;
    int headers_done, message_done;
    uint64_t start_ms;
    struct whc_result res;
    /* TLS */
    int tls_on;
    mbedtls_ssl_context ssl;
    uint8_t *in;
    size_t in_len, in_cap;
};

struct whc_write {
    uv_write_t req;
    char data[];
};

static void conn_unref(struct whc_conn *c)
{
    if (--c->refs > 0)
        return;
    if (c->tls_on)
        mbedtls_ssl_free(&c->ssl);
    free(c->in);
    free(c->request);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

/* Reports the outcome once and starts closing everything. */
static void finish(struct whc_conn *c, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(struct whc_conn *c, const char *error, const char *fmt, ...)
{
    if (c->finished)
        return;
    c->finished = 1;
    c->res.error = error;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->res.detail, sizeof c->res.detail, fmt, ap);
        va_end(ap);
    }
    c->res.latency_ms = uv_now(c->loop) - c->start_ms;
    c->res.excerpt[c->res.excerpt_len] = 0;
    if (c->gai_pending)
        uv_cancel((uv_req_t *)&c->gai);   /* may fail if already running: its callback copes */
    if (c->timer_open) {
        c->timer_open = 0;
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    }
    if (c->tcp_open) {
        c->tcp_open = 0;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    }
    c->done(c->ctx, &c->res);
}

void whc_abort(struct whc_conn *c)
{
    finish(c, "aborted", "the server is stopping");
}

/* ---- response parsing ---------------------------------------------------------------- */

static int on_headers_complete(llhttp_t *p)
{
    struct whc_conn *c = p->data;
    c->headers_done = 1;
    c->res.status = p->status_code;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct whc_conn *c = p->data;
    size_t room = CS_WEBHOOK_EXCERPT_BYTES_MAX - c->res.excerpt_len;
    size_t n = len < room ? len : room;
    memcpy(c->res.excerpt + c->res.excerpt_len, at, n);
    c->res.excerpt_len += n;
    if (c->res.excerpt_len == CS_WEBHOOK_EXCERPT_BYTES_MAX) {
        c->message_done = 1;   /* we have what we keep: no need to read the rest */
        return HPE_PAUSED;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct whc_conn *c = p->data;
    c->message_done = 1;
    return HPE_PAUSED;
}

/* Feeds plaintext response bytes to the parser. */
static void feed(struct whc_conn *c, const char *data, size_t len)
{
    if (c->finished)
        return;
    if (!c->headers_done)
        c->head_bytes += len;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
    if (c->message_done || (e == HPE_PAUSED && c->headers_done)) {
        finish(c, NULL, NULL);
        return;
    }
    if (e != HPE_OK) {
        finish(c, "bad_response", "malformed HTTP response: %s", llhttp_get_error_reason(&c->parser));
        return;
    }
    if (!c->headers_done && c->head_bytes > CS_WEBHOOK_RESPONSE_HEAD_BYTES_MAX)
        finish(c, "bad_response", "the response head is larger than %u bytes", CS_WEBHOOK_RESPONSE_HEAD_BYTES_MAX);
}

static void on_eof(struct whc_conn *c)
{
    if (c->finished)
        return;
    llhttp_errno_t e = llhttp_finish(&c->parser);
    if (c->headers_done && (e == HPE_OK || e == HPE_PAUSED || c->message_done))
        finish(c, NULL, NULL);   /* a status arrived: the body is whatever came */
    else
        finish(c, "connection_closed", "the receiver closed the connection before answering");
}

/* ---- socket I/O ------------------------------------------------------------------------ */

static void on_written(uv_write_t *w, int status)
{
    struct whc_conn *c = w->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !c->finished)
        finish(c, "connection_closed", "writing the request failed: %s", uv_strerror(status));
    conn_unref(c);
}

static int raw_write(struct whc_conn *c, const void *data, size_t len)
{
    struct whc_write *w = malloc(sizeof *w + len);
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, data, len);
    w->req.data = c;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc) {
        free(w);
        return rc;
    }
    c->refs++;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static _Thread_local char slab[16384];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void tls_step(struct whc_conn *c);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct whc_conn *c = s->data;
    if (c->finished)
        return;
    if (n == UV_EOF) {
        c->eof = 1;
        if (c->tls_on)
            tls_step(c);
        else
            on_eof(c);
        return;
    }
    if (n < 0) {
        if (c->headers_done)
            finish(c, NULL, NULL);
        else
            finish(c, "connection_closed", "reading the response failed: %s", uv_strerror((int)n));
        return;
    }
    if (n == 0)
        return;
    if (!c->tls_on) {
        feed(c, buf->base, (size_t)n);
        return;
    }
    if (c->in_len + (size_t)n > WHC_TLS_IN_BYTES_MAX) {
        finish(c, "bad_response", "too much TLS data buffered");
        return;
    }
    if (c->in_len + (size_t)n > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 16384;
        while (cap < c->in_len + (size_t)n)
            cap *= 2;
        uint8_t *p = realloc(c->in, cap);
        if (!p) {
            finish(c, "bad_response", "out of memory");
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, buf->base, (size_t)n);
    c->in_len += (size_t)n;
    tls_step(c);
}

/* ---- TLS over the libuv socket ------------------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct whc_conn *c = ctx;
    if (c->finished || !c->tcp_open)
        return MBEDTLS_ERR_NET_SEND_FAILED;
    return raw_write(c, buf, len) == 0 ? (int)len : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct whc_conn *c = ctx;
    if (c->in_len == 0)
        return c->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
    return (int)n;
}

static void tls_fail(struct whc_conn *c, const char *what, int rc)
{
    char e[120];
    mbedtls_strerror(rc, e, sizeof e);
    uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
    if (flags && flags != (uint32_t)-1) {
        char v[160];
        mbedtls_x509_crt_verify_info(v, sizeof v, "", flags);
        v[strcspn(v, "\n")] = 0;
        finish(c, "tls_failed", "%s: certificate not trusted: %s", what, v);
        return;
    }
    finish(c, "tls_failed", "%s: %s", what, e);
}

static void tls_step(struct whc_conn *c)
{
    if (!c->handshake_done) {
        int rc = mbedtls_ssl_handshake(&c->ssl);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            if (c->eof)
                finish(c, "tls_failed", "the receiver closed the connection during the TLS handshake");
            return;
        }
        if (rc) {
            tls_fail(c, "TLS handshake failed", rc);
            return;
        }
        c->handshake_done = 1;
        size_t off = 0;
        while (off < c->request_len) {
            rc = mbedtls_ssl_write(&c->ssl, (const unsigned char *)c->request + off, c->request_len - off);
            if (rc <= 0) {
                tls_fail(c, "TLS write failed", rc);
                return;
            }
            off += (size_t)rc;
        }
    }
    for (;;) {
        unsigned char buf[4096];
        int rc = mbedtls_ssl_read(&c->ssl, buf, sizeof buf);
        if (rc > 0) {
            feed(c, (const char *)buf, (size_t)rc);
            if (c->finished)
                return;
            continue;
        }
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            if (c->eof)
                on_eof(c);
            return;
        }
        if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            on_eof(c);
            return;
        }
        if (c->headers_done)
            finish(c, NULL, NULL);
        else
            tls_fail(c, "TLS read failed", rc);
        return;
    }
}

/* ---- connect ----------------------------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status)
{
    struct whc_conn *c = req->data;
    conn_unref(c);   /* the connect request's reference */
    if (c->finished)
        return;
    if (status < 0) {
        finish(c, "connect_failed", "cannot connect to %s:%s: %s", c->url.host, c->url.port, uv_strerror(status));
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
        finish(c, "connect_failed", "cannot read: %s", uv_strerror(rc));
        return;
    }
    if (!c->url.tls) {
        if ((rc = raw_write(c, c->request, c->request_len)))
            finish(c, "connect_failed", "cannot write: %s", uv_strerror(rc));
        return;
    }
    if (!c->tls) {
        finish(c, "tls_failed", "no CA bundle is loaded: HTTPS is unavailable");
        return;
    }
    mbedtls_ssl_init(&c->ssl);
    c->tls_on = 1;
    if ((rc = mbedtls_ssl_setup(&c->ssl, &c->tls->conf)) ||
        (rc = mbedtls_ssl_set_hostname(&c->ssl, c->url.host))) {
        tls_fail(c, "TLS setup failed", rc);
        return;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    tls_step(c);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct whc_conn *c = req->data;
    c->gai_pending = 0;
    if (c->finished) {
        uv_freeaddrinfo(res);
        conn_unref(c);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        finish(c, "dns_failed", "cannot resolve %s: %s", c->url.host, uv_strerror(status));
        conn_unref(c);
        return;
    }
    /* Every address the name has must be acceptable: the check is on what we
     * would connect to, after resolution (a name re-pointed to a private
     * address is refused here, without any packet sent to it). */
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        const char *why = webhook_addr_refused(a->ai_addr, c->allow_private);
        if (why) {
            char ip[64] = "?";
            if (a->ai_family == AF_INET)
                uv_ip4_name((struct sockaddr_in *)a->ai_addr, ip, sizeof ip);
            else if (a->ai_family == AF_INET6)
                uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, ip, sizeof ip);
            uv_freeaddrinfo(res);
            finish(c, "address_refused", "%s resolves to %s, a %s address: not contacted", c->url.host, ip, why);
            conn_unref(c);
            return;
        }
    }
    int rc = uv_tcp_init(c->loop, &c->tcp);
    if (rc == 0) {
        c->tcp.data = c;
        c->tcp_open = 1;
        c->refs++;
        uv_tcp_nodelay(&c->tcp, 1);
        c->connect.data = c;
        rc = uv_tcp_connect(&c->connect, &c->tcp, res->ai_addr, on_connect);
        if (rc == 0)
            c->refs++;
    }
    uv_freeaddrinfo(res);
    if (rc)
        finish(c, "connect_failed", "cannot connect to %s: %s", c->url.host, uv_strerror(rc));
    conn_unref(c);   /* the lookup's reference */
}

static void on_timeout(uv_timer_t *t)
{
    struct whc_conn *c = t->data;
    finish(c, "timeout", "no complete answer within %u ms", (unsigned)(uv_now(c->loop) - c->start_ms));
}

int whc_send(uv_loop_t *loop, struct whc_tls *tls, const struct whc_request *req, whc_done_fn done,
             void *ctx, struct whc_conn **out)
{
    struct whc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return CS_ENOMEM;
    c->request = malloc(req->len);
    if (!c->request) {
        free(c);
        return CS_ENOMEM;
    }
    memcpy(c->request, req->bytes, req->len);
    c->request_len = req->len;
    c->loop = loop;
    c->tls = tls;
    c->done = done;
    c->ctx = ctx;
    c->url = *req->url;
    c->allow_private = req->allow_private;
    c->start_ms = uv_now(loop);
    llhttp_settings_init(&c->settings);
    c->settings.on_headers_complete = on_headers_complete;
    c->settings.on_body = on_body;
    c->settings.on_message_complete = on_message_complete;
    llhttp_init(&c->parser, HTTP_RESPONSE, &c->settings);
    c->parser.data = c;

    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->timer_open = 1;
    c->refs = 1;   /* the timer */
    uv_timer_start(&c->timer, on_timeout, req->timeout_ms ? req->timeout_ms : CS_WEBHOOK_TIMEOUT_MS, 0);

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    c->gai.data = c;
    int rc = uv_getaddrinfo(loop, &c->gai, on_resolved, c->url.host, c->url.port, &hints);
    if (rc) {
        /* report through the loop like every other outcome */
        c->finished = 1;
        c->timer_open = 0;
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        return CS_EINTERNAL;
    }
    c->gai_pending = 1;
    c->refs++;
    if (out)
        *out = c;
    return 0;
}
