/* Reconciliation of a day of card payments, pure (core/reconciliation.h). */
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

static int business(int64_t day)
{
    int w = weekday(day);
    return w != 0 && w != 6;
}

int64_t recon_late_after_us(int64_t avail_us)
{
    int64_t day = avail_us / DAY_US + 1;   /* the run of the first day after the hold */
    while (!business(day))
        day++;
    for (int n = 0; n < LATE_BUSINESS_DAYS;)
        if (business(++day))
            n++;
    return (day + 1) * DAY_US;
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

/* ---- building ------------------------------------------------------------------------------------ */

struct build {
    const struct recon_input *in;
    json_t *items, *payouts, *findings;
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
 * charge transactions in the ledger; once per payment. */
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
}

static json_t *item_new(const char *id, const char *type, const char *source, const char *payment, json_t *currency,
                        int64_t amount, int64_t fee, int64_t vat, int64_t net, json_t *created, json_t *available_on)
{
    return json_pack("{s:s,s:s,s:s?,s:s?,s:O?,s:I,s:I,s:I,s:I,s:O?,s:O?,s:n,s:n,s:s,s:n}", "id", id, "type", type,
                     "source", source, "payment", payment, "currency", currency, "amount", (json_int_t)amount, "fee",
                     (json_int_t)fee, "vat", (json_int_t)vat, "net", (json_int_t)net, "created", created,
                     "available_on", available_on, "payout", "payout_status", "state", "awaiting_payout", "reason");
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
        if (strcmp(type, "charge") == 0 && b->in->now_us >= recon_late_after_us(avail)) {
            char when[32];
            clock_format_rfc3339(recon_late_after_us(avail), when, sizeof when);
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
    }
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

int recon_build(const struct recon_input *in, json_t **out, struct cs_diag *d)
{
    *out = NULL;
    size_t npo = json_array_size(in->payouts);
    struct po *pos = calloc(npo ? npo : 1, sizeof *pos);
    struct build b = {.in = in, .items = json_array(), .payouts = json_array(), .findings = json_array(),
                      .checked = json_object()};
    if (!pos || !b.items || !b.payouts || !b.findings || !b.checked)
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
    size_t i;
    json_t *o;
    json_array_foreach(in->txns, i, o)
        if (!b.err)
            txn_item(&b, pos, npo, o);
    json_array_foreach(in->failed, i, o)
        if (!b.err)
            unpaid_item(&b, o, 0);
    json_array_foreach(in->disputes, i, o)
        if (!b.err)
            unpaid_item(&b, o, 1);
    if (!b.err)
        day_payouts(&b, pos, npo);
    if (!b.err)
        b.err = sort_items(b.items);
    free(pos);
    json_decref(b.checked);
    if (!b.err)
        *out = json_pack("{s:o,s:o,s:o}", "items", b.items, "payouts", b.payouts, "findings", b.findings);
    else {
        json_decref(b.items);
        json_decref(b.payouts);
        json_decref(b.findings);
    }
    if (b.err)
        return cs_fail(d, b.err, "", b.err == CS_EAMOUNT ? "a payout's sum overflows" : "the reconciliation could not be made");
    return *out ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

void recon_csv(json_t *items, struct csv_buf *c)
{
    static const char header[] = RECON_CSV_HEADER;
    csv_raw(c, header, sizeof header - 1);
    static const char *const text[] = {"id", "type", "source", "payment", "currency"};
    static const char *const money[] = {"amount", "fee", "vat", "net"};
    static const char *const tail[] = {"created", "available_on", "payout", "payout_status", "state", "reason"};
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        for (size_t k = 0; k < 5; k++)
            csv_text(c, str_or_null(it, text[k]), 0);
        for (size_t k = 0; k < 4; k++)
            csv_int(c, doc_int(it, money[k]), 0);
        for (size_t k = 0; k < 6; k++)
            csv_text(c, str_or_null(it, tail[k]), k == 5);
    }
}
