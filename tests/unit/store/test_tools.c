/* Operator tools: audit verify, replay, events dump; and what they say after
 * the environment is tampered with directly through LMDB. */
#include "tests/unit/store/store_test.h"

/* Events: 1 merchant.created mer_1, 2 merchant.created mer_2, 3 order.created
 * ord_1 (mer_1 test), 4 order.approved ord_1, 5 order.created ord_2 (mer_1
 * live), 6 order.created ord_3 (mer_2), 7 widget.spun (no merchant),
 * 8 order.confirmed ord_1. Event n is dated n ms after the epoch. */
static void populate(struct store *s)
{
    struct store_txn t;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    int e = 0;
    e |= t_append(&t, "evt_1", "merchant.created", "mer_1", 0, "mer_1", 0, 1000,
                  "{\"merchant\":{\"id\":\"mer_1\"},\"api_keys\":[{\"sha256\":"
                  "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"livemode\":false}]}", NULL);
    e |= t_append(&t, "evt_2", "merchant.created", "mer_2", 0, "mer_2", 0, 2000,
                  "{\"merchant\":{\"id\":\"mer_2\"},\"api_keys\":[]}", NULL);
    e |= t_append(&t, "evt_3", "order.created", "ord_1", 0, "mer_1", 0, 3000,
                  "{\"order\":{\"id\":\"ord_1\",\"status\":\"pending\",\"amount\":990,\"ratio\":0.1}}", NULL);
    e |= t_append(&t, "evt_4", "order.approved", "ord_1", 1, "mer_1", 0, 4000,
                  "{\"risk_decision\":\"approved\"}", NULL);
    e |= t_append(&t, "evt_5", "order.created", "ord_2", 0, "mer_1", 1, 5000,
                  "{\"order\":{\"id\":\"ord_2\",\"status\":\"pending\",\"note\":\"a\\u0000b \\u00e9\"}}", NULL);
    e |= t_append(&t, "evt_6", "order.created", "ord_3", 0, "mer_2", 0, 6000,
                  "{\"order\":{\"id\":\"ord_3\",\"status\":\"pending\"}}", NULL);
    e |= t_append(&t, "evt_7", "widget.spun", "wid_1", 0, NULL, 0, 7000, "{}", NULL);
    e |= t_append(&t, "evt_8", "order.confirmed", "ord_1", 2, "mer_1", 0, 8000,
                  "{\"confirmed_at\":\"1970-01-01T00:00:08.000000Z\"}", NULL);
    EQ_ERR(e, 0, "populate");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");
}

/* ---- direct LMDB access (the store must be closed) ------------------------- */

static MDB_env *raw_env;
static MDB_txn *raw_txn;

static MDB_dbi raw_begin(const char *dir, const char *db)
{
    MDB_dbi dbi;
    if (mdb_env_create(&raw_env) || mdb_env_set_maxdbs(raw_env, 32) ||
        mdb_env_open(raw_env, dir, 0, 0600) || mdb_txn_begin(raw_env, NULL, 0, &raw_txn) ||
        mdb_dbi_open(raw_txn, db, 0, &dbi)) {
        printf("# raw LMDB open failed\n");
        exit(2);
    }
    return dbi;
}

static void raw_end(void)
{
    if (mdb_txn_commit(raw_txn))
        exit(2);
    mdb_env_close(raw_env);
}

static void raw_put(const char *dir, const char *db, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_dbi dbi = raw_begin(dir, db);
    MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
    if (mdb_put(raw_txn, dbi, &key, &val, 0))
        exit(2);
    raw_end();
}

static void raw_del(const char *dir, const char *db, const void *k, size_t kl)
{
    MDB_dbi dbi = raw_begin(dir, db);
    MDB_val key = { kl, (void *)k };
    if (mdb_del(raw_txn, dbi, &key, NULL))
        exit(2);
    raw_end();
}

/* Replaces byte `off` of log record `seq`. */
static void raw_poke_log(const char *dir, uint64_t seq, size_t off, char byte)
{
    MDB_dbi dbi = raw_begin(dir, "log");
    uint8_t kb[8];
    for (int i = 7; i >= 0; i--, seq >>= 8)
        kb[i] = (uint8_t)seq;
    MDB_val key = { 8, kb }, val;
    if (mdb_get(raw_txn, dbi, &key, &val) || off >= val.mv_size)
        exit(2);
    char *copy = malloc(val.mv_size);
    memcpy(copy, val.mv_data, val.mv_size);
    copy[off] = byte;
    val.mv_data = copy;
    if (mdb_put(raw_txn, dbi, &key, &val, 0))
        exit(2);
    free(copy);
    raw_end();
}

/* ---- dump ---------------------------------------------------------------- */

/* Dumps with f and returns the seqs of the lines, "1,2,3". */
static const char *dump_seqs(struct store *s, const struct dump_filter *f, int *err, int *exact)
{
    static char out[256];
    char *buf = NULL;
    size_t len = 0;
    uint64_t count = 0;
    FILE *m = open_memstream(&buf, &len);
    *err = store_events_dump(s, f, m, &count);
    fclose(m);
    out[0] = 0;
    *exact = 1;
    struct store_txn r;
    store_read_begin(s, &r);
    uint64_t lines = 0;
    for (char *line = buf, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        json_t *j = json_loadb(line, (size_t)(nl - line), JSON_ALLOW_NUL, NULL);
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
        json_decref(j);
        struct event_view v;
        if (store_event_get(&r, seq, &v) || v.json_len != (size_t)(nl - line) ||
            memcmp(v.json, line, v.json_len) != 0)
            *exact = 0;
        event_view_clear(&v);
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%llu", lines ? "," : "",
                 (unsigned long long)seq);
        lines++;
    }
    store_abort(&r);
    if (lines != count)
        *exact = 0;
    free(buf);
    return out;
}

static void test_dump(struct store *s)
{
    int err, exact;
    struct dump_filter f = { NULL, NULL, 0, UINT64_MAX, 0, INT64_MAX };
    EQ_STR(dump_seqs(s, &f, &err, &exact), "1,2,3,4,5,6,7,8", "dump all");
    OK(!err && exact, "lines are the stored JSON exactly, count matches");
    EQ_STR(dump_seqs(s, NULL, &err, &exact), "1,2,3,4,5,6,7,8", "NULL filter: all");
    struct dump_filter zero = { 0 };
    EQ_STR(dump_seqs(s, &zero, &err, &exact), "", "zeroed filter: to_seq 0 is a bound (nothing)");
    f.merchant_id = "mer_1";
    EQ_STR(dump_seqs(s, &f, &err, &exact), "1,3,4,5,8", "merchant filter (both modes)");
    f.type = "order.created";
    EQ_STR(dump_seqs(s, &f, &err, &exact), "3,5", "merchant + exact type");
    f.merchant_id = NULL;
    f.type = "order.*";
    EQ_STR(dump_seqs(s, &f, &err, &exact), "3,4,5,6,8", "type prefix");
    f.type = NULL;
    f.from_seq = 4;
    f.to_seq = 6;
    EQ_STR(dump_seqs(s, &f, &err, &exact), "4,5,6", "seq range, inclusive");
    f.from_seq = 0;
    f.to_seq = UINT64_MAX;
    f.from_us = 2000;
    f.to_us = 3000;
    EQ_STR(dump_seqs(s, &f, &err, &exact), "2,3", "time range, inclusive");
    f.from_us = 0;
    f.to_us = INT64_MAX;
    f.merchant_id = "mer_9";
    EQ_STR(dump_seqs(s, &f, &err, &exact), "", "unknown merchant: nothing");
    EQ_ERR(err, 0, "and no error");
}

/* ---- replay -------------------------------------------------------------- */

static int replay(struct store *s, const char *dir, const char *sub, char **report, struct cs_diag *d)
{
    char scratch[256];
    snprintf(scratch, sizeof scratch, "%s/%s", dir, sub);
    size_t len;
    FILE *m = open_memstream(report, &len);
    memset(d, 0, sizeof *d);
    int err = store_replay(s, scratch, m, d);
    fclose(m);
    return err;
}

static int count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
        n++;
    return n;
}

int main(void)
{
    char *dir = t_tmpdir();
    char logdir[256];
    snprintf(logdir, sizeof logdir, "%s/data", dir);
    struct store *s = t_open(logdir, NULL);
    populate(s);

    uint64_t count = 0, bad = 99;
    struct cs_diag d = { 0 };
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), 0, "audit: a good log verifies");
    EQ_INT(count, 8, "audit checked 8 events");
    EQ_INT(bad, 0, "no bad seq");

    test_dump(s);

    char *report = NULL;
    EQ_ERR(replay(s, dir, "scratch1", &report, &d), 0, "replay: equal on a good store");
    /* every projection of the registry (it grows with the domains) is equal */
    OK(count_substr(report, "projection ") >= 5, "every projection is reported");
    EQ_INT(count_substr(report, " \xe2\x80\x94 equal\n"), count_substr(report, "projection "), "all projections equal");
    OK(strstr(report, "projection streams: 8 entries, digest ") != NULL, "streams line");
    OK(strstr(report, "projection merchants: 3 entries, digest ") != NULL, "merchants line (2 + 1 key)");
    OK(strstr(report, "projection orders: 6 entries, digest ") != NULL, "orders line (3 + 3 index)");
    OK(strstr(report, "projection events_by_merchant: 7 entries, digest ") != NULL, "events line");
    OK(strstr(report, "total: 8 events, head seq 8\n") != NULL, "total line");
    for (char *line = report, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        printf("# %.*s\n", (int)(nl - line), line);
    free(report);
    EQ_ERR(replay(s, dir, "scratch1", &report, &d), CS_EPARAM, "replay into a non-empty scratch: CS_EPARAM");
    free(report);

    /* Tamper with a projection value: replay must see it. */
    store_close(s);
    raw_put(logdir, "orders", "ord_1", 5, "{\"id\":\"ord_1\",\"status\":\"refunded\"}", 35);
    s = t_open(logdir, NULL);
    EQ_ERR(replay(s, dir, "scratch2", &report, &d), CS_ECORRUPT, "replay after tampering: CS_ECORRUPT");
    OK(strstr(report, "projection orders: 6 entries") && strstr(report, "DIFFERENT\n"), "orders DIFFERENT");
    EQ_INT(count_substr(report, "DIFFERENT"), 1, "only orders differs");
    OK(strstr(d.message, "orders") != NULL, "diag names the projection: %s", d.message);
    free(report);
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), 0, "audit: a projection is not the log");

    /* A missing streams entry: audit names its event. */
    store_close(s);
    uint8_t sk[16] = "ord_2";
    sk[5] = 0;
    memset(sk + 6, 0, 7);
    sk[13] = 1;
    raw_del(logdir, "streams", sk, 14);
    s = t_open(logdir, NULL);
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), CS_ECORRUPT, "audit: missing stream entry");
    EQ_INT(bad, 5, "names event 5 (ord_2 v1)");
    OK(strstr(d.message, "event 5") != NULL, "message: %s", d.message);

    /* A corrupt byte in record 3's JSON ("amount":990 -> 991), and a bad
     * format byte in record 6: audit names 3, the first. */
    store_close(s);
    raw_poke_log(logdir, 6, 0, 2);
    s = t_open(logdir, NULL);
    struct store_txn r;
    struct event_view v;
    store_read_begin(s, &r);
    EQ_ERR(store_event_get(&r, 6, &v), CS_ECORRUPT, "get of a record with a bad format byte");
    store_abort(&r);
    store_read_begin(s, &r);
    EQ_ERR(store_event_get(&r, 3, &v), 0, "get of record 3 before corruption");
    const char *p = strstr(v.json, "990");
    size_t off = 33 + (size_t)(p - v.json) + 2;
    event_view_clear(&v);
    store_abort(&r);
    store_close(s);
    raw_poke_log(logdir, 3, off, '1');
    s = t_open(logdir, NULL);
    store_read_begin(s, &r);
    EQ_ERR(store_event_get(&r, 3, &v), 0, "record 3 still decodes");
    OK(strstr(v.json, "\"amount\":991") != NULL, "with the changed byte");
    event_view_clear(&v);
    store_abort(&r);
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), CS_ECORRUPT, "audit: corrupt record");
    EQ_INT(bad, 3, "first bad seq is 3");
    OK(strstr(d.message, "event 3") && strstr(d.message, "chain hash"), "message: %s", d.message);
    EQ_INT(count, 2, "two good events before it");
    EQ_ERR(replay(s, dir, "scratch3", &report, &d), CS_ECORRUPT, "replay: broken chain");
    OK(strstr(report, "chain broken at event 3") != NULL, "report names event 3");
    free(report);
    store_close(s);
    t_rmrf(dir);
    return tap_done();
}
