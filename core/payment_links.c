/* The payment link aggregate's validation and decisions (core/payment_links.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/doc.h"
#include "core/payment_links.h"
#include "core/payments.h"
#include "core/json_in.h"
#include "core/money.h"
#include "core/clock.h"

#define HOUR_US (3600LL * 1000000)

/* ---- validation ------------------------------------------------------------------ */

int payment_link_validate_create(json_t *body, json_t *merchant, int64_t now_us, json_t **payment_draft,
                                 int64_t *expires_in_hours, struct cs_diag *d)
{
    /* What a payment takes, less what the hosted page decides (the card, the
     * channel) and the multi-charge types, plus the link's lifetime. */
    static const char *const keys[] = {"amount", "currency", "type", "description", "order_reference", "shop",
                                       "customer", "metadata", "expires_in_hours", NULL};
    int64_t hours = PAYMENT_LINK_EXPIRES_HOURS_DEFAULT;
    int rc;
    if ((rc = jin_object(body, "", keys, d)) ||
        (rc = jin_int(body, "", "expires_in_hours", 0, 1, PAYMENT_LINK_EXPIRES_HOURS_MAX, &hours, d)))
        return rc;
    const char *type = doc_str(body, "type");
    if (type && (strcmp(type, "split") == 0 || strcmp(type, "deposit") == 0))
        return cs_fail(d, CS_EPARAM, "type", "a payment link takes one card payment: type must be at_order, "
                       "deferred, at_shipment or at_delivery");
    json_t *copy = json_copy(body);
    if (!copy)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_del(copy, "expires_in_hours");
    json_t *draft = NULL;
    rc = payment_validate_create(copy, merchant, now_us, &draft, d);
    json_decref(copy);
    if (rc)
        return rc;
    /* The link is e-mailed: an address is required. */
    json_t *customer = json_object_get(draft, "customer");
    if (!json_is_object(customer))
        rc = cs_fail(d, CS_EMISSING, "customer", "customer (with its email) is required: the link is sent by e-mail");
    else if (!json_is_string(json_object_get(customer, "email")))
        rc = cs_fail(d, CS_EMISSING, "customer.email", "customer.email is required: the link is sent by e-mail");
    if (rc) {
        json_decref(draft);
        return rc;
    }
    json_object_set_new(draft, "channel", json_string("payment_link"));
    *payment_draft = draft;
    *expires_in_hours = hours;
    return 0;
}

/* ---- decisions ------------------------------------------------------------------- */

static int require_active(json_t *link, struct cs_diag *d)
{
    if (doc_is(link, "status", "active"))
        return 0;
    return cs_fail(d, CS_ESTATE, "id", "this payment link is %s: only an active link can change", doc_str(link, "status"));
}

int payment_link_decide_create(json_t *payment, const char *id, const char *url, const char *token_sha256_hex,
                               int64_t expires_in_hours, const char *actor, int64_t now_us, json_t **data,
                               struct cs_diag *d)
{
    int64_t expires_us = now_us + expires_in_hours * HOUR_US;
    json_t *doc = json_pack("{s:s,s:s,s:O,s:O,s:s,s:s,s:O,s:O,s:O,s:O}", "id", id, "object", "payment_link",
                            "livemode", json_object_get(payment, "livemode"), "merchant",
                            json_object_get(payment, "merchant"), "status", "active", "url", url, "payment",
                            json_object_get(payment, "id"), "amount", json_object_get(payment, "amount"), "currency",
                            json_object_get(payment, "currency"), "type", json_object_get(payment, "type"));
    if (!doc)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    static const char *const copied[] = {"description", "order_reference", "shop", "customer", "metadata", NULL};
    for (const char *const *k = copied; *k; k++) {
        json_t *v = json_object_get(payment, *k);
        json_object_set_new(doc, *k, v ? json_deep_copy(v) : json_null());
    }
    json_object_set_new(doc, "expires_in_hours", json_integer(expires_in_hours));
    doc_set_time(doc, "expires_at", expires_us);
    json_object_set_new(doc, "completed_at", json_null());
    json_object_set_new(doc, "expired_at", json_null());
    json_object_set_new(doc, "expiry_reason", json_null());
    json_object_set_new(doc, "failed_attempts", json_integer(0));
    json_object_set_new(doc, "last_failure", json_null());
    json_object_set_new(doc, "created_by", json_string(actor));
    doc_set_time(doc, "created", now_us);
    json_object_set_new(doc, "created_us", json_integer(now_us));
    doc_set_time(doc, "updated", now_us);
    json_object_set_new(doc, "version", json_integer(1));
    *data = json_pack("{s:o,s:s,s:{s:I}}", "object", doc, "token_sha256", token_sha256_hex, "jobs",
                      "payment_link.expire", (json_int_t)expires_us);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int64_t payment_link_expires_us(json_t *link)
{
    return doc_int(link, "created_us") + doc_int(link, "expires_in_hours") * HOUR_US;
}

enum payment_link_state payment_link_state(json_t *link, json_t *payment, int64_t now_us)
{
    if (doc_is(link, "status", "completed"))
        return PAYMENT_LINK_COMPLETED;
    if (!doc_is(link, "status", "active") || now_us >= payment_link_expires_us(link))
        return PAYMENT_LINK_EXPIRED;
    if (!doc_is(payment, "status", "requires_payment"))
        return PAYMENT_LINK_UNPAYABLE;
    return PAYMENT_LINK_PAYABLE;
}

int payment_link_decide_complete(json_t *link, int64_t now_us, json_t **data, struct cs_diag *d)
{
    int rc = require_active(link, d);
    if (rc)
        return rc;
    json_t *n = doc_next_version(link, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(n, "status", json_string("completed"));
    doc_set_time(n, "completed_at", now_us);
    *data = json_pack("{s:o,s:{s:n}}", "object", n, "jobs", "payment_link.expire");
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payment_link_decide_failed(json_t *link, json_t *failure, json_t *card, int64_t now_us, json_t **data,
                               int *exhausted, struct cs_diag *d)
{
    int rc = require_active(link, d);
    if (rc)
        return rc;
    json_t *n = doc_next_version(link, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    int64_t attempts = doc_int(link, "failed_attempts") + 1;
    json_object_set_new(n, "failed_attempts", json_integer(attempts));
    json_t *f = json_pack("{s:O?,s:O?,s:O?}", "code", json_object_get(failure, "code"), "message",
                          json_object_get(failure, "message"), "card", card);
    if (f)
        doc_set_time(f, "failed_at", now_us);
    json_object_set_new(n, "last_failure", f ? f : json_null());
    *exhausted = attempts >= PAYMENT_LINK_FAILED_ATTEMPTS_MAX;
    *data = json_pack("{s:o}", "object", n);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payment_link_decide_end(json_t *link, const char *reason, int64_t now_us, const char **type, json_t **data,
                            struct cs_diag *d)
{
    int rc = require_active(link, d);
    if (rc)
        return rc;
    json_t *n = doc_next_version(link, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(n, "status", json_string("expired"));
    doc_set_time(n, "expired_at", now_us);
    json_object_set_new(n, "expiry_reason", json_string(reason));
    *type = strcmp(reason, "deactivated") == 0 ? "payment_link.deactivated" : "payment_link.expired";
    *data = json_pack("{s:o,s:{s:n}}", "object", n, "jobs", "payment_link.expire");
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- tokens and URLs ---------------------------------------------------------------- */

static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int payment_link_token_valid(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (n >= PAYMENT_LINK_TOKEN_CHARS || !b64url_char((unsigned char)s[n]))
            return 0;
    return n == PAYMENT_LINK_TOKEN_CHARS;
}

void payment_link_base64url(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
    }
    out[o] = 0;
}

int payment_link_public_url(const char *url, char *out, size_t cap, const char **why)
{
    size_t n = url ? strlen(url) : 0;
    const char *host = NULL;
    if (n > 7 && strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (n > 8 && strncmp(url, "https://", 8) == 0)
        host = url + 8;
    if (!host || !*host || *host == '/') {
        *why = "it must be http://HOST[:PORT][/PREFIX] or https://…";
        return -1;
    }
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n > PAYMENT_LINK_PUBLIC_URL_BYTES_MAX || n + 1 > cap) {
        *why = "it is longer than 200 bytes";
        return -1;
    }
    /* It goes into e-mails and HTML attributes as is: no characters that
     * would need escaping there, no query or fragment. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"'<>\\`^{}|?#%", c)) {
            *why = "it may hold only letters, digits and - . _ ~ : / @ ! $ & ( ) * + , ; = [ ]";
            return -1;
        }
    }
    memcpy(out, url, n);
    out[n] = 0;
    return 0;
}

int payment_link_format_amount(int64_t minor, const char *currency, char *buf, size_t cap)
{
    const struct currency *c = currency ? currency_find(currency) : NULL;
    int exp = c ? c->exponent : 2;
    /* |INT64_MIN| does not fit: amounts are bounded far below (CS_AMOUNT_MINOR_MAX). */
    unsigned long long a = minor < 0 ? 0ULL - (unsigned long long)minor : (unsigned long long)minor, unit = 1;
    for (int i = 0; i < exp; i++)
        unit *= 10;
    if (exp == 0)
        return snprintf(buf, cap, "%s%llu %s", minor < 0 ? "-" : "", a, currency ? currency : "");
    return snprintf(buf, cap, "%s%llu.%0*llu %s", minor < 0 ? "-" : "", a / unit, exp, a % unit,
                    currency ? currency : "");
}

/* ---- e-mails ------------------------------------------------------------------------ */

/* "2026-11-26 10:00 UTC" */
static void human_time(int64_t us, char *buf, size_t cap)
{
    char at[40];
    clock_format_rfc3339(us, at, sizeof at);
    snprintf(buf, cap, "%.10s %.5s UTC", at, at + 11);
}

static void greeting(FILE *f, json_t *link)
{
    const char *first = doc_str(json_object_get(link, "customer"), "first_name");
    if (first)
        fprintf(f, "Hello %s,\n\n", first);
    else
        fprintf(f, "Hello,\n\n");
}

static void about(FILE *f, json_t *link)
{
    const char *desc = doc_str(link, "description"), *ref = doc_str(link, "order_reference");
    if (desc)
        fprintf(f, "For: %s\n", desc);
    if (ref)
        fprintf(f, "Reference: %s\n", ref);
}

/* Closes the memory stream (only then is *buf final) and hands out both texts. */
static int finish(FILE *f, const char *subject_text, char **subject, char **body, char **buf)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*buf);
        return CS_ENOMEM;
    }
    *subject = strdup(subject_text);
    if (!*subject) {
        free(*buf);
        return CS_ENOMEM;
    }
    *body = *buf;
    return 0;
}

int payment_link_email(json_t *link, const char *merchant_name, char **subject, char **body)
{
    char amount[64], until[40], subj[256];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return CS_ENOMEM;
    payment_link_format_amount(doc_int(link, "amount"), doc_str(link, "currency"), amount, sizeof amount);
    human_time(payment_link_expires_us(link), until, sizeof until);
    snprintf(subj, sizeof subj, "Payment request from %s: %s", merchant_name, amount);
    greeting(f, link);
    fprintf(f, "%s asks you to pay %s.\n", merchant_name, amount);
    about(f, link);
    fprintf(f, "\nPay securely by card on this page:\n%s\n\n", doc_str(link, "url"));
    fprintf(f, "The link is valid until %s. If you did not expect this request, ignore this e-mail; "
               "never give your card details by e-mail or phone.\n", until);
    fprintf(f, "\n-- \ncaisse, on behalf of %s\n", merchant_name);
    return finish(f, subj, subject, body, &buf);
}

int payment_link_receipt_email(json_t *link, json_t *payment, const char *merchant_name, char **subject,
                               char **body)
{
    char amount[64], subj[256];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return CS_ENOMEM;
    payment_link_format_amount(doc_int(payment, "amount"), doc_str(payment, "currency"), amount, sizeof amount);
    json_t *card = json_object_get(payment, "card");
    snprintf(subj, sizeof subj, "Your payment to %s is confirmed", merchant_name);
    greeting(f, link);
    if (doc_is(payment, "status", "captured"))
        fprintf(f, "Your payment of %s to %s is confirmed.\n", amount, merchant_name);
    else   /* deferred, at shipment, at delivery: authorized now, debited later */
        fprintf(f, "Your payment of %s to %s is authorized; your card will be debited when %s completes it.\n",
                amount, merchant_name, merchant_name);
    about(f, link);
    if (doc_str(card, "last4"))
        fprintf(f, "Card: %s ending in %s\n", doc_str(card, "brand"), doc_str(card, "last4"));
    fprintf(f, "Payment: %s\n", doc_str(payment, "id"));
    fprintf(f, "\n-- \ncaisse, on behalf of %s\n", merchant_name);
    return finish(f, subj, subject, body, &buf);
}
