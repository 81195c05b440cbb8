/* The dispute decisions (core/disputes.h), pure: what can be disputed and
 * until when, the money of the opening and of a win, the state machine and
 * its deadlines, the evidence rules. */
#include <string.h>
#include <jansson.h>
#include "core/disputes.h"
#include "core/clock.h"
#include "tests/unit/tap.h"

#define DAY_US (86400LL * 1000000)

static int64_t at(const char *s)
{
    return clock_parse_rfc3339(s);
}

static json_t *payment(int64_t captured, int64_t refunded, const char *captured_at)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:s,s:I,s:I,s:I,s:n,s:[{s:I,s:s}],s:{s:s,s:s},s:s}", "id",
                     "pay_01M834VFFD4XAG0DBMAQB0GDRH", "merchant", "mer_01M834VDF8PD5F2Z9G3MCA998P", "livemode", 0,
                     "status", captured ? "captured" : "authorized", "currency", "EUR", "amount", (json_int_t)12000,
                     "amount_captured", (json_int_t)captured, "amount_refunded", (json_int_t)refunded, "dispute",
                     "captures", "amount", (json_int_t)captured, "captured_at", captured_at, "card", "brand", "visa",
                     "last4", "4242", "order_reference", "CMD-1");
}

static void times(void)
{
    EQ_INT(at("1970-01-01T00:00:00.000001Z"), 1, "the epoch plus 1 us");
    char buf[40];
    int64_t t = at("2026-11-23T09:14:08.591563Z");
    clock_format_rfc3339(t, buf, sizeof buf);
    EQ_STR(buf, "2026-11-23T09:14:08.591563Z", "round trip");
    EQ_INT(at("2026-11-23T09:14:08Z"), -1, "no microseconds");
    EQ_INT(at("2026-02-30T00:00:00.000000Z"), -1, "not a date");
    EQ_INT(at("2026-11-23T09:14:08.591563Z "), -1, "trailing text");
    EQ_INT(at(NULL), -1, "NULL");
    clock_format_rfc3339(dispute_add_months(at("2026-11-23T09:14:08.591563Z"), 13), buf, sizeof buf);
    EQ_STR(buf, "2027-12-23T09:14:08.591563Z", "13 months later");
    clock_format_rfc3339(dispute_add_months(at("2027-01-31T12:00:00.000000Z"), 13), buf, sizeof buf);
    EQ_STR(buf, "2028-02-29T12:00:00.000000Z", "clamped to a leap February");
    clock_format_rfc3339(dispute_add_months(at("2026-01-31T12:00:00.000000Z"), 13), buf, sizeof buf);
    EQ_STR(buf, "2027-02-28T12:00:00.000000Z", "clamped to February");
}

static void disputable(void)
{
    struct cs_diag d = {0};
    int64_t amount = 0;
    const char *cap = "2026-11-23T09:14:08.591563Z";
    int64_t t = at(cap);
    json_t *p = payment(12000, 2000, cap);
    EQ_INT(dispute_disputable(p, t + DAY_US, &amount, &d), 0, "a captured payment");
    EQ_INT(amount, 10000, "captured less refunded");
    EQ_INT(dispute_disputable(p, at("2027-12-23T09:14:08.591563Z"), &amount, &d), 0, "the last instant of 13 months");
    EQ_INT(dispute_disputable(p, at("2027-12-23T09:14:08.591564Z"), &amount, &d), CS_ESTATE, "1 us later");
    EQ_STR(d.param, "payment", "names the payment");
    json_decref(p);
    p = payment(0, 0, cap);
    EQ_INT(dispute_disputable(p, t, &amount, &d), CS_ESTATE, "nothing captured");
    json_decref(p);
    p = payment(5000, 5000, cap);
    EQ_INT(dispute_disputable(p, t, &amount, &d), CS_ESTATE, "refunded in full");
    json_object_set_new(p, "amount_refunded", json_integer(0));
    json_object_set_new(p, "dispute", json_string("dp_01M834VG4FJA6QSCX8HXM6Z2PW"));
    EQ_INT(dispute_disputable(p, t, &amount, &d), CS_ESTATE, "already disputed");
    json_decref(p);
}

static json_t *open_one(int contestable, int64_t amount, int64_t now, struct cs_diag *d, int *rc)
{
    json_t *p = payment(12000, 0, "2026-11-23T09:14:08.591563Z");
    struct dispute_opening o = {.id = "dp_01M834VG4FJA6QSCX8HXM6Z2PW", .reason = "fraudulent", .amount = amount,
                                .contestable = contestable, .fee = 1500, .vat = 300, .opened_via = "test_api"};
    const char *type = NULL;
    json_t *data = NULL;
    *rc = dispute_decide_open(p, &o, now, &type, &data, d);
    json_decref(p);
    return data;
}

/* Applies a decision: the new document (a new reference), or NULL with *rc. */
static json_t *step(int rc, json_t *data, const char *want_type, const char *type, int *out_rc)
{
    *out_rc = rc;
    if (rc)
        return NULL;
    EQ_STR(type, want_type, "event type");
    json_t *doc = json_incref(json_object_get(data, "object"));
    json_decref(data);
    return doc;
}

static void lifecycle(void)
{
    struct cs_diag d = {0};
    int rc;
    int64_t t0 = at("2026-11-24T10:00:00.000000Z");
    json_t *data = open_one(1, -1, t0, &d, &rc);
    EQ_INT(rc, 0, "opened");
    json_t *doc = json_object_get(data, "object");
    EQ_INT(json_integer_value(json_object_get(doc, "amount")), 12000, "all that is captured");
    EQ_INT(json_integer_value(json_object_get(data, "balance_impact")), -13800, "amount + fee + vat debited");
    EQ_INT(json_integer_value(json_object_get(data, "fee")), 1500, "fee recorded");
    EQ_INT(json_integer_value(json_object_get(data, "vat")), 300, "vat recorded");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "jobs"), "dispute.expire")), t0 + 30 * DAY_US,
           "expiry scheduled at the deadline");
    json_t *set = json_object_get(json_array_get(json_object_get(data, "related"), 0), "set");
    EQ_STR(json_string_value(json_object_get(set, "dispute")), "dp_01M834VG4FJA6QSCX8HXM6Z2PW", "payment.dispute");
    EQ_INT(json_integer_value(json_object_get(set, "amount_disputed")), 12000, "payment.amount_disputed");
    EQ_STR(json_string_value(json_object_get(doc, "evidence_due_at")), "2026-12-24T10:00:00.000000Z", "30 days");
    doc = json_incref(doc);
    json_decref(data);

    const char *type = NULL;
    EQ_INT(dispute_decide_submit(doc, t0, &type, &data, &d), CS_EMISSING, "no evidence to submit");
    EQ_STR(d.param, "evidence", "names the evidence");
    EQ_INT(dispute_decide_resolve(doc, "won", t0, &type, &data, &d), CS_ESTATE, "no outcome while open");

    json_t *files = json_pack("[{s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:i}]", "sha256", "aa", "filename", "a.pdf",
                              "content_type", "application/pdf", "size", 10, "sha256", "bb", "filename", "b.png",
                              "content_type", "image/png", "size", 20);
    rc = dispute_decide_evidence(doc, files, "Livré.", t0 + 1, &type, &data, &d);
    json_t *doc2 = step(rc, data, "dispute.evidence_added", type, &rc);
    EQ_INT(rc, 0, "evidence added");
    EQ_INT(json_array_size(json_object_get(json_object_get(doc2, "evidence"), "files")), 2, "two files");
    EQ_INT(json_integer_value(json_object_get(doc2, "version")), 2, "version 2");
    EQ_INT(dispute_decide_evidence(doc2, files, NULL, t0 + 2, &type, &data, &d), CS_EPARAM, "the same files again");
    EQ_STR(d.param, "file", "names the file");
    json_decref(files);
    files = json_pack("[{s:s},{s:s},{s:s},{s:s}]", "sha256", "c1", "sha256", "c2", "sha256", "c3", "sha256", "c4");
    EQ_INT(dispute_decide_evidence(doc2, files, NULL, t0 + 2, &type, &data, &d), CS_EPARAM, "a sixth file");
    OK(strstr(d.message, "at most 5") != NULL, "says the limit: %s", d.message);
    json_decref(files);
    files = json_pack("[{s:s},{s:s}]", "sha256", "dd", "sha256", "dd");
    EQ_INT(dispute_decide_evidence(doc2, files, NULL, t0 + 2, &type, &data, &d), CS_EPARAM, "twice in one request");
    json_decref(files);
    EQ_INT(dispute_evidence_allowed(doc2, 3, t0 + 30 * DAY_US, &d), CS_ESTATE, "past the deadline");
    EQ_INT(dispute_decide_submit(doc2, t0 + 30 * DAY_US, &type, &data, &d), CS_ESTATE, "no submission after it");
    EQ_INT(dispute_decide_accept(doc2, t0 + 30 * DAY_US, &type, &data, &d), CS_ESTATE, "no acceptance after it");
    EQ_INT(dispute_decide_expire(doc2, t0 + 30 * DAY_US - 1, &type, &data, &d), CS_ESTATE, "not expired before");

    rc = dispute_decide_submit(doc2, t0 + 3, &type, &data, &d);
    json_t *doc3 = step(rc, data, "dispute.submitted", type, &rc);
    EQ_INT(rc, 0, "submitted");
    EQ_STR(json_string_value(json_object_get(doc3, "status")), "sending", "sending");
    EQ_INT(dispute_decide_expire(doc3, t0 + 31 * DAY_US, &type, &data, &d), CS_ESTATE, "a submitted dispute never expires");
    EQ_INT(dispute_decide_accept(doc3, t0 + 4, &type, &data, &d), CS_ESTATE, "no acceptance once submitted");
    rc = dispute_decide_advance(doc3, t0 + 5, &type, &data, &d);
    json_t *doc4 = step(rc, data, "dispute.evidence_sent", type, &rc);
    rc = dispute_decide_advance(doc4, t0 + 6, &type, &data, &d);
    json_t *doc5 = step(rc, data, "dispute.under_review", type, &rc);
    EQ_INT(rc, 0, "under review");
    EQ_INT(dispute_decide_advance(doc5, t0 + 7, &type, &data, &d), CS_ESTATE, "nothing more to advance");
    EQ_INT(dispute_decide_resolve(doc5, "maybe", t0 + 8, &type, &data, &d), CS_EPARAM, "a bad outcome");
    rc = dispute_decide_resolve(doc5, "won", t0 + 8, &type, &data, &d);
    EQ_INT(json_integer_value(json_object_get(data, "balance_impact")), 13800, "all given back");
    json_t *doc6 = step(rc, data, "dispute.won", type, &rc);
    EQ_INT(json_integer_value(json_object_get(doc6, "balance_impact")), 0, "the balance is whole again");
    EQ_INT(json_array_size(json_object_get(doc6, "balance_transactions")), 2, "debit and reversal");
    EQ_STR(json_string_value(json_object_get(doc6, "outcome")), "won", "outcome won");
    EQ_INT(dispute_decide_resolve(doc6, "lost", t0 + 9, &type, &data, &d), CS_ESTATE, "decided once");
    json_decref(doc);
    json_decref(doc2);
    json_decref(doc3);
    json_decref(doc4);
    json_decref(doc5);
    json_decref(doc6);
}

static void other_ends(void)
{
    struct cs_diag d = {0};
    int rc;
    const char *type = NULL;
    int64_t t0 = at("2026-11-24T10:00:00.000000Z");
    json_t *data = open_one(1, 5000, t0, &d, &rc), *doc = json_incref(json_object_get(data, "object"));
    EQ_INT(json_integer_value(json_object_get(doc, "amount")), 5000, "a partial dispute");
    json_decref(data);
    rc = dispute_decide_expire(doc, t0 + 30 * DAY_US, &type, &data, &d);
    json_t *expired = step(rc, data, "dispute.expired", type, &rc);
    EQ_INT(rc, 0, "expired at the deadline");
    EQ_STR(json_string_value(json_object_get(expired, "outcome")), "lost", "expired is lost");
    EQ_INT(dispute_decide_evidence(expired, NULL, "late", t0 + 31 * DAY_US, &type, &data, &d), CS_ESTATE, "closed");
    json_decref(expired);
    rc = dispute_decide_accept(doc, t0 + 1, &type, &data, &d);
    json_t *accepted = step(rc, data, "dispute.accepted", type, &rc);
    EQ_INT(json_integer_value(json_object_get(accepted, "balance_impact")), -6800, "the debit stays");
    json_decref(accepted);
    json_decref(doc);

    data = open_one(0, -1, t0, &d, &rc);
    doc = json_incref(json_object_get(data, "object"));
    OK(json_object_get(data, "jobs") == NULL, "no expiry job when not contestable");
    json_decref(data);
    EQ_STR(json_string_value(json_object_get(doc, "status")), "not_contestable", "not contestable");
    EQ_INT(dispute_evidence_allowed(doc, 1, t0, &d), CS_ESTATE, "no evidence");
    OK(strstr(d.message, "only be accepted") != NULL, "says why: %s", d.message);
    EQ_INT(dispute_decide_accept(doc, t0 + 400 * DAY_US, &type, &data, &d), 0, "accepted whenever");
    json_decref(data);
    json_decref(doc);

    data = open_one(1, 12001, t0, &d, &rc);
    EQ_INT(rc, CS_EAMOUNT, "more than captured");
    EQ_STR(d.param, "amount", "names the amount");
}

/* What the available balance cannot cover of amount + fee + VAT is owed. */
static void owed(void)
{
    static const struct {
        int64_t available, owed;
        const char *why;
    } cases[] = {
        {20000, 0, "the balance covers it"},
        {13800, 0, "exactly covered"},
        {13799, 1, "one cent short"},
        {5000, 8800, "partly covered"},
        {0, 13800, "nothing available"},
        {-2500, 13800, "already negative: all owed, never more than the debit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *p = payment(12000, 0, "2026-11-23T09:14:08.591563Z");
        struct dispute_opening o = {.id = "dp_01M834VG4FJA6QSCX8HXM6Z2PW", .reason = "fraudulent", .amount = -1,
                                    .contestable = 1, .fee = 1500, .vat = 300, .opened_via = "test_api",
                                    .available = cases[i].available};
        const char *type = NULL;
        json_t *data = NULL;
        struct cs_diag d = {0};
        EQ_INT(dispute_decide_open(p, &o, at("2026-11-24T10:00:00.000000Z"), &type, &data, &d), 0, cases[i].why);
        EQ_INT(json_integer_value(json_object_get(json_object_get(data, "object"), "owed")), cases[i].owed,
               cases[i].why);
        json_decref(data);
        json_decref(p);
    }
}

int main(void)
{
    times();
    disputable();
    lifecycle();
    other_ends();
    owed();
    return tap_done();
}
