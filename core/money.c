#include <string.h>
#include "core/money.h"

static const struct currency currencies[] = {
    {"EUR", 2}, {"GBP", 2}, {"CHF", 2}, {"USD", 2}, {"SEK", 2}, {"DKK", 2},
    {"NOK", 2}, {"PLN", 2}, {"CZK", 2}, {"HUF", 2}, {"RON", 2}, {"JPY", 0},
};

struct country_row { const char *country, *currency; };
static const struct country_row countries[] = {
    {"FR", "EUR"}, {"ES", "EUR"}, {"PT", "EUR"}, {"IT", "EUR"}, {"DE", "EUR"}, {"BE", "EUR"},
    {"NL", "EUR"}, {"LU", "EUR"}, {"AT", "EUR"}, {"IE", "EUR"}, {"FI", "EUR"}, {"GR", "EUR"},
    {"GB", "GBP"}, {"CH", "CHF"}, {"SE", "SEK"}, {"DK", "DKK"}, {"NO", "NOK"}, {"PL", "PLN"},
    {"CZ", "CZK"}, {"HU", "HUF"}, {"RO", "RON"}, {"US", "USD"},
};

const struct currency *currency_find(const char *code)
{
    for (size_t i = 0; i < sizeof currencies / sizeof *currencies; i++)
        if (strcmp(currencies[i].code, code) == 0)
            return &currencies[i];
    return NULL;
}

const char *country_currency(const char *country)
{
    for (size_t i = 0; i < sizeof countries / sizeof *countries; i++)
        if (strcmp(countries[i].country, country) == 0)
            return countries[i].currency;
    return NULL;
}

int money_add(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int money_mul(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}
