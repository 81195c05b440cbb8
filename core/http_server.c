/* The HTTP/1.1 server on libuv + llhttp (core/http.h).
 *
 * Reading. Each connection has one input buffer. Bytes are parsed as they
 * arrive; llhttp hands us spans (target, header names and values) that may be
 * cut by the end of a read. A span is remembered as an offset into the buffer,
 * never as a pointer (the buffer may be compacted or grown), and the buffer is
 * only compacted from the start of the open span, so a span split across reads
 * is still contiguous when it completes. Then it is copied once, into the
 * request's arena. Body bytes go straight into the arena.
 *
 * One request at a time. on_message_complete pauses the parser; the handler
 * runs after llhttp_execute() returns, never inside a callback, so a handler
 * that answers at once does not re-enter the parser. Bytes of pipelined
 * requests stay in the buffer; if the handler answers later, the first read
 * that brings more (or the peer's FIN) stops reading until it does, which
 * bounds the buffer (CONN_INBUF_BYTES_MAX). Reading is not stopped up front:
 * a client that waits for its answer sends nothing meanwhile, and stopping
 * and restarting cost two epoll_ctl calls per request. Responses are queued
 * in request order on the one stream, so they leave in order.
 *
 * Lifetimes. The conn is freed when both its handles are closed and no request
 * waits for http_respond(): a handler may still answer a request whose peer is
 * gone (the response is dropped). A request's arena is freed when its response
 * has been written, or when the write is cancelled by the close.
 *
 * Timeouts. One timer per conn and one deadline; the deadline moves on every
 * phase change but the timer is only restarted when the deadline moves earlier
 * (a later deadline is noticed when the timer fires), so a busy keep-alive
 * connection costs no timer operations per request. */
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <llhttp.h>
#include "core/errors.h"
#include "core/http.h"
#include "core/limits.h"
#include "core/metrics.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define CONN_INBUF_BYTES_MIN  (16u * 1024)
#define CONN_INBUF_BYTES_MAX  (64u * 1024)
#define CONN_READ_ROOM_MIN    (4u * 1024)   /* compact or grow below this much free space */
#define CONN_LINGER_MS        2000u         /* reading (and dropping) after our FIN, see conn_finish */
#define LISTEN_BACKLOG        1024

/* After a compaction the buffer holds at most the open span (bounded by the
 * URL and header limits, which the callbacks check as pieces arrive) and must
 * still offer room for a read. */
_Static_assert(CS_HTTP_HEADER_BYTES_MAX + CS_HTTP_URL_BYTES_MAX + CONN_READ_ROOM_MIN <= CONN_INBUF_BYTES_MAX,
               "an open span and a read fit in the input buffer");
_Static_assert(CONN_INBUF_BYTES_MAX <= CS_HTTP_PIPELINE_BYTES_MAX, "buffered input is bounded");
_Static_assert(CS_HTTP_HEADERS_MAX <= sizeof(((struct http_request *)0)->headers) / sizeof(struct http_header),
               "headers fit the request");

enum conn_phase {
    PH_IDLE,      /* between requests (maybe still writing responses) */
    PH_HEAD,      /* first byte of a request seen, head not complete */
    PH_BODY,      /* head complete, body arriving */
    PH_HANDLER,   /* request complete, waiting for http_respond() */
    PH_LINGER,    /* our FIN sent; dropping input until the peer's FIN */
};

enum span_kind { SPAN_NONE, SPAN_URL, SPAN_FIELD, SPAN_VALUE };

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t grace;
    http_handler_fn handler;
    void *handler_ctx;
    unsigned header_timeout_ms, body_timeout_ms, idle_timeout_ms;
    int port;
    unsigned nconns;              /* conn structs alive, see conn_maybe_free */
    struct http_conn *conns;      /* all of them, for shutdown */
    unsigned handles_open;        /* listener and grace timer not yet closed */
    bool grace_inited, shutting_down, done_called, free_requested;
    void (*done)(void *ctx);
    void *done_ctx;
    time_t date_s;
    char date[64];                /* IMF-fixdate of date_s */
    size_t date_len;
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    struct http_server *srv;      /* NULL once the server is freed under an orphan request */
    struct http_conn *prev, *next;
    llhttp_t parser;

    char *in;                     /* input buffer */
    size_t in_cap, in_start, in_len;  /* [in_start, in_len): read, not yet parsed */
    enum span_kind span;          /* open span: [span_off, span_off + span_len) */
    size_t span_off, span_len;
    size_t head_bytes;            /* header names + values of this request */

    struct http_request *req;     /* being parsed, or waiting for http_respond() */
    char *body;                   /* in req->arena */
    size_t body_cap;
    bool chunked;

    enum conn_phase phase;
    uint64_t deadline_ms;         /* loop time; 0: none */
    uint64_t timer_due_ms;
    unsigned nwrites;             /* uv_write()s not yet called back */
    int err;                      /* CS_E* of the callback that stopped the parser */
    char err_msg[96];
    unsigned handles_open;        /* tcp + timer, until their close callbacks */
    bool timer_armed, reading, closing, close_after_write, peer_eof, in_dispatch, grow_next;
};

/* One queued response. Lives in the request's arena, or is malloc'd when the
 * arena has no room (then `heap` is set). */
struct http_write {
    uv_write_t req;
    struct http_conn *c;
    struct arena *arena;          /* freed when the write is done */
    bool heap;
};

static const llhttp_settings_t parser_settings;
static void conn_parse(struct http_conn *c);
static void conn_close(struct http_conn *c);
static void srv_check_done(struct http_server *s);
static void srv_maybe_free(struct http_server *s);

/* ---- small helpers ------------------------------------------------------- */

const char *http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default:  return "Unknown";
    }
}

const char *http_header(const struct http_request *r, const char *name)
{
    for (unsigned i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* The Date header value, formatted once per second. Written by hand because
 * strftime's %a/%b follow the locale and HTTP wants English. */
static const char *srv_date(struct http_server *s)
{
    static const char wday[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t now = time(NULL);
    if (now != s->date_s) {
        struct tm tm;
        gmtime_r(&now, &tm);
        int n = snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[tm.tm_wday % 7],
                 tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_len = n > 0 && (size_t)n < sizeof s->date ? (size_t)n : 0;
        s->date_s = now;
    }
    return s->date;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Bytes a response head needs beyond the content type and extra headers. */
#define HEAD_FIXED_BYTES 256u

/* Writes the status line and headers; returns the end. */
static char *build_head(char *p, struct http_server *s, int status, const char *ctype, size_t ctype_len,
                        const char *extra, size_t extra_len, size_t body_len, bool keep)
{
    p = PUT_LIT(p, "HTTP/1.1 ");
    if (status < 100 || status > 999)
        status = 500;
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    const char *reason = http_status_text(status);
    p = put(p, reason, strlen(reason));
    p = PUT_LIT(p, "\r\nDate: ");
    const char *date = srv_date(s);
    p = put(p, date, s->date_len);
    if (ctype) {
        p = PUT_LIT(p, "\r\nContent-Type: ");
        p = put(p, ctype, ctype_len);
    }
    p = PUT_LIT(p, "\r\nContent-Length: ");
    p = put_u64(p, body_len);
    p = keep ? PUT_LIT(p, "\r\nConnection: keep-alive\r\n") : PUT_LIT(p, "\r\nConnection: close\r\n");
    if (extra_len)
        p = put(p, extra, extra_len);
    return PUT_LIT(p, "\r\n");
}

/* ---- timers ---------------------------------------------------------------- */

static void on_conn_timer(uv_timer_t *t);

/* Sets the one deadline of the connection, `ms` from now (0: none). */
static void conn_deadline(struct http_conn *c, unsigned ms)
{
    if (ms == 0) {
        c->deadline_ms = 0;
        return;
    }
    c->deadline_ms = uv_now(c->tcp.loop) + ms;
    if (!c->timer_armed || c->deadline_ms < c->timer_due_ms) {
        uv_timer_start(&c->timer, on_conn_timer, ms, 0);
        c->timer_armed = true;
        c->timer_due_ms = c->deadline_ms;
    }
}

/* ---- writing ---------------------------------------------------------------- */

static void conn_finish(struct http_conn *c);

static void write_done(struct http_conn *c, struct http_write *w, int status)
{
    struct arena *a = w->arena;
    if (w->heap)
        free(w);
    arena_free(a);   /* frees w too when it lives in the arena */
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after_write && c->nwrites == 0 && c->phase != PH_HANDLER)
        conn_finish(c);
}

static void on_write(uv_write_t *req, int status)
{
    struct http_write *w = container_of(req, struct http_write, req);
    struct http_conn *c = w->c;
    c->nwrites--;
    write_done(c, w, status);
}

/* Queues buf[0..len) (which lives in w's arena or in w). Most responses fit
 * the socket buffer: uv_try_write sends them now and the arena is recycled at
 * once; the rest goes through uv_write, which keeps the order after earlier
 * queued writes (uv_try_write refuses while the queue is not empty). */
static void conn_write(struct http_conn *c, struct http_write *w, char *buf, size_t len)
{
    w->c = c;
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n >= 0 && (size_t)n == len) {
        write_done(c, w, 0);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        write_done(c, w, n);
        return;
    }
    if (n > 0) {
        b.base += n;
        b.len -= (size_t)n;
    }
    c->nwrites++;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {   /* the callback will never be called */
        c->nwrites--;
        write_done(c, w, rc);
    }
}

/* A write record plus `len` bytes, from the arena if it has room. */
static struct http_write *write_alloc(struct arena *a, size_t len, char **buf)
{
    size_t need = sizeof(struct http_write) + len;
    struct http_write *w = a ? arena_alloc(a, need) : NULL;
    bool heap = false;
    if (!w) {
        w = malloc(need);
        if (!w)
            return NULL;
        heap = true;
    }
    w->arena = a;
    w->heap = heap;
    *buf = (char *)(w + 1);
    return w;
}

/* ---- closing -------------------------------------------------------------- */

static void conn_read_start(struct http_conn *c);
static void conn_read_stop(struct http_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Returns true if c was freed. */
static bool conn_maybe_free(struct http_conn *c)
{
    if (c->handles_open || c->req)
        return false;
    struct http_server *s = c->srv;
    if (s) {
        if (c->prev)
            c->prev->next = c->next;
        else
            s->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        s->nconns--;
    }
    free(c->in);
    free(c);
    /* Either may free s (done may call http_server_free): s is not used after. */
    if (s && s->free_requested)
        srv_maybe_free(s);
    else if (s)
        srv_check_done(s);
    return true;
}

static void on_conn_handle_close(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    struct http_server *s = c->srv;
    c->handles_open--;
    /* A conn kept for a pending request no longer holds the server back. */
    if (!conn_maybe_free(c) && c->handles_open == 0 && s && s->free_requested)
        srv_maybe_free(s);
}

/* Closes at once; pending writes are called back with UV_ECANCELED (freeing
 * their arenas) before the close callbacks. A request that is still being
 * parsed goes now; one waiting for its handler stays until http_respond(). */
static void conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    if (c->req && c->phase != PH_HANDLER) {
        arena_free(c->req->arena);
        c->req = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_close);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_close);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = container_of(req, struct http_conn, shutdown_req);
    if (c->closing)
        return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    /* Closing a socket with unread input makes the kernel send RST, and the
     * peer may then lose our last response (say a 413 sent before its body).
     * So: FIN first, then read and drop until its FIN or a short timeout. */
    c->phase = PH_LINGER;
    c->in_start = c->in_len = 0;
    c->span = SPAN_NONE;
    conn_deadline(c, CONN_LINGER_MS);
    conn_read_start(c);
}

/* No more requests on this connection and every response is written. */
static void conn_finish(struct http_conn *c)
{
    if (c->closing || c->phase == PH_LINGER)
        return;
    conn_read_stop(c);
    if (c->peer_eof || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
    else
        c->phase = PH_LINGER;   /* until on_shutdown; nothing else may start */
}

/* ---- error responses made by the server itself ----------------------------- */

static const char *conn_method(const struct http_conn *c)
{
    return c->req && c->req->method ? c->req->method : "UNKNOWN";
}

/* Answers err (414, 431, 413, 408, 400...) and closes after the write. */
static void conn_fail(struct http_conn *c, int err, const char *msg)
{
    struct http_server *s = c->srv;
    struct http_request *r = c->req;
    struct arena *a = r ? r->arena : arena_new();
    uint64_t start_ns = r ? r->start_ns : uv_hrtime();
    const char *method = conn_method(c);

    c->req = NULL;
    c->phase = PH_IDLE;
    c->close_after_write = true;
    c->span = SPAN_NONE;
    conn_read_stop(c);
    conn_deadline(c, s->idle_timeout_ms);   /* a peer that does not read us */

    struct cs_diag d = { .err = err };
    snprintf(d.message, sizeof d.message, "%s", msg && msg[0] ? msg : cs_err_code(err));
    char body[512];
    size_t body_len = cs_diag_render(&d, body, sizeof body);
    int status = cs_err_status(err);
    metrics_observe_request(method, "unmatched", status, uv_hrtime() - start_ns);

    static const char ctype[] = "application/json";
    char *buf;
    struct http_write *w = write_alloc(a, HEAD_FIXED_BYTES + sizeof ctype + body_len, &buf);
    if (!w) {
        arena_free(a);
        conn_close(c);
        return;
    }
    char *p = build_head(buf, s, status, ctype, sizeof ctype - 1, NULL, 0, body_len, false);
    p = put(p, body, body_len);
    conn_write(c, w, buf, (size_t)(p - buf));
}

/* ---- reading and parsing -------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;   /* the buffer's own policy decides */
    struct http_conn *c = h->data;
    if (c->phase == PH_LINGER)
        c->in_start = c->in_len = 0;   /* input is dropped */
    size_t keep = c->in_start;
    if (c->span != SPAN_NONE && c->span_off < keep)
        keep = c->span_off;
    if (keep == c->in_len) {
        /* Everything parsed and no open span: start over, no copy. */
        c->in_start = c->in_len = 0;
        c->span_off = 0;
        keep = 0;
    }
    if (c->in_cap - c->in_len < CONN_READ_ROOM_MIN || c->grow_next) {
        if (keep > 0) {
            memmove(c->in, c->in + keep, c->in_len - keep);
            c->in_len -= keep;
            c->in_start -= keep;
            if (c->span != SPAN_NONE)
                c->span_off -= keep;
        }
        if ((c->in_cap - c->in_len < CONN_READ_ROOM_MIN || c->grow_next) && c->in_cap < CONN_INBUF_BYTES_MAX) {
            size_t cap = c->in_cap ? c->in_cap * 2 : CONN_INBUF_BYTES_MIN;
            if (cap > CONN_INBUF_BYTES_MAX)
                cap = CONN_INBUF_BYTES_MAX;
            char *in = realloc(c->in, cap);
            if (in) {
                c->in = in;
                c->in_cap = cap;
            }
        }
        c->grow_next = false;
    }
    /* A zero-length buffer makes libuv report UV_ENOBUFS: we then close. */
    buf->base = c->in ? c->in + c->in_len : NULL;
    buf->len = c->in ? c->in_cap - c->in_len : 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = stream->data;
    if (nread == 0 || c->closing)
        return;
    if (c->phase == PH_HANDLER && (nread > 0 || nread == UV_EOF || nread == UV_ENOBUFS)) {
        /* A handler is still working: keep what came, then wait for its
         * answer (http_respond parses on). A FIN is read again then. */
        if (nread > 0)
            c->in_len += (size_t)nread;
        conn_read_stop(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF || c->phase != PH_IDLE) {
            /* An error, the end of lingering, or a request cut short. */
            conn_close(c);
            return;
        }
        /* The peer half-closed between requests: finish writing what we owe. */
        c->peer_eof = true;
        c->close_after_write = true;
        conn_read_stop(c);
        if (c->nwrites == 0)
            conn_close(c);
        return;
    }
    if (c->phase == PH_LINGER)
        return;
    if ((size_t)nread == buf->len)
        c->grow_next = true;   /* the buffer was the limit: offer more next time */
    c->in_len += (size_t)nread;
    conn_parse(c);
}

static void conn_read_start(struct http_conn *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void conn_dispatch(struct http_conn *c)
{
    struct http_server *s = c->srv;
    c->in_dispatch = true;
    if (s->handler)
        s->handler(c->req, s->handler_ctx);
    else
        http_respond(c->req, 404, NULL, NULL, NULL, 0);
    c->in_dispatch = false;
}

/* Parses what is buffered, dispatching each complete request, until the input
 * is used up or a handler has not answered yet. */
static void conn_parse(struct http_conn *c)
{
    while (!c->closing && !c->close_after_write && c->phase != PH_HANDLER && c->in_start < c->in_len) {
        llhttp_errno_t e = llhttp_execute(&c->parser, c->in + c->in_start, c->in_len - c->in_start);
        if (e == HPE_OK) {
            c->in_start = c->in_len;
            break;
        }
        if (e == HPE_PAUSED) {
            c->in_start = (size_t)(llhttp_get_error_pos(&c->parser) - c->in);
            llhttp_resume(&c->parser);
            conn_dispatch(c);
            continue;
        }
        if (c->err) {
            conn_fail(c, c->err, c->err_msg);
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "malformed HTTP request: %s", llhttp_get_error_reason(&c->parser));
            conn_fail(c, CS_EPARAM, msg);
        }
        return;
    }
    if (c->closing)
        return;
    if (c->close_after_write) {
        conn_read_stop(c);   /* what follows a last request is never parsed */
        return;
    }
    if (c->phase != PH_HANDLER)   /* else reading goes on; see on_read */
        conn_read_start(c);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    c->timer_armed = false;
    if (c->closing || c->deadline_ms == 0)
        return;
    uint64_t now = uv_now(t->loop);
    if (now < c->deadline_ms) {
        uv_timer_start(&c->timer, on_conn_timer, c->deadline_ms - now, 0);
        c->timer_armed = true;
        c->timer_due_ms = c->deadline_ms;
        return;
    }
    c->deadline_ms = 0;
    char msg[96];
    switch (c->phase) {
    case PH_HEAD:
        snprintf(msg, sizeof msg, "request head not received within %u ms", c->srv->header_timeout_ms);
        conn_fail(c, CS_ETIMEOUT, msg);
        break;
    case PH_BODY:
        snprintf(msg, sizeof msg, "request body not received within %u ms", c->srv->body_timeout_ms);
        conn_fail(c, CS_ETIMEOUT, msg);
        break;
    case PH_HANDLER:
        break;
    case PH_IDLE:     /* keep-alive idle, or a peer that does not read: quietly */
    case PH_LINGER:
        conn_close(c);
        break;
    }
}

/* ---- llhttp callbacks ------------------------------------------------------ */

/* Stops the parser with err; conn_parse answers it. */
static int cb_fail(struct http_conn *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cb_fail(struct http_conn *c, int err, const char *fmt, ...)
{
    va_list ap;
    c->err = err;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
    return HPE_USER;
}

static void span_add(struct http_conn *c, enum span_kind k, const char *at, size_t len)
{
    size_t off = (size_t)(at - c->in);
    if (c->span == k && c->span_off + c->span_len == off) {
        c->span_len += len;
    } else {
        c->span = k;
        c->span_off = off;
        c->span_len = len;
    }
}

/* Copies the open span of kind k into the arena ("" if none) and closes it. */
static char *span_take(struct http_conn *c, enum span_kind k, bool trim)
{
    const char *p = "";
    size_t n = 0;
    if (c->span == k) {
        p = c->in + c->span_off;
        n = c->span_len;
        c->span = SPAN_NONE;
    }
    if (trim) {
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
    }
    char *s = arena_alloc(c->req->arena, n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static int on_message_begin(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct arena *a = arena_new();
    struct http_request *r = a ? arena_alloc(a, sizeof *r) : NULL;
    if (!r) {
        arena_free(a);
        return cb_fail(c, CS_ENOMEM, "out of memory");
    }
    /* Not a memset: the headers array is filled as headers arrive. */
    r->conn = c;
    r->arena = a;
    r->method = NULL;
    r->target = r->path = r->query = "";
    r->nheaders = 0;
    r->body = "";
    r->body_len = 0;
    r->keep_alive = 1;
    r->start_ns = uv_hrtime();
    r->route = NULL;
    r->user = NULL;
    c->req = r;
    c->phase = PH_HEAD;
    c->head_bytes = 0;
    c->span = SPAN_NONE;
    c->body = NULL;
    c->body_cap = 0;
    c->chunked = false;
    c->err = 0;
    conn_deadline(c, c->srv->header_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (!c->req->method)   /* known by now; lets a 414 be counted by method */
        c->req->method = llhttp_method_name((llhttp_method_t)p->method);
    span_add(c, SPAN_URL, at, len);
    if (c->span_len > CS_HTTP_URL_BYTES_MAX)
        return cb_fail(c, CS_EURITOOLONG, "request target longer than %u bytes", CS_HTTP_URL_BYTES_MAX);
    return 0;
}

static int on_url_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    size_t n = c->span == SPAN_URL ? c->span_len : 0;
    char *t = span_take(c, SPAN_URL, false);
    char *path = arena_alloc(r->arena, n + 1);
    if (!t || !path)
        return cb_fail(c, CS_ENOMEM, "out of memory");
    /* path gets its own copy so target stays the raw target */
    const char *q = memchr(t, '?', n);
    size_t plen = q ? (size_t)(q - t) : n;
    memcpy(path, t, plen);
    path[plen] = 0;
    r->target = t;
    r->path = path;
    r->query = q ? q + 1 : "";
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    if (c->req->nheaders >= CS_HTTP_HEADERS_MAX)
        return cb_fail(c, CS_EHEADERS, "more than %u header fields", CS_HTTP_HEADERS_MAX);
    c->head_bytes += len;
    if (c->head_bytes > CS_HTTP_HEADER_BYTES_MAX)
        return cb_fail(c, CS_EHEADERS, "header fields longer than %u bytes in all", CS_HTTP_HEADER_BYTES_MAX);
    span_add(c, SPAN_FIELD, at, len);
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    char *name = span_take(c, SPAN_FIELD, false);
    if (!name)
        return cb_fail(c, CS_ENOMEM, "out of memory");
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = "";
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    c->head_bytes += len;
    if (c->head_bytes > CS_HTTP_HEADER_BYTES_MAX)
        return cb_fail(c, CS_EHEADERS, "header fields longer than %u bytes in all", CS_HTTP_HEADER_BYTES_MAX);
    span_add(c, SPAN_VALUE, at, len);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    char *value = span_take(c, SPAN_VALUE, true);
    if (!value)
        return cb_fail(c, CS_ENOMEM, "out of memory");
    r->headers[r->nheaders++].value = value;
    return 0;
}

/* "100 Continue" for a client that waits for it before sending the body. A
 * rare path: the write record is malloc'd so it outlives any arena. */
static void send_continue(struct http_conn *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *buf;
    struct http_write *w = write_alloc(NULL, sizeof msg - 1, &buf);
    if (!w)
        return;
    memcpy(buf, msg, sizeof msg - 1);
    conn_write(c, w, buf, sizeof msg - 1);
}

static int on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    /* No protocol upgrades: such a request is answered, then the conn closes. */
    r->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
    if (p->flags & F_CHUNKED) {
        c->chunked = true;
    } else if (p->flags & F_CONTENT_LENGTH) {
        if (p->content_length > CS_HTTP_BODY_BYTES_MAX)
            return cb_fail(c, CS_ETOOLARGE, "request body larger than %u bytes", CS_HTTP_BODY_BYTES_MAX);
        if (p->content_length == 0)
            return 0;
        c->body_cap = (size_t)p->content_length + 1;
        c->body = arena_alloc(r->arena, c->body_cap);
        if (!c->body)
            return cb_fail(c, CS_ENOMEM, "out of memory");
    } else {
        return 0;
    }
    c->phase = PH_BODY;
    conn_deadline(c, c->srv->body_timeout_ms);
    const char *expect = http_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_major == 1 && p->http_minor >= 1)
        send_continue(c);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    if (r->body_len + len > CS_HTTP_BODY_BYTES_MAX)
        return cb_fail(c, CS_ETOOLARGE, "request body larger than %u bytes", CS_HTTP_BODY_BYTES_MAX);
    if (r->body_len + len + 1 > c->body_cap) {
        /* Chunked: double, so a body costs at most twice its size in the arena. */
        size_t cap = c->body_cap ? c->body_cap * 2 : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        if (cap > CS_HTTP_BODY_BYTES_MAX + 1)
            cap = CS_HTTP_BODY_BYTES_MAX + 1;
        char *b = arena_alloc(r->arena, cap);
        if (!b)
            return cb_fail(c, CS_ENOMEM, "out of memory");
        if (r->body_len)
            memcpy(b, c->body, r->body_len);
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + r->body_len, at, len);
    r->body_len += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    if (c->body) {
        c->body[r->body_len] = 0;
        r->body = c->body;
    }
    c->phase = PH_HANDLER;
    c->deadline_ms = 0;   /* the handler takes what it takes; shutdown bounds it */
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- responding ------------------------------------------------------------- */

void http_respond(struct http_request *r, int status, const char *content_type,
                  const char *extra_headers, const char *body, size_t body_len)
{
    struct http_conn *c = r->conn;
    if (c->req != r || c->phase != PH_HANDLER)
        return;   /* a second answer to the same request: ignored */
    metrics_observe_request(r->method, r->route ? r->route : "unmatched", status, uv_hrtime() - r->start_ns);
    c->req = NULL;
    c->phase = PH_IDLE;
    struct http_server *s = c->srv;
    if (c->closing || !s) {
        /* The peer is gone (or the server was shut down hard): drop it. */
        arena_free(r->arena);
        conn_maybe_free(c);
        return;
    }
    bool keep = r->keep_alive && !s->shutting_down;
    if (!keep) {
        c->close_after_write = true;
        conn_read_stop(c);
    }
    /* No body on the wire for HEAD, 1xx, 204 and 304 (Content-Length still says
     * what a GET would have carried, as RFC 9110 allows for HEAD). */
    bool no_body = strcmp(r->method, "HEAD") == 0 || status < 200 || status == 204 || status == 304;
    if (!body)
        body_len = 0;
    size_t ct_len = content_type ? strlen(content_type) : 0;
    size_t ex_len = extra_headers ? strlen(extra_headers) : 0;
    size_t wire_body = no_body ? 0 : body_len;
    char *buf;
    struct http_write *w = write_alloc(r->arena, HEAD_FIXED_BYTES + ct_len + ex_len + wire_body, &buf);
    if (!w) {
        arena_free(r->arena);
        conn_close(c);
        return;
    }
    char *p = build_head(buf, s, status, content_type, ct_len, extra_headers, ex_len, body_len, keep);
    if (wire_body)
        p = put(p, body, wire_body);
    if (keep)
        conn_deadline(c, s->idle_timeout_ms);
    conn_write(c, w, buf, (size_t)(p - buf));
    /* Answered later than the dispatch: resume the pipelined input now. */
    if (!c->in_dispatch)
        conn_parse(c);
}

/* ---- server ------------------------------------------------------------------ */

static void on_reject_close(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *listener, int status)
{
    struct http_server *s = listener->data;
    if (status < 0)
        return;
    struct http_conn *c = NULL;
    if (s->nconns < CS_HTTP_CONNECTIONS_MAX && !s->shutting_down)
        c = calloc(1, sizeof *c);
    if (!c) {
        /* Take it off the backlog and close it, or it would be retried forever. */
        uv_tcp_t *t = malloc(sizeof *t);
        if (t && uv_tcp_init(s->loop, t) == 0) {
            uv_accept(listener, (uv_stream_t *)t);
            uv_close((uv_handle_t *)t, on_reject_close);
        } else {
            free(t);
        }
        return;
    }
    uv_tcp_init(s->loop, &c->tcp);   /* cannot fail for AF_UNSPEC */
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->srv = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);   /* responses are whole: do not wait for more */
    conn_deadline(c, s->idle_timeout_ms);
    conn_read_start(c);
}

static void on_srv_handle_close(uv_handle_t *h)
{
    struct http_server *s = h->data;
    s->handles_open--;
    srv_maybe_free(s);
}

/* Frees the server once it was asked to and its handles and live connections
 * are closed. Conns that only wait for http_respond() are orphaned: their
 * answer will be dropped. */
static void srv_maybe_free(struct http_server *s)
{
    if (!s->free_requested || s->handles_open)
        return;
    for (struct http_conn *c = s->conns; c; c = c->next)
        if (c->handles_open)
            return;
    for (struct http_conn *c = s->conns; c; c = c->next)
        c->srv = NULL;
    free(s);
}

static void srv_finish_shutdown(struct http_server *s)
{
    if (s->done_called)
        return;
    s->done_called = true;
    if (s->grace_inited && !uv_is_closing((uv_handle_t *)&s->grace))
        uv_close((uv_handle_t *)&s->grace, on_srv_handle_close);
    if (s->done)
        s->done(s->done_ctx);
}

static void srv_check_done(struct http_server *s)
{
    if (s->shutting_down && !s->done_called && s->nconns == 0)
        srv_finish_shutdown(s);
}

static void on_grace(uv_timer_t *t)
{
    struct http_server *s = t->data;
    for (struct http_conn *c = s->conns; c; c = c->next)
        conn_close(c);
    srv_finish_shutdown(s);
}

int http_server_start(uv_loop_t *loop, const struct http_server_options *o, struct http_server **out)
{
    *out = NULL;
    /* A peer that resets before its response is written must cost an EPIPE,
     * not the process. */
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_storage addr;
    const char *host = o->host ? o->host : "127.0.0.1";
    int rc = strchr(host, ':') ? uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&addr)
                               : uv_ip4_addr(host, o->port, (struct sockaddr_in *)&addr);
    if (rc < 0)
        return rc;
    struct http_server *s = calloc(1, sizeof *s);
    if (!s)
        return UV_ENOMEM;
    s->loop = loop;
    s->handler = o->handler;
    s->handler_ctx = o->handler_ctx;
    s->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : CS_HTTP_HEADER_TIMEOUT_MS;
    s->body_timeout_ms = o->body_timeout_ms ? o->body_timeout_ms : CS_HTTP_BODY_TIMEOUT_MS;
    s->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : CS_HTTP_IDLE_TIMEOUT_MS;
    rc = uv_tcp_init(loop, &s->listener);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->listener.data = s;
    s->handles_open = 1;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
    if (rc == 0) {
        struct sockaddr_storage bound;
        int len = sizeof bound;
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
        if (rc == 0)
            s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)&bound)->sin_port);
    }
    if (rc < 0) {
        /* Freed by the close callback, when the loop next runs. */
        s->free_requested = true;
        s->shutting_down = s->done_called = true;
        uv_close((uv_handle_t *)&s->listener, on_srv_handle_close);
        return rc;
    }
    *out = s;
    return 0;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

unsigned http_server_connections(const struct http_server *s)
{
    return s->nconns;
}

void http_server_shutdown(struct http_server *s, void (*done)(void *ctx), void *ctx)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    s->done = done;
    s->done_ctx = ctx;
    uv_close((uv_handle_t *)&s->listener, on_srv_handle_close);
    uv_timer_init(s->loop, &s->grace);
    s->grace.data = s;
    s->grace_inited = true;
    s->handles_open++;
    uv_timer_start(&s->grace, on_grace, CS_SHUTDOWN_GRACE_MS, 0);
    for (struct http_conn *c = s->conns; c; c = c->next) {
        if (c->closing || c->phase == PH_HANDLER)
            continue;   /* its response will say Connection: close */
        if (c->nwrites && c->phase != PH_LINGER) {
            c->close_after_write = true;   /* responses still flushing */
            conn_read_stop(c);
        } else {
            conn_close(c);
        }
    }
    srv_check_done(s);
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    if (!s->shutting_down) {
        /* Freed without a shutdown: close everything now, no done callback. */
        s->shutting_down = s->done_called = true;
        uv_close((uv_handle_t *)&s->listener, on_srv_handle_close);
        for (struct http_conn *c = s->conns; c; c = c->next)
            conn_close(c);
    } else if (!s->done_called) {
        s->done_called = true;   /* too late to call it */
        for (struct http_conn *c = s->conns; c; c = c->next)
            conn_close(c);
    }
    if (s->grace_inited && !uv_is_closing((uv_handle_t *)&s->grace))
        uv_close((uv_handle_t *)&s->grace, on_srv_handle_close);
    s->free_requested = true;
    srv_maybe_free(s);
}
