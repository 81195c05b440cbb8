/* The payment aggregate's validation and decisions (core/payments.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/doc.h"
#include "core/payments.h"
#include "core/json_in.h"
#include "core/money.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/ids.h"

#define DAY_US (86400LL * 1000000)

const char *const payment_types[] = {"at_order", "deferred", "split", "deposit", "at_shipment", "at_delivery", NULL};
const char *const payment_channels[] = {"api", "manual", "terminal", NULL};
static const char *const cancel_reasons[] = {"requested_by_customer", "duplicate", "fraudulent", "abandoned",
                                             "other", NULL};

/* 00:00 UTC of a "YYYY-MM-DD" (validated) plus the charge hour. */
static int64_t charge_time_of_date(const char *ymd)
{
    int y, m, d;
    if (clock_parse_date(ymd, &y, &m, &d) != 0)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = PAYMENT_CHARGE_HOUR_UTC};
    return (int64_t)timegm(&tm) * 1000000;
}

/* ---- validation ------------------------------------------------------------------ */

int payment_validate_create(json_t *body, json_t *merchant, int64_t now_us, json_t **draft, struct cs_diag *d)
{
    static const char *const keys[] = {"amount", "currency", "type", "channel", "card", "split", "deposit",
                                       "description", "order_reference", "shop", "customer", "customer_id",
                                       "metadata", "terminal", NULL};
    static const char *const customer_keys[] = {"email", "first_name", "last_name", "phone", NULL};
    const char *currency = NULL, *type = "at_order", *channel = "api", *description = NULL, *reference = NULL,
               *shop = "default", *customer_id = NULL, *terminal = NULL;
    int64_t amount = 0;
    int rc = 0;
    if ((rc = jin_object(body, "", keys, d)) || (rc = jin_int(body, "", "amount", 1, 1, CS_AMOUNT_MINOR_MAX, &amount, d)) ||
        (rc = jin_string(body, "", "currency", 1, 3, 3, &currency, d)) ||
        (rc = jin_string(body, "", "type", 0, 1, 16, &type, d)) ||
        (rc = jin_string(body, "", "channel", 0, 1, 16, &channel, d)) ||
        (rc = jin_string(body, "", "description", 0, 1, 500, &description, d)) ||
        (rc = jin_string(body, "", "order_reference", 0, 1, 64, &reference, d)) ||
        (rc = jin_string(body, "", "shop", 0, 1, 64, &shop, d)) ||
        (rc = jin_string(body, "", "customer_id", 0, 1, CS_ID_BYTES_MAX - 1, &customer_id, d)) ||
        (rc = jin_string(body, "", "terminal", 0, 1, CS_ID_BYTES_MAX - 1, &terminal, d)))
        return rc;
    if (!currency_find(currency))
        return cs_fail(d, CS_ECURRENCY, "currency", "%s is not a supported ISO 4217 currency", currency);
    const char *mcur = json_string_value(json_object_get(merchant, "currency"));
    if (!mcur || strcmp(mcur, currency) != 0)
        return cs_fail(d, CS_ECURRENCY, "currency", "currency %s differs from the merchant's settlement currency %s",
                       currency, mcur ? mcur : "?");
    if (!doc_one_of(type, payment_types))
        return cs_fail(d, CS_EPARAM, "type", "type must be one of at_order, deferred, split, deposit, at_shipment, "
                       "at_delivery");
    if (!doc_one_of(channel, payment_channels))
        return cs_fail(d, CS_EPARAM, "channel", "channel must be api, manual or terminal (payment links have their own "
                       "API)");
    /* A payment taken on a payment terminal names it (docs/terminals.md);
     * the handler checks it is the merchant's. */
    if (terminal && strcmp(channel, "terminal") != 0)
        return cs_fail(d, CS_EPARAM, "terminal", "terminal is for payments of channel terminal");
    if (!terminal && strcmp(channel, "terminal") == 0)
        return cs_fail(d, CS_EMISSING, "terminal", "terminal (trm_…) is required for channel terminal");
    if (terminal && !id_valid(terminal, "trm"))
        return cs_fail(d, CS_EPARAM, "terminal", "terminal must be a terminal id (trm_…)");
    if ((reference && !jin_printable(reference)) || (description && !jin_printable(description)))
        return cs_fail(d, CS_EPARAM, reference && !jin_printable(reference) ? "order_reference" : "description",
                       "must be printable text");
    if (!jin_token(shop))
        return cs_fail(d, CS_EPARAM, "shop", "shop must be letters, digits, '-' or '_'");
    if (customer_id && strncmp(customer_id, "cus_", 4) != 0)
        return cs_fail(d, CS_EPARAM, "customer_id", "customer_id must be a customer id (cus_…)");
    json_t *customer = jin_child(body, "", "customer", JSON_OBJECT, 0, &rc, d);
    if (rc)
        return rc;
    if (customer) {
        const char *email = NULL, *first = NULL, *last = NULL, *phone = NULL;
        if ((rc = jin_object(customer, "customer", customer_keys, d)) ||
            (rc = jin_string(customer, "customer", "email", 0, 3, 254, &email, d)) ||
            (rc = jin_string(customer, "customer", "first_name", 0, 1, 100, &first, d)) ||
            (rc = jin_string(customer, "customer", "last_name", 0, 1, 100, &last, d)) ||
            (rc = jin_string(customer, "customer", "phone", 0, 1, 16, &phone, d)))
            return rc;
        if (email && (!jin_email(email) || !jin_printable(email)))
            return cs_fail(d, CS_EPARAM, "customer.email", "customer.email must be an e-mail address");
        if (phone && !jin_phone(phone))
            return cs_fail(d, CS_EPARAM, "customer.phone", "customer.phone must be in E.164 form: + then 8 to 15 digits");
        if ((first && !jin_printable(first)) || (last && !jin_printable(last)))
            return cs_fail(d, CS_EPARAM, first && !jin_printable(first) ? "customer.first_name" : "customer.last_name",
                           "must be printable text");
    }
    json_t *metadata = NULL;
    if ((rc = jin_metadata(body, "", &metadata, d)))
        return rc;
    /* The charges of a split or deposit payment. */
    json_t *charges = json_null();
    json_t *split = jin_child(body, "", "split", JSON_OBJECT, 0, &rc, d);
    if (rc)
        return rc;
    json_t *deposit = jin_child(body, "", "deposit", JSON_OBJECT, 0, &rc, d);
    if (rc)
        return rc;
    if (split && strcmp(type, "split") != 0)
        return cs_fail(d, CS_EPARAM, "split", "split is for payments of type split");
    if (deposit && strcmp(type, "deposit") != 0)
        return cs_fail(d, CS_EPARAM, "deposit", "deposit is for payments of type deposit");
    if (strcmp(type, "split") == 0) {
        static const char *const skeys[] = {"count", "interval_days", NULL};
        int64_t count = 0, interval = 30;
        if (!split)
            return cs_fail(d, CS_EMISSING, "split", "split ({count, interval_days}) is required for type split");
        if ((rc = jin_object(split, "split", skeys, d)) ||
            (rc = jin_int(split, "split", "count", 1, 2, PAYMENT_SPLIT_COUNT_MAX, &count, d)) ||
            (rc = jin_int(split, "split", "interval_days", 0, 1, 92, &interval, d)))
            return rc;
        if (amount < count)
            return cs_fail(d, CS_EAMOUNT, "amount", "amount must be at least one minor unit per charge");
        charges = json_array();
        /* Equal parts; the remainder goes to the first charge (explicit rounding). */
        int64_t part = amount / count, rest = amount % count;
        for (int64_t i = 0; i < count; i++) {
            json_t *ch = json_pack("{s:I,s:I,s:s,s:i,s:n,s:n}", "number", (json_int_t)(i + 1), "amount",
                                   (json_int_t)(part + (i == 0 ? rest : 0)), "status", "scheduled", "attempts", 0,
                                   "paid_at", "last_failure");
            int64_t due = now_us;
            if (i > 0) {
                char ymd[16];
                clock_format_date(now_us + i * interval * DAY_US, ymd, sizeof ymd);
                due = charge_time_of_date(ymd);
            }
            doc_set_time(ch, "due_at", due);
            json_object_set_new(ch, "due_us", json_integer(due));
            json_array_append_new(charges, ch);
        }
    } else if (strcmp(type, "deposit") == 0) {
        static const char *const dkeys[] = {"amount", "balance_due", NULL};
        int64_t dep = 0;
        const char *balance_due = NULL;
        if (!deposit)
            return cs_fail(d, CS_EMISSING, "deposit", "deposit ({amount, balance_due}) is required for type deposit");
        if ((rc = jin_object(deposit, "deposit", dkeys, d)) ||
            (rc = jin_int(deposit, "deposit", "amount", 1, 1, CS_AMOUNT_MINOR_MAX, &dep, d)) ||
            (rc = jin_string(deposit, "deposit", "balance_due", 0, 10, 10, &balance_due, d)))
            return rc;
        if (dep >= amount)
            return cs_fail(d, CS_EAMOUNT, "deposit.amount", "the deposit must be less than the amount");
        int64_t balance_us = -1;
        if (balance_due) {
            balance_us = charge_time_of_date(balance_due);
            if (balance_us < 0)
                return cs_fail(d, CS_EPARAM, "deposit.balance_due", "deposit.balance_due must be a date YYYY-MM-DD");
            if (balance_us <= now_us)
                return cs_fail(d, CS_EPARAM, "deposit.balance_due", "deposit.balance_due must be in the future");
        }
        charges = json_array();
        json_t *first = json_pack("{s:i,s:s,s:I,s:s,s:i,s:n,s:n}", "number", 1, "kind", "deposit", "amount",
                                  (json_int_t)dep, "status", "scheduled", "attempts", 0, "paid_at", "last_failure");
        doc_set_time(first, "due_at", now_us);
        json_object_set_new(first, "due_us", json_integer(now_us));
        json_t *second = json_pack("{s:i,s:s,s:I,s:s,s:i,s:n,s:n}", "number", 2, "kind", "balance", "amount",
                                   (json_int_t)(amount - dep), "status", "scheduled", "attempts", 0, "paid_at",
                                   "last_failure");
        if (balance_us > 0) {
            doc_set_time(second, "due_at", balance_us);
            json_object_set_new(second, "due_us", json_integer(balance_us));
        } else {
            json_object_set_new(second, "due_at", json_null());   /* collected by a capture */
            json_object_set_new(second, "due_us", json_null());
        }
        json_array_append_new(charges, first);
        json_array_append_new(charges, second);
    }
    *draft = json_pack("{s:s,s:s,s:I,s:s,s:s?,s:s?,s:s,s:O?,s:s?,s:O?,s:o,s:s?}", "type", type, "channel", channel,
                       "amount", (json_int_t)amount, "currency", currency, "description", description,
                       "order_reference", reference, "shop", shop, "customer", customer, "customer_id", customer_id,
                       "metadata", metadata, "charges", charges, "terminal", terminal);
    return *draft ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- risk controls ----------------------------------------------------------------- */

static int list_has(json_t *list, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        if (s && value && strcasecmp(s, value) == 0)
            return 1;
    }
    return 0;
}

const char *payment_risk_rule(json_t *settings, json_t *card, int64_t amount, json_t *counters)
{
    if (!json_is_object(settings) || !json_is_object(card))
        return NULL;
    if (list_has(json_object_get(settings, "blocked_cards"), json_string_value(json_object_get(card, "fingerprint"))))
        return "card_grey_list";
    if (list_has(json_object_get(settings, "blocked_bins"), json_string_value(json_object_get(card, "bin"))))
        return "bin_grey_list";
    if (list_has(json_object_get(settings, "blocked_card_countries"), json_string_value(json_object_get(card, "country"))))
        return "card_country_grey_list";
    if (json_is_true(json_object_get(settings, "block_virtual_cards")) && json_is_true(json_object_get(card, "virtual")))
        return "virtual_card_filter";
    if (json_is_true(json_object_get(settings, "block_systematic_authorization")) &&
        json_is_true(json_object_get(card, "systematic_authorization")))
        return "systematic_authorization_filter";
    json_t *limit = json_object_get(settings, "card_outstanding_limit");
    if (json_is_object(limit) && doc_int(counters, "outstanding") + amount > doc_int(limit, "amount"))
        return "card_outstanding_limit";
    json_t *vel = json_object_get(settings, "velocity");
    if (json_is_object(vel)) {
        json_t *maxc = json_object_get(vel, "max_count"), *maxa = json_object_get(vel, "max_amount");
        if (json_is_integer(maxc) && doc_int(counters, "count") + 1 > json_integer_value(maxc))
            return "velocity_count";
        if (json_is_integer(maxa) && doc_int(counters, "amount") + amount > json_integer_value(maxa))
            return "velocity_amount";
    }
    return NULL;
}

/* ---- creating and paying ----------------------------------------------------------- */

/* A copy of doc for the next version, updated now. */
/* The first unpaid charge (scheduled or failed), or NULL. */
static json_t *next_charge(json_t *doc)
{
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(doc, "charges"), i, ch) {
        if (doc_is(ch, "status", "scheduled") || doc_is(ch, "status", "failed"))
            return ch;
    }
    return NULL;
}

/* The next charge job's time: the due time of the first unpaid charge with
 * one (or its retry time), else none (JSON null). */
static json_t *charge_job(json_t *doc)
{
    json_t *ch = next_charge(doc);
    json_t *at = json_object_get(ch, "retry_us");
    if (!json_is_integer(at))
        at = json_object_get(ch, "due_us");
    return json_is_integer(at) ? json_integer(json_integer_value(at)) : json_null();
}

/* Test mode: the first capture on the disputing test card schedules the
 * simulated scheme's dispute. */
static void simulated_dispute(json_t *doc, int64_t captured_before, int64_t now_us, json_t **jobs)
{
    struct card_facts card;
    if (json_is_true(json_object_get(doc, "livemode")) || captured_before > 0 || doc_int(doc, "amount_captured") == 0 ||
        card_facts_from_json(json_object_get(doc, "card"), &card) != 0 || !card.later_dispute)
        return;
    if (!*jobs)
        *jobs = json_object();
    json_object_set_new(*jobs, "dispute.simulate", json_integer(now_us + PAYMENT_SIMULATED_DISPUTE_AFTER_US));
}

/* A payment refused at once: none of its charges will run. */
static void fail_into(json_t *doc, const char *code, const char *message, int64_t now_us, const char **type)
{
    json_object_set_new(doc, "status", json_string("failed"));
    json_object_set_new(doc, "failure", json_pack("{s:s,s:s}", "code", code, "message", message));
    doc_set_time(json_object_get(doc, "failure"), "failed_at", now_us);
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(doc, "charges"), i, ch)
        json_object_set_new(ch, "status", json_string("cancelled"));
    *type = "payment.failed";
}

/* Runs the card through the acquirer (or the risk refusal) for a payment in
 * requires_payment: doc is changed in place. */
static void authorize_into(json_t *doc, const struct card_facts *card, json_t *risk, int64_t now_us,
                           const char **type, json_t **jobs)
{
    json_object_set_new(doc, "card", card_facts_json(card));
    json_object_set(doc, "risk", risk);
    int64_t amount = doc_int(doc, "amount");
    json_t *charges = json_object_get(doc, "charges");
    json_t *first = json_array_get(charges, 0);
    int64_t now_amount = first ? doc_int(first, "amount") : amount;
    if (doc_is(risk, "decision", "blocked")) {
        char msg[160];
        snprintf(msg, sizeof msg, "refused by the merchant's risk rule %s",
                 json_string_value(json_object_get(risk, "rule")) ? json_string_value(json_object_get(risk, "rule")) : "?");
        fail_into(doc, "risk_blocked", msg, now_us, type);
        return;
    }
    struct acq_result r;
    acquirer_authorize(card, now_amount, 0, &r);
    if (r.outcome != ACQ_APPROVED) {
        fail_into(doc, r.code, r.message, now_us, type);
        return;
    }
    json_object_set_new(doc, "amount_authorized", json_integer(amount));
    json_t *auth = json_pack("{s:s}", "code", "approved");
    doc_set_time(auth, "authorized_at", now_us);
    json_object_set_new(auth, "expires_at", json_null());
    json_object_set_new(doc, "authorization", auth);
    const char *ptype = json_string_value(json_object_get(doc, "type"));
    if (strcmp(ptype, "at_order") == 0) {
        json_object_set_new(doc, "status", json_string("captured"));
        json_object_set_new(doc, "amount_captured", json_integer(amount));
        json_t *cap = json_pack("{s:I}", "amount", (json_int_t)amount);
        doc_set_time(cap, "captured_at", now_us);
        json_array_append_new(json_object_get(doc, "captures"), cap);
        *type = "payment.captured";
        simulated_dispute(doc, 0, now_us, jobs);
        return;
    }
    json_object_set_new(doc, "status", json_string("authorized"));
    *type = "payment.authorized";
    if (first) {   /* split, deposit: the first charge is collected now */
        json_object_set_new(first, "status", json_string("paid"));
        json_object_set_new(first, "attempts", json_integer(1));
        doc_set_time(first, "paid_at", now_us);
        json_object_set_new(doc, "amount_captured", json_integer(now_amount));
        json_t *cap = json_pack("{s:I,s:i}", "amount", (json_int_t)now_amount, "charge", 1);
        doc_set_time(cap, "captured_at", now_us);
        json_array_append_new(json_object_get(doc, "captures"), cap);
        *jobs = json_pack("{s:o}", "payment.charge", charge_job(doc));
        simulated_dispute(doc, 0, now_us, jobs);
        return;
    }
    int64_t window = strcmp(ptype, "deferred") == 0 ? PAYMENT_AUTH_WINDOW_US_DEFERRED : PAYMENT_AUTH_WINDOW_US_FULFILMENT;
    doc_set_time(auth, "expires_at", now_us + window);
    *jobs = json_pack("{s:I}", "payment.expire", (json_int_t)(now_us + window));
}

int payment_decide_create(json_t *draft, const struct card_facts *card, json_t *risk, const char *id,
                          const char *merchant_id, int livemode, const char *actor, int64_t now_us,
                          const char **type, json_t **data, struct cs_diag *d)
{
    char created[40];
    clock_format_rfc3339(now_us, created, sizeof created);
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s,s:O,s:O,s:s,s:O,s:O,s:i,s:i,s:i,s:i}", "id", id, "object", "payment",
                            "livemode", livemode, "merchant", merchant_id, "type", json_object_get(draft, "type"),
                            "channel", json_object_get(draft, "channel"), "status", "requires_payment", "amount",
                            json_object_get(draft, "amount"), "currency", json_object_get(draft, "currency"),
                            "amount_authorized", 0, "amount_captured", 0, "amount_refunded", 0, "amount_disputed", 0);
    if (doc)
        json_object_set_new(doc, "amount_refund_pending", json_integer(0));
    if (!doc)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    static const char *const copied[] = {"description", "order_reference", "shop", "customer", "customer_id",
                                         "metadata", "payment_link", "duplicated_from", "terminal", NULL};
    for (const char *const *k = copied; *k; k++) {
        json_t *v = json_object_get(draft, *k);
        json_object_set(doc, *k, v ? v : json_null());
    }
    json_object_set_new(doc, "card", json_null());
    json_object_set_new(doc, "authorization", json_null());
    json_object_set_new(doc, "charges", json_is_array(json_object_get(draft, "charges"))
                                           ? json_deep_copy(json_object_get(draft, "charges")) : json_null());
    json_object_set_new(doc, "captures", json_array());
    json_object_set_new(doc, "refunds", json_array());
    json_object_set_new(doc, "dispute", json_null());
    json_object_set_new(doc, "failure", json_null());
    json_object_set_new(doc, "risk", json_null());
    json_object_set_new(doc, "cancellation", json_null());
    json_object_set_new(doc, "created_by", json_string(actor));
    json_object_set_new(doc, "created", json_string(created));
    json_object_set_new(doc, "updated", json_string(created));
    json_object_set_new(doc, "version", json_integer(1));
    json_object_set_new(doc, "created_us", json_integer(now_us));
    json_t *jobs = NULL;
    *type = "payment.created";
    if (card)
        authorize_into(doc, card, risk, now_us, type, &jobs);
    *data = doc_event_data(doc, jobs, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payment_decide_pay(json_t *doc, const struct card_facts *card, json_t *risk, int64_t now_us,
                       const char **type, json_t **data, struct cs_diag *d)
{
    if (!doc_is(doc, "status", "requires_payment"))
        return cs_fail(d, CS_ESTATE, "payment", "this payment is %s: it cannot be paid again",
                       json_string_value(json_object_get(doc, "status")));
    json_t *n = doc_next_version(doc, now_us), *jobs = NULL;
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    authorize_into(n, card, risk, now_us, type, &jobs);
    *data = doc_event_data(n, jobs, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- manual operations ----------------------------------------------------------------- */

static int require_authorized(json_t *doc, const char *what, struct cs_diag *d)
{
    if (doc_is(doc, "status", "authorized"))
        return 0;
    return cs_fail(d, CS_ESTATE, "id", "this payment is %s: only an authorized payment can be %s",
                   json_string_value(json_object_get(doc, "status")), what);
}

/* Marks a charge paid and counts it captured; closes the payment when the
 * last charge is in. */
static void charge_paid(json_t *n, json_t *ch, int64_t now_us)
{
    json_object_set_new(ch, "status", json_string("paid"));
    json_object_set_new(ch, "attempts", json_integer(doc_int(ch, "attempts") + 1));
    json_object_del(ch, "retry_us");
    doc_set_time(ch, "paid_at", now_us);
    int64_t amount = doc_int(ch, "amount");
    json_object_set_new(n, "amount_captured", json_integer(doc_int(n, "amount_captured") + amount));
    json_t *cap = json_pack("{s:I,s:I}", "amount", (json_int_t)amount, "charge", (json_int_t)doc_int(ch, "number"));
    doc_set_time(cap, "captured_at", now_us);
    json_array_append_new(json_object_get(n, "captures"), cap);
    if (!next_charge(n))
        json_object_set_new(n, "status", json_string("captured"));
}

int payment_decide_capture(json_t *doc, int64_t amount, int64_t now_us, const char **type, json_t **data,
                           struct cs_diag *d)
{
    int rc = require_authorized(doc, "captured", d);
    if (rc)
        return rc;
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_t *jobs = NULL;
    json_t *ch = next_charge(n);
    if (json_is_array(json_object_get(n, "charges"))) {
        if (!ch || (amount >= 0 && amount != doc_int(ch, "amount"))) {
            json_decref(n);
            return ch ? cs_fail(d, CS_EAMOUNT, "amount", "the next charge of this payment is %lld: capture it whole",
                                (long long)doc_int(ch, "amount"))
                      : cs_fail(d, CS_ESTATE, "id", "nothing is left to capture");
        }
        struct card_facts card;
        struct acq_result r;
        if (card_facts_from_json(json_object_get(n, "card"), &card) != 0) {
            json_decref(n);
            return cs_fail(d, CS_ECORRUPT, "", "the payment's card facts are unreadable");
        }
        acquirer_authorize(&card, doc_int(ch, "amount"), (int)doc_int(ch, "attempts") + 1, &r);
        if (r.outcome != ACQ_APPROVED) {
            json_decref(n);
            return cs_fail(d, CS_ECARD, "id", "the card was declined (%s): %s", r.code, r.message);
        }
        charge_paid(n, ch, now_us);
        jobs = json_pack("{s:o}", "payment.charge", charge_job(n));
    } else {
        int64_t left = doc_int(n, "amount_authorized") - doc_int(n, "amount_captured");
        if (amount < 0)
            amount = left;
        if (amount < 1 || amount > left) {
            json_decref(n);
            return cs_fail(d, CS_EAMOUNT, "amount", "amount must be between 1 and %lld, what is authorized and not captured",
                           (long long)left);
        }
        json_object_set_new(n, "amount_captured", json_integer(doc_int(n, "amount_captured") + amount));
        json_t *cap = json_pack("{s:I}", "amount", (json_int_t)amount);
        doc_set_time(cap, "captured_at", now_us);
        json_array_append_new(json_object_get(n, "captures"), cap);
        if (amount == left) {
            json_object_set_new(n, "status", json_string("captured"));
            jobs = json_pack("{s:n}", "payment.expire");
        }
    }
    *type = doc_is(n, "status", "captured") ? "payment.captured" : "payment.partially_captured";
    simulated_dispute(n, doc_int(doc, "amount_captured"), now_us, &jobs);
    *data = doc_event_data(n, jobs, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* Ends what is left of an authorization: cancelled if nothing was captured,
 * captured (the rest released) otherwise. */
static void release_rest(json_t *n, const char *reason, int64_t now_us)
{
    int64_t captured = doc_int(n, "amount_captured");
    json_t *c = json_pack("{s:s,s:I}", "reason", reason, "amount_released",
                          (json_int_t)(doc_int(n, "amount") - captured));
    doc_set_time(c, "cancelled_at", now_us);
    json_object_set_new(n, "cancellation", c);
    json_object_set_new(n, "status", json_string(captured > 0 ? "captured" : "cancelled"));
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(n, "charges"), i, ch) {
        if (!doc_is(ch, "status", "paid"))
            json_object_set_new(ch, "status", json_string("cancelled"));
    }
}

int payment_decide_cancel(json_t *doc, const char *reason, int64_t now_us, const char **type, json_t **data,
                          struct cs_diag *d)
{
    if (reason && !doc_one_of(reason, cancel_reasons))
        return cs_fail(d, CS_EPARAM, "reason", "reason must be one of requested_by_customer, duplicate, fraudulent, "
                       "abandoned, other");
    if (!doc_is(doc, "status", "authorized") && !doc_is(doc, "status", "requires_payment"))
        return cs_fail(d, CS_ESTATE, "id", "this payment is %s: only a payment not yet captured can be cancelled "
                       "(refund a captured one)", json_string_value(json_object_get(doc, "status")));
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    release_rest(n, reason ? reason : "requested_by_customer", now_us);
    *type = "payment.cancelled";
    *data = doc_event_data(n, json_pack("{s:n,s:n}", "payment.expire", "payment.charge"), NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payment_decide_amount(json_t *doc, int64_t amount, int64_t now_us, const char **type, json_t **data,
                          struct cs_diag *d)
{
    int pending = doc_is(doc, "status", "requires_payment");
    if (!pending && !doc_is(doc, "status", "authorized"))
        return cs_fail(d, CS_ESTATE, "id", "this payment is %s: the amount can change only before capture",
                       json_string_value(json_object_get(doc, "status")));
    if (doc_int(doc, "amount_captured") > 0 || json_is_array(json_object_get(doc, "charges")))
        return cs_fail(d, CS_ESTATE, "amount", "part of this payment is captured or scheduled in charges: "
                       "its amount cannot change");
    int64_t before = doc_int(doc, "amount");
    if (amount == before)
        return cs_fail(d, CS_EAMOUNT, "amount", "the payment's amount is already %lld", (long long)amount);
    if (!pending && amount > before) {
        struct card_facts card;
        struct acq_result r;
        if (card_facts_from_json(json_object_get(doc, "card"), &card) != 0)
            return cs_fail(d, CS_ECORRUPT, "", "the payment's card facts are unreadable");
        acquirer_authorize(&card, amount, 0, &r);
        if (r.outcome != ACQ_APPROVED)
            return cs_fail(d, CS_ECARD, "amount", "the card declined the larger authorization (%s): %s", r.code, r.message);
    }
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(n, "amount", json_integer(amount));
    if (!pending)
        json_object_set_new(n, "amount_authorized", json_integer(amount));
    *type = "payment.amount_updated";
    *data = doc_event_data(n, NULL, NULL);
    if (*data)
        json_object_set_new(*data, "previous_amount", json_integer(before));
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- jobs ------------------------------------------------------------------------------- */

int payment_decide_expire(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    if (!doc_is(doc, "status", "authorized") || json_is_array(json_object_get(doc, "charges")))
        return cs_fail(d, CS_ESTATE, "", "nothing to expire");
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    release_rest(n, "authorization_expired", now_us);
    *type = "payment.authorization_expired";
    *data = doc_event_data(n, json_pack("{s:n}", "payment.expire"), NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payment_next_charge_attempt(json_t *doc)
{
    return (int)doc_int(next_charge(doc), "attempts") + 1;
}

int payment_decide_charge(json_t *doc, int64_t now_us, int64_t retry_after_us, const char **type, json_t **data,
                          struct cs_diag *d)
{
    json_t *cur = next_charge(doc);
    json_t *due = json_object_get(cur, "retry_us");
    if (!json_is_integer(due))
        due = json_object_get(cur, "due_us");
    if (!doc_is(doc, "status", "authorized") || !cur || !json_is_integer(due) || json_integer_value(due) > now_us ||
        (doc_is(cur, "status", "failed") && !json_is_integer(json_object_get(cur, "retry_us"))))
        return cs_fail(d, CS_ESTATE, "", "no charge is due");
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_t *ch = next_charge(n);
    struct card_facts card;
    if (card_facts_from_json(json_object_get(n, "card"), &card) != 0) {
        json_decref(n);
        return cs_fail(d, CS_ECORRUPT, "", "the payment's card facts are unreadable");
    }
    int attempt = (int)doc_int(ch, "attempts") + 1;
    struct acq_result r;
    acquirer_authorize(&card, doc_int(ch, "amount"), attempt, &r);
    if (r.outcome == ACQ_APPROVED) {
        charge_paid(n, ch, now_us);
        *type = "payment.charge_succeeded";
    } else {
        json_object_set_new(ch, "status", json_string("failed"));
        json_object_set_new(ch, "attempts", json_integer(attempt));
        json_t *f = json_pack("{s:s,s:s,s:i}", "code", r.code, "message", r.message, "attempt", attempt);
        doc_set_time(f, "failed_at", now_us);
        json_object_set_new(ch, "last_failure", f);
        if (retry_after_us >= 0) {
            json_object_set_new(ch, "retry_us", json_integer(now_us + retry_after_us));
            doc_set_time(ch, "next_attempt_at", now_us + retry_after_us);
        } else {
            json_object_del(ch, "retry_us");
            json_object_set_new(ch, "next_attempt_at", json_null());
            json_object_set_new(n, "failure", json_pack("{s:s,s:s,s:O}", "code", r.code, "message", r.message,
                                                        "failed_at", json_object_get(f, "failed_at")));
        }
        *type = "payment.charge_failed";
    }
    /* A charge that failed for good stops the schedule: the merchant decides. */
    json_t *next = retry_after_us < 0 && r.outcome != ACQ_APPROVED ? json_null() : charge_job(n);
    *data = doc_event_data(n, json_pack("{s:o}", "payment.charge", next), NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- fees on captures ---------------------------------------------------------------- */

int64_t payment_capture_amount(json_t *doc, int64_t amount)
{
    json_t *charges = json_object_get(doc, "charges");
    if (json_is_array(charges)) {
        json_t *ch = next_charge(doc);
        return ch ? doc_int(ch, "amount") : 0;
    }
    if (doc_is(doc, "status", "requires_payment") || !json_object_get(doc, "status"))
        return doc_is(doc, "type", "at_order") ? doc_int(doc, "amount") : 0;
    if (amount >= 0)
        return amount;
    return doc_int(doc, "amount_authorized") - doc_int(doc, "amount_captured");
}

void payout_schedule_id(const char *merchant_id, int livemode, char *out, size_t cap)
{
    snprintf(out, cap, "pos_%s_%c", merchant_id, livemode ? 'l' : 't');
}

int64_t payout_run_time(int64_t us)
{
    const int64_t day = 86400LL * 1000000, hour = 3600LL * 1000000;
    int64_t run = (us / day) * day + PAYOUT_RUN_HOUR_UTC * hour;
    return run >= us ? run : run + day;
}

int payment_price_capture(json_t *before, json_t *data, const struct fee_quote *q, struct cs_diag *d)
{
    json_t *after = json_object_get(data, "object");
    size_t had = json_array_size(json_object_get(before, "captures"));
    json_t *caps = json_object_get(after, "captures");
    if (json_array_size(caps) <= had)
        return 0;   /* nothing captured: nothing to price */
    json_t *cap = json_array_get(caps, had);
    if (json_array_size(caps) != had + 1 || !q || !q->set || q->amount != doc_int(cap, "amount"))
        return cs_fail(d, CS_ECONFLICT, "", "the payment changed while its fee was priced: retry the request");
    json_object_set_new(cap, "fee", json_integer(q->fee));
    json_object_set_new(cap, "vat", json_integer(q->vat));
    /* The merchant's payout run, once the hold ends (the ledger makes the
     * capture available then: store/proj_ledger.c). */
    int64_t at = clock_parse_rfc3339(json_string_value(json_object_get(cap, "captured_at")));
    if (at < 0)
        return cs_fail(d, CS_EINTERNAL, "", "the capture has no readable time");
    char sid[CS_ID_BYTES_MAX + 8];
    payout_schedule_id(doc_str(after, "merchant"), json_is_true(json_object_get(after, "livemode")), sid, sizeof sid);
    json_t *related = json_object_get(data, "related");
    if (!json_is_array(related)) {
        related = json_array();
        json_object_set_new(data, "related", related);
    }
    json_array_append_new(related, json_pack("{s:s,s:{s:I}}", "id", sid, "jobs_earliest", "payout.run",
                                             (json_int_t)payout_run_time(at + PAYMENT_HOLD_US)));
    return 0;
}
