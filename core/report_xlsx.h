#ifndef CAISSE_REPORT_XLSX_H
#define CAISSE_REPORT_XLSX_H
/* A report model's table (core/report_model.h) as an XLSX workbook
 * (libxlsxwriter): one sheet named "lines" (or the table's `sheet`), a
 * header row with the column names and a last "currency" column, one row
 * per line, then the totals row; each further table (`next`) on a sheet of
 * its own, laid out alike. Money cells are numbers in integer minor units
 * (exact: no decimal fractions, and every amount caisse accepts is far below
 * 2^53), the currency beside them; counts (REPORT_INT) are numbers too.
 * libxlsxwriter writes to a file: the workbook is built in a private
 * temporary file under tmpdir, read back and removed. On success *xlsx is
 * malloc'd (the caller frees it). */
#include "core/errors.h"
#include "core/report_model.h"

int report_xlsx_render(const struct report *r, const char *tmpdir, unsigned char **xlsx, size_t *len,
                       struct cs_diag *d);

#endif
