#ifndef CAISSE_REPORT_MODEL_H
#define CAISSE_REPORT_MODEL_H
/* A printable report (docs/reports.md): a title, key/value lines about it,
 * an optional summary block (the invoice part), then one table of lines and
 * its totals row. The PDF (core/report_pdf.h) and XLSX (core/report_xlsx.h)
 * renderers draw the same model, so both files carry the same lines.
 * The model only points at strings its builder owns. */
#include <stddef.h>
#include <stdint.h>

enum report_cell_kind { REPORT_TEXT, REPORT_MONEY, REPORT_INT };

struct report_cell {
    enum report_cell_kind kind;
    const char *text;   /* REPORT_TEXT (NULL prints empty) */
    int64_t minor;      /* REPORT_MONEY: minor units of the report's currency; REPORT_INT: a count */
};

struct report_kv {
    const char *key, *value;
};

struct report {
    const char *title;
    const char *currency;               /* ISO 4217; money cells are in it */
    int exponent;                       /* minor units per major = 10^exponent */
    const struct report_kv *header;     /* who, what, when */
    size_t n_header;
    const char *summary_title;          /* NULL: no summary block */
    const struct report_kv *summary;
    size_t n_summary;
    const char *table_title;
    const char *const *columns;
    size_t n_columns;
    const struct report_cell *cells;    /* n_rows * n_columns, row by row */
    size_t n_rows;
    const struct report_cell *totals;   /* n_columns, or NULL */
    /* Optional, zero for the defaults: */
    const char *sheet;                  /* the table's XLSX sheet name (NULL: "lines") */
    int landscape;                      /* PDF: A4 landscape (wide tables); read from the first table only */
    const struct report *next;          /* a further table after this one (a sheet of its own in XLSX): only
                                           its table_title, columns, cells, n_rows, totals and sheet are read;
                                           it shares the first table's currency */
};

/* "-1234.56" for minor -123456 at exponent 2, from integers only (no
 * floating point); "12" at exponent 0. Returns the length, or -1 if cap is
 * too small (REPORT_MONEY_TEXT_BYTES always fits). */
#define REPORT_MONEY_TEXT_BYTES 32
int report_money_text(int64_t minor, int exponent, char *buf, size_t cap);

/* 0 if the model is consistent (columns, cells, exponent 0..4), else -1. */
int report_check(const struct report *r);

#endif
