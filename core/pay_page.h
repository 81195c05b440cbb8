#ifndef CAISSE_PAY_PAGE_H
#define CAISSE_PAY_PAGE_H
/* The hosted payment page of payment links (GET/POST /pay/{token},
 * docs/payment_links.md): the card form a browser posts as
 * application/x-www-form-urlencoded, and the HTML pages, self-contained
 * (no script, no external asset, one inline style allowed by its hash in
 * the Content-Security-Policy). Pure: no I/O, no clock. Every text that
 * comes from a merchant or a request is HTML-escaped; the card number is
 * never written into a page. */
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"

#define PAY_FORM_VALUE_BYTES_MAX 32     /* one decoded field (a card number with spaces: 23) */

/* The decoded fields of the card form. */
struct pay_form {
    char number[PAY_FORM_VALUE_BYTES_MAX + 1];
    char exp_month[PAY_FORM_VALUE_BYTES_MAX + 1];
    char exp_year[PAY_FORM_VALUE_BYTES_MAX + 1];
    char cvc[PAY_FORM_VALUE_BYTES_MAX + 1];
};

/* Parses an application/x-www-form-urlencoded body strictly: name=value
 * pairs joined by '&', '+' for a space, %XX escapes (bad escapes, NUL and
 * control characters refused), only the fields number, exp_month, exp_year
 * and cvc, each exactly once. Errors name the field as the card API does
 * (card.number, card.exp_month, card.exp_year, card.cvc; an unknown field by
 * its own name). Returns 0 or CS_EPARAM / CS_EMISSING / CS_EUNKNOWN /
 * CS_ETOOLARGE. The caller wipes *out when done (it holds the PAN). */
int pay_form_parse(const char *body, size_t len, struct pay_form *out, struct cs_diag *d);

/* The form as the JSON card object card_read() takes ({number, exp_month,
 * exp_year, cvc}): month 1 or 2 digits, year 4 digits or 2 (20YY); spaces
 * around them are ignored. NULL with d filled (card.exp_month,
 * card.exp_year) otherwise. */
json_t *pay_form_card(const struct pay_form *f, struct cs_diag *d);

/* Escapes & < > " ' for HTML text and attribute values; a new string
 * (NULL when out of memory). Invalid UTF-8 bytes become U+FFFD. */
char *pay_html_escape(const char *s);

enum pay_page_kind {
    PAY_PAGE_FORM,            /* the card form (again after a decline or a bad field) */
    PAY_PAGE_PAID,            /* this request paid the link */
    PAY_PAGE_COMPLETED,       /* paid earlier */
    PAY_PAGE_EXPIRED,         /* expired or withdrawn */
    PAY_PAGE_UNPAYABLE,       /* its payment was cancelled by the merchant */
    PAY_PAGE_NOT_FOUND,
    PAY_PAGE_ERROR,           /* anything else: the message says what */
};

/* What a page shows. NULL strings are left out. */
struct pay_view {
    enum pay_page_kind kind;
    const char *merchant_name;
    int64_t amount;
    const char *currency;         /* NULL: no amount shown */
    const char *description;
    const char *order_reference;
    const char *action;           /* the form's action (the token: relative to /pay/) */
    const char *error;            /* shown above the form or the text */
    const char *error_param;      /* the field it names ("card.number") */
    const char *card_brand, *card_last4;   /* paid: the card used */
    const char *payment_id;                /* paid: the reference to quote */
    int authorized_only;                   /* paid: authorized now, debited later */
};

/* The page as a new string (*len its length) or NULL when out of memory. */
char *pay_page_render(const struct pay_view *v, size_t *len);

/* The response headers of every page ("Name: value\r\n" lines): the
 * Content-Security-Policy (default-src 'none', the page's style by its
 * hash, form-action 'self', frame-ancestors 'none'), Cache-Control:
 * no-store, Referrer-Policy: no-referrer (the URL is a secret),
 * X-Frame-Options, X-Content-Type-Options. */
const char *pay_page_headers(void);

#endif
