/* The built-in fees.compute kind "terminal" (lua/policy/fees.lua): a
 * terminal's month is free from 150 transactions on, else 25.00 EUR plus
 * the VAT of the merchant's country, half up; loud failures. */
#include <string.h>
#include <jansson.h>
#include "lua/policy.h"
#include "tests/unit/tap.h"
#include "tests/unit/lua/fees_test.h"

static struct policy_engine *e;

static int month_fee(int64_t transactions, const char *country, const char *currency, int64_t *fee, int64_t *vat,
                     struct cs_diag *d)
{
    json_t *in = json_pack("{s:s,s:I,s:s,s:s,s:{s:s,s:s},s:{s:s},s:b}", "kind", "terminal", "transactions",
                           (json_int_t)transactions, "month", "2026-11", "currency", currency, "merchant", "id",
                           "mer_01M834VDF8PD5F2Z9G3MCA998P", "country", country, "terminal", "id",
                           "trm_01M83A1B2C3D4E5F6G7H8J9K0M", "livemode", 0);
    return fees_compute(e, in, fee, vat, d);
}

int main(void)
{
    struct cs_diag d = {0};
    EQ_INT(policy_engine_new(NULL, &e, &d), 0, "built-in policies load");
    int64_t fee = -1, vat = -1;
    EQ_INT(month_fee(151, "FR", "EUR", &fee, &vat, &d), 0, "151 transactions");
    OK(fee == 0 && vat == 0, "more than 150: free");
    EQ_INT(month_fee(150, "FR", "EUR", &fee, &vat, &d), 0, "exactly 150");
    OK(fee == 0 && vat == 0, "at least 150: free (docs/terminals.md)");
    EQ_INT(month_fee(149, "FR", "EUR", &fee, &vat, &d), 0, "149");
    EQ_INT(fee, 2500, "one short: the monthly fee");
    EQ_INT(vat, 500, "20 % VAT in FR");
    EQ_INT(month_fee(0, "ES", "EUR", &fee, &vat, &d), 0, "an idle terminal");
    EQ_INT(fee, 2500, "the monthly fee");
    EQ_INT(vat, 525, "21 % VAT in ES");
    EQ_INT(month_fee(3, "PT", "EUR", &fee, &vat, &d), 0, "PT");
    EQ_INT(vat, 575, "23 % VAT in PT");
    EQ_INT(month_fee(-1, "FR", "EUR", &fee, &vat, &d), CS_EPOLICYFAIL, "a negative count raises");
    EQ_INT(month_fee(3, "FR", "USD", &fee, &vat, &d), CS_EPOLICYFAIL, "a currency without a price raises");
    OK(strstr(d.message, "USD") != NULL, "naming it: %s", d.message);
    EQ_INT(month_fee(3, "DE", "EUR", &fee, &vat, &d), CS_EPOLICYFAIL, "a country without VAT raises");
    policy_engine_free(e);
    return tap_done();
}
