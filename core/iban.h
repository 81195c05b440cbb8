#ifndef CAISSE_IBAN_H
#define CAISSE_IBAN_H
/* Bank account identifiers of the SEPA zone, validated without any network
 * look-up (docs/bank_account.md "Validation"):
 *
 * - IBAN (ISO 13616): a country of the SEPA zone, that country's length and
 *   BBAN layout (SWIFT's IBAN registry), check digits 02..98 and the
 *   ISO 7064 mod 97-10 check (remainder 1), computed digit by digit so no
 *   big number is needed;
 * - BIC (ISO 9362): 8 or 11 characters, as the pain.001.001.03 schema's
 *   BICIdentifier allows them.
 *
 * Pure functions: no allocation, no I/O. The *_parse functions take what a
 * person typed (spaces anywhere, either case), write the normalised form
 * (upper case, no spaces) and, on refusal, fill `d` with CS_EPARAM, `param`
 * and a message that says what is wrong. */
#include <stddef.h>
#include "core/errors.h"

#define IBAN_CHARS_MAX 34u                          /* ISO 13616 */
#define IBAN_TEXT_BYTES (IBAN_CHARS_MAX + 1u)
#define IBAN_INPUT_BYTES_MAX 64u                    /* what a person may type, spaces included */
#define IBAN_MASKED_BYTES (IBAN_CHARS_MAX + IBAN_CHARS_MAX / 4u + 1u)  /* groups of 4 */
#define BIC_TEXT_BYTES 12u                          /* 11 characters */
#define BIC_INPUT_BYTES_MAX 32u

/* A country whose IBANs caisse accepts (the SEPA zone). */
struct iban_country {
    char code[3];         /* ISO 3166 alpha-2, as the IBAN starts */
    const char *name;
    unsigned length;      /* IBAN characters */
    const char *bban;     /* layout: runs of <count><n|a|c> (digits, letters, either) */
};

/* The SEPA country of an IBAN country code, or NULL. */
const struct iban_country *iban_country_find(const char *code);
/* The table (ends with an entry whose code is ""), for documentation and tests. */
extern const struct iban_country iban_countries[];

/* ISO 7064 mod 97-10 of a normalised IBAN with its first four characters
 * moved to the end and letters read as 10..35: 1 for a valid IBAN. The
 * characters must be A-Z and 0-9 (anything else counts as 0). */
unsigned iban_mod97(const char *iban);

/* Normalises `in` into out and checks it (see above). Returns 0 or CS_EPARAM. */
int iban_parse(const char *in, const char *param, char out[IBAN_TEXT_BYTES], struct cs_diag *d);
/* 1 if `iban` is already normalised and valid. */
int iban_valid(const char *iban);

/* "FR76 **** **** **** **** ***0 189": the country, the check digits and the
 * last four characters shown, grouped by four. out: IBAN_MASKED_BYTES. */
void iban_mask(const char *iban, char out[IBAN_MASKED_BYTES]);

/* Normalises and checks a BIC: 4 letters (the bank), 2 letters (the
 * country), 2 characters of location (first A-Z or 2-9, second A-N, P-Z or
 * 0-9) and an optional branch of 3 characters that starts with X only as
 * "XXX". Returns 0 or CS_EPARAM. */
int bic_parse(const char *in, const char *param, char out[BIC_TEXT_BYTES], struct cs_diag *d);
int bic_valid(const char *bic);
/* A test-and-training BIC (ISO 9362: a location whose second character is
 * "0"): banks refuse live payments to it. */
int bic_is_test(const char *bic);
/* 1 if the BIC of a bank can hold an account of the IBAN's country: the same
 * country, or a territory whose accounts carry that country's IBANs (the
 * French overseas departments and collectivities of the SEPA zone with FR,
 * Jersey, Guernsey and the Isle of Man with GB, Åland with FI). Both
 * normalised. */
int bic_matches_iban(const char *bic, const char *iban);

#endif
