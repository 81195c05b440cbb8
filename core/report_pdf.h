#ifndef CAISSE_REPORT_PDF_H
#define CAISSE_REPORT_PDF_H
/* A report model (core/report_model.h) as a PDF document (libharu): A4
 * portrait (or landscape), Helvetica, the header and summary blocks, then
 * the table on as many pages as it takes, its totals on the last, then each
 * further table (`next`) alike. Text outside printable
 * ASCII is drawn as '?' (the standard fonts' encoding cannot carry UTF-8).
 * On success *pdf is malloc'd (the caller frees it). */
#include "core/errors.h"
#include "core/report_model.h"

int report_pdf_render(const struct report *r, unsigned char **pdf, size_t *len, struct cs_diag *d);

#endif
