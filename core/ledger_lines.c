/* The ledger's transactions by creation time, and the lines of a payout and
 * of the fee invoice (core/ledger_lines.h). */
#include <string.h>
#include "core/ledger_lines.h"
#include "core/clock.h"
#include "core/doc.h"

#define HOLD_US (7LL * 86400 * 1000000)   /* the longest a transaction waits to be available (docs/ledger.md) */

int ledger_window_holds(int64_t prev_created_us, int64_t created_us, const char *payout_id, int64_t avail_us,
                        const char *source)
{
    return avail_us > prev_created_us && avail_us <= created_us && !(source && payout_id && strcmp(source, payout_id) == 0);
}

/* ---- by creation time ------------------------------------------------------------------------ */

struct created_walk {
    int64_t lo, hi;
    int (*fn)(void *ctx, json_t *txn, int64_t created_us);
    void *ctx;
    int err;
};

static int created_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct created_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o) {
        w->err = CS_ECORRUPT;
        return 1;
    }
    int64_t created = clock_parse_rfc3339(doc_str(o, "created"));
    int stop = created < w->lo;   /* the log is in time order */
    if (!stop && created < w->hi)
        stop = w->fn(w->ctx, o, created);
    json_decref(o);
    return stop;
}

int ledger_txns_created_in(struct store_txn *t, const char *merchant_id, int livemode, int64_t lo_us, int64_t hi_us,
                           int (*fn)(void *ctx, json_t *txn, int64_t created_us), void *ctx)
{
    struct created_walk w = {.lo = lo_us, .hi = hi_us, .fn = fn, .ctx = ctx};
    int err = store_ledger_txns_each(t, merchant_id, livemode, NULL, created_visit, &w);
    return err ? err : w.err;
}

/* Lines kept by a filter, oldest first, each with its "date". */
struct kept_lines {
    const char *currency;
    int commissions;   /* 0: card-stream fees; 1: bnpl commissions, signed as charged */
    json_t *lines;
    int err;
};

static int keep_visit(void *ctx, json_t *o, int64_t created_us)
{
    struct kept_lines *k = ctx;
    int keep = doc_is(o, "currency", k->currency) && (doc_int(o, "fee") != 0 || doc_int(o, "vat") != 0) &&
               (k->commissions ? doc_is(o, "stream", "bnpl") && doc_is(o, "type", "disbursement")
                               : !doc_is(o, "stream", "bnpl"));
    if (!keep)
        return 0;
    char date[16];
    clock_format_date(created_us, date, sizeof date);
    json_object_set_new(o, "date", json_string(date));
    if (k->commissions) {   /* the bnpl stream signs them as it gives them up; bounded: cannot overflow */
        json_object_set_new(o, "fee", json_integer(-doc_int(o, "fee")));
        json_object_set_new(o, "vat", json_integer(-doc_int(o, "vat")));
    }
    if (json_array_insert(k->lines, 0, o))
        k->err = CS_ENOMEM;
    return k->err;
}

static int kept(struct store_txn *t, const char *merchant_id, int livemode, int64_t lo_us, int64_t hi_us,
                struct kept_lines *k, json_t **lines)
{
    *lines = NULL;
    k->lines = json_array();
    if (!k->lines)
        return CS_ENOMEM;
    int err = ledger_txns_created_in(t, merchant_id, livemode, lo_us, hi_us, keep_visit, k);
    if (!err)
        err = k->err;
    if (err)
        json_decref(k->lines);
    else
        *lines = k->lines;
    return err;
}

int ledger_lines_with_fees(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                           int64_t lo_us, int64_t hi_us, json_t **lines)
{
    struct kept_lines k = {.currency = currency};
    return kept(t, merchant_id, livemode, lo_us, hi_us, &k, lines);
}

int ledger_commission_lines(struct store_txn *t, const char *merchant_id, int livemode, const char *currency,
                            int64_t lo_us, int64_t hi_us, json_t **lines)
{
    struct kept_lines k = {.currency = currency, .commissions = 1};
    return kept(t, merchant_id, livemode, lo_us, hi_us, &k, lines);
}

/* ---- a payout's lines: by availability --------------------------------------------------------- */

/* A walk of the merchant's balance transactions, newest first, keeping
 * those of one currency that became available in (lo, hi]. */
struct line_walk {
    const char *currency, *exclude_source;
    int64_t lo, hi;
    json_t *lines;   /* oldest first once the walk is done */
    int err;
};

static int line_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct line_walk *w = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!o) {
        w->err = CS_ECORRUPT;
        return 1;
    }
    int64_t avail = doc_int(o, "available_on_us"), created = clock_parse_rfc3339(doc_str(o, "created"));
    int keep = ledger_window_holds(w->lo, w->hi, w->exclude_source, avail,
                                   json_string_value(json_object_get(o, "source"))) &&
               doc_is(o, "currency", w->currency) && !doc_is(o, "stream", "bnpl");   /* card money only */
    /* Older transactions were made before this one, so are available by
     * this one's availability plus a hold at the latest. */
    int stop = w->lo > INT64_MIN + HOLD_US && avail + HOLD_US < w->lo;
    if (keep) {
        char date[16];
        clock_format_date(created, date, sizeof date);
        json_object_set_new(o, "date", json_string(date));
        if (json_array_insert(w->lines, 0, o))
            w->err = CS_ENOMEM;
    }
    json_decref(o);
    return stop || w->err;
}

/* The previous standard payout before `before_us` (not `self`): its
 * creation time, or INT64_MIN if there is none. */
struct prev_walk {
    const char *self;
    int64_t before_us, found_us;
};

static int prev_visit(void *ctx, const char *id, const MDB_val *doc)
{
    struct prev_walk *w = ctx;
    if (strcmp(id, w->self) == 0)
        return 0;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    int64_t created = clock_parse_rfc3339(doc_str(o, "created"));
    int hit = doc_is(o, "method", "standard") && created >= 0 && created < w->before_us;
    json_decref(o);
    if (hit)
        w->found_us = created;
    return hit;
}

static int walk(struct store_txn *t, const char *merchant_id, int livemode, struct line_walk *w, json_t **lines)
{
    *lines = NULL;
    w->lines = json_array();
    if (!w->lines)
        return CS_ENOMEM;
    int err = store_ledger_txns_each(t, merchant_id, livemode, NULL, line_visit, w);
    if (!err)
        err = w->err;
    if (err) {
        json_decref(w->lines);
        return err;
    }
    *lines = w->lines;
    return 0;
}

int ledger_lines_of_payout(struct store_txn *t, const char *merchant_id, int livemode, json_t *payout, json_t **lines)
{
    *lines = NULL;
    const char *id = json_string_value(json_object_get(payout, "id"));
    int64_t created = clock_parse_rfc3339(doc_str(payout, "created"));
    if (!id || created < 0 || !json_is_string(json_object_get(payout, "currency")))
        return CS_ECORRUPT;
    struct line_walk w = {.currency = doc_str(payout, "currency"), .hi = created};
    int instant = doc_is(payout, "method", "instant");
    if (instant) {
        w.lo = created - 1;
    } else {
        struct prev_walk p = {.self = id, .before_us = created, .found_us = INT64_MIN};
        int err = store_objects_each(t, merchant_id, livemode, "payout", NULL, prev_visit, &p);
        if (err)
            return err;
        w.lo = p.found_us;
        w.exclude_source = id;
    }
    int err = walk(t, merchant_id, livemode, &w, lines);
    if (!err && instant) {   /* an early payout carries no transactions of its choosing: its own line only */
        for (size_t i = json_array_size(*lines); i-- > 0;)
            if (!doc_is(json_array_get(*lines, i), "source", id) || !doc_is(json_array_get(*lines, i), "type", "payout"))
                json_array_remove(*lines, i);
    }
    return err;
}

