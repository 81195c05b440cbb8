#ifndef CAISSE_WEBHOOK_CLIENT_H
#define CAISSE_WEBHOOK_CLIENT_H
/* The outbound HTTP/1.1 client of the webhook worker: libuv for the name
 * lookup, the socket and the timer, llhttp to parse the response, mbedTLS for
 * HTTPS (certificate verification and the host name check always on).
 *
 * One request per connection ("Connection: close"); redirects are never
 * followed (a 3xx is just a status). The resolved address is checked by
 * webhook_addr_refused() before any connection is made, so a name that
 * resolves (or re-resolves: DNS rebinding) to a private address is refused
 * without a packet sent to it. The whole attempt — lookup, connect, TLS,
 * request, response head and an excerpt of the body — is bounded by one
 * timeout. Everything runs on the caller's loop; nothing blocks it. */
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "core/errors.h"
#include "core/limits.h"
#include "core/webhooks.h"

struct whc_tls;
struct whc_conn;

/* The TLS configuration of one thread (mbedTLS configs are shared by the
 * connections of that thread only). ca_file: a PEM bundle. */
int whc_tls_new(struct whc_tls **out, const char *ca_file, struct cs_diag *d);
void whc_tls_free(struct whc_tls *t);

struct whc_result {
    int status;                   /* the HTTP status, 0 if no response */
    const char *error;            /* NULL when a response arrived; else "dns_failed",
                                   * "address_refused", "connect_failed", "tls_failed",
                                   * "timeout", "bad_response", "connection_closed", "aborted" */
    char detail[200];             /* for the delivery log */
    char excerpt[CS_WEBHOOK_EXCERPT_BYTES_MAX + 1];   /* start of the response body */
    size_t excerpt_len;
    uint64_t latency_ms;
};

typedef void (*whc_done_fn)(void *ctx, struct whc_result *r);

struct whc_request {
    const struct webhook_url *url;
    int allow_private;            /* see webhook_addr_refused() */
    const char *bytes;            /* the complete request (head and body); copied */
    size_t len;
    unsigned timeout_ms;
};

/* Starts a request; `done` runs exactly once on `loop` (never from inside
 * whc_send). Returns 0, or a CS code (then done is never called). *out (may be
 * NULL) lets the caller abort it. tls may be NULL: https then fails. */
int whc_send(uv_loop_t *loop, struct whc_tls *tls, const struct whc_request *req, whc_done_fn done,
             void *ctx, struct whc_conn **out);
/* Ends the request now: done runs with error "aborted" (if it has not run). */
void whc_abort(struct whc_conn *c);

#endif
