/* The refund decide functions are pure: (refund, payment, request) -> event data. */
#include <string.h>
#include "core/refunds.h"
#include "tests/unit/tap.h"

#define HOUR_US (3600LL * 1000000)
#define DAY_US (24 * HOUR_US)
/* 2026-03-14T00:00:00Z */
#define MIDNIGHT_US (1773446400LL * 1000000)

static json_t *payment(const char *status, int64_t captured, int64_t refunded)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:[],s:n}", "id", "pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "object",
                     "payment", "status", status, "amount", (json_int_t)10000, "currency", "EUR", "amount_captured",
                     (json_int_t)captured, "amount_refunded", (json_int_t)refunded, "refunds", "dispute");
}

static const char *err_param(struct cs_diag *d)
{
    return d->param;
}

static void test_next_run(void)
{
    EQ_INT(refund_next_run_us(MIDNIGHT_US), MIDNIGHT_US + 6 * HOUR_US, "midnight: 06:00 the same day");
    EQ_INT(refund_next_run_us(MIDNIGHT_US + 6 * HOUR_US - 1), MIDNIGHT_US + 6 * HOUR_US, "05:59:59.999999: the same day");
    EQ_INT(refund_next_run_us(MIDNIGHT_US + 6 * HOUR_US), MIDNIGHT_US + DAY_US + 6 * HOUR_US,
           "06:00 exactly: the next run, the next day");
    EQ_INT(refund_next_run_us(MIDNIGHT_US + 23 * HOUR_US), MIDNIGHT_US + DAY_US + 6 * HOUR_US, "23:00: the next day");
    for (int64_t t = MIDNIGHT_US; t < MIDNIGHT_US + 2 * DAY_US; t += 37 * 60 * 1000000LL) {
        int64_t run = refund_next_run_us(t);
        OK(run > t && run - t <= DAY_US && (run - MIDNIGHT_US) % DAY_US == 6 * HOUR_US, "within 24 h, at 06:00");
    }
}

static void test_bank(void)
{
    EQ_STR(refund_bank_answer(1000), "refunded", "1000");
    EQ_STR(refund_bank_answer(1013), "not_honored", "..13");
    EQ_STR(refund_bank_answer(13), "not_honored", "13");
    EQ_STR(refund_bank_answer(2514), "failed", "..14");
    EQ_STR(refund_bank_answer(1315), "refunded", "13 elsewhere than the last two digits");
}

static void test_validate(void)
{
    struct {
        const char *body;
        int err;
        const char *param;
    } bad[] = {
        {"{}", CS_EMISSING, "payment"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"charge\":1}", CS_EUNKNOWN, "charge"},
        {"{\"payment\":\"ord_01JPB3K7Q8X4N2M5R6T9V0W1YZ\"}", CS_EPARAM, "payment"},
        {"{\"payment\":42}", CS_EPARAM, "payment"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"amount\":0}", CS_EPARAM, "amount"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"amount\":-5}", CS_EPARAM, "amount"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"amount\":10.5}", CS_EPARAM, "amount"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"amount\":\"100\"}", CS_EPARAM, "amount"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"amount\":100000000001}", CS_EPARAM, "amount"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"reason\":\"abandoned\"}", CS_EPARAM, "reason"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"metadata\":[]}", CS_EPARAM, "metadata"},
        {"{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"metadata\":{\"k\":1}}", CS_EPARAM, "metadata.k"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cs_diag d = {0};
        json_t *body = json_loads(bad[i].body, 0, NULL), *params = NULL;
        int rc = refund_validate_create(body, &params, &d);
        EQ_INT(rc, bad[i].err, bad[i].body);
        EQ_STR(d.param, bad[i].param, bad[i].body);
        OK(params == NULL, "nothing made");
        json_decref(body);
    }
    struct cs_diag d = {0};
    json_t *body = json_loads("{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"amount\":2500,\"reason\":\"duplicate\","
                              "\"metadata\":{\"ticket\":\"T-1\"}}", 0, NULL), *params = NULL;
    EQ_INT(refund_validate_create(body, &params, &d), 0, "a good body");
    EQ_INT(json_integer_value(json_object_get(params, "amount")), 2500, "amount kept");
    EQ_STR(json_string_value(json_object_get(params, "reason")), "duplicate", "reason kept");
    json_decref(body);
    json_decref(params);
}

static json_t *params_of(const char *text)
{
    return json_loads(text, 0, NULL);
}

static void test_create(void)
{
    const char *id = "rfd_01JPB6C4E6G8J0K2M4P6R8T0V2";
    struct {
        const char *status;
        int64_t captured, refunded;
        const char *dispute;
        int64_t amount;      /* -1: none */
        int err;
        const char *param;
    } cases[] = {
        {"failed", 0, 0, NULL, -1, CS_ESTATE, "payment"},
        {"cancelled", 0, 0, NULL, -1, CS_ESTATE, "payment"},
        {"requires_payment", 0, 0, NULL, -1, CS_ESTATE, "payment"},
        {"authorized", 0, 0, NULL, 100, CS_ESTATE, "payment"},
        {"captured", 10000, 0, "dp_01JPB6C4E6G8J0K2M4P6R8T0V2", 100, CS_ESTATE, "payment"},
        {"captured", 10000, 10000, NULL, -1, CS_ESTATE, "payment"},
        {"captured", 10000, 10000, NULL, 1, CS_ESTATE, "payment"},
        {"captured", 10000, 6000, NULL, 4001, CS_EAMOUNT, "amount"},
        {"authorized", 3000, 0, NULL, 3001, CS_EAMOUNT, "amount"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cs_diag d = {0};
        json_t *p = payment(cases[i].status, cases[i].captured, cases[i].refunded), *data = NULL;
        if (cases[i].dispute)
            json_object_set_new(p, "dispute", json_string(cases[i].dispute));
        json_t *params = json_pack("{s:s}", "payment", "pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ");
        if (cases[i].amount > 0)
            json_object_set_new(params, "amount", json_integer(cases[i].amount));
        const char *type = NULL;
        int rc = refund_decide_create(p, NULL, params, id, "mer_1", 0, "api_key:x", MIDNIGHT_US, &type, &data, &d);
        EQ_INT(rc, cases[i].err, cases[i].status);
        EQ_STR(err_param(&d), cases[i].param, cases[i].status);
        OK(data == NULL, "no event");
        json_decref(p);
        json_decref(params);
    }

    /* No amount: all that is refundable; the payment's new total and ids. */
    struct cs_diag d = {0};
    json_t *p = payment("captured", 10000, 2500), *data = NULL;
    json_array_append_new(json_object_get(p, "refunds"), json_string("rfd_01JPB3TBX1Z3B5D7F9H1K3M5P7"));
    json_t *params = params_of("{\"payment\":\"pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ\",\"reason\":\"other\"}");
    const char *type = NULL;
    int64_t now = MIDNIGHT_US + 10 * HOUR_US;
    EQ_INT(refund_decide_create(p, NULL, params, id, "mer_1", 0, "api_key:x", now, &type, &data, &d), 0, "refund the rest");
    EQ_STR(type, "refund.created", "type");
    json_t *obj = json_object_get(data, "object");
    EQ_INT(json_integer_value(json_object_get(obj, "amount")), 7500, "the rest");
    EQ_STR(json_string_value(json_object_get(obj, "status")), "pending", "pending");
    EQ_STR(json_string_value(json_object_get(obj, "currency")), "EUR", "the payment's currency");
    EQ_INT(json_integer_value(json_object_get(obj, "version")), 1, "version 1");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "jobs"), "refund.send")),
           MIDNIGHT_US + DAY_US + 6 * HOUR_US, "sent at the next run");
    json_t *set = json_object_get(json_array_get(json_object_get(data, "related"), 0), "set");
    EQ_INT(json_integer_value(json_object_get(set, "amount_refunded")), 10000, "payment refunded in full");
    EQ_INT(json_array_size(json_object_get(set, "refunds")), 2, "two refunds");
    EQ_STR(json_string_value(json_array_get(json_object_get(set, "refunds"), 1)), id, "the new one last");
    EQ_INT(json_array_size(json_object_get(p, "refunds")), 1, "the payment document is not touched");

    /* Sending: sent, then the bank's answer two hours later. */
    json_t *refund = json_deep_copy(obj), *sdata = NULL;
    json_object_set(p, "amount_refunded", json_object_get(set, "amount_refunded"));
    json_object_set(p, "amount_refund_pending", json_object_get(set, "amount_refund_pending"));
    EQ_INT(json_integer_value(json_object_get(set, "amount_refund_pending")),
           json_integer_value(json_object_get(obj, "amount")), "pending until sent");
    int64_t run = MIDNIGHT_US + DAY_US + 6 * HOUR_US;
    EQ_INT(refund_decide_send(refund, p, NULL, run, &type, &sdata, &d), 0, "send");
    EQ_STR(type, "refund.sent", "sent");
    json_t *sent = json_object_get(sdata, "object");
    EQ_STR(json_string_value(json_object_get(sent, "status")), "sent", "status sent");
    EQ_INT(json_integer_value(json_object_get(sent, "version")), 2, "version 2");
    OK(json_is_null(json_object_get(json_object_get(sdata, "jobs"), "refund.send")), "send job done");
    EQ_INT(json_integer_value(json_object_get(json_object_get(sdata, "jobs"), "refund.settle")), run + 2 * HOUR_US,
           "settles 2 h later");
    json_t *sset = json_object_get(json_array_get(json_object_get(sdata, "related"), 0), "set");
    EQ_INT(json_integer_value(json_object_get(sset, "amount_refund_pending")), 0, "sent: no longer pending");
    EQ_INT(json_integer_value(json_object_get(sset, "amount_refunded")),
           json_integer_value(json_object_get(p, "amount_refunded")), "sent: still refunded");
    json_t *tdata = NULL;
    EQ_INT(refund_decide_send(sent, p, NULL, run, &type, &tdata, &d), CS_ESTATE, "a sent refund is not sent again");
    EQ_INT(refund_decide_settle(refund, p, run, &type, &tdata, &d), CS_ESTATE, "a pending refund does not settle");
    EQ_INT(refund_decide_settle(sent, p, run + 2 * HOUR_US, &type, &tdata, &d), 0, "settle");
    EQ_STR(type, "refund.refunded", "7500: refunded");
    EQ_STR(json_string_value(json_object_get(json_object_get(tdata, "object"), "status")), "refunded", "refunded");
    json_decref(tdata);

    /* ..13: not honored, the amount given back to the payment. */
    json_object_set_new(sent, "amount", json_integer(1013));
    tdata = NULL;
    EQ_INT(refund_decide_settle(sent, p, run + 2 * HOUR_US, &type, &tdata, &d), 0, "settle 1013");
    EQ_STR(type, "refund.not_honored", "1013: not honored");
    set = json_object_get(json_array_get(json_object_get(tdata, "related"), 0), "set");
    EQ_INT(json_integer_value(json_object_get(set, "amount_refunded")), 10000 - 1013, "given back");
    OK(json_object_get(set, "refunds") == NULL, "the refund stays in the payment's list");
    EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(tdata, "object"), "failure"), "code")),
           "refused_by_bank", "failure code");
    json_decref(tdata);
    json_object_set_new(sent, "amount", json_integer(2514));
    tdata = NULL;
    EQ_INT(refund_decide_settle(sent, p, run + 2 * HOUR_US, &type, &tdata, &d), 0, "settle 2514");
    EQ_STR(type, "refund.failed", "2514: failed");
    json_decref(tdata);

    /* Disputed before the run: payment_cancelled, the amount given back. */
    json_object_set_new(p, "dispute", json_string("dp_01JPB6C4E6G8J0K2M4P6R8T0V2"));
    tdata = NULL;
    EQ_INT(refund_decide_send(refund, p, NULL, run, &type, &tdata, &d), 0, "send a refund of a disputed payment");
    EQ_STR(type, "refund.payment_cancelled", "payment_cancelled");
    set = json_object_get(json_array_get(json_object_get(tdata, "related"), 0), "set");
    EQ_INT(json_integer_value(json_object_get(set, "amount_refunded")), 2500, "given back");
    json_t *failure = json_object_get(json_object_get(tdata, "object"), "failure");
    EQ_STR(json_string_value(json_object_get(failure, "dispute")), "dp_01JPB6C4E6G8J0K2M4P6R8T0V2", "names the dispute");
    OK(json_is_null(json_object_get(json_object_get(tdata, "jobs"), "refund.send")), "send job done");
    json_decref(tdata);

    /* A won dispute gave the money back to the merchant: refunds go again. */
    tdata = NULL;
    EQ_INT(refund_decide_send(refund, p, "lost", run, &type, &tdata, &d), 0, "send, dispute lost");
    EQ_STR(type, "refund.payment_cancelled", "lost: payment_cancelled");
    json_decref(tdata);
    tdata = NULL;
    EQ_INT(refund_decide_send(refund, p, "won", run, &type, &tdata, &d), 0, "send, dispute won");
    EQ_STR(type, "refund.sent", "won: sent");
    json_decref(tdata);
    json_t *q = json_pack("{s:s,s:I}", "payment", "pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "amount", (json_int_t)100);
    tdata = NULL;
    memset(&d, 0, sizeof d);
    json_object_set_new(p, "amount_refunded", json_integer(2500));
    EQ_INT(refund_decide_create(p, "under_review", q, id, "mer_1", 0, "api_key:x", run, &type, &tdata, &d), CS_ESTATE,
           "no refund while the dispute stands");
    EQ_STR(d.param, "payment", "names the payment");
    OK(strstr(d.message, "under_review") != NULL, "says the dispute's status: %s", d.message);
    EQ_INT(refund_decide_create(p, "won", q, id, "mer_1", 0, "api_key:x", run, &type, &tdata, &d), 0,
           "a refund after a won dispute");
    json_decref(tdata);
    json_decref(q);

    /* A refund of another payment is refused. */
    json_object_set_new(refund, "payment", json_string("pay_01JPB6C4E6G8J0K2M4P6R8T0V2"));
    tdata = NULL;
    EQ_INT(refund_decide_send(refund, p, NULL, run, &type, &tdata, &d), CS_ECORRUPT, "mismatched payment");

    json_decref(sdata);
    json_decref(refund);
    json_decref(data);
    json_decref(params);
    json_decref(p);
}

int main(void)
{
    test_next_run();
    test_bank();
    test_validate();
    test_create();
    return tap_done();
}
