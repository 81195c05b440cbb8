/* A buy-now-pay-later disbursement's report (docs/reports.md): PDF (invoice
 * of the commissions + payment report, one line per order) and XLSX (the
 * same lines), made from the disbursement's document at each request;
 * nothing is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/report_common.h"
#include "core/objects.h"
#include "core/clock.h"
#include "core/doc.h"
#include "core/ids.h"

#define DSB_COLUMNS 9

static void disbursement_report(struct req_ctx *rc, int xlsx)
{
    static const char *const allowed[] = {NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *id = rc->params[0];
    json_t *dsb = NULL;
    if (!id_valid(id, "dsb")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such disbursement: %s", id);
        return;
    }
    if (object_fetch(rc, id, "id", "disbursement", &dsb))
        return;
    json_t *merchant = req_merchant(rc);
    const struct currency *cur = currency_find(doc_str(dsb, "currency"));
    json_t *lines = json_object_get(dsb, "orders");
    static const char *const columns[DSB_COLUMNS] = {"order", "reference", "product", "payable", "reduction",
                                                     "amount", "fee", "vat", "net"};
    static const char *const fields[DSB_COLUMNS] = {"order", "reference", "product", "$payable", "$reduction",
                                                    "$amount", "$fee", "$vat", "$net"};
    struct report_cell *cells = NULL, totals[DSB_COLUMNS];
    int err = !cur || !merchant || !json_is_array(lines) || !doc_is(dsb, "object", "disbursement") ? CS_ECORRUPT : 0;
    if (!err)
        err = report_cells_of(lines, fields, DSB_COLUMNS, &cells, totals);
    /* The lines add up to the disbursement's totals (docs/disbursements.md). */
    if (!err && (totals[5].minor != doc_int(dsb, "gross_amount") || totals[6].minor != doc_int(dsb, "fees") ||
                 totals[7].minor != doc_int(dsb, "fees_vat") || totals[8].minor != doc_int(dsb, "amount")))
        err = CS_ECORRUPT;
    if (err) {
        respond_fail(rc, err, "", err == CS_EAMOUNT ? "the report's totals overflow"
                                                    : "the disbursement's report could not be made");
        goto out;
    }
    char title[96], name[CS_ID_BYTES_MAX + 16];
    snprintf(title, sizeof title, "Disbursement %s", doc_str(dsb, "reference"));
    snprintf(name, sizeof name, "%s-report.%s", id, xlsx ? "xlsx" : "pdf");
    struct report_money_text paid, gross, fees, vat, included;
    report_money_kv(&paid, doc_int(dsb, "amount"), cur);
    report_money_kv(&gross, doc_int(dsb, "gross_amount"), cur);
    report_money_kv(&fees, doc_int(dsb, "fees"), cur);
    report_money_kv(&vat, doc_int(dsb, "fees_vat"), cur);
    report_money_kv(&included, doc_int(dsb, "fees_vat_included"), cur);
    const struct report_kv header[] = {
        {"Merchant", doc_str(merchant, "name")}, {"Country", doc_str(merchant, "country")},
        {"Disbursement", id}, {"Reference", doc_str(dsb, "reference")}, {"Date", doc_str(dsb, "date")},
        {"Currency", cur->code}, {"Payables less reductions", gross.s}, {"Amount paid", paid.s}};
    const struct report_kv summary[] = {{"Commissions", fees.s}, {"VAT on commissions", vat.s},
                                        {"Total VAT included", included.s}};
    struct report r = {.title = title, .currency = cur->code, .exponent = cur->exponent, .header = header,
                       .n_header = sizeof header / sizeof *header, .summary_title = "Invoice: commissions",
                       .summary = summary, .n_summary = 3, .table_title = "Payment report", .columns = columns,
                       .n_columns = DSB_COLUMNS, .cells = cells, .n_rows = json_array_size(lines), .totals = totals};
    report_render_send(rc, &r, xlsx, name);
out:
    free(cells);
    json_decref(dsb);
}

void api_disbursement_report_pdf(struct req_ctx *rc)
{
    disbursement_report(rc, 0);
}

void api_disbursement_report_xlsx(struct req_ctx *rc)
{
    disbursement_report(rc, 1);
}
