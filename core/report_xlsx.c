/* Reports as XLSX with libxlsxwriter (core/report_xlsx.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xlsxwriter.h>
#include "core/report_xlsx.h"

#define XLSX_MAX_BYTES (64u << 20)   /* far above any report; guards the read-back */

static lxw_error write_row(lxw_worksheet *ws, lxw_format *fmt, lxw_row_t row, const struct report *r,
                           const struct report_cell *cells)
{
    lxw_error e = LXW_NO_ERROR;
    for (size_t i = 0; i < r->n_columns && !e; i++) {
        if (cells[i].kind != REPORT_TEXT)   /* money in minor units, counts */
            e = worksheet_write_number(ws, row, (lxw_col_t)i, (double)cells[i].minor, fmt);
        else if (cells[i].text)
            e = worksheet_write_string(ws, row, (lxw_col_t)i, cells[i].text, fmt);
    }
    if (!e)
        e = worksheet_write_string(ws, row, (lxw_col_t)r->n_columns, r->currency, fmt);
    return e;
}

/* One table on a sheet of its own; its money in the first table's currency. */
static lxw_error sheet(lxw_workbook *wb, lxw_format *bold, const struct report *t, const char *currency)
{
    struct report view = *t;
    view.currency = currency;
    const struct report *r = &view;
    lxw_worksheet *ws = workbook_add_worksheet(wb, r->sheet ? r->sheet : "lines");
    lxw_error e = ws ? LXW_NO_ERROR : LXW_ERROR_MEMORY_MALLOC_FAILED;
    for (size_t i = 0; i < r->n_columns && !e; i++)
        e = worksheet_write_string(ws, 0, (lxw_col_t)i, r->columns[i], bold);
    if (!e)
        e = worksheet_write_string(ws, 0, (lxw_col_t)r->n_columns, "currency", bold);
    for (size_t row = 0; row < r->n_rows && !e; row++)
        e = write_row(ws, NULL, (lxw_row_t)(row + 1), r, &r->cells[row * r->n_columns]);
    if (!e && r->totals)
        e = write_row(ws, bold, (lxw_row_t)(r->n_rows + 1), r, r->totals);
    if (!e)
        e = worksheet_set_column(ws, 0, (lxw_col_t)r->n_columns, 18, NULL);
    return e;
}

static lxw_error build(const struct report *r, const char *path, const char *tmpdir)
{
    lxw_workbook_options opt = {.constant_memory = LXW_FALSE, .tmpdir = (char *)tmpdir};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    if (!wb)
        return LXW_ERROR_MEMORY_MALLOC_FAILED;
    lxw_format *bold = workbook_add_format(wb);
    lxw_error e = bold ? LXW_NO_ERROR : LXW_ERROR_MEMORY_MALLOC_FAILED;
    if (!e)
        format_set_bold(bold);
    for (const struct report *t = r; t && !e; t = t->next)
        e = sheet(wb, bold, t, r->currency);
    lxw_error closed = workbook_close(wb);   /* writes the file and frees the workbook, always */
    return e ? e : closed;
}

static int slurp(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    unsigned char *buf = NULL;
    int ok = fstat(fileno(f), &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= XLSX_MAX_BYTES &&
             (buf = malloc((size_t)st.st_size)) && fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size;
    fclose(f);
    if (!ok) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = (size_t)st.st_size;
    return 0;
}

int report_xlsx_render(const struct report *r, const char *tmpdir, unsigned char **xlsx, size_t *len,
                       struct cs_diag *d)
{
    *xlsx = NULL;
    *len = 0;
    if (report_check(r))
        return cs_fail(d, CS_EINTERNAL, "", "the report is not well formed");
    for (const struct report *t = r; t; t = t->next) {
        if (t->n_columns >= 16384)
            return cs_fail(d, CS_EINTERNAL, "", "the report is not well formed");
        if (t->n_rows + 2 > 1048576)
            return cs_fail(d, CS_ETOOLARGE, "", "the report has more lines than a sheet can hold");
    }
    if (!tmpdir)
        tmpdir = "/tmp";
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/caisse-report-XXXXXX", tmpdir);
    if (n < 0 || (size_t)n >= sizeof path)
        return cs_fail(d, CS_EINTERNAL, "", "the temporary directory's path is too long");
    /* mkstemp makes the name ours (O_EXCL); libxlsxwriter then reopens it. */
    int fd = mkstemp(path);
    if (fd < 0)
        return cs_fail(d, CS_EIO, "", "no temporary file for the workbook: %s", strerror(errno));
    close(fd);
    lxw_error e = build(r, path, tmpdir);
    int rc = 0;
    if (e)
        rc = cs_fail(d, CS_EINTERNAL, "", "the workbook could not be made: %s", lxw_strerror(e));
    else if (slurp(path, xlsx, len))
        rc = cs_fail(d, CS_EIO, "", "the workbook could not be read back");
    unlink(path);
    return rc;
}
