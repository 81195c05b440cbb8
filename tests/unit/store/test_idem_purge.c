/* Purging expired idempotency records: what expires goes, what a retry could
 * still get stays, a test clock moves its merchant's test records only, and
 * the sweep resumes across short transactions without skipping a record. */
#include "tests/unit/store/store_test.h"

#define TTL 1000000LL   /* 1 s */
#define BULK 300

static void put(struct store_txn *t, const char *merchant, int livemode, const char *key, int64_t created)
{
    struct idem_record r = { .status = 201, .created_us = created, .body = "{}", .body_len = 2 };
    memset(r.request_sha256, 0x5a, 32);
    if (store_idem_put(t, merchant, livemode, key, &r) != 0) {
        printf("# put %s %s failed\n", merchant, key);
        exit(2);
    }
}

/* Whether the record is there at all (asked at its own creation time, when it
 * cannot have expired). */
static int present(struct store *s, const char *merchant, int livemode, const char *key, int64_t created)
{
    struct store_txn r;
    struct idem_record got;
    if (store_read_begin(s, &r) != 0)
        exit(2);
    int rc = store_idem_get(&r, merchant, livemode, key, created, TTL, &got);
    store_abort(&r);
    return rc == 0;
}

/* Sweeps to the end, `max` records a transaction; returns the transactions. */
static unsigned sweep(struct store *s, int64_t now, unsigned max, struct idem_sweep *sw)
{
    unsigned txns = 0;
    memset(sw, 0, sizeof *sw);
    while (!sw->done && txns < 10000) {
        struct store_txn t;
        if (store_write_begin(s, &t) != 0 || store_idem_purge(&t, now, TTL, max, sw) != 0 ||
            store_commit(&t, NULL) != 0) {
            printf("# sweep transaction failed\n");
            exit(2);
        }
        txns++;
    }
    return txns;
}

int main(void)
{
    char *dir = t_tmpdir();
    struct store *s = t_open(dir, NULL);
    struct store_txn t;
    struct idem_sweep sw;
    char key[32];

    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    put(&t, "mer_1", 0, "key-a", 1000000);      /* 2 s old at 3 s: expired */
    put(&t, "mer_1", 1, "key-a", 1000000);      /* live, same: expired */
    put(&t, "mer_1", 0, "key-b", 2000000);      /* exactly 1 s old at 3 s: kept */
    put(&t, "mer_2", 0, "key-c", 5000000);      /* from the future of the wall clock: kept */
    put(&t, "mer_4", 0, "key-d", 2500000);      /* 0.5 s old, but mer_4's test clock is 10 s ahead */
    put(&t, "mer_4", 1, "key-d", 2500000);      /* live mode ignores the test clock: kept */
    for (int i = 0; i < BULK; i++) {
        snprintf(key, sizeof key, "bulk-%04d", i);
        put(&t, "mer_3", 0, key, i % 2 ? 0 : 9000000);   /* odd: expired; even: kept */
    }
    EQ_ERR(t_append(&t, "evt_1", "test_clock.advanced", "clk_1", STORE_VERSION_ANY, "mer_4", 0, 2500000,
                    "{\"from\":\"x\",\"to\":\"y\",\"offset_us\":10000000}", NULL), 0, "mer_4's test clock");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");

    /* Refusals first: nothing is touched. */
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    memset(&sw, 0, sizeof sw);
    EQ_ERR(store_idem_purge(&t, 3000000, TTL, 0, &sw), CS_EPARAM, "max 0: CS_EPARAM");
    EQ_ERR(store_idem_purge(&t, 3000000, -1, 10, &sw), CS_EPARAM, "negative ttl: CS_EPARAM");
    EQ_ERR(store_idem_purge(&t, 3000000, TTL, 10, NULL), CS_EPARAM, "no sweep: CS_EPARAM");
    EQ_INT(t.err, 0, "refusals are not sticky");
    store_abort(&t);
    struct store_txn r;
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_idem_purge(&r, 3000000, TTL, 10, &sw), CS_EPARAM, "in a read transaction: CS_EPARAM");
    store_abort(&r);
    OK(present(s, "mer_1", 0, "key-a", 1000000), "nothing purged by the refusals");

    /* 7 records a transaction: the sweep crosses many transactions. */
    unsigned txns = sweep(s, 3000000, 7, &sw);
    OK(sw.done, "the sweep reached the end");
    EQ_INT(sw.visited, BULK + 6, "every record visited once");
    EQ_INT(sw.purged, BULK / 2 + 3, "the expired ones purged");
    OK(txns >= (BULK + 6) / 7, "in transactions of at most 7 records (%u)", txns);

    OK(!present(s, "mer_1", 0, "key-a", 1000000), "expired test record purged");
    OK(!present(s, "mer_1", 1, "key-a", 1000000), "expired live record purged");
    OK(present(s, "mer_1", 0, "key-b", 2000000), "a record exactly ttl old is kept");
    OK(present(s, "mer_2", 0, "key-c", 5000000), "a record newer than now is kept");
    OK(!present(s, "mer_4", 0, "key-d", 2500000), "the test clock expired mer_4's test record");
    OK(present(s, "mer_4", 1, "key-d", 2500000), "mer_4's live record is kept");
    int odd_gone = 1, even_kept = 1;
    for (int i = 0; i < BULK; i++) {
        snprintf(key, sizeof key, "bulk-%04d", i);
        if (i % 2 && present(s, "mer_3", 0, key, 0))
            odd_gone = 0;
        if (!(i % 2) && !present(s, "mer_3", 0, key, 9000000))
            even_kept = 0;
    }
    OK(odd_gone, "every expired bulk record purged");
    OK(even_kept, "every fresh bulk record kept");

    /* Again: nothing more to purge; a done sweep does nothing. */
    sweep(s, 3000000, 1000, &sw);
    EQ_INT(sw.visited, BULK / 2 + 3, "the second sweep visits what is left");
    EQ_INT(sw.purged, 0, "and purges nothing");
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    EQ_ERR(store_idem_purge(&t, 3000000, TTL, 10, &sw), 0, "a done sweep");
    EQ_INT(sw.visited, BULK / 2 + 3, "visits nothing more");
    store_abort(&t);

    /* Much later, everything has expired; one record a transaction. */
    sweep(s, 100000000, 1, &sw);
    EQ_INT(sw.purged, BULK / 2 + 3, "all purged at last");
    sweep(s, 100000000, 5, &sw);
    EQ_INT(sw.visited, 0, "the table is empty");
    OK(sw.done, "an empty table is done at once");

    store_close(s);
    t_rmrf(dir);
    return tap_done();
}
