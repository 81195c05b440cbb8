#ifndef CAISSE_TEXT_H
#define CAISSE_TEXT_H
/* Text helpers for searching names typed by people. */
#include <stddef.h>

/* Lower-cases UTF-8 `in` into `out` (cap bytes, NUL-terminated; truncated at
 * a character boundary): ASCII, Latin-1 (À..Þ) and Latin Extended-A, which
 * covers the names of FR, ES, PT, IT and their neighbours. Other characters
 * are copied unchanged. Returns the length written. */
size_t utf8_fold(const char *in, char *out, size_t cap);

/* 1 if `needle` occurs in `haystack` ignoring case as utf8_fold does. */
int utf8_contains_folded(const char *haystack, const char *needle);

#endif
