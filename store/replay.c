/* `caisse replay`: rebuilds every projection from the log into a fresh
 * environment, through the same folds as store_event_append, and compares a
 * digest per projection with the live store at the same sequence. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "store/store_internal.h"

/* The scratch directory must be new or empty: we never mix a rebuild with
 * leftovers. */
static int scratch_prepare(const char *dir, struct cs_diag *d)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return cs_fail(d, CS_EIO, "scratch", "cannot create %s: %s", dir, strerror(errno));
    DIR *dh = opendir(dir);
    if (!dh)
        return cs_fail(d, CS_EIO, "scratch", "cannot read %s: %s", dir, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(dh)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(dh);
    return empty ? 0 : cs_fail(d, CS_EPARAM, "scratch", "%s is not empty", dir);
}

static void hex(const uint8_t *b, char out[2 * STORE_HASH_BYTES + 1])
{
    for (unsigned i = 0; i < STORE_HASH_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Copies up to STORE_REPLAY_BATCH events starting at *seq from the live log
 * (cursor c) into w, verifying the chain. A problem in the live log returns
 * CS_ECORRUPT (why says what); a failure to write the scratch store is left
 * sticky in w for store_commit to report. */
static int replay_batch(MDB_cursor *c, struct store_txn *w, uint64_t *seq, uint64_t head,
                        uint8_t prev[STORE_HASH_BYTES], const char **why)
{
    uint8_t kb[8];
    be64_put(kb, *seq);
    MDB_val k = { 8, kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    for (unsigned n = 0; n < STORE_REPLAY_BATCH && *seq <= head; n++) {
        if (rc && rc != MDB_NOTFOUND) {
            *why = mdb_strerror(rc);
            return store_err(rc);
        }
        if (rc == MDB_NOTFOUND || k.mv_size != 8 || be64_get(k.mv_data) != *seq) {
            *why = "missing (the sequence has a gap)";
            return CS_ECORRUPT;
        }
        const uint8_t *hash;
        const char *json;
        size_t len;
        uint8_t want[STORE_HASH_BYTES];
        struct event_view ev;
        if (store_record_split(&v, &hash, &json, &len)) {
            *why = "bad record format or length";
            return CS_ECORRUPT;
        }
        store_chain_hash(prev, json, len, want);
        if (memcmp(want, hash, STORE_HASH_BYTES) != 0) {
            *why = "chain hash mismatch";
            return CS_ECORRUPT;
        }
        if (store_event_decode(json, len, &ev) || ev.seq != *seq) {
            event_view_clear(&ev);
            *why = "event JSON does not decode or names another seq";
            return CS_ECORRUPT;
        }
        int err = store_log_put(w->txn, w->store->dbi, *seq, v.mv_data, v.mv_size);
        if (!err)
            err = store_projections_apply(w->txn, w->store->dbi, &ev);
        event_view_clear(&ev);
        if (err) {
            store_txn_fail(w, err);
            return 0;
        }
        memcpy(prev, hash, STORE_HASH_BYTES);
        (*seq)++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    return 0;
}

/* Rebuilds events 1..head into `fresh`. */
static int rebuild(struct store_txn *live, struct store *fresh, uint64_t head,
                   const uint8_t head_hash[STORE_HASH_BYTES], uint64_t *done, FILE *report,
                   struct cs_diag *d)
{
    *done = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(live->txn, live->store->dbi[DBI_LOG], &c);
    if (rc)
        return cs_fail(d, store_err(rc), "data", "cannot read the log: %s", mdb_strerror(rc));
    uint8_t prev[STORE_HASH_BYTES] = { 0 };
    uint64_t seq = 1;
    int err = 0;
    while (seq <= head && !err) {
        uint64_t batch_seq = seq;
        uint8_t batch_prev[STORE_HASH_BYTES];
        memcpy(batch_prev, prev, sizeof prev);
        struct store_txn w;
        const char *why = NULL;
        if ((err = store_write_begin(fresh, &w))) {
            cs_fail(d, err, "scratch", "cannot write the scratch store");
            break;
        }
        err = replay_batch(c, &w, &seq, head, prev, &why);
        if (err) {
            store_abort(&w);
            if (report)
                fprintf(report, "log: chain broken at event %llu: %s\n", (unsigned long long)seq, why);
            cs_fail(d, err, "seq", "event %llu: %s", (unsigned long long)seq, why);
            break;
        }
        err = store_commit(&w, NULL);
        if (err == CS_ESTORAGE && store_grow(fresh) == 0) {
            seq = batch_seq;   /* the batch was rolled back: redo it in the larger map */
            memcpy(prev, batch_prev, sizeof prev);
            err = 0;
        } else if (err) {
            cs_fail(d, err, "scratch", "cannot write the scratch store at event %llu",
                    (unsigned long long)batch_seq);
        }
    }
    mdb_cursor_close(c);
    *done = seq - 1;
    if (!err && memcmp(prev, head_hash, STORE_HASH_BYTES) != 0) {
        if (report)
            fprintf(report, "log: the head's hash is not the chain's\n");
        err = cs_fail(d, CS_ECORRUPT, "seq", "event %llu: the head's hash is not the chain's",
                      (unsigned long long)head);
    }
    return err;
}

/* Compares every projection's digest, writing one report line each. */
static int compare(struct store_txn *live, struct store_txn *fresh, FILE *report, unsigned char *differs,
                   struct cs_diag *d)
{
    int err = 0;
    for (unsigned i = 0; i < store_projections_n; i++) {
        const struct store_projection *p = &store_projections[i];
        uint8_t a[STORE_HASH_BYTES], b[STORE_HASH_BYTES];
        uint64_t n, live_n;
        int e = store_projection_digest_raw(fresh->txn, fresh->store->dbi, p, a, &n);
        if (!e)
            e = store_projection_digest_raw(live->txn, live->store->dbi, p, b, &live_n);
        if (e)
            return cs_fail(d, e, "projection", "cannot digest projection %s", p->name);
        int same = memcmp(a, b, sizeof a) == 0;
        if (differs)
            differs[i] = !same;
        char ha[2 * STORE_HASH_BYTES + 1], hb[2 * STORE_HASH_BYTES + 1];
        hex(a, ha);
        hex(b, hb);
        if (report)
            fprintf(report, "projection %s: %llu entries, digest %s live %s \xe2\x80\x94 %s\n",
                    p->name, (unsigned long long)n, ha, hb, same ? "equal" : "DIFFERENT");
        if (!same && !err)
            err = cs_fail(d, CS_ECORRUPT, "projection",
                          "projection %s differs from a replay of the log (%llu entries live, %llu rebuilt)",
                          p->name, (unsigned long long)live_n, (unsigned long long)n);
    }
    return err;
}

/* The rebuild shared by replay and the in-place rebuild: the live snapshot at
 * head H, the scratch store built from it, and the comparison of every
 * projection (differs[i]: projection i is not what the log gives). Returns 0
 * if all are equal, CS_ECORRUPT if any differs (d says which, the report every
 * one), another error if the log or the scratch store failed. On return the
 * live transaction is ended; *fresh is open unless an error other than
 * CS_ECORRUPT came back. */
static int build_and_compare(struct store *s, const char *scratch_dir, FILE *report, struct store **fresh_out,
                             uint64_t *head_out, unsigned char *differs, struct cs_diag *d)
{
    *fresh_out = NULL;
    if (!scratch_dir || !*scratch_dir)
        return cs_fail(d, CS_EPARAM, "scratch", "no scratch directory given");
    int err = scratch_prepare(scratch_dir, d);
    if (err)
        return err;
    /* One read transaction is the live snapshot for the whole run: the walk
     * and the live digests are both at head H. */
    struct store_txn live;
    if ((err = store_read_begin(s, &live)))
        return cs_fail(d, err, "data", "cannot begin a read transaction");
    uint64_t head;
    uint8_t head_hash[STORE_HASH_BYTES];
    if ((err = store_head_raw(live.txn, s->dbi, &head, head_hash))) {
        store_abort(&live);
        return cs_fail(d, err, "data", "cannot read the head");
    }
    /* The scratch store is thrown away, so it need not fsync; it starts as
     * large as the live map so that growth is the exception. */
    struct store_options o = { .map_bytes_initial = store_map_bytes(s),
                               .map_bytes_max = s->map_bytes_max };
    struct store *fresh;
    if ((err = store_open_internal(&fresh, scratch_dir, &o, MDB_NOSYNC, d))) {
        store_abort(&live);
        return err;
    }
    uint64_t done;
    int compared = 0;
    err = rebuild(&live, fresh, head, head_hash, &done, report, d);
    if (!err) {
        struct store_txn r;
        if ((err = store_read_begin(fresh, &r))) {
            cs_fail(d, err, "scratch", "cannot read the scratch store");
        } else {
            err = compare(&live, &r, report, differs, d);
            compared = err == 0 || err == CS_ECORRUPT;
            store_abort(&r);
        }
    }
    if (report)
        fprintf(report, "total: %llu events, head seq %llu%s\n", (unsigned long long)done,
                (unsigned long long)head, err && (!differs || !compared) ? " \xe2\x80\x94 FAILED" : "");
    store_abort(&live);
    if (!compared) {
        store_close(fresh);
        return err;
    }
    *fresh_out = fresh;
    *head_out = head;
    return err;
}

int store_replay(struct store *s, const char *scratch_dir, FILE *report, struct cs_diag *d)
{
    struct store *fresh;
    uint64_t head;
    int err = build_and_compare(s, scratch_dir, report, &fresh, &head, NULL, d);
    if (fresh)
        store_close(fresh);
    return err;
}

/* Empties the live DBI and fills it with the scratch one's entries (in key
 * order, so appended). */
static int copy_dbi(MDB_txn *w, MDB_dbi to, MDB_txn *r, MDB_dbi from, uint64_t *entries)
{
    int rc = mdb_drop(w, to, 0);
    if (rc)
        return store_err(rc);
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(r, from, &c)))
        return store_err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int prc = mdb_put(w, to, &k, &v, MDB_APPEND);
        if (prc) {
            rc = prc;
            break;
        }
        (*entries)++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* Replaces, in one write transaction of the live store, every projection
 * marked in differs[] by the scratch store's. */
static int swap_projections(struct store *s, struct store *fresh, uint64_t head, const unsigned char *differs,
                            FILE *report, unsigned *rebuilt, struct cs_diag *d)
{
    *rebuilt = 0;
    struct store_txn w, r = {0};
    int err = store_write_begin(s, &w);
    if (err)
        return cs_fail(d, err, "data", "cannot begin a write transaction");
    uint64_t now_head;
    uint8_t now_hash[STORE_HASH_BYTES];
    if ((err = store_head_raw(w.txn, s->dbi, &now_head, now_hash)) == 0 && now_head != head)
        err = cs_fail(d, CS_ECONFLICT, "data",
                      "the log grew during the rebuild (head %llu, now %llu): stop the server and run it again",
                      (unsigned long long)head, (unsigned long long)now_head);
    if (!err && (err = store_read_begin(fresh, &r)))
        cs_fail(d, err, "scratch", "cannot read the scratch store");
    for (unsigned i = 0; !err && i < store_projections_n; i++) {
        if (!differs[i])
            continue;
        const struct store_projection *p = &store_projections[i];
        uint64_t entries = 0;
        for (unsigned j = 0; !err && j < p->n_dbis; j++)
            if ((err = copy_dbi(w.txn, s->dbi[p->dbis[j]], r.txn, fresh->dbi[p->dbis[j]], &entries)))
                cs_fail(d, err, "projection", "cannot rewrite projection %s", p->name);
        if (!err) {
            (*rebuilt)++;
            if (report)
                fprintf(report, "projection %s: rebuilt from the log, %llu entries\n", p->name,
                        (unsigned long long)entries);
        }
    }
    if (r.txn)
        store_abort(&r);
    if (err) {
        store_abort(&w);
        *rebuilt = 0;
        return err;
    }
    if ((err = store_commit(&w, NULL))) {
        *rebuilt = 0;
        return cs_fail(d, err, "data", "the rebuilt projections could not be committed");
    }
    return 0;
}

int store_projections_rebuild(struct store *s, const char *scratch_dir, FILE *report, unsigned *rebuilt,
                              struct cs_diag *d)
{
    *rebuilt = 0;
    if (s->read_only)
        return cs_fail(d, CS_EPARAM, "data", "the store is open read-only");
    struct store *fresh;
    uint64_t head;
    unsigned char differs[64] = {0};
    if (store_projections_n > sizeof differs)
        return cs_fail(d, CS_EINTERNAL, "", "more projections than the rebuild can track");
    struct cs_diag cmp = {0};
    int err = build_and_compare(s, scratch_dir, report, &fresh, &head, differs, &cmp);
    if (err != 0 && !fresh) {   /* the log or the scratch store failed: no comparison */
        *d = cmp;
        return err;
    }
    if (err == 0) {
        store_close(fresh);
        if (report)
            fprintf(report, "nothing to rebuild: every projection is what the log gives\n");
        return 0;
    }
    /* One write transaction swaps every differing projection: a crash leaves
     * all of them as they were or all rebuilt. A map too small for it grows
     * and the swap starts again. */
    for (;;) {
        err = swap_projections(s, fresh, head, differs, report, rebuilt, d);
        if (err == CS_ESTORAGE && store_grow(s) == 0) {
            if (report)
                fprintf(report, "the map grew; swapping again\n");
            continue;
        }
        break;
    }
    store_close(fresh);
    return err;
}
