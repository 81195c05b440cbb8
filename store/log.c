/* The event log: append (version check, record, hash chain, head, folds),
 * reads, and the head. */
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

static const MDB_val head_key = { 4, (void *)"head" };

int store_head_raw(MDB_txn *txn, const MDB_dbi *dbi, uint64_t *seq, uint8_t hash[STORE_HASH_BYTES])
{
    MDB_val k = head_key, v;
    int rc = mdb_get(txn, dbi[DBI_META], &k, &v);
    if (rc == MDB_NOTFOUND) {            /* empty log: hash(0) = zeros */
        *seq = 0;
        memset(hash, 0, STORE_HASH_BYTES);
        return 0;
    }
    if (rc)
        return store_err(rc);
    if (v.mv_size != STORE_HEAD_BYTES)
        return CS_ECORRUPT;
    *seq = be64_get(v.mv_data);
    memcpy(hash, (const uint8_t *)v.mv_data + 8, STORE_HASH_BYTES);
    return 0;
}

int store_log_put(MDB_txn *txn, const MDB_dbi *dbi, uint64_t seq, const void *rec, size_t len)
{
    /* Assert around the disk: the log's last key must be seq - 1, or we are
     * about to fork the chain. Cheap: the last page is hot. */
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi[DBI_LOG], &c);
    if (rc)
        return store_err(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    uint64_t last = 0;
    if (rc == 0) {
        STORE_ALWAYS(k.mv_size == 8, "log key of %zu bytes", k.mv_size);
        last = be64_get(k.mv_data);
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return store_err(rc);
    STORE_ALWAYS(seq == last + 1, "appending seq %llu after %llu", (unsigned long long)seq,
                 (unsigned long long)last);

    uint8_t kb[8];
    be64_put(kb, seq);
    k.mv_size = 8;
    k.mv_data = kb;
    v.mv_size = len;
    v.mv_data = (void *)rec;
    rc = mdb_put(txn, dbi[DBI_LOG], &k, &v, MDB_APPEND);
    STORE_ALWAYS(rc != MDB_KEYEXIST, "MDB_APPEND refused seq %llu", (unsigned long long)seq);
    if (rc)
        return store_err(rc);

    uint8_t hb[STORE_HEAD_BYTES];
    be64_put(hb, seq);
    memcpy(hb + 8, (const uint8_t *)rec + 1, STORE_HASH_BYTES);
    k = head_key;
    v.mv_size = sizeof hb;
    v.mv_data = hb;
    return store_err(mdb_put(txn, dbi[DBI_META], &k, &v, 0));
}

static int buf_reserve(struct store_txn *t, size_t n)
{
    if (n <= t->buf_cap)
        return 0;
    size_t cap = t->buf_cap ? t->buf_cap : 4096;
    while (cap < n)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b)
        return CS_ENOMEM;
    t->buf = b;
    t->buf_cap = cap;
    return 0;
}

static int event_in_valid(const struct event_in *ev)
{
    return ev && store_id_valid(ev->id) && store_type_valid(ev->type) &&
           store_id_valid(ev->aggregate_id) &&
           (!ev->merchant_id || store_id_valid(ev->merchant_id)) && store_actor_valid(ev->actor) &&
           ev->time_us >= 0 && ev->time_us <= STORE_TIME_US_MAX && json_is_object(ev->data) &&
           (!ev->data_text || ev->data_text_len >= 2);
}

/* The record is [format][hash][JSON], the JSON being the header fields then
 * "data". The data is written first, at RECORD_DATA_AT in t->buf, before
 * anything else can refuse the event; record_build then slides it behind the
 * header. */
#define RECORD_HEAD_BYTES_MAX 512
#define RECORD_DATA_AT (STORE_RECORD_HEADER_BYTES + RECORD_HEAD_BYTES_MAX)

/* Writes the data's JSON at RECORD_DATA_AT (or copies the caller's text of
 * it); returns its length or 0 with *err (CS_EPARAM: nested deeper than
 * STORE_DATA_DEPTH_MAX, or a string that is not UTF-8; CS_ENOMEM). */
static size_t data_build(struct store_txn *t, const struct event_in *ev, int *err)
{
    if (ev->data_text) {
        if ((*err = buf_reserve(t, RECORD_DATA_AT + ev->data_text_len + 1)))
            return 0;
        memcpy(t->buf + RECORD_DATA_AT, ev->data_text, ev->data_text_len);
        return ev->data_text_len;
    }
    if ((*err = buf_reserve(t, RECORD_DATA_AT + 1)))
        return 0;
    struct jout o = {t->buf, RECORD_DATA_AT, t->buf_cap};
    *err = jout_append(&o, ev->data, STORE_DATA_DEPTH_MAX);
    t->buf = o.buf;        /* it may have grown either way */
    t->buf_cap = o.cap;
    return *err ? 0 : o.len - RECORD_DATA_AT;
}

/* Completes the record in t->buf around the data data_build wrote; returns
 * its length or 0 (nothing written anywhere: the caller's error is not
 * sticky). The header fields are validated and need no escaping. */
/* The record's header fields, appended by hand: snprintf's format parsing was
 * a tenth of the writer thread's time. The text is the one the earlier
 * snprintf made (the hash chain and replay depend on it byte for byte). */
struct head {
    char *p;
    size_t len, cap;
    int over;
};

static void head_put(struct head *h, const char *s, size_t n)
{
    if (h->over || n > h->cap - h->len) {
        h->over = 1;
        return;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

#define HEAD_LIT(h, lit) head_put((h), (lit), sizeof(lit) - 1)

static void head_str(struct head *h, const char *s)
{
    head_put(h, s, strlen(s));
}

static void head_u64(struct head *h, uint64_t x)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - 1 - n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    head_put(h, d + sizeof d - n, n);
}

static size_t record_build(struct store_txn *t, const struct event_in *ev, uint64_t seq,
                           uint64_t version, const uint8_t prev[STORE_HASH_BYTES], size_t dlen, int *err)
{
    char created[STORE_TIME_TEXT_BYTES];
    store_time_format(ev->time_us, created);
    char head[RECORD_HEAD_BYTES_MAX];
    struct head h = {head, 0, sizeof head, 0};
    HEAD_LIT(&h, "{\"id\":\"");
    head_str(&h, ev->id);
    HEAD_LIT(&h, "\",\"object\":\"event\",\"seq\":");
    head_u64(&h, seq);
    HEAD_LIT(&h, ",\"type\":\"");
    head_str(&h, ev->type);
    HEAD_LIT(&h, "\",\"aggregate_id\":\"");
    head_str(&h, ev->aggregate_id);
    HEAD_LIT(&h, "\",\"aggregate_version\":");
    head_u64(&h, version);
    HEAD_LIT(&h, ",\"merchant\":");
    if (ev->merchant_id) {
        HEAD_LIT(&h, "\"");
        head_str(&h, ev->merchant_id);
        HEAD_LIT(&h, "\"");
    } else {
        HEAD_LIT(&h, "null");
    }
    HEAD_LIT(&h, ",\"livemode\":");
    if (ev->livemode)
        HEAD_LIT(&h, "true");
    else
        HEAD_LIT(&h, "false");
    HEAD_LIT(&h, ",\"actor\":\"");
    head_str(&h, ev->actor);
    HEAD_LIT(&h, "\",\"created\":\"");
    head_str(&h, created);
    HEAD_LIT(&h, "\",\"data\":");
    if (h.over) {
        *err = CS_EINTERNAL;
        return 0;
    }
    size_t n = h.len;
    size_t jlen = n + dlen + 1;
    size_t total = STORE_RECORD_HEADER_BYTES + jlen;
    /* data_build reserved RECORD_DATA_AT + dlen + 1 >= total + 1: n < 512 */
    char *json = t->buf + STORE_RECORD_HEADER_BYTES;
    memmove(json + n, t->buf + RECORD_DATA_AT, dlen);
    memcpy(json, head, n);
    json[n + dlen] = '}';
    json[jlen] = 0;
    t->buf[0] = STORE_RECORD_FORMAT;
    store_chain_hash(prev, json, jlen, (uint8_t *)t->buf + 1);
    return total;
}

int store_event_append(struct store_txn *t, const struct event_in *ev, struct event_view *out)
{
    if (t->err)
        return t->err;
    if (!t->txn || !t->write || !event_in_valid(ev))
        return CS_EPARAM;
    const MDB_dbi *dbi = t->store->dbi;

    /* Everything that can refuse the event happens before the first write, so
     * a refusal leaves the transaction usable. */
    int err;
    size_t dlen = data_build(t, ev, &err);
    if (!dlen)
        return err;
    uint64_t cur, head;
    uint8_t prev[STORE_HASH_BYTES];
    err = store_stream_version_raw(t->txn, dbi[DBI_STREAMS], ev->aggregate_id, &cur);
    if (!err)
        err = store_head_raw(t->txn, dbi, &head, prev);
    if (err)
        return store_txn_fail(t, err);
    if (ev->expected_version != STORE_VERSION_ANY && ev->expected_version != cur)
        return CS_ECONFLICT;   /* STORE_VERSION_NEW is 0: "no stream yet" */

    uint64_t seq = head + 1, version = cur + 1;
    size_t len = record_build(t, ev, seq, version, prev, dlen, &err);
    if (!len)
        return err;

    /* The folds read the same fields replay decodes from the stored text, but
     * from the caller's objects: parsing back what we just wrote would double
     * the JSON work of the write path. Folds use only these fields and data;
     * replay and `caisse replay`'s digests prove the two agree. */
    struct event_view v = {.seq = seq, .aggregate_version = version, .time_us = ev->time_us,
                           .livemode = !!ev->livemode, .id = ev->id, .type = ev->type,
                           .aggregate_id = ev->aggregate_id, .merchant_id = ev->merchant_id,
                           .actor = ev->actor, .data = ev->data,
                           .json = t->buf + STORE_RECORD_HEADER_BYTES,
                           .json_len = len - STORE_RECORD_HEADER_BYTES};

    err = store_log_put(t->txn, dbi, seq, t->buf, len);
    if (!err && store_fault_hit(STORE_FAULT_APPEND_FAIL))
        err = CS_EIO;   /* the record is written, the projections are not */
    if (!err)
        err = store_projections_apply(t->txn, dbi, &v);
    if (!err && t->store->observer)   /* e.g. the webhook outbox: same transaction */
        err = t->store->observer(t, &v, t->store->observer_ctx);
    if (!err && out) {
        memset(out, 0, sizeof *out);
        out->seq = seq;
        out->aggregate_version = version;
        out->time_us = ev->time_us;
        out->livemode = !!ev->livemode;
        memcpy(out->hash, t->buf + 1, STORE_HASH_BYTES);
    }
    event_view_clear(&v);
    return err ? store_txn_fail(t, err) : 0;
}

int store_event_get(struct store_txn *t, uint64_t seq, struct event_view *out)
{
    memset(out, 0, sizeof *out);
    if (t->err)
        return t->err;
    uint8_t kb[8];
    be64_put(kb, seq);
    MDB_val k = { 8, kb }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_LOG], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    const uint8_t *hash;
    const char *json;
    size_t len;
    int err = store_record_split(&v, &hash, &json, &len);
    if (!err)
        err = store_event_decode(json, len, out);
    if (!err && out->seq != seq) {
        event_view_clear(out);
        err = CS_ECORRUPT;
    }
    if (err)
        return store_txn_fail(t, err);
    memcpy(out->hash, hash, STORE_HASH_BYTES);
    return 0;
}

int store_head(struct store_txn *t, uint64_t *seq, uint8_t hash[32])
{
    if (t->err)
        return t->err;
    uint8_t h[STORE_HASH_BYTES];
    int err = store_head_raw(t->txn, t->store->dbi, seq, h);
    if (err)
        return store_txn_fail(t, err);
    if (hash)
        memcpy(hash, h, STORE_HASH_BYTES);
    return 0;
}
