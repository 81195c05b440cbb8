#ifndef CAISSE_SEPA_H
#define CAISSE_SEPA_H
/* SEPA credit transfers: the customer-to-bank file a debtor (caisse's own
 * account) hands its bank to pay creditors (the merchants), ISO 20022
 * pain.001.001.03 as the EPC's SCT implementation guidelines restrict it
 * (docs/bank_account.md "The transfer file").
 *
 * sepa_pain001_build() is pure: it checks every input again (the IBANs and
 * BICs with core/iban.h, the texts against the SEPA character set, the
 * amounts against the scheme's maximum and int64 overflow) and writes the
 * XML with libxml2's xmlTextWriter, which escapes every text. Nothing is
 * read from the store or the clock: the caller gives the ids and times. */
#include <stddef.h>
#include <stdint.h>
#include "core/errors.h"

#define SEPA_NAME_CHARS_MAX 70u            /* Nm: the EPC limit (the ISO type allows 140) */
#define SEPA_ID_CHARS_MAX 35u              /* MsgId, PmtInfId, EndToEndId */
#define SEPA_REMITTANCE_CHARS_MAX 140u     /* RmtInf/Ustrd */
#define SEPA_TEXT_INPUT_BYTES_MAX 1024u    /* UTF-8 in, before transliteration */
#define SEPA_AMOUNT_MAX 99999999999LL      /* 999 999 999.99 EUR: the SCT scheme's largest transfer */
#define SEPA_TRANSFERS_MAX 100000u         /* per file; CtrlSum then stays below 18 digits */
#define SEPA_AMOUNT_TEXT_BYTES 24u         /* "-9223372036854775.80" and the NUL, with room */
#define SEPA_PAIN001_NS "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"

_Static_assert(SEPA_AMOUNT_MAX * SEPA_TRANSFERS_MAX < 1000000000000000000LL,
               "a file's control sum fits int64 and the 18 digits of its DecimalNumber");

/* The text `in` (UTF-8) in the SEPA Latin character set (a-z A-Z 0-9 and
 * / - ? : ( ) . , ' + space): accented Latin letters lose their accents
 * (æ, œ, ß, þ become two letters), & becomes +, typographic quotes and
 * dashes their ASCII forms, a no-break space a space; runs of spaces become
 * one and the ends are trimmed. Returns 0 and the result in out (cap bytes),
 * or -1 with *why saying what could not be converted (a control character,
 * a character outside the Latin letters, bad UTF-8, empty, or longer than
 * chars_max after conversion). */
int sepa_text(const char *in, char *out, size_t cap, size_t chars_max, const char **why);

/* 1 if `id` can be a MsgId, PmtInfId or EndToEndId: 1 to 35 characters of
 * the SEPA set without spaces, not starting or ending with "/", no "//". */
int sepa_id_valid(const char *id);

/* Minor units of EUR as the file writes them: 123456 -> "1234.56", 5 ->
 * "0.05". No floating point. out: SEPA_AMOUNT_TEXT_BYTES. */
void sepa_amount_format(int64_t minor, char out[SEPA_AMOUNT_TEXT_BYTES]);

/* Test mode's debtor: an account of no real bank (bank code 99999, a valid
 * French IBAN and RIB key) at a test BIC (location "P0"), so a test file can
 * never move money. */
#define SEPA_TEST_DEBTOR_NAME "caisse test debtor"
#define SEPA_TEST_DEBTOR_IBAN "FR7699999000010000000000115"
#define SEPA_TEST_DEBTOR_BIC "CAISFRP0"

struct sepa_account {
    const char *name;        /* UTF-8, converted by sepa_text, 1..70 characters after */
    const char *iban;        /* normalised (core/iban.h) */
    const char *bic;         /* normalised */
};

struct sepa_transfer {
    struct sepa_account creditor;
    int64_t amount;              /* minor units, 1..SEPA_AMOUNT_MAX */
    const char *currency;        /* "EUR": the only currency of SEPA credit transfers */
    const char *end_to_end_id;   /* sepa_id_valid: the creditor sees it on the statement */
    const char *remittance;      /* UTF-8 free text, converted, 1..140 characters; NULL: none */
};

struct sepa_batch {
    const char *message_id;          /* GrpHdr/MsgId: unique per file, sepa_id_valid */
    const char *payment_info_id;     /* PmtInf/PmtInfId, sepa_id_valid */
    int64_t created_us;              /* GrpHdr/CreDtTm (written in UTC, to the second) */
    const char *execution_date;      /* ReqdExctnDt "YYYY-MM-DD", not before the UTC day of created_us */
    const char *initiating_party;    /* GrpHdr/InitgPty/Nm; NULL: the debtor's name */
    struct sepa_account debtor;      /* caisse's account, debited */
    int batch_booking;               /* BtchBookg: 1 one debit for the file, 0 one per transfer */
    const struct sepa_transfer *transfers;
    size_t count;                    /* 1..SEPA_TRANSFERS_MAX */
};

/* Builds the pain.001.001.03 document of `b`: one PmtInf (SEPA service
 * level, charges SLEV) holding one CdtTrfTxInf per transfer, NbOfTxs and
 * CtrlSum in the group header and in PmtInf. On success *xml is a
 * NUL-terminated UTF-8 document of *len bytes that the caller frees with
 * free(), and *ctrl_sum (if not NULL) the sum of the amounts in minor units.
 * Returns 0, CS_EPARAM / CS_EAMOUNT / CS_ECURRENCY with `param` naming the
 * input ("transfers[2].creditor.iban", "debtor.bic", "execution_date"), or
 * CS_ENOMEM / CS_EINTERNAL if libxml2 fails. */
int sepa_pain001_build(const struct sepa_batch *b, char **xml, size_t *len, int64_t *ctrl_sum,
                       struct cs_diag *d);

#endif
