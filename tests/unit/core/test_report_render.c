/* core/report_model.c, core/report_pdf.c, core/report_xlsx.c: money text
 * from integers, the PDF and XLSX renderers on empty, small, multi-page and
 * hostile (non-ASCII, NULL cells) models, malformed models refused, no
 * temporary file left behind. Run under ASan/UBSan for memory safety. */
#define _GNU_SOURCE   /* memmem */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/report_model.h"
#include "core/report_pdf.h"
#include "core/report_xlsx.h"
#include "tests/unit/tap.h"

static void test_money_text(void)
{
    char b[REPORT_MONEY_TEXT_BYTES];
    report_money_text(123456, 2, b, sizeof b);
    EQ_STR(b, "1234.56", "two decimals");
    report_money_text(-5, 2, b, sizeof b);
    EQ_STR(b, "-0.05", "small negative keeps its sign");
    report_money_text(0, 2, b, sizeof b);
    EQ_STR(b, "0.00", "zero");
    report_money_text(1500, 0, b, sizeof b);
    EQ_STR(b, "1500", "no decimals for exponent 0");
    report_money_text(INT64_MIN, 2, b, sizeof b);
    EQ_STR(b, "-92233720368547758.08", "INT64_MIN has a magnitude too");
    report_money_text(1, 3, b, sizeof b);
    EQ_STR(b, "0.001", "three decimals");
    OK(report_money_text(1, 5, b, sizeof b) < 0, "exponent 5 refused");
    OK(report_money_text(1, 2, b, 8) < 0, "a small buffer refused");
}

static const char *const cols[] = {"id", "label", "amount", "fee"};

static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strncmp(e->d_name, "caisse-report-", 14) == 0;
    if (d)
        closedir(d);
    return n;
}

static void render_both(const struct report *r, const char *dir, const char *what)
{
    struct cs_diag d = {0};
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = report_pdf_render(r, &buf, &len, &d);
    OK(rc == 0 && buf && len > 500 && memcmp(buf, "%PDF-", 5) == 0, "%s: a PDF (%s)", what, d.message);
    OK(len > 6 && memmem(buf, len, "%%EOF", 5) != NULL, "%s: the PDF is complete", what);
    free(buf);
    buf = NULL;
    rc = report_xlsx_render(r, dir, &buf, &len, &d);
    OK(rc == 0 && buf && len > 1000 && memcmp(buf, "PK\x03\x04", 4) == 0, "%s: an XLSX zip (%s)", what, d.message);
    free(buf);
    EQ_INT(count_tmp(dir), 0, "no temporary workbook left behind");
}

static void test_render(const char *dir)
{
    struct report_kv head[] = {{"Merchant", "Boutique Lumi\xc3\xa8re"}, {"Empty", NULL}};
    struct report r = {.title = "Payout po_x", .currency = "EUR", .exponent = 2, .header = head, .n_header = 2,
                       .summary_title = "Invoice", .summary = head, .n_summary = 1, .table_title = "Lines",
                       .columns = cols, .n_columns = 4};
    render_both(&r, dir, "no lines");
    struct report_cell cells[] = {{REPORT_TEXT, "btx_1_0", 0}, {REPORT_TEXT, "caf\xc3\xa9 \x01\x7f", 0},
                                  {REPORT_MONEY, NULL, -123456}, {REPORT_MONEY, NULL, 0},
                                  {REPORT_TEXT, NULL, 0}, {REPORT_TEXT, "", 0}, {REPORT_MONEY, NULL, INT64_MAX},
                                  {REPORT_MONEY, NULL, INT64_MIN}};
    struct report_cell totals[] = {{REPORT_TEXT, "Total", 0}, {REPORT_TEXT, NULL, 0}, {REPORT_MONEY, NULL, 1},
                                   {REPORT_MONEY, NULL, 2}};
    r.cells = cells;
    r.n_rows = 2;
    r.totals = totals;
    render_both(&r, dir, "two lines, non-ASCII and extreme values");
    /* many lines: several pages */
    size_t n = 400;
    struct report_cell *many = calloc(n * 4, sizeof *many);
    char (*ids)[24] = calloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "btx_%zu_0", i);
        many[i * 4] = (struct report_cell){REPORT_TEXT, ids[i], 0};
        many[i * 4 + 1] = (struct report_cell){REPORT_TEXT, "a rather long label for the line", 0};
        many[i * 4 + 2] = (struct report_cell){REPORT_MONEY, NULL, (int64_t)i * 1001};
        many[i * 4 + 3] = (struct report_cell){REPORT_MONEY, NULL, -(int64_t)i};
    }
    r.cells = many;
    r.n_rows = n;
    r.summary_title = NULL;
    render_both(&r, dir, "400 lines over pages");
    free(many);
    free(ids);
}

/* A landscape report with counts and a further table (the daily sales'
 * per-method totals), and the chain's checks. */
static void test_tables(const char *dir)
{
    static const char *const more_cols[] = {"method", "sales", "sold"};
    struct report_cell cells[] = {{REPORT_TEXT, "btx_1_0", 0}, {REPORT_TEXT, "x", 0}, {REPORT_MONEY, NULL, 5},
                                  {REPORT_INT, NULL, -3}};
    struct report_cell more[] = {{REPORT_TEXT, "card", 0}, {REPORT_INT, NULL, 12}, {REPORT_MONEY, NULL, 1999},
                                 {REPORT_TEXT, "pay_in_3", 0}, {REPORT_INT, NULL, INT64_MIN},
                                 {REPORT_MONEY, NULL, INT64_MAX}};
    struct report second = {.table_title = "Per method", .columns = more_cols, .n_columns = 3, .cells = more,
                            .n_rows = 2, .totals = more, .sheet = "methods"};
    struct report r = {.title = "Daily sales", .currency = "EUR", .exponent = 2, .columns = cols, .n_columns = 4,
                       .cells = cells, .n_rows = 1, .landscape = 1, .sheet = "lines", .next = &second};
    render_both(&r, dir, "landscape, counts, a second table");
    second.n_rows = 0;
    render_both(&r, dir, "an empty second table");
    struct cs_diag d = {0};
    unsigned char *buf = NULL;
    size_t len = 0;
    second.sheet = "lines";
    OK(report_xlsx_render(&r, dir, &buf, &len, &d) != 0 && buf == NULL, "two sheets of one name: refused");
    EQ_INT(count_tmp(dir), 0, "no temporary workbook left behind");
    second.sheet = "methods";
    second.n_columns = 0;
    OK(report_check(&r) == -1, "a further table without columns: refused");
    second.n_columns = 3;
    second.next = &r;
    OK(report_check(&r) == -1, "a cycle of tables: refused");
}

static void test_refused(const char *dir)
{
    struct cs_diag d = {0};
    unsigned char *buf = (unsigned char *)"x";
    size_t len = 1;
    struct report r = {.title = "t", .currency = "EUR", .exponent = 2, .columns = cols, .n_columns = 0};
    OK(report_pdf_render(&r, &buf, &len, &d) == CS_EINTERNAL && buf == NULL && len == 0, "no columns: refused");
    r.n_columns = 4;
    r.n_rows = 1;   /* rows without cells */
    OK(report_xlsx_render(&r, dir, &buf, &len, &d) == CS_EINTERNAL && buf == NULL, "rows without cells: refused");
    r.n_rows = 0;
    r.exponent = 9;
    OK(report_pdf_render(&r, &buf, &len, &d) == CS_EINTERNAL, "a bad exponent: refused");
    r.exponent = 2;
    OK(report_xlsx_render(&r, "/nonexistent/dir", &buf, &len, &d) == CS_EIO && buf == NULL,
       "an unwritable temporary directory: an error, no crash");
}

int main(void)
{
    char dir[] = "/tmp/caisse-report-test-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_money_text();
    test_render(dir);
    test_tables(dir);
    test_refused(dir);
    rmdir(dir);
    return tap_done();
}
