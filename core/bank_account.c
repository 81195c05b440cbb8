/* The merchant's bank account: validation and document (core/bank_account.h). */
#include <stdio.h>
#include <string.h>
#include "core/bank_account.h"
#include "core/iban.h"
#include "core/json_in.h"

const char *const bank_account_fields[] = {"account_holder_name", "iban", "iban_last4", "iban_masked",
                                           "country", "bic", NULL};

void bank_account_id(const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX])
{
    snprintf(out, CS_ID_BYTES_MAX, "bka_%s_%c", merchant_id, livemode ? 'l' : 't');
}

/* The name with ASCII spaces trimmed and runs of them made one (UTF-8 is
 * left alone: a space byte is never part of a multi-byte character). */
static void squeeze_spaces(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    int space = 0;
    for (; *in; in++) {
        if (*in == ' ') {
            space = o > 0;
            continue;
        }
        if (o + (size_t)space + 1 >= cap)
            break;   /* not reached: the output is never longer than the input */
        if (space)
            out[o++] = ' ';
        space = 0;
        out[o++] = *in;
    }
    out[o] = 0;
}

int bank_account_validate(json_t *body, int livemode, json_t **fields, struct cs_diag *d)
{
    static const char *const allowed[] = {"iban", "bic", "account_holder_name", NULL};
    const char *iban_in = NULL, *bic_in = NULL, *name_in = NULL, *why = "";
    if (jin_object(body, "", allowed, d) ||
        jin_string(body, "", "iban", 1, 1, IBAN_INPUT_BYTES_MAX, &iban_in, d) ||
        jin_string(body, "", "bic", 1, 1, BIC_INPUT_BYTES_MAX, &bic_in, d) ||
        jin_string(body, "", "account_holder_name", 1, 1, BANK_ACCOUNT_HOLDER_BYTES_MAX, &name_in, d))
        return d->err;
    char iban[IBAN_TEXT_BYTES], bic[BIC_TEXT_BYTES], name[BANK_ACCOUNT_HOLDER_BYTES_MAX + 1];
    char sepa_name[SEPA_NAME_CHARS_MAX + 1];
    if (iban_parse(iban_in, "iban", iban, d) || bic_parse(bic_in, "bic", bic, d))
        return d->err;
    if (!bic_matches_iban(bic, iban))
        return cs_fail(d, CS_EPARAM, "bic",
                       "bic %s is of a bank in %.2s but the IBAN is of %.2s: is it the BIC of this account?", bic,
                       bic + 4, iban);
    if (livemode && bic_is_test(bic))
        return cs_fail(d, CS_EPARAM, "bic",
                       "bic %s is a test BIC (its location ends in 0): live payouts need the bank's own BIC", bic);
    /* The name as the merchant wrote it is kept (accents and all); the
     * transfer file carries its SEPA form, which must exist and fit. */
    squeeze_spaces(name_in, name, sizeof name);
    if (sepa_text(name, sepa_name, sizeof sepa_name, SEPA_NAME_CHARS_MAX, &why) != 0)
        return cs_fail(d, CS_EPARAM, "account_holder_name", "account_holder_name %s", why);
    *fields = json_pack("{s:s,s:s,s:s}", "iban", iban, "bic", bic, "account_holder_name", name);
    return *fields ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

json_t *bank_account_document(const char *id, const char *merchant_id, int livemode, json_t *fields,
                              json_int_t version, const char *created, const char *updated)
{
    const char *iban = json_string_value(json_object_get(fields, "iban"));
    const char *bic = json_string_value(json_object_get(fields, "bic"));
    const char *name = json_string_value(json_object_get(fields, "account_holder_name"));
    if (!iban || strlen(iban) < 8 || !bic || !name)
        return NULL;
    char masked[IBAN_MASKED_BYTES];
    iban_mask(iban, masked);
    return json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:s#,s:s,s:I,s:s,s:s}", "id", id, "object", "bank_account",
                     "livemode", livemode, "merchant", merchant_id, "account_holder_name", name, "iban", iban,
                     "iban_last4", iban + strlen(iban) - 4, "iban_masked", masked, "country", iban, (int)2,
                     "bic", bic, "version", version, "created", created, "updated", updated);
}

json_t *bank_account_changes(json_t *cur, json_t *next)
{
    json_t *prev = json_object();
    for (const char *const *f = bank_account_fields; prev && *f; f++) {
        json_t *a = json_object_get(cur, *f), *b = json_object_get(next, *f);
        if (!json_equal(a, b) && json_object_set(prev, *f, a ? a : json_null()) != 0) {
            json_decref(prev);
            return NULL;
        }
    }
    return prev;
}
