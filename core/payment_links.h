#ifndef CAISSE_PAYMENT_LINKS_H
#define CAISSE_PAYMENT_LINKS_H
/* The payment link aggregate (docs/payment_links.md): a payment in
 * requires_payment (channel payment_link) that the shopper pays on a hosted
 * page (core/pay_page.h) reached through a secret URL sent by e-mail.
 * Validation and the decide functions of every change, pure of I/O:
 * (document, command) -> event data, as core/payments.h does: each event's
 * data is {"object": the document after the event, ...}.
 *
 * States: active -> completed (paid) | expired (its time ran out, the
 * merchant deactivated it, or too many declined attempts). Only an active
 * link whose expiry time has not come and whose payment still awaits its
 * card can be paid. */
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"
#include "core/limits.h"

#define PAYMENT_LINK_EXPIRES_HOURS_DEFAULT 72
#define PAYMENT_LINK_EXPIRES_HOURS_MAX     720          /* 30 days */
/* The secret of the URL: 32 random bytes, base64url without padding. */
#define PAYMENT_LINK_TOKEN_BYTES           32
#define PAYMENT_LINK_TOKEN_CHARS           43
/* Declined attempts on one link before it ends (card-testing brake): a
 * stolen list of cards cannot be tried one by one on a link. */
#define PAYMENT_LINK_FAILED_ATTEMPTS_MAX   10
/* The hosted page's form body (four short fields). */
#define PAYMENT_LINK_FORM_BYTES_MAX        2048
_Static_assert(PAYMENT_LINK_FORM_BYTES_MAX <= CS_HTTP_BODY_BYTES_MAX, "a form fits a request body");
/* --public-url: scheme, host, optional port and path prefix. */
#define PAYMENT_LINK_PUBLIC_URL_BYTES_MAX  200

/* Validates the body of POST /v1/payment_links against the merchant at
 * now_us. *payment_draft is the draft of the link's payment (what
 * payment_validate_create makes, with channel "payment_link" and the
 * customer required with an e-mail); *expires_in_hours the link's lifetime. */
int payment_link_validate_create(json_t *body, json_t *merchant, int64_t now_us, json_t **payment_draft,
                                 int64_t *expires_in_hours, struct cs_diag *d);

/* The first event of a link: payment_link.created, its data
 * {"object", "token_sha256", "jobs": {"payment_link.expire": due}}.
 * `payment` is the document of its payment as just created. */
int payment_link_decide_create(json_t *payment, const char *id, const char *url, const char *token_sha256_hex,
                               int64_t expires_in_hours, const char *actor, int64_t now_us, json_t **data,
                               struct cs_diag *d);

/* What a shopper may do with a link at now_us. */
enum payment_link_state {
    PAYMENT_LINK_PAYABLE,
    PAYMENT_LINK_COMPLETED,        /* paid already */
    PAYMENT_LINK_EXPIRED,          /* expired, deactivated, or its time has come (the job may lag) */
    PAYMENT_LINK_UNPAYABLE,        /* its payment no longer awaits a card (cancelled through the API) */
};
enum payment_link_state payment_link_state(json_t *link, json_t *payment, int64_t now_us);
/* The expiry time of a link: created_us + expires_in_hours. */
int64_t payment_link_expires_us(json_t *link);

/* The link after its payment was paid: payment_link.completed. */
int payment_link_decide_complete(json_t *link, int64_t now_us, json_t **data, struct cs_diag *d);
/* A declined attempt (`failure` {code, message} of the refused payment,
 * `card` its card facts): payment_link.payment_failed; *exhausted is set
 * when this was the last attempt allowed (the caller ends the link). */
int payment_link_decide_failed(json_t *link, json_t *failure, json_t *card, int64_t now_us, json_t **data,
                               int *exhausted, struct cs_diag *d);
/* Ends an active link. reason: "expired" (payment_link.expired),
 * "deactivated" (payment_link.deactivated), "too_many_attempts"
 * (payment_link.expired). CS_ESTATE if it is not active. */
int payment_link_decide_end(json_t *link, const char *reason, int64_t now_us, const char **type, json_t **data,
                            struct cs_diag *d);

/* 1 if s has the shape of a link token (43 base64url characters). */
int payment_link_token_valid(const char *s);
/* Encodes n bytes as base64url without padding into out (4n/3 + 2 bytes). */
void payment_link_base64url(const uint8_t *in, size_t n, char *out);
/* Checks a --public-url value and writes it without its trailing '/'
 * into out. 0 or -1 (with a reason in why). */
int payment_link_public_url(const char *url, char *out, size_t cap, const char **why);

/* Minor units in major units with the currency's decimals: "1234.50 EUR".
 * Returns the length written (truncated to cap like snprintf). */
int payment_link_format_amount(int64_t minor, const char *currency, char *buf, size_t cap);

/* The e-mail to the shopper: subject and plain-text body (malloc'd). */
int payment_link_email(json_t *link, const char *merchant_name, char **subject, char **body);
/* The receipt after paying: subject and body (malloc'd). */
int payment_link_receipt_email(json_t *link, json_t *payment, const char *merchant_name, char **subject,
                               char **body);

#endif
