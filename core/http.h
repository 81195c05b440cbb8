#ifndef CAISSE_HTTP_H
#define CAISSE_HTTP_H
/* The HTTP/1.1 server on libuv + llhttp (core/http_server.c).
 *
 * One loop thread owns every connection. A connection handles one request at a
 * time: when a request is complete the parser is paused and the handler runs;
 * pipelined bytes wait (buffered, bounded) until the response is queued, then
 * parsing resumes. So responses always leave in request order.
 *
 * A handler must eventually call http_respond() exactly once per request,
 * possibly later from the loop thread (e.g. when the writer thread's commit is
 * done). Until then the request and its arena stay valid even if the peer
 * disconnects (the response is then dropped).
 *
 * Limits (core/limits.h) are enforced in the llhttp callbacks: 414 for a long
 * target, 431 for header bytes or count, 413 for the body (by Content-Length
 * up front, or while chunked data arrives), 408 when the head or the body is too
 * slow, 400 for malformed HTTP; each of those closes the connection after the
 * response. Idle keep-alive connections are closed quietly. */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "core/arena.h"

struct http_server;
struct http_conn;

struct http_header {
    const char *name;   /* NUL-terminated, as received */
    const char *value;  /* NUL-terminated, trimmed */
};

struct http_request {
    struct http_conn *conn;
    struct arena *arena;          /* freed after the response is written */
    const char *method;           /* "GET", "POST", ... */
    const char *target;           /* raw request target */
    const char *path;             /* target up to '?', NUL-terminated */
    const char *query;            /* after '?', NUL-terminated ("" if none) */
    struct http_header headers[64];
    unsigned nheaders;
    const char *body;             /* NUL-terminated (not counted in body_len) */
    size_t body_len;
    int keep_alive;               /* what the client asked (HTTP/1.1 default on) */
    uint64_t start_ns;            /* uv_hrtime() at the first byte of the request */
    const char *route;            /* set by the router: route pattern, for metrics ("unmatched" if none) */
    void *user;                   /* handler's context */
};

/* Called on the loop thread for each complete request. */
typedef void (*http_handler_fn)(struct http_request *req, void *ctx);

struct http_server_options {
    const char *host;             /* "127.0.0.1" */
    int port;                     /* 0: ephemeral */
    http_handler_fn handler;
    void *handler_ctx;
    unsigned header_timeout_ms, body_timeout_ms, idle_timeout_ms; /* 0: defaults from limits.h */
};

/* Binds and listens. Returns 0 or a negative errno-style uv error. */
int http_server_start(uv_loop_t *loop, const struct http_server_options *o, struct http_server **out);
/* The bound port (after an ephemeral bind). */
int http_server_port(const struct http_server *s);
/* Stops accepting; connections without a request in flight are closed now,
 * the others after their response is written. `done` runs on the loop thread
 * once every connection is closed (or after CS_SHUTDOWN_GRACE_MS). */
void http_server_shutdown(struct http_server *s, void (*done)(void *ctx), void *ctx);
void http_server_free(struct http_server *s);

/* Header lookup, case-insensitive; NULL if absent. */
const char *http_header(const struct http_request *r, const char *name);

/* Queues the response. `extra_headers` (may be NULL) is a block of complete
 * "Name: value\r\n" lines. Adds Date, Content-Length, Content-Type (if
 * content_type) and Connection. Copies the body; the caller keeps ownership. */
void http_respond(struct http_request *r, int status, const char *content_type,
                  const char *extra_headers, const char *body, size_t body_len);

/* Reason phrase of a status ("Not Found"). */
const char *http_status_text(int status);

/* Number of open connections and of requests waiting for http_respond(). */
unsigned http_server_connections(const struct http_server *s);

#endif
