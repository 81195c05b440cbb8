/* core/http_server.c: the server runs in-process on its own loop thread with
 * a small handler; the test thread talks raw TCP to it. */
#define _GNU_SOURCE   /* memmem, strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "core/http.h"
#include "core/metrics.h"
#include "tests/unit/tap.h"

#define HEADER_TIMEOUT_MS 300u
#define BODY_TIMEOUT_MS   300u
#define IDLE_TIMEOUT_MS   500u

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- the server thread -------------------------------------------------- */

static struct {
    uv_loop_t loop;
    uv_async_t wake;
    struct http_server *srv, *srv2;   /* srv2: freed while a request is pending */
    int port, port2;
    int free2_asked;
    volatile int later_fired;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    int shutdown_asked;
    volatile int done_called;
    uint64_t done_ns;           /* when the shutdown's done callback ran */
    uint64_t last_async_ns;     /* when the last async response was queued */
    unsigned conns_at_done;
} S = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* An answer that comes later from the loop, as a commit from the writer would. */
struct later {
    uv_timer_t timer;
    struct http_request *req;
};

static void later_closed(uv_handle_t *h) { free(h->data); }

static void later_fire(uv_timer_t *t)
{
    struct later *l = t->data;
    __atomic_store_n(&S.last_async_ns, now_ns(), __ATOMIC_SEQ_CST);
    http_respond(l->req, 200, "text/plain", "X-Async: yes\r\n", "async", 5);
    __atomic_add_fetch(&S.later_fired, 1, __ATOMIC_SEQ_CST);
    uv_close((uv_handle_t *)&l->timer, later_closed);
}

static void handler(struct http_request *r, void *ctx)
{
    (void)ctx;
    if (strcmp(r->path, "/echo") == 0) {
        r->route = "/echo";
        char *body = arena_sprintf(r->arena, "%s %s?%s|%s", r->method, r->path, r->query, r->body);
        http_respond(r, 200, "text/plain", NULL, body, strlen(body));
    } else if (strcmp(r->path, "/async") == 0) {
        r->route = "/async";
        struct later *l = malloc(sizeof *l);
        l->req = r;
        uv_timer_init(&S.loop, &l->timer);
        l->timer.data = l;
        unsigned ms = (unsigned)atoi(r->query[0] ? r->query + 3 : "50");   /* "ms=N" */
        uv_timer_start(&l->timer, later_fire, ms, 0);
    } else if (strcmp(r->path, "/hdr") == 0) {
        r->route = "/hdr";
        const char *v = http_header(r, "x-test");
        char *body = arena_sprintf(r->arena, "%u:%s", r->nheaders, v ? v : "(none)");
        http_respond(r, 200, "text/plain", NULL, body, strlen(body));
    } else if (strcmp(r->path, "/big") == 0) {
        r->route = "/big";
        size_t n = (size_t)atol(r->query + 2);   /* "n=N" */
        char *body = arena_alloc(r->arena, n);
        memset(body, 'x', n);
        http_respond(r, 200, "application/octet-stream", NULL, body, n);
    } else if (strcmp(r->path, "/metrics") == 0) {
        r->route = "/metrics";
        size_t len;
        char *text = metrics_render(&len);
        http_respond(r, 200, "text/plain; version=0.0.4", NULL, text, len);
        free(text);
    } else {
        http_respond(r, 404, "application/json", NULL, "{}", 2);
    }
}

static void on_done(void *ctx)
{
    (void)ctx;
    S.conns_at_done = http_server_connections(S.srv);
    S.done_ns = now_ns();
    S.done_called = 1;
    http_server_free(S.srv);
    S.srv = NULL;
    uv_close((uv_handle_t *)&S.wake, NULL);
}

static void on_wake(uv_async_t *a)
{
    (void)a;
    pthread_mutex_lock(&S.mu);
    int go = S.shutdown_asked, free2 = S.free2_asked;
    pthread_mutex_unlock(&S.mu);
    if (free2 && S.srv2) {
        http_server_free(S.srv2);   /* no shutdown: connections are cut */
        S.srv2 = NULL;
    }
    if (go && S.srv)
        http_server_shutdown(S.srv, on_done, NULL);
}

static void *server_main(void *arg)
{
    (void)arg;
    uv_loop_init(&S.loop);
    uv_async_init(&S.loop, &S.wake, on_wake);
    struct http_server_options o = {
        .host = "127.0.0.1", .port = 0, .handler = handler,
        .header_timeout_ms = HEADER_TIMEOUT_MS, .body_timeout_ms = BODY_TIMEOUT_MS,
        .idle_timeout_ms = IDLE_TIMEOUT_MS,
    };
    int rc = http_server_start(&S.loop, &o, &S.srv);
    if (rc == 0)
        rc = http_server_start(&S.loop, &o, &S.srv2);
    pthread_mutex_lock(&S.mu);
    S.port = rc == 0 ? http_server_port(S.srv) : -1;
    S.port2 = rc == 0 ? http_server_port(S.srv2) : -1;
    S.ready = 1;
    pthread_cond_signal(&S.cv);
    pthread_mutex_unlock(&S.mu);
    if (rc == 0)
        uv_run(&S.loop, UV_RUN_DEFAULT);
    int lc = uv_loop_close(&S.loop);
    return (void *)(intptr_t)lc;
}

/* ---- a raw client ---------------------------------------------------------- */

struct cli {
    int fd;
    char buf[1 << 22];
    size_t len;
};

struct resp {
    int status;
    char head[4096];
    char *body;          /* malloc'd, NUL-terminated */
    size_t body_len;
};

static struct cli *cli_new_port(int port)
{
    struct cli *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(c->fd);
        free(c);
        return NULL;
    }
    struct timeval tv = { 3, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return c;
}

static struct cli *cli_new(void) { return cli_new_port(S.port); }

static void cli_free(struct cli *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

static int cli_send(struct cli *c, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int cli_sends(struct cli *c, const char *s) { return cli_send(c, s, strlen(s)); }

/* Reads more; 0 on EOF, -1 on error or timeout. */
static ssize_t cli_fill(struct cli *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

/* Reads one response (Content-Length framed). Returns its status, or -1. */
static int cli_read(struct cli *c, struct resp *r)
{
    memset(r, 0, sizeof *r);
    char *end;
    for (;;) {
        end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end)
            break;
        if (cli_fill(c) <= 0)
            return -1;
    }
    size_t head_len = (size_t)(end - c->buf) + 4;
    size_t copy = head_len < sizeof r->head ? head_len : sizeof r->head - 1;
    memcpy(r->head, c->buf, copy);
    r->head[copy] = 0;
    r->status = atoi(r->head + 9);
    const char *cl = strcasestr(r->head, "\r\nContent-Length:");
    size_t blen = cl ? (size_t)atol(cl + 17) : 0;
    while (c->len < head_len + blen)
        if (cli_fill(c) <= 0)
            return -1;
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + head_len, blen);
    r->body[blen] = 0;
    r->body_len = blen;
    memmove(c->buf, c->buf + head_len + blen, c->len - head_len - blen);
    c->len -= head_len + blen;
    return r->status;
}

static void resp_free(struct resp *r) { free(r->body); r->body = NULL; }

/* 1 if the server closes the connection (EOF or reset) with nothing unread. */
static int cli_eof(struct cli *c)
{
    if (c->len)
        return 0;
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static int has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

static unsigned echo_200s;   /* GET /echo answered 200, for the metrics check */
static unsigned async_200s;  /* GET /async answered 200 before the metrics check */

/* ---- tests ------------------------------------------------------------------- */

static void test_keep_alive(void)
{
    struct cli *c = cli_new();
    struct resp r;
    cli_sends(c, "GET /echo?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "first GET");
    EQ_STR(r.body, "GET /echo?x=1|", "first body: method, path, query");
    OK(has(r.head, "\r\nConnection: keep-alive\r\n"), "keep-alive by default in HTTP/1.1");
    OK(has(r.head, "\r\nDate: ") && has(r.head, " GMT\r\n"), "a Date header");
    OK(has(r.head, "\r\nContent-Type: text/plain\r\n"), "Content-Type");
    resp_free(&r);
    cli_sends(c, "GET /echo?x=2 HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "second GET on the same socket");
    EQ_STR(r.body, "GET /echo?x=2|", "second body");
    resp_free(&r);
    echo_200s += 2;

    cli_sends(c, "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (cli_fill(c) <= 0)
            break;
    if (end)
        end[2] = 0;   /* the head as a string */
    OK(end && has(c->buf, "200 OK") && has(c->buf, "Content-Length: 12\r\n"), "HEAD: the GET's length");
    if (end) {
        size_t hl = (size_t)(end - c->buf) + 4;
        OK(c->len == hl, "HEAD: no body on the wire");
        c->len = 0;
    }
    cli_free(c);
}

static void test_pipelining(void)
{
    struct cli *c = cli_new();
    struct resp r;
    cli_sends(c, "GET /echo?n=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /async?ms=100 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo?n=3 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /big?n=3000000 HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo?n=5 HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "pipelined 1");
    EQ_STR(r.body, "GET /echo?n=1|", "pipelined 1 body");
    resp_free(&r);
    EQ_INT(cli_read(c, &r), 200, "pipelined 2 (async)");
    EQ_STR(r.body, "async", "pipelined 2 body: the async one keeps its place");
    async_200s++;
    OK(has(r.head, "\r\nX-Async: yes\r\n"), "extra headers are sent");
    resp_free(&r);
    EQ_INT(cli_read(c, &r), 200, "pipelined 3");
    EQ_STR(r.body, "GET /echo?n=3|", "pipelined 3 body");
    resp_free(&r);
    EQ_INT(cli_read(c, &r), 200, "pipelined 4 (3 MB, written in pieces)");
    EQ_INT(r.body_len, 3000000, "pipelined 4 length");
    resp_free(&r);
    EQ_INT(cli_read(c, &r), 200, "pipelined 5");
    EQ_STR(r.body, "GET /echo?n=5|", "pipelined 5 body");
    resp_free(&r);
    echo_200s += 3;

    /* Many small requests in one send: the leftover is parsed in place. */
    char many[64 * 40];
    size_t n = 0;
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "GET /echo?i=%d HTTP/1.1\r\n\r\n", i);
    cli_send(c, many, n);
    int in_order = 1;
    for (int i = 0; i < 60; i++) {
        char want[32];
        snprintf(want, sizeof want, "GET /echo?i=%d|", i);
        if (cli_read(c, &r) != 200 || strcmp(r.body, want) != 0)
            in_order = 0;
        resp_free(&r);
    }
    OK(in_order, "60 pipelined requests answered in order");
    echo_200s += 60;
    cli_free(c);
}

static void test_bodies(void)
{
    struct cli *c = cli_new();
    struct resp r;
    cli_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello=world");
    EQ_INT(cli_read(c, &r), 200, "POST with Content-Length");
    EQ_STR(r.body, "POST /echo?|hello=world", "the body reaches the handler");
    resp_free(&r);

    cli_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "POST chunked");
    EQ_STR(r.body, "POST /echo?|hello world", "the chunked body is joined");
    resp_free(&r);

    /* The head and the body cut across several reads. */
    cli_sends(c, "POST /ec");
    sleep_ms(20);
    cli_sends(c, "ho?q=1 HTTP/1.1\r\nHost: t\r\nContent-Len");
    sleep_ms(20);
    cli_sends(c, "gth: 6\r\n\r\nabc");
    sleep_ms(20);
    cli_sends(c, "def");
    EQ_INT(cli_read(c, &r), 200, "POST split across reads");
    EQ_STR(r.body, "POST /echo?q=1|abcdef", "split head and body are whole");
    resp_free(&r);

    cli_sends(c, "GET /hdr HTTP/1.1\r\nHost: t\r\nX-Te");
    sleep_ms(20);
    cli_sends(c, "st:   spaced val");
    sleep_ms(20);
    cli_sends(c, "ue  \r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "a header split across reads");
    EQ_STR(r.body, "2:spaced value", "header value joined and trimmed");
    resp_free(&r);

    cli_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (cli_fill(c) <= 0)
            break;
    OK(end && strncmp(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0, "100 Continue before the body");
    memmove(c->buf, c->buf + 25, c->len - 25);
    c->len -= 25;
    cli_sends(c, "xyz");
    EQ_INT(cli_read(c, &r), 200, "then the answer");
    EQ_STR(r.body, "POST /echo?|xyz", "body after 100 Continue");
    resp_free(&r);
    cli_free(c);
}

/* Sends `req`, expects status + error code, Connection: close, then EOF. */
static void expect_error(const char *what, const char *req, size_t req_len, int status, const char *code)
{
    struct cli *c = cli_new();
    struct resp r;
    cli_send(c, req, req_len);
    char msg[128];
    snprintf(msg, sizeof msg, "%s: status %d", what, status);
    EQ_INT(cli_read(c, &r), status, msg);
    char want[96];
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    OK(has(r.body, want) && has(r.body, "\"type\":\"invalid_request_error\"") && has(r.body, "\"message\":"),
       "%s: error body %s", what, r.body ? r.body : "(none)");
    OK(has(r.head, "\r\nConnection: close\r\n"), "%s: Connection: close", what);
    OK(has(r.head, "\r\nContent-Type: application/json\r\n"), "%s: JSON", what);
    OK(cli_eof(c), "%s: then the connection is closed", what);
    resp_free(&r);
    cli_free(c);
}

static void test_limits(void)
{
    size_t cap = 64 * 1024;
    char *req = malloc(cap);
    size_t n;

    n = (size_t)snprintf(req, cap, "GET /echo?");
    memset(req + n, 'a', 9000);
    n += 9000;
    n += (size_t)snprintf(req + n, cap - n, " HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_error("414", req, n, 414, "uri_too_long");

    n = (size_t)snprintf(req, cap, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(req + n, cap - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(req + n, cap - n, "\r\n");
    expect_error("431 count", req, n, 431, "headers_too_large");

    n = (size_t)snprintf(req, cap, "GET /echo HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'b', 17000);
    n += 17000;
    n += (size_t)snprintf(req + n, cap - n, "\r\n\r\n");
    expect_error("431 bytes", req, n, 431, "headers_too_large");

    /* Exactly 64 headers is fine. */
    n = (size_t)snprintf(req, cap, "GET /hdr HTTP/1.1\r\n");
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(req + n, cap - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(req + n, cap - n, "\r\n");
    struct cli *c = cli_new();
    struct resp r;
    cli_send(c, req, n);
    EQ_INT(cli_read(c, &r), 200, "64 headers are accepted");
    resp_free(&r);
    cli_free(c);

    const char *big = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n";
    expect_error("413 declared", big, strlen(big), 413, "body_too_large");

    /* A chunked body that grows past the limit, sent in full. */
    size_t chunk = 512 * 1024;
    char *cb = malloc(3 * (chunk + 32) + 128);
    n = (size_t)sprintf(cb, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += (size_t)sprintf(cb + n, "%zx\r\n", chunk);
        memset(cb + n, 'c', chunk);
        n += chunk;
        n += (size_t)sprintf(cb + n, "\r\n");
    }
    n += (size_t)sprintf(cb + n, "0\r\n\r\n");
    expect_error("413 chunked", cb, n, 413, "body_too_large");
    free(cb);

    const char *garbage = "GARBAGE\r\n\r\n";
    expect_error("400 garbage", garbage, strlen(garbage), 400, "parameter_invalid");
    const char *badver = "GET / HTTP/9.9\r\n\r\n";
    expect_error("400 version", badver, strlen(badver), 400, "parameter_invalid");
    free(req);
}

static void test_timeouts(void)
{
    const char *slow = "GET /echo HTTP/1.1\r\nHost: t\r\n";
    uint64_t t0 = now_ns();
    expect_error("408 head", slow, strlen(slow), 408, "request_timeout");
    uint64_t ms = (now_ns() - t0) / 1000000;
    OK(ms >= HEADER_TIMEOUT_MS - 20 && ms < HEADER_TIMEOUT_MS + 1000, "408 after the header timeout (%llu ms)",
       (unsigned long long)ms);

    const char *slowbody = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc";
    expect_error("408 body", slowbody, strlen(slowbody), 408, "request_timeout");

    struct cli *c = cli_new();
    struct resp r;
    cli_sends(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "a request before idling");
    resp_free(&r);
    echo_200s++;
    t0 = now_ns();
    OK(cli_eof(c), "idle keep-alive connection closed");
    ms = (now_ns() - t0) / 1000000;
    OK(ms >= IDLE_TIMEOUT_MS - 50 && ms < IDLE_TIMEOUT_MS + 1000, "closed after the idle timeout (%llu ms)",
       (unsigned long long)ms);
    cli_free(c);

    c = cli_new();
    t0 = now_ns();
    OK(cli_eof(c), "a connection that never sends is closed quietly");
    cli_free(c);
}

static void test_connection_close(void)
{
    struct cli *c = cli_new();
    struct resp r;
    /* The second request must not be answered. */
    cli_sends(c, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "Connection: close request answered");
    OK(has(r.head, "\r\nConnection: close\r\n"), "response says close");
    OK(cli_eof(c), "then the server closes");
    resp_free(&r);
    cli_free(c);
    echo_200s++;

    c = cli_new();
    cli_sends(c, "GET /echo HTTP/1.0\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "HTTP/1.0 request");
    OK(has(r.head, "\r\nConnection: close\r\n"), "HTTP/1.0 without keep-alive: close");
    OK(cli_eof(c), "HTTP/1.0: closed after the response");
    resp_free(&r);
    cli_free(c);
    echo_200s++;

    c = cli_new();
    cli_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "HTTP/1.0 keep-alive");
    OK(has(r.head, "\r\nConnection: keep-alive\r\n"), "HTTP/1.0 keep-alive honoured");
    resp_free(&r);
    cli_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "HTTP/1.0 second request");
    resp_free(&r);
    cli_free(c);
    echo_200s += 2;

    /* A client that half-closes after its request still gets the answer. */
    c = cli_new();
    cli_sends(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    EQ_INT(cli_read(c, &r), 200, "answer after the client's FIN");
    resp_free(&r);
    cli_free(c);
    echo_200s++;

    /* The same while the handler works (reading goes on until then). */
    c = cli_new();
    cli_sends(c, "GET /async?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    EQ_INT(cli_read(c, &r), 200, "async answer after the client's FIN");
    EQ_STR(r.body, "async", "async answer body");
    async_200s++;
    resp_free(&r);
    cli_free(c);

    /* A request sent while the one before is still with its handler waits
     * in the buffer and is answered after it. */
    c = cli_new();
    cli_sends(c, "GET /async?ms=50 HTTP/1.1\r\nHost: t\r\n\r\n");
    cli_sends(c, "GET /echo?n=after HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "async first");
    EQ_STR(r.body, "async", "async first body");
    async_200s++;
    resp_free(&r);
    EQ_INT(cli_read(c, &r), 200, "the request sent during the handler next");
    EQ_STR(r.body, "GET /echo?n=after|", "its body");
    resp_free(&r);
    cli_free(c);
    echo_200s++;
}

static void test_metrics_http(void)
{
    struct cli *c = cli_new();
    struct resp r;
    cli_sends(c, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "GET /metrics");
    char want[160];
    snprintf(want, sizeof want, "caisse_http_requests_total{method=\"GET\",route=\"/echo\",status=\"200\"} %u\n",
             echo_200s);
    OK(has(r.body, want), "metrics count GET /echo 200: %s", want);
    OK(has(r.body, "route=\"unmatched\",status=\"414\"} 1\n"), "the 414 is counted as unmatched");
    OK(has(r.body, "{method=\"GET\",route=\"unmatched\",status=\"408\"} 1\n") &&
       has(r.body, "{method=\"POST\",route=\"unmatched\",status=\"408\"} 1\n"), "both 408s are counted");
    OK(has(r.body, "{method=\"UNKNOWN\",route=\"unmatched\",status=\"400\"} 1\n"), "garbage is counted");
    snprintf(want, sizeof want, "caisse_http_request_duration_seconds_bucket{route=\"/async\",le=\"+Inf\"} %u\n",
             async_200s);
    OK(has(r.body, want), "latency histogram per route: %s", want);
    OK(has(r.body, "# TYPE caisse_http_request_duration_seconds histogram\n"), "TYPE line");
    resp_free(&r);
    cli_free(c);
}

/* A server freed under a pending request: the conn is cut at once, the late
 * answer is dropped and its arena freed (ASan watches). */
static void test_orphan(void)
{
    struct cli *c = cli_new_port(S.port2);
    struct resp r;
    cli_sends(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(c, &r), 200, "second server answers");
    resp_free(&r);
    echo_200s++;
    int fired = __atomic_load_n(&S.later_fired, __ATOMIC_SEQ_CST);
    cli_sends(c, "GET /async?ms=200 HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(50);
    pthread_mutex_lock(&S.mu);
    S.free2_asked = 1;
    pthread_mutex_unlock(&S.mu);
    uv_async_send(&S.wake);
    OK(cli_eof(c), "http_server_free cuts the connection");
    for (int i = 0; i < 100 && __atomic_load_n(&S.later_fired, __ATOMIC_SEQ_CST) == fired; i++)
        sleep_ms(10);
    OK(__atomic_load_n(&S.later_fired, __ATOMIC_SEQ_CST) == fired + 1, "the late answer to a cut connection is dropped");
    cli_free(c);
}

static void test_shutdown(void)
{
    struct cli *busy = cli_new(), *idle = cli_new();
    struct resp r;
    cli_sends(idle, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    EQ_INT(cli_read(idle, &r), 200, "an idle keep-alive connection");
    resp_free(&r);
    cli_sends(busy, "GET /async?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(100);

    pthread_mutex_lock(&S.mu);
    S.shutdown_asked = 1;
    pthread_mutex_unlock(&S.mu);
    uv_async_send(&S.wake);

    OK(cli_eof(idle), "shutdown closes idle connections");
    sleep_ms(20);
    struct cli *late = cli_new();
    OK(late == NULL, "no new connections after shutdown");
    cli_free(late);
    OK(!S.done_called, "done waits for the in-flight request");

    EQ_INT(cli_read(busy, &r), 200, "the in-flight request is answered");
    EQ_STR(r.body, "async", "with its body");
    OK(has(r.head, "\r\nConnection: close\r\n"), "and Connection: close");
    resp_free(&r);
    OK(cli_eof(busy), "then closed");
    for (int i = 0; i < 300 && !S.done_called; i++)
        sleep_ms(10);
    OK(S.done_called, "done is called");
    OK(S.done_ns >= __atomic_load_n(&S.last_async_ns, __ATOMIC_SEQ_CST), "done after the response");
    EQ_INT(S.conns_at_done, 0, "no connection left at done");
    cli_free(busy);
    cli_free(idle);
}

static void test_metrics_commit(void)
{
    metrics_observe_commit(3, 5, 2000000);   /* 2 ms */
    metrics_observe_commit(1, 1, 100000);    /* 0.1 ms */
    metrics_observe_commit_failure();
    size_t len;
    char *t = metrics_render(&len);
    OK(t && strlen(t) == len, "render length");
    OK(has(t, "# TYPE caisse_commits_total counter\ncaisse_commits_total 2\n"), "commits_total");
    OK(has(t, "caisse_commit_failures_total 1\n"), "commit_failures_total");
    OK(has(t, "caisse_commit_commands_total 4\n"), "commit_commands_total");
    OK(has(t, "caisse_events_total 6\n"), "events_total");
    OK(has(t, "caisse_events_per_commit_bucket{le=\"1\"} 1\n") &&
       has(t, "caisse_events_per_commit_bucket{le=\"4\"} 1\n") &&
       has(t, "caisse_events_per_commit_bucket{le=\"8\"} 2\n") &&
       has(t, "caisse_events_per_commit_bucket{le=\"+Inf\"} 2\n"), "events_per_commit buckets are cumulative");
    OK(has(t, "caisse_fsync_seconds_bucket{le=\"0.0005\"} 1\n") &&
       has(t, "caisse_fsync_seconds_bucket{le=\"0.0025\"} 2\n") &&
       has(t, "caisse_fsync_seconds_count 2\n"), "fsync histogram");
    metrics_observe_request("POST", "/v1/x\"y", 201, 1000);
    free(t);
    t = metrics_render(&len);
    OK(has(t, "route=\"/v1/x\\\"y\",status=\"201\"} 1\n"), "label values are escaped");
    /* Every line is a comment or "name{labels} value". */
    int valid = 1;
    for (char *line = t; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) { valid = 0; break; }
        if (line[0] != '#' && !memchr(line, ' ', (size_t)(nl - line)))
            valid = 0;
        line = nl + 1;
    }
    OK(valid, "every line is well formed");
    free(t);
}

int main(void)
{
    pthread_t th;
    pthread_create(&th, NULL, server_main, NULL);
    pthread_mutex_lock(&S.mu);
    while (!S.ready)
        pthread_cond_wait(&S.cv, &S.mu);
    pthread_mutex_unlock(&S.mu);
    OK(S.port > 0, "server listens on an ephemeral port (%d)", S.port);
    if (S.port > 0) {
        test_keep_alive();
        test_pipelining();
        test_bodies();
        test_limits();
        test_timeouts();
        test_connection_close();
        test_metrics_http();
        test_orphan();
        test_shutdown();
    }
    void *lc;
    pthread_join(th, &lc);
    EQ_INT((intptr_t)lc, 0, "the loop closes cleanly: every handle was closed");
    test_metrics_commit();
    return tap_done();
}
