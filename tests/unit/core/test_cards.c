/* Card reading (Luhn, brand, expiry, fields) and the simulated acquirer. */
#include <stdlib.h>
#include <string.h>
#include "core/cards.h"
#include "tests/unit/tap.h"

static const uint8_t key[32] = {1, 2, 3};
static const int64_t now = 1795000000000000LL;   /* 2026-11-18 */

static int read_card(const char *number, int month, int year, struct card_facts *f, struct cs_diag *d)
{
    json_t *c = json_pack("{s:s,s:i,s:i,s:s}", "number", number, "exp_month", month, "exp_year", year, "cvc", "123");
    int rc = card_read(c, "card", now, key, f, d);
    json_decref(c);
    return rc;
}

static int outcome(const char *number, int attempt)
{
    struct card_facts f;
    struct cs_diag d = {0};
    if (read_card(number, 12, 2030, &f, &d) != 0)
        return -1;
    struct acq_result r;
    acquirer_authorize(&f, 1000, attempt, &r);
    return (int)r.outcome;
}

int main(void)
{
    struct card_facts f, g;
    struct cs_diag d = {0};
    EQ_INT(read_card("4242 4242 4242 4242", 12, 2030, &f, &d), 0, "visa with spaces");
    EQ_STR(f.brand, "visa", "brand");
    EQ_STR(f.bin, "424242", "bin");
    EQ_STR(f.last4, "4242", "last4");
    EQ_INT(strlen(f.fingerprint), 64, "fingerprint");
    EQ_INT(read_card("4242424242424242", 1, 2031, &g, &d), 0, "same card again");
    EQ_STR(g.fingerprint, f.fingerprint, "same card, same fingerprint");
    EQ_INT(read_card("5555555555554444", 12, 2030, &g, &d), 0, "mastercard");
    EQ_STR(g.brand, "mastercard", "mastercard brand");
    OK(strcmp(g.fingerprint, f.fingerprint) != 0, "another card, another fingerprint");
    EQ_INT(read_card("2223000000000015", 12, 2030, &g, &d), 0, "mastercard 2-series");

    EQ_INT(read_card("4242424242424241", 12, 2030, &g, &d), CS_EPARAM, "Luhn failure");
    EQ_STR(d.param, "card.number", "names card.number");
    OK(strstr(d.message, "Luhn") != NULL, "says Luhn");
    EQ_INT(read_card("378282246310005", 12, 2030, &g, &d), CS_EPARAM, "Amex refused");
    EQ_INT(read_card("4242-4242", 12, 2030, &g, &d), CS_EPARAM, "not digits");
    EQ_INT(read_card("4242424242424242", 10, 2026, &g, &d), CS_EPARAM, "expired last month");
    EQ_STR(d.param, "card.exp_year", "names the expiry");
    EQ_INT(read_card("4242424242424242", 11, 2026, &g, &d), 0, "valid through this month");
    json_t *c = json_pack("{s:s,s:i,s:i,s:s,s:s}", "number", "4242424242424242", "exp_month", 1, "exp_year", 2030, "cvc", "123", "pin", "0000");
    EQ_INT(card_read(c, "card", now, key, &g, &d), CS_EUNKNOWN, "unknown field");
    json_decref(c);

    json_t *j = card_facts_json(&f);
    char *text = json_dumps(j, 0);
    OK(!strstr(text, "4242424242424242"), "the stored form has no number");
    free(text);
    EQ_INT(card_facts_from_json(j, &g), 0, "round trip");
    EQ_STR(g.fingerprint, f.fingerprint, "round trip keeps the fingerprint");
    json_decref(j);

    EQ_INT(outcome("4242424242424242", 0), ACQ_APPROVED, "approved");
    EQ_INT(outcome("4000000000000002", 0), ACQ_DECLINED, "declined");
    EQ_INT(outcome("4000000000009995", 0), ACQ_INSUFFICIENT_FUNDS, "insufficient funds");
    EQ_INT(outcome("4000000000000069", 0), ACQ_EXPIRED_CARD, "expired");
    EQ_INT(outcome("4000000000009979", 0), ACQ_STOLEN_CARD, "stolen");
    EQ_INT(outcome("4000000000000341", 0), ACQ_APPROVED, "retry card: checkout passes");
    EQ_INT(outcome("4000000000000341", 1), ACQ_INSUFFICIENT_FUNDS, "retry card: first charge fails");
    EQ_INT(outcome("4000000000000341", 2), ACQ_APPROVED, "retry card: the retry passes");
    EQ_INT(read_card("4000000000000077", 12, 2030, &g, &d), 0, "e-card");
    OK(g.virtual_card, "e-card is virtual");
    EQ_INT(read_card("4000000000003063", 12, 2030, &g, &d), 0, "systematic");
    OK(g.systematic_auth, "systematic authorization flag");
    EQ_INT(read_card("4000000760000002", 12, 2030, &g, &d), 0, "BR card");
    EQ_STR(g.country, "BR", "issued in Brazil");
    return tap_done();
}
