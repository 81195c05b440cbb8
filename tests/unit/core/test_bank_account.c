/* The body of POST /v1/bank_account: every bad field refused naming it, the
 * values normalised; the document and the changes an update records. */
#include <string.h>
#include "core/bank_account.h"
#include "tests/unit/tap.h"

#define GOOD_IBAN "FR76 3000 6000 0112 3456 7890 189"

static void refused(int livemode, const char *body_text, int err, const char *param, const char *what)
{
    struct cs_diag d = {0};
    json_error_t je;
    json_t *body = json_loads(body_text, 0, &je), *fields = NULL;
    OK(body != NULL, "test body parses: %s (%s)", what, je.text);
    int rc = bank_account_validate(body, livemode, &fields, &d);
    OK(rc == err && fields == NULL, "refused (%d, %s): %s", rc, d.message, what);
    EQ_STR(d.param, param, what);
    json_decref(body);
}

static json_t *accepted(int livemode, const char *body_text)
{
    struct cs_diag d = {0};
    json_t *body = json_loads(body_text, 0, NULL), *fields = NULL;
    int rc = bank_account_validate(body, livemode, &fields, &d);
    OK(rc == 0 && fields, "accepted: %s (%s)", body_text, d.message);
    json_decref(body);
    return fields;
}

static void test_validation(void)
{
    json_t *f = accepted(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"agri fr pp\", "
                            "\"account_holder_name\": \"  Café   Dupont & Fils \"}");
    EQ_STR(json_string_value(json_object_get(f, "iban")), "FR7630006000011234567890189", "the IBAN normalised");
    EQ_STR(json_string_value(json_object_get(f, "bic")), "AGRIFRPP", "the BIC normalised");
    EQ_STR(json_string_value(json_object_get(f, "account_holder_name")), "Café Dupont & Fils",
           "the name kept as written, its spaces tidied");
    EQ_INT(json_object_size(f), 3, "three fields");
    json_decref(f);
    json_decref(accepted(1, "{\"iban\": \"DE89370400440532013000\", \"bic\": \"COBADEFFXXX\", "
                            "\"account_holder_name\": \"Müller GmbH\"}"));
    json_decref(accepted(0, "{\"iban\": \"FR7630006000011234567890189\", \"bic\": \"BNPARERX\", "
                            "\"account_holder_name\": \"Ti Boutik\"}"));   /* Réunion */
    json_decref(accepted(0, "{\"iban\": \"FR7630006000011234567890189\", \"bic\": \"CAISFRP0\", "
                            "\"account_holder_name\": \"Test\"}"));   /* a test BIC in test mode */

    const char *ok_rest = "\"bic\": \"AGRIFRPP\", \"account_holder_name\": \"Dupont\"";
    char b[512];
#define BODY(...) (snprintf(b, sizeof b, __VA_ARGS__), b)
    refused(0, "{}", CS_EMISSING, "iban", "an empty body");
    refused(0, BODY("{%s}", ok_rest), CS_EMISSING, "iban", "no IBAN");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"account_holder_name\": \"D\"}", CS_EMISSING, "bic", "no BIC");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\"}", CS_EMISSING, "account_holder_name", "no name");
    refused(0, BODY("{\"iban\": \"" GOOD_IBAN "\", %s, \"currency\": \"EUR\"}", ok_rest), CS_EUNKNOWN, "currency",
            "an unknown field");
    refused(0, BODY("{\"iban\": 7630006000, %s}", ok_rest), CS_EPARAM, "iban", "a number");
    refused(0, BODY("{\"iban\": \"\", %s}", ok_rest), CS_EPARAM, "iban", "an empty IBAN");
    refused(0, BODY("{\"iban\": \"FR7630006000011234567890188\", %s}", ok_rest), CS_EPARAM, "iban", "mod 97");
    refused(0, BODY("{\"iban\": \"FR763000600001123456789018\", %s}", ok_rest), CS_EPARAM, "iban", "too short");
    refused(0, BODY("{\"iban\": \"TR330006100519786457841326\", %s}", ok_rest), CS_EPARAM, "iban", "not SEPA");
    refused(0, BODY("{\"iban\": \"%0100d\", %s}", 0, ok_rest), CS_EPARAM, "iban", "100 digits");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRP\", \"account_holder_name\": \"D\"}", CS_EPARAM,
            "bic", "a 7-character BIC");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": null, \"account_holder_name\": \"D\"}", CS_EMISSING, "bic",
            "a null BIC");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"DEUTDEFF\", \"account_holder_name\": \"D\"}", CS_EPARAM,
            "bic", "a German bank for a French account");
    refused(1, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"CAISFRP0\", \"account_holder_name\": \"D\"}", CS_EPARAM,
            "bic", "a test BIC in live mode");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": \"\"}", CS_EPARAM,
            "account_holder_name", "an empty name");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": \"   \"}", CS_EPARAM,
            "account_holder_name", "a name of spaces");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": \"\\u6771\\u4eac\"}",
            CS_EPARAM, "account_holder_name", "a name SEPA cannot carry");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": \"a\\tb\"}", CS_EPARAM,
            "account_holder_name", "a tab");
    refused(0, "{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": 12}", CS_EPARAM,
            "account_holder_name", "a number");
    char name[100];
    memset(name, 'n', 71);
    name[71] = 0;
    refused(0, BODY("{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": \"%s\"}", name),
            CS_EPARAM, "account_holder_name", "71 characters");
    name[70] = 0;
    /* 70 two-byte letters: 140 bytes kept whole, 70 characters in the file */
    char accented[200] = "";
    for (int i = 0; i < 70; i++)
        strcat(accented, "\xc3\xa9");
    f = accepted(0, BODY("{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", \"account_holder_name\": \"%s\"}",
                         accented));
    EQ_STR(json_string_value(json_object_get(f, "account_holder_name")), accented, "the accented name kept whole");
    json_decref(f);
    json_decref(accepted(0, BODY("{\"iban\": \"" GOOD_IBAN "\", \"bic\": \"AGRIFRPP\", "
                                 "\"account_holder_name\": \"%s\"}", name)));
#undef BODY
}

static void test_document(void)
{
    char id[CS_ID_BYTES_MAX];
    bank_account_id("mer_01M834885QTQ25T05FQDY3GPQN", 0, id);
    EQ_STR(id, "bka_mer_01M834885QTQ25T05FQDY3GPQN_t", "test mode id");
    bank_account_id("mer_01M834885QTQ25T05FQDY3GPQN", 1, id);
    EQ_STR(id, "bka_mer_01M834885QTQ25T05FQDY3GPQN_l", "live mode id");

    json_t *f = json_pack("{s:s,s:s,s:s}", "iban", "FR7630006000011234567890189", "bic", "AGRIFRPP",
                          "account_holder_name", "Dupont");
    json_t *doc = bank_account_document(id, "mer_01M834885QTQ25T05FQDY3GPQN", 1, f, 1, "2026-11-23T09:00:00.000000Z",
                                        "2026-11-23T09:00:00.000000Z");
    OK(doc != NULL, "a document");
    EQ_STR(json_string_value(json_object_get(doc, "object")), "bank_account", "object");
    OK(json_is_true(json_object_get(doc, "livemode")), "livemode");
    EQ_STR(json_string_value(json_object_get(doc, "iban")), "FR7630006000011234567890189", "the full IBAN");
    EQ_STR(json_string_value(json_object_get(doc, "iban_last4")), "0189", "last 4");
    EQ_STR(json_string_value(json_object_get(doc, "iban_masked")), "FR76 **** **** **** **** ***0 189", "masked");
    EQ_STR(json_string_value(json_object_get(doc, "country")), "FR", "the IBAN's country");
    EQ_INT(json_integer_value(json_object_get(doc, "version")), 1, "version");

    json_t *f2 = json_pack("{s:s,s:s,s:s}", "iban", "FR1420041010050500013M02606", "bic", "AGRIFRPP",
                           "account_holder_name", "Dupont");
    json_t *doc2 = bank_account_document(id, "mer_01M834885QTQ25T05FQDY3GPQN", 1, f2, 2,
                                         "2026-11-23T09:00:00.000000Z", "2026-11-24T09:00:00.000000Z");
    json_t *prev = bank_account_changes(doc, doc2);
    OK(prev && json_object_size(prev) == 3, "the IBAN and its two masks changed");
    EQ_STR(json_string_value(json_object_get(prev, "iban")), "FR7630006000011234567890189", "the former IBAN");
    EQ_STR(json_string_value(json_object_get(prev, "iban_last4")), "0189", "the former last 4");
    OK(json_object_get(prev, "iban_masked") && !json_object_get(prev, "bic") &&
           !json_object_get(prev, "country") && !json_object_get(prev, "version"),
       "only the account's fields that changed");
    json_decref(prev);
    prev = bank_account_changes(doc, doc);
    OK(prev && json_object_size(prev) == 0, "nothing changed: {}");
    json_decref(prev);
    json_decref(doc);
    json_decref(doc2);
    json_decref(f);
    json_decref(f2);
    f = json_pack("{s:s,s:s,s:s}", "iban", "FR76", "bic", "AGRIFRPP", "account_holder_name", "D");
    OK(bank_account_document(id, "mer_x", 0, f, 1, "t", "t") == NULL, "no document of a short IBAN");
    json_decref(f);
}

int main(void)
{
    test_validation();
    test_document();
    return tap_done();
}
