/* Reports as PDF with libharu (core/report_pdf.h). libharu reports errors
 * through a callback and keeps going with error codes; the callback only
 * records the first one, and the document is discarded if any was seen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hpdf.h>
#include "core/report_pdf.h"

#define PAGE_W 595.0f   /* A4 in points */
#define PAGE_H 842.0f
#define MARGIN 40.0f
#define FONT_SIZE 8.0f
#define LINE_H 12.0f
#define COL_GAP 8.0f
#define TEXT_MAX 200    /* longest text drawn from one cell or value */

struct pdf_ctx {
    HPDF_Doc doc;
    HPDF_Page page;
    HPDF_Font font, bold;
    float y, page_h;
    int landscape;
    HPDF_STATUS error;
    float x[64], w[64];   /* column left edges and widths */
};

static void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user_data)
{
    (void)detail_no;
    struct pdf_ctx *c = user_data;
    if (!c->error)
        c->error = error_no;
}

/* Printable ASCII only: the WinAnsi encoding of the standard fonts would
 * show UTF-8 sequences as several wrong glyphs. */
static void ascii_of(const char *s, char out[TEXT_MAX + 1])
{
    size_t n = 0;
    for (; s && *s && n < TEXT_MAX; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = 0;
}

static void cell_text(const struct report *r, const struct report_cell *cell, char out[TEXT_MAX + 1])
{
    if (cell->kind == REPORT_MONEY) {
        if (report_money_text(cell->minor, r->exponent, out, TEXT_MAX + 1) < 0)
            strcpy(out, "?");
    } else if (cell->kind == REPORT_INT) {
        snprintf(out, TEXT_MAX + 1, "%lld", (long long)cell->minor);
    } else {
        ascii_of(cell->text, out);
    }
}

static void new_page(struct pdf_ctx *c)
{
    c->page = HPDF_AddPage(c->doc);
    HPDF_Page_SetSize(c->page, HPDF_PAGE_SIZE_A4, c->landscape ? HPDF_PAGE_LANDSCAPE : HPDF_PAGE_PORTRAIT);
    c->page_h = c->landscape ? PAGE_W : PAGE_H;
    c->y = c->page_h - MARGIN;
}

static void text_at(struct pdf_ctx *c, HPDF_Font f, float size, float x, const char *s)
{
    HPDF_Page_BeginText(c->page);
    HPDF_Page_SetFontAndSize(c->page, f, size);
    HPDF_Page_TextOut(c->page, x, c->y, s);
    HPDF_Page_EndText(c->page);
}

static void line_break(struct pdf_ctx *c, float h)
{
    c->y -= h;
    if (c->y < MARGIN)
        new_page(c);
}

static void kv_block(struct pdf_ctx *c, const char *title, const struct report_kv *kv, size_t n)
{
    char k[TEXT_MAX + 1], v[TEXT_MAX + 1];
    if (title) {
        line_break(c, LINE_H);
        text_at(c, c->bold, 11, MARGIN, title);
        line_break(c, LINE_H + 2);
    }
    for (size_t i = 0; i < n; i++) {
        ascii_of(kv[i].key, k);
        ascii_of(kv[i].value, v);
        text_at(c, c->bold, FONT_SIZE + 1, MARGIN, k);
        text_at(c, c->font, FONT_SIZE + 1, MARGIN + 150, v);
        line_break(c, LINE_H);
    }
}

static void table_row(struct pdf_ctx *c, const struct report *r, const struct report_cell *cells, HPDF_Font f)
{
    char s[TEXT_MAX + 1];
    for (size_t i = 0; i < r->n_columns; i++) {
        cell_text(r, &cells[i], s);
        float x = c->x[i];
        if (cells[i].kind != REPORT_TEXT)   /* amounts and counts right-aligned */
            x += c->w[i] - HPDF_Font_TextWidth(f, (const HPDF_BYTE *)s, (HPDF_UINT)strlen(s)).width * FONT_SIZE / 1000;
        text_at(c, f, FONT_SIZE, x, s);
    }
    line_break(c, LINE_H);
}

static void header_row(struct pdf_ctx *c, const struct report *r, int money_col[64])
{
    char s[TEXT_MAX + 1];
    for (size_t i = 0; i < r->n_columns; i++) {
        ascii_of(r->columns[i], s);
        float x = c->x[i];
        if (money_col[i])
            x += c->w[i] - HPDF_Font_TextWidth(c->bold, (const HPDF_BYTE *)s, (HPDF_UINT)strlen(s)).width * FONT_SIZE / 1000;
        text_at(c, c->bold, FONT_SIZE, x, s);
    }
    line_break(c, LINE_H);
}

static float width_of(HPDF_Font f, const char *s)
{
    return HPDF_Font_TextWidth(f, (const HPDF_BYTE *)s, (HPDF_UINT)strlen(s)).width * FONT_SIZE / 1000;
}

/* Each column as wide as its widest text (header, cells, totals). */
static void layout(struct pdf_ctx *c, const struct report *r, int money_col[64])
{
    char s[TEXT_MAX + 1];
    for (size_t i = 0; i < r->n_columns; i++) {
        ascii_of(r->columns[i], s);
        c->w[i] = width_of(c->bold, s);
        money_col[i] = 0;
        for (size_t row = 0; row <= r->n_rows; row++) {
            const struct report_cell *cell = row < r->n_rows ? &r->cells[row * r->n_columns + i]
                                             : r->totals ? &r->totals[i] : NULL;
            if (!cell)
                continue;
            money_col[i] |= cell->kind != REPORT_TEXT;
            cell_text(r, cell, s);
            float w = width_of(row < r->n_rows ? c->font : c->bold, s);
            if (w > c->w[i])
                c->w[i] = w;
        }
        c->x[i] = i ? c->x[i - 1] + c->w[i - 1] + COL_GAP : MARGIN;
    }
}

static void table(struct pdf_ctx *c, const struct report *r, int money_col[64])
{
    char s[TEXT_MAX + 1];
    layout(c, r, money_col);
    if (r->table_title) {
        line_break(c, LINE_H);
        ascii_of(r->table_title, s);
        text_at(c, c->bold, 11, MARGIN, s);
        line_break(c, LINE_H + 2);
    }
    header_row(c, r, money_col);
    for (size_t row = 0; row < r->n_rows && !c->error; row++) {
        HPDF_Page before = c->page;
        table_row(c, r, &r->cells[row * r->n_columns], c->font);
        if (c->page != before && row + 1 < r->n_rows)
            header_row(c, r, money_col);   /* repeat the columns on each page */
    }
    if (r->totals)
        table_row(c, r, r->totals, c->bold);
    if (r->n_rows == 0) {
        text_at(c, c->font, FONT_SIZE, MARGIN, "(no lines)");
        line_break(c, LINE_H);
    }
}

int report_pdf_render(const struct report *r, unsigned char **pdf, size_t *len, struct cs_diag *d)
{
    *pdf = NULL;
    *len = 0;
    if (report_check(r))
        return cs_fail(d, CS_EINTERNAL, "", "the report is not well formed");
    for (const struct report *t = r; t; t = t->next)
        if (t->n_columns > 64)
            return cs_fail(d, CS_EINTERNAL, "", "the report is not well formed");
    struct pdf_ctx c = {.landscape = r->landscape};
    c.doc = HPDF_New(on_error, &c);
    if (!c.doc)
        return cs_fail(d, CS_ENOMEM, "", "the PDF could not be started");
    HPDF_SetCompressionMode(c.doc, HPDF_COMP_ALL);
    c.font = HPDF_GetFont(c.doc, "Helvetica", "WinAnsiEncoding");
    c.bold = HPDF_GetFont(c.doc, "Helvetica-Bold", "WinAnsiEncoding");
    char s[TEXT_MAX + 1];
    ascii_of(r->title, s);
    HPDF_SetInfoAttr(c.doc, HPDF_INFO_TITLE, s);
    HPDF_SetInfoAttr(c.doc, HPDF_INFO_CREATOR, "caisse");
    int money_col[64];
    if (!c.error) {
        new_page(&c);
        text_at(&c, c.bold, 16, MARGIN, s);
        line_break(&c, 2 * LINE_H);
        kv_block(&c, NULL, r->header, r->n_header);
        if (r->summary_title)
            kv_block(&c, r->summary_title, r->summary, r->n_summary);
        for (const struct report *t = r; t && !c.error; t = t->next) {
            /* a further table shares the first one's currency */
            struct report view = *t;
            view.currency = r->currency;
            view.exponent = r->exponent;
            if (t != r)
                line_break(&c, LINE_H);
            table(&c, &view, money_col);
        }
    }
    if (!c.error)
        HPDF_SaveToStream(c.doc);
    HPDF_UINT32 size = c.error ? 0 : HPDF_GetStreamSize(c.doc);
    unsigned char *buf = size ? malloc(size) : NULL;
    if (buf && !c.error) {
        HPDF_UINT32 got = size;
        if (HPDF_ReadFromStream(c.doc, buf, &got) != HPDF_OK && got != size)   /* HPDF_STREAM_EOF at the end */
            c.error = c.error ? c.error : 1;
        size = got;
    }
    HPDF_Free(c.doc);
    if (c.error || !buf) {
        free(buf);
        return cs_fail(d, c.error ? CS_EINTERNAL : CS_ENOMEM, "", "the PDF could not be made (libharu error 0x%04x)",
                       (unsigned)c.error);
    }
    *pdf = buf;
    *len = size;
    return 0;
}
