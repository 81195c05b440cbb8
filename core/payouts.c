/* Payout decisions (core/payouts.h). */
#include <string.h>
#include "core/payouts.h"
#include "core/doc.h"
#include "core/clock.h"

int payout_decide_create(const char *id, const char *merchant_id, int livemode, int64_t amount, const char *currency,
                         const char *method, int64_t fee, int64_t vat, json_t *bank, int64_t now_us, json_t **data,
                         struct cs_diag *d)
{
    if (amount < 1)
        return cs_fail(d, CS_EAMOUNT, "amount", "a payout moves at least one minor unit");
    char created[40];
    clock_format_rfc3339(now_us, created, sizeof created);
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s,s:I,s:s,s:s,s:I,s:I,s:s,s:{s:O,s:O,s:O,s:O},s:n,s:n,s:n,s:s,s:s,s:i}",
                            "id", id, "object", "payout", "livemode", livemode, "merchant", merchant_id, "amount",
                            (json_int_t)amount, "currency", currency, "method", method, "fee", (json_int_t)fee,
                            "fee_vat", (json_int_t)vat, "status", "pending", "destination", "account_holder_name",
                            json_object_get(bank, "account_holder_name"), "iban", json_object_get(bank, "iban"),
                            "iban_last4", json_object_get(bank, "iban_last4"), "bic", json_object_get(bank, "bic"),
                            "arrival_date", "paid_at", "failure", "created", created, "updated", created, "version", 1);
    if (!doc)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    doc_set_time(doc, "arrival_date", now_us + PAYOUT_ARRIVAL_AFTER_US);
    *data = doc_event_data(doc, json_pack("{s:I}", "payout.advance", (json_int_t)(now_us + PAYOUT_IN_TRANSIT_AFTER_US)),
                           NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payout_decide_advance(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    int pending = doc_is(doc, "status", "pending");
    if (!pending && !doc_is(doc, "status", "in_transit"))
        return cs_fail(d, CS_ESTATE, "", "the payout is %s", doc_str(doc, "status"));
    json_t *n = doc_next_version(doc, now_us), *jobs;
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    if (pending) {
        json_object_set_new(n, "status", json_string("in_transit"));
        doc_set_time(n, "arrival_date", now_us + PAYOUT_ARRIVAL_AFTER_US);
        jobs = json_pack("{s:I}", "payout.advance", (json_int_t)(now_us + PAYOUT_ARRIVAL_AFTER_US));
        *type = "payout.in_transit";
    } else {
        const char *holder = json_string_value(json_object_get(json_object_get(doc, "destination"), "account_holder_name"));
        int rejected = !json_is_true(json_object_get(doc, "livemode")) && holder &&
                       strcmp(holder, PAYOUT_TEST_FAILING_HOLDER) == 0;
        if (rejected) {
            json_t *f = json_pack("{s:s,s:s}", "code", "account_closed",
                                  "message", "the bank rejected the transfer: the account is closed");
            doc_set_time(f, "failed_at", now_us);
            json_object_set_new(n, "failure", f);
            json_object_set_new(n, "status", json_string("failed"));
            *type = "payout.failed";
        } else {
            json_object_set_new(n, "status", json_string("paid"));
            doc_set_time(n, "paid_at", now_us);
            *type = "payout.paid";
        }
        jobs = json_pack("{s:n}", "payout.advance");
    }
    *data = doc_event_data(n, jobs, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int payout_decide_run(json_t *schedule, const char *id, const char *merchant_id, int livemode, const char *date,
                      const char *outcome, const char *detail, const char *payout, int64_t next_run_us,
                      int64_t now_us, json_t **data, struct cs_diag *d)
{
    json_t *n;
    if (schedule) {
        n = doc_next_version(schedule, now_us);
    } else {
        char created[40];
        clock_format_rfc3339(now_us, created, sizeof created);
        n = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:i}", "id", id, "object", "payout_schedule", "livemode", livemode,
                      "merchant", merchant_id, "created", created, "updated", created, "version", 1);
    }
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_object_set_new(n, "last_run", json_pack("{s:s,s:s,s:s?,s:s?}", "date", date, "outcome", outcome, "detail",
                                                  detail, "payout", payout));
    if (!json_object_get(json_object_get(n, "last_run"), "payout"))
        json_object_set_new(json_object_get(n, "last_run"), "payout", json_null());
    if (!json_object_get(json_object_get(n, "last_run"), "detail"))
        json_object_set_new(json_object_get(n, "last_run"), "detail", json_null());
    if (next_run_us >= 0)
        doc_set_time(n, "next_run_at", next_run_us);
    else
        json_object_set_new(n, "next_run_at", json_null());
    json_t *jobs = next_run_us >= 0 ? json_pack("{s:I}", "payout.run", (json_int_t)next_run_us)
                                    : json_pack("{s:n}", "payout.run");
    *data = doc_event_data(n, jobs, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}
