/* The SEPA character set and the pain.001.001.03 writer (core/sepa.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libxml/xmlwriter.h>
#include <libxml/parser.h>
#include "core/sepa.h"
#include "core/iban.h"
#include "core/clock.h"
#include "core/money.h"

/* ---- the character set ------------------------------------------------------------ */

/* The EPC's basic Latin set, which every SEPA bank must carry. */
static int sepa_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("/-?:().,'+ ", c) != NULL);
}

/* The next code point of UTF-8 `s` (advancing *i), or -1 for a malformed,
 * overlong or surrogate sequence. */
static long utf8_next(const unsigned char *s, size_t *i)
{
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int n = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? (c <= 0xEF ? 2 : -1) : c >= 0xC2 && c <= 0xDF ? 1 : -1;
    if (n < 0)
        return -1;
    long cp = c & (0x3F >> n);
    for (int k = 1; k <= n; k++) {
        unsigned char cc = s[*i + (size_t)k];
        if ((cc & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    static const long min_of[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *i += (size_t)n + 1;
    return cp;
}

/* Latin-1 letters U+00C0..U+00FF and Latin Extended-A U+0100..U+017F
 * without their accents; '*' marks the letters that become two (below),
 * '#' the two signs of the block that are not letters (× and ÷). */
static const char latin1[] = "AAAAAA*CEEEEIIIIDNOOOOO#OUUUUY**aaaaaa*ceeeeiiiidnooooo#ouuuuy*y";
static const char latin_ext_a[] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi**JjKkkLlLlLlLlLlNnNnNnnNnOoOoOo**RrRrRrSsSsSsSsTtTtTtUuUuUuUuUu"
    "UuWwYyYZzZzZzs";

_Static_assert(sizeof latin1 - 1 == 0x40, "one entry per code point of U+00C0..U+00FF");
_Static_assert(sizeof latin_ext_a - 1 == 0x80, "one entry per code point of U+0100..U+017F");

/* What code point cp becomes in the SEPA set, or NULL. `one` holds a
 * one-character result. */
static const char *translit(long cp, char one[2])
{
    one[1] = 0;
    if (cp < 0x80) {
        if (sepa_char((unsigned char)cp)) {
            one[0] = (char)cp;
            return one;
        }
        return cp == '&' ? "+" : cp == '"' ? "'" : NULL;
    }
    switch (cp) {
    case 0xC6: return "AE";
    case 0xDE: return "TH";
    case 0xDF: return "ss";
    case 0xE6: return "ae";
    case 0xFE: return "th";
    case 0x132: return "IJ";
    case 0x133: return "ij";
    case 0x152: return "OE";
    case 0x153: return "oe";
    case 0xA0: case 0x202F: return " ";                          /* no-break spaces */
    case 0x2018: case 0x2019: case 0x201A: case 0x2032:           /* ‘ ’ ‚ ′ */
    case 0x201C: case 0x201D: case 0x201E: return "'";            /* “ ” „ */
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2212: return "-";
    default: break;
    }
    char c = 0;
    if (cp >= 0xC0 && cp <= 0xFF)
        c = latin1[cp - 0xC0];
    else if (cp >= 0x100 && cp <= 0x17F)
        c = latin_ext_a[cp - 0x100];
    if (!c || c == '*' || c == '#')
        return NULL;
    one[0] = c;
    return one;
}

int sepa_text(const char *in, char *out, size_t cap, size_t chars_max, const char **why)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0;
    int space = 0;   /* a space is written only before the next character: runs collapse, ends trim */
    if (strlen(in) > SEPA_TEXT_INPUT_BYTES_MAX) {
        *why = "is too long";
        return -1;
    }
    while (s[i]) {
        long cp = utf8_next(s, &i);
        if (cp < 0) {
            *why = "is not valid UTF-8";
            return -1;
        }
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
            *why = "holds a control character (a tab or a line break)";
            return -1;
        }
        char one[2];
        const char *t = translit(cp, one);
        if (!t) {
            *why = "holds a character that SEPA transfers cannot carry (they take Latin letters, digits, spaces "
                   "and / - ? : ( ) . , ' + &)";
            return -1;
        }
        for (; *t; t++) {
            if (*t == ' ') {
                space = o > 0;
                continue;
            }
            if (o + space + 1 >= cap || o + space >= chars_max) {
                *why = "is too long once written in the SEPA character set";
                return -1;
            }
            if (space)
                out[o++] = ' ';
            space = 0;
            out[o++] = *t;
        }
    }
    if (o == 0) {
        *why = "is empty";
        return -1;
    }
    out[o] = 0;
    return 0;
}

int sepa_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > SEPA_ID_CHARS_MAX || id[0] == '/' || id[n - 1] == '/' || strstr(id, "//"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (id[i] == ' ' || !sepa_char((unsigned char)id[i]))
            return 0;
    return 1;
}

void sepa_amount_format(int64_t minor, char out[SEPA_AMOUNT_TEXT_BYTES])
{
    /* Unsigned arithmetic: -INT64_MIN is not an int64. */
    uint64_t u = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    snprintf(out, SEPA_AMOUNT_TEXT_BYTES, "%s%llu.%02llu", minor < 0 ? "-" : "", (unsigned long long)(u / 100),
             (unsigned long long)(u % 100));
}

/* ---- checking the batch ------------------------------------------------------------ */

/* The account's name in the SEPA set (out: SEPA_NAME_CHARS_MAX + 1 bytes),
 * and its IBAN and BIC, checked; `who` prefixes the param ("debtor",
 * "transfers[3].creditor"). */
static int check_account(const struct sepa_account *a, const char *who, char *name, struct cs_diag *d)
{
    char p[64];
    const char *why = "";
    snprintf(p, sizeof p, "%s.name", who);
    if (!a->name || sepa_text(a->name, name, SEPA_NAME_CHARS_MAX + 1, SEPA_NAME_CHARS_MAX, &why))
        return cs_fail(d, CS_EPARAM, p, "%s %s", p, a->name ? why : "is required");
    snprintf(p, sizeof p, "%s.iban", who);
    if (!a->iban || !iban_valid(a->iban))
        return cs_fail(d, CS_EPARAM, p, "%s is not a valid IBAN of the SEPA zone", p);
    snprintf(p, sizeof p, "%s.bic", who);
    if (!a->bic || !bic_valid(a->bic))
        return cs_fail(d, CS_EPARAM, p, "%s is not a valid BIC", p);
    return 0;
}

static int check_batch(const struct sepa_batch *b, int64_t *sum, struct cs_diag *d)
{
    char name[SEPA_NAME_CHARS_MAX + 1], text[SEPA_REMITTANCE_CHARS_MAX + 1], p[64];
    const char *why = "";
    if (!b->message_id || !sepa_id_valid(b->message_id))
        return cs_fail(d, CS_EPARAM, "message_id", "message_id must be 1 to 35 characters of the SEPA set, no spaces");
    if (!b->payment_info_id || !sepa_id_valid(b->payment_info_id))
        return cs_fail(d, CS_EPARAM, "payment_info_id",
                       "payment_info_id must be 1 to 35 characters of the SEPA set, no spaces");
    if (b->created_us < 0)
        return cs_fail(d, CS_EPARAM, "created", "created must be a time after 1970");
    int y, m, day;
    char today[16];
    clock_format_date(b->created_us, today, sizeof today);
    if (!b->execution_date || clock_parse_date(b->execution_date, &y, &m, &day) != 0)
        return cs_fail(d, CS_EPARAM, "execution_date", "execution_date must be a date YYYY-MM-DD");
    if (strcmp(b->execution_date, today) < 0)
        return cs_fail(d, CS_EPARAM, "execution_date", "execution_date %s is before the file's day %s",
                       b->execution_date, today);
    if (b->initiating_party &&
        sepa_text(b->initiating_party, name, sizeof name, SEPA_NAME_CHARS_MAX, &why))
        return cs_fail(d, CS_EPARAM, "initiating_party", "initiating_party %s", why);
    if (check_account(&b->debtor, "debtor", name, d))
        return d->err;
    if (b->count == 0 || b->count > SEPA_TRANSFERS_MAX || !b->transfers)
        return cs_fail(d, CS_EPARAM, "transfers", "a file holds 1 to %u transfers", SEPA_TRANSFERS_MAX);
    *sum = 0;
    for (size_t i = 0; i < b->count; i++) {
        const struct sepa_transfer *t = &b->transfers[i];
        char who[32];
        snprintf(who, sizeof who, "transfers[%zu]", i);
        snprintf(p, sizeof p, "%s.creditor", who);
        if (check_account(&t->creditor, p, name, d))
            return d->err;
        if (!t->currency || strcmp(t->currency, "EUR") != 0) {
            snprintf(p, sizeof p, "%s.currency", who);
            return cs_fail(d, CS_ECURRENCY, p, "%s must be EUR: SEPA credit transfers are in euros", p);
        }
        if (t->amount < 1 || t->amount > SEPA_AMOUNT_MAX) {
            snprintf(p, sizeof p, "%s.amount", who);
            return cs_fail(d, CS_EAMOUNT, p, "%s must be 1 to %lld minor units (999 999 999.99 EUR)", p,
                           (long long)SEPA_AMOUNT_MAX);
        }
        if (money_add(*sum, t->amount, sum) != 0) {   /* cannot happen within the limits: kept as a guard */
            snprintf(p, sizeof p, "%s.amount", who);
            return cs_fail(d, CS_EAMOUNT, p, "the amounts overflow");
        }
        if (!t->end_to_end_id || !sepa_id_valid(t->end_to_end_id)) {
            snprintf(p, sizeof p, "%s.end_to_end_id", who);
            return cs_fail(d, CS_EPARAM, p, "%s must be 1 to 35 characters of the SEPA set, no spaces", p);
        }
        if (t->remittance && sepa_text(t->remittance, text, sizeof text, SEPA_REMITTANCE_CHARS_MAX, &why)) {
            snprintf(p, sizeof p, "%s.remittance", who);
            return cs_fail(d, CS_EPARAM, p, "%s %s", p, why);
        }
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

/* The writer and its first failure: later calls do nothing, the caller
 * judges once at the end. */
struct xw {
    xmlTextWriterPtr w;
    int failed;
};

static void open_el(struct xw *x, const char *name)
{
    if (!x->failed && xmlTextWriterStartElement(x->w, BAD_CAST name) < 0)
        x->failed = 1;
}

static void close_el(struct xw *x)
{
    if (!x->failed && xmlTextWriterEndElement(x->w) < 0)
        x->failed = 1;
}

static void text_el(struct xw *x, const char *name, const char *text)
{
    if (!x->failed && xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST text) < 0)
        x->failed = 1;
}

/* <outer><inner>text</inner></outer>, the shape of most of the file. */
static void wrapped(struct xw *x, const char *outer, const char *inner, const char *text)
{
    open_el(x, outer);
    text_el(x, inner, text);
    close_el(x);
}

static void agent(struct xw *x, const char *name, const char *bic)
{
    open_el(x, name);
    wrapped(x, "FinInstnId", "BIC", bic);
    close_el(x);
}

static void account(struct xw *x, const char *name, const char *iban)
{
    open_el(x, name);
    wrapped(x, "Id", "IBAN", iban);
    close_el(x);
}

static void party(struct xw *x, const char *el, const char *utf8_name)
{
    char name[SEPA_NAME_CHARS_MAX + 1];
    const char *why;
    if (sepa_text(utf8_name, name, sizeof name, SEPA_NAME_CHARS_MAX, &why) != 0)
        x->failed = 1;   /* checked before writing: not reached */
    wrapped(x, el, "Nm", name);
}

static void write_transfer(struct xw *x, const struct sepa_transfer *t)
{
    char amount[SEPA_AMOUNT_TEXT_BYTES];
    sepa_amount_format(t->amount, amount);
    open_el(x, "CdtTrfTxInf");
    wrapped(x, "PmtId", "EndToEndId", t->end_to_end_id);
    open_el(x, "Amt");
    open_el(x, "InstdAmt");
    if (!x->failed && (xmlTextWriterWriteAttribute(x->w, BAD_CAST "Ccy", BAD_CAST t->currency) < 0 ||
                       xmlTextWriterWriteString(x->w, BAD_CAST amount) < 0))
        x->failed = 1;
    close_el(x);
    close_el(x);
    agent(x, "CdtrAgt", t->creditor.bic);
    party(x, "Cdtr", t->creditor.name);
    account(x, "CdtrAcct", t->creditor.iban);
    if (t->remittance) {
        char text[SEPA_REMITTANCE_CHARS_MAX + 1];
        const char *why;
        if (sepa_text(t->remittance, text, sizeof text, SEPA_REMITTANCE_CHARS_MAX, &why) != 0)
            x->failed = 1;
        wrapped(x, "RmtInf", "Ustrd", text);
    }
    close_el(x);
}

static void write_document(struct xw *x, const struct sepa_batch *b, int64_t sum)
{
    char count[24], ctrl[SEPA_AMOUNT_TEXT_BYTES], created[32];
    snprintf(count, sizeof count, "%zu", b->count);
    sepa_amount_format(sum, ctrl);
    time_t secs = (time_t)(b->created_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (!x->failed && (xmlTextWriterSetIndent(x->w, 1) < 0 || xmlTextWriterSetIndentString(x->w, BAD_CAST "  ") < 0 ||
                       xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL) < 0))
        x->failed = 1;
    open_el(x, "Document");
    if (!x->failed && xmlTextWriterWriteAttribute(x->w, BAD_CAST "xmlns", BAD_CAST SEPA_PAIN001_NS) < 0)
        x->failed = 1;
    open_el(x, "CstmrCdtTrfInitn");

    open_el(x, "GrpHdr");
    text_el(x, "MsgId", b->message_id);
    text_el(x, "CreDtTm", created);
    text_el(x, "NbOfTxs", count);
    text_el(x, "CtrlSum", ctrl);
    party(x, "InitgPty", b->initiating_party ? b->initiating_party : b->debtor.name);
    close_el(x);

    open_el(x, "PmtInf");
    text_el(x, "PmtInfId", b->payment_info_id);
    text_el(x, "PmtMtd", "TRF");
    text_el(x, "BtchBookg", b->batch_booking ? "true" : "false");
    text_el(x, "NbOfTxs", count);
    text_el(x, "CtrlSum", ctrl);
    open_el(x, "PmtTpInf");
    wrapped(x, "SvcLvl", "Cd", "SEPA");
    close_el(x);
    text_el(x, "ReqdExctnDt", b->execution_date);
    party(x, "Dbtr", b->debtor.name);
    account(x, "DbtrAcct", b->debtor.iban);
    agent(x, "DbtrAgt", b->debtor.bic);
    text_el(x, "ChrgBr", "SLEV");
    for (size_t i = 0; i < b->count && !x->failed; i++)
        write_transfer(x, &b->transfers[i]);
    close_el(x);   /* PmtInf */

    close_el(x);   /* CstmrCdtTrfInitn */
    close_el(x);   /* Document */
    if (!x->failed && xmlTextWriterEndDocument(x->w) < 0)
        x->failed = 1;
}

int sepa_pain001_build(const struct sepa_batch *b, char **xml, size_t *len, int64_t *ctrl_sum, struct cs_diag *d)
{
    int64_t sum = 0;
    if (check_batch(b, &sum, d))
        return d->err;
    pthread_once(&xml_once, xml_init);
    xmlBufferPtr buf = xmlBufferCreate();
    if (!buf)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    struct xw x = {.w = xmlNewTextWriterMemory(buf, 0)};
    if (!x.w) {
        xmlBufferFree(buf);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    write_document(&x, b, sum);
    xmlFreeTextWriter(x.w);   /* flushes into buf */
    char *out = NULL;
    int n = xmlBufferLength(buf);
    if (!x.failed && n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, xmlBufferContent(buf), (size_t)n);
        out[n] = 0;
    }
    xmlBufferFree(buf);
    if (!out)
        return cs_fail(d, x.failed ? CS_EINTERNAL : CS_ENOMEM, "", "the transfer file could not be written");
    *xml = out;
    *len = (size_t)n;
    if (ctrl_sum)
        *ctrl_sum = sum;
    return 0;
}
