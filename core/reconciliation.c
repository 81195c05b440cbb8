/* Reconciliation of a day, pure (core/reconciliation.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/reconciliation.h"
#include "core/ledger_lines.h"
#include "core/clock.h"
#include "core/doc.h"
#include "core/money.h"

#define DAY_US (86400LL * 1000000)
#define LATE_BUSINESS_DAYS 2
#define DISBURSEMENT_LATE_BUSINESS_DAYS 1

static int64_t day_start(int y, int m, int d)
{
    char s[40];
    snprintf(s, sizeof s, "%04d-%02d-%02dT00:00:00.000000Z", y, m, d);
    return clock_parse_rfc3339(s);
}

int recon_check_date(const char *date, int64_t now_us, int64_t *start_us, int64_t *end_us, struct cs_diag *d)
{
    int y, m, dd;
    if (!date)
        return cs_fail(d, CS_EMISSING, "date", "date is required (YYYY-MM-DD, the merchant's day in UTC)");
    if (strlen(date) != 10 || clock_parse_date(date, &y, &m, &dd) != 0 || y < 1970 || y > 9998)
        return cs_fail(d, CS_EPARAM, "date", "date must be a calendar date as YYYY-MM-DD");
    *start_us = day_start(y, m, dd);
    *end_us = *start_us + DAY_US;
    char today[16];
    clock_format_date(now_us, today, sizeof today);
    if (*start_us < 0 || strcmp(date, today) > 0)
        return cs_fail(d, CS_EPARAM, "date", "date %s has not come yet on the merchant's clock (today is %s)", date, today);
    int ty, tm, td;
    if (clock_parse_date(today, &ty, &tm, &td) != 0)
        return cs_fail(d, CS_EPARAM, "date", "the merchant's clock is out of range");
    int months = ty * 12 + (tm - 1) - RECON_MONTHS_BACK, ey = months / 12, em = months % 12 + 1;
    int ed = td > clock_days_in_month(ey, em) ? clock_days_in_month(ey, em) : td;
    if (*start_us < day_start(ey, em, ed))
        return cs_fail(d, CS_EPARAM, "date", "date %s is more than %d months back (the earliest is %04d-%02d-%02d): "
                       "older days are in the event log, read it with `caisse events dump`", date, RECON_MONTHS_BACK,
                       ey, em, ed);
    return 0;
}

/* 0 = Sunday … 6 = Saturday for the UTC day number (days since 1970-01-01, a Thursday). */
static int weekday(int64_t day)
{
    return (int)(((day + 4) % 7 + 7) % 7);
}

int recon_business_day(json_t *calendar, int64_t day)
{
    char date[16];
    clock_format_date(day * DAY_US, date, sizeof date);
    json_t *v = calendar ? json_object_get(calendar, date) : NULL;
    if (json_is_boolean(v))
        return json_is_true(v);
    int w = weekday(day);
    return w != 0 && w != 6;
}

/* The end of the business day `n` business days after the first business
 * day from `day` on. */
static int64_t business_deadline(json_t *calendar, int64_t day, int n)
{
    while (!recon_business_day(calendar, day))
        day++;
    for (int k = 0; k < n;)
        if (recon_business_day(calendar, ++day))
            k++;
    return (day + 1) * DAY_US;
}

int64_t recon_late_after_us(int64_t avail_us, json_t *calendar)
{
    return business_deadline(calendar, avail_us / DAY_US + 1, LATE_BUSINESS_DAYS);   /* the run after the hold */
}

int64_t recon_disbursement_late_after_us(int64_t created_us, json_t *calendar)
{
    return business_deadline(calendar, created_us / DAY_US + 1, DISBURSEMENT_LATE_BUSINESS_DAYS);
}

/* ---- the payouts, standard ones in creation order ----------------------------------------------- */

struct po {
    json_t *doc;
    const char *id, *currency, *status;
    int64_t created;
    int standard;
};

static int po_cmp(const void *a, const void *b)
{
    const struct po *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The payout that carried transaction `t`, or NULL: a standard payout's own
 * line is that payout; any other transaction falls in the window of the
 * first standard payout of its currency created at or after its
 * availability (core/ledger_lines.h). */
static const struct po *carrier_of(const struct po *pos, size_t n, json_t *t)
{
    const char *source = json_string_value(json_object_get(t, "source"));
    const char *currency = json_string_value(json_object_get(t, "currency"));
    int64_t avail = doc_int(t, "available_on_us"), prev = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (!pos[i].standard || !currency || !pos[i].currency || strcmp(pos[i].currency, currency) != 0)
            continue;
        if (source && doc_is(t, "type", "payout") && strcmp(source, pos[i].id) == 0)
            return &pos[i];
        if (ledger_window_holds(prev, pos[i].created, pos[i].id, avail, source))
            return &pos[i];
        prev = pos[i].created;
    }
    return NULL;
}

/* ---- the disbursements, in the order of the events they settle ----------------------------------- */

struct dsb {
    json_t *doc;
    const char *id, *currency;
    int64_t created, through, prev_through;   /* it settled the bnpl events (prev_through, through] */
};

static int dsb_cmp(const void *a, const void *b)
{
    const struct dsb *x = a, *y = b;
    if (x->through != y->through)
        return x->through < y->through ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The disbursement that carried the bnpl transaction `t`, or NULL: a
 * disbursement's own line is that disbursement; an order_payable or
 * order_reduction falls to the disbursement of its currency whose settled
 * range holds its event. */
static const struct dsb *dsb_carrier_of(const struct dsb *ds, size_t n, json_t *t)
{
    const char *source = json_string_value(json_object_get(t, "source"));
    const char *currency = json_string_value(json_object_get(t, "currency"));
    int64_t seq = doc_int(t, "event_seq");
    int own = doc_is(t, "type", "disbursement");
    for (size_t i = 0; i < n; i++) {
        if (own) {
            if (source && strcmp(source, ds[i].id) == 0)
                return &ds[i];
        } else if (seq > ds[i].prev_through && seq <= ds[i].through) {
            return currency && ds[i].currency && strcmp(currency, ds[i].currency) == 0 ? &ds[i] : NULL;
        }
    }
    return NULL;
}

/* ---- building ------------------------------------------------------------------------------------ */

struct build {
    const struct recon_input *in;
    json_t *items, *payouts, *disbursements, *findings;
    json_t *checked;   /* payments already compared with the ledger */
    int err;
};

static void finding(struct build *b, const char *code, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finding(struct build *b, const char *code, const char *id, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (json_array_append_new(b->findings, json_pack("{s:s,s:s,s:s}", "code", code, "id", id, "message", msg)))
        b->err = CS_ENOMEM;
}

static const char *str_or_null(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The payment an object is about: a payment itself, or a refund's or
 * dispute's `payment`. */
static const char *payment_of(struct build *b, const char *source)
{
    json_t *o = source ? json_object_get(b->in->objects, source) : NULL;
    if (!o)
        return NULL;
    if (doc_is(o, "object", "payment"))
        return source;
    return str_or_null(o, "payment");
}

/* ledger_mismatch: the payment's amount_captured against the sum of its
 * charge transactions in the ledger, and its amount_refunded against what
 * its refunds' transactions took (less their failures); once per payment. */
static void check_payment(struct build *b, const char *payment, const char *item)
{
    if (!payment || json_object_get(b->checked, payment))
        return;
    json_object_set_new(b->checked, payment, json_true());
    json_t *doc = json_object_get(b->in->objects, payment);
    if (!doc) {
        finding(b, "ledger_mismatch", item, "%s names the payment %s, which has no document", item, payment);
        return;
    }
    int64_t captured = doc_int(doc, "amount_captured"), ledger = doc_int(b->in->ledger_captured, payment);
    if (captured != ledger)
        finding(b, "ledger_mismatch", payment,
                "%s has amount_captured %lld but its charge transactions in the ledger add up to %lld", payment,
                (long long)captured, (long long)ledger);
    int64_t refunded = doc_int(doc, "amount_refunded"), taken = doc_int(b->in->ledger_refunded, payment);
    if (refunded != taken)
        finding(b, "ledger_mismatch", payment,
                "%s has amount_refunded %lld but its refund transactions in the ledger take %lld", payment,
                (long long)refunded, (long long)taken);
}

static json_t *item_new(const char *id, const char *type, const char *source, const char *payment, json_t *currency,
                        int64_t amount, int64_t fee, int64_t vat, int64_t net, json_t *created, json_t *available_on)
{
    return json_pack("{s:s,s:s,s:s?,s:s?,s:O?,s:I,s:I,s:I,s:I,s:O?,s:O?,s:n,s:n,s:s,s:n,s:n}", "id", id, "type", type,
                     "source", source, "payment", payment, "currency", currency, "amount", (json_int_t)amount, "fee",
                     (json_int_t)fee, "vat", (json_int_t)vat, "net", (json_int_t)net, "created", created,
                     "available_on", available_on, "payout", "payout_status", "state", "awaiting_payout", "reason",
                     "disbursement");
}

static void txn_item(struct build *b, const struct po *pos, size_t npo, json_t *t)
{
    const char *id = str_or_null(t, "id"), *type = str_or_null(t, "type"), *source = str_or_null(t, "source");
    if (!id || !type) {
        b->err = CS_ECORRUPT;
        return;
    }
    const char *payment = payment_of(b, source);
    json_t *it = item_new(id, type, source, payment, json_object_get(t, "currency"), doc_int(t, "amount"),
                          doc_int(t, "fee"), doc_int(t, "vat"), doc_int(t, "net"), json_object_get(t, "created"),
                          json_object_get(t, "available_on"));
    if (!it) {
        b->err = CS_ENOMEM;
        return;
    }
    const struct po *c = carrier_of(pos, npo, t);
    int64_t avail = doc_int(t, "available_on_us");
    const char *state;
    if (c) {
        json_object_set_new(it, "payout", json_string(c->id));
        json_object_set_new(it, "payout_status", json_string(c->status ? c->status : "?"));
        if (doc_is(c->doc, "status", "paid")) {
            state = "paid_out";
        } else if (doc_is(c->doc, "status", "failed")) {
            state = "awaiting_payout";   /* the payout_failure gave it back to the balance */
            json_t *f = json_object_get(c->doc, "failure");
            finding(b, "payout_failed", id, "%s was carried by the payout %s, which failed (%s): the money is back in "
                    "the balance for the next payout", id, c->id, f ? doc_str(f, "code") : "no reason recorded");
        } else {
            state = "in_payout";
        }
    } else {
        state = avail > b->in->now_us ? "held" : "awaiting_payout";
        int64_t late = recon_late_after_us(avail, b->in->calendar);
        if (strcmp(type, "charge") == 0 && b->in->now_us >= late) {
            char when[32];
            clock_format_rfc3339(late, when, sizeof when);
            finding(b, "payout_late", id, "%s was available on %s and no payout has carried it by %s", id,
                    doc_str(t, "available_on"), when);
        }
    }
    json_object_set_new(it, "state", json_string(state));
    if (json_array_append_new(b->items, it))
        b->err = CS_ENOMEM;
    if (strcmp(type, "charge") == 0) {
        if (!payment || strcmp(payment, source) != 0)
            finding(b, "ledger_mismatch", id, "the charge %s names %s, which is not a payment of this merchant", id,
                    source ? source : "nothing");
        else
            check_payment(b, payment, id);
    } else if (strcmp(type, "refund") == 0 || strcmp(type, "refund_failure") == 0) {
        check_payment(b, payment, id);   /* a refund without a payment is found there */
    }
}

/* A buy-now-pay-later transaction of the day against the disbursement
 * that carried it; an order_payable no disbursement carried by its due
 * run's next business day is late (disbursement_late). */
static void bnpl_item(struct build *b, const struct dsb *ds, size_t nds, json_t *t)
{
    const char *id = str_or_null(t, "id"), *type = str_or_null(t, "type"), *source = str_or_null(t, "source");
    if (!id || !type) {
        b->err = CS_ECORRUPT;
        return;
    }
    json_t *it = item_new(id, type, source, NULL, json_object_get(t, "currency"), doc_int(t, "amount"),
                          doc_int(t, "fee"), doc_int(t, "vat"), doc_int(t, "net"), json_object_get(t, "created"),
                          json_object_get(t, "available_on"));
    if (!it) {
        b->err = CS_ENOMEM;
        return;
    }
    const struct dsb *c = dsb_carrier_of(ds, nds, t);
    const char *state;
    if (c) {
        state = "disbursed";
        json_object_set_new(it, "disbursement", json_string(c->id));
    } else if (doc_int(t, "event_seq") < b->in->carried_over_seq) {
        state = "carried_over";   /* the reductions outweighed: by design, not late */
    } else {
        state = "awaiting_disbursement";
        int64_t created = clock_parse_rfc3339(str_or_null(t, "created"));
        int64_t late = recon_disbursement_late_after_us(created, b->in->calendar);
        if (strcmp(type, "order_payable") == 0 && created >= 0 && b->in->now_us >= late) {
            char when[32];
            clock_format_rfc3339(late, when, sizeof when);
            finding(b, "disbursement_late", id, "%s made %s payable on %s and no disbursement has carried it by %s", id,
                    source ? source : "an order", doc_str(t, "created"), when);
        }
    }
    json_object_set_new(it, "state", json_string(state));
    if (json_array_append_new(b->items, it))
        b->err = CS_ENOMEM;
}

static void unpaid_item(struct build *b, json_t *o, int dispute)
{
    const char *id = str_or_null(o, "id");
    if (!id) {
        b->err = CS_ECORRUPT;
        return;
    }
    json_t *failure = json_object_get(o, "failure");
    const char *payment = dispute ? str_or_null(o, "payment") : id;
    json_t *it = item_new(id, dispute ? "dispute" : "payment_failed", id, payment, json_object_get(o, "currency"),
                          doc_int(o, "amount"), 0, 0, 0,
                          dispute ? json_object_get(o, "created") : json_object_get(failure, "failed_at"), NULL);
    if (!it) {
        b->err = CS_ENOMEM;
        return;
    }
    json_object_set_new(it, "available_on", json_null());
    json_object_set_new(it, "state", json_string("unpaid"));
    json_t *reason = dispute ? json_object_get(o, "reason") : json_object_get(failure, "code");
    if (json_is_string(reason))
        json_object_set(it, "reason", reason);
    if (json_array_append_new(b->items, it))
        b->err = CS_ENOMEM;
    check_payment(b, payment, id);
}

/* The day's payouts: the net of the lines each standard one carried
 * against its amount (payout_mismatch). */
static void day_payouts(struct build *b, const struct po *pos, size_t npo)
{
    for (size_t i = 0; i < npo; i++) {
        const struct po *p = &pos[i];
        if (p->created < b->in->day_start_us || p->created >= b->in->day_end_us)
            continue;
        int64_t amount = doc_int(p->doc, "amount"), carried = 0;
        json_t *lines = json_object_get(b->in->payout_lines, p->id), *line;
        size_t k;
        json_t *row = json_pack("{s:s,s:O?,s:O?,s:I,s:O?,s:O?,s:n,s:n}", "id", p->id, "method",
                                json_object_get(p->doc, "method"), "status", json_object_get(p->doc, "status"), "amount",
                                (json_int_t)amount, "currency", json_object_get(p->doc, "currency"), "created",
                                json_object_get(p->doc, "created"), "carried_net", "carried_count");
        if (!row) {
            b->err = CS_ENOMEM;
            return;
        }
        if (p->standard) {
            json_array_foreach(lines, k, line)
                if (money_add(carried, doc_int(line, "net"), &carried)) {
                    json_decref(row);
                    b->err = CS_EAMOUNT;
                    return;
                }
            json_object_set_new(row, "carried_net", json_integer(carried));
            json_object_set_new(row, "carried_count", json_integer((json_int_t)json_array_size(lines)));
            if (carried != amount)
                finding(b, "payout_mismatch", p->id, "the payout %s paid %lld but the transactions it carried add up "
                        "to %lld", p->id, (long long)amount, (long long)carried);
        }
        if (json_array_append_new(b->payouts, row))
            b->err = CS_ENOMEM;
    }
}

/* What the ledger holds for one order of a disbursement's range. */
struct carried_order {
    int64_t payable, reduction;
};

/* The day's disbursements: the net of their order lines against their
 * amount, and the ledger's bnpl transactions in their settled range
 * (per order: payable and reduction) against their order lines
 * (disbursement_mismatch). */
static void day_disbursements(struct build *b, const struct dsb *ds, size_t nds)
{
    for (size_t i = 0; i < nds && !b->err; i++) {
        const struct dsb *p = &ds[i];
        if (p->created < b->in->day_start_us || p->created >= b->in->day_end_us)
            continue;
        json_t *orders = json_object_get(p->doc, "orders"), *line, *per_order = json_object();
        int64_t net = 0, gross = 0, amount = doc_int(p->doc, "amount"), count = 0;
        size_t k;
        if (!per_order) {
            b->err = CS_ENOMEM;
            return;
        }
        json_array_foreach(orders, k, line)
            if (money_add(net, doc_int(line, "net"), &net))
                b->err = CS_EAMOUNT;
        json_array_foreach(b->in->bnpl_carried, k, line) {
            int64_t seq = doc_int(line, "event_seq");
            const char *order = str_or_null(line, "source");
            int payable = doc_is(line, "type", "order_payable");
            if (b->err || seq <= p->prev_through || seq > p->through || !order || !p->currency ||
                !doc_is(line, "currency", p->currency) || (!payable && !doc_is(line, "type", "order_reduction")))
                continue;
            json_t *e = json_object_get(per_order, order);
            if (!e) {
                e = json_pack("{s:I,s:I}", "payable", (json_int_t)0, "reduction", (json_int_t)0);
                if (!e || json_object_set_new(per_order, order, e)) {
                    b->err = CS_ENOMEM;
                    break;
                }
            }
            const char *key = payable ? "payable" : "reduction";
            int64_t sum, amt = doc_int(line, "amount");
            if (money_add(gross, amt, &gross) || money_add(doc_int(e, key), payable ? amt : -amt, &sum))
                b->err = CS_EAMOUNT;
            else
                json_object_set_new(e, key, json_integer(sum));
            count++;
        }
        if (b->err) {
            json_decref(per_order);
            return;
        }
        json_t *row = json_pack("{s:s,s:O?,s:O?,s:I,s:O?,s:O?,s:O?,s:O?,s:O?,s:I,s:I,s:I}", "id", p->id, "reference",
                                json_object_get(p->doc, "reference"), "currency", json_object_get(p->doc, "currency"),
                                "amount", (json_int_t)amount, "gross_amount", json_object_get(p->doc, "gross_amount"),
                                "fees", json_object_get(p->doc, "fees"), "fees_vat", json_object_get(p->doc, "fees_vat"),
                                "created", json_object_get(p->doc, "created"), "through_event_seq",
                                json_object_get(p->doc, "through_event_seq"), "carried_net", (json_int_t)net,
                                "carried_gross", (json_int_t)gross, "carried_count", (json_int_t)count);
        if (!row || json_array_append_new(b->disbursements, row)) {
            json_decref(per_order);
            b->err = CS_ENOMEM;
            return;
        }
        if (net != amount)
            finding(b, "disbursement_mismatch", p->id, "the disbursement %s paid %lld but its orders' net add up to "
                    "%lld", p->id, (long long)amount, (long long)net);
        /* the ledger against the order lines, order by order */
        const char *differs = NULL;
        char why[160] = "";
        json_array_foreach(orders, k, line) {
            const char *order = str_or_null(line, "order");
            json_t *e = order ? json_object_get(per_order, order) : NULL;
            if (!e || doc_int(e, "payable") != doc_int(line, "payable") ||
                doc_int(e, "reduction") != doc_int(line, "reduction")) {
                differs = order ? order : "an order without id";
                snprintf(why, sizeof why, "payable %lld and reduction %lld in the disbursement, %lld and %lld in "
                         "the ledger", (long long)doc_int(line, "payable"), (long long)doc_int(line, "reduction"),
                         (long long)doc_int(e, "payable"), (long long)doc_int(e, "reduction"));
                break;
            }
        }
        if (!differs && json_object_size(per_order) != json_array_size(orders)) {
            const char *order;
            json_t *e;
            json_object_foreach(per_order, order, e) {
                int listed = 0;
                json_array_foreach(orders, k, line)
                    listed = listed || doc_is(line, "order", order);
                if (!listed) {
                    differs = order;
                    snprintf(why, sizeof why, "not in the disbursement, payable %lld and reduction %lld in the ledger",
                             (long long)doc_int(e, "payable"), (long long)doc_int(e, "reduction"));
                    break;
                }
            }
        }
        if (differs || gross != doc_int(p->doc, "gross_amount"))
            finding(b, "disbursement_mismatch", p->id, "the disbursement %s settled a gross %lld but the ledger's "
                    "transactions of its range add up to %lld%s%s%s%s", p->id, (long long)doc_int(p->doc, "gross_amount"),
                    (long long)gross, differs ? "; order " : "", differs ? differs : "", differs ? ": " : "", why);
        json_decref(per_order);
    }
}

static int item_cmp(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *cx = str_or_null(x, "created"), *cy = str_or_null(y, "created");
    int c = strcmp(cx ? cx : "", cy ? cy : "");
    return c ? c : strcmp(str_or_null(x, "id"), str_or_null(y, "id"));
}

/* Items oldest first: ids break ties (btx_<seq>_<n> before pay_, dp_…). */
static int sort_items(json_t *items)
{
    size_t n = json_array_size(items);
    if (n < 2)
        return 0;
    json_t **v = malloc(n * sizeof *v);
    if (!v)
        return CS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(items, i));
    qsort(v, n, sizeof *v, item_cmp);
    json_array_clear(items);
    int err = 0;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(items, v[i]))
            err = CS_ENOMEM;
    free(v);
    return err;
}

/* The disbursements sorted by the events they settle, each with the
 * through_event_seq of the one before. */
static struct dsb *dsbs_of(json_t *docs, size_t *n, int *err)
{
    *n = json_array_size(docs);
    struct dsb *ds = calloc(*n ? *n : 1, sizeof *ds);
    if (!ds) {
        *err = CS_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        json_t *p = json_array_get(docs, i);
        ds[i] = (struct dsb){.doc = p, .id = str_or_null(p, "id"), .currency = str_or_null(p, "currency"),
                             .created = clock_parse_rfc3339(doc_str(p, "created")),
                             .through = doc_int(p, "through_event_seq")};
        if (!ds[i].id || ds[i].created < 0)
            *err = CS_ECORRUPT;
    }
    if (*err)
        return ds;
    qsort(ds, *n, sizeof *ds, dsb_cmp);
    for (size_t i = 1; i < *n; i++)
        ds[i].prev_through = ds[i - 1].through;
    return ds;
}

int recon_build(const struct recon_input *in, json_t **out, struct cs_diag *d)
{
    *out = NULL;
    size_t npo = json_array_size(in->payouts), nds = 0;
    struct po *pos = calloc(npo ? npo : 1, sizeof *pos);
    struct build b = {.in = in, .items = json_array(), .payouts = json_array(), .disbursements = json_array(),
                      .findings = json_array(), .checked = json_object()};
    if (!pos || !b.items || !b.payouts || !b.disbursements || !b.findings || !b.checked)
        b.err = CS_ENOMEM;
    for (size_t i = 0; !b.err && i < npo; i++) {
        json_t *p = json_array_get(in->payouts, i);
        pos[i] = (struct po){.doc = p, .id = str_or_null(p, "id"), .currency = str_or_null(p, "currency"),
                             .status = str_or_null(p, "status"), .created = clock_parse_rfc3339(doc_str(p, "created")),
                             .standard = doc_is(p, "method", "standard")};
        if (!pos[i].id || pos[i].created < 0)
            b.err = CS_ECORRUPT;
    }
    if (!b.err)
        qsort(pos, npo, sizeof *pos, po_cmp);
    struct dsb *ds = b.err ? NULL : dsbs_of(in->disbursements, &nds, &b.err);
    size_t i;
    json_t *o;
    json_array_foreach(in->txns, i, o)
        if (!b.err) {
            if (doc_is(o, "stream", "bnpl"))
                bnpl_item(&b, ds, nds, o);
            else
                txn_item(&b, pos, npo, o);
        }
    json_array_foreach(in->failed, i, o)
        if (!b.err)
            unpaid_item(&b, o, 0);
    json_array_foreach(in->disputes, i, o)
        if (!b.err)
            unpaid_item(&b, o, 1);
    if (!b.err)
        day_payouts(&b, pos, npo);
    if (!b.err)
        day_disbursements(&b, ds, nds);
    if (!b.err)
        b.err = sort_items(b.items);
    free(pos);
    free(ds);
    json_decref(b.checked);
    if (!b.err)
        *out = json_pack("{s:o,s:o,s:o,s:o}", "items", b.items, "payouts", b.payouts, "disbursements",
                         b.disbursements, "findings", b.findings);
    else {
        json_decref(b.items);
        json_decref(b.payouts);
        json_decref(b.disbursements);
        json_decref(b.findings);
    }
    if (b.err)
        return cs_fail(d, b.err, "", b.err == CS_EAMOUNT ? "a payout's or disbursement's sum overflows"
                                                          : "the reconciliation could not be made");
    return *out ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

void recon_csv(json_t *items, struct csv_buf *c)
{
    static const char header[] = RECON_CSV_HEADER;
    csv_raw(c, header, sizeof header - 1);
    static const char *const text[] = {"id", "type", "source", "payment", "currency"};
    static const char *const money[] = {"amount", "fee", "vat", "net"};
    static const char *const tail[] = {"created", "available_on", "payout", "payout_status", "state", "reason",
                                       "disbursement"};
    const size_t ntail = sizeof tail / sizeof *tail;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        for (size_t k = 0; k < 5; k++)
            csv_text(c, str_or_null(it, text[k]), 0);
        for (size_t k = 0; k < 4; k++)
            csv_int(c, doc_int(it, money[k]), 0);
        for (size_t k = 0; k < ntail; k++)
            csv_text(c, str_or_null(it, tail[k]), k == ntail - 1);
    }
}

void recon_findings_csv(json_t *findings, struct csv_buf *c)
{
    static const char header[] = RECON_FINDINGS_CSV_HEADER;
    csv_raw(c, header, sizeof header - 1);
    size_t i;
    json_t *f;
    json_array_foreach(findings, i, f) {
        csv_text(c, str_or_null(f, "code"), 0);
        csv_text(c, str_or_null(f, "id"), 0);
        csv_text(c, str_or_null(f, "message"), 1);
    }
}
