/* The dispute aggregate's decisions (core/disputes.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/doc.h"
#include "core/disputes.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/money.h"

const char *const dispute_reasons[] = {"fraudulent", "product_not_received", "product_unacceptable", "duplicate",
                                       "unrecognized", "credit_not_processed", "subscription_canceled", "other",
                                       NULL};
const char *const dispute_statuses[] = {"open", "sending", "evidence_sent", "under_review", "won", "lost",
                                        "accepted", "expired", "not_contestable", NULL};

/* ---- time ------------------------------------------------------------------------ */

int64_t dispute_add_months(int64_t us, int months)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int m0 = tm.tm_mon + months;
    int y = tm.tm_year + 1900 + m0 / 12, m = m0 % 12 + 1;
    int dim = clock_days_in_month(y, m);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    if (tm.tm_mday > dim)
        tm.tm_mday = dim;
    return (int64_t)timegm(&tm) * 1000000 + us % 1000000;
}

/* ---- opening ------------------------------------------------------------------------ */

int dispute_disputable(json_t *payment, int64_t now_us, int64_t *amount, struct cs_diag *d)
{
    const char *id = doc_str(payment, "id");
    /* Refunds still pending are not money back yet: the dispute covers them,
     * and they end payment_cancelled when their run comes (docs/refunds.md). */
    int64_t captured = doc_int(payment, "amount_captured"),
            refunded = doc_int(payment, "amount_refunded") - doc_int(payment, "amount_refund_pending");
    if (captured <= 0)
        return cs_fail(d, CS_ESTATE, "payment", "payment %s has nothing captured (it is %s): only captured money "
                       "can be disputed", id, doc_str(payment, "status"));
    const char *existing = json_string_value(json_object_get(payment, "dispute"));
    if (existing)
        return cs_fail(d, CS_ESTATE, "payment", "payment %s is already disputed (%s)", id, existing);
    if (captured - refunded <= 0)
        return cs_fail(d, CS_ESTATE, "payment", "payment %s was refunded in full: nothing is left to dispute", id);
    json_t *first = json_array_get(json_object_get(payment, "captures"), 0);
    int64_t at = clock_parse_rfc3339(json_string_value(json_object_get(first, "captured_at")));
    if (at < 0)
        return cs_fail(d, CS_ECORRUPT, "payment", "payment %s has no readable capture time", id);
    int64_t until = dispute_add_months(at, DISPUTE_WINDOW_MONTHS);
    if (now_us > until) {
        char a[40], u[40];
        clock_format_rfc3339(at, a, sizeof a);
        clock_format_rfc3339(until, u, sizeof u);
        return cs_fail(d, CS_ESTATE, "payment", "payment %s was captured on %.10s: it could be disputed for %d "
                       "months, until %.10s", id, a, DISPUTE_WINDOW_MONTHS, u);
    }
    *amount = captured - refunded;
    return 0;
}

int dispute_fees_read(json_t *out, int64_t *fee, int64_t *vat, struct cs_diag *d)
{
    json_t *f = json_object_get(out, "fee"), *v = json_object_get(out, "vat");
    if (!json_is_integer(f) || !json_is_integer(v) || json_integer_value(f) < 0 || json_integer_value(v) < 0 ||
        json_integer_value(f) > CS_AMOUNT_MINOR_MAX || json_integer_value(v) > CS_AMOUNT_MINOR_MAX)
        return cs_fail(d, CS_EPOLICYFAIL, "", "fees.compute must return { fee = <integer minor units>, vat = "
                       "<integer minor units> }, each from 0 to %lld", (long long)CS_AMOUNT_MINOR_MAX);
    *fee = json_integer_value(f);
    *vat = json_integer_value(v);
    return 0;
}

/* A line of the dispute's balance history: one movement of the merchant's
 * balance, as the ledger shows it (docs/ledger.md): the amount signed as the
 * balance sees it, the fee and its VAT positive when charged and negative
 * when given back, net = amount - fee - vat. */
static json_t *balance_line(const char *type, int64_t sign, int64_t amount, int64_t fee, int64_t vat, int64_t net,
                            int64_t now_us)
{
    json_t *l = json_pack("{s:s,s:I,s:I,s:I,s:I}", "type", type, "amount", (json_int_t)(sign * amount), "fee",
                          (json_int_t)(-sign * fee), "vat", (json_int_t)(-sign * vat), "net", (json_int_t)net);
    if (l)
        doc_set_time(l, "created", now_us);
    return l;
}

static json_t *event_data(json_t *doc, int64_t balance_impact, json_t *jobs)
{
    json_t *data = doc_event_data(doc, jobs, NULL);
    if (data)
        json_object_set_new(data, "balance_impact", json_integer(balance_impact));
    return data;
}

int dispute_decide_open(json_t *payment, const struct dispute_opening *o, int64_t now_us, const char **type,
                        json_t **data, struct cs_diag *d)
{
    int64_t disputable = 0, amount, total;
    int rc = dispute_disputable(payment, now_us, &disputable, d);
    if (rc)
        return rc;
    amount = o->amount < 0 ? disputable : o->amount;
    if (amount < 1 || amount > disputable)
        return cs_fail(d, CS_EAMOUNT, "amount", "amount must be between 1 and %lld, what payment %s has captured "
                       "and not refunded", (long long)disputable, doc_str(payment, "id"));
    if (!doc_one_of(o->reason, dispute_reasons))
        return cs_fail(d, CS_EPARAM, "reason", "reason must be one of fraudulent, product_not_received, "
                       "product_unacceptable, duplicate, unrecognized, credit_not_processed, "
                       "subscription_canceled, other");
    if (money_add(amount, o->fee, &total) != 0 || money_add(total, o->vat, &total) != 0)
        return cs_fail(d, CS_EAMOUNT, "amount", "the amount and the dispute fee overflow");
    /* Taken from the balance, or recorded as owed if short (seed 003: "or
     * the bank account"): the part the available balance cannot cover. */
    int64_t owed = total - (o->available <= 0 ? 0 : o->available >= total ? total : o->available);
    char created[40];
    clock_format_rfc3339(now_us, created, sizeof created);
    json_t *card = json_object_get(payment, "card");
    json_t *doc = json_pack("{s:s,s:s,s:O,s:O,s:O,s:I,s:O,s:s,s:s,s:b,s:I,s:I,s:I}", "id", o->id, "object", "dispute",
                            "livemode", json_object_get(payment, "livemode"), "merchant",
                            json_object_get(payment, "merchant"), "payment", json_object_get(payment, "id"),
                            "amount", (json_int_t)amount, "currency", json_object_get(payment, "currency"),
                            "reason", o->reason, "status", o->contestable ? "open" : "not_contestable",
                            "contestable", o->contestable, "fee", (json_int_t)o->fee, "fee_vat", (json_int_t)o->vat,
                            "balance_impact", (json_int_t)-total);
    if (!doc)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(doc, "balance_transactions",
                        json_pack("[o]", balance_line("dispute_debit", -1, amount, o->fee, o->vat, -total, now_us)));
    json_object_set_new(doc, "owed", json_integer(owed));
    json_object_set_new(doc, "evidence", json_pack("{s:[],s:n}", "files", "text"));
    if (o->contestable)
        doc_set_time(doc, "evidence_due_at", now_us + DISPUTE_EVIDENCE_WINDOW_US);
    else
        json_object_set_new(doc, "evidence_due_at", json_null());
    static const char *const pending[] = {"evidence_submitted_at", "evidence_sent_at", "review_started_at",
                                          "review_ends_at", "outcome", "closed_at", NULL};
    for (const char *const *k = pending; *k; k++)
        json_object_set_new(doc, *k, json_null());
    json_object_set_new(doc, "opened_via", json_string(o->opened_via));
    json_object_set_new(doc, "card", json_is_object(card) ? json_pack("{s:O,s:O}", "brand", json_object_get(card, "brand"),
                                                                       "last4", json_object_get(card, "last4"))
                                                          : json_null());
    json_t *ref = json_object_get(payment, "order_reference");
    json_object_set_new(doc, "order_reference", json_is_string(ref) ? json_incref(ref) : json_null());
    json_object_set_new(doc, "created", json_string(created));
    json_object_set_new(doc, "updated", json_string(created));
    json_object_set_new(doc, "version", json_integer(1));
    json_t *jobs = o->contestable ? json_pack("{s:I}", "dispute.expire", (json_int_t)(now_us + DISPUTE_EVIDENCE_WINDOW_US))
                                  : NULL;
    *type = "dispute.opened";
    *data = event_data(doc, -total, jobs);
    if (!*data)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    /* Decided here for the payment: its dispute and what it took (the
     * refunds of a disputed payment read these), and the end of its
     * simulated-dispute job, which has nothing left to do (the schedule
     * projection does not fold related jobs yet: docs/disputes.md). */
    json_object_set_new(*data, "amount", json_integer(amount));
    json_object_set_new(*data, "fee", json_integer(o->fee));
    json_object_set_new(*data, "vat", json_integer(o->vat));
    json_object_set_new(*data, "related", json_pack("[{s:O,s:{s:s,s:I},s:{s:n}}]", "id", json_object_get(payment, "id"),
                                                    "set", "dispute", o->id, "amount_disputed", (json_int_t)amount,
                                                    "jobs", "dispute.simulate"));
    return 0;
}

/* ---- changes ---------------------------------------------------------------------- */

/* A copy of doc for the next version, updated now. */
static json_t *files_of(json_t *doc)
{
    return json_object_get(json_object_get(doc, "evidence"), "files");
}

/* Open, and before its evidence deadline. */
static int require_open(json_t *doc, int64_t now_us, const char *what, struct cs_diag *d)
{
    if (doc_is(doc, "status", "not_contestable"))
        return cs_fail(d, CS_ESTATE, "id", "dispute %s is not contestable: it can only be accepted", doc_str(doc, "id"));
    if (!doc_is(doc, "status", "open"))
        return cs_fail(d, CS_ESTATE, "id", "dispute %s is %s: %s only while it is open", doc_str(doc, "id"),
                       doc_str(doc, "status"), what);
    int64_t due = clock_parse_rfc3339(json_string_value(json_object_get(doc, "evidence_due_at")));
    if (due < 0)
        return cs_fail(d, CS_ECORRUPT, "id", "dispute %s has no readable evidence deadline", doc_str(doc, "id"));
    if (now_us >= due)
        return cs_fail(d, CS_ESTATE, "id", "the evidence deadline of dispute %s passed on %s", doc_str(doc, "id"),
                       doc_str(doc, "evidence_due_at"));
    return 0;
}

int dispute_evidence_allowed(json_t *doc, size_t adding, int64_t now_us, struct cs_diag *d)
{
    int rc = require_open(doc, now_us, "evidence can be added", d);
    if (rc)
        return rc;
    size_t has = json_array_size(files_of(doc));
    if (has + adding > DISPUTE_FILES_MAX)
        return cs_fail(d, CS_EPARAM, "file", "a dispute keeps at most %u evidence files: this one has %zu and the "
                       "request adds %zu", DISPUTE_FILES_MAX, has, adding);
    return 0;
}

int dispute_decide_evidence(json_t *doc, json_t *files, const char *text, int64_t now_us, const char **type,
                            json_t **data, struct cs_diag *d)
{
    size_t adding = json_array_size(files);
    int rc = dispute_evidence_allowed(doc, adding, now_us, d);
    if (rc)
        return rc;
    if (adding == 0 && !text)
        return cs_fail(d, CS_EMISSING, "file", "send at least one file part or a text part");
    /* The same content twice is refused: it would count twice toward the
     * limit and prove nothing more. */
    json_t *have = files_of(doc);
    size_t i, j;
    json_t *f, *g;
    json_array_foreach(files, i, f) {
        const char *sha = doc_str(f, "sha256");
        json_array_foreach(have, j, g) {
            if (strcmp(sha, doc_str(g, "sha256")) == 0)
                return cs_fail(d, CS_EPARAM, "file", "%s is already in the evidence of this dispute (as %s)",
                               doc_str(f, "filename"), doc_str(g, "filename"));
        }
        for (j = 0; j < i; j++) {
            if (strcmp(sha, doc_str(json_array_get(files, j), "sha256")) == 0)
                return cs_fail(d, CS_EPARAM, "file", "%s and %s have the same content", doc_str(json_array_get(files, j),
                               "filename"), doc_str(f, "filename"));
        }
    }
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_t *ev = json_object_get(n, "evidence"), *added = json_array();
    json_array_foreach(files, i, f) {
        json_t *entry = json_pack("{s:O,s:O,s:O,s:O}", "sha256", json_object_get(f, "sha256"), "filename",
                                  json_object_get(f, "filename"), "content_type", json_object_get(f, "content_type"),
                                  "size", json_object_get(f, "size"));
        if (entry)
            doc_set_time(entry, "uploaded_at", now_us);
        json_array_append(json_object_get(ev, "files"), entry);
        json_array_append_new(added, entry);
    }
    if (text)
        json_object_set_new(ev, "text", json_string(text));
    *type = "dispute.evidence_added";
    *data = event_data(n, 0, NULL);
    if (!*data) {
        json_decref(added);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    json_object_set_new(*data, "files", added);
    json_object_set_new(*data, "text_updated", json_boolean(text != NULL));
    return 0;
}

int dispute_decide_submit(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    int rc = require_open(doc, now_us, "evidence can be submitted", d);
    if (rc)
        return rc;
    json_t *ev = json_object_get(doc, "evidence");
    if (json_array_size(json_object_get(ev, "files")) == 0 && !json_is_string(json_object_get(ev, "text")))
        return cs_fail(d, CS_EMISSING, "evidence", "dispute %s has no evidence to submit: add files or a text first "
                       "(POST /v1/disputes/%s/evidence)", doc_str(doc, "id"), doc_str(doc, "id"));
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(n, "status", json_string("sending"));
    doc_set_time(n, "evidence_submitted_at", now_us);
    *type = "dispute.submitted";
    *data = event_data(n, 0, json_pack("{s:n,s:I}", "dispute.expire", "dispute.advance",
                                       (json_int_t)(now_us + DISPUTE_SENDING_US)));
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* Closes the dispute: status, outcome, closed_at. */
static void close_as(json_t *n, const char *status, const char *outcome, int64_t now_us)
{
    json_object_set_new(n, "status", json_string(status));
    json_object_set_new(n, "outcome", json_string(outcome));
    doc_set_time(n, "closed_at", now_us);
}

int dispute_decide_accept(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    if (!doc_is(doc, "status", "not_contestable")) {
        int rc = require_open(doc, now_us, "it can be accepted", d);
        if (rc)
            return rc;
    }
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    close_as(n, "accepted", "lost", now_us);
    *type = "dispute.accepted";
    *data = event_data(n, 0, json_pack("{s:n}", "dispute.expire"));
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int dispute_decide_resolve(json_t *doc, const char *outcome, int64_t now_us, const char **type, json_t **data,
                           struct cs_diag *d)
{
    int won = outcome && strcmp(outcome, "won") == 0;
    if (!won && !(outcome && strcmp(outcome, "lost") == 0))
        return cs_fail(d, CS_EPARAM, "outcome", "outcome must be won or lost");
    if (!doc_is(doc, "status", "under_review") && !doc_is(doc, "status", "evidence_sent"))
        return cs_fail(d, CS_ESTATE, "id", "dispute %s is %s: the scheme decides only once the evidence was sent "
                       "(evidence_sent or under_review)", doc_str(doc, "id"), doc_str(doc, "status"));
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    int64_t back = 0;
    if (won) {
        /* The amount and the fee (with its VAT) are given back: the exact
         * opposite of what the opening debited. */
        int64_t amount = doc_int(n, "amount"), fee = doc_int(n, "fee"), vat = doc_int(n, "fee_vat");
        back = -doc_int(n, "balance_impact");
        json_array_append_new(json_object_get(n, "balance_transactions"),
                              balance_line("dispute_reversal", 1, amount, fee, vat, back, now_us));
        json_object_set_new(n, "balance_impact", json_integer(0));
    }
    close_as(n, won ? "won" : "lost", won ? "won" : "lost", now_us);
    *type = won ? "dispute.won" : "dispute.lost";
    *data = event_data(n, back, json_pack("{s:n}", "dispute.advance"));
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- jobs --------------------------------------------------------------------------- */

int dispute_decide_advance(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    json_t *n;
    if (doc_is(doc, "status", "sending")) {
        if (!(n = doc_next_version(doc, now_us)))
            return cs_fail(d, CS_ENOMEM, "", "out of memory");
        json_object_set_new(n, "status", json_string("evidence_sent"));
        doc_set_time(n, "evidence_sent_at", now_us);
        *type = "dispute.evidence_sent";
        *data = event_data(n, 0, json_pack("{s:I}", "dispute.advance", (json_int_t)(now_us + DISPUTE_SENT_TO_REVIEW_US)));
    } else if (doc_is(doc, "status", "evidence_sent")) {
        if (!(n = doc_next_version(doc, now_us)))
            return cs_fail(d, CS_ENOMEM, "", "out of memory");
        json_object_set_new(n, "status", json_string("under_review"));
        doc_set_time(n, "review_started_at", now_us);
        doc_set_time(n, "review_ends_at", now_us + DISPUTE_REVIEW_US);
        *type = "dispute.under_review";
        *data = event_data(n, 0, json_pack("{s:n}", "dispute.advance"));
    } else {
        return cs_fail(d, CS_ESTATE, "", "nothing to advance");
    }
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int dispute_decide_expire(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    int64_t due = clock_parse_rfc3339(json_string_value(json_object_get(doc, "evidence_due_at")));
    if (!doc_is(doc, "status", "open") || due < 0 || now_us < due)
        return cs_fail(d, CS_ESTATE, "", "nothing to expire");
    json_t *n = doc_next_version(doc, now_us);
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    close_as(n, "expired", "lost", now_us);
    *type = "dispute.expired";
    *data = event_data(n, 0, json_pack("{s:n}", "dispute.expire"));
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}
