/* Reports as files (docs/reports.md): a payout's report as PDF (invoice of
 * caisse's fees + payment report) and XLSX (its lines), and the monthly fee
 * invoice as PDF. The handlers read the store, build a report model
 * (core/report_model.h) and hand it to the renderers; nothing is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/report_model.h"
#include "core/report_pdf.h"
#include "core/report_xlsx.h"
#include "core/objects.h"
#include "core/scheduler.h"
#include "core/money.h"
#include "core/clock.h"
#include "core/doc.h"
#include "core/ids.h"
#include "core/ledger_lines.h"

#define PAYOUT_COLUMNS 8
#define FEE_COLUMNS 7

/* ---- the model ------------------------------------------------------------------------------- */

struct money_text {
    char s[REPORT_MONEY_TEXT_BYTES + 8];
};

static void money_kv(struct money_text *m, int64_t minor, const struct currency *cur)
{
    int n = report_money_text(minor, cur->exponent, m->s, REPORT_MONEY_TEXT_BYTES);
    if (n < 0)
        snprintf(m->s, sizeof m->s, "?");
    else
        snprintf(m->s + n, sizeof m->s - (size_t)n, " %s", cur->code);
}

/* Cells of the lines (columns given by `fields`: text, or money for the
 * names starting with '$'), and their totals; CS_EAMOUNT on overflow. */
static int cells_of(json_t *lines, const char *const *fields, size_t ncol, struct report_cell **cells,
                    struct report_cell *totals)
{
    size_t n = json_array_size(lines);
    *cells = calloc(n ? n * ncol : 1, sizeof **cells);
    if (!*cells)
        return CS_ENOMEM;
    for (size_t c = 0; c < ncol; c++)
        totals[c] = (struct report_cell){.kind = fields[c][0] == '$' ? REPORT_MONEY : REPORT_TEXT,
                                         .text = c == 0 ? "Total" : NULL};
    for (size_t r = 0; r < n; r++) {
        json_t *o = json_array_get(lines, r);
        for (size_t c = 0; c < ncol; c++) {
            struct report_cell *cell = &(*cells)[r * ncol + c];
            if (fields[c][0] != '$') {
                *cell = (struct report_cell){.kind = REPORT_TEXT, .text = doc_str(o, fields[c])};
                continue;
            }
            /* "$fee+vat": a sum of two fields */
            char name[32];
            snprintf(name, sizeof name, "%s", fields[c] + 1);
            char *plus = strchr(name, '+');
            int64_t v = 0;
            if (plus) {
                *plus = 0;
                if (money_add(doc_int(o, name), doc_int(o, plus + 1), &v))
                    return CS_EAMOUNT;
            } else {
                v = doc_int(o, name);
            }
            *cell = (struct report_cell){.kind = REPORT_MONEY, .minor = v};
            if (money_add(totals[c].minor, v, &totals[c].minor))
                return CS_EAMOUNT;
        }
    }
    return 0;
}

static void send_file(struct req_ctx *rc, const char *type, const char *name, unsigned char *buf, size_t len)
{
    char disposition[160];
    snprintf(disposition, sizeof disposition, "Content-Disposition: attachment; filename=\"%s\"\r\n", name);
    http_respond(rc->req, 200, type, disposition, (const char *)buf, len);
    free(buf);
}

/* ---- GET /v1/payouts/{id}/report.pdf|.xlsx --------------------------------------------------- */

static void payout_report(struct req_ctx *rc, int xlsx)
{
    static const char *const allowed[] = {NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *id = rc->params[0];
    if (!id_valid(id, "po")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such payout: %s", id);
        return;
    }
    struct store_txn t;
    json_t *payout = NULL, *merchant = NULL;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    err = object_load_own(&t, id, rc->merchant_id, rc->livemode, &payout);
    if (err) {
        store_abort(&t);
        if (err == CS_ENOENT)
            respond_fail(rc, CS_ENOTFOUND, "id", "no such payout: %s", id);
        else
            respond_fail(rc, err, "", "the payout could not be read");
        return;
    }
    MDB_val mv;
    if (store_merchant_get(&t, rc->merchant_id, &mv) == 0)
        merchant = json_loadb(mv.mv_data, mv.mv_size, 0, NULL);
    const struct currency *cur = currency_find(doc_str(payout, "currency"));
    int64_t created = clock_parse_rfc3339(doc_str(payout, "created"));
    json_t *lines = NULL;
    err = ledger_lines_of_payout(&t, rc->merchant_id, rc->livemode, payout, &lines);
    store_abort(&t);
    if (!err && (!cur || created < 0 || !merchant))
        err = CS_ECORRUPT;
    static const char *const columns[PAYOUT_COLUMNS] = {"id", "date", "type", "source", "amount", "fee", "vat", "net"};
    static const char *const fields[PAYOUT_COLUMNS] = {"id", "date", "type", "source", "$amount", "$fee", "$vat", "$net"};
    struct report_cell *cells = NULL, totals[PAYOUT_COLUMNS];
    if (!err)
        err = cells_of(lines, fields, PAYOUT_COLUMNS, &cells, totals);
    if (err) {
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the report's totals overflow" : "the payout's report could not be made");
        goto out;
    }
    char date[16], title[96];
    clock_format_date(created, date, sizeof date);
    snprintf(title, sizeof title, "Payout %s", id);
    struct money_text paid, fees, vat, invoiced;
    int64_t inv = 0;
    money_kv(&paid, doc_int(payout, "amount"), cur);
    money_kv(&fees, totals[5].minor, cur);
    money_kv(&vat, totals[6].minor, cur);
    if (money_add(totals[5].minor, totals[6].minor, &inv)) {
        respond_fail(rc, CS_EAMOUNT, "", "the report's totals overflow");
        goto out;
    }
    money_kv(&invoiced, inv, cur);
    const struct report_kv header[] = {
        {"Merchant", doc_str(merchant, "name")}, {"Country", doc_str(merchant, "country")},
        {"Payout", id}, {"Date", date}, {"Method", doc_str(payout, "method")},
        {"Status", doc_str(payout, "status")}, {"Amount paid out", paid.s}};
    const struct report_kv summary[] = {{"Fees", fees.s}, {"VAT on fees", vat.s}, {"Total fees and VAT", invoiced.s}};
    struct report r = {.title = title, .currency = cur->code, .exponent = cur->exponent, .header = header,
                       .n_header = sizeof header / sizeof *header, .summary_title = "Invoice: caisse's fees",
                       .summary = summary, .n_summary = 3, .table_title = "Payment report", .columns = columns,
                       .n_columns = PAYOUT_COLUMNS, .cells = cells, .n_rows = json_array_size(lines),
                       .totals = totals};
    unsigned char *buf = NULL;
    size_t len = 0;
    char name[CS_ID_BYTES_MAX + 16];
    snprintf(name, sizeof name, "%s-report.%s", id, xlsx ? "xlsx" : "pdf");
    err = xlsx ? report_xlsx_render(&r, rc->app->data_dir, &buf, &len, &rc->diag)
               : report_pdf_render(&r, &buf, &len, &rc->diag);
    if (err)
        respond_error(rc);
    else
        send_file(rc, xlsx ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "application/pdf",
                  name, buf, len);
out:
    free(cells);
    json_decref(lines);
    json_decref(payout);
    json_decref(merchant);
}

void api_payout_report_pdf(struct req_ctx *rc)
{
    payout_report(rc, 0);
}

void api_payout_report_xlsx(struct req_ctx *rc)
{
    payout_report(rc, 1);
}

/* ---- GET /v1/reports/fees.pdf?month=YYYY-MM ---------------------------------------------------- */

/* "YYYY-MM" into [start, end) in UTC microseconds; -1 if malformed. */
static int month_range(const char *s, int64_t *start, int64_t *end, int *ym)
{
    if (!s || strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = atoi(s), m = atoi(s + 5);
    if (y < 1970 || y > 9998 || m < 1 || m > 12)
        return -1;
    char a[40], b[40];
    snprintf(a, sizeof a, "%04d-%02d-01T00:00:00.000000Z", y, m);
    snprintf(b, sizeof b, "%04d-%02d-01T00:00:00.000000Z", m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
    *start = clock_parse_rfc3339(a);
    *end = clock_parse_rfc3339(b);
    *ym = y * 12 + (m - 1);
    return *start < 0 || *end < 0 ? -1 : 0;
}

void api_reports_fees_pdf(struct req_ctx *rc)
{
    static const char *const allowed[] = {"month", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *month = query_param(rc, "month");
    int64_t start, end;
    int ym;
    if (!month) {
        respond_fail(rc, CS_EMISSING, "month", "month is required (YYYY-MM)");
        return;
    }
    if (month_range(month, &start, &end, &ym)) {
        respond_fail(rc, CS_EPARAM, "month", "month must be a month as YYYY-MM");
        return;
    }
    char today[16];
    clock_format_date(merchant_now_us(rc->app, rc->merchant_id, rc->livemode), today, sizeof today);
    if (ym > atoi(today) * 12 + (atoi(today + 5) - 1)) {
        respond_fail(rc, CS_EPARAM, "month", "month %s has not begun on the merchant's clock (today is %s)", month, today);
        return;
    }
    struct store_txn t;
    json_t *merchant = NULL;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    MDB_val mv;
    if (store_merchant_get(&t, rc->merchant_id, &mv) == 0)
        merchant = json_loadb(mv.mv_data, mv.mv_size, 0, NULL);
    const struct currency *cur = currency_find(doc_str(merchant, "currency"));
    json_t *lines = NULL;
    err = !cur ? CS_ECORRUPT : ledger_lines_with_fees(&t, rc->merchant_id, rc->livemode, cur->code, start, end, &lines);
    store_abort(&t);
    static const char *const columns[FEE_COLUMNS] = {"id", "date", "type", "source", "fee", "vat", "total"};
    static const char *const fields[FEE_COLUMNS] = {"id", "date", "type", "source", "$fee", "$vat", "$fee+vat"};
    struct report_cell *cells = NULL, totals[FEE_COLUMNS];
    if (!err)
        err = cells_of(lines, fields, FEE_COLUMNS, &cells, totals);
    if (err) {
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the invoice's totals overflow" : "the fee invoice could not be made");
    } else {
        char title[64];
        snprintf(title, sizeof title, "Fee invoice %s", month);
        struct money_text fees, vat, total;
        money_kv(&fees, totals[4].minor, cur);
        money_kv(&vat, totals[5].minor, cur);
        money_kv(&total, totals[6].minor, cur);
        const struct report_kv header[] = {{"Merchant", doc_str(merchant, "name")},
                                           {"Country", doc_str(merchant, "country")},
                                           {"Merchant id", rc->merchant_id}, {"Month", month},
                                           {"Mode", rc->livemode ? "live" : "test"}};
        const struct report_kv summary[] = {{"Fees", fees.s}, {"VAT on fees", vat.s}, {"Total fees and VAT", total.s}};
        struct report r = {.title = title, .currency = cur->code, .exponent = cur->exponent, .header = header,
                           .n_header = 5, .summary_title = "Invoice: caisse's fees", .summary = summary, .n_summary = 3,
                           .table_title = "Fees per transaction", .columns = columns, .n_columns = FEE_COLUMNS,
                           .cells = cells, .n_rows = json_array_size(lines), .totals = totals};
        unsigned char *buf = NULL;
        size_t len = 0;
        if (report_pdf_render(&r, &buf, &len, &rc->diag)) {
            respond_error(rc);
        } else {
            char name[48];
            snprintf(name, sizeof name, "fees-%s.pdf", month);
            send_file(rc, "application/pdf", name, buf, len);
        }
    }
    free(cells);
    json_decref(lines);
    json_decref(merchant);
}
