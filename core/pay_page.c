/* The hosted payment page: form parsing and HTML (core/pay_page.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mbedtls/base64.h>
#include "core/pay_page.h"
#include "core/payment_links.h"
#include "core/crypto.h"

/* ---- the form ------------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes [s, s+n) into out (cap bytes with the NUL). Returns the length, -1
 * for a bad escape or a control character, -2 when it does not fit. */
static long form_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int l = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (h < 0 || l < 0)
                return -1;
            c = h << 4 | l;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        } else if (c <= ' ' || c >= 0x7f) {
            return -1;   /* a browser escapes these */
        }
        if (c < ' ' || c == 0x7f)
            return -1;
        if (o + 1 >= cap)
            return -2;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return (long)o;
}

int pay_form_parse(const char *body, size_t len, struct pay_form *out, struct cs_diag *d)
{
    static const char *const names[] = {"number", "exp_month", "exp_year", "cvc"};
    char *slots[] = {out->number, out->exp_month, out->exp_year, out->cvc};
    int seen[4] = {0};
    memset(out, 0, sizeof *out);
    if (len > PAYMENT_LINK_FORM_BYTES_MAX)
        return cs_fail(d, CS_ETOOLARGE, "", "the form is larger than %u bytes", PAYMENT_LINK_FORM_BYTES_MAX);
    size_t i = 0;
    while (i < len) {
        const char *seg = body + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t n = amp ? (size_t)(amp - seg) : len - i;
        const char *eq = memchr(seg, '=', n);
        if (n == 0 || !eq || eq == seg)
            return cs_fail(d, CS_EPARAM, "form", "the form is not well encoded (name=value pairs joined by &)");
        char name[32];
        long kl = form_decode(seg, (size_t)(eq - seg), name, sizeof name);
        if (kl < 0)
            return cs_fail(d, CS_EUNKNOWN, "form", "the form has an unknown or badly encoded field");
        int k = -1;
        for (int j = 0; j < 4 && k < 0; j++)
            if (strcmp(names[j], name) == 0)
                k = j;
        if (k < 0)
            return cs_fail(d, CS_EUNKNOWN, name, "unknown field %s", name);
        char param[32];
        snprintf(param, sizeof param, "card.%s", names[k]);
        if (seen[k])
            return cs_fail(d, CS_EPARAM, param, "%s is given twice", param);
        seen[k] = 1;
        long vl = form_decode(eq + 1, n - (size_t)(eq - seg) - 1, slots[k], PAY_FORM_VALUE_BYTES_MAX + 1);
        if (vl == -2)
            return cs_fail(d, CS_EPARAM, param, "%s is longer than %u characters", param, PAY_FORM_VALUE_BYTES_MAX);
        if (vl < 0)
            return cs_fail(d, CS_EPARAM, param, "%s is not well encoded", param);
        i += n + (amp ? 1 : 0);
        if (amp && i == len)
            return cs_fail(d, CS_EPARAM, "form", "the form is not well encoded (a trailing &)");
    }
    for (int j = 0; j < 4; j++) {
        if (!seen[j] || !slots[j][0]) {
            char param[32];
            snprintf(param, sizeof param, "card.%s", names[j]);
            return cs_fail(d, CS_EMISSING, param, "%s is required", param);
        }
    }
    return 0;
}

/* Digits of s without surrounding spaces: their count (at most max) and
 * value, or -1. */
static int digits(const char *s, int max, int *value)
{
    while (*s == ' ')
        s++;
    int n = 0, v = 0;
    for (; *s >= '0' && *s <= '9'; s++, n++) {
        if (n == max)
            return -1;
        v = v * 10 + (*s - '0');
    }
    while (*s == ' ')
        s++;
    if (*s || n == 0)
        return -1;
    *value = v;
    return n;
}

json_t *pay_form_card(const struct pay_form *f, struct cs_diag *d)
{
    int month = 0, year = 0;
    if (digits(f->exp_month, 2, &month) < 0 || month < 1 || month > 12) {
        cs_fail(d, CS_EPARAM, "card.exp_month", "card.exp_month must be a month from 1 to 12");
        return NULL;
    }
    int n = digits(f->exp_year, 4, &year);
    if (n == 2)
        year += 2000;
    else if (n != 4) {
        cs_fail(d, CS_EPARAM, "card.exp_year", "card.exp_year must be a year (YYYY or YY)");
        return NULL;
    }
    json_t *card = json_pack("{s:s,s:i,s:i,s:s}", "number", f->number, "exp_month", month, "exp_year", year,
                             "cvc", f->cvc);
    if (!card)
        cs_fail(d, CS_ENOMEM, "", "out of memory");
    return card;
}

/* ---- HTML ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0. */
static int utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    if (n == 0 || (n == 3 && c > 0xef))
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
        return 0;   /* overlong; surrogate */
    if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
        return 0;   /* overlong; past U+10FFFF */
    return n;
}

static void escape_to(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        switch (*p) {
        case '&': fputs("&amp;", f); p++; continue;
        case '<': fputs("&lt;", f); p++; continue;
        case '>': fputs("&gt;", f); p++; continue;
        case '"': fputs("&quot;", f); p++; continue;
        case '\'': fputs("&#39;", f); p++; continue;
        default: break;
        }
        int n = utf8_seq(p);
        if (n == 0) {
            fputs("\xef\xbf\xbd", f);   /* U+FFFD */
            p++;
        } else {
            fwrite(p, 1, (size_t)n, f);
            p += n;
        }
    }
}

char *pay_html_escape(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    escape_to(f, s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The one style of every page; the CSP allows exactly it, by its hash. */
static const char style[] =
    "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f4f5f7;color:#1c1e21}"
    "main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    "h1{font-size:1.25rem;margin:0 0 1rem}"
    ".merchant{font-weight:600;margin:0}.amount{font-size:2rem;font-weight:700;margin:.25rem 0}"
    ".muted{color:#5f6368;margin:.25rem 0}"
    "label{display:block;font-size:.875rem;margin:.75rem 0 .25rem}"
    "input{box-sizing:border-box;width:100%;font-size:1rem;padding:.6rem;border:1px solid #c4c7cc;border-radius:.4rem}"
    "input[aria-invalid=true]{border-color:#c5221f}"
    ".row{display:flex;gap:.75rem}.row>div{flex:1}"
    "button{width:100%;margin-top:1.25rem;padding:.8rem;font-size:1rem;font-weight:600;color:#fff;background:#1a73e8;"
    "border:0;border-radius:.4rem;cursor:pointer}"
    ".error{color:#c5221f;background:#fce8e6;padding:.6rem;border-radius:.4rem}"
    ".ok{color:#137333;background:#e6f4ea;padding:.6rem;border-radius:.4rem}"
    "footer{margin-top:1.5rem;font-size:.75rem;color:#5f6368}";

static char headers[512];
static pthread_once_t headers_once = PTHREAD_ONCE_INIT;

static void headers_build(void)
{
    uint8_t h[32];
    unsigned char b64[64];
    size_t n = 0;
    crypto_sha256(style, sizeof style - 1, h);
    if (mbedtls_base64_encode(b64, sizeof b64, &n, h, sizeof h) != 0)
        n = 0;
    b64[n] = 0;
    snprintf(headers, sizeof headers,
             "Content-Security-Policy: default-src 'none'; style-src 'sha256-%s'; form-action 'self'; "
             "frame-ancestors 'none'; base-uri 'none'\r\n"
             "Cache-Control: no-store\r\n"
             "Referrer-Policy: no-referrer\r\n"
             "X-Frame-Options: DENY\r\n"
             "X-Content-Type-Options: nosniff\r\n", b64);
}

const char *pay_page_headers(void)
{
    pthread_once(&headers_once, headers_build);
    return headers;
}

/* A labelled text: "<p class=...>label escaped</p>". */
static void para(FILE *f, const char *cls, const char *label, const char *text)
{
    if (!text)
        return;
    fprintf(f, "<p class=\"%s\">%s", cls, label);
    escape_to(f, text);
    fputs("</p>\n", f);
}

static const char *field_label(const char *param)
{
    static const char *const map[][2] = {{"card.number", "Card number"}, {"card.exp_month", "Expiry month"},
                                         {"card.exp_year", "Expiry year"}, {"card.cvc", "CVC"}};
    for (size_t i = 0; param && i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i][0], param) == 0)
            return map[i][1];
    return NULL;
}

static void error_box(FILE *f, const struct pay_view *v)
{
    if (!v->error)
        return;
    fputs("<p class=\"error\" id=\"error\" role=\"alert\"", f);
    if (v->error_param && *v->error_param) {
        fputs(" data-param=\"", f);
        escape_to(f, v->error_param);
        fputs("\"", f);
    }
    fputs(">", f);
    const char *label = field_label(v->error_param);
    if (label)
        fprintf(f, "<strong>%s</strong>: ", label);
    escape_to(f, v->error);
    fputs("</p>\n", f);
}

static void input(FILE *f, const struct pay_view *v, const char *name, const char *label, const char *autocomplete,
                  int maxlength, const char *placeholder)
{
    char param[32];
    snprintf(param, sizeof param, "card.%s", name);
    int bad = v->error_param && strcmp(v->error_param, param) == 0;
    fprintf(f, "<label for=\"%s\">%s</label><input id=\"%s\" name=\"%s\" inputmode=\"numeric\" autocomplete=\"%s\" "
               "maxlength=\"%d\"%s%s%s required%s>",
            name, label, name, name, autocomplete, maxlength, placeholder ? " placeholder=\"" : "",
            placeholder ? placeholder : "", placeholder ? "\"" : "",
            bad ? " aria-invalid=\"true\" aria-describedby=\"error\"" : "");
}

static void form(FILE *f, const struct pay_view *v, const char *amount)
{
    fputs("<form method=\"post\" action=\"", f);
    escape_to(f, v->action);
    fputs("\" autocomplete=\"on\">\n", f);
    input(f, v, "number", "Card number", "cc-number", 23, "1234 1234 1234 1234");
    fputs("\n<div class=\"row\"><div>", f);
    input(f, v, "exp_month", "Expiry month", "cc-exp-month", 2, "MM");
    fputs("</div><div>", f);
    input(f, v, "exp_year", "Expiry year", "cc-exp-year", 4, "YYYY");
    fputs("</div><div>", f);
    input(f, v, "cvc", "CVC", "cc-csc", 4, NULL);
    fputs("</div></div>\n<button type=\"submit\">Pay ", f);
    escape_to(f, amount);
    fputs("</button>\n</form>\n", f);
}

char *pay_page_render(const struct pay_view *v, size_t *len)
{
    static const char *const titles[] = {
        [PAY_PAGE_FORM] = "Pay by card", [PAY_PAGE_PAID] = "Payment received",
        [PAY_PAGE_COMPLETED] = "Already paid", [PAY_PAGE_EXPIRED] = "Link expired",
        [PAY_PAGE_UNPAYABLE] = "No longer payable", [PAY_PAGE_NOT_FOUND] = "Payment link not found",
        [PAY_PAGE_ERROR] = "Payment not possible"};
    char amount[64] = "";
    if (v->currency)
        payment_link_format_amount(v->amount, v->currency, amount, sizeof amount);
    const char *title = v->kind == PAY_PAGE_PAID && v->authorized_only ? "Payment authorized" : titles[v->kind];
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>", f);
    fputs(title, f);
    if (v->merchant_name) {
        fputs(" – ", f);
        escape_to(f, v->merchant_name);
    }
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", style);
    para(f, "merchant", "", v->merchant_name);
    if (v->currency)
        para(f, "amount", "", amount);
    para(f, "muted", "", v->description);
    para(f, "muted", "Reference: ", v->order_reference);
    fprintf(f, "<h1>%s</h1>\n", title);
    error_box(f, v);
    switch (v->kind) {
    case PAY_PAGE_FORM:
        form(f, v, amount);
        break;
    case PAY_PAGE_PAID:
        fputs("<p class=\"ok\" id=\"paid\">", f);
        fputs(v->authorized_only ? "Thank you: your card is authorized for " : "Thank you: you paid ", f);
        escape_to(f, amount);
        fputs(v->authorized_only ? "; it will be debited when the merchant completes your order." : ".", f);
        fputs("</p>\n", f);
        if (v->card_last4) {
            fputs("<p class=\"muted\">Card: ", f);
            escape_to(f, v->card_brand ? v->card_brand : "card");
            fputs(" ending in ", f);
            escape_to(f, v->card_last4);
            fputs("</p>\n", f);
        }
        para(f, "muted", "Payment reference: ", v->payment_id);
        fputs("<p class=\"muted\">A confirmation was sent to you by e-mail. You can close this page.</p>\n", f);
        break;
    case PAY_PAGE_COMPLETED:
        fputs("<p id=\"gone\">This payment link was already paid. There is nothing more to do.</p>\n", f);
        break;
    case PAY_PAGE_EXPIRED:
        fputs("<p id=\"gone\">This payment link has expired or was withdrawn. Ask the merchant for a new one.</p>\n", f);
        break;
    case PAY_PAGE_UNPAYABLE:
        fputs("<p id=\"gone\">The merchant cancelled this payment: it can no longer be paid.</p>\n", f);
        break;
    case PAY_PAGE_NOT_FOUND:
        fputs("<p id=\"gone\">No payment link has this address. Check that you copied the whole address from "
              "the e-mail.</p>\n", f);
        break;
    case PAY_PAGE_ERROR:
        if (!v->error)
            fputs("<p class=\"error\" role=\"alert\">Something went wrong. Please try again later.</p>\n", f);
        break;
    }
    fputs("<footer>Secure card payment by caisse. Your card number is checked and forgotten: it is never "
          "stored.</footer>\n</main>\n</body>\n</html>\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}
