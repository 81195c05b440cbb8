/* The built-in fees.compute kind "order" (lua/policy/fees.lua): the
 * buy-now-pay-later commission by plan product, the VAT of the merchant's
 * country on it, half-up rounding, and loud failures. */
#include <string.h>
#include <jansson.h>
#include "lua/policy.h"
#include "tests/unit/tap.h"
#include "tests/unit/lua/fees_test.h"

static struct policy_engine *e;

static int commission(const char *product, const char *country, int64_t amount, int64_t *fee, int64_t *vat,
                      struct cs_diag *d)
{
    json_t *in = json_pack("{s:s,s:I,s:s,s:s?,s:{s:s,s:s},s:b}", "kind", "order", "amount", (json_int_t)amount,
                           "currency", "EUR", "product", product, "merchant", "id", "mer_01M834VDF8PD5F2Z9G3MCA998P",
                           "country", country, "livemode", 0);
    return fees_compute(e, in, fee, vat, d);
}

int main(void)
{
    struct cs_diag d = {0};
    EQ_INT(policy_engine_new(NULL, &e, &d), 0, "built-in policies load");
    int64_t fee = -1, vat = -1;
    EQ_INT(commission("pay_in_3", "FR", 12990, &fee, &vat, &d), 0, "pay in 3");
    EQ_INT(fee, 448, "3.45 % of 129.90 = 4.48155, half up");
    EQ_INT(vat, 90, "20 % of 4.48 = 0.896, half up");
    EQ_INT(commission("pay_in_3", "FR", 10000, &fee, &vat, &d), 0, "pay in 3, round");
    EQ_INT(fee, 345, "3.45 % of 100.00");
    EQ_INT(vat, 69, "20 % of 3.45");
    EQ_INT(commission("pay_in_3", "FR", 2000, &fee, &vat, &d), 0, "a half to round");
    EQ_INT(fee, 69, "3.45 % of 20.00 = 0.69");
    EQ_INT(commission("pay_in_3", "FR", 1000, &fee, &vat, &d), 0, "exactly half a cent");
    EQ_INT(fee, 35, "3.45 % of 10.00 = 0.345 -> 0.35 (half up)");
    EQ_INT(vat, 7, "20 % of 0.35");
    EQ_INT(commission("instalments_12", "ES", 100000, &fee, &vat, &d), 0, "instalments");
    EQ_INT(fee, 1950, "1.95 % of 1000.00");
    EQ_INT(vat, 410, "21 % of 19.50 = 4.095 -> 4.10");
    EQ_INT(commission("instalments_24", "PT", 0, &fee, &vat, &d), 0, "nothing payable");
    OK(fee == 0 && vat == 0, "no commission on nothing");
    EQ_INT(commission("pay_in_4", "FR", 1000, &fee, &vat, &d), CS_EPOLICYFAIL, "an unknown product raises");
    OK(strstr(d.message, "pay_in_4") != NULL, "naming it: %s", d.message);
    EQ_INT(commission(NULL, "FR", 1000, &fee, &vat, &d), CS_EPOLICYFAIL, "no product raises");
    EQ_INT(commission("pay_in_3", "FR", -1000, &fee, &vat, &d), CS_EPOLICYFAIL, "a negative amount raises");
    EQ_INT(commission("pay_in_3", "DE", 1000, &fee, &vat, &d), CS_EPOLICYFAIL, "a country without VAT raises");
    policy_engine_free(e);
    return tap_done();
}
