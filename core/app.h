#ifndef CAISSE_APP_H
#define CAISSE_APP_H
/* The running server: what every request handler can reach. */
#include <stdint.h>
#include <uv.h>
#include <jansson.h>
#include "core/http.h"
#include "core/errors.h"
#include "core/limits.h"
#include "store/store.h"
#include "lua/policy.h"

struct writer;
struct scheduler;
struct mail_spool;
struct webhooks;
struct plugins;

struct app {
    uv_loop_t *loop;
    struct store *store;
    struct writer *writer;
    struct scheduler *scheduler;
    struct mail_spool *mail;
    struct webhooks *webhooks;        /* core/webhooks.h */
    struct policy_engine *policy;
    struct plugins *plugins;          /* lua/plugin.h; NULL without --plugin-dir */
    struct http_server *http;
    const char *data_dir;             /* --data: the store, and files kept beside it (dispute evidence) */
    char operator_token_sha256[65];   /* "" when the operator API is off */
    uint8_t card_key[32];             /* card fingerprints (core/keys.c) */
    uint8_t otp_key[32];              /* keyed hashes of one-time codes (core/api_portal.c) */
    char public_url[256];             /* how shoppers reach this server (payment links' URLs), no trailing '/' */
    int stopping;
    uint64_t started_ns;
};

/* One request's context while the router and a handler work on it. */
struct req_ctx {
    struct app *app;
    struct http_request *req;
    const char *params[2];            /* {id} segments of the matched pattern */
    unsigned nparams;
    /* set by authentication */
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char actor[64];                   /* "api_key:<12 hex of its hash>", "operator", "shopper:<customer id>" */
    char customer_id[CS_ID_BYTES_MAX]; /* a shopper's session: whose it is */
    json_t *merchant;                 /* the merchant document, loaded by req_merchant() */
    struct cs_diag diag;
};

/* The authenticated merchant's document (owned by rc), loaded on first use:
 * reads that need only the merchant's id skip it. NULL if it cannot be read.
 * Read-only: the parsed document is shared with later requests while the
 * stored one does not change. */
json_t *req_merchant(struct req_ctx *rc);

/* Responses (all end the request). */
void respond_json_text(struct req_ctx *rc, int status, const char *json, size_t len);
void respond_json(struct req_ctx *rc, int status, json_t *v);    /* steals v */
void respond_error(struct req_ctx *rc);                           /* from rc->diag */
void respond_fail(struct req_ctx *rc, int err, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Query string: the decoded value of `name` (arena memory) or NULL. */
const char *query_param(struct req_ctx *rc, const char *name);
/* Refuses (CS_EUNKNOWN in rc->diag, naming it) a query parameter not in
 * `allowed` (NULL-terminated), and any badly percent-encoded one. */
int query_check_known(struct req_ctx *rc, const char *const *allowed);

#endif
