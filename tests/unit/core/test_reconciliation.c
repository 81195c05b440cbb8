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

/* A payment as the handler gathers it, with what the ledger holds for it. */
static void payment_doc(struct recon_input *in, const char *id, int64_t captured, int64_t refunded,
                        int64_t ledger_captured, int64_t ledger_refunded)
{
    json_object_set_new(in->objects, id, json_pack("{s:s,s:s,s:I,s:I}", "id", id, "object", "payment",
                                                   "amount_captured", (json_int_t)captured, "amount_refunded",
                                                   (json_int_t)refunded));
    json_object_set_new(in->ledger_captured, id, json_integer(ledger_captured));
    json_object_set_new(in->ledger_refunded, id, json_integer(ledger_refunded));
}

static void refund_doc(struct recon_input *in, const char *id, const char *payment)
{
    json_object_set_new(in->objects, id, json_pack("{s:s,s:s,s:s}", "id", id, "object", "refund", "payment", payment));
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
    in->ledger_refunded = json_object();
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
    json_decref(in->ledger_refunded);
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

/* A refund of the day whose payment's amount_refunded is not what its
 * refunds' transactions took (a failure given back in the ledger but not on
 * the payment), and a refund whose payment has no document. */
static void test_refund_mismatch(void)
{
    struct recon_input in;
    input_init(&in, "2027-03-05T12:00:00.000000Z");
    json_array_append_new(in.txns, txn("btx_1_0", "refund", "re_1", -2000, -2000, "2027-03-01T09:00:00.000000Z",
                                       "2027-03-01T09:00:00.000000Z"));
    json_array_append_new(in.txns, txn("btx_2_0", "refund_failure", "re_2", 1500, 1500, "2027-03-01T10:00:00.000000Z",
                                       "2027-03-01T10:00:00.000000Z"));
    json_array_append_new(in.txns, txn("btx_3_0", "refund", "re_3", -700, -700, "2027-03-01T11:00:00.000000Z",
                                       "2027-03-01T11:00:00.000000Z"));
    refund_doc(&in, "re_1", "pay_1");
    refund_doc(&in, "re_2", "pay_1");
    refund_doc(&in, "re_3", "pay_9");
    /* re_1 (2000) and re_2 (1500, failed) were taken, re_2 given back: 2000; the payment says 3500 */
    payment_doc(&in, "pay_1", 10000, 3500, 10000, 2000);
    json_t *out = NULL;
    struct cs_diag d = {0};
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    json_t *findings = json_object_get(out, "findings"), *f;
    EQ_INT(json_array_size(findings), 2, "two findings");
    OK((f = find(findings, "id", "pay_1")) && strcmp(s(f, "code"), "ledger_mismatch") == 0, "ledger_mismatch on pay_1");
    EQ_STR(s(f, "message"), "pay_1 has amount_refunded 3500 but its refund transactions in the ledger take 2000",
           "the message gives both figures");
    OK((f = find(findings, "id", "btx_3_0")) && strstr(s(f, "message"), "pay_9, which has no document"),
       "a refund whose payment has no document");
    json_decref(out);

    /* the payment agreeing with the ledger: no finding for it */
    json_object_set_new(json_object_get(in.objects, "pay_1"), "amount_refunded", json_integer(2000));
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    EQ_INT(json_array_size(json_object_get(out, "findings")), 1, "only the payment without a document is left");
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
    refund_doc(&in, "re_1", "pay_0");
    /* the refund's payment: captured and refunded agree with the ledger */
    payment_doc(&in, "pay_0", 6000, 2000, 6000, 2000);
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
                               "do_not_honor,\r\n"), "the failed payment's row");
    size_t rows = 0;
    for (const char *p = c.out; p && (p = strstr(p, "\r\n")); p += 2)
        rows++;
    EQ_INT(rows, 1 + json_array_size(items), "one row per item");
    csv_free(&c);
    json_decref(out);
    input_free(&in);
}

static json_t *bnpl(const char *id, const char *type, const char *source, int64_t amount, int64_t fee, int64_t vat,
                    const char *created, int64_t seq)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:s,s:I,s:I}", "id", id, "stream", "bnpl", "type", type,
                     "source", source, "currency", "EUR", "amount", (json_int_t)amount, "fee", (json_int_t)fee, "vat",
                     (json_int_t)vat, "net", (json_int_t)(amount - fee - vat), "created", created, "available_on",
                     created, "available_on_us", (json_int_t)at(created), "event_seq", (json_int_t)seq);
}

/* A disbursement through `through` of one or two order lines
 * {order, payable, reduction, net}. */
static json_t *disbursement(const char *id, int64_t amount, int64_t gross, const char *created, int64_t through,
                            json_t *orders)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s,s:I,s:o}", "id", id, "object", "disbursement", "reference",
                     "DSB-20270301-1", "currency", "EUR", "amount", (json_int_t)amount, "gross_amount", (json_int_t)gross,
                     "fees", (json_int_t)0, "fees_vat", (json_int_t)0, "created", created, "through_event_seq",
                     (json_int_t)through, "orders", orders);
}

static json_t *order_line(const char *order, int64_t payable, int64_t reduction, int64_t net)
{
    return json_pack("{s:s,s:I,s:I,s:I}", "order", order, "payable", (json_int_t)payable, "reduction",
                     (json_int_t)reduction, "net", (json_int_t)net);
}

/* Monday 2027-03-01: the disbursement of Friday's payable (dsb_1) at 06:00,
 * then a return of that order and a new shipment, both recovered by
 * Tuesday's dsb_2, and a late shipment after dsb_2's range. */
static void test_bnpl_carried(void)
{
    struct recon_input in;
    input_init(&in, "2027-03-03T12:00:00.000000Z");
    in.disbursements = json_array();
    in.bnpl_carried = json_array();
    json_array_append_new(in.disbursements, disbursement("dsb_2", 10000 - 345 - 69 - 3000 + 104 + 21, 7000,
                                                         "2027-03-02T06:00:00.000000Z", 16,
                                                         json_pack("[o,o]", order_line("ord_a", 0, 3000, -3000 + 104 + 21),
                                                                   order_line("ord_b", 10000, 0, 10000 - 345 - 69))));
    json_array_append_new(in.disbursements, disbursement("dsb_1", 12452, 12990, "2027-03-01T06:00:00.000000Z", 10,
                                                         json_pack("[o]", order_line("ord_a", 12990, 0, 12452))));
    json_array_append_new(in.bnpl_carried, bnpl("btx_5_0", "order_payable", "ord_a", 12990, 0, 0,
                                                "2027-02-26T10:00:00.000000Z", 5));
    json_array_append_new(in.txns, bnpl("btx_11_0", "disbursement", "dsb_1", -12990, -448, -90,
                                        "2027-03-01T06:00:00.000000Z", 11));
    json_array_append_new(in.txns, bnpl("btx_15_0", "order_reduction", "ord_a", -3000, 0, 0,
                                        "2027-03-01T10:00:00.000000Z", 15));
    json_array_append_new(in.txns, bnpl("btx_16_0", "order_payable", "ord_b", 10000, 0, 0,
                                        "2027-03-01T11:00:00.000000Z", 16));
    json_array_append_new(in.txns, bnpl("btx_17_0", "order_payable", "ord_c", 5000, 0, 0,
                                        "2027-03-01T23:00:00.000000Z", 17));
    json_t *out = NULL;
    struct cs_diag d = {0};
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    json_t *items = json_object_get(out, "items");
    EQ_INT(json_array_size(items), 4, "the day's four bnpl transactions");
    json_t *own = find(items, "id", "btx_11_0"), *red = find(items, "id", "btx_15_0"), *pb = find(items, "id", "btx_16_0"),
           *pc = find(items, "id", "btx_17_0");
    EQ_STR(s(own, "disbursement"), "dsb_1", "a disbursement's own line is that disbursement");
    EQ_STR(s(own, "state"), "disbursed", "its own line is disbursed");
    EQ_STR(s(red, "disbursement"), "dsb_2", "a reduction after dsb_1 is recovered by the next disbursement");
    EQ_STR(s(red, "state"), "disbursed", "the reduction is settled");
    EQ_STR(s(pb, "disbursement"), "dsb_2", "a payable in dsb_2's range is carried by it");
    EQ_STR(s(pc, "state"), "awaiting_disbursement", "a payable after the last range awaits the next run");
    OK(json_is_null(json_object_get(pc, "disbursement")), "and has no disbursement");
    OK(json_is_null(json_object_get(pb, "payout")) && json_is_null(json_object_get(pb, "payment")),
       "no payout and no payment for a bnpl item");
    EQ_INT(json_array_size(json_object_get(out, "findings")), 0, "not late before Thursday");
    json_t *ds = json_object_get(out, "disbursements"), *d1 = find(ds, "id", "dsb_1");
    EQ_INT(json_array_size(ds), 1, "dsb_1 is the day's disbursement");
    EQ_INT(json_integer_value(json_object_get(d1, "carried_net")), 12452, "its carried net");
    EQ_INT(json_integer_value(json_object_get(d1, "carried_gross")), 12990, "the ledger's gross of its range");
    EQ_INT(json_integer_value(json_object_get(d1, "carried_count")), 1, "one transaction carried");
    EQ_INT(json_array_size(json_object_get(out, "payouts")), 0, "no payout");
    struct csv_buf c = {0};
    recon_csv(items, &c);
    OK(c.out && strstr(c.out, "\r\nbtx_15_0,order_reduction,ord_a,,EUR,-3000,0,0,-3000,2027-03-01T10:00:00.000000Z,"
                               "2027-03-01T10:00:00.000000Z,,,disbursed,,dsb_2\r\n"), "the reduction's row names dsb_2");
    csv_free(&c);
    json_decref(out);
    /* Thursday: the shipment of Monday night is late */
    in.now_us = at("2027-03-04T00:00:00.000000Z");
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    json_t *f = json_array_get(json_object_get(out, "findings"), 0);
    EQ_INT(json_array_size(json_object_get(out, "findings")), 1, "one finding");
    EQ_STR(s(f, "code"), "disbursement_late", "disbursement_late");
    EQ_STR(s(f, "id"), "btx_17_0", "on the payable not carried");
    json_decref(out);
    /* …unless a run carried it over (reductions outweighing): by design */
    in.carried_over_seq = 18;
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    EQ_STR(s(find(json_object_get(out, "items"), "id", "btx_17_0"), "state"), "carried_over", "carried over");
    EQ_INT(json_array_size(json_object_get(out, "findings")), 0, "not late: carried over");
    json_decref(out);
    input_free(&in);
    json_decref(in.disbursements);
    json_decref(in.bnpl_carried);
}

/* A disbursement whose amount is not its orders' net, and whose range in
 * the ledger holds an order it does not list. */
static void test_bnpl_mismatch(void)
{
    struct recon_input in;
    input_init(&in, "2027-03-01T12:00:00.000000Z");
    in.disbursements = json_array();
    in.bnpl_carried = json_array();
    json_array_append_new(in.disbursements, disbursement("dsb_1", 12000, 12990, "2027-03-01T06:00:00.000000Z", 10,
                                                         json_pack("[o]", order_line("ord_a", 12990, 0, 12452))));
    json_array_append_new(in.bnpl_carried, bnpl("btx_5_0", "order_payable", "ord_a", 12990, 0, 0,
                                                "2027-02-26T10:00:00.000000Z", 5));
    json_array_append_new(in.bnpl_carried, bnpl("btx_6_0", "order_payable", "ord_x", 500, 0, 0,
                                                "2027-02-26T11:00:00.000000Z", 6));
    json_t *out = NULL;
    struct cs_diag d = {0};
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    json_t *findings = json_object_get(out, "findings");
    EQ_INT(json_array_size(findings), 2, "two findings");
    json_t *f0 = json_array_get(findings, 0), *f1 = json_array_get(findings, 1);
    EQ_STR(s(f0, "code"), "disbursement_mismatch", "the amount against the orders' net");
    EQ_STR(s(f0, "id"), "dsb_1", "on the disbursement");
    OK(strstr(s(f0, "message"), "12000") && strstr(s(f0, "message"), "12452"), "both sums in the message");
    EQ_STR(s(f1, "code"), "disbursement_mismatch", "the ledger against the orders");
    OK(strstr(s(f1, "message"), "ord_x") != NULL, "naming the order the disbursement does not list");
    json_t *row = json_array_get(json_object_get(out, "disbursements"), 0);
    EQ_INT(json_integer_value(json_object_get(row, "carried_gross")), 13490, "the ledger's gross");
    struct csv_buf c = {0};
    recon_findings_csv(findings, &c);
    OK(c.out && strncmp(c.out, RECON_FINDINGS_CSV_HEADER, strlen(RECON_FINDINGS_CSV_HEADER)) == 0, "findings CSV header");
    OK(c.out && strstr(c.out, "\r\ndisbursement_mismatch,dsb_1,the disbursement dsb_1 paid 12000 but its orders' net "
                               "add up to 12452\r\n"), "a finding's row");
    csv_free(&c);
    json_decref(out);
    input_free(&in);
    json_decref(in.disbursements);
    json_decref(in.bnpl_carried);
}

/* The country's public holidays push the deadlines. */
static void test_holidays(void)
{
    json_t *cal = json_pack("{s:b,s:b}", "2027-03-10", 0, "2027-03-08", 0);
    OK(!recon_business_day(cal, at("2027-03-10T00:00:00.000000Z") / (86400LL * 1000000)), "a holiday");
    OK(recon_business_day(cal, at("2027-03-09T00:00:00.000000Z") / (86400LL * 1000000)), "a Tuesday");
    OK(!recon_business_day(cal, at("2027-03-13T00:00:00.000000Z") / (86400LL * 1000000)), "a Saturday not in it");
    /* available Sunday 7th: run Monday 8th (a holiday: Tuesday), +2 = Thursday (Wednesday a holiday): late Friday */
    EQ_INT(recon_late_after_us(at("2027-03-07T10:00:00.000000Z"), NULL), at("2027-03-11T00:00:00.000000Z"),
           "weekends only: late from Thursday");
    EQ_INT(recon_late_after_us(at("2027-03-07T10:00:00.000000Z"), cal), at("2027-03-13T00:00:00.000000Z"),
           "two holidays: late from Saturday");
    /* shipped Friday 5th: run Monday (a holiday: Tuesday), +1 = Thursday (Wednesday a holiday) */
    EQ_INT(recon_disbursement_late_after_us(at("2027-03-05T10:00:00.000000Z"), NULL), at("2027-03-10T00:00:00.000000Z"),
           "disbursement, weekends only: late from Wednesday");
    EQ_INT(recon_disbursement_late_after_us(at("2027-03-05T10:00:00.000000Z"), cal), at("2027-03-12T00:00:00.000000Z"),
           "disbursement, two holidays: late from Friday");
    /* a capture of Monday 1st (available Monday 8th) is not late on Friday 12th when Wednesday was a holiday */
    struct recon_input in;
    input_init(&in, "2027-03-12T12:00:00.000000Z");
    json_array_append_new(in.txns, txn("btx_1_0", "charge", "pay_1", 10000, 9802, "2027-03-01T10:00:00.000000Z",
                                       "2027-03-08T10:00:00.000000Z"));
    json_object_set_new(in.objects, "pay_1", json_pack("{s:s,s:s,s:I}", "id", "pay_1", "object", "payment",
                                                       "amount_captured", (json_int_t)10000));
    json_object_set_new(in.ledger_captured, "pay_1", json_integer(10000));
    json_t *out = NULL;
    struct cs_diag d = {0};
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    EQ_INT(json_array_size(json_object_get(out, "findings")), 1, "weekends only: payout_late on Friday");
    json_decref(out);
    in.calendar = json_pack("{s:b}", "2027-03-10", 0);
    EQ_INT(recon_build(&in, &out, &d), 0, "builds");
    EQ_INT(json_array_size(json_object_get(out, "findings")), 0, "Wednesday a holiday: not late yet");
    json_decref(out);
    json_decref(in.calendar);
    input_free(&in);
    json_decref(cal);
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
    EQ_INT(recon_late_after_us(at("2027-03-05T10:00:00.000000Z"), NULL), at("2027-03-11T00:00:00.000000Z"), "late deadline");
    EQ_INT(recon_late_after_us(at("2027-03-08T10:00:00.000000Z"), NULL), at("2027-03-12T00:00:00.000000Z"), "from a Monday");
}

int main(void)
{
    test_inconsistent_day();
    test_consistent_day();
    test_refund_mismatch();
    test_dates();
    test_bnpl_carried();
    test_bnpl_mismatch();
    test_holidays();
    return tap_done();
}
