/* Helpers of the report handlers (core/report_common.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/report_common.h"
#include "core/report_pdf.h"
#include "core/report_xlsx.h"
#include "core/router.h"
#include "core/scheduler.h"
#include "core/clock.h"
#include "core/doc.h"

void report_money_kv(struct report_money_text *m, int64_t minor, const struct currency *cur)
{
    int n = report_money_text(minor, cur->exponent, m->s, REPORT_MONEY_TEXT_BYTES);
    if (n < 0)
        snprintf(m->s, sizeof m->s, "?");
    else
        snprintf(m->s + n, sizeof m->s - (size_t)n, " %s", cur->code);
}

int report_cells_of(json_t *lines, const char *const *fields, size_t ncol, struct report_cell **cells,
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

void report_send_file(struct req_ctx *rc, const char *type, const char *name, unsigned char *buf, size_t len)
{
    char disposition[160];
    snprintf(disposition, sizeof disposition, "Content-Disposition: attachment; filename=\"%s\"\r\n", name);
    http_respond(rc->req, 200, type, disposition, (const char *)buf, len);
    free(buf);
}

void report_render_send(struct req_ctx *rc, const struct report *r, int xlsx, const char *name)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int err = xlsx ? report_xlsx_render(r, rc->app->data_dir, &buf, &len, &rc->diag)
                   : report_pdf_render(r, &buf, &len, &rc->diag);
    if (err)
        respond_error(rc);
    else
        report_send_file(rc, xlsx ? REPORT_XLSX_TYPE : REPORT_PDF_TYPE, name, buf, len);
}

int report_month_range(const char *s, int64_t *start, int64_t *end, int *ym)
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

int64_t report_merchant_today(struct req_ctx *rc, char today[16])
{
    int64_t now = merchant_now_us(rc->app, rc->merchant_id, rc->livemode);
    clock_format_date(now, today, 16);
    return now;
}
