/* The built-in country.rules (lua/policy/countries.lua and the countries/ files):
 * public holidays and business days of FR, ES, PT and IT, VAT rates, accepted
 * ID documents by purpose, Portugal's credit-intermediary rule and its
 * override. */
#include "tests/unit/lua/lua_test_util.h"
#include "core/errors.h"

static const char *sget(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int64_t iget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
}

/* country.rules for (country, purpose, date, credit_intermediary). */
static json_t *rules(struct policy_engine *e, const char *country, const char *purpose, const char *date,
                     int intermediary)
{
    char in[400];
    snprintf(in, sizeof in,
             "{\"country\":\"%s\",\"purpose\":\"%s\",\"date\":\"%s\","
             "\"merchant\":{\"id\":\"mer_1\",\"credit_intermediary\":%s}}",
             country, purpose, date, intermediary ? "true" : "false");
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "country.rules", in, &rc, &d);
    if (rc)
        printf("#   country.rules %s %s %s: %s\n", country, purpose, date, d.message);
    return out;
}

/* Checks business_day, the holiday's name (NULL: none) and next_business_day. */
static void day(struct policy_engine *e, const char *country, const char *date, int business,
                const char *holiday, const char *next)
{
    json_t *out = rules(e, country, "credit_application", date, 0);
    char what[160];
    snprintf(what, sizeof what, "%s %s is %sa business day", country, date, business ? "" : "not ");
    OK(out && json_is_boolean(json_object_get(out, "business_day")) &&
           json_is_true(json_object_get(out, "business_day")) == business, "%s", what);
    snprintf(what, sizeof what, "%s %s holiday %s", country, date, holiday ? holiday : "(none)");
    if (holiday)
        EQ_STR(sget(out, "holiday"), holiday, what);
    else
        OK(json_object_get(out, "holiday") == NULL, "%s", what);
    snprintf(what, sizeof what, "%s next business day after %s", country, date);
    EQ_STR(sget(out, "next_business_day"), next, what);
    json_decref(out);
}

/* The year's holiday dates of a country, "MM-DD,MM-DD,...", through an
 * override hook over the countries.holidays helper. */
static void year(struct policy_engine *e, const char *country, int y, const char *want)
{
    char in[100], got[400] = "", what[100];
    snprintf(in, sizeof in, "{\"country\":\"%s\",\"year\":%d}", country, y);
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "test.holidays", in, &rc, &d);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(out, "rows"), i, row) {
        const char *date = sget(row, "date");
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%s", n ? "," : "", date ? date + 5 : "?");
    }
    snprintf(what, sizeof what, "%s public holidays %d", country, y);
    EQ_STR(got, want, what);
    json_decref(out);
}

static void test_holiday_tables(struct policy_engine *e)
{
    year(e, "FR", 2026, "01-01,04-06,05-01,05-08,05-14,05-25,07-14,08-15,11-01,11-11,12-25");
    year(e, "FR", 2027, "01-01,03-29,05-01,05-06,05-08,05-17,07-14,08-15,11-01,11-11,12-25");
    year(e, "ES", 2026, "01-01,01-06,04-03,05-01,08-15,10-12,11-01,12-06,12-08,12-25");
    year(e, "ES", 2027, "01-01,01-06,03-26,05-01,08-15,10-12,11-01,12-06,12-08,12-25");
    year(e, "PT", 2026, "01-01,04-03,04-05,04-25,05-01,06-04,06-10,08-15,10-05,11-01,12-01,12-08,12-25");
    year(e, "PT", 2027, "01-01,03-26,03-28,04-25,05-01,05-27,06-10,08-15,10-05,11-01,12-01,12-08,12-25");
    year(e, "IT", 2026, "01-01,01-06,04-06,04-25,05-01,06-02,08-15,10-04,11-01,12-08,12-25,12-26");
    year(e, "IT", 2027, "01-01,01-06,03-29,04-25,05-01,06-02,08-15,10-04,11-01,12-08,12-25,12-26");
    year(e, "IT", 2025, "01-01,01-06,04-21,04-25,05-01,06-02,08-15,11-01,12-08,12-25,12-26");
    year(e, "FR", 2028, "01-01,04-17,05-01,05-08,05-25,06-05,07-14,08-15,11-01,11-11,12-25");
    year(e, "PT", 2025, "01-01,04-18,04-20,04-25,05-01,06-10,06-19,08-15,10-05,11-01,12-01,12-08,12-25");
    year(e, "ES", 2028, "01-01,01-06,04-14,05-01,08-15,10-12,11-01,12-06,12-08,12-25");

    struct cs_diag d;
    int rc;
    static const char *const easter[][2] = {
        {"2025", "2025-04-20"}, {"2026", "2026-04-05"}, {"2027", "2027-03-28"}, {"2028", "2028-04-16"},
        {"2000", "2000-04-23"}, {"2038", "2038-04-25"},
    };
    for (size_t i = 0; i < sizeof easter / sizeof *easter; i++) {
        char in[40], what[60];
        snprintf(in, sizeof in, "{\"year\":%s}", easter[i][0]);
        json_t *out = call_json(e, "test.easter", in, &rc, &d);
        snprintf(what, sizeof what, "Easter Sunday %s", easter[i][0]);
        EQ_STR(sget(out, "date"), easter[i][1], what);
        json_decref(out);
    }
}

static void test_days(struct policy_engine *e)
{
    /* 2026 */
    day(e, "FR", "2026-05-25", 0, "Whit Monday", "2026-05-26");
    day(e, "FR", "2026-05-14", 0, "Ascension Day", "2026-05-15");
    day(e, "PT", "2026-06-04", 0, "Corpus Christi", "2026-06-05");
    day(e, "IT", "2026-12-08", 0, "Immaculate Conception", "2026-12-09");
    day(e, "ES", "2026-10-12", 0, "National Day of Spain", "2026-10-13");
    day(e, "ES", "2026-04-03", 0, "Good Friday", "2026-04-06");
    day(e, "PT", "2026-04-03", 0, "Good Friday", "2026-04-06");
    day(e, "FR", "2026-04-03", 1, NULL, "2026-04-07");            /* no Good Friday in FR; Easter Monday next */
    day(e, "IT", "2026-04-06", 0, "Easter Monday", "2026-04-07");
    day(e, "ES", "2026-04-06", 1, NULL, "2026-04-07");            /* Easter Monday is regional in ES */
    day(e, "ES", "2026-04-02", 1, NULL, "2026-04-06");            /* Holy Thursday regional; Good Friday + weekend */
    day(e, "PT", "2026-06-10", 0, "Portugal Day", "2026-06-11");
    day(e, "IT", "2026-06-02", 0, "Republic Day", "2026-06-03");
    day(e, "FR", "2026-07-14", 0, "Bastille Day", "2026-07-15");
    /* 2027 */
    day(e, "FR", "2027-03-29", 0, "Easter Monday", "2027-03-30");
    day(e, "IT", "2027-03-29", 0, "Easter Monday", "2027-03-30");
    day(e, "ES", "2027-03-29", 1, NULL, "2027-03-30");
    day(e, "PT", "2027-03-26", 0, "Good Friday", "2027-03-29");
    day(e, "PT", "2027-05-27", 0, "Corpus Christi", "2027-05-28");
    day(e, "FR", "2027-05-17", 0, "Whit Monday", "2027-05-18");
    day(e, "IT", "2027-10-04", 0, "Saint Francis of Assisi", "2027-10-05");
    day(e, "IT", "2024-10-04", 1, NULL, "2024-10-07");            /* a national holiday again only from 2026 */
    day(e, "ES", "2027-12-06", 0, "Constitution Day", "2027-12-07");
    day(e, "IT", "2027-12-24", 1, NULL, "2027-12-27");            /* Fri; Christmas and St Stephen on the weekend */
    /* weekends, and next_business_day across a holiday weekend */
    day(e, "FR", "2026-05-23", 0, NULL, "2026-05-26");            /* Sat; Sun; Whit Monday */
    day(e, "FR", "2026-05-22", 1, NULL, "2026-05-26");
    day(e, "ES", "2026-05-24", 0, NULL, "2026-05-25");            /* a Sunday; Whit Monday is no holiday in ES */
    day(e, "IT", "2026-12-24", 1, NULL, "2026-12-28");            /* Thu; Christmas Fri, St Stephen Sat, Sun */
    day(e, "PT", "2026-11-28", 0, NULL, "2026-11-30");            /* Sat */
    day(e, "PT", "2026-11-30", 1, NULL, "2026-12-02");            /* Mon; Restoration of Independence Tue */
    day(e, "FR", "2027-12-31", 1, NULL, "2028-01-03");            /* across the year: New Year on a Saturday */
    day(e, "IT", "2028-02-29", 1, NULL, "2028-03-01");            /* leap day */
    /* a country without a table: weekends only */
    day(e, "DE", "2026-12-25", 1, NULL, "2026-12-28");
}

static void test_vat_and_documents(struct policy_engine *e)
{
    static const struct { const char *cc; int standard; } vat[] = {
        {"FR", 2000}, {"ES", 2100}, {"PT", 2300}, {"IT", 2200},
    };
    for (size_t i = 0; i < sizeof vat / sizeof *vat; i++) {
        json_t *out = rules(e, vat[i].cc, "credit_application", "2026-03-02", 0);
        char what[80];
        snprintf(what, sizeof what, "%s standard VAT rate in basis points", vat[i].cc);
        EQ_INT(iget(json_object_get(out, "vat_rates"), "standard"), vat[i].standard, what);
        json_t *reduced = json_object_get(json_object_get(out, "vat_rates"), "reduced");
        snprintf(what, sizeof what, "%s reduced VAT rates are an array", vat[i].cc);
        OK(json_is_array(reduced) && json_array_size(reduced) >= 1, "%s", what);
        json_t *docs = json_object_get(out, "id_documents");
        snprintf(what, sizeof what, "%s credit application: national_id, residence_permit", vat[i].cc);
        OK(json_array_size(docs) == 2 && strcmp(json_string_value(json_array_get(docs, 0)), "national_id") == 0 &&
               strcmp(json_string_value(json_array_get(docs, 1)), "residence_permit") == 0, "%s", what);
        json_decref(out);

        out = rules(e, vat[i].cc, "identity_check", "2026-03-02", 0);
        docs = json_object_get(out, "id_documents");
        snprintf(what, sizeof what, "%s identity check also accepts a passport", vat[i].cc);
        OK(json_array_size(docs) == 3 && strcmp(json_string_value(json_array_get(docs, 2)), "passport") == 0,
           "%s", what);
        OK(json_object_get(out, "checkout_refusal") == NULL, "%s identity check: no checkout refusal", vat[i].cc);
        json_decref(out);
    }
    json_t *out = rules(e, "FR", "credit_application", "2026-03-02", 0);
    json_t *reduced = json_object_get(json_object_get(out, "vat_rates"), "reduced");
    EQ_INT(json_integer_value(json_array_get(reduced, 0)), 550, "FR reduced 5.5 %");
    EQ_INT(json_integer_value(json_array_get(reduced, 1)), 1000, "FR reduced 10 %");
    EQ_INT(iget(json_object_get(out, "vat_rates"), "super_reduced"), 210, "FR super-reduced 2.1 %");
    EQ_STR(sget(out, "country"), "FR", "country echoed");
    EQ_STR(sget(out, "purpose"), "credit_application", "purpose echoed");
    OK(json_object_get(out, "checkout_refusal") == NULL, "FR: no checkout refusal");
    json_decref(out);

    out = rules(e, "DE", "credit_application", "2026-03-02", 0);
    OK(json_is_object(json_object_get(out, "vat_rates")) && json_object_size(json_object_get(out, "vat_rates")) == 0,
       "a country without a table: vat_rates is {}");
    EQ_INT(json_array_size(json_object_get(out, "id_documents")), 2, "a country without a table: default documents");
    json_decref(out);
}

static void test_portugal(struct policy_engine *e)
{
    json_t *out = rules(e, "PT", "credit_application", "2026-03-02", 0);
    json_t *ref = json_object_get(out, "checkout_refusal");
    EQ_STR(sget(ref, "rule"), "pt_credit_intermediary", "PT merchant not an intermediary: refused, naming the rule");
    EQ_STR(sget(ref, "param"), "merchant", "the refusal is about the merchant");
    CONTAINS(sget(ref, "message"), "pt_credit_intermediary: a financed order in Portugal needs a registered credit intermediary",
             "the message names the rule");
    json_decref(out);

    out = rules(e, "PT", "credit_application", "2026-03-02", 1);
    OK(out && json_object_get(out, "checkout_refusal") == NULL, "PT merchant that is a credit intermediary: accepted");
    json_decref(out);

    /* No merchant at all: refused too. */
    struct cs_diag d;
    int rc;
    out = call_json(e, "country.rules",
                    "{\"country\":\"PT\",\"purpose\":\"credit_application\",\"date\":\"2026-03-02\"}", &rc, &d);
    EQ_STR(sget(json_object_get(out, "checkout_refusal"), "rule"), "pt_credit_intermediary",
           "PT without merchant facts: refused");
    json_decref(out);

    /* An override supplies a registered intermediary. */
    char *dir = NULL;
    struct policy_engine *o = engine_with(
        "local default = caisse.policy.get('country.rules')\n"
        "caisse.policy.define('country.rules', function(input)\n"
        "  if input.country == 'PT' then\n"
        "    input.credit_intermediary = { name = 'Intermediario Exemplo, Lda', registration = '0042' }\n"
        "  end\n"
        "  return default(input)\n"
        "end)\n", &dir, &d);
    OK(o != NULL, "override supplying an intermediary loads");
    if (o) {
        out = rules(o, "PT", "credit_application", "2026-03-02", 0);
        OK(out && json_object_get(out, "checkout_refusal") == NULL, "PT with an override's registered intermediary: accepted");
        EQ_STR(sget(json_object_get(out, "credit_intermediary"), "registration"), "0042", "the intermediary is echoed");
        json_decref(out);
        out = rules(o, "FR", "credit_application", "2026-05-25", 0);
        OK(out && json_object_get(out, "credit_intermediary") == NULL, "the override leaves FR alone");
        EQ_STR(sget(out, "holiday"), "Whit Monday", "the override keeps the calendar");
        json_decref(out);
        policy_engine_free(o);
    } else {
        printf("#   %s\n", d.message);
    }
    tdir_free(dir);

    /* An intermediary without a registration number does not count. */
    o = engine_with(
        "local default = caisse.policy.get('country.rules')\n"
        "caisse.policy.define('country.rules', function(input)\n"
        "  input.credit_intermediary = { name = 'Nobody', registration = '  ' }\n"
        "  return default(input)\n"
        "end)\n", NULL, &d);
    out = o ? rules(o, "PT", "credit_application", "2026-03-02", 0) : NULL;
    EQ_STR(sget(json_object_get(out, "checkout_refusal"), "rule"), "pt_credit_intermediary",
           "an intermediary without a registration number: still refused");
    json_decref(out);
    policy_engine_free(o);

    /* countries.define from an override replaces a country's spec. */
    o = engine_with(
        "countries.define('PT', { vat_rates = { standard = 2300 }, holidays = {} })\n", NULL, &d);
    out = o ? rules(o, "PT", "credit_application", "2026-06-04", 0) : NULL;
    OK(out && json_is_true(json_object_get(out, "business_day")) &&
           json_object_get(out, "checkout_refusal") == NULL,
       "countries.define in an override replaces the PT spec (no holidays, no refusal)");
    json_decref(out);
    policy_engine_free(o);
}

/* country.rules remembers its answers per country and date: asked twice,
 * and again after more days than it keeps, the answer stays; countries.define
 * forgets those of its country. */
static void test_day_cache(struct policy_engine *e)
{
    day(e, "DE", "2026-11-23", 1, NULL, "2026-11-24");
    day(e, "DE", "2026-11-23", 1, NULL, "2026-11-24");
    int answered = 0;
    for (int i = 0; i < 70; i++) {
        char date[11];
        snprintf(date, sizeof date, "2030-%02d-%02d", 1 + i / 28, 1 + i % 28);
        json_t *out = rules(e, "FR", "credit_application", date, 0);
        answered += out != NULL;
        json_decref(out);
    }
    EQ_INT(answered, 70, "70 different days");
    day(e, "FR", "2026-05-25", 0, "Whit Monday", "2026-05-26");
    struct cs_diag d;
    int rc;
    json_t *out = call_json(e, "test.redefine", "{\"country\":\"DE\",\"md\":\"11-23\"}", &rc, &d);
    EQ_INT(rc, 0, "countries.define while serving");
    json_decref(out);
    day(e, "DE", "2026-11-23", 0, "Test Day", "2026-11-24");
}

static void test_bad_input(struct policy_engine *e)
{
    static const char *const bad[] = {
        "{\"country\":\"FR\",\"purpose\":\"credit_application\",\"date\":\"2026-02-29\"}",
        "{\"country\":\"FR\",\"purpose\":\"credit_application\",\"date\":\"26-01-01\"}",
        "{\"country\":\"FR\",\"purpose\":\"credit_application\"}",
        "{\"country\":\"FR\",\"purpose\":\"shopping\",\"date\":\"2026-01-05\"}",
        "{\"country\":\"fr\",\"purpose\":\"credit_application\",\"date\":\"2026-01-05\"}",
        "{\"purpose\":\"credit_application\",\"date\":\"2026-01-05\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct cs_diag d;
        int rc;
        json_t *out = call_json(e, "country.rules", bad[i], &rc, &d);
        EQ_INT(rc, CS_EPOLICYFAIL, bad[i]);
        CONTAINS(d.message, "country.rules", "the failure names the hook");
        json_decref(out);
    }
}

int main(void)
{
    struct cs_diag d;
    char *dir = NULL;
    /* Built-ins plus two test hooks over the countries helpers. */
    struct policy_engine *e = engine_with(
        "caisse.policy.define('test.holidays', function(input)\n"
        "  return { rows = countries.holidays(input.country, input.year) }\n"
        "end)\n"
        "caisse.policy.define('test.easter', function(input)\n"
        "  return { date = countries.easter(input.year) }\n"
        "end)\n"
        "caisse.policy.define('test.redefine', function(input)\n"
        "  countries.define(input.country, { holidays = { { date = input.md, name = 'Test Day' } } })\n"
        "  return {}\n"
        "end)\n", &dir, &d);
    OK(e != NULL, "engine with the built-ins and the test hooks");
    if (!e) {
        printf("#   %s\n", d.message);
        tdir_free(dir);
        return tap_done();
    }
    test_holiday_tables(e);
    test_days(e);
    test_vat_and_documents(e);
    test_portugal(e);
    test_bad_input(e);
    test_day_cache(e);
    policy_engine_free(e);
    tdir_free(dir);
    return tap_done();
}
