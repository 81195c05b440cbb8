#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "core/orders.h"
#include "core/clock.h"
#include "core/json_in.h"
#include "core/limits.h"
#include "core/money.h"
#include "core/cards.h"
#include <time.h>

const char *const order_plans[] = {"pay_in_3", "instalments_6", "instalments_9", "instalments_12",
                                   "instalments_18", "instalments_24", NULL};

static const char *const order_keys[] = {"reference", "shop", "currency", "amount", "plan",
                                         "lines", "customer", "metadata", "card", NULL};
static const char *const line_keys[] = {"type", "reference", "name", "unit_price", "quantity",
                                        "tax_rate", NULL};
static const char *const customer_keys[] = {"first_name", "last_name", "email", "phone",
                                            "birth_date", "id_document", "billing_address",
                                            "shipping_address", NULL};
static const char *const id_document_keys[] = {"type", "number", NULL};
static const char *const address_keys[] = {"line1", "line2", "postal_code", "city", "country", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int country_code_valid(const char *s)
{
    return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

static int validate_address(json_t *a, const char *path, json_t **out, struct cs_diag *d)
{
    int rc = jin_object(a, path, address_keys, d);
    const char *line1 = NULL, *line2 = NULL, *postal = NULL, *city = NULL, *country = NULL;
    if (rc || (rc = jin_string(a, path, "line1", 1, 1, 200, &line1, d)) ||
        (rc = jin_string(a, path, "line2", 0, 0, 200, &line2, d)) ||
        (rc = jin_string(a, path, "postal_code", 1, 1, 16, &postal, d)) ||
        (rc = jin_string(a, path, "city", 1, 1, 100, &city, d)) ||
        (rc = jin_string(a, path, "country", 1, 2, 2, &country, d)))
        return rc;
    if (!country_code_valid(country)) {
        char p[128];
        jin_path(p, sizeof p, path, "country");
        return cs_fail(d, CS_EPARAM, p, "%s must be an ISO 3166-1 alpha-2 code such as FR", p);
    }
    *out = json_pack("{s:s,s:s?,s:s,s:s,s:s}", "line1", line1, "line2", line2, "postal_code", postal,
                     "city", city, "country", country);
    return *out ? 0 : CS_ENOMEM;
}

static int validate_customer(json_t *c, json_t **out, struct cs_diag *d)
{
    const char *first = NULL, *last = NULL, *email = NULL, *phone = NULL, *birth = NULL;
    int rc = jin_object(c, "customer", customer_keys, d);
    if (rc || (rc = jin_string(c, "customer", "first_name", 1, 1, 100, &first, d)) ||
        (rc = jin_string(c, "customer", "last_name", 1, 1, 100, &last, d)) ||
        (rc = jin_string(c, "customer", "email", 1, 3, 254, &email, d)) ||
        (rc = jin_string(c, "customer", "phone", 1, 1, 16, &phone, d)) ||
        (rc = jin_string(c, "customer", "birth_date", 1, 10, 10, &birth, d)))
        return rc;
    if (!jin_email(email))
        return cs_fail(d, CS_EPARAM, "customer.email", "customer.email is not a valid e-mail address");
    if (!jin_phone(phone))
        return cs_fail(d, CS_EPARAM, "customer.phone",
                       "customer.phone must be in E.164 form: + then 8 to 15 digits");
    int y, m, day;
    char today[11];
    clock_format_date(clock_now_us(), today, sizeof today);
    if (clock_parse_date(birth, &y, &m, &day) != 0 || strcmp(birth, today) > 0)
        return cs_fail(d, CS_EPARAM, "customer.birth_date",
                       "customer.birth_date must be a past date as YYYY-MM-DD");

    json_t *doc = jin_child(c, "customer", "id_document", JSON_OBJECT, 1, &rc, d);
    if (rc)
        return rc;
    const char *dtype = NULL, *number = NULL;
    if ((rc = jin_object(doc, "customer.id_document", id_document_keys, d)) ||
        (rc = jin_string(doc, "customer.id_document", "type", 1, 1, 32, &dtype, d)) ||
        (rc = jin_string(doc, "customer.id_document", "number", 1, 5, 20, &number, d)))
        return rc;
    /* Which types a credit application accepts is the country's rule
     * (country.rules id_documents, checked in order_decide_checkout). */
    for (const char *p = dtype; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9' && p != dtype) || (*p == '_' && p != dtype)))
            return cs_fail(d, CS_EPARAM, "customer.id_document.type",
                           "customer.id_document.type must be a document type such as national_id or "
                           "residence_permit");
    for (const char *p = number; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return cs_fail(d, CS_EPARAM, "customer.id_document.number",
                           "customer.id_document.number must be upper-case letters and digits");

    json_t *billing = jin_child(c, "customer", "billing_address", JSON_OBJECT, 1, &rc, d);
    if (rc)
        return rc;
    json_t *shipping = jin_child(c, "customer", "shipping_address", JSON_OBJECT, 0, &rc, d);
    if (rc)
        return rc;
    json_t *b = NULL, *s = NULL;
    if ((rc = validate_address(billing, "customer.billing_address", &b, d)))
        return rc;
    if (shipping && (rc = validate_address(shipping, "customer.shipping_address", &s, d))) {
        json_decref(b);
        return rc;
    }
    if (!s)
        s = json_deep_copy(b);
    *out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:o,s:o}", "first_name", first, "last_name",
                     last, "email", email, "phone", phone, "birth_date", birth, "id_document",
                     "type", dtype, "number", number, "billing_address", b, "shipping_address", s);
    return *out ? 0 : CS_ENOMEM;
}

static int validate_lines(json_t *lines, json_t **out, int64_t *sum, struct cs_diag *d)
{
    size_t n = json_array_size(lines);
    if (n == 0)
        return cs_fail(d, CS_EPARAM, "lines", "lines must hold at least one product line");
    if (n > CS_ORDER_LINES_MAX)
        return cs_fail(d, CS_EPARAM, "lines", "lines holds more than %u lines", CS_ORDER_LINES_MAX);
    json_t *arr = json_array();
    int64_t total = 0;
    int products = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(lines, i);
        char path[32];
        snprintf(path, sizeof path, "lines[%zu]", i);
        const char *type = "product", *ref = NULL, *name = NULL;
        int64_t price = 0, qty = 1, tax = 0;
        int rc = jin_object(l, path, line_keys, d);
        if (rc || (rc = jin_string(l, path, "type", 0, 1, 16, &type, d)))
            goto fail;
        int is_product = strcmp(type, "product") == 0, is_handling = strcmp(type, "handling") == 0;
        int is_discount = strcmp(type, "discount") == 0;
        char p[64];
        if (!is_product && !is_handling && !is_discount) {
            jin_path(p, sizeof p, path, "type");
            rc = cs_fail(d, CS_EPARAM, p, "%s must be product, handling or discount", p);
            goto fail;
        }
        if ((rc = jin_string(l, path, "reference", is_product, 1, CS_REFERENCE_BYTES_MAX, &ref, d)) ||
            (rc = jin_string(l, path, "name", 1, 1, 255, &name, d)) ||
            (rc = jin_int(l, path, "quantity", 0, 1, CS_ORDER_QUANTITY_MAX, &qty, d)) ||
            (rc = jin_int(l, path, "tax_rate", 0, 0, 10000, &tax, d)))
            goto fail;
        jin_path(p, sizeof p, path, "unit_price");
        json_t *pv = json_object_get(l, "unit_price");
        if (!pv || json_is_null(pv)) {
            rc = cs_fail(d, CS_EMISSING, p, "%s is required", p);
            goto fail;
        }
        if (!json_is_integer(pv)) {
            rc = cs_fail(d, CS_EAMOUNT, p, "%s must be an integer amount in minor units", p);
            goto fail;
        }
        price = json_integer_value(pv);
        if (price < (is_handling ? 0 : 1) || price > CS_AMOUNT_MINOR_MAX) {
            rc = cs_fail(d, CS_EAMOUNT, p, "%s must be between %d and %lld minor units", p,
                         is_handling ? 0 : 1, (long long)CS_AMOUNT_MINOR_MAX);
            goto fail;
        }
        int64_t amount;
        if (money_mul(price, qty, &amount) != 0 || amount > CS_AMOUNT_MINOR_MAX) {
            rc = cs_fail(d, CS_EAMOUNT, path, "%s: unit_price times quantity is too large", path);
            goto fail;
        }
        if (is_discount)
            amount = -amount;
        if (money_add(total, amount, &total) != 0) {
            rc = cs_fail(d, CS_EAMOUNT, "lines", "the lines' total overflows");
            goto fail;
        }
        if (is_product) {
            size_t k;
            json_t *prev;
            json_array_foreach(arr, k, prev) {
                const char *pref = json_string_value(json_object_get(prev, "reference"));
                if (pref && strcmp(json_string_value(json_object_get(prev, "type")), "product") == 0 &&
                    strcmp(pref, ref) == 0) {
                    jin_path(p, sizeof p, path, "reference");
                    rc = cs_fail(d, CS_EPARAM, p, "%s repeats the reference of lines[%zu]: one line per product", p, k);
                    goto fail;
                }
            }
        }
        products += is_product;
        json_t *o = json_pack("{s:s,s:s?,s:s,s:I,s:I,s:I,s:I,s:i}", "type", type, "reference", ref,
                              "name", name, "unit_price", (json_int_t)price, "quantity",
                              (json_int_t)qty, "tax_rate", (json_int_t)tax, "amount",
                              (json_int_t)amount, "quantity_shipped", 0);
        json_array_append_new(arr, o);
        continue;
    fail:
        json_decref(arr);
        return rc;
    }
    if (!products) {
        json_decref(arr);
        return cs_fail(d, CS_EPARAM, "lines", "lines must hold at least one product line");
    }
    *out = arr;
    *sum = total;
    return 0;
}

int order_validate_create(json_t *body, json_t *merchant, json_t **order, struct cs_diag *d)
{
    const char *reference = NULL, *shop = "default", *currency = NULL, *plan = NULL;
    int rc = jin_object(body, "", order_keys, d);
    if (rc || (rc = jin_string(body, "", "reference", 1, 1, CS_REFERENCE_BYTES_MAX, &reference, d)) ||
        (rc = jin_string(body, "", "shop", 0, 1, CS_SHOP_ID_BYTES_MAX, &shop, d)) ||
        (rc = jin_string(body, "", "currency", 1, 1, 3, &currency, d)) ||
        (rc = jin_string(body, "", "plan", 1, 1, 32, &plan, d)))
        return rc;
    if (!jin_token(shop))
        return cs_fail(d, CS_EPARAM, "shop", "shop must be letters, digits, '_' or '-'");
    if (!currency_find(currency))
        return cs_fail(d, CS_ECURRENCY, "currency", "%s is not a supported ISO 4217 currency", currency);
    const char *mcur = json_string_value(json_object_get(merchant, "currency"));
    if (!mcur || strcmp(mcur, currency) != 0)
        return cs_fail(d, CS_ECURRENCY, "currency",
                       "currency %s differs from the merchant's settlement currency %s", currency,
                       mcur ? mcur : "?");
    if (!in_list(plan, order_plans))
        return cs_fail(d, CS_EPARAM, "plan",
                       "plan must be one of pay_in_3, instalments_6, instalments_9, instalments_12, "
                       "instalments_18, instalments_24");
    json_t *amount_v = json_object_get(body, "amount");
    if (!amount_v || json_is_null(amount_v))
        return cs_fail(d, CS_EMISSING, "amount", "amount is required");
    if (!json_is_integer(amount_v))
        return cs_fail(d, CS_EAMOUNT, "amount", "amount must be an integer in minor units");
    int64_t amount = json_integer_value(amount_v);
    if (amount <= 0 || amount > CS_AMOUNT_MINOR_MAX)
        return cs_fail(d, CS_EAMOUNT, "amount", "amount must be between 1 and %lld minor units",
                       (long long)CS_AMOUNT_MINOR_MAX);

    json_t *lines_in = jin_child(body, "", "lines", JSON_ARRAY, 1, &rc, d);
    if (rc)
        return rc;
    json_t *cust_in = jin_child(body, "", "customer", JSON_OBJECT, 1, &rc, d);
    if (rc)
        return rc;
    json_t *meta_in = NULL;
    if ((rc = jin_metadata(body, "", &meta_in, d)))
        return rc;

    json_t *lines = NULL, *customer = NULL;
    int64_t sum = 0;
    if ((rc = validate_lines(lines_in, &lines, &sum, d)))
        return rc;
    if (sum <= 0) {
        json_decref(lines);
        return cs_fail(d, CS_EAMOUNT, "lines", "the lines must add up to more than zero");
    }
    if (sum != amount) {
        json_decref(lines);
        return cs_fail(d, CS_EAMOUNT, "amount", "amount %lld does not equal the sum of the lines %lld",
                       (long long)amount, (long long)sum);
    }
    if ((rc = validate_customer(cust_in, &customer, d))) {
        json_decref(lines);
        return rc;
    }
    json_t *meta = meta_in ? json_deep_copy(meta_in) : json_object();
    *order = json_pack("{s:s,s:s,s:s,s:I,s:s,s:o,s:o,s:o}", "reference", reference, "shop", shop,
                       "currency", currency, "amount", (json_int_t)amount, "plan_requested", plan,
                       "lines", lines, "customer", customer, "metadata", meta);
    return *order ? 0 : CS_ENOMEM;
}

/* Checks one offer returned by plans.offer and copies its known fields. */
static int offer_sanitize(json_t *offer, int64_t amount, json_t **plan, struct cs_diag *d)
{
    json_t *sched = json_object_get(offer, "schedule");
    const char *product = json_string_value(json_object_get(offer, "product"));
    json_t *vals[5];
    static const char *const ints[] = {"instalments", "fee_per_instalment", "setup_fee", "total_fees", "total"};
    for (int i = 0; i < 5; i++) {
        vals[i] = json_object_get(offer, ints[i]);
        if (!json_is_integer(vals[i]) || json_integer_value(vals[i]) < 0)
            return cs_fail(d, CS_EPOLICYFAIL, "", "plans.offer returned an offer whose %s is not a non-negative integer", ints[i]);
    }
    if (!product || !json_is_array(sched) || json_array_size(sched) == 0 ||
        (json_int_t)json_array_size(sched) != json_integer_value(vals[0]))
        return cs_fail(d, CS_EPOLICYFAIL, "", "plans.offer returned an offer without a matching schedule");
    json_t *out_sched = json_array();
    int64_t principal = 0, fees = 0;
    size_t i;
    json_t *inst;
    json_array_foreach(sched, i, inst) {
        json_t *a = json_object_get(inst, "amount"), *f = json_object_get(inst, "fee");
        const char *due = json_string_value(json_object_get(inst, "due_date"));
        int y, m, dd;
        if (!json_is_integer(a) || !json_is_integer(f) || json_integer_value(a) < 0 ||
            json_integer_value(f) < 0 || !due || clock_parse_date(due, &y, &m, &dd) != 0 ||
            money_add(principal, json_integer_value(a), &principal) != 0 ||
            money_add(fees, json_integer_value(f), &fees) != 0) {
            json_decref(out_sched);
            return cs_fail(d, CS_EPOLICYFAIL, "", "plans.offer returned an invalid instalment %zu", i + 1);
        }
        json_array_append_new(out_sched, json_pack("{s:I,s:s,s:I,s:I,s:s}", "number", (json_int_t)(i + 1),
                                                   "due_date", due, "amount", json_integer_value(a),
                                                   "fee", json_integer_value(f), "status", "scheduled"));
    }
    if (principal != amount || fees != json_integer_value(vals[3]) ||
        json_integer_value(vals[4]) != amount + fees) {
        json_decref(out_sched);
        return cs_fail(d, CS_EPOLICYFAIL, "", "plans.offer returned a schedule that does not add up to the order amount and fees");
    }
    *plan = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:o}", "product", product, "instalments", vals[0],
                      "fee_per_instalment", vals[1], "setup_fee", vals[2], "total_fees", vals[3],
                      "total", vals[4], "schedule", out_sched);
    return *plan ? 0 : CS_ENOMEM;
}

static int age_at(const char *birth, const char *today)
{
    int by, bm, bd, ty, tm, td;
    if (clock_parse_date(birth, &by, &bm, &bd) || clock_parse_date(today, &ty, &tm, &td))
        return -1;
    int age = ty - by;
    if (tm < bm || (tm == bm && td < bd))
        age--;
    return age;
}

/* Appends "a x, a y or a z" (articles: with_article) or "x, y or z" of the
 * strings of arr to buf. */
static void join_or(char *buf, size_t cap, json_t *arr, int with_article)
{
    size_t n = json_array_size(arr), used = strlen(buf);
    for (size_t i = 0; i < n && used < cap; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        int w = snprintf(buf + used, cap - used, "%s%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                         with_article ? "a " : "", s ? s : "?");
        used = w < 0 ? cap : used + (size_t)w;
    }
}

/* country.rules for a credit application in the merchant's country
 * (docs/policies.md): the country's checkout refusal (422 policy_refused,
 * the message naming the rule) and the ID document types it accepts. Nothing
 * of it changes the order, so nothing is recorded. */
static int country_check(struct policy_engine *pe, json_t *order, json_t *merchant, int livemode,
                         const char *today, struct cs_diag *d)
{
    json_t *in = json_pack("{s:O,s:s,s:s,s:{s:O,s:b},s:b}", "country", json_object_get(merchant, "country"),
                           "purpose", "credit_application", "date", today, "merchant", "id",
                           json_object_get(merchant, "id"), "credit_intermediary",
                           json_is_true(json_object_get(merchant, "credit_intermediary")), "livemode", livemode);
    if (!in)
        return cs_fail(d, CS_EINTERNAL, "", "the merchant has no country or id");
    json_t *out = NULL;
    int rc = policy_call(pe, "country.rules", in, &out, d);
    json_decref(in);
    if (rc)
        return rc == CS_ENOTFOUND ? cs_fail(d, CS_EPOLICYFAIL, "", "no country.rules policy is defined") : rc;
    json_t *refusal = json_object_get(out, "checkout_refusal");
    if (refusal && !json_is_null(refusal)) {
        const char *rule = json_string_value(json_object_get(refusal, "rule"));
        const char *msg = json_string_value(json_object_get(refusal, "message"));
        const char *param = json_string_value(json_object_get(refusal, "param"));
        if (!json_is_object(refusal) || !rule || !*rule || !jin_printable(rule))
            rc = cs_fail(d, CS_EPOLICYFAIL, "", "country.rules returned a checkout_refusal without a rule");
        else {
            if (!param || !*param || strlen(param) >= sizeof d->param || !jin_printable(param))
                param = "merchant";
            if (msg && jin_printable(msg) && strncmp(msg, rule, strlen(rule)) == 0)
                rc = cs_fail(d, CS_EPOLICY, param, "%s", msg);
            else
                rc = cs_fail(d, CS_EPOLICY, param, "%s: %s", rule, msg && *msg && jin_printable(msg) ? msg
                             : "the checkout is refused by the country's rules");
        }
        json_decref(out);
        return rc;
    }
    json_t *docs = json_object_get(out, "id_documents");
    const char *dtype = json_string_value(json_object_get(
        json_object_get(json_object_get(order, "customer"), "id_document"), "type"));
    if (!json_is_array(docs)) {
        json_decref(out);
        return cs_fail(d, CS_EPOLICYFAIL, "", "country.rules returned no id_documents list");
    }
    size_t i;
    json_t *v;
    json_array_foreach(docs, i, v)
        if (dtype && json_is_string(v) && strcmp(json_string_value(v), dtype) == 0) {
            json_decref(out);
            return 0;
        }
    char accepted[160] = "";
    if (json_array_size(docs) == 0)
        rc = cs_fail(d, CS_EPOLICY, "customer.id_document.type",
                     "no ID document is accepted for a credit application in %s",
                     json_string_value(json_object_get(merchant, "country")));
    else if (dtype && strcmp(dtype, "passport") == 0) {
        join_or(accepted, sizeof accepted, docs, 1);
        rc = cs_fail(d, CS_EPARAM, "customer.id_document.type",
                     "a passport is accepted for identity checks only; a credit application needs %s", accepted);
    } else {
        join_or(accepted, sizeof accepted, docs, 0);
        rc = cs_fail(d, CS_EPARAM, "customer.id_document.type",
                     "customer.id_document.type must be %s for a credit application", accepted);
    }
    json_decref(out);
    return rc;
}

int order_decide_checkout(struct policy_engine *pe, json_t *order, json_t *merchant, int livemode,
                          int64_t now_us, const char **decision, struct cs_diag *d)
{
    char today[11];
    clock_format_date(now_us, today, sizeof today);
    json_int_t amount = json_integer_value(json_object_get(order, "amount"));
    char plan[33];
    snprintf(plan, sizeof plan, "%s", json_string_value(json_object_get(order, "plan_requested")));
    json_t *setup = json_object_get(merchant, "setup_fee_pay_in_3");
    int rc = country_check(pe, order, merchant, livemode, today, d);
    if (rc)
        return rc;

    json_t *in = json_pack("{s:I,s:O,s:O,s:s,s:b,s:{s:O,s:I},s:s}", "amount", amount, "currency",
                           json_object_get(order, "currency"), "country",
                           json_object_get(merchant, "country"), "purchase_date", today,
                           "livemode", livemode, "merchant", "id", json_object_get(merchant, "id"),
                           "setup_fee_pay_in_3", setup ? json_integer_value(setup) : 0,
                           "requested", plan);
    json_t *out = NULL;
    rc = policy_call(pe, "plans.offer", in, &out, d);
    json_decref(in);
    if (rc)
        return rc == CS_ENOTFOUND ? cs_fail(d, CS_EPOLICYFAIL, "", "no plans.offer policy is defined") : rc;
    json_t *offers = json_object_get(out, "offers"), *chosen = NULL, *o;
    size_t i;
    json_array_foreach(offers, i, o) {
        const char *p = json_string_value(json_object_get(o, "product"));
        if (p && strcmp(p, plan) == 0) {
            chosen = o;
            break;
        }
    }
    if (!chosen) {
        json_decref(out);
        return cs_fail(d, CS_EPOLICY, "plan", "plan %s is not offered for an order of %lld %s", plan,
                       (long long)amount, json_string_value(json_object_get(order, "currency")));
    }
    json_t *planv = NULL;
    rc = offer_sanitize(chosen, amount, &planv, d);
    json_decref(out);
    if (rc)
        return rc;
    json_object_set_new(order, "plan", planv);
    json_object_del(order, "plan_requested");

    json_t *cust = json_object_get(order, "customer");
    in = json_pack("{s:I,s:O,s:O,s:s,s:b,s:s,s:O,s:{s:O}}", "amount", amount, "currency",
                   json_object_get(order, "currency"), "country", json_object_get(merchant, "country"),
                   "product", plan, "livemode", livemode, "purchase_date", today, "customer", cust,
                   "merchant", "id", json_object_get(merchant, "id"));
    out = NULL;
    rc = policy_call(pe, "risk.decide", in, &out, d);
    json_decref(in);
    if (rc)
        return rc == CS_ENOTFOUND ? cs_fail(d, CS_EPOLICYFAIL, "", "no risk.decide policy is defined") : rc;
    const char *dec = json_string_value(json_object_get(out, "decision"));
    if (dec && strcmp(dec, "approved") == 0) *decision = "approved";
    else if (dec && strcmp(dec, "rejected") == 0) *decision = "rejected";
    else if (dec && strcmp(dec, "review") == 0) *decision = "review";
    else {
        json_decref(out);
        return cs_fail(d, CS_EPOLICYFAIL, "", "risk.decide returned no decision among approved, rejected, review");
    }
    json_decref(out);
    /* The built-in control that no policy can override: no credit to minors. */
    const char *birth = json_string_value(json_object_get(cust, "birth_date"));
    if (age_at(birth, today) < 18)
        *decision = "rejected";
    return 0;
}

const char *order_decision_event(const char *decision)
{
    if (strcmp(decision, "approved") == 0) return "order.approved";
    if (strcmp(decision, "rejected") == 0) return "order.rejected";
    return "order.review_requested";
}

int order_decide_confirm(json_t *doc, int64_t expected_version, struct cs_diag *d)
{
    json_int_t version = json_integer_value(json_object_get(doc, "version"));
    if (expected_version >= 0 && expected_version != version)
        return cs_fail(d, CS_ECONFLICT, "expected_version",
                       "the order is at version %lld, not %lld", (long long)version, (long long)expected_version);
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!status || strcmp(status, "approved") != 0)
        return cs_fail(d, CS_ESTATE, "", "only an approved order can be confirmed; this one is %s",
                       status ? status : "unknown");
    return 0;
}

/* ---- cancel ---------------------------------------------------------------- */

const char *const order_cancel_reasons[] = {"customer_request", "out_of_stock", "fraud_suspected",
                                            "duplicate_order", "delivery_impossible", "other", NULL};

static int has_shipments(json_t *doc)
{
    return json_array_size(json_object_get(doc, "shipments")) > 0;
}

int order_decide_cancel(json_t *doc, struct cs_diag *d)
{
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!status)
        status = "unknown";
    if (has_shipments(doc))
        return cs_fail(d, CS_ESTATE, "", "the order has shipments and can no longer be cancelled; "
                       "record what comes back as returns (POST /v1/orders/{id}/returns)");
    if (strcmp(status, "pending") != 0 && strcmp(status, "approved") != 0 && strcmp(status, "confirmed") != 0)
        return cs_fail(d, CS_ESTATE, "", "a %s order cannot be cancelled", status);
    return 0;
}

/* ---- ship ------------------------------------------------------------------ */

int order_validate_shipment(json_t *body, json_t **lines, const char **carrier,
                            const char **tracking, struct cs_diag *d)
{
    static const char *const keys[] = {"lines", "carrier", "tracking_number", NULL};
    static const char *const line_keys_[] = {"reference", "quantity", NULL};
    int rc = jin_object(body, "", keys, d);
    *lines = NULL;
    *carrier = *tracking = NULL;
    if (rc || (rc = jin_string(body, "", "carrier", 0, 1, 64, carrier, d)) ||
        (rc = jin_string(body, "", "tracking_number", 0, 1, 64, tracking, d)))
        return rc;
    json_t *l = jin_child(body, "", "lines", JSON_ARRAY, 0, &rc, d);
    if (rc)
        return rc;
    if (l && (json_array_size(l) == 0 || json_array_size(l) > CS_ORDER_LINES_MAX))
        return cs_fail(d, CS_EPARAM, "lines", "lines must hold 1 to %u lines, or be left out to ship everything",
                       CS_ORDER_LINES_MAX);
    size_t i;
    json_t *line;
    json_array_foreach(l, i, line) {
        char path[32];
        snprintf(path, sizeof path, "lines[%zu]", i);
        const char *ref = NULL;
        int64_t qty = 0;
        if ((rc = jin_object(line, path, line_keys_, d)) ||
            (rc = jin_string(line, path, "reference", 1, 1, CS_REFERENCE_BYTES_MAX, &ref, d)) ||
            (rc = jin_int(line, path, "quantity", 1, 1, CS_ORDER_QUANTITY_MAX, &qty, d)))
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_object_get(json_array_get(l, k), "reference")), ref) == 0) {
                char p[64];
                jin_path(p, sizeof p, path, "reference");
                return cs_fail(d, CS_EPARAM, p, "%s repeats lines[%zu]: one entry per product", p, k);
            }
    }
    *lines = l;
    return 0;
}

/* The product line of `lines` (an order's lines array) with reference ref. */
static json_t *product_line(json_t *lines, const char *ref)
{
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line) {
        const char *type = json_string_value(json_object_get(line, "type"));
        const char *r = json_string_value(json_object_get(line, "reference"));
        if (type && r && strcmp(type, "product") == 0 && strcmp(r, ref) == 0)
            return line;
    }
    return NULL;
}

static json_int_t remaining(json_t *line)
{
    return json_integer_value(json_object_get(line, "quantity")) -
           json_integer_value(json_object_get(line, "quantity_shipped"));
}

int order_decide_shipment(json_t *doc, json_t *lines, const char *shipment_id, const char *carrier,
                          const char *tracking, const char *shipped_at, json_t **data,
                          struct cs_diag *d)
{
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (!status || (strcmp(status, "confirmed") != 0 && strcmp(status, "partially_shipped") != 0))
        return cs_fail(d, CS_ESTATE, "", "only a confirmed order can be shipped; this one is %s",
                       status ? status : "unknown");
    json_t *out = json_array();
    int64_t amount = 0;
    size_t i;
    json_t *line;
    if (!lines) {   /* everything left */
        json_array_foreach(json_object_get(doc, "lines"), i, line) {
            const char *type = json_string_value(json_object_get(line, "type"));
            json_int_t left = remaining(line);
            if (!type || strcmp(type, "product") != 0 || left <= 0)
                continue;
            int64_t a;
            if (money_mul(json_integer_value(json_object_get(line, "unit_price")), left, &a) ||
                money_add(amount, a, &amount)) {
                json_decref(out);
                return cs_fail(d, CS_EAMOUNT, "", "the shipment's amount overflows");
            }
            json_array_append_new(out, json_pack("{s:O,s:I,s:I}", "reference",
                                                 json_object_get(line, "reference"), "quantity", left,
                                                 "amount", (json_int_t)a));
        }
        if (json_array_size(out) == 0) {
            json_decref(out);
            return cs_fail(d, CS_ESTATE, "", "everything in this order is already shipped");
        }
    } else {
        json_array_foreach(lines, i, line) {
            const char *ref = json_string_value(json_object_get(line, "reference"));
            json_int_t qty = json_integer_value(json_object_get(line, "quantity"));
            json_t *ol = product_line(json_object_get(doc, "lines"), ref);
            char p[48];
            if (!ol) {
                json_decref(out);
                snprintf(p, sizeof p, "lines[%zu].reference", i);
                return cs_fail(d, CS_EPARAM, p, "%s: the order has no product line %s", p, ref);
            }
            if (qty > remaining(ol)) {
                json_decref(out);
                snprintf(p, sizeof p, "lines[%zu].quantity", i);
                return cs_fail(d, CS_EPARAM, p, "%s: ships %lld of %s but only %lld remain to ship", p,
                               (long long)qty, ref, (long long)remaining(ol));
            }
            int64_t a;
            if (money_mul(json_integer_value(json_object_get(ol, "unit_price")), qty, &a) ||
                money_add(amount, a, &amount)) {
                json_decref(out);
                return cs_fail(d, CS_EAMOUNT, "", "the shipment's amount overflows");
            }
            json_array_append_new(out, json_pack("{s:s,s:I,s:I}", "reference", ref, "quantity", qty,
                                                 "amount", (json_int_t)a));
        }
    }
    /* Does this shipment complete the order? Then it also carries the handling
     * and discount lines, so the shipped amount adds up to the order amount. */
    int complete = 1;
    int64_t others = 0;
    json_array_foreach(json_object_get(doc, "lines"), i, line) {
        const char *type = json_string_value(json_object_get(line, "type"));
        if (type && strcmp(type, "product") != 0) {
            others += json_integer_value(json_object_get(line, "amount"));
            continue;
        }
        json_int_t left = remaining(line);
        size_t k;
        json_t *sl;
        json_array_foreach(out, k, sl)
            if (strcmp(json_string_value(json_object_get(sl, "reference")),
                       json_string_value(json_object_get(line, "reference"))) == 0)
                left -= json_integer_value(json_object_get(sl, "quantity"));
        if (left > 0)
            complete = 0;
    }
    if (complete)
        amount += others;
    int64_t shipped = json_integer_value(json_object_get(doc, "shipped_amount")) + amount;
    if (complete && shipped != json_integer_value(json_object_get(doc, "amount"))) {
        json_decref(out);
        return cs_fail(d, CS_EINTERNAL, "", "the shipments do not add up to the order amount");
    }
    json_t *shipment = json_pack("{s:s,s:o,s:I,s:s?,s:s?,s:s}", "id", shipment_id, "lines", out,
                                 "amount", (json_int_t)amount, "carrier", carrier, "tracking_number",
                                 tracking, "shipped_at", shipped_at);
    /* s:s? drops the key when NULL: keep both keys present, as null. */
    if (shipment && !carrier)
        json_object_set_new(shipment, "carrier", json_null());
    if (shipment && !tracking)
        json_object_set_new(shipment, "tracking_number", json_null());
    *data = json_pack("{s:o,s:I,s:s}", "shipment", shipment, "shipped_amount", (json_int_t)shipped,
                      "status", complete ? "shipped" : "partially_shipped");
    return *data ? 0 : CS_ENOMEM;
}

/* ---- customers ---------------------------------------------------------------- */

int order_customer_matches(json_t *order_customer, json_t *customer_doc)
{
    const char *p1 = json_string_value(json_object_get(order_customer, "phone"));
    const char *p2 = json_string_value(json_object_get(customer_doc, "phone"));
    const char *e1 = json_string_value(json_object_get(order_customer, "email"));
    const char *e2 = json_string_value(json_object_get(customer_doc, "email"));
    return (p1 && p2 && strcmp(p1, p2) == 0) || (e1 && e2 && strcasecmp(e1, e2) == 0);
}

/* ---- instalments -------------------------------------------------------------- */

static int64_t due_date_us(const char *ymd)
{
    int y, m, d;
    if (!ymd || clock_parse_date(ymd, &y, &m, &d) != 0)
        return 0;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 6};
    return (int64_t)timegm(&tm) * 1000000;
}

json_t *order_next_charge(json_t *doc, int after, int64_t now_us)
{
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(json_object_get(doc, "plan"), "schedule"), i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if ((int)i + 1 <= after || (st && (strcmp(st, "paid") == 0 || strcmp(st, "cancelled") == 0)))
            continue;
        int64_t due = due_date_us(json_string_value(json_object_get(inst, "due_date")));
        return json_pack("{s:i,s:I}", "instalment", (int)i + 1, "due_us", (json_int_t)(due > now_us ? due : now_us));
    }
    return json_null();
}

int order_decide_charge(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d)
{
    json_t *next = order_next_charge(doc, 0, now_us);
    if (!json_is_object(next)) {
        json_decref(next);
        return cs_fail(d, CS_ESTATE, "", "every instalment is paid");
    }
    int n = (int)json_integer_value(json_object_get(next, "instalment"));
    json_decref(next);
    json_t *inst = json_array_get(json_object_get(json_object_get(doc, "plan"), "schedule"), (size_t)(n - 1));
    int64_t amount = json_integer_value(json_object_get(inst, "amount")) + json_integer_value(json_object_get(inst, "fee"));
    int attempt = (int)json_integer_value(json_object_get(inst, "attempts")) + 1;
    struct card_facts card;
    if (card_facts_from_json(json_object_get(doc, "card"), &card) != 0)
        return cs_fail(d, CS_ECORRUPT, "", "the order has no usable card");
    struct acq_result r;
    acquirer_authorize(&card, amount, attempt, &r);
    char at[40];
    clock_format_rfc3339(now_us, at, sizeof at);
    if (r.outcome == ACQ_APPROVED) {
        *type = "order.instalment_paid";
        *data = json_pack("{s:{s:i,s:I,s:s,s:s,s:i},s:o}", "payment", "instalment", n, "amount",
                          (json_int_t)amount, "paid_at", at, "result", "approved", "attempt", attempt,
                          "next_charge", order_next_charge(doc, n, now_us));
    } else {
        *type = "order.instalment_failed";
        json_t *retry = attempt < ORDER_CHARGE_ATTEMPTS_MAX
                            ? json_pack("{s:i,s:I}", "instalment", n, "due_us", (json_int_t)(now_us + ORDER_CHARGE_RETRY_US))
                            : json_null();
        *data = json_pack("{s:{s:i,s:I,s:i,s:s,s:s,s:s},s:o}", "failure", "instalment", n, "amount",
                          (json_int_t)amount, "attempt", attempt, "code", r.code, "message", r.message,
                          "failed_at", at, "next_charge", retry);
    }
    return *data ? 0 : CS_ENOMEM;
}

static json_t *next_charge_of(json_t *doc, json_t *schedule, int64_t now_us);

/* ---- edits and returns ----------------------------------------------------------- */

/* The principal paid so far (instalment amounts, fees apart). */
static int64_t principal_paid(json_t *doc)
{
    int64_t paid = 0;
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(json_object_get(doc, "plan"), "schedule"), i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (st && strcmp(st, "paid") == 0)
            paid += json_integer_value(json_object_get(inst, "amount"));
    }
    return paid;
}

/* The schedule for a new amount: paid instalments stay; the others share
 * what remains (remainder to the first of them, explicit rounding). *refund
 * is what was paid beyond the new amount. CS_ESTATE if more is owed but no
 * instalment is left to carry it. */
static int recompute(json_t *doc, int64_t amount, json_t **schedule, int64_t *refund, struct cs_diag *d)
{
    json_t *old = json_object_get(json_object_get(doc, "plan"), "schedule");
    int64_t paid = principal_paid(doc), remaining = amount - paid;
    size_t i, open = 0;
    json_t *inst;
    json_array_foreach(old, i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (!st || strcmp(st, "paid") != 0)
            open++;
    }
    *refund = remaining < 0 ? -remaining : 0;
    if (remaining < 0)
        remaining = 0;
    if (remaining > 0 && open == 0)
        return cs_fail(d, CS_ESTATE, "", "every instalment is paid: the amount can no longer grow");
    *schedule = json_deep_copy(old);
    int64_t share = open ? remaining / (int64_t)open : 0, rest = open ? remaining % (int64_t)open : 0;
    json_array_foreach(*schedule, i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (st && strcmp(st, "paid") == 0)
            continue;
        json_object_set_new(inst, "amount", json_integer(share + (rest > 0 ? 1 : 0)));
        if (rest > 0)
            rest--;
        if (remaining == 0) {   /* nothing left to pay: no instalment, no fee */
            json_object_set_new(inst, "fee", json_integer(0));
            json_object_set_new(inst, "status", json_string("cancelled"));
        }
    }
    return 0;
}

static int editable(json_t *doc, const char *what, struct cs_diag *d)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    static const char *const ok[] = {"approved", "confirmed", "partially_shipped", "shipped", NULL};
    if (!st || !in_list(st, ok))
        return cs_fail(d, CS_ESTATE, "", "a %s order cannot %s", st ? st : "unknown", what);
    return 0;
}

int order_validate_cart(json_t *body, json_t **lines, int64_t *amount, struct cs_diag *d)
{
    static const char *const keys[] = {"lines", "amount", NULL};
    int rc = jin_object(body, "", keys, d);
    if (rc)
        return rc;
    json_t *in = jin_child(body, "", "lines", JSON_ARRAY, 1, &rc, d);
    if (rc)
        return rc;
    json_t *amount_v = json_object_get(body, "amount");
    if (!amount_v || json_is_null(amount_v))
        return cs_fail(d, CS_EMISSING, "amount", "amount is required");
    if (!json_is_integer(amount_v) || json_integer_value(amount_v) <= 0 ||
        json_integer_value(amount_v) > CS_AMOUNT_MINOR_MAX)
        return cs_fail(d, CS_EAMOUNT, "amount", "amount must be an integer from 1 to %lld minor units",
                       (long long)CS_AMOUNT_MINOR_MAX);
    int64_t sum = 0;
    if ((rc = validate_lines(in, lines, &sum, d)))
        return rc;
    if (sum <= 0) {
        json_decref(*lines);
        return cs_fail(d, CS_EAMOUNT, "lines", "the lines must add up to more than zero (a discount larger than the cart?)");
    }
    if (sum != json_integer_value(amount_v)) {
        json_decref(*lines);
        return cs_fail(d, CS_EAMOUNT, "amount", "amount %lld does not equal the sum of the lines %lld",
                       (long long)json_integer_value(amount_v), (long long)sum);
    }
    *amount = sum;
    return 0;
}

static json_t *refund_json(const char *id, int64_t amount, const char *at)
{
    if (amount <= 0)
        return json_null();
    return json_pack("{s:s,s:I,s:s,s:s}", "id", id, "amount", (json_int_t)amount, "status", "refunded",
                     "refunded_at", at);
}

int order_decide_cart_edit(json_t *doc, json_t *lines, int64_t amount, const char *refund_id,
                           const char *at, json_t **data, struct cs_diag *d)
{
    int rc = editable(doc, "be edited", d);
    if (rc)
        return rc;
    /* Shipped quantities are facts: a line can change, but not below what
     * left the warehouse (that is a return). */
    size_t i;
    json_t *line;
    json_array_foreach(json_object_get(doc, "lines"), i, line) {
        json_int_t shipped = json_integer_value(json_object_get(line, "quantity_shipped"));
        if (shipped <= 0)
            continue;
        const char *ref = json_string_value(json_object_get(line, "reference"));
        json_t *nl = NULL, *cand;
        size_t k;
        json_array_foreach(lines, k, cand) {
            const char *r = json_string_value(json_object_get(cand, "reference"));
            if (r && ref && strcmp(r, ref) == 0 && strcmp(json_string_value(json_object_get(cand, "type")), "product") == 0)
                nl = cand;
        }
        if (!nl || json_integer_value(json_object_get(nl, "quantity")) < shipped)
            return cs_fail(d, CS_ESTATE, "lines", "%s: %lld already shipped; record what comes back with "
                           "POST /v1/orders/{id}/returns", ref ? ref : "a line", (long long)shipped);
        /* Its price too: what shipped is what the financier owes the merchant
         * (a discount line is how a cart lowers it after shipment). */
        if (json_integer_value(json_object_get(nl, "unit_price")) != json_integer_value(json_object_get(line, "unit_price")))
            return cs_fail(d, CS_ESTATE, "lines", "%s: its unit_price cannot change once shipped; add a discount "
                           "line instead", ref ? ref : "a line");
        json_object_set_new(nl, "quantity_shipped", json_integer(shipped));
    }
    json_t *schedule = NULL;
    int64_t refund = 0;
    if ((rc = recompute(doc, amount, &schedule, &refund, d)))
        return rc;
    /* Shipping state follows the new cart: goods added to a shipped order
     * make it partially shipped again; a cart cut down to what left makes a
     * partially shipped order shipped. */
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (strcmp(status, "shipped") == 0 || strcmp(status, "partially_shipped") == 0) {
        int left = 0;
        json_array_foreach(lines, i, line)
            if (strcmp(json_string_value(json_object_get(line, "type")), "product") == 0 &&
                json_integer_value(json_object_get(line, "quantity")) > json_integer_value(json_object_get(line, "quantity_shipped")))
                left = 1;
        status = left ? "partially_shipped" : "shipped";
    }
    *data = json_pack("{s:{s:O,s:O},s:{s:O,s:I},s:o,s:o,s:s}", "before", "lines", json_object_get(doc, "lines"),
                      "amount", json_object_get(doc, "amount"), "after", "lines", lines, "amount",
                      (json_int_t)amount, "schedule", schedule, "refund", refund_json(refund_id, refund, at),
                      "status", status);
    if (*data && json_array_size(json_object_get(doc, "shipments")) > 0)   /* a running schedule */
        json_object_set_new(*data, "next_charge", next_charge_of(doc, schedule, 0));
    return *data ? 0 : CS_ENOMEM;
}

int order_validate_return(json_t *body, json_t **lines, struct cs_diag *d)
{
    const char *carrier, *tracking;
    static const char *const keys[] = {"lines", NULL};
    int rc = jin_object(body, "", keys, d);
    if (rc || (rc = order_validate_shipment(body, lines, &carrier, &tracking, d)))
        return rc;
    if (!*lines)
        return cs_fail(d, CS_EMISSING, "lines", "lines is required: what comes back, by reference and quantity");
    return 0;
}

/* What a return of the whole order brings back: every product line's shipped
 * quantity not yet returned ({reference, quantity} like a return request).
 * New reference; an empty array when nothing shipped is left. */
static json_t *shipped_lines(json_t *doc)
{
    json_t *out = json_array(), *line;
    size_t i;
    json_array_foreach(json_object_get(doc, "lines"), i, line) {
        const char *type = json_string_value(json_object_get(line, "type"));
        json_int_t shipped = json_integer_value(json_object_get(line, "quantity_shipped"));
        if (type && strcmp(type, "product") == 0 && shipped > 0 &&
            json_array_append_new(out, json_pack("{s:O,s:I}", "reference", json_object_get(line, "reference"),
                                                 "quantity", shipped))) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* lines: what comes back (validated by order_validate_return); whole: the
 * order is given up entirely, so what was never shipped is dropped too. */
static int decide_return(json_t *doc, const char *st, json_t *lines, int whole, const char *return_id,
                         const char *refund_id, const char *at, json_t **data, struct cs_diag *d)
{
    json_t *out = json_array(), *new_lines = json_deep_copy(json_object_get(doc, "lines"));
    int64_t value = 0;
    size_t i;
    json_t *rl;
    json_array_foreach(lines, i, rl) {
        const char *ref = json_string_value(json_object_get(rl, "reference"));
        json_int_t qty = json_integer_value(json_object_get(rl, "quantity"));
        json_t *ol = product_line(new_lines, ref);
        char p[48];
        if (!ol) {
            snprintf(p, sizeof p, "lines[%zu].reference", i);
            json_decref(out);
            json_decref(new_lines);
            return cs_fail(d, CS_EPARAM, p, "%s: the order has no product line %s", p, ref);
        }
        json_int_t shipped = json_integer_value(json_object_get(ol, "quantity_shipped"));
        if (qty > shipped) {
            snprintf(p, sizeof p, "lines[%zu].quantity", i);
            json_decref(out);
            json_decref(new_lines);
            return cs_fail(d, CS_EPARAM, p, "%s: returns %lld of %s but only %lld were shipped", p,
                           (long long)qty, ref, (long long)shipped);
        }
        json_int_t price = json_integer_value(json_object_get(ol, "unit_price"));
        json_int_t q = json_integer_value(json_object_get(ol, "quantity"));
        json_object_set_new(ol, "quantity", json_integer(q - qty));
        json_object_set_new(ol, "quantity_shipped", json_integer(shipped - qty));
        json_object_set_new(ol, "amount", json_integer((q - qty) * price));
        value += (int64_t)qty * price;
        json_array_append_new(out, json_pack("{s:s,s:I,s:I}", "reference", ref, "quantity", qty,
                                             "amount", (json_int_t)(qty * price)));
    }
    json_t *line;
    if (whole)   /* nothing more will ship: the quantities never shipped leave the order too */
        json_array_foreach(new_lines, i, line) {
            const char *type = json_string_value(json_object_get(line, "type"));
            if (type && strcmp(type, "product") == 0)
                json_object_set_new(line, "quantity", json_integer(0));
        }
    /* Full return: no product is left. Everything paid goes back. */
    int full = 1;
    json_array_foreach(new_lines, i, line) {
        const char *type = json_string_value(json_object_get(line, "type"));
        if (type && strcmp(type, "product") == 0 && json_integer_value(json_object_get(line, "quantity")) > 0)
            full = 0;
    }
    int64_t amount = json_integer_value(json_object_get(doc, "amount")) - value;
    json_t *schedule = NULL;
    int64_t refund = 0;
    if (full)   /* nothing kept: handling and discounts go with the goods, the lines add up to 0 */
        json_array_foreach(new_lines, i, line)
            json_object_set_new(line, "amount", json_integer(0));
    if (full) {
        schedule = json_deep_copy(json_object_get(json_object_get(doc, "plan"), "schedule"));
        json_t *inst;
        json_array_foreach(schedule, i, inst) {
            const char *s2 = json_string_value(json_object_get(inst, "status"));
            if (!s2 || strcmp(s2, "paid") != 0)
                json_object_set_new(inst, "status", json_string("cancelled"));
        }
        refund = json_integer_value(json_object_get(doc, "amount_paid")) -
                 json_integer_value(json_object_get(doc, "amount_refunded"));
        amount = 0;
    } else {
        if (amount <= 0)
            amount = 0;
        int rc = recompute(doc, amount, &schedule, &refund, d);
        if (rc) {
            json_decref(out);
            json_decref(new_lines);
            return rc;
        }
    }
    *data = json_pack("{s:{s:s,s:o,s:I,s:b,s:s},s:o,s:I,s:o,s:o,s:s}", "return", "id", return_id, "lines", out,
                      "amount", (json_int_t)value, "full", full, "returned_at", at, "lines", new_lines,
                      "amount_after", (json_int_t)amount, "schedule", schedule, "refund",
                      refund_json(refund_id, refund, at), "status", full ? "returned" : st);
    if (*data)   /* the pending charge follows the new schedule (none after a full return) */
        json_object_set_new(*data, "next_charge", full ? json_null() : next_charge_of(doc, schedule, 0));
    return *data ? 0 : CS_ENOMEM;
}

int order_decide_return(json_t *doc, json_t *lines, const char *return_id, const char *refund_id,
                        const char *at, json_t **data, struct cs_diag *d)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    if (!st || (strcmp(st, "partially_shipped") != 0 && strcmp(st, "shipped") != 0 && strcmp(st, "completed") != 0))
        return cs_fail(d, CS_ESTATE, "", "only shipped goods can be returned; this order is %s", st ? st : "unknown");
    if (lines)
        return decide_return(doc, st, lines, 0, return_id, refund_id, at, data, d);
    json_t *all = shipped_lines(doc);
    if (!all)
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    int rc = json_array_size(all) == 0
                 ? cs_fail(d, CS_ESTATE, "", "nothing shipped is left to return on this order")
                 : decide_return(doc, st, all, 1, return_id, refund_id, at, data, d);
    json_decref(all);
    return rc;
}

/* ---- early payoff ------------------------------------------------------------------ */

int order_decide_payoff(json_t *doc, int64_t now_us, int64_t early_fee, json_t **data, struct cs_diag *d)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    static const char *const running[] = {"confirmed", "partially_shipped", "shipped", NULL};
    if (!st || !in_list(st, running))
        return cs_fail(d, CS_ESTATE, "", "a %s order has no plan to pay off", st ? st : "unknown");
    char today[11];
    clock_format_date(now_us, today, sizeof today);
    int64_t amount = 0, waived = 0;
    json_t *paid = json_array();
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(json_object_get(doc, "plan"), "schedule"), i, inst) {
        const char *s = json_string_value(json_object_get(inst, "status"));
        if (s && (strcmp(s, "paid") == 0 || strcmp(s, "cancelled") == 0))
            continue;
        const char *due = json_string_value(json_object_get(inst, "due_date"));
        int64_t fee = json_integer_value(json_object_get(inst, "fee"));
        int is_due = due && strcmp(due, today) <= 0;
        amount += json_integer_value(json_object_get(inst, "amount")) + (is_due ? fee : 0);
        if (!is_due)
            waived += fee;
        json_array_append_new(paid, json_pack("{s:i,s:I,s:I}", "instalment", (int)i + 1, "amount",
                                              json_integer_value(json_object_get(inst, "amount")) + (is_due ? fee : 0),
                                              "fee_waived", (json_int_t)(is_due ? 0 : fee)));
    }
    if (json_array_size(paid) == 0) {
        json_decref(paid);
        return cs_fail(d, CS_ESTATE, "", "every instalment is already paid");
    }
    amount += early_fee;   /* only where the country's policy sets one */
    struct card_facts card;
    struct acq_result r;
    if (card_facts_from_json(json_object_get(doc, "card"), &card) != 0) {
        json_decref(paid);
        return cs_fail(d, CS_ECORRUPT, "", "the order has no usable card");
    }
    acquirer_authorize(&card, amount, 0, &r);
    if (r.outcome != ACQ_APPROVED) {
        json_decref(paid);
        return cs_fail(d, CS_ECARD, "", "the card was declined (%s): %s", r.code, r.message);
    }
    char at[40];
    clock_format_rfc3339(now_us, at, sizeof at);
    *data = json_pack("{s:{s:I,s:I,s:I,s:o,s:s},s:n}", "payoff", "amount", (json_int_t)amount, "fees_waived",
                      (json_int_t)waived, "early_repayment_fee", (json_int_t)early_fee, "instalments", paid,
                      "paid_at", at, "next_charge");
    return *data ? 0 : CS_ENOMEM;
}

/* ---- operator actions ------------------------------------------------------------- */

static int running(json_t *doc, struct cs_diag *d)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    static const char *const ok[] = {"confirmed", "partially_shipped", "shipped", NULL};
    if (!st || !in_list(st, ok))
        return cs_fail(d, CS_ESTATE, "", "a %s order has no running plan", st ? st : "unknown");
    return 0;
}

/* The next charge of a schedule (as order_next_charge, on a schedule). */
static json_t *next_charge_of(json_t *doc, json_t *schedule, int64_t now_us)
{
    json_t *copy = json_copy(doc), *plan = json_copy(json_object_get(doc, "plan"));
    json_object_set(plan, "schedule", schedule);
    json_object_set_new(copy, "plan", plan);
    json_t *next = order_next_charge(copy, 0, now_us);
    json_decref(copy);
    return next;
}

int order_decide_early_payment(json_t *doc, int64_t amount, int64_t now_us, json_t **data, struct cs_diag *d)
{
    int rc = running(doc, d);
    if (rc)
        return rc;
    json_t *sched = json_deep_copy(json_object_get(json_object_get(doc, "plan"), "schedule"));
    int64_t open = 0;
    size_t i;
    json_t *inst;
    json_array_foreach(sched, i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (!st || (strcmp(st, "paid") != 0 && strcmp(st, "cancelled") != 0))
            open += json_integer_value(json_object_get(inst, "amount"));
    }
    if (amount > open) {
        json_decref(sched);
        return cs_fail(d, CS_EAMOUNT, "amount", "amount %lld is more than the %lld left to pay", (long long)amount,
                       (long long)open);
    }
    char at[40], today[11];
    clock_format_rfc3339(now_us, at, sizeof at);
    clock_format_date(now_us, today, sizeof today);
    /* An instalment the payment covers whole that is already due brings its
     * fee along: once marked paid it would never be charged. */
    int64_t fees = 0, cover = amount;
    json_array_foreach(sched, i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (st && (strcmp(st, "paid") == 0 || strcmp(st, "cancelled") == 0))
            continue;
        int64_t a = json_integer_value(json_object_get(inst, "amount"));
        if (cover < a)
            break;
        cover -= a;
        const char *due = json_string_value(json_object_get(inst, "due_date"));
        if (due && strcmp(due, today) <= 0)
            fees += json_integer_value(json_object_get(inst, "fee"));
    }
    struct card_facts card;
    struct acq_result r;
    if (card_facts_from_json(json_object_get(doc, "card"), &card) != 0) {
        json_decref(sched);
        return cs_fail(d, CS_ECORRUPT, "", "the order has no usable card");
    }
    acquirer_authorize(&card, amount + fees, 0, &r);
    if (r.outcome != ACQ_APPROVED) {
        json_decref(sched);
        return cs_fail(d, CS_ECARD, "", "the card was declined (%s): %s", r.code, r.message);
    }
    int64_t left = amount;
    json_array_foreach(sched, i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (left == 0 || (st && (strcmp(st, "paid") == 0 || strcmp(st, "cancelled") == 0)))
            continue;
        int64_t a = json_integer_value(json_object_get(inst, "amount"));
        if (left >= a) {   /* covered whole: paid now, its fee dropped if not yet due */
            left -= a;
            const char *due = json_string_value(json_object_get(inst, "due_date"));
            if (due && strcmp(due, today) > 0)
                json_object_set_new(inst, "fee", json_integer(0));
            json_object_set_new(inst, "amount", json_integer(0));
            json_object_set_new(inst, "status", json_string("paid"));
            json_object_set_new(inst, "paid_at", json_string(at));
        } else {
            json_object_set_new(inst, "amount", json_integer(a - left));
            left = 0;
        }
    }
    *data = json_pack("{s:{s:I,s:I,s:s},s:o}", "payment", "amount", (json_int_t)(amount + fees), "fees",
                      (json_int_t)fees, "paid_at", at, "schedule", sched);
    if (*data && json_array_size(json_object_get(doc, "shipments")) > 0)   /* a running schedule */
        json_object_set_new(*data, "next_charge", next_charge_of(doc, sched, now_us));
    return *data ? 0 : CS_ENOMEM;
}

int order_decide_due_day(json_t *doc, int day, int64_t now_us, json_t **data, struct cs_diag *d)
{
    int rc = running(doc, d);
    if (rc)
        return rc;
    json_t *sched = json_deep_copy(json_object_get(json_object_get(doc, "plan"), "schedule"));
    size_t i;
    json_t *inst;
    int moved = 0;
    json_array_foreach(sched, i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        const char *due = json_string_value(json_object_get(inst, "due_date"));
        int y, m, dd;
        if ((st && (strcmp(st, "paid") == 0 || strcmp(st, "cancelled") == 0)) || !due ||
            clock_parse_date(due, &y, &m, &dd) != 0)
            continue;
        int dim = clock_days_in_month(y, m);
        char nd[11];
        snprintf(nd, sizeof nd, "%04d-%02d-%02d", y, m, day < dim ? day : dim);
        json_object_set_new(inst, "due_date", json_string(nd));
        moved++;
    }
    if (!moved) {
        json_decref(sched);
        return cs_fail(d, CS_ESTATE, "", "no unpaid instalment is left to move");
    }
    *data = json_pack("{s:i,s:o}", "day", day, "schedule", sched);
    if (*data && json_array_size(json_object_get(doc, "shipments")) > 0)   /* a running schedule */
        json_object_set_new(*data, "next_charge", next_charge_of(doc, sched, now_us));
    return *data ? 0 : CS_ENOMEM;
}
