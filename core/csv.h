#ifndef CAISSE_CSV_H
#define CAISSE_CSV_H
/* CSV exports (RFC 4180): a growing buffer of rows ending in CRLF. A field is
 * quoted when it holds a comma, a quote or a line break (quotes doubled). A
 * text field that a spreadsheet would run as a formula (starting with = + -
 * @, a tab or a carriage return) gets a leading ' (the orders export's rule;
 * OWASP "CSV injection"); numbers are written as they are. */
#include <stddef.h>
#include <stdint.h>

struct csv_buf {
    char *out;
    size_t len, cap;
    int err;                /* CS_ENOMEM once an append failed; later appends do nothing */
};

void csv_text(struct csv_buf *c, const char *s, int last);       /* NULL: empty field */
void csv_int(struct csv_buf *c, int64_t v, int last);
void csv_raw(struct csv_buf *c, const char *s, size_t n);        /* e.g. the header row */
void csv_free(struct csv_buf *c);

#endif
