/* The environment: open/close, transactions (with the resize gate and the
 * read-transaction cache), map growth, error translation, fault injection. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "store/store_internal.h"

const char *const store_dbi_names[DBI__COUNT] = {
    [DBI_META] = "meta",
    [DBI_LOG] = "log",
    [DBI_STREAMS] = "streams",
    [DBI_MERCHANTS] = "merchants",
    [DBI_API_KEYS] = "api_keys",
    [DBI_ORDERS] = "orders",
    [DBI_ORDERS_BY_MERCHANT] = "orders_by_merchant",
    [DBI_EVENTS_BY_MERCHANT] = "events_by_merchant",
    [DBI_IDEMPOTENCY] = "idempotency",
    [DBI_CUSTOMERS] = "customers",
    [DBI_CUSTOMERS_BY_MERCHANT] = "customers_by_merchant",
    [DBI_CUSTOMERS_BY_DOCUMENT] = "customers_by_document",
    [DBI_SCHEDULE] = "schedule",
    [DBI_SCHEDULE_JOBS] = "schedule_jobs",
    [DBI_TEST_CLOCKS] = "test_clocks",
    [DBI_WEBHOOK_ENDPOINTS] = "webhook_endpoints",
    [DBI_WEBHOOK_ENDPOINTS_BY_MERCHANT] = "webhook_endpoints_by_merchant",
    [DBI_WEBHOOK_OUTBOX] = "webhook_outbox",
    [DBI_WEBHOOK_ATTEMPTS] = "webhook_attempts",
    [DBI_WEBHOOK_HEALTH] = "webhook_health",
    [DBI_MAIL_OUTBOX] = "mail_outbox",
    [DBI_PORTAL] = "portal",
    [DBI_CUSTOMERS_BY_CONTACT] = "customers_by_contact",
    [DBI_OBJECTS] = "objects",
    [DBI_LEDGER_TXNS] = "ledger_txns",
    [DBI_LEDGER_ACCOUNTS] = "ledger_accounts",
    [DBI_LEDGER_STATE] = "ledger_state",
    [DBI_OBJECTS_BY_MERCHANT] = "objects_by_merchant",
    [DBI_PAYMENTS_BY_CARD] = "payments_by_card",
    [DBI_OBJECT_TOKENS] = "object_tokens",
    [DBI_PLUGIN_KV] = "plugin_kv",
    [DBI_PLUGIN_CURSORS] = "plugin_cursors",
};

/* ---- errors --------------------------------------------------------------- */

int store_err(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return CS_ENOENT;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
        return CS_ESTORAGE;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_KEYEXIST:        /* only ever an immutable key written twice */
        return CS_ECORRUPT;
    case ENOMEM:
        return CS_ENOMEM;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:     /* retried in txn_begin; only seen if that gave up */
        return CS_EBUSY;
    case MDB_TXN_FULL:        /* a batch too big: growing the map would not help */
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
    case MDB_DBS_FULL:
    case MDB_TLS_FULL:
    case EINVAL:
        return CS_EINTERNAL;
    default:
        return CS_EIO;
    }
}

int store_txn_fail(struct store_txn *t, int err)
{
    if (!t->err)
        t->err = err;
    return t->err;
}

void store_panic(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "caisse: store invariant violated at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    abort();
}

/* ---- fault injection ------------------------------------------------------ */

#ifdef CAISSE_FAULTS
static int fault_counts[3];

void store_fault_set(enum store_fault f, int count)
{
    if ((unsigned)f < sizeof fault_counts / sizeof fault_counts[0])
        __atomic_store_n(&fault_counts[f], count, __ATOMIC_SEQ_CST);
}

int store_fault_hit(enum store_fault f)
{
    if ((unsigned)f >= sizeof fault_counts / sizeof fault_counts[0])
        return 0;
    int n = __atomic_load_n(&fault_counts[f], __ATOMIC_SEQ_CST);
    while (n > 0) {
        if (__atomic_compare_exchange_n(&fault_counts[f], &n, n - 1, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return 1;
    }
    return 0;
}
#else
void store_fault_set(enum store_fault f, int count) { (void)f; (void)count; }
int store_fault_hit(enum store_fault f) { (void)f; return 0; }
#endif

/* ---- the resize gate ------------------------------------------------------ */

static void gate_shared_acquire(struct store *s)
{
    pthread_mutex_lock(&s->gate_mu);
    while (s->gate_exclusive || s->gate_waiting)
        pthread_cond_wait(&s->gate_cv, &s->gate_mu);
    s->gate_shared++;
    pthread_mutex_unlock(&s->gate_mu);
}

static void gate_shared_release(struct store *s)
{
    pthread_mutex_lock(&s->gate_mu);
    if (--s->gate_shared == 0)
        pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

static void gate_exclusive_acquire(struct store *s)
{
    pthread_mutex_lock(&s->gate_mu);
    s->gate_waiting++;
    while (s->gate_exclusive || s->gate_shared)
        pthread_cond_wait(&s->gate_cv, &s->gate_mu);
    s->gate_waiting--;
    s->gate_exclusive = 1;
    pthread_mutex_unlock(&s->gate_mu);
}

static void gate_exclusive_release(struct store *s)
{
    pthread_mutex_lock(&s->gate_mu);
    s->gate_exclusive = 0;
    pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
}

/* ---- read transaction cache ----------------------------------------------- */

static MDB_txn *cache_pop(struct store *s)
{
    MDB_txn *txn = NULL;
    pthread_mutex_lock(&s->cache_mu);
    if (s->cache_n)
        txn = s->cache[--s->cache_n];
    pthread_mutex_unlock(&s->cache_mu);
    return txn;
}

/* Takes a txn that was already reset. */
static void cache_push(struct store *s, MDB_txn *txn)
{
    pthread_mutex_lock(&s->cache_mu);
    if (s->cache_n < STORE_READ_TXN_CACHE) {
        s->cache[s->cache_n++] = txn;
        txn = NULL;
    }
    pthread_mutex_unlock(&s->cache_mu);
    if (txn)
        mdb_txn_abort(txn);
}

static void cache_drain(struct store *s)
{
    pthread_mutex_lock(&s->cache_mu);
    while (s->cache_n)
        mdb_txn_abort(s->cache[--s->cache_n]);
    pthread_mutex_unlock(&s->cache_mu);
}

static void map_refresh(struct store *s)
{
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0)
        __atomic_store_n(&s->map_bytes, (uint64_t)info.me_mapsize, __ATOMIC_SEQ_CST);
}

/* Another process grew the map: adopt its size (set_mapsize(0) reads it from
 * the file), with no transaction of ours open. */
static void map_adopt(struct store *s)
{
    gate_exclusive_acquire(s);
    cache_drain(s);
    mdb_env_set_mapsize(s->env, 0);
    map_refresh(s);
    gate_exclusive_release(s);
}

/* ---- transactions --------------------------------------------------------- */

static void txn_init(struct store_txn *t, struct store *s, int write)
{
    memset(t, 0, sizeof *t);
    t->store = s;
    t->write = write;
}

/* Begins an LMDB transaction holding the gate shared; retries after another
 * process resized the map. */
static int txn_begin(struct store *s, int write, MDB_txn **out)
{
    for (int attempt = 0;; attempt++) {
        int rc;
        gate_shared_acquire(s);
        /* Popped under the gate, so a resize never runs while we hold a
         * cached txn outside the cache. */
        MDB_txn *txn = write ? NULL : cache_pop(s);
        if (txn) {
            rc = mdb_txn_renew(txn);
            if (rc)
                mdb_txn_abort(txn);
        } else {
            rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
        }
        if (rc == 0) {
            *out = txn;
            return 0;
        }
        gate_shared_release(s);
        if (rc != MDB_MAP_RESIZED || attempt >= 3)
            return store_err(rc);
        map_adopt(s);
    }
}

int store_read_begin(struct store *s, struct store_txn *t)
{
    txn_init(t, s, 0);
    int err = txn_begin(s, 0, &t->txn);
    if (err)
        t->err = err;
    return err;
}

int store_write_begin(struct store *s, struct store_txn *t)
{
    txn_init(t, s, 1);
    if (s->read_only)
        return t->err = CS_EPARAM;
    int err = txn_begin(s, 1, &t->txn);
    if (err)
        t->err = err;
    return err;
}

/* Ends the LMDB side of t (commit already done or not wanted). */
static void txn_finish(struct store_txn *t, int commit_done)
{
    struct store *s = t->store;
    if (t->write)
        store_projections_txn_end();
    if (t->txn) {
        if (!commit_done) {
            if (t->write) {
                mdb_txn_abort(t->txn);
            } else {
                mdb_txn_reset(t->txn);
                cache_push(s, t->txn);
            }
        }
        t->txn = NULL;
        gate_shared_release(s);
    }
    free(t->buf);
    t->buf = NULL;
    t->buf_cap = 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int store_commit(struct store_txn *t, uint64_t *commit_ns)
{
    if (commit_ns)
        *commit_ns = 0;
    if (!t->txn) {
        txn_finish(t, 0);
        return t->err;
    }
    if (!t->write || t->err) {
        /* Read transactions have nothing to commit; a failed batch is judged
         * once, here: nothing of it survives. */
        txn_finish(t, 0);
        return t->err;
    }
    if (store_fault_hit(STORE_FAULT_COMMIT_FAIL)) {
        txn_finish(t, 0);
        return t->err = CS_EIO;
    }
    int err = store_projections_flush(t->txn, t->store->dbi);
    if (err) {
        txn_finish(t, 0);
        return t->err = err;
    }
    uint64_t t0 = now_ns();
    int rc = mdb_txn_commit(t->txn);   /* frees the txn even on failure */
    if (commit_ns)
        *commit_ns = now_ns() - t0;
    txn_finish(t, 1);
    if (rc)
        t->err = store_err(rc);
    return t->err;
}

void store_abort(struct store_txn *t)
{
    txn_finish(t, 0);
}

/* ---- map growth ----------------------------------------------------------- */

int store_grow(struct store *s)
{
    if (s->read_only)
        return CS_EPARAM;
    int err = CS_ESTORAGE;
    gate_exclusive_acquire(s);
    map_refresh(s);   /* another process may have grown it already */
    uint64_t cur = s->map_bytes;
    if (cur < s->map_bytes_max) {
        uint64_t next = cur > s->map_bytes_max / 2 ? s->map_bytes_max : cur * 2;
        cache_drain(s);
        int rc = mdb_env_set_mapsize(s->env, (size_t)next);
        map_refresh(s);
        err = rc ? store_err(rc) : 0;
    }
    gate_exclusive_release(s);
    return err;
}

uint64_t store_map_bytes(const struct store *s)
{
    return __atomic_load_n(&s->map_bytes, __ATOMIC_SEQ_CST);
}

/* ---- open / close --------------------------------------------------------- */

static const struct { unsigned flag; const char *name; } unsafe_flags[] = {
    { MDB_NOSYNC, "MDB_NOSYNC" },
    { MDB_NOMETASYNC, "MDB_NOMETASYNC" },
    { MDB_MAPASYNC, "MDB_MAPASYNC" },
    { MDB_WRITEMAP, "MDB_WRITEMAP" },
};

/* Opens every DBI and checks (or writes) the format tag. */
static int open_dbis(struct store *s, const char *dir, struct cs_diag *d)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        return cs_fail(d, store_err(rc), "data", "cannot begin a transaction in %s: %s", dir,
                       mdb_strerror(rc));
    for (unsigned i = 0; i < DBI__COUNT; i++) {
        rc = mdb_dbi_open(txn, store_dbi_names[i], s->read_only ? 0 : MDB_CREATE, &s->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND)
                return cs_fail(d, CS_ECORRUPT, "data", "%s is not a caisse store (no \"%s\" table)",
                               dir, store_dbi_names[i]);
            return cs_fail(d, store_err(rc), "data", "cannot open table %s in %s: %s",
                           store_dbi_names[i], dir, mdb_strerror(rc));
        }
    }
    MDB_val k = { 6, (void *)"format" }, v;
    rc = mdb_get(txn, s->dbi[DBI_META], &k, &v);
    if (rc == MDB_NOTFOUND && !s->read_only) {
        v.mv_size = strlen(STORE_FORMAT_TAG);
        v.mv_data = (void *)STORE_FORMAT_TAG;
        rc = mdb_put(txn, s->dbi[DBI_META], &k, &v, 0);
    } else if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return cs_fail(d, CS_ECORRUPT, "data", "%s is not a caisse store (no format tag)", dir);
    } else if (rc == 0 && (v.mv_size != strlen(STORE_FORMAT_TAG) ||
                           memcmp(v.mv_data, STORE_FORMAT_TAG, v.mv_size) != 0)) {
        mdb_txn_abort(txn);
        return cs_fail(d, CS_ECORRUPT, "data", "%s has an unknown store format \"%.*s\"", dir,
                       (int)(v.mv_size > 64 ? 64 : v.mv_size), (const char *)v.mv_data);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return cs_fail(d, store_err(rc), "data", "cannot read the format of %s: %s", dir,
                       mdb_strerror(rc));
    }
    /* Committing (even read-only) makes the DBI handles valid for later txns. */
    rc = mdb_txn_commit(txn);
    if (rc)
        return cs_fail(d, store_err(rc), "data", "cannot initialise %s: %s", dir, mdb_strerror(rc));
    return 0;
}

int store_open_internal(struct store **out, const char *dir, const struct store_options *opt,
                        unsigned internal_flags, struct cs_diag *d)
{
    static const struct store_options defaults;
    *out = NULL;
    if (!opt)
        opt = &defaults;
    if (!dir || !*dir)
        return cs_fail(d, CS_EPARAM, "data", "no data directory given");
    if (!opt->allow_unsafe) {
        for (size_t i = 0; i < sizeof unsafe_flags / sizeof unsafe_flags[0]; i++)
            if (opt->env_flags & unsafe_flags[i].flag)
                return cs_fail(d, CS_EPARAM, "env_flags",
                               "%s can lose acknowledged writes; refused without allow_unsafe",
                               unsafe_flags[i].name);
    }
    uint64_t initial = opt->map_bytes_initial ? opt->map_bytes_initial : CS_STORE_MAP_BYTES_INITIAL;
    uint64_t max = opt->map_bytes_max ? opt->map_bytes_max : CS_STORE_MAP_BYTES_MAX_DEFAULT;
    if (initial > max)
        initial = max;   /* a small cap (tests, small disks) wins over the default start */
    if (!opt->read_only && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cs_fail(d, errno == ENOSPC ? CS_ESTORAGE : CS_EIO, "data", "cannot create %s: %s",
                       dir, strerror(errno));

    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return cs_fail(d, CS_ENOMEM, "data", "out of memory opening %s", dir);
    s->read_only = !!opt->read_only;
    s->map_bytes_max = max;
    pthread_mutex_init(&s->gate_mu, NULL);
    pthread_cond_init(&s->gate_cv, NULL);
    pthread_mutex_init(&s->cache_mu, NULL);

    int err;
    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        err = cs_fail(d, store_err(rc), "data", "cannot create an LMDB environment: %s",
                      mdb_strerror(rc));
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, CS_STORE_MAX_DBS)) ||
        (rc = mdb_env_set_maxreaders(s->env, CS_STORE_MAX_READERS))) {
        err = cs_fail(d, store_err(rc), "data", "cannot configure the environment: %s",
                      mdb_strerror(rc));
        goto fail;
    }
    unsigned flags = MDB_NOTLS | opt->env_flags | internal_flags | (s->read_only ? MDB_RDONLY : 0);
    rc = mdb_env_open(s->env, dir, flags, 0600);
    if (rc) {
        err = cs_fail(d, rc == ENOENT ? CS_ENOENT : store_err(rc), "data",
                      "cannot open the store in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    /* The map size is set after opening: with no size configured LMDB adopts
     * the one recorded in an existing file (a map grown earlier stays grown),
     * whereas a configured size would shrink it to just the used pages. */
    map_refresh(s);
    if (s->map_bytes < initial && !s->read_only) {
        if ((rc = mdb_env_set_mapsize(s->env, (size_t)initial))) {
            err = cs_fail(d, store_err(rc), "data", "cannot size the map of %s: %s", dir,
                          mdb_strerror(rc));
            goto fail;
        }
        map_refresh(s);
    }
    if (s->map_bytes > s->map_bytes_max && !s->read_only) {
        /* The file was grown earlier past today's cap: shrink the map to the
         * cap (LMDB keeps it at least as large as the pages in use). */
        if ((rc = mdb_env_set_mapsize(s->env, (size_t)s->map_bytes_max))) {
            err = cs_fail(d, store_err(rc), "data", "cannot size the map of %s: %s", dir,
                          mdb_strerror(rc));
            goto fail;
        }
        map_refresh(s);
    }
    if (s->map_bytes > s->map_bytes_max)
        s->map_bytes_max = s->map_bytes;
    if ((err = open_dbis(s, dir, d)))
        goto fail;
    *out = s;
    return 0;
fail:
    if (s->env)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->gate_mu);
    pthread_cond_destroy(&s->gate_cv);
    pthread_mutex_destroy(&s->cache_mu);
    free(s);
    return err;
}

int store_open(struct store **out, const char *dir, const struct store_options *opt,
               struct cs_diag *d)
{
    return store_open_internal(out, dir, opt, 0, d);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    /* Every transaction must have ended: LMDB frees their memory with the env. */
    STORE_ALWAYS(s->gate_shared == 0, "store_close with %u transactions open", s->gate_shared);
    cache_drain(s);
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->gate_mu);
    pthread_cond_destroy(&s->gate_cv);
    pthread_mutex_destroy(&s->cache_mu);
    free(s);
}

/* ---- shared helpers ------------------------------------------------------- */

int store_cursor_below(MDB_cursor *c, const MDB_val *bound, MDB_val *k, MDB_val *v)
{
    MDB_val key = *bound;
    int rc = mdb_cursor_get(c, &key, v, MDB_SET_RANGE);
    if (rc == 0)
        return mdb_cursor_get(c, k, v, MDB_PREV);
    if (rc == MDB_NOTFOUND)
        return mdb_cursor_get(c, k, v, MDB_LAST);
    return rc;
}

/* mdb_reader_list hands over one text line a reader slot: "pid thread txnid". */
struct reader_scan {
    long self, other;
};

static int reader_line(const char *msg, void *ctx)
{
    struct reader_scan *r = ctx;
    char *end;
    long pid = strtol(msg, &end, 10);
    if (end != msg && pid > 0 && pid != r->self && !r->other)
        r->other = pid;
    return 0;
}

long store_other_process(struct store *s)
{
    int dead = 0;
    mdb_reader_check(s->env, &dead);   /* slots of processes that died are freed first */
    struct reader_scan r = {(long)getpid(), 0};
    mdb_reader_list(s->env, reader_line, &r);
    return r.other;
}
