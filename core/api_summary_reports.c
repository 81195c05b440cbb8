/* The yearly summary (PDF, XLSX) and the daily sales report (PDF, XLSX,
 * CSV) of docs/reports.md, made at each request from the ledger's balance
 * transactions (the year) and from the merchant's events of the day and the
 * documents they name (the day); nothing is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/report_common.h"
#include "core/reports.h"
#include "core/csv.h"
#include "core/ledger_lines.h"
#include "core/clock.h"
#include "core/doc.h"
#include "core/ids.h"
#include "core/limits.h"

/* The merchant's document and settlement currency; NULL (answered) if it has
 * none. */
static json_t *merchant_currency(struct req_ctx *rc, const struct currency **cur)
{
    json_t *merchant = req_merchant(rc);
    *cur = currency_find(doc_str(merchant, "currency"));
    if (!*cur) {
        respond_fail(rc, CS_ECORRUPT, "", "the merchant has no settlement currency");
        return NULL;
    }
    return merchant;
}

/* ---- GET /v1/reports/yearly.pdf|.xlsx?year=YYYY ------------------------------------------------ */

enum {
    Y_MONTH, Y_CHARGES, Y_CAPTURED, Y_REFUNDS, Y_DISPUTES, Y_FEES, Y_FEES_VAT, Y_PAYOUTS, Y_PAYABLE, Y_REDUCED,
    Y_BNPL_FEES, Y_BNPL_VAT, Y_DISBURSED, Y_COLUMNS
};

struct year_walk {
    const char *currency;
    int64_t lo, hi;
    int64_t sums[13][Y_COLUMNS];   /* 12 months, then the year */
    int err;
};

static void year_add(struct year_walk *w, int month, int col, int64_t v)
{
    if (money_add(w->sums[month][col], v, &w->sums[month][col]) || money_add(w->sums[12][col], v, &w->sums[12][col]))
        w->err = CS_EAMOUNT;
}

static int year_visit(void *ctx, json_t *o, int64_t created)
{
    struct year_walk *w = ctx;
    if (doc_is(o, "currency", w->currency)) {
        char date[16];
        clock_format_date(created, date, sizeof date);
        int m = atoi(date + 5) - 1;
        int64_t amount = doc_int(o, "amount"), fee = doc_int(o, "fee"), vat = doc_int(o, "vat");
        const char *type = doc_str(o, "type");
        if (m < 0 || m > 11 || !type) {
            w->err = CS_ECORRUPT;
        } else if (doc_is(o, "stream", "bnpl")) {
            /* signed as the bnpl stream sees them: a disbursement's fee, vat and net are negative */
            if (strcmp(type, "order_payable") == 0) {
                year_add(w, m, Y_PAYABLE, amount);
            } else if (strcmp(type, "order_reduction") == 0) {
                year_add(w, m, Y_REDUCED, amount);
            } else if (strcmp(type, "disbursement") == 0) {
                year_add(w, m, Y_BNPL_FEES, -fee);
                year_add(w, m, Y_BNPL_VAT, -vat);
                year_add(w, m, Y_DISBURSED, -doc_int(o, "net"));
            }
        } else {
            if (strcmp(type, "charge") == 0) {
                year_add(w, m, Y_CHARGES, 1);
                year_add(w, m, Y_CAPTURED, amount);
            } else if (strncmp(type, "refund", 6) == 0) {
                year_add(w, m, Y_REFUNDS, amount);
            } else if (strncmp(type, "dispute", 7) == 0) {
                year_add(w, m, Y_DISPUTES, amount);
            } else if (strncmp(type, "payout", 6) == 0) {
                year_add(w, m, Y_PAYOUTS, -amount);   /* paid out positive, a failure gives it back */
            }
            year_add(w, m, Y_FEES, fee);
            year_add(w, m, Y_FEES_VAT, vat);
        }
    }
    return w->err;
}

/* "YYYY" -> the year, or -1. */
static int year_of(const char *s)
{
    if (!s || strlen(s) != 4 || strspn(s, "0123456789") != 4)
        return -1;
    int y = atoi(s);
    return y >= 1970 && y <= 9998 ? y : -1;
}

static void yearly(struct req_ctx *rc, int xlsx)
{
    static const char *const allowed[] = {"year", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *ys = query_param(rc, "year");
    if (!ys) {
        respond_fail(rc, CS_EMISSING, "year", "year is required (YYYY)");
        return;
    }
    int year = year_of(ys);
    if (year < 0) {
        respond_fail(rc, CS_EPARAM, "year", "year must be a year as YYYY (1970 to 9998)");
        return;
    }
    char today[16];
    report_merchant_today(rc, today);
    if (year > atoi(today)) {
        respond_fail(rc, CS_EPARAM, "year", "year %s has not come yet on the merchant's clock (today is %s)", ys,
                     today);
        return;
    }
    const struct currency *cur;
    json_t *merchant = merchant_currency(rc, &cur);
    if (!merchant)
        return;
    char a[40], b[40];
    snprintf(a, sizeof a, "%04d-01-01T00:00:00.000000Z", year);
    snprintf(b, sizeof b, "%04d-01-01T00:00:00.000000Z", year + 1);
    struct year_walk w = {.currency = cur->code, .lo = clock_parse_rfc3339(a), .hi = clock_parse_rfc3339(b)};
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    err = ledger_txns_created_in(&t, rc->merchant_id, rc->livemode, w.lo, w.hi, year_visit, &w);
    store_abort(&t);
    if (err || w.err) {
        err = err ? err : w.err;
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the summary's sums overflow"
                                                    : "the yearly summary could not be made");
        return;
    }
    static const char *const columns[Y_COLUMNS] = {"month", "charges", "captured", "refunds", "disputes",
                                                   "card_fees", "card_vat", "payouts", "bnpl_payable",
                                                   "bnpl_reduced", "bnpl_fees", "bnpl_vat", "disbursed"};
    char months[12][8];
    struct report_cell cells[12 * Y_COLUMNS], totals[Y_COLUMNS];
    for (int m = 0; m <= 12; m++) {
        struct report_cell *row = m < 12 ? &cells[m * Y_COLUMNS] : totals;
        if (m < 12)
            snprintf(months[m], sizeof months[m], "%04d-%02d", year % 10000, m + 1);
        row[Y_MONTH] = (struct report_cell){.kind = REPORT_TEXT, .text = m < 12 ? months[m] : "Total"};
        for (int c = 1; c < Y_COLUMNS; c++)
            row[c] = (struct report_cell){.kind = c == Y_CHARGES ? REPORT_INT : REPORT_MONEY, .minor = w.sums[m][c]};
    }
    int64_t card = 0, bnpl = 0, all = 0;
    if (money_add(w.sums[12][Y_FEES], w.sums[12][Y_FEES_VAT], &card) ||
        money_add(w.sums[12][Y_BNPL_FEES], w.sums[12][Y_BNPL_VAT], &bnpl) || money_add(card, bnpl, &all)) {
        respond_fail(rc, CS_EAMOUNT, "", "the summary's sums overflow");
        return;
    }
    struct report_money_text fees, vat, card_t, bnpl_t, all_t;
    report_money_kv(&fees, w.sums[12][Y_FEES] + w.sums[12][Y_BNPL_FEES], cur);   /* parts of `all`: no overflow */
    report_money_kv(&vat, w.sums[12][Y_FEES_VAT] + w.sums[12][Y_BNPL_VAT], cur);
    report_money_kv(&card_t, card, cur);
    report_money_kv(&bnpl_t, bnpl, cur);
    report_money_kv(&all_t, all, cur);
    char title[48], name[32];
    snprintf(title, sizeof title, "Yearly summary %s", ys);
    snprintf(name, sizeof name, "yearly-%s.%s", ys, xlsx ? "xlsx" : "pdf");
    const struct report_kv header[] = {{"Merchant", doc_str(merchant, "name")},
                                       {"Country", doc_str(merchant, "country")},
                                       {"Merchant id", rc->merchant_id}, {"Year", ys}, {"Currency", cur->code},
                                       {"Mode", rc->livemode ? "live" : "test"}};
    const struct report_kv summary[] = {{"Commissions", fees.s}, {"VAT on commissions", vat.s},
                                        {"Card fees and VAT", card_t.s}, {"bnpl commissions and VAT", bnpl_t.s},
                                        {"Total invoiced, VAT included", all_t.s}};
    struct report r = {.title = title, .currency = cur->code, .exponent = cur->exponent, .header = header,
                       .n_header = 6, .summary_title = "Commissions invoiced", .summary = summary, .n_summary = 5,
                       .table_title = "Transactions per month", .columns = columns, .n_columns = Y_COLUMNS,
                       .cells = cells, .n_rows = 12, .totals = totals, .sheet = "months", .landscape = 1};
    report_render_send(rc, &r, xlsx, name);
}

void api_reports_yearly_pdf(struct req_ctx *rc)
{
    yearly(rc, 0);
}

void api_reports_yearly_xlsx(struct req_ctx *rc)
{
    yearly(rc, 1);
}

/* ---- GET /v1/reports/daily_sales.pdf|.xlsx|.csv?date=YYYY-MM-DD ----------------------------------- */

#define SALES_LINES_MAX 100000u   /* one day's report; beyond, the day's lines are in the exports */

struct day_walk {
    struct store_txn *t;
    int64_t lo, hi, stop_before_us;
    json_t *orders;     /* id -> {created_us, created_seq, confirmed_us, confirmed_seq}: created or confirmed */
    json_t *payments;   /* id -> {"failed": bool, "time_us": its first event of the day} : a payment.* event */
    json_t *refunds;    /* id -> {} : refund.created on the day */
    json_t *returns;    /* [{id, order, amount, time}] : order.returned on the day */
    int err;
};

static int day_visit(void *ctx, uint64_t seq)
{
    struct day_walk *w = ctx;
    struct event_view ev;
    int err = store_event_get(w->t, seq, &ev);
    if (err) {
        w->err = err;
        return 1;
    }
    int stop = ev.time_us < w->stop_before_us;
    if (ev.time_us >= w->lo && ev.time_us < w->hi && ev.type && ev.aggregate_id) {
        const char *id = ev.aggregate_id;
        if (strncmp(ev.type, "order.", 6) == 0) {
            int created = strcmp(ev.type, "order.created") == 0, confirmed = strcmp(ev.type, "order.confirmed") == 0;
            json_t *o = json_object_get(w->orders, id);
            if ((created || confirmed) && !o)
                json_object_set_new(w->orders, id, o = json_object());
            if (o && (created || confirmed)) {
                json_object_set_new(o, created ? "created_us" : "confirmed_us", json_integer(ev.time_us));
                json_object_set_new(o, created ? "created_seq" : "confirmed_seq", json_integer((json_int_t)seq));
            }
            json_t *ret = json_object_get(ev.data, "return");
            if (strcmp(ev.type, "order.returned") == 0 && json_is_object(ret))
                json_array_append_new(w->returns, json_pack("{s:O?,s:s,s:I,s:I}", "id", json_object_get(ret, "id"),
                                                            "order", id, "amount",
                                                            (json_int_t)doc_int(ret, "amount"), "time_us",
                                                            (json_int_t)ev.time_us));
        } else if (strncmp(ev.type, "payment.", 8) == 0) {
            json_t *p = json_object_get(w->payments, id);
            if (!p)
                json_object_set_new(w->payments, id, p = json_object());
            if (p && (strcmp(ev.type, "payment.failed") == 0 || strcmp(ev.type, "payment.charge_failed") == 0))
                json_object_set_new(p, "failed", json_true());
            if (p)   /* newest first: the last seen is the first of the day */
                json_object_set_new(p, "time_us", json_integer(ev.time_us));
        } else if (strcmp(ev.type, "refund.created") == 0) {
            json_object_set_new(w->refunds, id, json_object());
        }
    }
    event_view_clear(&ev);
    return stop;
}

/* An order's amount as of event `until_seq` of its stream: as created, then
 * as each cart edit left it (docs/events.md). */
struct amount_walk {
    struct store_txn *t;
    uint64_t until_seq;
    int64_t amount;
    int err;
};

static int amount_visit(void *ctx, uint64_t version, uint64_t seq)
{
    (void)version;
    struct amount_walk *w = ctx;
    if (seq > w->until_seq)
        return 1;
    struct event_view ev;
    int err = store_event_get(w->t, seq, &ev);
    if (err) {
        w->err = err;
        return 1;
    }
    if (ev.type && strcmp(ev.type, "order.created") == 0)
        w->amount = doc_int(json_object_get(ev.data, "order"), "amount");
    else if (ev.type && strcmp(ev.type, "order.cart_updated") == 0)
        w->amount = doc_int(json_object_get(ev.data, "after"), "amount");
    else if (ev.type && json_is_integer(json_object_get(ev.data, "amount_after")))
        w->amount = doc_int(ev.data, "amount_after");
    event_view_clear(&ev);
    return 0;
}

static int64_t time_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? clock_parse_rfc3339(s) : -1;
}

struct sale_line {
    int64_t time_us;
    char kind[8], id[CS_ID_BYTES_MAX], reference[CS_REFERENCE_BYTES_MAX + 1], method[32], outcome[16], status[32];
    char time[16];
    int64_t amount, sold, refunded;
};

struct sales {
    struct sale_line *lines;
    size_t n, cap;
    json_t *methods;   /* method -> {sales, sold, refunds, refunded} */
    int err;
};

static struct sale_line *sales_add(struct sales *s, int64_t time_us, const char *kind, const char *id,
                                   const char *reference, const char *method, const char *outcome, const char *status)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct sale_line *l = s->n >= SALES_LINES_MAX ? NULL : realloc(s->lines, cap * sizeof *l);
        if (!l) {
            s->err = s->n >= SALES_LINES_MAX ? CS_ETOOLARGE : CS_ENOMEM;
            return NULL;
        }
        s->lines = l;
        s->cap = cap;
    }
    struct sale_line *l = &s->lines[s->n++];
    memset(l, 0, sizeof *l);
    l->time_us = time_us;
    char full[40];
    clock_format_rfc3339(time_us, full, sizeof full);
    snprintf(l->time, sizeof l->time, "%.8s", full + 11);   /* HH:MM:SS (UTC) */
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    snprintf(l->id, sizeof l->id, "%s", id ? id : "");
    snprintf(l->reference, sizeof l->reference, "%s", reference ? reference : "");
    snprintf(l->method, sizeof l->method, "%s", method ? method : "");
    snprintf(l->outcome, sizeof l->outcome, "%s", outcome);
    snprintf(l->status, sizeof l->status, "%s", status ? status : "");
    return l;
}

static void method_add(struct sales *s, const char *method, int refund, int64_t amount)
{
    json_t *m = json_object_get(s->methods, method);
    if (!m)
        json_object_set_new(s->methods, method, m = json_pack("{s:I,s:I,s:I,s:I}", "sales", (json_int_t)0, "sold",
                                                              (json_int_t)0, "refunds", (json_int_t)0, "refunded",
                                                              (json_int_t)0));
    int64_t n = doc_int(m, refund ? "refunds" : "sales") + 1, sum = 0;
    if (!m || money_add(doc_int(m, refund ? "refunded" : "sold"), amount, &sum)) {
        s->err = m ? CS_EAMOUNT : CS_ENOMEM;
        return;
    }
    json_object_set_new(m, refund ? "refunds" : "sales", json_integer(n));
    json_object_set_new(m, refund ? "refunded" : "sold", json_integer(sum));
}

static int line_cmp(const void *a, const void *b)
{
    const struct sale_line *x = a, *y = b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->id, y->id);
}

static const char *text_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));   /* NULL: an empty cell */
}

static json_t *load_doc(struct store_txn *t, const char *id, int (*get)(struct store_txn *, const char *, MDB_val *))
{
    MDB_val v;
    return get(t, id, &v) == 0 ? json_loadb(v.mv_data, v.mv_size, 0, NULL) : NULL;
}

/* The day's lines from what the walk found (docs/reports.md "The daily sales report"). */
static void sales_build(struct sales *s, struct store_txn *t, struct day_walk *w, const char *currency)
{
    const char *id;
    json_t *v;
    json_object_foreach(w->orders, id, v) {
        json_t *o = load_doc(t, id, store_order_get);
        if (doc_is(o, "status", "abandoned") || doc_is(o, "status", "expired")) {
            json_decref(o);   /* abandoned checkouts and expired reviews are never shown (seed 001) */
            continue;
        }
        int c_day = json_object_get(v, "created_us") != NULL, k_day = json_object_get(v, "confirmed_us") != NULL;
        const char *product = json_string_value(json_object_get(json_object_get(o, "plan"), "product"));
        /* the amount sold: as the order stood when confirmed (when created, if not confirmed that day) */
        struct amount_walk aw = {.t = t, .until_seq = (uint64_t)doc_int(v, k_day ? "confirmed_seq" : "created_seq")};
        if (o && doc_is(o, "currency", currency)) {
            int err = store_stream_each(t, id, amount_visit, &aw);
            if (err || aw.err)
                s->err = err ? err : aw.err;
        }
        if (o && !s->err && doc_is(o, "currency", currency)) {
            struct sale_line *l = sales_add(s, doc_int(v, c_day ? "created_us" : "confirmed_us"), "order", id,
                                            text_of(o, "reference"), product ? product : "bnpl",
                                            k_day ? "confirmed" : "created", text_of(o, "status"));
            if (l) {
                l->amount = aw.amount;
                l->sold = k_day ? l->amount : 0;
                if (k_day)
                    method_add(s, l->method, 0, l->sold);
            }
        }
        json_decref(o);
    }
    json_object_foreach(w->payments, id, v) {
        json_t *p = load_doc(t, id, store_object_get);
        int64_t created = time_of(p, "created"), captured = 0, first = -1;
        size_t i;
        json_t *cap;
        json_array_foreach(json_object_get(p, "captures"), i, cap) {
            int64_t at = time_of(cap, "captured_at");
            if (at >= w->lo && at < w->hi) {
                if (money_add(captured, doc_int(cap, "amount"), &captured))
                    s->err = CS_EAMOUNT;
                if (first < 0 || at < first)
                    first = at;
            }
        }
        int c_day = created >= w->lo && created < w->hi, failed = json_is_true(json_object_get(v, "failed"));
        const char *outcome = captured > 0 ? "captured" : failed ? "failed" : c_day ? "created" : NULL;
        if (p && outcome && doc_is(p, "object", "payment") && doc_is(p, "currency", currency)) {
            int64_t at = c_day ? created : first >= 0 ? first : doc_int(v, "time_us");
            struct sale_line *l = sales_add(s, at, "payment", id,
                                            text_of(p, "order_reference"), "card", outcome, text_of(p, "status"));
            if (l) {
                l->amount = doc_int(p, "amount");
                l->sold = captured;
                if (captured > 0)
                    method_add(s, "card", 0, captured);
            }
        }
        json_decref(p);
    }
    json_object_foreach(w->refunds, id, v) {
        json_t *r = load_doc(t, id, store_object_get);
        if (r && doc_is(r, "currency", currency)) {
            struct sale_line *l = sales_add(s, time_of(r, "created"), "refund", id, text_of(r, "payment"), "card",
                                            "refunded", text_of(r, "status"));
            if (l) {
                l->amount = l->refunded = doc_int(r, "amount");
                method_add(s, "card", 1, l->refunded);
            }
        }
        json_decref(r);
    }
    size_t i;
    json_array_foreach(w->returns, i, v) {
        json_t *o = load_doc(t, text_of(v, "order"), store_order_get);
        const char *product = json_string_value(json_object_get(json_object_get(o, "plan"), "product"));
        if (o && doc_is(o, "currency", currency) && doc_int(v, "amount") > 0) {
            struct sale_line *l = sales_add(s, doc_int(v, "time_us"), "return", text_of(v, "id"), text_of(v, "order"),
                                            product ? product : "bnpl", "returned", text_of(o, "status"));
            if (l) {
                l->amount = l->refunded = doc_int(v, "amount");
                method_add(s, l->method, 1, l->refunded);
            }
        }
        json_decref(o);
    }
    if (s->n)
        qsort(s->lines, s->n, sizeof *s->lines, line_cmp);
}

enum { S_TIME, S_KIND, S_ID, S_REFERENCE, S_METHOD, S_OUTCOME, S_STATUS, S_AMOUNT, S_SOLD, S_REFUNDED, S_COLUMNS };
static const char *const sale_columns[S_COLUMNS] = {"time", "kind", "id", "reference", "method", "outcome",
                                                    "status", "amount", "sold", "refunded"};

static void sales_csv(struct req_ctx *rc, const struct sales *s, const char *currency, const char *date)
{
    struct csv_buf c = {0};
    static const char header[] = "time,kind,id,reference,method,outcome,status,amount,sold,refunded,currency\r\n";
    csv_raw(&c, header, sizeof header - 1);
    for (size_t i = 0; i < s->n; i++) {
        const struct sale_line *l = &s->lines[i];
        csv_text(&c, l->time, 0);
        csv_text(&c, l->kind, 0);
        csv_text(&c, l->id, 0);
        csv_text(&c, l->reference, 0);
        csv_text(&c, l->method, 0);
        csv_text(&c, l->outcome, 0);
        csv_text(&c, l->status, 0);
        csv_int(&c, l->amount, 0);
        csv_int(&c, l->sold, 0);
        csv_int(&c, l->refunded, 0);
        csv_text(&c, currency, 1);
    }
    if (c.err) {
        csv_free(&c);
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    char disposition[96];
    snprintf(disposition, sizeof disposition, "Content-Disposition: attachment; filename=\"daily-sales-%s.csv\"\r\n",
             date);
    http_respond(rc->req, 200, "text/csv; charset=utf-8", disposition, c.out, c.len);
    csv_free(&c);
}

/* 0 and the day's [lo, hi), or answered with a 400 naming `date`. */
static int day_param(struct req_ctx *rc, const char **date, int64_t *lo, int64_t *hi)
{
    const char *s = query_param(rc, "date");
    int y, m, d;
    if (!s) {
        respond_fail(rc, CS_EMISSING, "date", "date is required (YYYY-MM-DD)");
        return -1;
    }
    if (strlen(s) != 10 || clock_parse_date(s, &y, &m, &d) != 0 || y < 1970) {
        respond_fail(rc, CS_EPARAM, "date", "date must be a day as YYYY-MM-DD (a UTC day)");
        return -1;
    }
    char today[16], first[11];
    int64_t now = report_merchant_today(rc, today), day = report_day_of_date(y, m, d);
    int64_t first_day = report_history_first_day(now);
    report_date_of_day(first_day, first);
    if (day > report_day_of_us(now)) {
        respond_fail(rc, CS_EPARAM, "date", "date %s has not come yet on the merchant's clock (today is %s)", s, today);
        return -1;
    }
    if (day < first_day) {
        respond_fail(rc, CS_EPARAM, "date", "date must be %s or later: %d months are online; older events are in the "
                     "log (caisse events dump --since %lld)", first, REPORT_HISTORY_MONTHS,
                     (long long)(day * REPORT_DAY_US / 1000000));
        return -1;
    }
    *date = s;
    *lo = day * REPORT_DAY_US;
    *hi = *lo + REPORT_DAY_US;
    return 0;
}

enum { F_PDF, F_XLSX, F_CSV };

static void daily_sales(struct req_ctx *rc, int format)
{
    static const char *const allowed[] = {"date", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *date;
    int64_t lo, hi;
    if (day_param(rc, &date, &lo, &hi))
        return;
    const struct currency *cur;
    json_t *merchant = merchant_currency(rc, &cur);
    if (!merchant)
        return;
    struct day_walk w = {.lo = lo, .hi = hi, .stop_before_us = lo - REPORT_EVENT_LATENESS_DAYS_MAX * REPORT_DAY_US,
                         .orders = json_object(), .payments = json_object(), .refunds = json_object(),
                         .returns = json_array()};
    struct sales s = {.methods = json_object()};
    struct store_txn t;
    int err = !w.orders || !w.payments || !w.refunds || !w.returns || !s.methods ? CS_ENOMEM : 0;
    if (!err)
        err = store_read_begin(rc->app->store, &t);
    if (!err) {
        w.t = &t;
        err = store_merchant_events_each(&t, rc->merchant_id, rc->livemode, 0, 1, NULL, day_visit, &w);
        if (!err)
            err = w.err;
        if (!err) {
            sales_build(&s, &t, &w, cur->code);
            err = s.err;
        }
        store_abort(&t);
    }
    struct report_cell *cells = NULL, *mcells = NULL;
    const char **mnames = NULL;
    if (err == CS_ETOOLARGE) {
        respond_fail(rc, CS_EPARAM, "date", "the day has more than %u lines: use the payments and orders exports",
                     SALES_LINES_MAX);
        goto out;
    }
    if (err) {
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the report's sums overflow"
                                                    : "the daily sales report could not be made");
        goto out;
    }
    if (format == F_CSV) {
        sales_csv(rc, &s, cur->code, date);
        goto out;
    }
    /* the lines */
    struct report_cell totals[S_COLUMNS] = {{.kind = REPORT_TEXT, .text = "Total"}};
    cells = calloc(s.n ? s.n * S_COLUMNS : 1, sizeof *cells);
    size_t nm = json_object_size(s.methods);
    mcells = calloc((nm + 1) * 5, sizeof *mcells);
    mnames = calloc(nm + 1, sizeof *mnames);
    if (!cells || !mcells || !mnames) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        goto out;
    }
    totals[S_SOLD].kind = totals[S_REFUNDED].kind = REPORT_MONEY;
    int64_t n_sales = 0, n_refunds = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct sale_line *l = &s.lines[i];
        struct report_cell *row = &cells[i * S_COLUMNS];
        const char *texts[] = {l->time, l->kind, l->id, l->reference, l->method, l->outcome, l->status};
        for (int c = 0; c < S_AMOUNT; c++)
            row[c] = (struct report_cell){.kind = REPORT_TEXT, .text = texts[c]};
        row[S_AMOUNT] = (struct report_cell){.kind = REPORT_MONEY, .minor = l->amount};
        row[S_SOLD] = (struct report_cell){.kind = REPORT_MONEY, .minor = l->sold};
        row[S_REFUNDED] = (struct report_cell){.kind = REPORT_MONEY, .minor = l->refunded};
        if (money_add(totals[S_SOLD].minor, l->sold, &totals[S_SOLD].minor) ||
            money_add(totals[S_REFUNDED].minor, l->refunded, &totals[S_REFUNDED].minor)) {
            respond_fail(rc, CS_EAMOUNT, "", "the report's sums overflow");
            goto out;
        }
    }
    /* per method: card first, then the plan products by name (jansson keeps insertion order: sort) */
    const char *key;
    json_t *m;
    size_t k = 0;
    json_object_foreach(s.methods, key, m) mnames[k++] = key;
    for (size_t i = 1; i < nm; i++)
        for (size_t j = i; j > 0; j--) {
            int a_card = strcmp(mnames[j - 1], "card") == 0, b_card = strcmp(mnames[j], "card") == 0;
            if (a_card || (!b_card && strcmp(mnames[j - 1], mnames[j]) <= 0))
                break;
            const char *x = mnames[j];
            mnames[j] = mnames[j - 1];
            mnames[j - 1] = x;
        }
    struct report_cell mtotals[5] = {{.kind = REPORT_TEXT, .text = "Total"}, {.kind = REPORT_INT},
                                     {.kind = REPORT_MONEY}, {.kind = REPORT_INT}, {.kind = REPORT_MONEY}};
    static const char *const mfields[5] = {NULL, "sales", "sold", "refunds", "refunded"};
    for (size_t i = 0; i < nm; i++) {
        m = json_object_get(s.methods, mnames[i]);
        mcells[i * 5] = (struct report_cell){.kind = REPORT_TEXT, .text = mnames[i]};
        for (int c = 1; c < 5; c++) {
            mcells[i * 5 + c] = (struct report_cell){.kind = mtotals[c].kind, .minor = doc_int(m, mfields[c])};
            mtotals[c].minor += doc_int(m, mfields[c]);   /* counts and sums of the lines' sums above: no overflow */
        }
    }
    n_sales = mtotals[1].minor;
    n_refunds = mtotals[3].minor;
    struct report_money_text sold, refunded;
    report_money_kv(&sold, totals[S_SOLD].minor, cur);
    report_money_kv(&refunded, totals[S_REFUNDED].minor, cur);
    char sales_t[80], refunds_t[80], title[48], name[48];
    snprintf(sales_t, sizeof sales_t, "%lld, %s", (long long)n_sales, sold.s);
    snprintf(refunds_t, sizeof refunds_t, "%lld, %s", (long long)n_refunds, refunded.s);
    snprintf(title, sizeof title, "Daily sales %s", date);
    snprintf(name, sizeof name, "daily-sales-%s.%s", date, format == F_XLSX ? "xlsx" : "pdf");
    const struct report_kv header[] = {{"Merchant", doc_str(merchant, "name")},
                                       {"Country", doc_str(merchant, "country")},
                                       {"Merchant id", rc->merchant_id}, {"Date (UTC)", date},
                                       {"Currency", cur->code}, {"Mode", rc->livemode ? "live" : "test"}};
    const struct report_kv summary[] = {{"Sales", sales_t}, {"Refunds and returns", refunds_t}};
    static const char *const mcolumns[5] = {"method", "sales", "sold", "refunds", "refunded"};
    struct report per_method = {.table_title = "Per payment method", .columns = mcolumns, .n_columns = 5,
                                .cells = mcells, .n_rows = nm, .totals = mtotals, .sheet = "methods"};
    struct report r = {.title = title, .currency = cur->code, .exponent = cur->exponent, .header = header,
                       .n_header = 6, .summary_title = "Totals", .summary = summary, .n_summary = 2,
                       .table_title = "Sales of the day", .columns = sale_columns, .n_columns = S_COLUMNS,
                       .cells = cells, .n_rows = s.n, .totals = totals, .sheet = "lines", .landscape = 1,
                       .next = &per_method};
    report_render_send(rc, &r, format == F_XLSX, name);
out:
    free(cells);
    free(mcells);
    free(mnames);
    free(s.lines);
    json_decref(s.methods);
    json_decref(w.orders);
    json_decref(w.payments);
    json_decref(w.refunds);
    json_decref(w.returns);
}

void api_reports_daily_sales_pdf(struct req_ctx *rc)
{
    daily_sales(rc, F_PDF);
}

void api_reports_daily_sales_xlsx(struct req_ctx *rc)
{
    daily_sales(rc, F_XLSX);
}

void api_reports_daily_sales_csv(struct req_ctx *rc)
{
    daily_sales(rc, F_CSV);
}
