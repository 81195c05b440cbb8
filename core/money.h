#ifndef CAISSE_MONEY_H
#define CAISSE_MONEY_H
/* Money is an int64 count of minor units beside an ISO 4217 currency. Every
 * operation is overflow-checked; nothing here uses floating point. */
#include <stdint.h>

struct currency {
    const char *code;   /* "EUR" */
    int exponent;       /* minor units per major = 10^exponent */
};

/* The currency for an upper-case ISO 4217 code, or NULL if caisse does not
 * support it. */
const struct currency *currency_find(const char *code);
/* The settlement currency of a merchant's country (ISO 3166 alpha-2), or NULL
 * if the country is not supported. */
const char *country_currency(const char *country);

/* *out = a + b / a * b; return -1 on int64 overflow (out untouched). */
int money_add(int64_t a, int64_t b, int64_t *out);
int money_mul(int64_t a, int64_t b, int64_t *out);

#endif
