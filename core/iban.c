/* IBAN and BIC validation (core/iban.h). */
#include <stdio.h>
#include <string.h>
#include "core/iban.h"

/* The SEPA zone (EPC's list of scheme countries: the EU and EEA states,
 * Switzerland, the United Kingdom, Gibraltar, Monaco, San Marino, Andorra
 * and the Vatican), with each country's IBAN length and BBAN layout from
 * SWIFT's IBAN registry. Territories that use another country's IBANs
 * (French overseas departments: FR; the Channel Islands: GB; Åland: FI) are
 * covered by that country. Where the registry is stricter than banks in
 * practice (an Irish bank code "4!a"), the layout here is the looser one: a
 * valid account refused is worse than a typing error that mod 97 catches
 * anyway. */
const struct iban_country iban_countries[] = {
    {"AD", "Andorra", 24, "8n12c"},
    {"AT", "Austria", 20, "16n"},
    {"BE", "Belgium", 16, "12n"},
    {"BG", "Bulgaria", 22, "4a6n8c"},
    {"CH", "Switzerland", 21, "5n12c"},
    {"CY", "Cyprus", 28, "8n16c"},
    {"CZ", "Czechia", 24, "20n"},
    {"DE", "Germany", 22, "18n"},
    {"DK", "Denmark", 18, "14n"},
    {"EE", "Estonia", 20, "16n"},
    {"ES", "Spain", 24, "20n"},
    {"FI", "Finland", 18, "14n"},
    {"FR", "France", 27, "10n11c2n"},
    {"GB", "the United Kingdom", 22, "4a14n"},
    {"GI", "Gibraltar", 23, "4a15c"},
    {"GR", "Greece", 27, "7n16c"},
    {"HR", "Croatia", 21, "17n"},
    {"HU", "Hungary", 28, "24n"},
    {"IE", "Ireland", 22, "4c14n"},
    {"IS", "Iceland", 26, "22n"},
    {"IT", "Italy", 27, "1a10n12c"},
    {"LI", "Liechtenstein", 21, "5n12c"},
    {"LT", "Lithuania", 20, "16n"},
    {"LU", "Luxembourg", 20, "3n13c"},
    {"LV", "Latvia", 21, "4a13c"},
    {"MC", "Monaco", 27, "10n11c2n"},
    {"MT", "Malta", 31, "4a5n18c"},
    {"NL", "the Netherlands", 18, "4a10n"},
    {"NO", "Norway", 15, "11n"},
    {"PL", "Poland", 28, "24n"},
    {"PT", "Portugal", 25, "21n"},
    {"RO", "Romania", 24, "4a16c"},
    {"SE", "Sweden", 24, "20n"},
    {"SI", "Slovenia", 19, "15n"},
    {"SK", "Slovakia", 24, "20n"},
    {"SM", "San Marino", 27, "1a10n12c"},
    {"VA", "the Vatican", 22, "18n"},
    {"", NULL, 0, NULL},
};

const struct iban_country *iban_country_find(const char *code)
{
    for (const struct iban_country *c = iban_countries; c->code[0]; c++)
        if (code[0] == c->code[0] && code[1] && code[1] == c->code[1])
            return c;
    return NULL;
}

static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alnum(char c) { return is_upper(c) || is_digit(c); }

unsigned iban_mod97(const char *iban)
{
    size_t n = strlen(iban);
    unsigned r = 0;
    /* The number is the IBAN rotated by four, each letter two digits; its
     * remainder is folded one character at a time (r < 97, so r * 100 + 35
     * never overflows). */
    for (size_t i = 0; i < n; i++) {
        char ch = iban[(i + 4) % n];
        if (is_digit(ch))
            r = (r * 10 + (unsigned)(ch - '0')) % 97;
        else if (is_upper(ch))
            r = (r * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        else
            r = (r * 10) % 97;
    }
    return r;
}

/* Copies `in` without spaces, letters upper-cased, into out (cap bytes).
 * Returns the length, or -1 (with *bad the offending byte's position) for a
 * character other than a letter, a digit or a space, or -2 if too long. */
static long squeeze(const char *in, char *out, size_t cap, size_t *bad)
{
    size_t n = 0;
    for (size_t i = 0; in[i]; i++) {
        char ch = in[i];
        if (ch == ' ')
            continue;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (!is_alnum(ch)) {
            *bad = i;
            return -1;
        }
        if (n + 1 >= cap)
            return -2;
        out[n++] = ch;
    }
    out[n] = 0;
    return (long)n;
}

/* The position (0-based, in the BBAN) of the first character that breaks
 * `layout`, or -1 if the BBAN follows it; *want says what was expected. */
static long bban_mismatch(const char *bban, const char *layout, const char **want)
{
    size_t pos = 0;
    for (const char *p = layout; *p;) {
        unsigned count = 0;
        while (is_digit(*p))
            count = count * 10 + (unsigned)(*p++ - '0');
        char kind = *p++;
        for (unsigned i = 0; i < count; i++, pos++) {
            char ch = bban[pos];
            int ok = kind == 'n' ? is_digit(ch) : kind == 'a' ? is_upper(ch) : is_alnum(ch);
            if (!ok) {
                *want = kind == 'n' ? "a digit" : kind == 'a' ? "a letter" : "a letter or a digit";
                return (long)pos;
            }
        }
    }
    return -1;
}

int iban_parse(const char *in, const char *param, char out[IBAN_TEXT_BYTES], struct cs_diag *d)
{
    char s[IBAN_TEXT_BYTES];
    size_t bad = 0;
    if (strlen(in) > IBAN_INPUT_BYTES_MAX)
        return cs_fail(d, CS_EPARAM, param, "%s is too long: an IBAN has at most %u characters", param,
                       IBAN_CHARS_MAX);
    long n = squeeze(in, s, sizeof s, &bad);
    if (n == -1)
        return cs_fail(d, CS_EPARAM, param, "%s may hold only letters, digits and spaces (byte %zu is not one)",
                       param, bad + 1);
    if (n == -2)
        return cs_fail(d, CS_EPARAM, param, "%s is too long: an IBAN has at most %u characters", param,
                       IBAN_CHARS_MAX);
    if (n < 4 || !is_upper(s[0]) || !is_upper(s[1]))
        return cs_fail(d, CS_EPARAM, param, "%s must start with a country code of two letters (\"FR76…\")", param);
    if (!is_digit(s[2]) || !is_digit(s[3]))
        return cs_fail(d, CS_EPARAM, param, "%s: its third and fourth characters are the check digits (two digits)",
                       param);
    const struct iban_country *c = iban_country_find(s);
    if (!c)
        return cs_fail(d, CS_EPARAM, param,
                       "%s: %.2s is not a country of the SEPA zone (caisse pays out by SEPA credit transfer)", param,
                       s);
    if ((unsigned)n != c->length)
        return cs_fail(d, CS_EPARAM, param, "%s: an IBAN of %s has %u characters, this one has %ld", param, c->name,
                       c->length, n);
    const char *want = "";
    long at = bban_mismatch(s + 4, c->bban, &want);
    if (at >= 0)
        return cs_fail(d, CS_EPARAM, param, "%s: character %ld must be %s in an IBAN of %s", param, at + 5, want,
                       c->name);
    /* ISO 7064 gives check digits 02 to 98: 00, 01 and 99 would pass the
     * remainder test for some accounts (they are 97, 98 and 2 modulo 97). */
    if ((s[2] == '0' && (s[3] == '0' || s[3] == '1')) || (s[2] == '9' && s[3] == '9'))
        return cs_fail(d, CS_EPARAM, param, "%s: check digits %.2s are never valid (02 to 98)", param, s + 2);
    if (iban_mod97(s) != 1)
        return cs_fail(d, CS_EPARAM, param,
                       "%s: the check digits do not match the account (ISO 7064 mod 97): a typing error?", param);
    memcpy(out, s, (size_t)n + 1);
    return 0;
}

int iban_valid(const char *iban)
{
    char out[IBAN_TEXT_BYTES];
    struct cs_diag d = {0};
    size_t n = strlen(iban);
    if (n > IBAN_CHARS_MAX || strchr(iban, ' '))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(iban[i]))
            return 0;
    return iban_parse(iban, "iban", out, &d) == 0;
}

void iban_mask(const char *iban, char out[IBAN_MASKED_BYTES])
{
    size_t n = strlen(iban), o = 0;
    if (n > IBAN_CHARS_MAX)
        n = IBAN_CHARS_MAX;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && i % 4 == 0)
            out[o++] = ' ';
        out[o++] = i < 4 || i + 4 >= n ? iban[i] : '*';
    }
    out[o] = 0;
}

int bic_parse(const char *in, const char *param, char out[BIC_TEXT_BYTES], struct cs_diag *d)
{
    char s[BIC_TEXT_BYTES + 1];
    size_t bad = 0;
    if (strlen(in) > BIC_INPUT_BYTES_MAX)
        return cs_fail(d, CS_EPARAM, param, "%s must be 8 or 11 characters", param);
    long n = squeeze(in, s, sizeof s, &bad);
    if (n == -1)
        return cs_fail(d, CS_EPARAM, param, "%s may hold only letters, digits and spaces (byte %zu is not one)",
                       param, bad + 1);
    if (n != 8 && n != 11)
        return cs_fail(d, CS_EPARAM, param, "%s must be 8 or 11 characters (\"BNPAFRPP\" or \"BNPAFRPPXXX\")",
                       param);
    for (int i = 0; i < 4; i++)
        if (!is_upper(s[i]))
            return cs_fail(d, CS_EPARAM, param, "%s: its first four characters, the bank code, must be letters",
                           param);
    if (!is_upper(s[4]) || !is_upper(s[5]))
        return cs_fail(d, CS_EPARAM, param, "%s: characters 5 and 6 are the bank's country (two letters)", param);
    /* ISO 9362 location codes: the first is never 0 or 1, the second never
     * the letter O (the pain.001 schema's BICIdentifier says the same). */
    if (!(is_upper(s[6]) || (s[6] >= '2' && s[6] <= '9')) || !is_alnum(s[7]) || s[7] == 'O')
        return cs_fail(d, CS_EPARAM, param,
                       "%s: characters 7 and 8 are the location (A-Z or 2-9, then A-Z or 0-9 but not the letter O)",
                       param);
    if (n == 11 && s[8] == 'X' && strcmp(s + 8, "XXX") != 0)
        return cs_fail(d, CS_EPARAM, param, "%s: a branch code starts with X only as XXX (the head office)", param);
    memcpy(out, s, (size_t)n + 1);
    return 0;
}

int bic_valid(const char *bic)
{
    char out[BIC_TEXT_BYTES];
    struct cs_diag d = {0};
    size_t n = strlen(bic);
    if (n != 8 && n != 11)
        return 0;
    if (bic_parse(bic, "bic", out, &d) != 0)
        return 0;
    return strcmp(out, bic) == 0;
}

int bic_is_test(const char *bic)
{
    return strlen(bic) >= 8 && bic[7] == '0';
}

int bic_matches_iban(const char *bic, const char *iban)
{
    static const struct {
        char iban[3];
        const char *bics;   /* the territories, two letters each */
    } shared[] = {
        /* French Guiana, Guadeloupe, Martinique, Réunion, Mayotte,
         * Saint-Pierre-et-Miquelon, Saint-Barthélemy, Saint-Martin */
        {"FR", "GFGPMQREYTPMBLMF"},
        {"GB", "JEGGIM"},
        {"FI", "AX"},
    };
    if (strlen(bic) < 6 || strlen(iban) < 2)
        return 0;
    if (bic[4] == iban[0] && bic[5] == iban[1])
        return 1;
    for (size_t i = 0; i < sizeof shared / sizeof *shared; i++) {
        if (iban[0] != shared[i].iban[0] || iban[1] != shared[i].iban[1])
            continue;
        for (const char *t = shared[i].bics; *t; t += 2)
            if (bic[4] == t[0] && bic[5] == t[1])
                return 1;
    }
    return 0;
}
