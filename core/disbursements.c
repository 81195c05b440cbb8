/* Disbursement arithmetic (core/disbursements.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "core/disbursements.h"
#include "core/limits.h"
#include "core/money.h"
#include "core/doc.h"
#include "core/clock.h"

#define DAY_US (86400LL * 1000000)

int64_t disbursement_run_after_us(int64_t shipped_us)
{
    int64_t day = shipped_us / DAY_US;
    if (shipped_us < 0 && shipped_us % DAY_US)
        day--;   /* floor, for completeness: clocks before 1970 do not occur */
    return (day + 1) * DAY_US + DISBURSEMENT_RUN_HOUR_UTC * 3600LL * 1000000;
}

static int in_range(int64_t v)
{
    return v >= 0 && v <= CS_AMOUNT_MINOR_MAX;
}

int disbursement_add_up(struct disbursement_order *orders, size_t n, struct disbursement_totals *t, int *disburse,
                        struct cs_diag *d)
{
    memset(t, 0, sizeof *t);
    *disburse = 0;
    for (size_t i = 0; i < n; i++) {
        struct disbursement_order *o = &orders[i];
        if (!in_range(o->payable) || !in_range(o->reduction) || !in_range(o->fee_priced) ||
            !in_range(o->vat_priced))
            return cs_fail(d, CS_EAMOUNT, "", "order %zu: an amount is out of range", i);
        /* Each term is bounded by CS_AMOUNT_MINOR_MAX, so the per-order
         * arithmetic cannot overflow; the sums over many orders are checked. */
        o->amount = o->payable - o->reduction;
        int64_t sign = o->amount < 0 ? -1 : 1;
        o->fee = sign * o->fee_priced;
        o->vat = sign * o->vat_priced;
        o->net = o->amount - o->fee - o->vat;
        if (money_add(t->amount, o->amount, &t->amount) || money_add(t->fees, o->fee, &t->fees) ||
            money_add(t->vat, o->vat, &t->vat) || money_add(t->net, o->net, &t->net))
            return cs_fail(d, CS_EAMOUNT, "", "the disbursement's total overflows");
    }
    *disburse = t->net > 0;
    return 0;
}

int disbursement_reference(const char *date, uint32_t n, char out[DISBURSEMENT_REFERENCE_BYTES])
{
    static const char shape[] = "dddd-dd-dd";
    if (!date || strlen(date) != sizeof shape - 1 || n == 0)
        return CS_EPARAM;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)date[i]) : date[i] != shape[i])
            return CS_EPARAM;
    snprintf(out, DISBURSEMENT_REFERENCE_BYTES, "DSB-%.4s%.2s%.2s-%u", date, date + 5, date + 8, (unsigned)n);
    return 0;
}

void disbursement_schedule_id(const char *merchant_id, int livemode, char *out, size_t cap)
{
    snprintf(out, cap, "dss_%s_%c", merchant_id, livemode ? 'l' : 't');
}

int disbursement_decide_create(const struct disbursement_run *r, const char *id, uint32_t n, json_t *lines,
                               const struct disbursement_order *orders, const struct disbursement_totals *t,
                               json_t **data, struct cs_diag *d)
{
    char ref[DISBURSEMENT_REFERENCE_BYTES], created[40];
    if (disbursement_reference(r->date, n, ref))
        return cs_fail(d, CS_EINTERNAL, "", "the run has no readable date");
    clock_format_rfc3339(r->now_us, created, sizeof created);
    json_t *out = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
        json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:I,s:I,s:I,s:I,s:I,s:I}", "order",
                                             json_object_get(l, "order"), "reference", json_object_get(l, "reference"),
                                             "product", json_object_get(l, "product"), "payable",
                                             (json_int_t)orders[i].payable, "reduction",
                                             (json_int_t)orders[i].reduction, "amount", (json_int_t)orders[i].amount,
                                             "fee", (json_int_t)orders[i].fee, "vat", (json_int_t)orders[i].vat, "net",
                                             (json_int_t)orders[i].net));
    json_t *doc = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:I,s:s,s:s,s:i}", "id", id,
                            "object", "disbursement", "livemode", r->livemode, "merchant", r->merchant_id,
                            "reference", ref, "date", r->date, "currency", r->currency, "amount", (json_int_t)t->net,
                            "gross_amount", (json_int_t)t->amount, "fees", (json_int_t)t->fees, "fees_vat",
                            (json_int_t)t->vat, "fees_vat_included", (json_int_t)(t->fees + t->vat), "orders", out,
                            "through_event_seq", (json_int_t)r->through_seq, "created", created, "updated", created,
                            "version", 1);
    if (!doc)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    *data = doc_event_data(doc, NULL, NULL);
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}

int disbursement_decide_run(json_t *schedule, const struct disbursement_run *r, const char *outcome,
                            const char *detail, const char *disbursement, int disbursed, json_t **data,
                            struct cs_diag *d)
{
    json_t *n;
    if (schedule) {
        n = doc_next_version(schedule, r->now_us);
    } else {
        char created[40];
        clock_format_rfc3339(r->now_us, created, sizeof created);
        n = json_pack("{s:s,s:s,s:b,s:s,s:I,s:i,s:s,s:s,s:i}", "id", r->schedule_id, "object",
                      "disbursement_schedule", "livemode", r->livemode, "merchant", r->merchant_id,
                      "disbursed_through_seq", (json_int_t)0, "count", 0, "created", created, "updated", created,
                      "version", 1);
    }
    if (!n)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    if (disbursed) {
        json_object_set_new(n, "disbursed_through_seq", json_integer(r->through_seq));
        json_object_set_new(n, "count", json_integer(json_integer_value(json_object_get(n, "count")) + 1));
    }
    json_t *last = json_pack("{s:s,s:s,s:o,s:o}", "date", r->date, "outcome", outcome, "detail",
                             detail ? json_string(detail) : json_null(), "disbursement",
                             disbursement ? json_string(disbursement) : json_null());
    json_object_set_new(n, "last_run", last ? last : json_null());
    if (r->next_run_us >= 0)
        doc_set_time(n, "next_run_at", r->next_run_us);
    else
        json_object_set_new(n, "next_run_at", json_null());
    json_t *jobs = r->next_run_us >= 0 ? json_pack("{s:I}", "disbursement.run", (json_int_t)r->next_run_us)
                                       : json_pack("{s:n}", "disbursement.run");
    *data = doc_event_data(n, jobs, NULL);
    if (*data)
        json_object_set_new(*data, "outcome", json_string(outcome));
    return *data ? 0 : cs_fail(d, CS_ENOMEM, "", "out of memory");
}
