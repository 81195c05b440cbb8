/* Projections: merchants and API keys, order documents, the order list with
 * cursor pagination, the merchant events index with type filters, digests. */
#include "tests/unit/store/store_test.h"

#define KEY_T "1111111111111111111111111111111111111111111111111111111111111111"
#define KEY_L "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static int n_evt;

static int add(struct store_txn *t, const char *type, const char *agg, uint64_t expected,
               const char *merchant, int live, int64_t time_us, const char *data)
{
    char id[32];
    snprintf(id, sizeof id, "evt_%d", ++n_evt);
    return t_append(t, id, type, agg, expected, merchant, live, time_us, data, NULL);
}

static char *doc_text(struct store_txn *t, int (*get)(struct store_txn *, const char *, MDB_val *),
                      const char *id)
{
    MDB_val v;
    static char buf[1024];
    if (get(t, id, &v))
        return NULL;
    snprintf(buf, sizeof buf, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
    return buf;
}

struct list { char ids[16][32]; int n, stop_at; };

static int collect_order(void *ctx, const char *order_id, const MDB_val *doc)
{
    struct list *l = ctx;
    snprintf(l->ids[l->n++], 32, "%s", order_id);
    return l->stop_at && l->n >= l->stop_at;
}

static const char *joined(struct list *l)
{
    static char buf[512];
    buf[0] = 0;
    for (int i = 0; i < l->n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, l->ids[i]);
    }
    return buf;
}

struct seqs { uint64_t s[32]; int n, stop_at; };

static int collect_seq(void *ctx, uint64_t seq)
{
    struct seqs *q = ctx;
    q->s[q->n++] = seq;
    return q->stop_at && q->n >= q->stop_at;
}

static const char *seq_list(struct seqs *q)
{
    static char buf[512];
    buf[0] = 0;
    for (int i = 0; i < q->n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%llu", i ? "," : "",
                 (unsigned long long)q->s[i]);
    return buf;
}

static void test_merchant(struct store *s)
{
    struct store_txn t;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(add(&t, "merchant.created", "mer_1", STORE_VERSION_NEW, "mer_1", 0, 1000,
               "{\"merchant\":{\"id\":\"mer_1\",\"name\":\"Acme\",\"country\":\"FR\"},"
               "\"api_keys\":[{\"sha256\":\"" KEY_T "\",\"livemode\":false,\"prefix\":\"sk_test_ab12\"},"
               "{\"sha256\":\"" KEY_L "\",\"livemode\":true,\"prefix\":\"sk_live_cd34\"},"
               "{\"sha256\":\"not-hex\",\"livemode\":true}]}"), 0, "merchant.created");
    EQ_ERR(add(&t, "merchant.created", "mer_2", STORE_VERSION_NEW, "mer_2", 0, 1001,
               "{\"merchant\":{\"id\":\"mer_2\",\"name\":\"Other\"},\"api_keys\":[]}"), 0,
           "second merchant");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");

    struct store_txn r;
    char mid[CS_ID_BYTES_MAX];
    int live = -1;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_STR(doc_text(&r, store_merchant_get, "mer_1"),
           "{\"id\":\"mer_1\",\"name\":\"Acme\",\"country\":\"FR\"}", "merchant doc = data.merchant");
    EQ_STR(doc_text(&r, store_merchant_get, "mer_3"), NULL, "unknown merchant absent");
    MDB_val v;
    EQ_ERR(store_merchant_get(&r, "mer_3", &v), CS_ENOENT, "unknown merchant: CS_ENOENT");
    EQ_ERR(store_api_key_lookup(&r, KEY_T, mid, &live), 0, "test key found");
    EQ_STR(mid, "mer_1", "test key -> mer_1");
    EQ_INT(live, 0, "test key is test mode");
    EQ_ERR(store_api_key_lookup(&r, KEY_L, mid, &live), 0, "live key found");
    EQ_INT(live, 1, "live key is live mode");
    EQ_ERR(store_api_key_lookup(&r, "2222222222222222222222222222222222222222222222222222222222222222",
                                mid, &live), CS_ENOENT, "unknown key: CS_ENOENT");
    EQ_ERR(store_api_key_lookup(&r, "not-hex", mid, &live), CS_ENOENT, "malformed key: CS_ENOENT");
    store_abort(&r);
}

static void test_orders(struct store *s)
{
    struct store_txn t;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    /* mer_1 test: ord_1 (t=100), ord_2 (t=200), ord_3 (t=300), ord_3b (t=300) */
    EQ_ERR(add(&t, "order.created", "ord_1", 0, "mer_1", 0, 100,
               "{\"order\":{\"id\":\"ord_1\",\"status\":\"pending\",\"amount\":500}}"), 0, "create ord_1");
    EQ_ERR(add(&t, "order.created", "ord_2", 0, "mer_1", 0, 200,
               "{\"order\":{\"id\":\"ord_2\",\"status\":\"pending\"}}"), 0, "create ord_2");
    EQ_ERR(add(&t, "order.created", "ord_3", 0, "mer_1", 0, 300,
               "{\"order\":{\"id\":\"ord_3\",\"status\":\"pending\"}}"), 0, "create ord_3");
    EQ_ERR(add(&t, "order.created", "ord_3b", 0, "mer_1", 0, 300,
               "{\"order\":{\"id\":\"ord_3b\",\"status\":\"pending\"}}"), 0, "create ord_3b (same time)");
    EQ_ERR(add(&t, "order.created", "ord_4", 0, "mer_1", 1, 400,
               "{\"order\":{\"id\":\"ord_4\",\"status\":\"pending\"}}"), 0, "create ord_4 (live)");
    EQ_ERR(add(&t, "order.created", "ord_5", 0, "mer_2", 0, 500,
               "{\"order\":{\"id\":\"ord_5\",\"status\":\"pending\"}}"), 0, "create ord_5 (mer_2)");
    EQ_ERR(store_commit(&t, NULL), 0, "commit creations");

    struct store_txn r;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_STR(doc_text(&r, store_order_get, "ord_5"),
           "{\"id\":\"ord_5\",\"status\":\"pending\",\"version\":1,\"updated\":\"1970-01-01T00:00:00.000500Z\"}",
           "order.created stores data.order + version 1 + updated");
    uint8_t before[32], after[32];
    EQ_ERR(store_projection_digest(&r, "orders", before), 0, "orders digest");
    EQ_ERR(store_projection_digest(&r, "payments", before + 0), CS_EPARAM, "unknown projection: CS_EPARAM");
    EQ_ERR(store_projection_digest(&r, "orders", before), 0, "orders digest again");
    store_abort(&r);

    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(add(&t, "order.approved", "ord_1", 1, "mer_1", 0, 110, "{\"risk_decision\":\"approved\"}"), 0, "approve ord_1");
    EQ_ERR(add(&t, "order.confirmed", "ord_1", 2, "mer_1", 0, 120,
               "{\"confirmed_at\":\"1970-01-01T00:00:00.000120Z\"}"), 0, "confirm ord_1");
    EQ_ERR(add(&t, "order.rejected", "ord_2", 1, "mer_1", 0, 210, "{\"risk_decision\":\"rejected\"}"), 0, "reject ord_2");
    EQ_ERR(add(&t, "order.review_requested", "ord_3", 1, "mer_1", 0, 310, "{\"risk_decision\":\"review\"}"), 0, "review ord_3");
    EQ_ERR(add(&t, "widget.spun", "wid_1", 0, "mer_1", 0, 320, "{\"speed\":3}"), 0, "unknown type appends");
    EQ_ERR(add(&t, "order.approved", "ord_9", 0, "mer_1", 0, 330, "{\"risk_decision\":\"approved\"}"), 0,
           "event for an order without a document appends");
    EQ_ERR(store_commit(&t, NULL), 0, "commit transitions");

    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_STR(doc_text(&r, store_order_get, "ord_1"),
           "{\"id\":\"ord_1\",\"status\":\"confirmed\",\"amount\":500,\"version\":3,"
           "\"updated\":\"1970-01-01T00:00:00.000120Z\",\"risk_decision\":\"approved\","
           "\"confirmed_at\":\"1970-01-01T00:00:00.000120Z\"}", "ord_1 approved then confirmed");
    json_t *o2 = json_loads(doc_text(&r, store_order_get, "ord_2"), 0, NULL);
    EQ_STR(json_string_value(json_object_get(o2, "status")), "rejected", "ord_2 rejected");
    EQ_STR(json_string_value(json_object_get(o2, "risk_decision")), "rejected", "ord_2 decision");
    EQ_INT(json_integer_value(json_object_get(o2, "version")), 2, "ord_2 version 2");
    json_decref(o2);
    json_t *o3 = json_loads(doc_text(&r, store_order_get, "ord_3"), 0, NULL);
    EQ_STR(json_string_value(json_object_get(o3, "status")), "pending", "review keeps pending");
    EQ_STR(json_string_value(json_object_get(o3, "risk_decision")), "review", "ord_3 decision review");
    json_decref(o3);
    EQ_STR(doc_text(&r, store_order_get, "ord_9"), NULL, "no document conjured for ord_9");
    EQ_ERR(store_projection_digest(&r, "orders", after), 0, "orders digest after");
    OK(memcmp(before, after, 32) != 0, "orders digest moved with the orders");

    struct list l = { 0 };
    EQ_ERR(store_orders_each(&r, "mer_1", 0, NULL, collect_order, &l), 0, "orders_each");
    EQ_STR(joined(&l), "ord_3b,ord_3,ord_2,ord_1", "newest first (ties by id, descending)");
    l = (struct list){ .stop_at = 2 };
    EQ_ERR(store_orders_each(&r, "mer_1", 0, NULL, collect_order, &l), 0, "page 1");
    EQ_STR(joined(&l), "ord_3b,ord_3", "page 1 of 2");
    l = (struct list){ .stop_at = 2 };
    EQ_ERR(store_orders_each(&r, "mer_1", 0, "ord_3", collect_order, &l), 0, "page 2");
    EQ_STR(joined(&l), "ord_2,ord_1", "page 2: strictly after ord_3");
    l = (struct list){ 0 };
    EQ_ERR(store_orders_each(&r, "mer_1", 0, "ord_1", collect_order, &l), 0, "after the oldest");
    EQ_INT(l.n, 0, "nothing after the oldest");
    l = (struct list){ 0 };
    EQ_ERR(store_orders_each(&r, "mer_1", 1, NULL, collect_order, &l), 0, "live orders");
    EQ_STR(joined(&l), "ord_4", "live mode lists live orders only");
    l = (struct list){ 0 };
    EQ_ERR(store_orders_each(&r, "mer_2", 0, NULL, collect_order, &l), 0, "mer_2 orders");
    EQ_STR(joined(&l), "ord_5", "mer_2 sees only its order");
    EQ_ERR(store_orders_each(&r, "mer_1", 0, "ord_5", collect_order, &l), CS_EPARAM,
           "cursor of another merchant: CS_EPARAM");
    EQ_ERR(store_orders_each(&r, "mer_1", 0, "ord_4", collect_order, &l), CS_EPARAM,
           "cursor of the other mode: CS_EPARAM");
    EQ_ERR(store_orders_each(&r, "mer_1", 0, "ord_nope", collect_order, &l), CS_EPARAM,
           "unknown cursor: CS_EPARAM");
    EQ_ERR(store_orders_each(&r, "mer_1", 0, "mer_1", collect_order, &l), CS_EPARAM,
           "cursor that is not an order: CS_EPARAM");
    EQ_INT(r.err, 0, "cursor errors are not sticky");
    store_abort(&r);
}

static void test_merchant_events(struct store *s)
{
    /* mer_1 test-mode events so far: 1 merchant.created, 3..6 order.created,
     * 9 approved, 10 confirmed, 11 rejected, 12 review_requested, 13 widget.spun,
     * 14 order.approved (ord_9). mer_1 live: 7. */
    struct store_txn r;
    struct seqs q = { 0 };
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 0, 0, NULL, collect_seq, &q), 0, "all");
    EQ_STR(seq_list(&q), "1,3,4,5,6,9,10,11,12,13,14", "mer_1 test events ascending");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 1, 0, 0, NULL, collect_seq, &q), 0, "live");
    EQ_STR(seq_list(&q), "7", "mer_1 live events");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 5, 0, NULL, collect_seq, &q), 0, "after 5");
    EQ_STR(seq_list(&q), "6,9,10,11,12,13,14", "ascending after_seq is exclusive");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 0, 1, NULL, collect_seq, &q), 0, "desc");
    EQ_STR(seq_list(&q), "14,13,12,11,10,9,6,5,4,3,1", "descending from the newest");
    q = (struct seqs){ .stop_at = 3 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 10, 1, NULL, collect_seq, &q), 0, "desc after 10");
    EQ_STR(seq_list(&q), "9,6,5", "descending before 10, stopped by fn");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 0, 0, "order.created", collect_seq, &q), 0, "exact");
    EQ_STR(seq_list(&q), "3,4,5,6", "exact type filter");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 0, 0, "order.*", collect_seq, &q), 0, "prefix");
    EQ_STR(seq_list(&q), "3,4,5,6,9,10,11,12,14", "prefix type filter");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 0, 1, "order.approved", collect_seq, &q), 0, "desc exact");
    EQ_STR(seq_list(&q), "14,9", "exact filter, descending");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_1", 0, 0, 0, "order", collect_seq, &q), 0, "no star");
    EQ_INT(q.n, 0, "without '*' a type is matched exactly");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_2", 0, 0, 0, NULL, collect_seq, &q), 0, "mer_2");
    EQ_STR(seq_list(&q), "2,8", "mer_2 sees its own events only");
    q = (struct seqs){ 0 };
    EQ_ERR(store_merchant_events_each(&r, "mer_", 0, 0, 0, NULL, collect_seq, &q), 0, "prefix id");
    EQ_INT(q.n, 0, "a prefix of a merchant id matches nothing");
    store_abort(&r);
}

/* The orders projection writes the document it folded last only when
 * needed: every read inside the write transaction, the digest and the commit
 * see it as written; an abort drops it. */
static void test_unwritten_document(struct store *s)
{
    struct store_txn t;
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(add(&t, "order.created", "ord_w1", 0, "mer_w", 0, 1000,
               "{\"order\":{\"id\":\"ord_w1\",\"status\":\"pending\"}}"), 0, "create ord_w1");
    EQ_STR(doc_text(&t, store_order_get, "ord_w1"),
           "{\"id\":\"ord_w1\",\"status\":\"pending\",\"version\":1,\"updated\":\"1970-01-01T00:00:00.001000Z\"}",
           "read in the same transaction: written first");
    EQ_ERR(add(&t, "order.approved", "ord_w1", 1, "mer_w", 0, 1001, "{\"risk_decision\":\"approved\"}"), 0,
           "approve ord_w1");
    json_t *o = json_loads(doc_text(&t, store_order_get, "ord_w1"), 0, NULL);
    EQ_STR(json_string_value(json_object_get(o, "status")), "approved", "the read sees the last fold");
    json_decref(o);
    EQ_ERR(add(&t, "order.created", "ord_w2", 0, "mer_w", 0, 1002,
               "{\"order\":{\"id\":\"ord_w2\",\"status\":\"pending\"}}"), 0, "create ord_w2");
    struct list l = { 0 };
    EQ_ERR(store_orders_each(&t, "mer_w", 0, NULL, collect_order, &l), 0, "orders_each in the transaction");
    EQ_STR(joined(&l), "ord_w2,ord_w1", "both listed");
    uint8_t inside[32], outside[32];
    EQ_ERR(store_projection_digest(&t, "orders", inside), 0, "digest in the transaction");
    EQ_ERR(add(&t, "order.rejected", "ord_w2", 1, "mer_w", 0, 1003, "{\"risk_decision\":\"rejected\"}"), 0,
           "reject ord_w2");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");

    struct store_txn r;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    o = json_loads(doc_text(&r, store_order_get, "ord_w2"), 0, NULL);
    EQ_STR(json_string_value(json_object_get(o, "status")), "rejected", "the commit wrote the last document");
    EQ_INT(json_integer_value(json_object_get(o, "version")), 2, "at version 2");
    json_decref(o);
    EQ_ERR(store_projection_digest(&r, "orders", outside), 0, "digest after the commit");
    OK(memcmp(inside, outside, 32) != 0, "the digest moved with the last fold");
    store_abort(&r);

    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(add(&t, "order.created", "ord_w3", 0, "mer_w", 0, 1004,
               "{\"order\":{\"id\":\"ord_w3\",\"status\":\"pending\"}}"), 0, "create ord_w3");
    store_abort(&t);
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(add(&t, "order.created", "ord_w4", 0, "mer_w", 0, 1005,
               "{\"order\":{\"id\":\"ord_w4\",\"status\":\"pending\"}}"), 0, "create ord_w4");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_STR(doc_text(&r, store_order_get, "ord_w3"), NULL, "an aborted fold is never written");
    OK(doc_text(&r, store_order_get, "ord_w4") != NULL, "the next transaction's is");
    store_abort(&r);
}

int main(void)
{
    char *dir = t_tmpdir();
    struct store *s = t_open(dir, NULL);
    test_merchant(s);
    test_orders(s);
    test_merchant_events(s);
    test_unwritten_document(s);
    store_close(s);
    t_rmrf(dir);
    return tap_done();
}
