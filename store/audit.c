/* `caisse audit verify`: walks the whole log checking the record format,
 * contiguous sequences from 1, the hash chain, the head, and that the streams
 * projection indexes exactly the events' aggregates and versions. */
#include <string.h>
#include "store/store_internal.h"

/* Checks one record at `seq` against the chain; *why names the first problem. */
static int check_record(MDB_txn *txn, const MDB_dbi *dbi, uint64_t seq, const MDB_val *rec,
                        const uint8_t prev[STORE_HASH_BYTES], uint8_t hash_out[STORE_HASH_BYTES],
                        const char **why)
{
    const uint8_t *hash;
    const char *json;
    size_t len;
    uint8_t want[STORE_HASH_BYTES];
    struct event_view v;
    if (store_record_split(rec, &hash, &json, &len)) {
        *why = "bad record format or length";
        return CS_ECORRUPT;
    }
    store_chain_hash(prev, json, len, want);
    if (memcmp(want, hash, STORE_HASH_BYTES) != 0) {
        *why = "chain hash mismatch";
        return CS_ECORRUPT;
    }
    if (store_event_decode(json, len, &v)) {
        *why = "event JSON does not decode";
        return CS_ECORRUPT;
    }
    int err = 0;
    uint8_t kb[CS_ID_BYTES_MAX + 9];
    if (v.seq != seq) {
        *why = "the event's seq differs from its key";
        err = CS_ECORRUPT;
    } else if (strlen(v.aggregate_id) >= CS_ID_BYTES_MAX) {
        *why = "aggregate id too long";
        err = CS_ECORRUPT;
    } else {
        MDB_val k = { store_stream_key(kb, v.aggregate_id, v.aggregate_version), kb }, sv;
        int rc = mdb_get(txn, dbi[DBI_STREAMS], &k, &sv);
        if (rc == MDB_NOTFOUND) {
            *why = "no streams entry for its aggregate version";
            err = CS_ECORRUPT;
        } else if (rc) {
            *why = "cannot read streams";
            err = store_err(rc);
        } else if (sv.mv_size != 8 || be64_get(sv.mv_data) != seq) {
            *why = "streams entry for its aggregate version points elsewhere";
            err = CS_ECORRUPT;
        }
    }
    event_view_clear(&v);
    memcpy(hash_out, hash, STORE_HASH_BYTES);
    return err;
}

/* The streams DBI has more entries than the log has events: find one that
 * no event justifies. */
static uint64_t find_stray_stream(struct store_txn *t)
{
    MDB_cursor *c;
    if (mdb_cursor_open(t->txn, t->store->dbi[DBI_STREAMS], &c))
        return 0;
    MDB_val k, v;
    uint64_t bad = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !bad;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct event_view ev;
        uint64_t seq = v.mv_size == 8 ? be64_get(v.mv_data) : 0;
        const uint8_t *kp = k.mv_data;
        if (k.mv_size < 10 || store_event_get(t, seq, &ev)) {
            bad = seq ? seq : 1;
            t->err = 0;   /* our own probe: do not let it poison the walk */
            continue;
        }
        size_t n = k.mv_size - 9;
        if (strlen(ev.aggregate_id) != n || memcmp(ev.aggregate_id, kp, n) != 0 || kp[n] != 0 ||
            be64_get(kp + n + 1) != ev.aggregate_version)
            bad = seq;
        event_view_clear(&ev);
    }
    mdb_cursor_close(c);
    return bad ? bad : 1;
}

int store_audit_verify(struct store *s, uint64_t *count, uint64_t *bad_seq, struct cs_diag *d)
{
    *count = 0;
    *bad_seq = 0;
    struct store_txn t;
    int err = store_read_begin(s, &t);
    if (err)
        return cs_fail(d, err, "data", "cannot begin a read transaction");
    const MDB_dbi *dbi = s->dbi;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t.txn, dbi[DBI_LOG], &c);
    if (rc) {
        store_abort(&t);
        return cs_fail(d, store_err(rc), "data", "cannot read the log: %s", mdb_strerror(rc));
    }
    uint8_t prev[STORE_HASH_BYTES] = { 0 };
    uint64_t expect = 1;
    const char *why = NULL;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || be64_get(k.mv_data) != expect) {
            why = "missing (the sequence has a gap)";
            err = CS_ECORRUPT;
        } else {
            err = check_record(t.txn, dbi, expect, &v, prev, prev, &why);
        }
        if (err)
            break;
        expect++;
    }
    mdb_cursor_close(c);
    *count = expect - 1;
    if (!err && rc != MDB_NOTFOUND) {
        err = store_err(rc);
        why = mdb_strerror(rc);
    }
    if (err) {
        *bad_seq = expect;
        store_abort(&t);
        return cs_fail(d, err, "seq", "event %llu: %s", (unsigned long long)expect, why);
    }

    uint64_t head;
    uint8_t head_hash[STORE_HASH_BYTES];
    err = store_head_raw(t.txn, dbi, &head, head_hash);
    if (!err && (head != *count || memcmp(head_hash, prev, STORE_HASH_BYTES) != 0)) {
        /* The head is meta, not an event: name the first event it disagrees about. */
        *bad_seq = head < *count ? head + 1 : (head > *count ? *count + 1 : *count);
        err = cs_fail(d, CS_ECORRUPT, "seq", "head says seq %llu, the log ends at %llu%s",
                      (unsigned long long)head, (unsigned long long)*count,
                      head == *count ? " with another hash" : "");
    } else if (err) {
        err = cs_fail(d, err, "data", "cannot read the head");
    }
    MDB_stat st;
    if (!err && (rc = mdb_stat(t.txn, dbi[DBI_STREAMS], &st)))
        err = cs_fail(d, store_err(rc), "data", "cannot stat streams: %s", mdb_strerror(rc));
    if (!err && st.ms_entries != *count) {
        *bad_seq = find_stray_stream(&t);
        err = cs_fail(d, CS_ECORRUPT, "seq",
                      "streams has %zu entries for %llu events (first unjustified near event %llu)",
                      st.ms_entries, (unsigned long long)*count, (unsigned long long)*bad_seq);
    }
    store_abort(&t);
    return err;
}
