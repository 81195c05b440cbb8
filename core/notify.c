#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/base64.h>
#include <jansson.h>
#include "core/notify.h"
#include "core/errors.h"
#include "core/money.h"

#define NOTIFY_FROM "caisse <no-reply@caisse.invalid>"

struct text {
    char *s;
    size_t len, cap;
    int err;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = t->s ? vsnprintf(t->s + t->len, room, fmt, ap) : -2;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (n >= 0 && cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->err = CS_ENOMEM;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
}

static int ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
            return 0;
    return 1;
}

char *notify_render(const char *to, const char *subject, const char *body, const char *message_id,
                    int64_t time_us)
{
    struct text t = {0};
    char date[64];
    time_t secs = (time_t)(time_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    add(&t, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: <%s@caisse.invalid>\r\n", date, NOTIFY_FROM, to, message_id);
    if (ascii(subject)) {
        add(&t, "Subject: %s\r\n", subject);
    } else {   /* RFC 2047 encoded-word */
        unsigned char b64[512];
        size_t n = 0;
        if (mbedtls_base64_encode(b64, sizeof b64, &n, (const unsigned char *)subject, strlen(subject)) != 0)
            n = 0;
        b64[n] = 0;
        add(&t, "Subject: =?UTF-8?B?%s?=\r\n", b64);
    }
    add(&t, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    for (const char *p = body; *p;) {   /* bare LF to CRLF */
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        add(&t, "%.*s\r\n", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    if (t.err) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

/* Minor units shown in major units with the currency's own decimals. */
static void money(struct text *t, json_int_t minor, const char *currency)
{
    const struct currency *c = currency_find(currency);
    int exp = c ? c->exponent : 2;
    long long a = minor < 0 ? -(long long)minor : (long long)minor, unit = 1;
    for (int i = 0; i < exp; i++)
        unit *= 10;
    if (exp == 0)
        add(t, "%s%lld %s", minor < 0 ? "-" : "", a, currency);
    else
        add(t, "%s%lld.%0*lld %s", minor < 0 ? "-" : "", a / unit, exp, a % unit, currency);
}

static void schedule(struct text *t, json_t *doc)
{
    const char *cur = json_string_value(json_object_get(doc, "currency"));
    size_t i;
    json_t *inst;
    add(t, "\nYour payment plan:\n");
    json_array_foreach(json_object_get(json_object_get(doc, "plan"), "schedule"), i, inst) {
        add(t, "  %zu. %s  ", i + 1, json_string_value(json_object_get(inst, "due_date")));
        money(t, json_integer_value(json_object_get(inst, "amount")) + json_integer_value(json_object_get(inst, "fee")), cur);
        add(t, "  %s\n", json_string_value(json_object_get(inst, "status")));
    }
}

/* Renders the message and puts it in the outbox under "<time>-<id>-<what>";
 * frees body->s. */
static int spool(struct store_txn *t, const char *to, const char *subject, struct text *body, const char *id,
                 const char *what, int64_t time_us)
{
    char key[160];
    snprintf(key, sizeof key, "%016llx-%s-%s", (unsigned long long)time_us, id, what);
    char *msg = body->err ? NULL : notify_render(to, subject, body->s, key, time_us);
    free(body->s);
    body->s = NULL;
    if (!msg)
        return CS_ENOMEM;
    int rc = store_mail_put(t, key, msg, strlen(msg));
    free(msg);
    return rc;
}

int notify_order_event(struct store_txn *t, const char *type, const char *order_id, int64_t time_us)
{
    static const char *const sends[] = {"order.confirmed", "order.instalment_paid", "order.cart_updated",
                                        "order.returned", NULL};
    int wanted = 0;
    for (const char *const *s = sends; *s; s++)
        wanted |= strcmp(*s, type) == 0;
    if (!wanted)
        return 0;
    MDB_val v;
    int rc = store_order_get(t, order_id, &v);
    if (rc)
        return rc;
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    json_t *cust = json_object_get(doc, "customer");
    const char *to = json_string_value(json_object_get(cust, "email"));
    const char *first = json_string_value(json_object_get(cust, "first_name"));
    const char *ref = json_string_value(json_object_get(doc, "reference"));
    const char *cur = json_string_value(json_object_get(doc, "currency"));
    if (!to || !ref || !cur || !first) {
        json_decref(doc);
        return 0;
    }
    struct text body = {0};
    char subject[256];
    add(&body, "Hello %s,\n\n", first);
    if (strcmp(type, "order.confirmed") == 0) {
        snprintf(subject, sizeof subject, "Your purchase %s is confirmed", ref);
        add(&body, "Your purchase %s of ", ref);
        money(&body, json_integer_value(json_object_get(doc, "amount")), cur);
        add(&body, " is confirmed. The first instalment was paid today.\n");
        schedule(&body, doc);
    } else if (strcmp(type, "order.instalment_paid") == 0) {
        snprintf(subject, sizeof subject, "Receipt for your payment on %s", ref);
        add(&body, "We received your instalment for purchase %s. Total paid so far: ", ref);
        money(&body, json_integer_value(json_object_get(doc, "amount_paid")), cur);
        add(&body, ".\n");
        schedule(&body, doc);
    } else {
        snprintf(subject, sizeof subject, "Your payment plan for %s has changed", ref);
        add(&body, "Your purchase %s changed; its amount is now ", ref);
        money(&body, json_integer_value(json_object_get(doc, "amount")), cur);
        add(&body, ".\n");
        json_t *refunds = json_object_get(doc, "refunds");
        json_t *last = json_array_get(refunds, json_array_size(refunds) - 1);
        if (json_is_object(last) && json_array_size(refunds) > 0) {
            add(&body, "Refunded to your card: ");
            money(&body, json_integer_value(json_object_get(last, "amount")), cur);
            add(&body, ".\n");
        }
        schedule(&body, doc);
    }
    add(&body, "\n-- \ncaisse, on behalf of your merchant\n");
    rc = spool(t, to, subject, &body, order_id, type, time_us);
    json_decref(doc);
    return rc;
}

int notify_payout(struct store_txn *t, json_t *merchant, json_t *payout, int64_t time_us)
{
    const char *to = json_string_value(json_object_get(merchant, "email"));
    const char *id = json_string_value(json_object_get(payout, "id"));
    const char *cur = json_string_value(json_object_get(payout, "currency"));
    json_t *dest = json_object_get(payout, "destination");
    if (!to || !id || !cur)
        return 0;
    struct text body = {0};
    char subject[160];
    snprintf(subject, sizeof subject, "Payout %s on its way", id);
    add(&body, "Hello,\n\nA payout of ");
    money(&body, json_integer_value(json_object_get(payout, "amount")), cur);
    add(&body, " (%s) leaves for your account ending %s today; it should arrive by %.10s.\n", id,
        json_string_value(json_object_get(dest, "iban_last4")) ? json_string_value(json_object_get(dest, "iban_last4"))
                                                                : "?",
        json_string_value(json_object_get(payout, "arrival_date")) ? json_string_value(json_object_get(payout, "arrival_date"))
                                                                   : "");
    json_int_t fee = json_integer_value(json_object_get(payout, "fee")), vat = json_integer_value(json_object_get(payout, "fee_vat"));
    if (fee + vat > 0) {
        add(&body, "Early payout fee, VAT included: ");
        money(&body, fee + vat, cur);
        add(&body, ".\n");
    }
    add(&body, "Its report (PDF, XLSX) and transfer file are in the API: GET /v1/payouts/%s.\n\n-- \ncaisse\n", id);
    return spool(t, to, subject, &body, id, "payout", time_us);
}

int notify_disbursement(struct store_txn *t, json_t *merchant, json_t *dsb, int64_t time_us)
{
    const char *to = json_string_value(json_object_get(merchant, "email"));
    const char *id = json_string_value(json_object_get(dsb, "id"));
    const char *ref = json_string_value(json_object_get(dsb, "reference"));
    const char *cur = json_string_value(json_object_get(dsb, "currency"));
    if (!to || !id || !ref || !cur)
        return 0;
    struct text body = {0};
    char subject[160];
    snprintf(subject, sizeof subject, "Disbursement %s", ref);
    add(&body, "Hello,\n\nDisbursement %s (%s) pays you ", ref, id);
    money(&body, json_integer_value(json_object_get(dsb, "amount")), cur);
    add(&body, " for %zu order(s) today.\nShipped less returns: ", json_array_size(json_object_get(dsb, "orders")));
    money(&body, json_integer_value(json_object_get(dsb, "gross_amount")), cur);
    add(&body, "\nCommissions, VAT included: ");
    money(&body, json_integer_value(json_object_get(dsb, "fees_vat_included")), cur);
    add(&body, "\nIts detail (PDF, XLSX) is in the API: GET /v1/disbursements/%s.\n\n-- \ncaisse\n", id);
    return spool(t, to, subject, &body, id, "disbursement", time_us);
}
