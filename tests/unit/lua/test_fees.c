/* The built-in fees.compute (lua/policy/fees.lua) through policy_call: the
 * flat dispute fee and the VAT of the merchant's country on it, explicit
 * rounding, and loud failures for what it does not price. */
#include <string.h>
#include <jansson.h>
#include "lua/policy.h"
#include "tests/unit/tap.h"
#include "tests/unit/lua/fees_test.h"

static struct policy_engine *e;

static int fees(const char *kind, const char *currency, const char *country, int64_t amount, int64_t *fee,
                int64_t *vat, struct cs_diag *d)
{
    json_t *in = json_pack("{s:s,s:I,s:s,s:{s:s,s:s},s:b}", "kind", kind, "amount", (json_int_t)amount, "currency",
                           currency, "merchant", "id", "mer_01M834VDF8PD5F2Z9G3MCA998P", "country", country,
                           "livemode", 0);
    return fees_compute(e, in, fee, vat, d);
}

int main(void)
{
    struct cs_diag d = {0};
    EQ_INT(policy_engine_new(NULL, &e, &d), 0, "built-in policies load");
    static const struct { const char *country; int64_t vat; } rates[] = {
        {"FR", 300}, {"ES", 315}, {"PT", 345}, {"IT", 330}};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        int64_t fee = -1, vat = -1;
        EQ_INT(fees("dispute", "EUR", rates[i].country, 12000, &fee, &vat, &d), 0, rates[i].country);
        EQ_INT(fee, 1500, "a flat 15.00 EUR");
        EQ_INT(vat, rates[i].vat, "the country's standard VAT on the fee, half up");
    }
    int64_t fee = 0, vat = 0, fee2 = 0, vat2 = 0;
    EQ_INT(fees("dispute", "EUR", "FR", 1, &fee, &vat, &d), 0, "a tiny dispute");
    EQ_INT(fees("dispute", "EUR", "FR", 100000000000LL, &fee2, &vat2, &d), 0, "a huge dispute");
    OK(fee == fee2 && vat == vat2, "flat: the amount does not change the fee");
    EQ_INT(fees("refund", "EUR", "FR", 1000, &fee, &vat, &d), CS_EPOLICYFAIL, "a kind not priced raises");
    OK(strstr(d.message, "refund") != NULL, "naming the kind: %s", d.message);
    /* card payments: without the card's facts, the rate of a card from
     * outside the EEA (2.90 % + 0.25 EUR); e2e tests price EEA cards */
    EQ_INT(fees("payment", "EUR", "FR", 12990, &fee, &vat, &d), 0, "a card payment");
    EQ_INT(fee, 377 + 25, "2.90 % of 129.90, half up, + 0.25");
    EQ_INT(vat, 80, "20 % of 4.02, half up");
    /* early payouts: 1 %, at least 0.50 EUR */
    EQ_INT(fees("payout", "EUR", "ES", 1000, &fee, &vat, &d), 0, "a small early payout");
    EQ_INT(fee, 50, "the minimum");
    EQ_INT(vat, 11, "21 % of 0.50, half up");
    EQ_INT(fees("payout", "EUR", "FR", 123456, &fee, &vat, &d), 0, "a larger early payout");
    EQ_INT(fee, 1235, "1 % of 1234.56, half up");
    EQ_INT(fees("dispute", "EUR", "DE", 1000, &fee, &vat, &d), CS_EPOLICYFAIL, "a country without VAT rates raises");
    OK(strstr(d.message, "DE") != NULL, "naming the country: %s", d.message);
    EQ_INT(fees("dispute", "XXX", "FR", 1000, &fee, &vat, &d), CS_EPOLICYFAIL, "a currency without a fee raises");

    /* what the C side accepts from the hook */
    json_t *bad[] = {json_pack("{s:I}", "fee", (json_int_t)1500), json_pack("{s:I,s:I}", "fee", (json_int_t)-1, "vat", (json_int_t)0),
                     json_pack("{s:f,s:I}", "fee", 15.0, "vat", (json_int_t)3),
                     json_pack("{s:I,s:I}", "fee", (json_int_t)100000000001LL, "vat", (json_int_t)0)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        EQ_INT(dispute_fees_read(bad[i], &fee, &vat, &d), CS_EPOLICYFAIL, "a malformed answer is refused");
        json_decref(bad[i]);
    }
    policy_engine_free(e);
    return tap_done();
}
