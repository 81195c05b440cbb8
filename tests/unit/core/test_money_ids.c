/* Money arithmetic, currencies, ids and API keys, clock formatting. */
#include <stdint.h>
#include <string.h>
#include "core/money.h"
#include "core/ids.h"
#include "core/clock.h"
#include "tests/unit/tap.h"

static void test_money(void)
{
    int64_t r = 0;
    EQ_INT(money_add(INT64_MAX - 1, 1, &r), 0, "add at the edge");
    EQ_INT(r, INT64_MAX, "add result");
    OK(money_add(INT64_MAX, 1, &r) != 0, "add overflow refused");
    OK(money_add(INT64_MIN, -1, &r) != 0, "add underflow refused");
    EQ_INT(money_mul(3000000000LL, 3, &r), 0, "mul");
    EQ_INT(r, 9000000000LL, "mul result");
    OK(money_mul(INT64_MAX / 2 + 1, 2, &r) != 0, "mul overflow refused");
    OK(currency_find("EUR") && currency_find("EUR")->exponent == 2, "EUR has 2 decimals");
    OK(currency_find("JPY") && currency_find("JPY")->exponent == 0, "JPY has none");
    OK(currency_find("eur") == NULL, "codes are upper case");
    OK(currency_find("XXX") == NULL, "unknown currency");
    EQ_STR(country_currency("FR"), "EUR", "FR settles in EUR");
    EQ_STR(country_currency("GB"), "GBP", "GB settles in GBP");
    OK(country_currency("ZZ") == NULL, "unknown country");
}

static void test_ids(void)
{
    char a[64], b[64];
    int64_t t = 1795000000000000LL;
    EQ_INT(id_new("ord", t, a, sizeof a), 0, "id_new");
    EQ_INT(id_new("ord", t + 1000, b, sizeof b), 0, "id_new later");
    EQ_INT(strlen(a), 4 + ID_BODY_CHARS, "id length");
    OK(id_valid(a, "ord"), "id valid: %s", a);
    OK(!id_valid(a, "pay"), "prefix checked");
    OK(strcmp(a, b) < 0, "ids sort by creation time");
    EQ_INT(id_new("ord", t, b, sizeof b), 0, "same millisecond");
    OK(strcmp(a, b) != 0, "random part differs");
    OK(memcmp(a, b, 14) == 0, "time part equal in the same millisecond");
    OK(!id_valid("ord_0123", "ord"), "short id refused");
    OK(!id_valid("ord_0000000000000000000000000I", "ord"), "I is not Crockford");
    char small[8];
    OK(id_new("ord", t, small, sizeof small) != 0, "too small a buffer refused");

    char k1[64], k2[64];
    EQ_INT(api_key_new(0, k1, sizeof k1), 0, "test key");
    EQ_INT(api_key_new(1, k2, sizeof k2), 0, "live key");
    OK(strncmp(k1, "sk_test_", 8) == 0 && strlen(k1) == 40, "test key shape %s", k1);
    OK(strncmp(k2, "sk_live_", 8) == 0 && strlen(k2) == 40, "live key shape");
}

static void test_clock(void)
{
    char buf[40];
    clock_format_rfc3339(1795000000123456LL, buf, sizeof buf);
    EQ_STR(buf, "2026-11-18T11:06:40.123456Z", "rfc3339 with microseconds");
    clock_format_date(1795000000123456LL, buf, sizeof buf);
    EQ_STR(buf, "2026-11-18", "date");
    int y, m, d;
    EQ_INT(clock_parse_date("2024-02-29", &y, &m, &d), 0, "leap day");
    OK(clock_parse_date("2023-02-29", &y, &m, &d) != 0, "no leap day in 2023");
    OK(clock_parse_date("2023-13-01", &y, &m, &d) != 0, "month 13");
    OK(clock_parse_date("2023-1-01", &y, &m, &d) != 0, "shape");
    OK(clock_parse_date("1899-12-31", &y, &m, &d) != 0, "too old");
}

int main(void)
{
    test_money();
    test_ids();
    test_clock();
    return tap_done();
}
