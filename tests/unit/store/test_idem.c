/* Idempotency records: put/get, isolation by merchant and mode, expiry. */
#include "tests/unit/store/store_test.h"

#define TTL 1000000LL

static struct idem_record rec(uint8_t fill, int status, int64_t created, const char *body)
{
    struct idem_record r = { .status = status, .created_us = created, .body = body,
                             .body_len = body ? strlen(body) : 0 };
    memset(r.request_sha256, fill, 32);
    return r;
}

int main(void)
{
    char *dir = t_tmpdir();
    struct store *s = t_open(dir, NULL);
    struct store_txn t, r;
    struct idem_record got;

    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    struct idem_record a = rec(0xab, 201, 5000000, "{\"id\":\"ord_1\"}");
    EQ_ERR(store_idem_put(&t, "mer_1", 0, "key-1", &a), 0, "put");
    struct idem_record b = rec(0xcd, 200, 5000000, NULL);
    EQ_ERR(store_idem_put(&t, "mer_1", 1, "key-1", &b), 0, "put same key, live mode, empty body");
    char longkey[CS_IDEMPOTENCY_KEY_BYTES_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    EQ_ERR(store_idem_put(&t, "mer_1", 0, longkey, &a), CS_EPARAM, "key too long: CS_EPARAM");
    EQ_ERR(store_idem_put(&t, "mer_1", 0, "", &a), CS_EPARAM, "empty key: CS_EPARAM");
    EQ_ERR(store_idem_put(&t, "mer 1", 0, "key-2", &a), CS_EPARAM, "bad merchant: CS_EPARAM");
    EQ_INT(t.err, 0, "not sticky");
    longkey[CS_IDEMPOTENCY_KEY_BYTES_MAX] = 0;
    EQ_ERR(store_idem_put(&t, "mer_1", 0, longkey, &a), 0, "key of the maximum length");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");

    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_idem_put(&r, "mer_1", 0, "key-3", &a), CS_EPARAM, "put in a read txn: CS_EPARAM");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, "key-1", 5000000 + 10, TTL, &got), 0, "get");
    EQ_INT(got.status, 201, "status");
    EQ_INT(got.created_us, 5000000, "created_us");
    OK(got.request_sha256[0] == 0xab && got.request_sha256[31] == 0xab, "request hash");
    OK(got.body_len == strlen(a.body) && memcmp(got.body, a.body, got.body_len) == 0, "body");
    EQ_ERR(store_idem_get(&r, "mer_1", 1, "key-1", 5000000, TTL, &got), 0, "live record");
    EQ_INT(got.status, 200, "live record is its own");
    EQ_INT(got.body_len, 0, "empty body");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, "key-1", 5000000 + TTL, TTL, &got), 0,
           "exactly ttl old: still there");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, "key-1", 5000000 + TTL + 1, TTL, &got), CS_ENOENT,
           "older than ttl: CS_ENOENT");
    EQ_ERR(store_idem_get(&r, "mer_2", 0, "key-1", 5000000, TTL, &got), CS_ENOENT,
           "another merchant's key: CS_ENOENT");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, "key-", 5000000, TTL, &got), CS_ENOENT, "prefix: CS_ENOENT");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, longkey, 5000000, TTL, &got), 0, "long key found");
    store_abort(&r);

    /* A retry after expiry stores a fresh response over the old one. */
    EQ_ERR(store_write_begin(s, &t), 0, "write begin");
    struct idem_record c = rec(0x01, 409, 9000000, "{\"error\":{}}");
    EQ_ERR(store_idem_put(&t, "mer_1", 0, "key-1", &c), 0, "overwrite");
    EQ_ERR(store_commit(&t, NULL), 0, "commit");
    EQ_ERR(store_read_begin(s, &r), 0, "read begin");
    EQ_ERR(store_idem_get(&r, "mer_1", 0, "key-1", 9000000, TTL, &got), 0, "get new");
    EQ_INT(got.status, 409, "new status");
    OK(got.body_len == strlen(c.body) && memcmp(got.body, c.body, got.body_len) == 0, "new body");
    store_abort(&r);

    store_close(s);
    t_rmrf(dir);
    return tap_done();
}
