/* `caisse events dump`: the stored event JSON, one per line, as stored. */
#include <string.h>
#include "store/store_internal.h"

static int matches(const struct dump_filter *f, const struct event_view *v)
{
    if (f->merchant_id && (!v->merchant_id || strcmp(f->merchant_id, v->merchant_id) != 0))
        return 0;
    if (!store_type_match(f->type, v->type, strlen(v->type)))
        return 0;
    return v->time_us >= f->from_us && v->time_us <= f->to_us;
}

int store_events_dump(struct store *s, const struct dump_filter *filter, FILE *out, uint64_t *count)
{
    static const struct dump_filter all = { NULL, NULL, 0, UINT64_MAX, 0, INT64_MAX };
    const struct dump_filter *f = filter ? filter : &all;
    uint64_t n = 0;
    if (count)
        *count = 0;
    struct store_txn t;
    int err = store_read_begin(s, &t);
    if (err)
        return err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t.txn, s->dbi[DBI_LOG], &c);
    if (rc) {
        store_abort(&t);
        return store_err(rc);
    }
    uint8_t kb[8];
    be64_put(kb, f->from_seq ? f->from_seq : 1);
    MDB_val k = { 8, kb }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            err = CS_ECORRUPT;
            break;
        }
        if (be64_get(k.mv_data) > f->to_seq)
            break;
        const uint8_t *hash;
        const char *json;
        size_t len;
        struct event_view ev;
        if ((err = store_record_split(&v, &hash, &json, &len)) ||
            (err = store_event_decode(json, len, &ev)))
            break;
        int keep = matches(f, &ev);
        event_view_clear(&ev);
        if (keep) {
            if (fwrite(json, 1, len, out) != len || fputc('\n', out) == EOF) {
                err = CS_EIO;
                break;
            }
            n++;
        }
    }
    mdb_cursor_close(c);
    if (!err && rc != MDB_NOTFOUND && rc != 0)
        err = store_err(rc);
    store_abort(&t);
    if (count)
        *count = n;
    return err;
}
