/* The built-in policies through policy_call: plans.offer and risk.decide. */
#include "tests/unit/lua/lua_test_util.h"
#include "core/errors.h"

static json_t *offer_of(json_t *out, const char *product)
{
    json_t *offers = json_object_get(out, "offers");
    size_t i;
    json_t *o;
    json_array_foreach(offers, i, o)
        if (strcmp(json_string_value(json_object_get(o, "product")), product) == 0)
            return o;
    return NULL;
}

static int64_t iget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
}

static const char *sget(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int64_t schedule_sum(json_t *offer, const char *field)
{
    int64_t sum = 0;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(offer, "schedule"), i, row) {
        if (!json_is_integer(json_object_get(row, field)))
            return INT64_MIN;
        sum += json_integer_value(json_object_get(row, field));
    }
    return sum;
}

static void test_pay_in_3(struct policy_engine *e)
{
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "plans.offer",
        "{\"amount\":30000,\"currency\":\"EUR\",\"country\":\"FR\",\"purchase_date\":\"2026-01-31\","
        "\"livemode\":false,\"merchant\":{\"id\":\"mer_1\"}}", &rc, &d);
    EQ_INT(rc, 0, "plans.offer 300.00 EUR succeeds");
    if (rc)
        printf("#   %s\n", d.message);
    json_t *p3 = offer_of(out, "pay_in_3");
    OK(p3 != NULL, "pay_in_3 offered for 300.00");
    EQ_INT(iget(p3, "instalments"), 3, "pay_in_3 has 3 instalments");
    EQ_INT(iget(p3, "setup_fee"), 0, "no setup fee by default");
    EQ_INT(iget(p3, "total"), 30000, "pay_in_3 total is the amount");
    EQ_INT(schedule_sum(p3, "amount"), 30000, "schedule amounts sum to the amount");
    json_t *sch = json_object_get(p3, "schedule");
    EQ_INT(json_array_size(sch), 3, "3 schedule rows");
    EQ_STR(sget(json_array_get(sch, 0), "due_date"), "2026-01-31", "instalment 1 on the purchase date");
    EQ_STR(sget(json_array_get(sch, 1), "due_date"), "2026-02-28", "instalment 2 clamped to 28 Feb");
    EQ_STR(sget(json_array_get(sch, 2), "due_date"), "2026-03-31", "instalment 3 back on the 31st");
    EQ_INT(iget(json_array_get(sch, 2), "number"), 3, "rows are numbered");
    EQ_INT(json_array_size(json_object_get(out, "offers")), 6, "300.00 gets all six products");
    json_decref(out);

    /* Uneven split, setup fee, leap year. */
    out = call_json(e, "plans.offer",
        "{\"amount\":10001,\"currency\":\"EUR\",\"country\":\"FR\",\"purchase_date\":\"2028-01-31\","
        "\"livemode\":false,\"merchant\":{\"id\":\"mer_1\",\"setup_fee_pay_in_3\":150}}", &rc, &d);
    EQ_INT(rc, 0, "plans.offer 100.01 succeeds");
    p3 = offer_of(out, "pay_in_3");
    sch = json_object_get(p3, "schedule");
    EQ_INT(iget(json_array_get(sch, 0), "amount"), 3334, "remainder to the first instalment");
    EQ_INT(iget(json_array_get(sch, 1), "amount"), 3334, "remainder to the second instalment");
    EQ_INT(iget(json_array_get(sch, 2), "amount"), 3333, "last instalment gets the quotient");
    EQ_INT(schedule_sum(p3, "amount"), 10001, "uneven schedule still sums to the amount");
    EQ_INT(iget(json_array_get(sch, 0), "fee"), 150, "setup fee charged with instalment 1");
    EQ_INT(iget(json_array_get(sch, 1), "fee"), 0, "no fee on instalment 2");
    EQ_INT(iget(p3, "setup_fee"), 150, "setup fee shown up front");
    EQ_INT(iget(p3, "total"), 10151, "total = amount + setup fee");
    EQ_STR(sget(json_array_get(sch, 1), "due_date"), "2028-02-29", "leap year: 29 Feb");
    json_decref(out);
}

static void test_instalments(struct policy_engine *e)
{
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "plans.offer",
        "{\"amount\":100000,\"currency\":\"EUR\",\"country\":\"FR\",\"purchase_date\":\"2026-03-15\","
        "\"livemode\":true,\"merchant\":{\"id\":\"mer_1\"}}", &rc, &d);
    EQ_INT(rc, 0, "plans.offer 1000.00 succeeds");
    json_t *i12 = offer_of(out, "instalments_12");
    EQ_INT(iget(i12, "instalments"), 12, "instalments_12 has 12 instalments");
    EQ_INT(iget(i12, "fee_per_instalment"), 250, "500.00..1499.99 band: 2.50 per instalment");
    EQ_INT(iget(i12, "total_fees"), 3000, "total fees 12 x 2.50");
    EQ_INT(iget(i12, "total"), 103000, "total = amount + fees");
    EQ_INT(schedule_sum(i12, "amount"), 100000, "principal sums to the amount");
    EQ_INT(schedule_sum(i12, "fee"), 3000, "fees sum to total_fees");
    EQ_STR(sget(json_array_get(json_object_get(i12, "schedule"), 11), "due_date"), "2027-02-15",
           "12th instalment 11 months later");
    json_decref(out);

    static const struct { int64_t amount; int64_t fee; } bands[] = {
        { 10000, 100 }, { 49999, 100 }, { 50000, 250 }, { 149999, 250 }, { 150000, 400 }, { 500000, 400 },
    };
    for (size_t i = 0; i < sizeof bands / sizeof bands[0]; i++) {
        char in[256];
        snprintf(in, sizeof in, "{\"amount\":%lld,\"currency\":\"EUR\",\"purchase_date\":\"2026-01-01\","
                 "\"requested\":\"instalments_6\"}", (long long)bands[i].amount);
        out = call_json(e, "plans.offer", in, &rc, &d);
        char what[96];
        snprintf(what, sizeof what, "fee band for %lld", (long long)bands[i].amount);
        EQ_INT(iget(offer_of(out, "instalments_6"), "fee_per_instalment"), bands[i].fee, what);
        json_decref(out);
    }
}

static void test_requested(struct policy_engine *e)
{
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "plans.offer",
        "{\"amount\":30000,\"currency\":\"EUR\",\"purchase_date\":\"2026-01-10\",\"requested\":\"instalments_9\"}",
        &rc, &d);
    json_t *offers = json_object_get(out, "offers");
    EQ_INT(json_array_size(offers), 1, "requested: exactly one offer");
    EQ_STR(sget(json_array_get(offers, 0), "product"), "instalments_9", "requested: the requested one");
    json_decref(out);

    out = call_json(e, "plans.offer",
        "{\"amount\":400000,\"currency\":\"EUR\",\"purchase_date\":\"2026-01-10\",\"requested\":\"pay_in_3\"}",
        &rc, &d);
    EQ_INT(rc, 0, "requested but unavailable: still succeeds");
    offers = json_object_get(out, "offers");
    OK(json_is_array(offers) && json_array_size(offers) == 0, "pay_in_3 above 3000.00: empty offers array []");
    json_decref(out);

    out = call_json(e, "plans.offer",
        "{\"amount\":30000,\"currency\":\"EUR\",\"purchase_date\":\"2026-01-10\",\"requested\":\"instalments_7\"}",
        &rc, &d);
    OK(json_is_array(json_object_get(out, "offers")) && json_array_size(json_object_get(out, "offers")) == 0,
       "unknown product: empty offers");
    json_decref(out);

    out = call_json(e, "plans.offer", "{\"amount\":6000,\"currency\":\"EUR\",\"purchase_date\":\"2026-01-10\"}",
                    &rc, &d);
    EQ_INT(json_array_size(json_object_get(out, "offers")), 1, "60.00: only pay_in_3");
    OK(offer_of(out, "pay_in_3") != NULL, "60.00: pay_in_3 it is");
    json_decref(out);

    out = call_json(e, "plans.offer", "{\"amount\":300.5,\"currency\":\"EUR\",\"purchase_date\":\"2026-01-10\"}",
                    &rc, &d);
    EQ_INT(rc, CS_EPOLICYFAIL, "float amount: policy failure");
    CONTAINS(d.message, "policy plans.offer failed: plans.lua:", "float amount: message names plans.lua:line");
    OK(out == NULL, "no output on failure");
}

static const char *risk_decision(struct policy_engine *e, const char *email, const char *birth, int live)
{
    static char buf[32];
    char in[1024];
    snprintf(in, sizeof in,
             "{\"amount\":30000,\"currency\":\"EUR\",\"country\":\"FR\",\"product\":\"pay_in_3\",\"livemode\":%s,"
             "\"purchase_date\":\"2026-01-31\",\"merchant\":{\"id\":\"mer_1\"},"
             "\"customer\":{\"first_name\":\"Jane\",\"last_name\":\"Doe\",\"email\":\"%s\",\"phone\":\"+33600000000\","
             "%s%s%s \"id_document\":{\"type\":\"passport\",\"number\":\"X1\"}}}",
             live ? "true" : "false", email, birth ? "\"birth_date\":\"" : "", birth ? birth : "", birth ? "\"," : "");
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "risk.decide", in, &rc, &d);
    if (rc) {
        snprintf(buf, sizeof buf, "error %d", rc);
        printf("#   %s\n", d.message);
        return buf;
    }
    if (json_object_size(out) != 1)
        snprintf(buf, sizeof buf, "extra keys");
    else
        snprintf(buf, sizeof buf, "%s", sget(out, "decision") ? sget(out, "decision") : "(none)");
    json_decref(out);
    return buf;
}

static void test_risk(struct policy_engine *e)
{
    EQ_STR(risk_decision(e, "jane@example.com", "1990-05-01", 0), "approved", "ordinary adult: approved");
    EQ_STR(risk_decision(e, "jane+reject@example.com", "1990-05-01", 0), "rejected", "+reject: rejected");
    EQ_STR(risk_decision(e, "Jane+Review@example.com", "1990-05-01", 0), "review", "+review (any case): review");
    EQ_STR(risk_decision(e, "jane+reject@example.com", "1990-05-01", 1), "approved",
           "magic customers only in test mode");
    EQ_STR(risk_decision(e, "jane@reject.example", "1990-05-01", 0), "approved", "magic only in the local part");
    EQ_STR(risk_decision(e, "teen@example.com", "2008-02-01", 0), "rejected", "17 at purchase: rejected");
    EQ_STR(risk_decision(e, "teen@example.com", "2008-01-31", 0), "approved", "18 on the purchase day: approved");
    EQ_STR(risk_decision(e, "teen@example.com", "2008-02-01", 1), "rejected", "under 18 rejected in live mode too");
    EQ_STR(risk_decision(e, "teen+review@example.com", "2010-01-01", 0), "rejected", "under 18 beats +review");
    EQ_STR(risk_decision(e, "jane@example.com", NULL, 0), "review", "no birth date: review");
}

int main(void)
{
    struct cs_diag d;
    struct policy_engine *e = NULL;
    int rc = policy_engine_new(NULL, &e, &d);
    EQ_INT(rc, 0, "engine with built-ins only");
    if (rc) {
        printf("#   %s\n", d.message);
        return tap_done();
    }
    test_pay_in_3(e);
    test_instalments(e);
    test_requested(e);
    test_risk(e);
    json_t *out = NULL;
    json_t *in = json_object();
    EQ_INT(policy_call(e, "nope.nothing", in, &out, &d), CS_ENOTFOUND, "unknown hook: CS_ENOTFOUND");
    json_decref(in);
    policy_engine_free(e);
    return tap_done();
}
