#ifndef CAISSE_WEBHOOKS_H
#define CAISSE_WEBHOOKS_H
/* Signed webhooks (Standard Webhooks): the pieces shared by the API
 * (core/api_webhooks.c), the outbox observer and the delivery worker
 * (core/webhook_worker.c). Everything here is a pure function except the
 * master key file and the observer, so the unit tests cover it directly
 * (tests/unit/core/test_webhook_*.c).
 *
 * Flow: an endpoint is an event-sourced aggregate (webhook_endpoint.*, folded
 * by store/webhooks.c). When the writer appends any event, the observer
 * (webhooks_observe, called by store_event_append inside the same transaction)
 * writes one outbox row per matching enabled endpoint, so an acknowledged event
 * always has its deliveries. The worker thread sends them and records every
 * attempt back through the writer. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>
#include "core/errors.h"
#include "core/limits.h"
#include "store/store.h"

/* ---- event types ---------------------------------------------------------------- */

/* Every event type a webhook endpoint can subscribe to, NULL-terminated: the
 * one list to extend when a domain adds events (docs/events.md). */
extern const char *const webhook_event_types[];

/* 1 if `type` is delivered to webhooks at all (webhook_endpoint.* events are
 * not: an endpoint's own life is not news to it). */
int webhook_type_deliverable(const char *type);
/* 1 if `filter` is a known type, "*", or "<prefix>.*" where some known type
 * starts with "<prefix>.". */
int webhook_filter_valid(const char *filter);
/* 1 if `filter` (already valid) selects `type`. */
int webhook_filter_match(const char *filter, const char *type);
/* The same over consecutive NUL-terminated filters (the store's routing value). */
int webhook_filters_match(const char *filters, size_t len, const char *type);

/* ---- retries --------------------------------------------------------------------- */

/* Attempts per delivery: the first one, then one after each delay of the
 * schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: about 3 days). */
#define WEBHOOK_ATTEMPTS_MAX 10u
/* Delay before attempt number `attempt` (0-based: 0 is the first, immediate);
 * -1 if there is none (the delivery has failed for good). Jitter: +/- 10 %
 * from `rnd`; `scale` multiplies the schedule (1.0 in production; the
 * --webhook-backoff-scale test knob makes days pass in seconds). */
int64_t webhook_backoff_us(unsigned attempt, double scale, uint32_t rnd);
/* The nominal schedule in seconds (no jitter, no scale), for docs and tests. */
int64_t webhook_backoff_nominal_s(unsigned attempt);
/* An endpoint that has failed without success for this long is disabled. */
#define WEBHOOK_FAILING_DISABLE_S (3 * 24 * 3600)

/* ---- secrets and signatures ------------------------------------------------------ */

#define WEBHOOK_SECRET_RAW_BYTES 24u
#define WEBHOOK_SECRET_TEXT_BYTES 48u   /* "whsec_" + base64(24) = 38, with room */
/* A new secret "whsec_<base64 of 24 random bytes>". 0 or CS_EINTERNAL. */
int webhook_secret_new(char out[WEBHOOK_SECRET_TEXT_BYTES]);
/* The key bytes of "whsec_<base64>" (the part after the prefix, decoded).
 * 0 or CS_EPARAM. */
int webhook_secret_decode(const char *secret, uint8_t *key, size_t cap, size_t *key_len);
/* "v1,<base64(HMAC-SHA256(key, msg_id "." timestamp "." body))>" into out.
 * Returns the length, or 0 if out is too small. */
size_t webhook_sign(const uint8_t *key, size_t key_len, const char *msg_id, int64_t timestamp_s,
                    const char *body, size_t body_len, char *out, size_t cap);

/* The master key (AES-256-GCM) that encrypts endpoint secrets at rest:
 * <data_dir>/master.key, 32 random bytes, created 0600 at the first start.
 * Refuses a key file of another size or readable by group/others. */
#define WEBHOOK_MASTER_KEY_BYTES 32u
int webhook_master_key_load(const char *data_dir, uint8_t key[WEBHOOK_MASTER_KEY_BYTES],
                            struct cs_diag *d);
/* Encrypts a secret for endpoint `endpoint_id` (bound as additional data):
 * *out = {"nonce":base64(12),"ciphertext":base64(ciphertext||tag)}. */
int webhook_secret_seal(const uint8_t key[WEBHOOK_MASTER_KEY_BYTES], const char *endpoint_id,
                        const char *secret, json_t **out);
/* The inverse; CS_ECORRUPT if it does not authenticate. */
int webhook_secret_open(const uint8_t key[WEBHOOK_MASTER_KEY_BYTES], const char *endpoint_id,
                        const json_t *sealed, char out[WEBHOOK_SECRET_TEXT_BYTES]);

/* The webhook-id of (endpoint, event): "msg_" + 26 Crockford base32 characters
 * of SHA-256(endpoint_id ":" seq). Deterministic, so it is the same on every
 * retry and on a manual redelivery. */
void webhook_msg_id(const char *endpoint_id, uint64_t seq, char out[CS_ID_BYTES_MAX]);

/* ---- URLs and SSRF ------------------------------------------------------------- */

struct webhook_url {
    int tls;                      /* https */
    char host[256];               /* lower case; an IPv6 literal without brackets */
    char port[6];                 /* "443" / "80" by default */
    char path[CS_WEBHOOK_URL_BYTES_MAX + 1];   /* path and query, "/" at least */
    int host_is_ip;               /* a literal IPv4/IPv6 address */
};
/* Parses an endpoint URL: http or https, no userinfo, no fragment, printable
 * ASCII, at most CS_WEBHOOK_URL_BYTES_MAX bytes. 0 or CS_EPARAM with *why. */
int webhook_url_parse(const char *url, struct webhook_url *u, const char **why);

/* Why an address must not be reached ("loopback", "private", "link_local",
 * "metadata", "shared", "unspecified", "multicast", "reserved"), or NULL if it
 * is a public address. IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6
 * addresses are judged by the IPv4 address they carry. */
const char *webhook_addr_class(const struct sockaddr *sa);
/* NULL if the address may be reached, else why not. `allow_private` (test-mode
 * endpoints created with allow_private_network) lets every class through but
 * "metadata": cloud metadata services are never a webhook receiver. */
const char *webhook_addr_refused(const struct sockaddr *sa, int allow_private);
/* At creation: refuses literal addresses (by the same rules) and the names
 * "localhost", "*.localhost", "metadata.google.internal". NULL if fine. */
const char *webhook_host_refused(const struct webhook_url *u, int allow_private);

/* ---- the running service ------------------------------------------------------- */

struct writer;

struct webhooks {
    uint8_t master_key[WEBHOOK_MASTER_KEY_BYTES];
    double backoff_scale;         /* 1.0 unless the test knob says otherwise */
    const char *ca_file;          /* PEM bundle for HTTPS */
    const char *data_dir;         /* for the mail spool */
    int outbox_dirty;             /* set by the observer, read after commit (atomics) */
    struct webhook_worker *worker;
};

/* The append observer (store_set_append_observer, ctx = struct webhooks):
 * writes the outbox rows of one event. */
int webhooks_observe(struct store_txn *t, const struct event_view *v, void *ctx);
/* The writer's commit hook (ctx = struct webhooks): wakes the worker if the
 * batch wrote outbox rows. */
void webhooks_on_commit(void *ctx);

/* Writes a notification e-mail (RFC 5322) to <data_dir>/mail-spool/ for an
 * outside MTA to send. Returns 0 or CS_EIO. */
int webhook_mail_spool(const char *data_dir, const char *to, const char *subject, const char *text);

#endif
