/* The hosted payment page: the urlencoded form parser, HTML escaping and
 * rendering (never the card number), and the payment links' pure helpers
 * (tokens, the public URL, amounts). */
#include <stdlib.h>
#include <string.h>
#include "core/pay_page.h"
#include "core/payment_links.h"
#include "tests/unit/tap.h"

static int parse(const char *body, struct pay_form *f, struct cs_diag *d)
{
    memset(d, 0, sizeof *d);
    return pay_form_parse(body, strlen(body), f, d);
}

/* A body that must be refused with err naming param. */
static void refused(const char *body, int err, const char *param)
{
    struct pay_form f;
    struct cs_diag d;
    int rc = parse(body, &f, &d);
    EQ_INT(rc, err, body);
    EQ_STR(d.param, param, body);
}

static void form_parser(void)
{
    struct pay_form f;
    struct cs_diag d;
    EQ_INT(parse("number=4242+4242+4242+4242&exp_month=12&exp_year=2030&cvc=123", &f, &d), 0, "a plain form");
    EQ_STR(f.number, "4242 4242 4242 4242", "'+' is a space");
    EQ_STR(f.exp_month, "12", "month");
    EQ_STR(f.exp_year, "2030", "year");
    EQ_STR(f.cvc, "123", "cvc");
    EQ_INT(parse("cvc=%31%32%33&exp_year=30&exp_month=%30%31&number=4242%204242%204242%204242", &f, &d), 0,
           "any order, percent escapes");
    EQ_STR(f.cvc, "123", "%31%32%33");
    EQ_STR(f.number, "4242 4242 4242 4242", "%20 is a space");
    EQ_STR(f.exp_month, "01", "%30%31");

    refused("number=4242424242424242&exp_month=12&exp_year=2030", CS_EMISSING, "card.cvc");
    refused("number=&exp_month=12&exp_year=2030&cvc=123", CS_EMISSING, "card.number");
    refused("", CS_EMISSING, "card.number");
    refused("number=4242424242424242&exp_month=12&exp_year=2030&cvc=123&amount=1", CS_EUNKNOWN, "amount");
    refused("number=4242424242424242&number=4000000000000002&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM,
            "card.number");
    refused("number=4242%2&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "card.number");
    refused("number=4242%zz42&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "card.number");
    refused("number=4242%00&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "card.number");
    refused("number=4242%0a&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "card.number");
    refused("number=4242 4242&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "card.number");
    refused("number=123456789012345678901234567890123&exp_month=12&exp_year=2030&cvc=1", CS_EPARAM, "card.number");
    refused("number=4242424242424242&&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "form");
    refused("number=4242424242424242&exp_month=12&exp_year=2030&cvc=123&", CS_EPARAM, "form");
    refused("number4242424242424242&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "form");
    refused("=1&number=4242424242424242&exp_month=12&exp_year=2030&cvc=123", CS_EPARAM, "form");
    char big[PAYMENT_LINK_FORM_BYTES_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    refused(big, CS_ETOOLARGE, "");

    /* the card object of card_read */
    parse("number=4242424242424242&exp_month=+3+&exp_year=31&cvc=123", &f, &d);
    json_t *c = pay_form_card(&f, &d);
    OK(c != NULL, "card built");
    EQ_INT(json_integer_value(json_object_get(c, "exp_month")), 3, "month trimmed");
    EQ_INT(json_integer_value(json_object_get(c, "exp_year")), 2031, "YY is 20YY");
    EQ_STR(json_string_value(json_object_get(c, "number")), "4242424242424242", "number as typed");
    json_decref(c);
    static const char *const bad[][2] = {{"13", "card.exp_month"}, {"0", "card.exp_month"}, {"1a", "card.exp_month"},
                                         {"123", "card.exp_month"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct pay_form g = f;
        strcpy(g.exp_month, bad[i][0]);
        memset(&d, 0, sizeof d);
        OK(pay_form_card(&g, &d) == NULL, "month %s refused", bad[i][0]);
        EQ_STR(d.param, bad[i][1], bad[i][0]);
    }
    static const char *const years[] = {"203", "20300", "2o30", "-30"};
    for (size_t i = 0; i < sizeof years / sizeof *years; i++) {
        struct pay_form g = f;
        strcpy(g.exp_year, years[i]);
        memset(&d, 0, sizeof d);
        OK(pay_form_card(&g, &d) == NULL, "year %s refused", years[i]);
        EQ_STR(d.param, "card.exp_year", years[i]);
    }
}

static void escaping(void)
{
    char *s = pay_html_escape("<script>alert('x')</script> & \"q\"");
    EQ_STR(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;", "markup escaped");
    free(s);
    s = pay_html_escape("Zoé – 日本 😀");
    EQ_STR(s, "Zoé – 日本 😀", "valid UTF-8 kept");
    free(s);
    s = pay_html_escape("a\xff" "b\xc3" "c\xe0\x80\x80" "d\xed\xa0\x80");
    EQ_STR(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
           "bad, truncated, overlong and surrogate bytes become U+FFFD");
    free(s);
    s = pay_html_escape("");
    EQ_STR(s, "", "empty");
    free(s);
}

static void rendering(void)
{
    struct pay_view v = {.kind = PAY_PAGE_FORM, .merchant_name = "Zoé & <Fils>", .amount = 12550,
                         .currency = "EUR", .description = "<img src=x onerror=alert(1)>",
                         .order_reference = "A\"B", .action = "tok\"en", .error = "card.number is not valid <b>",
                         .error_param = "card.number"};
    size_t n = 0;
    char *html = pay_page_render(&v, &n);
    OK(html && strlen(html) == n, "rendered");
    OK(strstr(html, "Zoé &amp; &lt;Fils&gt;") != NULL, "merchant escaped");
    OK(strstr(html, "&lt;img src=x onerror=alert(1)&gt;") && !strstr(html, "<img"), "description escaped");
    OK(strstr(html, "Reference: A&quot;B") != NULL, "reference escaped");
    OK(strstr(html, "action=\"tok&quot;en\"") != NULL, "action escaped in its attribute");
    OK(strstr(html, "125.50 EUR") != NULL, "amount with its currency");
    OK(strstr(html, "data-param=\"card.number\"") != NULL, "the error names its field");
    OK(strstr(html, "<strong>Card number</strong>: card.number is not valid &lt;b&gt;") != NULL, "error escaped");
    OK(strstr(html, "id=\"number\" name=\"number\"") && strstr(html, "aria-invalid=\"true\""), "the field is marked");
    OK(!strstr(html, "<script"), "no script");
    OK(strstr(html, "<meta charset=\"utf-8\">") != NULL, "UTF-8");
    free(html);

    struct pay_view paid = {.kind = PAY_PAGE_PAID, .merchant_name = "M", .amount = 500, .currency = "JPY",
                            .card_brand = "visa", .card_last4 = "4242", .payment_id = "pay_X"};
    html = pay_page_render(&paid, &n);
    OK(strstr(html, "Payment received") && strstr(html, "500 JPY") && strstr(html, "ending in 4242"), "paid page");
    OK(!strstr(html, "<form"), "no form once paid");
    free(html);
    paid.authorized_only = 1;
    html = pay_page_render(&paid, &n);
    OK(strstr(html, "Payment authorized") != NULL, "authorized page");
    free(html);
    struct pay_view gone = {.kind = PAY_PAGE_NOT_FOUND};
    html = pay_page_render(&gone, &n);
    OK(strstr(html, "Payment link not found") && !strstr(html, "class=\"amount\""), "not found: nothing shown");
    free(html);

    const char *h = pay_page_headers();
    OK(strstr(h, "Content-Security-Policy: default-src 'none'; style-src 'sha256-") != NULL, "CSP");
    OK(strstr(h, "form-action 'self'") && strstr(h, "frame-ancestors 'none'"), "CSP form and frames");
    OK(strstr(h, "Cache-Control: no-store\r\n") && strstr(h, "Referrer-Policy: no-referrer\r\n"), "no cache, no referrer");
}

static void links(void)
{
    uint8_t raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)(i * 37 + 250);
    char tok[PAYMENT_LINK_TOKEN_CHARS + 1];
    payment_link_base64url(raw, sizeof raw, tok);
    EQ_INT(strlen(tok), PAYMENT_LINK_TOKEN_CHARS, "32 bytes are 43 characters");
    OK(payment_link_token_valid(tok), "a made token is valid");
    char b[8];
    payment_link_base64url((const uint8_t *)"\xfb\xff", 2, b);
    EQ_STR(b, "-_8", "the URL-safe alphabet, no padding");
    payment_link_base64url((const uint8_t *)"Man", 3, b);
    EQ_STR(b, "TWFu", "RFC 4648 example");
    OK(!payment_link_token_valid("abc"), "short");
    OK(!payment_link_token_valid("e7DVCqeyBEQBeBealex73Ljb0df-0TKcGPZqyC8brt0x"), "long");
    OK(!payment_link_token_valid("e7DVCqeyBEQBeBealex73Ljb0df+0TKcGPZqyC8brt0"), "not base64url");
    OK(payment_link_token_valid("e7DVCqeyBEQBeBealex73Ljb0df-0TKcGPZqyC8brt0"), "43 base64url");

    char url[256];
    const char *why = NULL;
    EQ_INT(payment_link_public_url("https://pay.example.com/caisse/", url, sizeof url, &why), 0, "https with a prefix");
    EQ_STR(url, "https://pay.example.com/caisse", "trailing / dropped");
    EQ_INT(payment_link_public_url("http://127.0.0.1:8080", url, sizeof url, &why), 0, "http with a port");
    OK(payment_link_public_url("ftp://x", url, sizeof url, &why) != 0, "ftp refused");
    OK(payment_link_public_url("https://", url, sizeof url, &why) != 0, "no host refused");
    OK(payment_link_public_url("https://a.example/\"><script>", url, sizeof url, &why) != 0, "markup refused");
    OK(payment_link_public_url("https://a.example/?x=1", url, sizeof url, &why) != 0, "query refused");

    char a[64];
    payment_link_format_amount(12550, "EUR", a, sizeof a);
    EQ_STR(a, "125.50 EUR", "EUR");
    payment_link_format_amount(5, "EUR", a, sizeof a);
    EQ_STR(a, "0.05 EUR", "cents");
    payment_link_format_amount(1500, "JPY", a, sizeof a);
    EQ_STR(a, "1500 JPY", "no decimals");
}

int main(void)
{
    form_parser();
    escaping();
    rendering();
    links();
    return tap_done();
}
