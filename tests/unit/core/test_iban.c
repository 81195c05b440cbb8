/* IBAN and BIC validation: the example IBAN of every SEPA country in SWIFT's
 * IBAN registry passes, deliberately broken ones fail with a message that
 * says why, the masks and the BIC rules. */
#include <string.h>
#include "core/iban.h"
#include "core/sepa.h"
#include "tests/unit/tap.h"

/* The registry's published example of each country (the ECBS/bank
 * documentation examples for FR, DE, ES, IT, PT among them). */
static const char *const registry_examples[] = {
    "AD1200012030200359100100", "AT611904300234573201", "BE68539007547034", "BG80BNBG96611020345678",
    "CH9300762011623852957", "CY17002001280000001200527600", "CZ6508000000192000145399",
    "DE89370400440532013000", "DK5000400440116243", "EE382200221020145685", "ES9121000418450200051332",
    "FI2112345600000785", "FR1420041010050500013M02606", "GB29NWBK60161331926819", "GI75NWBK000000007099453",
    "GR1601101250000000012300695", "HR1210010051863000160", "HU42117730161111101800000000",
    "IE29AIBK93115212345678", "IS140159260076545510730339", "IT60X0542811101000000123456",
    "LI21088100002324013AA", "LT121000011101001000", "LU280019400644750000", "LV80BANK0000435195001",
    "MC5811222000010123456789030", "MT84MALT011000012345MTLCAST001S", "NL91ABNA0417164300", "NO9386011117947",
    "PL61109010140000071219812874", "PT50000201231234567890154", "RO49AAAA1B31007593840000",
    "SE4550000000058398257466", "SI56263300012039086", "SK3112000000198742637541",
    "SM86U0322509800000000270100", "VA59001123000012345678", NULL,
};

static void accepted(const char *in, const char *want)
{
    char out[IBAN_TEXT_BYTES] = "";
    struct cs_diag d = {0};
    int rc = iban_parse(in, "iban", out, &d);
    OK(rc == 0, "accepted: %s (%s)", in, d.message);
    EQ_STR(out, want, "normalised");
}

/* Refused with `param` named and `why` in the message. */
static void refused(const char *in, const char *why)
{
    char out[IBAN_TEXT_BYTES] = "untouched";
    struct cs_diag d = {0};
    int rc = iban_parse(in, "iban", out, &d);
    OK(rc == CS_EPARAM, "refused: %s", in);
    EQ_STR(d.param, "iban", "the field is named");
    OK(strstr(d.message, why) != NULL, "%s: \"%s\" says \"%s\"", in, d.message, why);
    EQ_STR(out, "untouched", "nothing written on refusal");
    OK(!iban_valid(in), "iban_valid refuses %s", in);
}

static void test_valid(void)
{
    unsigned n = 0, countries = 0;
    for (const char *const *e = registry_examples; *e; e++, n++) {
        accepted(*e, *e);
        OK(iban_valid(*e), "iban_valid: %s", *e);
        EQ_INT(iban_mod97(*e), 1, *e);
    }
    for (const struct iban_country *c = iban_countries; c->code[0]; c++)
        countries++;
    EQ_INT(n, countries, "an example for every country of the table");
    /* as people type them */
    accepted("fr14 2004 1010 0505 0001 3m02 606", "FR1420041010050500013M02606");
    accepted("  DE89 3704 0044 0532 0130 00  ", "DE89370400440532013000");
    accepted("FR7630006000011234567890189", "FR7630006000011234567890189");
    /* caisse's test debtor (core/sepa.h, docs/bank_account.md): valid, at a test BIC */
    accepted(SEPA_TEST_DEBTOR_IBAN, SEPA_TEST_DEBTOR_IBAN);
    OK(bic_valid(SEPA_TEST_DEBTOR_BIC) && bic_is_test(SEPA_TEST_DEBTOR_BIC), "the test debtor's BIC is a test BIC");
    OK(!iban_valid("fr1420041010050500013M02606"), "iban_valid wants the normalised form");
    OK(!iban_valid("FR14 2004 1010 0505 0001 3M02 606"), "iban_valid wants no spaces");
}

static void test_broken(void)
{
    refused("FR1420041010050500013M02607", "check digits do not match");         /* last digit changed */
    refused("FR1420041010050500013M02660", "check digits do not match");         /* two digits swapped */
    refused("DE89370400440532013001", "check digits do not match");
    refused("ES9121000418450200051333", "check digits do not match");
    refused("IT60X0542811101000000123457", "check digits do not match");
    refused("PT50000201231234567890155", "check digits do not match");
    refused("FR142004101005050001 3M0260", "has 27 characters, this one has 26");   /* one lost */
    refused("DE893704004405320130000", "has 22 characters, this one has 23");
    refused("TR330006100519786457841326", "not a country of the SEPA zone");     /* valid, but Turkish */
    refused("US12345678901234", "not a country of the SEPA zone");
    refused("1234", "country code of two letters");
    refused("F", "country code of two letters");
    refused("FRAB20041010050500013M02606", "check digits (two digits)");
    refused("NL9112340417164300", "character 5 must be a letter");               /* bank code of digits */
    refused("DE8937040044053201300A", "character 22 must be a digit");
    refused("IT6000542811101000000123456", "character 5 must be a letter");      /* CIN must be a letter */
    refused("FR76-3000-6000-0112-3456-7890-189", "only letters, digits and spaces (byte 5");
    refused("FR76 3000 6000 0112 3456 7890 18\xc3\xa9", "only letters, digits and spaces");
    refused("", "country code of two letters");
    refused("FR76300060000112345678901890000000000000", "at most 34 characters");
    refused("FR76 3000 6000 0112 3456 7890 189                                                      ", "too long");
    /* 99, 00 and 01 pass the remainder test for accounts whose check digits
     * are 02, 97 and 98: ISO 7064 never gives them. */
    EQ_INT(iban_mod97("DE99370400440532000016"), 1, "99 passes mod 97 where 02 is right");
    EQ_INT(iban_mod97("DE00370400440532000052"), 1, "00 passes mod 97 where 97 is right");
    EQ_INT(iban_mod97("DE01370400440532000034"), 1, "01 passes mod 97 where 98 is right");
    refused("DE99370400440532000016", "check digits 99 are never valid");
    refused("DE00370400440532000052", "check digits 00 are never valid");
    refused("DE01370400440532000034", "check digits 01 are never valid");
    accepted("DE02370400440532000016", "DE02370400440532000016");
    accepted("DE97370400440532000052", "DE97370400440532000052");
    accepted("DE98370400440532000034", "DE98370400440532000034");
}

static void test_mask(void)
{
    char m[IBAN_MASKED_BYTES];
    iban_mask("FR7630006000011234567890189", m);
    EQ_STR(m, "FR76 **** **** **** **** ***0 189", "a French IBAN");
    iban_mask("NO9386011117947", m);
    EQ_STR(m, "NO93 **** ***7 947", "the shortest (Norway)");
    iban_mask("DE89370400440532013000", m);
    EQ_STR(m, "DE89 **** **** **** **30 00", "a German IBAN");
    iban_mask("MT84MALT011000012345MTLCAST001S", m);
    EQ_STR(m, "MT84 **** **** **** **** **** ***0 01S", "the longest of the table (Malta)");
}

static void bic_ok(const char *in, const char *want)
{
    char out[BIC_TEXT_BYTES] = "";
    struct cs_diag d = {0};
    OK(bic_parse(in, "bic", out, &d) == 0, "BIC accepted: %s (%s)", in, d.message);
    EQ_STR(out, want, "BIC normalised");
    OK(bic_valid(want), "bic_valid: %s", want);
}

static void bic_bad(const char *in, const char *why)
{
    char out[BIC_TEXT_BYTES] = "untouched";
    struct cs_diag d = {0};
    OK(bic_parse(in, "bic", out, &d) == CS_EPARAM, "BIC refused: %s", in);
    EQ_STR(d.param, "bic", "the field is named");
    OK(strstr(d.message, why) != NULL, "%s: \"%s\" says \"%s\"", in, d.message, why);
    EQ_STR(out, "untouched", "nothing written on refusal");
    OK(!bic_valid(in), "bic_valid refuses %s", in);
}

static void test_bic(void)
{
    bic_ok("BNPAFRPP", "BNPAFRPP");
    bic_ok("BNPAFRPPXXX", "BNPAFRPPXXX");
    bic_ok("deut de ff", "DEUTDEFF");
    bic_ok("NTSBDEB1", "NTSBDEB1");
    bic_ok("COBADEFF370", "COBADEFF370");
    bic_ok("CAISFRP0", "CAISFRP0");
    OK(!bic_valid("deutdeff"), "bic_valid wants the normalised form");
    bic_bad("BNPAFRP", "8 or 11 characters");
    bic_bad("BNPAFRPPX", "8 or 11 characters");
    bic_bad("BNPAFRPPXXXX", "8 or 11 characters");
    bic_bad("B1PAFRPP", "the bank code, must be letters");
    bic_bad("BNPA1RPP", "the bank's country (two letters)");
    bic_bad("BNPAFR0P", "characters 7 and 8 are the location");
    bic_bad("BNPAFR1P", "characters 7 and 8 are the location");
    bic_bad("BNPAFRPO", "characters 7 and 8 are the location");
    bic_bad("BNPAFRPPXAB", "starts with X only as XXX");
    bic_bad("BNPA-FRPP", "only letters, digits and spaces");
    bic_bad("", "8 or 11 characters");
    OK(bic_is_test("CAISFRP0"), "a location ending in 0 is a test BIC");
    OK(!bic_is_test("BNPAFRPP") && !bic_is_test("NTSBDEB1"), "others are not");
}

static void test_bic_country(void)
{
    OK(bic_matches_iban("BNPAFRPP", "FR7630006000011234567890189"), "a French bank, a French IBAN");
    OK(bic_matches_iban("BNPARERX", "FR7630006000011234567890189"), "a bank of Réunion holds FR IBANs");
    OK(bic_matches_iban("BARCJESH", "GB29NWBK60161331926819"), "Jersey banks hold GB IBANs");
    OK(bic_matches_iban("AABAFI22", "FI2112345600000785"), "a Finnish bank");
    OK(!bic_matches_iban("DEUTDEFF", "FR7630006000011234567890189"), "a German BIC for a French IBAN");
    OK(!bic_matches_iban("BNPAFRPP", "BE68539007547034"), "a French BIC for a Belgian IBAN");
    OK(!bic_matches_iban("BARCJESH", "FR7630006000011234567890189"), "a territory only with its own country");
}

int main(void)
{
    test_valid();
    test_broken();
    test_mask();
    test_bic();
    test_bic_country();
    return tap_done();
}
