#ifndef CAISSE_STORE_H
#define CAISSE_STORE_H
/* The LMDB layer: the event log, per-aggregate streams, the hash chain,
 * idempotency records and the projections, all in one environment.
 *
 * Rules (DESIGN.md "Event sourcing"):
 *  - the log is append-only: key = global sequence as a big-endian u64, put with
 *    MDB_APPEND; a record is [u8 format=1][32-byte chain hash][event JSON];
 *    hash(n) = SHA-256(hash(n-1) || event JSON), hash(0) = 32 zero bytes;
 *  - projections are written by store_event_append() in the same write
 *    transaction, by the same pure folds that `caisse replay` runs;
 *  - a transaction's first failure is sticky: later calls are no-ops returning
 *    it and store_commit() aborts. The exception is CS_ECONFLICT from
 *    store_event_append(), returned before anything was written.
 *
 * Returns: 0 or a negative CS_E* code (core/errors.h). LMDB codes are
 * translated in one place (store.c): MDB_MAP_FULL -> CS_ESTORAGE,
 * MDB_CORRUPTED/MDB_PAGE_NOTFOUND/bad record -> CS_ECORRUPT, ENOSPC -> CS_ESTORAGE,
 * other errno -> CS_EIO, MDB_NOTFOUND -> CS_ENOENT.
 *
 * Threads: one writer thread at a time; any number of read transactions in any
 * thread (the environment is opened with MDB_NOTLS). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <lmdb.h>
#include <jansson.h>
#include "core/errors.h"
#include "core/limits.h"

struct store;

struct store_options {
    uint64_t map_bytes_initial;   /* 0: CS_STORE_MAP_BYTES_INITIAL */
    uint64_t map_bytes_max;       /* 0: CS_STORE_MAP_BYTES_MAX_DEFAULT; growth stops here */
    unsigned env_flags;           /* extra MDB_* flags; the unsafe ones (MDB_NOSYNC,
                                   * MDB_NOMETASYNC, MDB_MAPASYNC, MDB_WRITEMAP) are
                                   * refused with CS_EPARAM unless allow_unsafe */
    int allow_unsafe;             /* the explicit benchmark flag */
    int read_only;                /* MDB_RDONLY: CLI tools that only read */
};

/* Opens (creating the directory and the environment if needed) the store in
 * `dir`. On failure *out is NULL and d says why. */
int store_open(struct store **out, const char *dir, const struct store_options *opt,
               struct cs_diag *d);
void store_close(struct store *s);

/* ---- transactions ------------------------------------------------------- */

struct store_txn {
    struct store *store;
    MDB_txn *txn;
    int err;          /* sticky */
    int write;
    /* private: scratch buffer for building records; freed by commit/abort */
    char *buf;
    size_t buf_cap;
};

int store_read_begin(struct store *s, struct store_txn *t);
/* Only the single writer calls this. */
int store_write_begin(struct store *s, struct store_txn *t);
/* Commits (with fsync) if no error is sticky, else aborts. Returns the sticky
 * error or the commit's. `*commit_ns` (may be NULL) gets the time spent in
 * mdb_txn_commit, i.e. the fsync. */
int store_commit(struct store_txn *t, uint64_t *commit_ns);
void store_abort(struct store_txn *t);

/* After a batch failed with CS_ESTORAGE because the map was full: grows the map
 * (doubling, up to map_bytes_max). Call with no transaction of this thread
 * open; waits for other threads' read transactions to end. Returns 0 if the
 * map grew (retry the batch), CS_ESTORAGE if it is already at its maximum. */
int store_grow(struct store *s);
uint64_t store_map_bytes(const struct store *s);

/* ---- the log ------------------------------------------------------------ */

#define STORE_VERSION_ANY UINT64_MAX   /* no expectation */
#define STORE_VERSION_NEW 0            /* the stream must not exist yet */

struct event_in {
    const char *id;               /* "evt_…" (core/ids.c) */
    const char *type;             /* "order.created": [a-z_.] */
    const char *aggregate_id;     /* "ord_…" */
    uint64_t expected_version;    /* STORE_VERSION_ANY, STORE_VERSION_NEW, or the current version */
    const char *merchant_id;      /* "mer_…" */
    int livemode;                 /* 0 test, 1 live */
    const char *actor;            /* "api_key:…", "operator", "cli", "scheduler": [A-Za-z0-9_:.-] */
    int64_t time_us;              /* platform time, UTC microseconds */
    json_t *data;                 /* borrowed JSON object: the decision, complete */
    /* Optional: data's text as jout_append(data, STORE_DATA_DEPTH_MAX) wrote
     * it, made ahead by the caller on another thread so that the writer only
     * copies it. Trusted to be exactly that text (replay would show any
     * difference); NULL: the append writes it. */
    const char *data_text;
    size_t data_text_len;
};
/* No value of an event's data may sit deeper (the root is level 1): jansson
 * refuses to parse nesting beyond 2048, so deeper data could be written but
 * never replayed. */
#define STORE_DATA_DEPTH_MAX 2000u

/* A decoded event. Strings point into `root` (owned by the view unless said
 * otherwise); release with event_view_clear(). */
struct event_view {
    uint64_t seq;
    uint64_t aggregate_version;
    int64_t time_us;
    int livemode;
    const char *id, *type, *aggregate_id, *merchant_id, *actor;
    json_t *data;                 /* the "data" member of root */
    json_t *root;                 /* the whole event object as the events API shows it */
    const char *json;             /* its text, as stored (points into the map or a buffer) */
    size_t json_len;
    uint8_t hash[32];
};
void event_view_clear(struct event_view *v);

/* Appends one event: checks the stream version, assigns seq = head + 1 and
 * aggregate_version = current + 1, writes the record (hash chained) with
 * MDB_APPEND, the stream entry and the head, then applies every projection.
 * out (may be NULL) gets seq and aggregate_version (its strings and root are
 * not filled). CS_ECONFLICT: version mismatch, nothing written, not sticky. */
int store_event_append(struct store_txn *t, const struct event_in *ev, struct event_view *out);

/* Reads and decodes event `seq`, verifying the record's format. Returns 0,
 * CS_ENOENT or CS_ECORRUPT. */
int store_event_get(struct store_txn *t, uint64_t seq, struct event_view *out);

/* The last sequence (0 for an empty log) and its chain hash. */
int store_head(struct store_txn *t, uint64_t *seq, uint8_t hash[32]);

/* Current version of an aggregate's stream (0: no such stream). */
int store_stream_version(struct store_txn *t, const char *aggregate_id, uint64_t *version);

/* Visits the sequences of an aggregate's events in version order. fn returns
 * nonzero to stop. */
int store_stream_each(struct store_txn *t, const char *aggregate_id,
                      int (*fn)(void *ctx, uint64_t version, uint64_t seq), void *ctx);

/* Visits the merchant's events (one mode) with seq > after_seq, ascending
 * (descending if `descending`, then seq < after_seq unless after_seq == 0).
 * `type` (may be NULL) filters exactly, or by prefix when it ends in '*'
 * ("order.*"). fn returns nonzero to stop. */
int store_merchant_events_each(struct store_txn *t, const char *merchant_id, int livemode,
                               uint64_t after_seq, int descending, const char *type,
                               int (*fn)(void *ctx, uint64_t seq), void *ctx);

/* ---- projections (read side) -------------------------------------------- */

/* Document getters: *doc points into the map, valid until the txn ends.
 * CS_ENOENT if absent. */
int store_merchant_get(struct store_txn *t, const char *merchant_id, MDB_val *doc);
int store_order_get(struct store_txn *t, const char *order_id, MDB_val *doc);

/* API keys are stored as the hex SHA-256 of the key. */
int store_api_key_lookup(struct store_txn *t, const char *key_sha256_hex,
                         char merchant_id[CS_ID_BYTES_MAX], int *livemode);

/* Visits a merchant's orders (one mode) newest first by creation time;
 * starting after order `after_id` when it is non-NULL (cursor pagination).
 * fn gets the order's id and document; returns nonzero to stop. */
int store_orders_each(struct store_txn *t, const char *merchant_id, int livemode,
                      const char *after_id,
                      int (*fn)(void *ctx, const char *order_id, const MDB_val *doc), void *ctx);

/* Customers (docs/events.md): a customer's document; its merchant's customers
 * newest first, after customer `after_id` (CS_EPARAM if that is not one of
 * theirs); the customers of a merchant and mode with an ID document number. */
int store_customer_get(struct store_txn *t, const char *customer_id, MDB_val *doc);
int store_customers_each(struct store_txn *t, const char *merchant_id, int livemode,
                         const char *after_id,
                         int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc), void *ctx);
int store_customers_by_document(struct store_txn *t, const char *merchant_id, int livemode,
                                const char *number,
                                int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc),
                                void *ctx);
/* The customers of a merchant and mode with a contact: kind "email" (compared
 * without ASCII case) or "phone" (digits and a leading +). */
int store_customers_by_contact(struct store_txn *t, const char *merchant_id, int livemode, const char *kind,
                               const char *value,
                               int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc), void *ctx);

/* The scheduler's view (store/proj_schedule.c): a test-mode merchant's clock
 * offset (0 when never advanced); every pending job as JSON
 * {"id","kind","aggregate_id","merchant","livemode","due_us"}, earliest
 * first (fn returns nonzero to stop); whether job `job_id` is still pending
 * (0) or gone (CS_ENOENT). */
int store_test_clock_offset(struct store_txn *t, const char *merchant_id, int livemode, int64_t *offset_us);
int store_schedule_each(struct store_txn *t, int (*fn)(void *ctx, const char *job_json, size_t len), void *ctx);
int store_schedule_has(struct store_txn *t, const char *job_id);
/* The largest test-clock offset of any merchant (0 if none is ahead): no job
 * due later than platform time plus this can be due for anyone. */
int store_test_clock_max_offset(struct store_txn *t, int64_t *max_us);

/* The e-mail outbox (store/mail.c): messages written in the transaction of the
 * event that sends them, removed once spooled. Keys are the caller's
 * (unique, ordered: time then event id); values the RFC 5322 message. */
int store_mail_put(struct store_txn *t, const char *key, const char *msg, size_t len);
int store_mail_each(struct store_txn *t, int (*fn)(void *ctx, const char *key, size_t klen,
                                                   const char *msg, size_t len), void *ctx);
int store_mail_del(struct store_txn *t, const char *key, size_t klen);

/* The customer portal's challenges and sessions (store/proj_portal.c), by
 * key ("chl:<id>", "ses:<token sha256 hex>", "last:<customer id>"). */
int store_portal_get(struct store_txn *t, const char *key, MDB_val *out);

/* The objects projection (store/proj_objects.c): payments, refunds,
 * disputes, payment links, risk settings. A document by id (CS_ENOENT if
 * absent); a merchant's objects of one kind ("payment", "refund",
 * "dispute", "payment_link") newest first, after `after_id` (CS_EPARAM if that
 * is not one of theirs of that kind); the payments made with a card (by its
 * fingerprint) newest first; the object a secret token's SHA-256 (hex) names. */
int store_object_get(struct store_txn *t, const char *id, MDB_val *doc);
int store_objects_each(struct store_txn *t, const char *merchant_id, int livemode, const char *kind,
                       const char *after_id, int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx);
int store_card_payments_each(struct store_txn *t, const char *merchant_id, int livemode, const char *fingerprint,
                             int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx);
int store_object_by_token(struct store_txn *t, const char *token_sha256_hex, char id[CS_ID_BYTES_MAX]);

/* The ledger (store/proj_ledger.c, docs/ledger.md): an account's total
 * (accounts "merchant", "cardholders", "fees", "vat") in a currency; the
 * currencies a merchant has postings in; its balance transactions newest
 * first, after the transaction `after_id` ("btx_<seq>_<n>"; CS_EPARAM if
 * malformed); and the check that every merchant's postings sum to zero per
 * currency (*unbalanced gets the count of those that do not; report may be
 * NULL). */
int store_ledger_account(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                         const char *account, int64_t *total);
int store_ledger_currencies(struct store_txn *t, const char *merchant_id, int livemode,
                            int (*fn)(void *ctx, const char *currency), void *ctx);
int store_ledger_txns_each(struct store_txn *t, const char *merchant_id, int livemode, const char *after_id,
                           int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx);
int store_ledger_check(struct store_txn *t, FILE *report, uint64_t *unbalanced);
/* The merchant's balance in a currency at now_us: what is available (may be
 * negative) and what is pending (held captures). */
int store_ledger_balance(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                         int64_t now_us, int64_t *available, int64_t *pending);

/* ---- idempotency -------------------------------------------------------- */

struct idem_record {
    uint8_t request_sha256[32];   /* of method, path and body */
    int status;                   /* HTTP status of the stored response */
    int64_t created_us;
    const char *body;             /* the stored response body */
    size_t body_len;
};
/* Key: merchant, mode and the client's key. CS_ENOENT if none or expired
 * (older than ttl_us relative to now_us). rec->body points into the map. */
int store_idem_get(struct store_txn *t, const char *merchant_id, int livemode, const char *key,
                   int64_t now_us, int64_t ttl_us, struct idem_record *rec);
int store_idem_put(struct store_txn *t, const char *merchant_id, int livemode, const char *key,
                   const struct idem_record *rec);

/* Where a purge of expired idempotency records stands: zeroed to start at the
 * first record; `done` once the table's end is reached. */
struct idem_sweep {
    uint8_t key[512];   /* the last record visited (STORE_KEY_BYTES_MAX + 1) */
    size_t key_len;
    int started, done;
    uint64_t visited, purged;   /* running totals */
};
/* Deletes the records that store_idem_get would no longer return: older than
 * ttl_us at the time their merchant and mode live in (now_us, moved by the
 * test clock for test mode). Visits at most `max` records from where `sw`
 * stands, so a write transaction stays short; call again until sw->done. */
int store_idem_purge(struct store_txn *t, int64_t now_us, int64_t ttl_us, unsigned max,
                     struct idem_sweep *sw);

/* ---- operator tools ----------------------------------------------------- */

/* Walks the whole log: format, contiguous sequences, chain hashes, streams.
 * Returns 0 if intact; CS_ECORRUPT with *bad_seq = the first bad event and
 * why in d. *count gets the number of events checked. */
int store_audit_verify(struct store *s, uint64_t *count, uint64_t *bad_seq, struct cs_diag *d);

/* Rebuilds every projection from the log of the store at `data_dir` into a
 * fresh environment at `scratch_dir` (created; must not exist or be empty),
 * then compares a SHA-256 digest per projection with the live one, both at the
 * same log sequence. Writes a human report to `report`. Returns 0 if all are
 * equal, CS_ECORRUPT if any differs. Never calls Lua, the clock or the network. */
int store_replay(struct store *s, const char *scratch_dir, FILE *report, struct cs_diag *d);

/* The same rebuild, then every projection that differs is replaced, in one
 * write transaction, by what the log gives (after an upgrade that changed a
 * fold, or to repair). Refuses (CS_ECONFLICT) if the log grew meanwhile: run
 * it with the server stopped. *rebuilt: how many projections were replaced. */
int store_projections_rebuild(struct store *s, const char *scratch_dir, FILE *report, unsigned *rebuilt,
                              struct cs_diag *d);

/* The pid of another process that has the environment open (its LMDB reader
 * slots), or 0. */
long store_other_process(struct store *s);

/* Digest of one projection (by name) in a read txn; for tests. */
int store_projection_digest(struct store_txn *t, const char *name, uint8_t out[32]);

struct dump_filter {
    const char *merchant_id;      /* NULL: all */
    const char *type;             /* NULL: all; prefix match if ends with '*' */
    uint64_t from_seq, to_seq;    /* inclusive; 0 / UINT64_MAX for open ends */
    int64_t from_us, to_us;       /* inclusive time range; 0 / INT64_MAX */
};
/* Writes matching events as NDJSON (one event JSON per line). */
int store_events_dump(struct store *s, const struct dump_filter *f, FILE *out, uint64_t *count);

/* ---- observers of the append path ---------------------------------------- */

/* Called by store_event_append() for every event, inside its write transaction,
 * after the projections were folded (v: seq, time, ids, type, data and json are
 * set; valid during the call). A nonzero return fails the transaction (sticky),
 * so what the observer writes is committed with the event or not at all. Never
 * called by replay. Set it once, before the writer starts. */
typedef int (*store_append_observer_fn)(struct store_txn *t, const struct event_view *v, void *ctx);
void store_set_append_observer(struct store *s, store_append_observer_fn fn, void *ctx);

/* ---- webhooks (store/webhooks.c) ----------------------------------------- */

/* The `webhook_endpoints` projection: the endpoint document (with its
 * encrypted secrets; the API strips them). CS_ENOENT if absent or deleted. */
int store_webhook_endpoint_get(struct store_txn *t, const char *id, MDB_val *doc);
/* Visits a merchant's endpoints (one mode) in id (= creation) order, after
 * `after_id` if non-NULL; fn gets the enabled flag and the event filters as
 * consecutive NUL-terminated strings (filters_len bytes in all). */
int store_webhook_routes_each(struct store_txn *t, const char *merchant_id, int livemode,
                              const char *after_id,
                              int (*fn)(void *ctx, const char *endpoint_id, int enabled,
                                        const char *filters, size_t filters_len),
                              void *ctx);

/* The outbox: one row per (endpoint, event) to deliver, keyed by due time.
 * Delivery state, not a projection: replay does not rebuild it. */
struct webhook_outbox_row {
    int64_t due_us;               /* next attempt, platform time */
    char msg_id[CS_ID_BYTES_MAX]; /* the webhook-id, stable across retries */
    char endpoint_id[CS_ID_BYTES_MAX];
    uint64_t seq;                 /* the event */
    uint32_t attempt;             /* attempts already made */
    int64_t first_us;             /* when the row was first written */
};
int store_webhook_outbox_put(struct store_txn *t, const struct webhook_outbox_row *r);
/* CS_ENOENT (not sticky) if there is no such row. */
int store_webhook_outbox_delete(struct store_txn *t, int64_t due_us, const char *msg_id);
/* Rows in due order; fn returns nonzero to stop. */
int store_webhook_outbox_each(struct store_txn *t,
                              int (*fn)(void *ctx, const struct webhook_outbox_row *r), void *ctx);

/* The delivery log of an endpoint: attempt id ("wha_…", time-sortable) ->
 * attempt JSON; visited newest first, before `before_id` if non-NULL
 * (CS_EPARAM if that is not a valid id). */
int store_webhook_attempt_put(struct store_txn *t, const char *endpoint_id, const char *attempt_id,
                              const char *json, size_t len);
int store_webhook_attempts_each(struct store_txn *t, const char *endpoint_id, const char *before_id,
                                int (*fn)(void *ctx, const char *attempt_id, const MDB_val *doc),
                                void *ctx);

/* Since when an endpoint has failed without a success in between (0: healthy). */
int store_webhook_health_get(struct store_txn *t, const char *endpoint_id, int64_t *failing_since_us);
int store_webhook_health_put(struct store_txn *t, const char *endpoint_id, int64_t failing_since_us);

/* ---- plugins (store/proj_plugin_kv.c) ------------------------------------- */

/* The `plugin_kv` projection: each Lua plugin's key-value storage per
 * merchant and mode (docs/plugins.md "Key-value storage"), folded from
 * plugin.kv_set {"plugin","key","value"} and plugin.kv_deleted
 * {"plugin","key"}. A value is stored as its compact JSON text. Plugin names
 * have 1..64 bytes, keys 1..STORE_PLUGIN_KV_KEY_BYTES_MAX. */
#define STORE_PLUGIN_KV_KEY_BYTES_MAX 128u
/* *value points into the map (valid until the txn ends); CS_ENOENT if absent. */
int store_plugin_kv_get(struct store_txn *t, const char *plugin, const char *merchant_id, int livemode,
                        const char *key, MDB_val *value);
/* The plugin's keys for a merchant and mode in key order; fn returns nonzero to stop. */
int store_plugin_kv_each(struct store_txn *t, const char *plugin, const char *merchant_id, int livemode,
                         int (*fn)(void *ctx, const char *key, size_t klen, const MDB_val *value), void *ctx);
/* on_event delivery: the last sequence a plugin has handled (delivery state,
 * not a projection: replay does not rebuild it). CS_ENOENT if none yet. */
int store_plugin_cursor_get(struct store_txn *t, const char *plugin, uint64_t *seq);
int store_plugin_cursor_put(struct store_txn *t, const char *plugin, uint64_t seq);

/* ---- fault injection (CAISSE_FAULTS builds) ------------------------------ */
enum store_fault { STORE_FAULT_NONE, STORE_FAULT_COMMIT_FAIL, STORE_FAULT_APPEND_FAIL };
/* Makes the next `count` occurrences of `f` fail with CS_EIO. */
void store_fault_set(enum store_fault f, int count);

#endif
