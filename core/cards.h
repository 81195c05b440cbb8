#ifndef CAISSE_CARDS_H
#define CAISSE_CARDS_H
/* Cards and the simulated acquirer of test mode.
 *
 * The card number (PAN) and CVC are read from the request, checked and turned
 * into facts, then forgotten: only struct card_facts is ever stored (brand,
 * BIN, last 4, expiry, issuing country, funding, flags and a keyed
 * fingerprint that lets grey lists and per-card limits recognise a card
 * without keeping its number).
 *
 * The simulated acquirer decides by magic numbers (docs/cards.md):
 *   4242424242424242  approved             5555555555554444  approved (Mastercard)
 *   4000000000000002  declined             4000000000009995  insufficient funds
 *   4000000000000069  expired card         4000000000009979  stolen card
 *   4000000000003063  approved; requires systematic authorization
 *   4000000000000077  approved; a virtual e-card
 *   4000000000000259  approved; the payment is later disputed
 *   4000000000000341  approved at checkout; each later charge fails on its
 *                     first attempt (insufficient funds) and passes on retry
 *   4000000760000002  approved; issued in Brazil (BR)
 * Any other valid Visa or Mastercard number is approved, issued in FR. */
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

struct card_facts {
    char brand[12];          /* "visa", "mastercard" */
    char bin[7];             /* first 6 digits */
    char last4[5];
    int exp_month, exp_year;
    char country[3];         /* ISO 3166 alpha-2 of the issuer */
    char funding[8];         /* "credit", "debit", "prepaid" */
    int virtual_card;        /* e-card (e-Carte Bleue style) */
    int systematic_auth;     /* requires systematic authorization */
    int later_dispute;       /* test mode: the scheme will open a dispute */
    int retry_once;          /* test mode: later charges fail once, then pass */
    char fingerprint[65];    /* hex HMAC-SHA256(key, PAN) */
};

/* Validates `card` ({number, exp_month, exp_year, cvc}; unknown fields refused)
 * at path `path` ("card") against the month of now_us, and fills facts. The
 * fingerprint key is per installation (core/keys.c). Errors name the field:
 * card.number (Luhn, length, brand), card.exp_month, card.exp_year (expired),
 * card.cvc. */
int card_read(json_t *card, const char *path, int64_t now_us, const uint8_t key[32],
              struct card_facts *out, struct cs_diag *d);

/* The stored form of the facts (never the number). */
json_t *card_facts_json(const struct card_facts *f);
/* Back from the stored form (for later charges); 0 or CS_ECORRUPT. */
int card_facts_from_json(json_t *j, struct card_facts *out);

enum acq_outcome {
    ACQ_APPROVED,
    ACQ_DECLINED,
    ACQ_INSUFFICIENT_FUNDS,
    ACQ_EXPIRED_CARD,
    ACQ_STOLEN_CARD,
};
struct acq_result {
    enum acq_outcome outcome;
    const char *code;        /* "approved", "do_not_honor", "insufficient_funds", "expired_card", "stolen_card" */
    const char *message;
};

/* Authorizes (or charges: attempt >= 1 for a scheduled charge) amount on the
 * card. Deterministic: the same card, amount and attempt give the same
 * answer, so the decision recorded in an event can be explained. */
void acquirer_authorize(const struct card_facts *card, int64_t amount, int attempt, struct acq_result *out);

#endif
