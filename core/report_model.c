/* The report model's helpers (core/report_model.h). */
#include <stdio.h>
#include <string.h>
#include "core/report_model.h"

int report_money_text(int64_t minor, int exponent, char *buf, size_t cap)
{
    if (exponent < 0 || exponent > 4 || cap < REPORT_MONEY_TEXT_BYTES)
        return -1;
    /* Work on the magnitude as unsigned so INT64_MIN has one too. */
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor, unit = 1;
    for (int i = 0; i < exponent; i++)
        unit *= 10;
    int n;
    if (exponent == 0)
        n = snprintf(buf, cap, "%s%llu", minor < 0 ? "-" : "", (unsigned long long)mag);
    else
        n = snprintf(buf, cap, "%s%llu.%0*llu", minor < 0 ? "-" : "", (unsigned long long)(mag / unit), exponent,
                     (unsigned long long)(mag % unit));
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static int check_table(const struct report *r)
{
    if (r->n_columns == 0 || !r->columns || (r->n_rows && !r->cells))
        return -1;
    for (size_t i = 0; i < r->n_columns; i++)
        if (!r->columns[i])
            return -1;
    return 0;
}

int report_check(const struct report *r)
{
    if (!r || !r->title || !r->currency || r->exponent < 0 || r->exponent > 4 || (r->n_header && !r->header) ||
        (r->n_summary && !r->summary))
        return -1;
    size_t n = 0;
    for (const struct report *t = r; t; t = t->next)
        if (++n > 16 || check_table(t))   /* a chain of a few tables, never a cycle */
            return -1;
    return 0;
}
