/* lmdb_ceiling: what LMDB alone can do with a checkout's writes on this disk.
 *
 *   lmdb_ceiling SRC_DATA_DIR DST_DIR PER_COMMIT [--nometasync | --nosync]
 *
 * Reads every named database of a caisse data directory (after a benchmark:
 * thousands of real checkouts) and writes the same keys and values again into
 * a fresh environment in DST_DIR, PER_COMMIT checkouts per write transaction,
 * each transaction committed durably (LMDB's default: data pages, fdatasync,
 * then the meta page through its O_DSYNC descriptor). --nometasync and
 * --nosync measure what the flags caisse refuses would give (MDB_NOMETASYNC:
 * the meta page is flushed by the next commit, so the last commit is not
 * durable; MDB_NOSYNC: nothing is flushed).
 *
 * A "checkout" is one entry of the `orders` database: each database's entries
 * are walked in key order and dealt out evenly over the checkouts, so commit k
 * carries 1/N of every database, as the server's commit k did (its keys grow
 * with time: sequence numbers and time-ordered ids). No HTTP, no JSON, no Lua,
 * no hashing: the figure is an upper bound for the durable write path of the
 * server on the same machine, printed by tools/bench/run.sh beside it.
 *
 * Prints one line: BENCH_LMDB per_commit=… checkouts=… commits=… seconds=…
 * checkouts_per_s=… commit_ms_mean=… commit_ms_p99=… file_kib_per_checkout=… flags=… */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DBS 64

struct entry { MDB_val k, v; };

struct db {
    char name[128];
    unsigned flags;
    struct entry *e;
    size_t n, cap;
    MDB_dbi dst;
};

static void die(const char *what, int rc)
{
    fprintf(stderr, "lmdb_ceiling: %s: %s\n", what, rc ? mdb_strerror(rc) : strerror(errno));
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory", 0);
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static MDB_val copy_val(MDB_val v)
{
    MDB_val c = {v.mv_size, xmalloc(v.mv_size)};
    memcpy(c.mv_data, v.mv_data, v.mv_size);
    return c;
}

/* Every named database of SRC with all its entries, in key order. */
static size_t read_source(const char *dir, struct db *dbs, size_t *map_bytes)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, MAX_DBS)) ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600)))
        die(dir, rc);
    MDB_envinfo info;
    mdb_env_info(env, &info);
    *map_bytes = info.me_mapsize;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) ||
        (rc = mdb_cursor_open(txn, main_dbi, &cur)))
        die("source main database", rc);
    size_t ndb = 0;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        if (ndb == MAX_DBS || k.mv_size >= sizeof dbs[0].name)
            die("too many or oddly named databases", EINVAL);
        struct db *d = &dbs[ndb];
        memcpy(d->name, k.mv_data, k.mv_size);
        d->name[k.mv_size] = 0;
        MDB_dbi dbi;
        if (mdb_dbi_open(txn, d->name, 0, &dbi) != 0)
            continue;   /* a plain key of the main database, not a sub-database */
        mdb_dbi_flags(txn, dbi, &d->flags);
        MDB_cursor *c2;
        if ((rc = mdb_cursor_open(txn, dbi, &c2)))
            die(d->name, rc);
        MDB_val k2, v2;
        while (mdb_cursor_get(c2, &k2, &v2, MDB_NEXT) == 0) {
            if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 1024;
                struct entry *e = realloc(d->e, d->cap * sizeof *e);
                if (!e)
                    die("out of memory", 0);
                d->e = e;
            }
            d->e[d->n].k = copy_val(k2);
            d->e[d->n].v = copy_val(v2);
            d->n++;
        }
        mdb_cursor_close(c2);
        ndb++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return ndb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    unsigned env_flags = 0;
    if (argc == 5 && strcmp(argv[4], "--nosync") == 0)
        env_flags = MDB_NOSYNC;
    else if (argc == 5 && strcmp(argv[4], "--nometasync") == 0)
        env_flags = MDB_NOMETASYNC;
    else if (argc != 4) {
        fprintf(stderr, "usage: lmdb_ceiling SRC_DATA_DIR DST_DIR PER_COMMIT [--nometasync | --nosync]\n");
        return 2;
    }
    long per = strtol(argv[3], NULL, 10);
    if (per < 1 || per > 100000) {
        fprintf(stderr, "lmdb_ceiling: PER_COMMIT must be 1..100000\n");
        return 2;
    }

    char probe[4096];
    snprintf(probe, sizeof probe, "%s/data.mdb", argv[2]);
    if (access(probe, F_OK) == 0) {
        fprintf(stderr, "lmdb_ceiling: %s already holds an environment: give an empty directory\n", argv[2]);
        return 2;
    }

    static struct db dbs[MAX_DBS];
    size_t map_bytes;
    size_t ndb = read_source(argv[1], dbs, &map_bytes);
    size_t units = 0;
    for (size_t i = 0; i < ndb; i++)
        if (strcmp(dbs[i].name, "orders") == 0)
            units = dbs[i].n;
    if (units == 0) {
        fprintf(stderr, "lmdb_ceiling: %s has no orders to replay\n", argv[1]);
        return 2;
    }

    MDB_env *env;
    MDB_txn *txn;
    int rc;
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, MAX_DBS)) ||
        (rc = mdb_env_set_mapsize(env, map_bytes * 2)) ||
        (rc = mdb_env_open(env, argv[2], MDB_NOTLS | env_flags, 0600)))
        die(argv[2], rc);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
        die("begin", rc);
    for (size_t i = 0; i < ndb; i++)
        if ((rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE | dbs[i].flags, &dbs[i].dst)))
            die(dbs[i].name, rc);
    if ((rc = mdb_txn_commit(txn)))
        die("commit", rc);

    size_t commits = (units + (size_t)per - 1) / (size_t)per;
    double *ms = xmalloc(commits * sizeof *ms);
    size_t *next = xmalloc(ndb * sizeof *next);
    memset(next, 0, ndb * sizeof *next);
    double t0 = now_s(), busy = 0;
    size_t c = 0;
    for (size_t u = 0; u < units; u += (size_t)per, c++) {
        size_t end = u + (size_t)per < units ? u + (size_t)per : units;
        double a = now_s();
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
            die("begin", rc);
        for (size_t i = 0; i < ndb; i++) {
            struct db *d = &dbs[i];
            /* this database's share of checkouts [0, end) */
            size_t upto = (size_t)((unsigned __int128)d->n * end / units);
            for (; next[i] < upto; next[i]++) {
                MDB_val k = d->e[next[i]].k, v = d->e[next[i]].v;
                unsigned fl = strcmp(d->name, "log") == 0 ? MDB_APPEND : 0;
                if ((rc = mdb_put(txn, d->dst, &k, &v, fl)))
                    die(d->name, rc);
            }
        }
        if ((rc = mdb_txn_commit(txn)))
            die("commit", rc);
        ms[c] = (now_s() - a) * 1e3;
        busy += ms[c];
    }
    double secs = now_s() - t0;

    /* The copy is whole: every database holds what the source held. */
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        die("begin", rc);
    for (size_t i = 0; i < ndb; i++) {
        MDB_stat s;
        if ((rc = mdb_stat(txn, dbs[i].dst, &s)))
            die(dbs[i].name, rc);
        if (s.ms_entries != dbs[i].n) {
            fprintf(stderr, "lmdb_ceiling: %s holds %zu entries, the source %zu\n", dbs[i].name,
                    (size_t)s.ms_entries, dbs[i].n);
            return 1;
        }
    }
    mdb_txn_abort(txn);

    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    qsort(ms, commits, sizeof *ms, cmp_double);
    printf("BENCH_LMDB per_commit=%ld checkouts=%zu commits=%zu seconds=%.3f checkouts_per_s=%.0f "
           "commit_ms_mean=%.3f commit_ms_p99=%.3f file_kib_per_checkout=%.2f flags=%s\n",
           per, units, commits, secs, (double)units / secs, busy / (double)commits,
           ms[commits * 99 / 100 < commits ? commits * 99 / 100 : commits - 1],
           (double)(info.me_last_pgno + 1) * st.ms_psize / 1024.0 / (double)units,
           env_flags == MDB_NOSYNC ? "nosync" : env_flags == MDB_NOMETASYNC ? "nometasync" : "durable");
    mdb_env_close(env);
    free(ms);
    free(next);
    for (size_t i = 0; i < ndb; i++) {
        for (size_t j = 0; j < dbs[i].n; j++) {
            free(dbs[i].e[j].k.mv_data);
            free(dbs[i].e[j].v.mv_data);
        }
        free(dbs[i].e);
    }
    return 0;
}
