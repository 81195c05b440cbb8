/* Risk settings: validation of a partial update (each error names its field)
 * and the merge into the current settings; the settings then drive
 * payment_risk_rule(). */
#include <string.h>
#include "core/risk_settings.h"
#include "core/payments.h"
#include "tests/unit/tap.h"

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void refused(const char *body_text, const char *param, const char *what)
{
    struct cs_diag d = {0};
    json_t *body = json_loads(body_text, 0, NULL), *patch = NULL;
    int rc = risk_settings_validate(body, &patch, &d);
    OK(rc != 0 && patch == NULL, "refused: %s", what);
    EQ_STR(d.param, param, what);
    json_decref(body);
}

static json_t *accepted(const char *body_text)
{
    struct cs_diag d = {0};
    json_t *body = json_loads(body_text, 0, NULL), *patch = NULL;
    int rc = risk_settings_validate(body, &patch, &d);
    OK(rc == 0 && patch, "accepted: %s (%s)", body_text, d.message);
    json_decref(body);
    return patch;
}

static void test_validation(void)
{
    refused("{}", "", "an empty update");
    refused("{\"blocked_pans\": []}", "blocked_pans", "an unknown field");
    refused("{\"blocked_bins\": \"424242\"}", "blocked_bins", "a list that is not an array");
    refused("{\"blocked_bins\": null}", "blocked_bins", "a null list");
    refused("{\"blocked_bins\": [\"424242\", \"400000\", \"42424\"]}", "blocked_bins[2]", "a 5-digit BIN");
    refused("{\"blocked_bins\": [\"42424a\"]}", "blocked_bins[0]", "a BIN with a letter");
    refused("{\"blocked_bins\": [424242]}", "blocked_bins[0]", "a BIN as a number");
    refused("{\"blocked_cards\": [\"" FP_A "\", \"xyz\"]}", "blocked_cards[1]", "a short fingerprint");
    refused("{\"blocked_cards\": [\"" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "\"]}",
            "blocked_cards[0]", "an upper-case fingerprint");
    refused("{\"blocked_card_countries\": [\"FR\", \"br\"]}", "blocked_card_countries[1]", "a lower-case country");
    refused("{\"blocked_card_countries\": [\"FRA\"]}", "blocked_card_countries[0]", "an alpha-3 country");
    refused("{\"card_outstanding_limit\": 10000}", "card_outstanding_limit", "a limit that is not an object");
    refused("{\"card_outstanding_limit\": {}}", "card_outstanding_limit.amount", "a limit without amount");
    refused("{\"card_outstanding_limit\": {\"amount\": 0}}", "card_outstanding_limit.amount", "a zero limit");
    refused("{\"card_outstanding_limit\": {\"amount\": 100, \"window_days\": 0}}", "card_outstanding_limit.window_days",
            "a zero window");
    refused("{\"card_outstanding_limit\": {\"amount\": 100, \"window_days\": 367}}",
            "card_outstanding_limit.window_days", "a window over a year");
    refused("{\"card_outstanding_limit\": {\"amount\": 100, \"days\": 3}}", "card_outstanding_limit.days",
            "an unknown limit field");
    refused("{\"velocity\": {}}", "velocity.max_count", "a velocity without a maximum");
    refused("{\"velocity\": {\"window_hours\": 2}}", "velocity.max_count", "a velocity with only a window");
    refused("{\"velocity\": {\"max_count\": 0}}", "velocity.max_count", "a zero count");
    refused("{\"velocity\": {\"max_amount\": 1.5}}", "velocity.max_amount", "a float amount");
    refused("{\"velocity\": {\"max_count\": 3, \"window_hours\": 745}}", "velocity.window_hours", "a window over a month");
    refused("{\"velocity\": []}", "velocity", "a velocity that is an array");
    refused("{\"block_virtual_cards\": \"yes\"}", "block_virtual_cards", "a string for a bool");
    refused("{\"block_systematic_authorization\": null}", "block_systematic_authorization", "null for a bool");
    refused("{\"block_systematic_authorization\": 1}", "block_systematic_authorization", "1 for a bool");

    /* a list of 1001 entries */
    json_t *many = json_array();
    for (int i = 0; i < 1001; i++) {
        char bin[8];
        snprintf(bin, sizeof bin, "%06d", i);
        json_array_append_new(many, json_string(bin));
    }
    json_t *body = json_pack("{s:o}", "blocked_bins", many), *patch = NULL;
    struct cs_diag d = {0};
    OK(risk_settings_validate(body, &patch, &d) != 0, "more than 1000 entries are refused");
    EQ_STR(d.param, "blocked_bins", "naming the list");
    json_array_remove(many, 1000);
    OK(risk_settings_validate(body, &patch, &d) == 0, "1000 entries are fine");
    json_decref(patch);
    json_decref(body);
}

static void test_normalised(void)
{
    json_t *p = accepted("{\"blocked_bins\": [\"400000\", \"424242\", \"400000\", \"555555\", \"424242\"]}");
    json_t *bins = json_object_get(p, "blocked_bins");
    EQ_INT(json_array_size(bins), 3, "duplicates removed");
    EQ_STR(json_string_value(json_array_get(bins, 0)), "400000", "first kept in place");
    EQ_STR(json_string_value(json_array_get(bins, 1)), "424242", "order kept");
    EQ_STR(json_string_value(json_array_get(bins, 2)), "555555", "order kept");
    EQ_INT(json_object_size(p), 1, "only the given field");
    json_decref(p);

    p = accepted("{\"card_outstanding_limit\": {\"amount\": 10000}, \"velocity\": {\"max_count\": 3}}");
    EQ_INT(json_integer_value(json_object_get(json_object_get(p, "card_outstanding_limit"), "window_days")), 30,
           "the outstanding window defaults to 30 days");
    json_t *v = json_object_get(p, "velocity");
    EQ_INT(json_integer_value(json_object_get(v, "window_hours")), 24, "the velocity window defaults to 24 h");
    OK(json_is_null(json_object_get(v, "max_amount")), "an absent maximum is null");
    json_decref(p);

    p = accepted("{\"velocity\": null, \"card_outstanding_limit\": null, \"blocked_cards\": []}");
    OK(json_is_null(json_object_get(p, "velocity")) && json_is_null(json_object_get(p, "card_outstanding_limit")),
       "null turns a limit off");
    json_decref(p);
}

static void test_apply(void)
{
    json_t *defaults = risk_settings_defaults();
    json_t *p1 = accepted("{\"blocked_bins\": [\"400000\"], \"block_virtual_cards\": true}");
    json_t *prev = NULL;
    json_t *s1 = risk_settings_apply(NULL, p1, &prev);
    EQ_INT(json_object_size(s1), 7, "all seven fields");
    OK(json_is_true(json_object_get(s1, "block_virtual_cards")), "set");
    OK(json_equal(json_object_get(s1, "blocked_cards"), json_object_get(defaults, "blocked_cards")), "others default");
    EQ_INT(json_object_size(prev), 2, "two fields changed");
    OK(json_is_false(json_object_get(prev, "block_virtual_cards")), "previous value recorded");
    json_decref(prev);

    /* a second partial update keeps what the first set */
    json_t *p2 = accepted("{\"blocked_card_countries\": [\"BR\"], \"block_virtual_cards\": true}");
    json_t *s2 = risk_settings_apply(s1, p2, &prev);
    EQ_STR(json_string_value(json_array_get(json_object_get(s2, "blocked_bins"), 0)), "400000", "kept");
    EQ_STR(json_string_value(json_array_get(json_object_get(s2, "blocked_card_countries"), 0)), "BR", "added");
    EQ_INT(json_object_size(prev), 1, "an unchanged value is not in previous");
    json_decref(prev);

    /* the settings drive the controls */
    json_t *card = json_pack("{s:s,s:s,s:s,s:b,s:b}", "fingerprint", FP_B, "bin", "424242", "country", "BR",
                             "virtual", 0, "systematic_authorization", 0);
    json_t *counters = json_pack("{s:i,s:i,s:i}", "count", 0, "amount", 0, "outstanding", 0);
    EQ_STR(payment_risk_rule(s2, card, 100, counters), "card_country_grey_list", "a blocked country");
    json_t *p3 = accepted("{\"blocked_card_countries\": [], \"card_outstanding_limit\": {\"amount\": 10000}}");
    json_t *s3 = risk_settings_apply(s2, p3, NULL);
    OK(payment_risk_rule(s3, card, 10000, counters) == NULL, "up to the limit");
    EQ_STR(payment_risk_rule(s3, card, 10001, counters), "card_outstanding_limit", "past it");
    json_decref(card);
    json_decref(counters);

    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(defaults);
}

int main(void)
{
    test_validation();
    test_normalised();
    test_apply();
    return tap_done();
}
