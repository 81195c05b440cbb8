/* The reconciliation is pure: a deliberately inconsistent day produces each
 * finding, a consistent one none; the date bounds and the late deadline. */
#include <string.h>
#include "core/reconciliation.h"
#include "core/clock.h"
#include "tests/unit/tap.h"

static int64_t at(const char *t)
{
    return clock_parse_rfc3339(t);
}

static json_t *txn(const char *id, const char *type, const char *source, int64_t amount, int64_t net,
                   const char *created, const char *avail)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:I}", "id", id, "type", type, "source", source,
                     "currency", "EUR", "amount", (json_int_t)amount, "fee", (json_int_t)0,
                     "vat", (json_int_t)0, "net", (json_int_t)net, "created", created, "available_on", avail,
                     "available_on_us", (json_int_t)at(avail));
}

static json_t *payout(const char *id, const char *method, const char *status, int64_t amount, const char *created)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:{s:s}}", "id", id, "method", method, "status", status, "amount",
                     (json_int_t)amount, "currency", "EUR", "created", created, "failure", "code", "account_closed");
}

static json_t *find(json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
        if (json_is_string(json_object_get(o, key)) && strcmp(json_string_value(json_object_get(o, key)), value) == 0)
            return o;
    return NULL;
}

static const char *s(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "(null)";
}

static void input_init(struct recon_input *in, const char *now)
{
    memset(in, 0, sizeof *in);
    in->day_start_us = at("2027-03-01T00:00:00.000000Z");
    in->day_end_us = at("2027-03-02T00:00:00.000000Z");
    in->now_us = at(now);
    in->txns = json_array();
    in->payouts = json_array();
    in->payout_lines = json_object();
    in->objects = json_object();
    in->ledger_captured = json_object();
    in->failed = json_array();
    in->disputes = json_array();
}

static void input_free(struct recon_input *in)
{
    json_decref(in->txns);
    json_decref(in->payouts);
    json_decref(in->payout_lines);
    json_decref(in->objects);
    json_decref(in->ledger_captured);
    json_decref(in->failed);
    json_decref(in->disputes);
}

static void test_inconsistent_day(void)
{
    struct recon_input in;
    input_init(&in, "2027-03-20T12:00:00.000000Z");
    /* po_b paid 5000 that day but carried 4000; po_a (a week later) failed */
    json_array_append_new(in.payouts, payout("po_a", "standard", "failed", 9802, "2027-03-09T06:00:00.000000Z"));
    json_array_append_new(in.payouts, payout("po_b", "standard", "paid", 5000, "2027-03-01T06:00:00.000000Z"));
    json_object_set_new(in.payout_lines, "po_b", json_pack("[{s:I}]", "net", (json_int_t)4000));
    json_array_append_new(in.txns, txn("btx_1_0", "charge", "pay_1", 10000, 9802, "2027-03-01T10:00:00.000000Z",
                                       "2027-03-08T10:00:00.000000Z"));
    json_array_append_new(in.txns, txn("btx_2_0", "charge", "pay_2", 3000, 2900, "2027-03-01T23:00:00.000000Z",
                                       "2027-03-09T07:00:00.000000Z"));
    json_array_append_new(in.txns, txn("btx_3_0", "payout", "po_b", -5000, -5000, "2027-03-01T06:00:00.000000Z",
                                       "2027-03-01T06:00:00.000000Z"));
    json_object_set_new(in.objects, "pay_1", json_pack("{s:s,s:s,s:I}", "id", "pay_1", "object", "payment",
                                                       "amount_captured", (json_int_t)10000));
    /* pay_2 says 3500 captured, the ledger has 3000 */
    json_object_set_new(in.objects, "pay_2", json_pack("{s:s,s:s,s:I}", "id", "pay_2", "object", "payment",
                                                       "amount_captured", (json_int_t)3500));
    json_object_set_new(in.ledger_captured, "pay_1", json_integer(10000));
    json_object_set_new(in.ledger_captured, "pay_2", json_integer(3000));
    json_t *out = NULL;
    struct cs_diag d = {0};
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    json_t *items = json_object_get(out, "items"), *findings = json_object_get(out, "findings");
    EQ_INT(json_array_size(items), 3, "three items");
    EQ_STR(s(json_array_get(items, 0), "id"), "btx_3_0", "oldest first");
    json_t *i1 = find(items, "id", "btx_1_0"), *i2 = find(items, "id", "btx_2_0"), *i3 = find(items, "id", "btx_3_0");
    EQ_STR(s(i1, "payout"), "po_a", "btx_1_0 carried by po_a (available after po_b, before po_a)");
    EQ_STR(s(i1, "payout_status"), "failed", "its payout failed");
    EQ_STR(s(i1, "state"), "awaiting_payout", "the money is back in the balance");
    EQ_STR(s(i2, "state"), "awaiting_payout", "available after the last payout");
    OK(json_is_null(json_object_get(i2, "payout")), "no payout carried btx_2_0");
    EQ_STR(s(i3, "payout"), "po_b", "a payout's own line is that payout");
    EQ_STR(s(i3, "state"), "paid_out", "po_b is paid");
    json_t *f;
    OK((f = find(findings, "code", "payout_mismatch")) && strcmp(s(f, "id"), "po_b") == 0, "payout_mismatch on po_b");
    OK((f = find(findings, "code", "payout_failed")) && strcmp(s(f, "id"), "btx_1_0") == 0, "payout_failed on btx_1_0");
    OK((f = find(findings, "code", "payout_late")) && strcmp(s(f, "id"), "btx_2_0") == 0, "payout_late on btx_2_0");
    OK((f = find(findings, "code", "ledger_mismatch")) && strcmp(s(f, "id"), "pay_2") == 0, "ledger_mismatch on pay_2");
    EQ_INT(json_array_size(findings), 4, "exactly the four findings");
    json_t *po = find(json_object_get(out, "payouts"), "id", "po_b");
    EQ_INT(json_integer_value(json_object_get(po, "carried_net")), 4000, "po_b's carried net");
    OK(!find(json_object_get(out, "payouts"), "id", "po_a"), "po_a is not of that day");
    json_decref(out);
    input_free(&in);
}

static void test_consistent_day(void)
{
    struct recon_input in;
    input_init(&in, "2027-03-05T12:00:00.000000Z");
    json_array_append_new(in.payouts, payout("po_b", "standard", "in_transit", 4000, "2027-03-01T06:00:00.000000Z"));
    json_array_append_new(in.payouts, payout("po_i", "instant", "pending", 1000, "2027-03-01T09:00:00.000000Z"));
    json_object_set_new(in.payout_lines, "po_b", json_pack("[{s:I},{s:I}]", "net", (json_int_t)5000, "net",
                                                           (json_int_t)-1000));
    json_array_append_new(in.txns, txn("btx_1_0", "charge", "pay_1", 10000, 9802, "2027-03-01T10:00:00.000000Z",
                                       "2027-03-08T10:00:00.000000Z"));
    json_array_append_new(in.txns, txn("btx_0_0", "refund", "re_1", -2000, -2000, "2027-03-01T05:00:00.000000Z",
                                       "2027-03-01T05:00:00.000000Z"));
    json_object_set_new(in.objects, "pay_1", json_pack("{s:s,s:s,s:I}", "id", "pay_1", "object", "payment",
                                                       "amount_captured", (json_int_t)10000));
    json_object_set_new(in.objects, "re_1", json_pack("{s:s,s:s,s:s}", "id", "re_1", "object", "refund", "payment", "pay_0"));
    json_object_set_new(in.ledger_captured, "pay_1", json_integer(10000));
    json_t *failed = json_pack("{s:s,s:s,s:I,s:s,s:I,s:{s:s,s:s}}", "id", "pay_f", "object", "payment", "amount",
                               (json_int_t)4000, "currency", "EUR", "amount_captured", (json_int_t)0, "failure", "code",
                               "do_not_honor", "failed_at", "2027-03-01T11:00:00.000000Z");
    json_array_append_new(in.failed, failed);
    json_object_set(in.objects, "pay_f", failed);
    json_array_append_new(in.disputes, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "id", "dp_1", "object", "dispute",
                                                 "payment", "pay_1", "amount", (json_int_t)10000, "currency", "EUR",
                                                 "reason", "fraudulent", "created", "2027-03-01T12:00:00.000000Z"));
    json_t *out = NULL;
    struct cs_diag d = {0};
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    json_t *items = json_object_get(out, "items");
    EQ_INT(json_array_size(json_object_get(out, "findings")), 0, "no finding on a consistent day");
    OK(json_is_array(json_object_get(out, "findings")), "findings is a list");
    EQ_STR(s(find(items, "id", "btx_1_0"), "state"), "held", "a capture in its hold is held");
    EQ_STR(s(find(items, "id", "btx_0_0"), "state"), "in_payout", "a refund before po_b is in it");
    EQ_STR(s(find(items, "id", "btx_0_0"), "payment"), "pay_0", "a refund names its payment");
    json_t *f = find(items, "id", "pay_f"), *dp = find(items, "id", "dp_1");
    EQ_STR(s(f, "state"), "unpaid", "a failed payment is unpaid");
    EQ_STR(s(f, "reason"), "do_not_honor", "with its failure code");
    EQ_STR(s(dp, "state"), "unpaid", "a dispute is unpaid");
    EQ_STR(s(dp, "reason"), "fraudulent", "with its reason");
    EQ_STR(s(dp, "payment"), "pay_1", "naming the disputed payment");
    json_t *pi = find(json_object_get(out, "payouts"), "id", "po_i");
    OK(pi && json_is_null(json_object_get(pi, "carried_net")), "an early payout carries no set of transactions");
    struct csv_buf c = {0};
    recon_csv(items, &c);
    OK(c.out && strncmp(c.out, RECON_CSV_HEADER, strlen(RECON_CSV_HEADER)) == 0, "CSV header");
    OK(c.out && strstr(c.out, "\r\npay_f,payment_failed,pay_f,pay_f,EUR,4000,0,0,0,2027-03-01T11:00:00.000000Z,,,,unpaid,"
                               "do_not_honor\r\n"), "the failed payment's row");
    size_t rows = 0;
    for (const char *p = c.out; p && (p = strstr(p, "\r\n")); p += 2)
        rows++;
    EQ_INT(rows, 1 + json_array_size(items), "one row per item");
    csv_free(&c);
    json_decref(out);
    input_free(&in);
}

static void test_dates(void)
{
    int64_t now = at("2027-03-20T12:00:00.000000Z"), a, b;
    struct cs_diag d = {0};
    EQ_INT(recon_check_date("2027-03-20", now, &a, &b, &d), 0, "today");
    EQ_INT(b - a, 86400LL * 1000000, "a day long");
    EQ_INT(recon_check_date("2027-03-21", now, &a, &b, &d), CS_EPARAM, "tomorrow");
    EQ_STR(d.param, "date", "names date");
    EQ_INT(recon_check_date(NULL, now, &a, &b, &d), CS_EMISSING, "missing");
    EQ_INT(recon_check_date("2027-02-30", now, &a, &b, &d), CS_EPARAM, "not a calendar date");
    EQ_INT(recon_check_date("2027-3-01", now, &a, &b, &d), CS_EPARAM, "malformed");
    EQ_INT(recon_check_date("2025-12-20", now, &a, &b, &d), 0, "15 months back");
    EQ_INT(recon_check_date("2025-12-19", now, &a, &b, &d), CS_EPARAM, "older");
    OK(strstr(d.message, "caisse events dump") != NULL, "points to the dump");
    /* available Friday 10:00: run Monday (weekend), +2 business days = Wednesday, late from Thursday */
    EQ_INT(recon_late_after_us(at("2027-03-05T10:00:00.000000Z")), at("2027-03-11T00:00:00.000000Z"), "late deadline");
    EQ_INT(recon_late_after_us(at("2027-03-08T10:00:00.000000Z")), at("2027-03-12T00:00:00.000000Z"), "from a Monday");
}

int main(void)
{
    test_inconsistent_day();
    test_consistent_day();
    test_dates();
    return tap_done();
}
