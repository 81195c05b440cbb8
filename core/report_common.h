#ifndef CAISSE_REPORT_COMMON_H
#define CAISSE_REPORT_COMMON_H
/* What the report handlers share (docs/reports.md): money as text with its
 * currency, a table's cells and totals from JSON lines, the period
 * parameters (a month, a year, a day) checked against the merchant's clock,
 * and answering with a file. Used by core/api_payout_reports.c,
 * core/api_disbursement_reports.c and core/api_summary_reports.c. */
#include <stdint.h>
#include <jansson.h>
#include "core/app.h"
#include "core/money.h"
#include "core/report_model.h"

#define REPORT_PDF_TYPE "application/pdf"
#define REPORT_XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/* "12.34 EUR" from minor units (integers only); "?" if it does not fit. */
struct report_money_text {
    char s[REPORT_MONEY_TEXT_BYTES + 8];
};
void report_money_kv(struct report_money_text *m, int64_t minor, const struct currency *cur);

/* Cells of JSON lines: one column per name of `fields`, text, or money for
 * a name starting with '$' ("$fee+vat": the sum of two fields); *cells is
 * calloc'd (n lines * ncol), totals (ncol) sum the money columns, "Total"
 * in the first. CS_ENOMEM, or CS_EAMOUNT on overflow. */
int report_cells_of(json_t *lines, const char *const *fields, size_t ncol, struct report_cell **cells,
                    struct report_cell *totals);

/* 200 with the file as an attachment named `name`; frees buf. */
void report_send_file(struct req_ctx *rc, const char *type, const char *name, unsigned char *buf, size_t len);

/* Renders r as PDF or XLSX and answers with it (or with the error). */
void report_render_send(struct req_ctx *rc, const struct report *r, int xlsx, const char *name);

/* "YYYY-MM" into [start, end) in UTC microseconds and ym = year*12 + month-1;
 * -1 if malformed. */
int report_month_range(const char *s, int64_t *start, int64_t *end, int *ym);

/* The merchant's today (UTC day of its clock: the test clock in test mode)
 * as "YYYY-MM-DD", and its time. */
int64_t report_merchant_today(struct req_ctx *rc, char today[16]);

#endif
