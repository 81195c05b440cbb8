#ifndef CAISSE_STORE_INTERNAL_H
#define CAISSE_STORE_INTERNAL_H
/* Private to store/: the environment, the DBI table, the record codec and the
 * projection registry. Nothing outside store/ includes this. */
#include <pthread.h>
#include <mbedtls/sha256.h>
#include "store/store.h"

/* Every named database of the environment. The order here is the order they
 * are created in; projections name theirs in the registry (projections.c). */
enum store_dbi {
    DBI_META,                /* "head" -> seq(BE u64) + hash[32]; "format" -> text */
    DBI_LOG,                 /* seq(BE u64) -> record */
    DBI_STREAMS,
    DBI_MERCHANTS,
    DBI_API_KEYS,
    DBI_ORDERS,
    DBI_ORDERS_BY_MERCHANT,
    DBI_EVENTS_BY_MERCHANT,
    DBI_IDEMPOTENCY,
    DBI_CUSTOMERS,
    DBI_CUSTOMERS_BY_MERCHANT,
    DBI_CUSTOMERS_BY_DOCUMENT,
    DBI_SCHEDULE,
    DBI_SCHEDULE_JOBS,
    DBI_TEST_CLOCKS,
    DBI_WEBHOOK_ENDPOINTS,             /* projection webhook_endpoints (store/webhooks.c) */
    DBI_WEBHOOK_ENDPOINTS_BY_MERCHANT,
    DBI_WEBHOOK_OUTBOX,                /* delivery state, not projections: not replayed */
    DBI_WEBHOOK_ATTEMPTS,
    DBI_WEBHOOK_HEALTH,
    DBI_MAIL_OUTBOX,                   /* e-mails to spool, not a projection (store/mail.c) */
    DBI_PORTAL,                        /* projection portal (store/proj_portal.c) */
    DBI_CUSTOMERS_BY_CONTACT,          /* projection customers (store/proj_customers.c) */
    DBI_OBJECTS,                       /* projection objects (store/proj_objects.c) */
    DBI_OBJECTS_BY_MERCHANT,
    DBI_PAYMENTS_BY_CARD,
    DBI_OBJECT_TOKENS,
    DBI_PLUGIN_KV,                     /* projection plugin_kv (store/proj_plugin_kv.c) */
    DBI_PLUGIN_CURSORS,                /* on_event delivery positions, not a projection (store/proj_plugin_kv.c) */
    DBI_LEDGER_TXNS,                   /* projection ledger (store/proj_ledger.c) */
    DBI_LEDGER_ACCOUNTS,
    DBI_LEDGER_STATE,
    DBI__COUNT
};
extern const char *const store_dbi_names[DBI__COUNT];
_Static_assert(DBI__COUNT <= CS_STORE_MAX_DBS, "the environment has room for every DBI");

/* Record: [u8 format][32-byte chain hash][event JSON]. */
#define STORE_RECORD_FORMAT        1u
#define STORE_HASH_BYTES           32u
#define STORE_RECORD_HEADER_BYTES  (1u + STORE_HASH_BYTES)
#define STORE_HEAD_BYTES           (8u + STORE_HASH_BYTES)
#define STORE_FORMAT_TAG           "caisse-store 1"

/* RFC 3339 with microseconds: "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL. */
#define STORE_TIME_TEXT_BYTES      28u
/* Largest time we can print with a 4-digit year: 9999-12-31T23:59:59.999999Z. */
#define STORE_TIME_US_MAX          253402300799999999LL
/* Reset read transactions kept for reuse (mdb_txn_renew is cheaper than begin). */
#define STORE_READ_TXN_CACHE       16u
/* Events per write transaction when replay rebuilds the projections. */
#define STORE_REPLAY_BATCH         10000u

/* Key scratch sizes: the longest keys are idempotency keys and streams keys. */
#define STORE_KEY_BYTES_MAX        511u   /* LMDB's default maximum key size */
_Static_assert(CS_ID_BYTES_MAX + 3 + CS_IDEMPOTENCY_KEY_BYTES_MAX <= STORE_KEY_BYTES_MAX,
               "an idempotency key fits an LMDB key");

struct store {
    MDB_env *env;
    MDB_dbi dbi[DBI__COUNT];
    int read_only;
    uint64_t map_bytes;           /* current map size; read with __atomic_load_n */
    uint64_t map_bytes_max;

    /* The resize gate: a shared/exclusive lock that every open transaction
     * holds shared and that map resizing holds exclusive (mdb_env_set_mapsize
     * needs no transaction active in this process). Built from a mutex and a
     * condition variable rather than a pthread_rwlock because with MDB_NOTLS a
     * read transaction may end on another thread than the one that began it,
     * and unlocking a rwlock from a non-owner thread is undefined. A waiting
     * resizer blocks new transactions (so it cannot starve): a thread must not
     * begin a second transaction while it holds one. */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    unsigned gate_shared;         /* open transactions */
    unsigned gate_waiting;        /* resizers waiting */
    int gate_exclusive;

    pthread_mutex_t cache_mu;
    MDB_txn *cache[STORE_READ_TXN_CACHE];
    unsigned cache_n;

    store_append_observer_fn observer;   /* store_set_append_observer(); NULL: none */
    void *observer_ctx;
};

/* store.c ------------------------------------------------------------------ */

/* store_open() plus internal env flags that bypass the public safety check
 * (replay's scratch environment is thrown away, so MDB_NOSYNC is fine). */
int store_open_internal(struct store **out, const char *dir, const struct store_options *opt,
                        unsigned internal_flags, struct cs_diag *d);
/* The one place that turns an LMDB (or errno) code into a CS_E* code. */
int store_err(int mdb_rc);
/* Records err as the transaction's sticky error (unless one is already there)
 * and returns the sticky error. */
int store_txn_fail(struct store_txn *t, int err);
/* Nonzero if the fault should fire now (consumes one count). */
int store_fault_hit(enum store_fault f);

/* Always-on assertion for what would corrupt the log: prints and aborts. */
void store_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
#define STORE_ALWAYS(cond, ...) \
    do { if (!(cond)) store_panic(__FILE__, __LINE__, __VA_ARGS__); } while (0)

static inline void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)v; v >>= 8; }
}
static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline char mode_byte(int livemode) { return livemode ? 'l' : 't'; }

/* Positions c on the greatest key strictly below `bound`; MDB_NOTFOUND if none.
 * Returns an LMDB code. */
int store_cursor_below(MDB_cursor *c, const MDB_val *bound, MDB_val *k, MDB_val *v);

/* codec.c ------------------------------------------------------------------ */

/* Ids: [A-Za-z0-9_], 1..CS_ID_BYTES_MAX-1 bytes (room for the NUL). */
int store_id_valid(const char *s);
/* Event types: [a-z_.], 1..CS_EVENT_TYPE_BYTES_MAX-1 bytes. */
int store_type_valid(const char *s);
/* Actors: [A-Za-z0-9_:.-], 1..CS_STORE_ACTOR_BYTES_MAX-1 bytes. */
int store_actor_valid(const char *s);
/* Type filter: exact, or prefix match when pattern ends in '*'. NULL matches all. */
int store_type_match(const char *pattern, const char *type, size_t type_len);

void store_time_format(int64_t us, char out[STORE_TIME_TEXT_BYTES]);
/* Strict inverse of store_time_format: 0 or CS_ECORRUPT. */
int store_time_parse(const char *s, int64_t *us);

/* hash = SHA-256(prev || json). */
void store_chain_hash(const uint8_t prev[STORE_HASH_BYTES], const char *json, size_t len,
                      uint8_t out[STORE_HASH_BYTES]);
/* Splits a record, checking the format byte and length: 0 or CS_ECORRUPT. */
int store_record_split(const MDB_val *rec, const uint8_t **hash, const char **json, size_t *len);
/* Parses event JSON into v (v->root owned by v; v->json = json). 0 or CS_ECORRUPT. */
int store_event_decode(const char *json, size_t len, struct event_view *v);

/* log.c -------------------------------------------------------------------- */

int store_head_raw(MDB_txn *txn, const MDB_dbi *dbi, uint64_t *seq, uint8_t hash[STORE_HASH_BYTES]);
/* Appends a finished record at `seq` (asserting seq = last + 1 and that
 * MDB_APPEND accepted it) and moves the head. Returns a CS code. */
int store_log_put(MDB_txn *txn, const MDB_dbi *dbi, uint64_t seq, const void *rec, size_t len);

/* projections.c ------------------------------------------------------------ */

/* A fold: reads the event and the projection's current value, writes the new
 * value. Pure: no clock, no Lua, no network. Returns 0 or a CS code. */
typedef int (*store_fold_fn)(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);

struct store_projection {
    const char *name;
    enum store_dbi dbis[4];
    unsigned n_dbis;
    store_fold_fn fold;
};
extern const struct store_projection store_projections[];
extern const unsigned store_projections_n;

const struct store_projection *store_projection_find(const char *name);
/* Runs every fold on one event (append and replay both come through here). */
int store_projections_apply(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
/* Drops what folds keep between events of one write transaction; called when
 * every write transaction ends, committed or not. */
void store_projections_txn_end(void);
void proj_orders_forget(void);
/* Writes what folds of write transaction txn left unwritten (the orders
 * projection keeps the document it folded last and writes it only when
 * another order is folded: a checkout folds two events into one document).
 * Call it before anything reads DBI_ORDERS in txn, and before the commit. */
int store_projections_flush(MDB_txn *txn, const MDB_dbi *dbi);
int proj_orders_flush(MDB_txn *txn, const MDB_dbi *dbi);
/* Walks a "prefix | created_us(BE) | id" index newest first from just below
 * `start` (its first `prefix` bytes bound the walk), handing fn each id with
 * its document from `docs`. fn returns nonzero to stop. */
int store_index_walk_newest(struct store_txn *t, enum store_dbi index, enum store_dbi docs, const uint8_t *start,
                            size_t start_len, size_t prefix,
                            int (*fn)(void *ctx, const char *id, const MDB_val *doc), void *ctx);
int store_projection_digest_raw(MDB_txn *txn, const MDB_dbi *dbi, const struct store_projection *p,
                                uint8_t out[STORE_HASH_BYTES], uint64_t *entries);

int proj_streams_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_merchants_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_orders_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_events_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
/* "email:<lower-case>" / "phone:<digits>" of a contact: 0, or -1 if empty or too long. */
int store_customer_contact_key(const char *kind, const char *value, char out[261]);
int proj_customers_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_schedule_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_test_clocks_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_objects_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_ledger_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_portal_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_webhooks_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);
int proj_plugin_kv_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v);

/* proj_streams.c: current version of a stream (0 if none); a CS code. */
int store_stream_version_raw(MDB_txn *txn, MDB_dbi streams, const char *aggregate_id,
                             uint64_t *version);
/* Builds the streams key aggregate NUL version(BE); returns its length. */
size_t store_stream_key(uint8_t *buf, const char *aggregate_id, uint64_t version);

#endif
