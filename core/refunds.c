/* The refund aggregate's validation and decisions (core/refunds.h). */
#include <stdio.h>
#include <string.h>
#include "core/doc.h"
#include "core/refunds.h"
#include "core/json_in.h"
#include "core/money.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/limits.h"

#define DAY_US (86400LL * 1000000)
#define HOUR_US (3600LL * 1000000)

const char *const refund_reasons[] = {"requested_by_customer", "duplicate", "fraudulent", "other", NULL};
const char *const refund_statuses[] = {"pending", "sent", "refunded", "failed", "not_honored", "payment_cancelled",
                                       NULL};

/* ---- validation --------------------------------------------------------------------- */

int refund_validate_create(json_t *body, json_t **params, struct cs_diag *d)
{
    static const char *const keys[] = {"payment", "amount", "reason", "metadata", NULL};
    const char *payment = NULL, *reason = NULL;
    int64_t amount = -1;
    json_t *metadata = NULL;
    int rc;
    if ((rc = jin_object(body, "", keys, d)) ||
        (rc = jin_string(body, "", "payment", 1, 1, CS_ID_BYTES_MAX, &payment, d)) ||
        (rc = jin_int(body, "", "amount", 0, 1, CS_AMOUNT_MINOR_MAX, &amount, d)) ||
        (rc = jin_string(body, "", "reason", 0, 1, 32, &reason, d)) || (rc = jin_metadata(body, "", &metadata, d)))
        return rc;
    /* A string that cannot be a payment id is a bad request; a well-formed
     * id that names no payment of this merchant is 404 (the writer says). */
    if (!id_valid(payment, "pay"))
        return cs_fail(d, CS_EPARAM, "payment", "payment must be a payment id (pay_…)");
    if (reason && !doc_one_of(reason, refund_reasons))
        return cs_fail(d, CS_EPARAM, "reason", "reason must be one of requested_by_customer, duplicate, fraudulent, "
                       "other");
    *params = json_pack("{s:s,s:s?,s:O?}", "payment", payment, "reason", reason, "metadata", metadata);
    if (*params && amount > 0)
        json_object_set_new(*params, "amount", json_integer(amount));
    return *params ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* ---- time ------------------------------------------------------------------------------ */

int64_t refund_next_run_us(int64_t now_us)
{
    /* now_us is UTC: the day's start is a multiple of a day since the epoch
     * (floored, should a test clock ever go before 1970). */
    int64_t day = now_us / DAY_US - (now_us % DAY_US < 0);
    int64_t run = day * DAY_US + REFUND_RUN_HOUR_UTC * HOUR_US;
    return run > now_us ? run : run + DAY_US;
}

/* ---- what can be refunded ------------------------------------------------------------- */

/* 1 if the payment's dispute still stands between it and a refund. */
static int dispute_blocks(json_t *payment, const char *dispute_status)
{
    return json_is_string(json_object_get(payment, "dispute")) &&
           !(dispute_status && strcmp(dispute_status, "won") == 0);
}

int refund_refundable(json_t *payment, const char *dispute_status, int64_t *out, struct cs_diag *d)
{
    const char *status = json_string_value(json_object_get(payment, "status"));
    const char *pid = json_string_value(json_object_get(payment, "id"));
    int64_t captured = doc_int(payment, "amount_captured"), refunded = doc_int(payment, "amount_refunded");
    if (!status || !pid)
        return cs_fail(d, CS_ECORRUPT, "", "the payment document is unreadable");
    if (strcmp(status, "captured") != 0 && strcmp(status, "authorized") != 0)
        return cs_fail(d, CS_ESTATE, "payment", "payment %s is %s: only a captured payment can be refunded", pid,
                       status);
    if (captured <= 0)
        return cs_fail(d, CS_ESTATE, "payment", "nothing of payment %s is captured yet: cancel the authorization "
                       "instead (POST /v1/payments/%s/cancel)", pid, pid);
    /* The card scheme gives a disputed payment back to the payer: a refund
     * on top would pay twice. */
    if (dispute_blocks(payment, dispute_status))
        return cs_fail(d, CS_ESTATE, "payment", "payment %s is disputed (%s%s%s): the card scheme returns the money "
                       "to the payer, a refund would pay twice", pid,
                       json_string_value(json_object_get(payment, "dispute")), dispute_status ? ", " : "",
                       dispute_status ? dispute_status : "");
    if (refunded < 0 || refunded > captured)
        return cs_fail(d, CS_ECORRUPT, "", "payment %s has refunded %lld of %lld captured", pid, (long long)refunded,
                       (long long)captured);
    *out = captured - refunded;
    return 0;
}

/* ---- decisions -------------------------------------------------------------------------- */

/* {"object": doc, "jobs": jobs, "related": related}; steals all three. */
/* data.related that sets the payment's amount_refunded and, of it, what is
 * still pending (not sent to the payer's bank yet: a dispute opened now
 * covers it, docs/refunds.md), and its refunds (stolen). */
static json_t *payment_related(json_t *payment, int64_t amount_refunded, int64_t pending, json_t *refunds)
{
    json_t *set = json_pack("{s:I,s:I}", "amount_refunded", (json_int_t)amount_refunded, "amount_refund_pending",
                            (json_int_t)pending);
    if (set && refunds)
        json_object_set_new(set, "refunds", refunds);
    else
        json_decref(refunds);
    return set ? json_pack("[{s:O,s:o}]", "id", json_object_get(payment, "id"), "set", set) : NULL;
}

int refund_decide_create(json_t *payment, const char *dispute_status, json_t *params, const char *id,
                         const char *merchant_id, int livemode, const char *actor, int64_t now_us,
                         const char **type, json_t **data, struct cs_diag *d)
{
    int64_t refundable = 0;
    int rc = refund_refundable(payment, dispute_status, &refundable, d);
    if (rc)
        return rc;
    const char *pid = json_string_value(json_object_get(payment, "id"));
    if (refundable == 0)
        return cs_fail(d, CS_ESTATE, "payment", "payment %s is refunded in full (%lld captured, all refunded or being "
                       "refunded)", pid, (long long)doc_int(payment, "amount_captured"));
    json_t *want = json_object_get(params, "amount");
    int64_t amount = json_is_integer(want) ? json_integer_value(want) : refundable;
    if (amount < 1 || amount > refundable)
        return cs_fail(d, CS_EAMOUNT, "amount", "amount must be between 1 and %lld, what payment %s has captured and "
                       "not refunded", (long long)refundable, pid);
    int64_t refunded;
    if (money_add(doc_int(payment, "amount_refunded"), amount, &refunded) != 0)
        return cs_fail(d, CS_EAMOUNT, "amount", "amount overflows the payment's refunded total");
    json_t *refunds = json_is_array(json_object_get(payment, "refunds"))
                          ? json_deep_copy(json_object_get(payment, "refunds")) : json_array();
    if (!refunds || json_array_append_new(refunds, json_string(id)) != 0) {
        json_decref(refunds);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    int64_t run = refund_next_run_us(now_us);
    char created[40], send_at[40];
    clock_format_rfc3339(now_us, created, sizeof created);
    clock_format_rfc3339(run, send_at, sizeof send_at);
    json_t *metadata = json_object_get(params, "metadata");
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s,s:s,s:I,s:O,s:O?,s:o,s:s,s:s,s:n,s:n,s:n,s:s,s:s,s:s,s:i}", "id", id,
                            "object", "refund", "livemode", livemode, "merchant", merchant_id, "payment", pid,
                            "amount", (json_int_t)amount, "currency", json_object_get(payment, "currency"),
                            "reason", json_object_get(params, "reason"), "metadata",
                            json_is_object(metadata) ? json_deep_copy(metadata) : json_null(), "status", "pending",
                            "send_at", send_at, "sent_at", "refunded_at", "failure", "created_by", actor, "created",
                            created, "updated", created, "version", 1);
    json_t *jobs = json_pack("{s:I}", "refund.send", (json_int_t)run);
    json_t *related = payment_related(payment, refunded, doc_int(payment, "amount_refund_pending") + amount, refunds);
    if (!doc || !jobs || !related) {
        json_decref(doc);
        json_decref(jobs);
        json_decref(related);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    *type = "refund.created";
    *data = doc_event_data(doc, jobs, related);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* Ends a refund without paying: its amount counts no more in its payment's
 * amount_refunded (nor in what is pending, if it was not sent). */
static int give_back(json_t *n, json_t *payment, const char *status, const char *code, const char *message,
                     int64_t now_us, json_t **related, struct cs_diag *d)
{
    int64_t refunded = doc_int(payment, "amount_refunded") - doc_int(n, "amount");
    int64_t pending = doc_int(payment, "amount_refund_pending") - (doc_is(n, "status", "pending") ? doc_int(n, "amount") : 0);
    if (refunded < 0 || pending < 0)
        return cs_fail(d, CS_ECORRUPT, "", "payment %s would refund less than nothing",
                       json_string_value(json_object_get(payment, "id")));
    json_object_set_new(n, "status", json_string(status));
    json_t *f = json_pack("{s:s,s:s}", "code", code, "message", message);
    if (f)
        doc_set_time(f, "failed_at", now_us);
    json_object_set_new(n, "failure", f);
    *related = payment_related(payment, refunded, pending, NULL);
    return f && *related ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

/* The refund's payment must be the one the refund names. */
static int check_pair(json_t *refund, json_t *payment, const char *status, struct cs_diag *d)
{
    const char *pid = json_string_value(json_object_get(payment, "id"));
    if (!pid || !doc_is(refund, "payment", pid))
        return cs_fail(d, CS_ECORRUPT, "", "refund %s does not belong to this payment",
                       json_string_value(json_object_get(refund, "id")));
    if (!doc_is(refund, "status", status))
        return cs_fail(d, CS_ESTATE, "", "the refund is not %s", status);
    return 0;
}

int refund_decide_send(json_t *refund, json_t *payment, const char *dispute_status, int64_t now_us,
                       const char **type, json_t **data, struct cs_diag *d)
{
    int rc = check_pair(refund, payment, "pending", d);
    if (rc)
        return rc;
    json_t *n = doc_next_version(refund, now_us), *related = NULL, *jobs = NULL;
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    if (dispute_blocks(payment, dispute_status)) {
        const char *dispute = json_string_value(json_object_get(payment, "dispute"));
        char msg[200];
        snprintf(msg, sizeof msg, "the payment was disputed (%s) before the refund was sent: the card scheme returns "
                 "the money to the payer", dispute);
        rc = give_back(n, payment, "payment_cancelled", "payment_disputed", msg, now_us, &related, d);
        if (rc == 0)
            json_object_set_new(json_object_get(n, "failure"), "dispute", json_string(dispute));
        jobs = json_pack("{s:n}", "refund.send");
        *type = "refund.payment_cancelled";
    } else {
        json_object_set_new(n, "status", json_string("sent"));
        doc_set_time(n, "sent_at", now_us);
        related = payment_related(payment, doc_int(payment, "amount_refunded"),
                                  doc_int(payment, "amount_refund_pending") - doc_int(n, "amount"), NULL);
        jobs = json_pack("{s:n,s:I}", "refund.send", "refund.settle", (json_int_t)(now_us + REFUND_SETTLE_AFTER_US));
        *type = "refund.sent";
    }
    if (rc) {
        json_decref(n);
        json_decref(related);
        json_decref(jobs);
        return rc;
    }
    *data = doc_event_data(n, jobs, related);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

const char *refund_bank_answer(int64_t amount)
{
    int64_t cents = amount % 100;
    if (cents == REFUND_MAGIC_NOT_HONORED)
        return "not_honored";
    if (cents == REFUND_MAGIC_FAILED)
        return "failed";
    return "refunded";
}

int refund_decide_settle(json_t *refund, json_t *payment, int64_t now_us, const char **type, json_t **data,
                         struct cs_diag *d)
{
    int rc = check_pair(refund, payment, "sent", d);
    if (rc)
        return rc;
    json_t *n = doc_next_version(refund, now_us), *related = NULL;
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    const char *answer = refund_bank_answer(doc_int(refund, "amount"));
    if (strcmp(answer, "not_honored") == 0) {
        rc = give_back(n, payment, "not_honored", "refused_by_bank", "the payer's bank refused the refund", now_us,
                       &related, d);
        *type = "refund.not_honored";
    } else if (strcmp(answer, "failed") == 0) {
        rc = give_back(n, payment, "failed", "processing_error", "the refund could not be executed", now_us,
                       &related, d);
        *type = "refund.failed";
    } else {
        json_object_set_new(n, "status", json_string("refunded"));
        doc_set_time(n, "refunded_at", now_us);
        *type = "refund.refunded";
    }
    if (rc) {
        json_decref(n);
        json_decref(related);
        return rc;
    }
    *data = doc_event_data(n, json_pack("{s:n}", "refund.settle"), related);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}
