#include <stdio.h>
#include <string.h>
#include "core/cards.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/json_in.h"
#include "core/sha256.h"

/* The magic numbers' card properties. Their acquirer outcomes are decided in
 * acquirer_authorize() from the BIN and last 4, which is all a stored card
 * keeps: the table below must agree with it (tests/unit/core/test_cards.c). */
struct magic {
    const char *number;
    enum acq_outcome outcome;
    const char *country;
    int virtual_card, systematic_auth, later_dispute, retry_once;
};

static const struct magic magics[] = {
    {"4000000000000002", ACQ_DECLINED, "FR", 0, 0, 0, 0},
    {"4000000000009995", ACQ_INSUFFICIENT_FUNDS, "FR", 0, 0, 0, 0},
    {"4000000000000069", ACQ_EXPIRED_CARD, "FR", 0, 0, 0, 0},
    {"4000000000009979", ACQ_STOLEN_CARD, "FR", 0, 0, 0, 0},
    {"4000000000003063", ACQ_APPROVED, "FR", 0, 1, 0, 0},
    {"4000000000000077", ACQ_APPROVED, "FR", 1, 0, 0, 0},
    {"4000000000000259", ACQ_APPROVED, "FR", 0, 0, 1, 0},
    {"4000000000000341", ACQ_APPROVED, "FR", 0, 0, 0, 1},
    {"4000000760000002", ACQ_APPROVED, "BR", 0, 0, 0, 0},
};

static const struct magic *magic_find(const char *pan)
{
    for (size_t i = 0; i < sizeof magics / sizeof *magics; i++)
        if (strcmp(magics[i].number, pan) == 0)
            return &magics[i];
    return NULL;
}

static int luhn_ok(const char *pan)
{
    size_t n = strlen(pan);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int dgt = pan[n - 1 - i] - '0';
        if (i % 2 == 1) {
            dgt *= 2;
            if (dgt > 9)
                dgt -= 9;
        }
        sum += dgt;
    }
    return sum % 10 == 0;
}

static const char *brand_of(const char *pan)
{
    if (pan[0] == '4')
        return "visa";
    int two = (pan[0] - '0') * 10 + (pan[1] - '0');
    int four = two * 100 + (pan[2] - '0') * 10 + (pan[3] - '0');
    if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720))
        return "mastercard";
    return NULL;
}

int card_read(json_t *card, const char *path, int64_t now_us, const uint8_t key[32],
              struct card_facts *out, struct cs_diag *d)
{
    static const char *const keys[] = {"number", "exp_month", "exp_year", "cvc", NULL};
    const char *number = NULL, *cvc = NULL;
    int64_t month = 0, year = 0;
    char p[64];
    int rc = jin_object(card, path, keys, d);
    if (rc || (rc = jin_string(card, path, "number", 1, 1, 32, &number, d)) ||
        (rc = jin_int(card, path, "exp_month", 1, 1, 12, &month, d)) ||
        (rc = jin_int(card, path, "exp_year", 1, 2000, 2100, &year, d)) ||
        (rc = jin_string(card, path, "cvc", 1, 3, 4, &cvc, d)))
        return rc;
    /* Spaces are allowed in what people type; nothing else. */
    char pan[20];
    size_t n = 0;
    for (const char *c = number; *c; c++) {
        if (*c == ' ')
            continue;
        if (*c < '0' || *c > '9' || n >= sizeof pan - 1) {
            jin_path(p, sizeof p, path, "number");
            return cs_fail(d, CS_EPARAM, p, "%s must be 13 to 19 digits", p);
        }
        pan[n++] = *c;
    }
    pan[n] = 0;
    jin_path(p, sizeof p, path, "number");
    if (n < 13 || n > 19)
        return cs_fail(d, CS_EPARAM, p, "%s must be 13 to 19 digits", p);
    if (!luhn_ok(pan))
        return cs_fail(d, CS_EPARAM, p, "%s is not a valid card number (Luhn check)", p);
    const char *brand = brand_of(pan);
    if (!brand)
        return cs_fail(d, CS_EPARAM, p, "%s: only Visa and Mastercard are accepted", p);
    for (const char *c = cvc; *c; c++)
        if (*c < '0' || *c > '9') {
            jin_path(p, sizeof p, path, "cvc");
            return cs_fail(d, CS_EPARAM, p, "%s must be 3 or 4 digits", p);
        }
    char today[11];
    clock_format_date(now_us, today, sizeof today);
    int ty = (today[0] - '0') * 1000 + (today[1] - '0') * 100 + (today[2] - '0') * 10 + (today[3] - '0');
    int tm = (today[5] - '0') * 10 + (today[6] - '0');
    if (year < ty || (year == ty && month < tm)) {
        jin_path(p, sizeof p, path, "exp_year");
        return cs_fail(d, CS_EPARAM, p, "the card expired in %02d/%04d", (int)month, (int)year);
    }

    memset(out, 0, sizeof *out);
    snprintf(out->brand, sizeof out->brand, "%s", brand);
    memcpy(out->bin, pan, 6);
    memcpy(out->last4, pan + n - 4, 4);
    out->exp_month = (int)month;
    out->exp_year = (int)year;
    const struct magic *mg = magic_find(pan);
    snprintf(out->country, sizeof out->country, "%s", mg ? mg->country : "FR");
    snprintf(out->funding, sizeof out->funding, "%s", mg && mg->virtual_card ? "prepaid" : "credit");
    if (mg) {
        out->virtual_card = mg->virtual_card;
        out->systematic_auth = mg->systematic_auth;
        out->later_dispute = mg->later_dispute;
        out->retry_once = mg->retry_once;
    }
    uint8_t mac[32];
    sha256_hmac(key, 32, pan, n, mac);
    crypto_hex(mac, 32, out->fingerprint);
    memset(pan, 0, sizeof pan);
    return 0;
}

json_t *card_facts_json(const struct card_facts *f)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:b,s:b,s:s}", "brand", f->brand, "bin", f->bin,
                     "last4", f->last4, "exp_month", f->exp_month, "exp_year", f->exp_year,
                     "country", f->country, "funding", f->funding, "virtual", f->virtual_card,
                     "systematic_authorization", f->systematic_auth, "fingerprint", f->fingerprint);
}

int card_facts_from_json(json_t *j, struct card_facts *out)
{
    memset(out, 0, sizeof *out);
    const char *brand = json_string_value(json_object_get(j, "brand"));
    const char *bin = json_string_value(json_object_get(j, "bin"));
    const char *last4 = json_string_value(json_object_get(j, "last4"));
    const char *country = json_string_value(json_object_get(j, "country"));
    const char *funding = json_string_value(json_object_get(j, "funding"));
    const char *fp = json_string_value(json_object_get(j, "fingerprint"));
    if (!brand || !bin || !last4 || !country || !funding || !fp || strlen(fp) != 64)
        return CS_ECORRUPT;
    snprintf(out->brand, sizeof out->brand, "%s", brand);
    snprintf(out->bin, sizeof out->bin, "%s", bin);
    snprintf(out->last4, sizeof out->last4, "%s", last4);
    snprintf(out->country, sizeof out->country, "%s", country);
    snprintf(out->funding, sizeof out->funding, "%s", funding);
    snprintf(out->fingerprint, sizeof out->fingerprint, "%s", fp);
    out->exp_month = (int)json_integer_value(json_object_get(j, "exp_month"));
    out->exp_year = (int)json_integer_value(json_object_get(j, "exp_year"));
    out->virtual_card = json_is_true(json_object_get(j, "virtual"));
    out->systematic_auth = json_is_true(json_object_get(j, "systematic_authorization"));
    /* The test numbers' behaviours travel in their BIN and last 4. */
    out->later_dispute = strcmp(out->bin, "400000") == 0 && strcmp(out->last4, "0259") == 0;
    out->retry_once = strcmp(out->bin, "400000") == 0 && strcmp(out->last4, "0341") == 0;
    return 0;
}

void acquirer_authorize(const struct card_facts *card, int64_t amount, int attempt, struct acq_result *out)
{
    (void)amount;
    /* The magic outcome travels in the BIN + last 4 of the test numbers. */
    static const struct { const char *last4; enum acq_outcome o; } by_last4[] = {
        {"0002", ACQ_DECLINED}, {"9995", ACQ_INSUFFICIENT_FUNDS}, {"0069", ACQ_EXPIRED_CARD},
        {"9979", ACQ_STOLEN_CARD},
    };
    enum acq_outcome o = ACQ_APPROVED;
    if (strcmp(card->bin, "400000") == 0) {
        /* 4000000760000002 (approved, issued in BR) shares its BIN and last
         * 4 with the declined 4000000000000002: the country tells them apart. */
        for (size_t i = 0; i < sizeof by_last4 / sizeof *by_last4 && strcmp(card->country, "BR") != 0; i++)
            if (strcmp(card->last4, by_last4[i].last4) == 0)
                o = by_last4[i].o;
        /* 4000000000000341: later charges fail on their first attempt. */
        if (strcmp(card->last4, "0341") == 0 && attempt == 1)
            o = ACQ_INSUFFICIENT_FUNDS;
    }
    static const char *const codes[] = {"approved", "do_not_honor", "insufficient_funds", "expired_card", "stolen_card"};
    static const char *const messages[] = {"approved", "the issuer declined the card", "insufficient funds",
                                           "the card has expired", "the card was reported stolen"};
    out->outcome = o;
    out->code = codes[o];
    out->message = messages[o];
}
