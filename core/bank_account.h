#ifndef CAISSE_BANK_ACCOUNT_H
#define CAISSE_BANK_ACCOUNT_H
/* The merchant's bank account, where payouts go: one per merchant and mode,
 * id "bka_<merchant id>_t" or "_l", an object of the objects projection
 * (docs/bank_account.md). Pure helpers here; the routes are in
 * core/api_bank_account.c, the transfer file in core/sepa.h.
 *
 * The document holds the IBAN in full (normalised), beside its masked forms:
 * payouts need it, and it is the merchant's own account, not a credential
 * (docs/bank_account.md "Why the IBAN is shown in full"). */
#include <jansson.h>
#include "core/errors.h"
#include "core/limits.h"
#include "core/sepa.h"

#define BANK_ACCOUNT_HOLDER_BYTES_MAX (4u * SEPA_NAME_CHARS_MAX)   /* 70 characters of UTF-8 */

/* "bka_<merchant id>_t" (test mode) or "_l" (live mode). */
void bank_account_id(const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX]);

/* Checks the body of POST /v1/bank_account ({"iban", "bic",
 * "account_holder_name"}, all three required, nothing else) and returns in
 * *fields the values to record: the IBAN and BIC normalised, the name with
 * its spaces trimmed and collapsed. In live mode a test BIC is refused.
 * Returns 0, or CS_EPARAM/CS_EMISSING/CS_EUNKNOWN naming the field in d. */
int bank_account_validate(json_t *body, int livemode, json_t **fields, struct cs_diag *d);

/* The document: `fields` (from bank_account_validate) with the derived
 * fields (iban_last4, iban_masked, country) and the frame (id, object,
 * livemode, merchant, version, created, updated). NULL if out of memory. */
json_t *bank_account_document(const char *id, const char *merchant_id, int livemode, json_t *fields,
                              json_int_t version, const char *created, const char *updated);

/* The former values, in `cur`, of the account fields that differ in `next`
 * (an empty object when none does). */
json_t *bank_account_changes(json_t *cur, json_t *next);

/* The names of the account fields, as documents show them (NULL-terminated). */
extern const char *const bank_account_fields[];

#endif
