/* The payment decide functions are pure: (document, command) -> event data.
 * Checked here: validation of each type, split rounding, capture bounds,
 * cancel and expiry, charge retries, the order of the risk rules. */
#include <string.h>
#include "core/payments.h"
#include "tests/unit/tap.h"

#define NOW 1795430258000000LL   /* 2026-11-23T10:37:38Z */
#define DAY (86400LL * 1000000)

static json_t *merchant(void)
{
    return json_pack("{s:s,s:s}", "id", "mer_1", "currency", "EUR");
}

static json_t *card_json(const char *bin, const char *last4)
{
    return json_pack("{s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:b,s:b,s:s}", "brand", "visa", "bin", bin, "last4", last4,
                     "exp_month", 12, "exp_year", 2030, "country", "FR", "funding", "credit", "virtual", 0,
                     "systematic_authorization", 0, "fingerprint",
                     "56fb4aee446945b434f222cdba0bbade0181c5a7f330c9e9c8175ba5bcaf0266");
}

static void facts(const char *bin, const char *last4, struct card_facts *f)
{
    json_t *j = card_json(bin, last4);
    card_facts_from_json(j, f);
    json_decref(j);
}

/* Creates a payment document from a body; returns data.object (new ref). */
static json_t *create(const char *body_text, const char *last4, const char **type)
{
    struct cs_diag d = {0};
    json_t *body = json_loads(body_text, 0, NULL), *m = merchant(), *draft = NULL, *data = NULL;
    json_t *risk = json_pack("{s:s,s:n}", "decision", "approved", "rule");
    struct card_facts f;
    facts(last4 ? "400000" : "424242", last4 ? last4 : "4242", &f);
    int rc = payment_validate_create(body, m, NOW, &draft, &d);
    if (rc == 0)
        rc = payment_decide_create(draft, &f, risk, "pay_1", "mer_1", 0, "api_key:x", NOW, type, &data, &d);
    json_t *doc = rc == 0 ? json_incref(json_object_get(data, "object")) : NULL;
    json_decref(body);
    json_decref(m);
    json_decref(draft);
    json_decref(data);
    json_decref(risk);
    return doc;
}

static int64_t iget(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_validation_names_fields(void)
{
    static const struct { const char *body; const char *param; } bad[] = {
        {"{\"amount\":0,\"currency\":\"EUR\"}", "amount"},
        {"{\"amount\":10,\"currency\":\"GBP\"}", "currency"},
        {"{\"amount\":10,\"currency\":\"EUR\",\"type\":\"x\"}", "type"},
        {"{\"amount\":10,\"currency\":\"EUR\",\"type\":\"split\"}", "split"},
        {"{\"amount\":2,\"currency\":\"EUR\",\"type\":\"split\",\"split\":{\"count\":3}}", "amount"},
        {"{\"amount\":10,\"currency\":\"EUR\",\"type\":\"deposit\",\"deposit\":{\"amount\":10}}", "deposit.amount"},
        {"{\"amount\":10,\"currency\":\"EUR\",\"deposit\":{\"amount\":1}}", "deposit"},
        {"{\"amount\":10,\"currency\":\"EUR\",\"customer\":{\"phone\":\"0612\"}}", "customer.phone"},
        {"{\"amount\":10,\"currency\":\"EUR\",\"metadata\":{\"k\":1}}", "metadata.k"},
    };
    json_t *m = merchant();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct cs_diag d = {0};
        json_t *body = json_loads(bad[i].body, 0, NULL), *draft = NULL;
        OK(payment_validate_create(body, m, NOW, &draft, &d) != 0, "refused: %s", bad[i].body);
        EQ_STR(d.param, bad[i].param, bad[i].body);
        OK(draft == NULL, "no draft");
        json_decref(body);
    }
    json_decref(m);
}

static void test_split_rounding_and_schedule(void)
{
    const char *type = NULL;
    json_t *p = create("{\"amount\":1000,\"currency\":\"EUR\",\"type\":\"split\",\"split\":{\"count\":3,\"interval_days\":10}}",
                       NULL, &type);
    OK(p != NULL, "split created");
    EQ_STR(type, "payment.authorized", "authorized while charges remain");
    json_t *ch = json_object_get(p, "charges");
    EQ_INT(json_array_size(ch), 3, "three charges");
    EQ_INT(iget(json_array_get(ch, 0), "amount"), 334, "remainder on the first");
    EQ_INT(iget(json_array_get(ch, 1), "amount"), 333, "second");
    EQ_INT(iget(json_array_get(ch, 2), "amount"), 333, "third");
    EQ_STR(sget(json_array_get(ch, 1), "due_at"), "2026-12-03T06:00:00.000000Z", "10 days later at 06:00 UTC");
    EQ_INT(iget(p, "amount_captured"), 334, "first collected");
    json_decref(p);
}

static void test_capture_bounds_and_cancel(void)
{
    const char *type = NULL;
    struct cs_diag d = {0};
    json_t *p = create("{\"amount\":5000,\"currency\":\"EUR\",\"type\":\"deferred\"}", NULL, &type), *data = NULL;
    EQ_STR(type, "payment.authorized", "deferred authorizes");
    EQ_INT(payment_decide_capture(p, 5001, NOW, &type, &data, &d), CS_EAMOUNT, "above the authorization");
    EQ_STR(d.param, "amount", "names amount");
    EQ_INT(payment_decide_capture(p, 2000, NOW + 1, &type, &data, &d), 0, "partial capture");
    EQ_STR(type, "payment.partially_captured", "partial type");
    json_t *q = json_incref(json_object_get(data, "object"));
    json_decref(data);
    EQ_INT(iget(q, "version"), 2, "version moves");
    EQ_INT(payment_decide_capture(q, 3001, NOW + 2, &type, &data, &d), CS_EAMOUNT, "above what remains");
    EQ_INT(payment_decide_cancel(q, "bored", NOW + 2, &type, &data, &d), CS_EPARAM, "unknown reason");
    EQ_INT(payment_decide_cancel(q, NULL, NOW + 2, &type, &data, &d), 0, "cancel the rest");
    json_t *r = json_object_get(data, "object");
    EQ_STR(sget(r, "status"), "captured", "part captured: captured");
    EQ_INT(iget(json_object_get(r, "cancellation"), "amount_released"), 3000, "the rest released");
    EQ_INT(payment_decide_cancel(r, NULL, NOW + 3, &type, &data, &d) == 0 ? 0 : d.err, CS_ESTATE, "captured cannot cancel");
    json_decref(data);
    json_decref(q);
    json_decref(p);
}

static void test_expiry(void)
{
    const char *type = NULL;
    struct cs_diag d = {0};
    json_t *p = create("{\"amount\":5000,\"currency\":\"EUR\",\"type\":\"at_delivery\"}", NULL, &type), *data = NULL;
    EQ_STR(sget(json_object_get(p, "authorization"), "expires_at"), "2026-12-23T10:37:38.000000Z", "30 days");
    EQ_INT(payment_decide_expire(p, NOW + 30 * DAY, &type, &data, &d), 0, "expires");
    EQ_STR(type, "payment.authorization_expired", "type");
    EQ_STR(sget(json_object_get(data, "object"), "status"), "cancelled", "nothing captured: cancelled");
    json_decref(data);
    json_decref(p);
    p = create("{\"amount\":5000,\"currency\":\"EUR\"}", NULL, &type);
    EQ_INT(payment_decide_expire(p, NOW + 30 * DAY, &type, &data, &d), CS_ESTATE, "captured: stale job");
    json_decref(p);
}

static void test_charge_retry(void)
{
    const char *type = NULL;
    struct cs_diag d = {0};
    /* 0341: later charges fail on their first attempt */
    json_t *p = create("{\"amount\":900,\"currency\":\"EUR\",\"type\":\"split\",\"split\":{\"count\":3}}", "0341", &type);
    json_t *data = NULL;
    EQ_INT(payment_decide_charge(p, NOW + DAY, DAY, &type, &data, &d), CS_ESTATE, "not due yet");
    EQ_INT(payment_decide_charge(p, NOW + 31 * DAY, DAY, &type, &data, &d), 0, "second charge runs");
    EQ_STR(type, "payment.charge_failed", "fails the first time");
    json_t *q = json_incref(json_object_get(data, "object"));
    EQ_INT(iget(json_object_get(data, "jobs"), "payment.charge"), NOW + 32 * DAY, "retry a day later");
    json_decref(data);
    EQ_INT(payment_decide_charge(q, NOW + 32 * DAY, DAY, &type, &data, &d), 0, "retry");
    EQ_STR(type, "payment.charge_succeeded", "passes on retry");
    EQ_INT(iget(json_object_get(data, "object"), "amount_captured"), 600, "two collected");
    json_decref(data);
    EQ_INT(payment_decide_charge(q, NOW + 32 * DAY, -1, &type, &data, &d), 0, "no-retry policy, attempt 2");
    json_decref(data);
    json_decref(q);
    /* with no retry, a failed charge stops the schedule */
    EQ_INT(payment_decide_charge(p, NOW + 31 * DAY, -1, &type, &data, &d), 0, "fails for good");
    EQ_STR(sget(json_object_get(json_object_get(data, "object"), "failure"), "code"), "insufficient_funds", "failure set");
    OK(json_is_null(json_object_get(json_object_get(data, "jobs"), "payment.charge")), "nothing scheduled");
    json_decref(data);
    json_decref(p);
}

static void test_risk_rule_order(void)
{
    json_t *card = card_json("424242", "4242");
    json_object_set_new(card, "virtual", json_true());
    json_t *counters = json_pack("{s:i,s:i,s:i}", "count", 2, "amount", 3000, "outstanding", 9000);
    json_t *s = json_pack("{s:[s],s:[s],s:[s],s:b,s:{s:i},s:{s:i,s:i}}", "blocked_cards",
                          "56fb4aee446945b434f222cdba0bbade0181c5a7f330c9e9c8175ba5bcaf0266", "blocked_bins", "424242",
                          "blocked_card_countries", "fr", "block_virtual_cards", 1, "card_outstanding_limit", "amount",
                          10000, "velocity", "max_count", 3, "max_amount", 5000);
    static const char *const order[] = {"blocked_cards", "blocked_bins", "blocked_card_countries", "block_virtual_cards",
                                        "card_outstanding_limit", NULL};
    static const char *const rule[] = {"card_grey_list", "bin_grey_list", "card_country_grey_list",
                                       "virtual_card_filter", "card_outstanding_limit"};
    for (int i = 0; order[i]; i++) {
        EQ_STR(payment_risk_rule(s, card, 1001, counters), rule[i], order[i]);
        json_object_del(s, order[i]);
    }
    EQ_STR(payment_risk_rule(s, card, 2001, counters), "velocity_amount", "3000 + 2001 > 5000");
    json_object_set_new(counters, "count", json_integer(3));
    EQ_STR(payment_risk_rule(s, card, 1, counters), "velocity_count", "the 4th in the window");
    json_object_set_new(counters, "count", json_integer(1));
    OK(payment_risk_rule(s, card, 1, counters) == NULL, "within every limit");
    OK(payment_risk_rule(NULL, card, 1, counters) == NULL, "no settings: nothing refused");
    json_decref(s);
    json_decref(card);
    json_decref(counters);
}

int main(void)
{
    test_validation_names_fields();
    test_split_rounding_and_schedule();
    test_capture_bounds_and_cancel();
    test_expiry();
    test_charge_retry();
    test_risk_rule_order();
    return tap_done();
}
