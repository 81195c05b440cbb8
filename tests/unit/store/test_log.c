/* The log: append/get round trip, contiguous sequences, the hash chain, the
 * stored JSON's exact text, expected versions, input validation, streams. */
#include "tests/unit/store/store_test.h"   /* first: it defines _GNU_SOURCE */
#include <mbedtls/sha256.h>
#include "core/json_out.h"

#define T1 1795428000123456LL   /* 2026-11-23T10:00:00.123456Z */

static const char *want_json1 =
    "{\"id\":\"evt_1\",\"object\":\"event\",\"seq\":1,\"type\":\"order.created\","
    "\"aggregate_id\":\"ord_a\",\"aggregate_version\":1,\"merchant\":\"mer_1\",\"livemode\":false,"
    "\"actor\":\"cli\",\"created\":\"2026-11-23T10:00:00.123456Z\","
    "\"data\":{\"order\":{\"id\":\"ord_a\",\"status\":\"pending\",\"amount\":1250,\"note\":\"caf\xc3\xa9 \\\"x\\\"\"}}}";

static void chain(const uint8_t prev[32], const char *json, size_t len, uint8_t out[32])
{
    uint8_t buf[32 + 4096];
    memcpy(buf, prev, 32);
    memcpy(buf + 32, json, len);
    mbedtls_sha256_ret(buf, 32 + len, out, 0);
}

static int collect_stream(void *ctx, uint64_t version, uint64_t seq)
{
    uint64_t *a = ctx;
    a[a[0] * 2 + 1] = version;
    a[a[0] * 2 + 2] = seq;
    a[0]++;
    return 0;
}

static void test_round_trip(struct store *s)
{
    struct store_txn t;
    struct event_view out;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(t_append(&t, "evt_1", "order.created", "ord_a", STORE_VERSION_NEW, "mer_1", 0, T1,
                    "{\"order\":{\"id\":\"ord_a\",\"status\":\"pending\",\"amount\":1250,"
                    "\"note\":\"caf\xc3\xa9 \\\"x\\\"\"}}", &out),
           0, "append 1");
    EQ_INT(out.seq, 1, "first seq is 1");
    EQ_INT(out.aggregate_version, 1, "first version is 1");
    OK(out.root == NULL && out.id == NULL, "append's view has no strings or root");
    EQ_ERR(t_append(&t, "evt_2", "merchant.created", "mer_1", STORE_VERSION_NEW, "mer_1", 1,
                    951782400000000LL, "{}", &out), 0, "append 2 (other aggregate)");
    EQ_INT(out.seq, 2, "second seq is 2");
    EQ_ERR(t_append(&t, "evt_3", "order.approved", "ord_a", 1, "mer_1", 0, T1 + 1,
                    "{\"risk_decision\":\"approved\"}", &out), 0, "append 3");
    EQ_INT(out.seq, 3, "third seq is 3");
    EQ_INT(out.aggregate_version, 2, "ord_a is at version 2");
    uint64_t commit_ns = 0;
    EQ_ERR(store_commit(&t, &commit_ns), 0, "commit");
    OK(commit_ns > 0, "commit time measured");

    struct store_txn r;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    uint64_t head;
    uint8_t head_hash[32], prev[32] = { 0 }, h[32];
    EQ_ERR(store_head(&r, &head, head_hash), 0, "head");
    EQ_INT(head, 3, "head is 3");
    for (uint64_t seq = 1; seq <= 3; seq++) {
        struct event_view v;
        EQ_ERR(store_event_get(&r, seq, &v), 0, "get");
        EQ_INT(v.seq, seq, "seq round-trips");
        chain(prev, v.json, v.json_len, h);
        OK(memcmp(h, v.hash, 32) == 0, "event %llu: hash = SHA-256(prev || json)", (unsigned long long)seq);
        memcpy(prev, h, 32);
        if (seq == 1) {
            char *text = strndup(v.json, v.json_len);
            EQ_STR(text, want_json1, "stored JSON: documented key order, compact");
            free(text);
            EQ_STR(v.id, "evt_1", "id");
            EQ_STR(v.type, "order.created", "type");
            EQ_STR(v.aggregate_id, "ord_a", "aggregate_id");
            EQ_STR(v.merchant_id, "mer_1", "merchant");
            EQ_STR(v.actor, "cli", "actor");
            EQ_INT(v.time_us, T1, "time_us round-trips through created");
            EQ_INT(v.livemode, 0, "livemode");
            EQ_INT(json_integer_value(json_object_get(json_object_get(v.data, "order"), "amount")),
                   1250, "data round-trips");
        }
        if (seq == 2) {
            EQ_STR(json_string_value(json_object_get(v.root, "created")),
                   "2000-02-29T00:00:00.000000Z", "leap day formats");
            EQ_INT(v.livemode, 1, "livemode true");
        }
        if (seq == 3)
            EQ_INT(v.aggregate_version, 2, "version 2 stored");
        event_view_clear(&v);
    }
    OK(memcmp(prev, head_hash, 32) == 0, "head hash is the chain's last");
    struct event_view v;
    EQ_ERR(store_event_get(&r, 4, &v), CS_ENOENT, "get past head: CS_ENOENT");
    EQ_ERR(store_event_get(&r, 0, &v), CS_ENOENT, "get 0: CS_ENOENT");
    EQ_INT(r.err, 0, "CS_ENOENT is not sticky");
    store_abort(&r);
}

static void test_expected_version(struct store *s)
{
    struct store_txn t;
    uint64_t head, ver;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(t_append(&t, "evt_4", "order.created", "ord_a", STORE_VERSION_NEW, "mer_1", 0, T1,
                    "{}", NULL), CS_ECONFLICT, "NEW on an existing stream: CS_ECONFLICT");
    EQ_ERR(store_head(&t, &head, NULL), 0, "txn still usable after the conflict");
    EQ_INT(head, 3, "nothing written by the conflict");
    EQ_INT(t.err, 0, "conflict is not sticky");
    EQ_ERR(t_append(&t, "evt_4", "order.confirmed", "ord_a", 1, "mer_1", 0, T1, "{}", NULL),
           CS_ECONFLICT, "stale version: CS_ECONFLICT");
    EQ_ERR(t_append(&t, "evt_4", "order.confirmed", "ord_a", 5, "mer_1", 0, T1, "{}", NULL),
           CS_ECONFLICT, "future version: CS_ECONFLICT");
    EQ_ERR(t_append(&t, "evt_4", "order.review_requested", "ord_a", 2, "mer_1", 0, T1 + 2,
                    "{\"risk_decision\":\"review\"}", NULL), 0, "matching version ok");
    struct event_view out;
    EQ_ERR(t_append(&t, "evt_5", "order.note_added", "ord_a", STORE_VERSION_ANY, "mer_1", 0, T1 + 3,
                    "{}", &out), 0, "ANY ok");
    EQ_INT(out.aggregate_version, 4, "ANY appends at current + 1");
    EQ_INT(out.seq, 5, "seq 5");
    EQ_ERR(store_stream_version(&t, "ord_a", &ver), 0, "stream version in the write txn");
    EQ_INT(ver, 4, "ord_a at 4");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");

    struct store_txn r;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_stream_version(&r, "ord_a", &ver), 0, "stream version");
    EQ_INT(ver, 4, "committed version 4");
    EQ_ERR(store_stream_version(&r, "ord_", &ver), 0, "prefix of an id");
    EQ_INT(ver, 0, "a prefix of an id is another (absent) stream");
    EQ_ERR(store_stream_version(&r, "ord_ab", &ver), 0, "longer id");
    EQ_INT(ver, 0, "absent stream is at 0");
    uint64_t a[1 + 2 * 8] = { 0 };
    EQ_ERR(store_stream_each(&r, "ord_a", collect_stream, a), 0, "stream each");
    EQ_INT(a[0], 4, "four events in ord_a");
    EQ_INT(a[1], 1, "v1");
    EQ_INT(a[2], 1, "v1 is seq 1");
    EQ_INT(a[3], 2, "v2");
    EQ_INT(a[4], 3, "v2 is seq 3");
    EQ_INT(a[7], 4, "v4");
    EQ_INT(a[8], 5, "v4 is seq 5");
    store_abort(&r);
}

static void test_validation(struct store *s)
{
    struct store_txn t;
    json_t *arr = json_array();
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    struct event_in ok = { "evt_6", "order.confirmed", "ord_a", STORE_VERSION_ANY, "mer_1", 0,
                           "api_key:sk_test_ab12", T1, NULL, NULL, 0 };
    ok.data = json_object();
    struct event_in bad;
    char longid[CS_ID_BYTES_MAX + 1];
    memset(longid, 'a', CS_ID_BYTES_MAX);
    longid[CS_ID_BYTES_MAX] = 0;
    bad = ok; bad.type = "Order.Created";
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "type with capitals refused");
    bad = ok; bad.type = "";
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "empty type refused");
    bad = ok; bad.id = "evt 1";
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "id with a space refused");
    bad = ok; bad.id = "evt_\"x";
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "id with a quote refused");
    bad = ok; bad.aggregate_id = longid;
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "id of CS_ID_BYTES_MAX bytes refused");
    bad = ok; bad.actor = "api_key:sk_test_\xe2\x80\xa6";
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "non-ASCII actor refused");
    bad = ok; bad.actor = NULL;
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "no actor refused");
    bad = ok; bad.data = arr;
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "data not an object refused");
    bad = ok; bad.time_us = -1;
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "negative time refused");
    json_t *deep = json_object(), *inner = deep;
    for (int i = 0; i < 3000; i++) {
        json_t *next = json_object();
        json_object_set_new(inner, "a", next);
        inner = next;
    }
    bad = ok; bad.data = deep;
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "data that cannot be read back refused");
    json_decref(deep);
    json_t *badutf = json_object();
    json_object_set_new(badutf, "s", json_string_nocheck("\xff\xfe"));
    bad = ok; bad.data = badutf;
    EQ_ERR(store_event_append(&t, &bad, NULL), CS_EPARAM, "invalid UTF-8 in data refused");
    json_decref(badutf);
    uint64_t h;
    EQ_ERR(store_head(&t, &h, NULL), 0, "head after refusals");
    EQ_INT(h, 5, "nothing written by refusals");
    EQ_INT(t.err, 0, "validation errors are not sticky");
    EQ_ERR(store_event_append(&t, &ok, NULL), 0, "a valid event still appends");
    bad = ok; bad.id = "evt_7"; bad.merchant_id = NULL; bad.aggregate_id = "sys_1";
    EQ_ERR(store_event_append(&t, &bad, NULL), 0, "an event without merchant appends");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");
    json_decref(ok.data);
    json_decref(arr);

    struct store_txn r;
    struct event_view v;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_event_get(&r, 7, &v), 0, "get 7");
    OK(v.merchant_id == NULL && strstr(v.json, "\"merchant\":null") != NULL, "merchant null");
    event_view_clear(&v);
    EQ_ERR(store_event_get(&r, 6, &v), 0, "get 6");
    EQ_STR(v.actor, "api_key:sk_test_ab12", "actor with ':' kept");
    event_view_clear(&v);
    store_abort(&r);
}

static void test_read_txn_reuse(struct store *s)
{
    int fails = 0;
    struct store_txn r[20];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 20; i++)
            fails += store_read_begin(s, &r[i]) != 0;
        for (int i = 0; i < 20; i++) {
            uint64_t head = 0;
            fails += store_head(&r[i], &head, NULL) != 0 || head != 7;
            fails += store_commit(&r[i], NULL) != 0;
        }
    }
    EQ_INT(fails, 0, "4000 read transactions (renewed from the cache) all see head 7");
    struct store_txn w;
    EQ_ERR(store_write_begin(s, &w), 0, "write after many reads");
    store_abort(&w);
}

/* Data whose text the caller made ahead (event_in.data_text) is stored as
 * the append would have written it. */
static void test_data_text(struct store *s)
{
    json_t *data = json_pack("{s:{s:s,s:i,s:[b,n]}}", "order", "name", "Zo\xc3\xab \"Q\"\n", "n", 3, "l", 1);
    struct jout text = {0};
    EQ_INT(jout_append(&text, data, STORE_DATA_DEPTH_MAX), 0, "the text made ahead");
    struct store_txn t;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    struct event_in ev = { "evt_8", "order.created", "ord_text", STORE_VERSION_NEW, "mer_1", 0, "cli", T1, data,
                           text.buf, 1 };
    EQ_ERR(store_event_append(&t, &ev, NULL), CS_EPARAM, "a text of one byte refused");
    ev.data_text_len = text.len;
    EQ_ERR(store_event_append(&t, &ev, NULL), 0, "appended with its text");
    ev.id = "evt_9";
    ev.aggregate_id = "ord_written";
    ev.data_text = NULL;
    ev.data_text_len = 0;
    EQ_ERR(store_event_append(&t, &ev, NULL), 0, "appended, written by the append");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");
    struct store_txn r;
    struct event_view a, b;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_event_get(&r, 8, &a), 0, "get 8");
    EQ_ERR(store_event_get(&r, 9, &b), 0, "get 9");
    const char *da = strstr(a.json, "\"data\":"), *db = strstr(b.json, "\"data\":");
    OK(da && db && strcmp(da, db) == 0 && json_equal(a.data, data), "the same stored data either way");
    event_view_clear(&a);
    event_view_clear(&b);
    store_abort(&r);
    jout_free(&text);
    json_decref(data);
}

int main(void)
{
    char *dir = t_tmpdir();
    struct store *s = t_open(dir, NULL);
    EQ_INT(t_head(s), 0, "empty log: head 0");
    OK(store_map_bytes(s) == CS_STORE_MAP_BYTES_INITIAL, "initial map size");
    test_round_trip(s);
    test_expected_version(s);
    test_validation(s);
    test_read_txn_reuse(s);
    test_data_text(s);
    store_close(s);

    s = t_open(dir, NULL);
    EQ_INT(t_head(s), 9, "reopened: head 9");
    uint64_t count, bad;
    struct cs_diag d = { 0 };
    EQ_ERR(store_audit_verify(s, &count, &bad, &d), 0, "reopened log verifies");
    store_close(s);
    t_rmrf(dir);
    return tap_done();
}
