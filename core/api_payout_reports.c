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
#include "core/report_common.h"

#define PAYOUT_COLUMNS 8
#define FEE_COLUMNS 7

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
        err = report_cells_of(lines, fields, PAYOUT_COLUMNS, &cells, totals);
    if (err) {
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the report's totals overflow" : "the payout's report could not be made");
        goto out;
    }
    char date[16], title[96];
    clock_format_date(created, date, sizeof date);
    snprintf(title, sizeof title, "Payout %s", id);
    struct report_money_text paid, fees, vat, invoiced;
    int64_t inv = 0;
    report_money_kv(&paid, doc_int(payout, "amount"), cur);
    report_money_kv(&fees, totals[5].minor, cur);
    report_money_kv(&vat, totals[6].minor, cur);
    if (money_add(totals[5].minor, totals[6].minor, &inv)) {
        respond_fail(rc, CS_EAMOUNT, "", "the report's totals overflow");
        goto out;
    }
    report_money_kv(&invoiced, inv, cur);
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
        report_send_file(rc, xlsx ? REPORT_XLSX_TYPE : REPORT_PDF_TYPE, name, buf, len);
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

/* The bnpl commission lines into the card fee lines, both oldest first, by
 * event_seq (a disbursement is an event of its own); *bnpl_total their fee
 * and VAT. */
static int merge_by_seq(json_t *lines, json_t *bnpl, int64_t *bnpl_total)
{
    size_t at = 0, i;
    json_t *b;
    json_array_foreach(bnpl, i, b) {
        if (money_add(*bnpl_total, doc_int(b, "fee"), bnpl_total) ||
            money_add(*bnpl_total, doc_int(b, "vat"), bnpl_total))
            return CS_EAMOUNT;
        while (at < json_array_size(lines) && doc_int(json_array_get(lines, at), "event_seq") < doc_int(b, "event_seq"))
            at++;
        if (json_array_insert(lines, at++, b))
            return CS_ENOMEM;
    }
    return 0;
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
    if (report_month_range(month, &start, &end, &ym)) {
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
    json_t *lines = NULL, *bnpl = NULL;
    err = !cur ? CS_ECORRUPT : ledger_lines_with_fees(&t, rc->merchant_id, rc->livemode, cur->code, start, end, &lines);
    if (!err)   /* the buy-now-pay-later commissions of the month's disbursements */
        err = ledger_commission_lines(&t, rc->merchant_id, rc->livemode, cur->code, start, end, &bnpl);
    store_abort(&t);
    int64_t bnpl_total = 0;
    if (!err)
        err = merge_by_seq(lines, bnpl, &bnpl_total);
    static const char *const columns[FEE_COLUMNS] = {"id", "date", "type", "source", "fee", "vat", "total"};
    static const char *const fields[FEE_COLUMNS] = {"id", "date", "type", "source", "$fee", "$vat", "$fee+vat"};
    struct report_cell *cells = NULL, totals[FEE_COLUMNS];
    if (!err)
        err = report_cells_of(lines, fields, FEE_COLUMNS, &cells, totals);
    if (err) {
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the invoice's totals overflow" : "the fee invoice could not be made");
    } else {
        char title[64];
        snprintf(title, sizeof title, "Fee invoice %s", month);
        struct report_money_text fees, vat, total, commissions;
        report_money_kv(&fees, totals[4].minor, cur);
        report_money_kv(&vat, totals[5].minor, cur);
        report_money_kv(&total, totals[6].minor, cur);
        report_money_kv(&commissions, bnpl_total, cur);
        const struct report_kv header[] = {{"Merchant", doc_str(merchant, "name")},
                                           {"Country", doc_str(merchant, "country")},
                                           {"Merchant id", rc->merchant_id}, {"Month", month},
                                           {"Mode", rc->livemode ? "live" : "test"}};
        const struct report_kv summary[] = {{"Fees", fees.s}, {"VAT on fees", vat.s}, {"Total fees and VAT", total.s},
                                            {"of which bnpl commissions", commissions.s}};
        struct report r = {.title = title, .currency = cur->code, .exponent = cur->exponent, .header = header,
                           .n_header = 5, .summary_title = "Invoice: caisse's fees", .summary = summary, .n_summary = 4,
                           .table_title = "Fees per transaction", .columns = columns, .n_columns = FEE_COLUMNS,
                           .cells = cells, .n_rows = json_array_size(lines), .totals = totals};
        unsigned char *buf = NULL;
        size_t len = 0;
        if (report_pdf_render(&r, &buf, &len, &rc->diag)) {
            respond_error(rc);
        } else {
            char name[48];
            snprintf(name, sizeof name, "fees-%s.pdf", month);
            report_send_file(rc, REPORT_PDF_TYPE, name, buf, len);
        }
    }
    free(cells);
    json_decref(lines);
    json_decref(bnpl);
    json_decref(merchant);
}
