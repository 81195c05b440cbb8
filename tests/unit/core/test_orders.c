/* The order decide functions are pure: (document, request) -> event data. */
#include <string.h>
#include "core/orders.h"
#include "tests/unit/tap.h"

static json_t *order_doc(const char *status)
{
    return json_pack("{s:s,s:I,s:I,s:[{s:s,s:s,s:I,s:I,s:I,s:i},{s:s,s:s,s:I,s:I,s:I,s:i},"
                     "{s:s,s:n,s:I,s:I,s:I,s:i},{s:s,s:n,s:I,s:I,s:I,s:i}],s:[]}",
                     "status", status, "amount", (json_int_t)(2 * 1000 + 3 * 500 + 490 - 300),
                     "shipped_amount", (json_int_t)0, "lines",
                     "type", "product", "reference", "A", "unit_price", (json_int_t)1000, "quantity", (json_int_t)2, "amount", (json_int_t)2000, "quantity_shipped", 0,
                     "type", "product", "reference", "B", "unit_price", (json_int_t)500, "quantity", (json_int_t)3, "amount", (json_int_t)1500, "quantity_shipped", 0,
                     "type", "handling", "reference", "unit_price", (json_int_t)490, "quantity", (json_int_t)1, "amount", (json_int_t)490, "quantity_shipped", 0,
                     "type", "discount", "reference", "unit_price", (json_int_t)300, "quantity", (json_int_t)1, "amount", (json_int_t)-300, "quantity_shipped", 0,
                     "shipments");
}

/* Applies a shipment's data to the document the way the projection does. */
static void apply(json_t *doc, json_t *data)
{
    size_t i, j;
    json_t *sl, *line;
    json_array_foreach(json_object_get(json_object_get(data, "shipment"), "lines"), i, sl)
        json_array_foreach(json_object_get(doc, "lines"), j, line)
            if (json_is_string(json_object_get(line, "reference")) &&
                strcmp(json_string_value(json_object_get(line, "reference")),
                       json_string_value(json_object_get(sl, "reference"))) == 0)
                json_object_set_new(line, "quantity_shipped",
                                    json_integer(json_integer_value(json_object_get(line, "quantity_shipped")) +
                                                 json_integer_value(json_object_get(sl, "quantity"))));
    json_array_append(json_object_get(doc, "shipments"), json_object_get(data, "shipment"));
    json_object_set(doc, "shipped_amount", json_object_get(data, "shipped_amount"));
    json_object_set(doc, "status", json_object_get(data, "status"));
}

static void test_ship(void)
{
    struct cs_diag d = {0};
    json_t *doc = order_doc("approved"), *data = NULL;
    EQ_INT(order_decide_shipment(doc, NULL, "shp_1", NULL, NULL, "t", &data, &d), CS_ESTATE, "approved cannot ship");
    json_object_set_new(doc, "status", json_string("confirmed"));

    json_t *req = json_pack("[{s:s,s:i}]", "reference", "B", "quantity", 4);
    EQ_INT(order_decide_shipment(doc, req, "shp_1", NULL, NULL, "t", &data, &d), CS_EPARAM, "more than ordered");
    EQ_STR(d.param, "lines[0].quantity", "names the quantity");
    json_decref(req);
    req = json_pack("[{s:s,s:i}]", "reference", "Z", "quantity", 1);
    EQ_INT(order_decide_shipment(doc, req, "shp_1", NULL, NULL, "t", &data, &d), CS_EPARAM, "unknown reference");
    EQ_STR(d.param, "lines[0].reference", "names the reference");
    json_decref(req);

    req = json_pack("[{s:s,s:i}]", "reference", "B", "quantity", 2);
    EQ_INT(order_decide_shipment(doc, req, "shp_1", "colissimo", NULL, "t", &data, &d), 0, "partial");
    json_decref(req);
    EQ_STR(json_string_value(json_object_get(data, "status")), "partially_shipped", "status partial");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "shipment"), "amount")), 1000, "2 x 500");
    EQ_INT(json_integer_value(json_object_get(data, "shipped_amount")), 1000, "cumulative");
    apply(doc, data);
    json_decref(data);

    req = json_pack("[{s:s,s:i}]", "reference", "B", "quantity", 2);
    EQ_INT(order_decide_shipment(doc, req, "shp_2", NULL, NULL, "t", &data, &d), CS_EPARAM, "only 1 B left");
    json_decref(req);

    EQ_INT(order_decide_shipment(doc, NULL, "shp_2", NULL, NULL, "t", &data, &d), 0, "the rest");
    EQ_STR(json_string_value(json_object_get(data, "status")), "shipped", "complete");
    /* the rest: 2 x A + 1 x B + handling - discount */
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "shipment"), "amount")), 2000 + 500 + 490 - 300,
           "completing shipment carries handling and discount");
    EQ_INT(json_integer_value(json_object_get(data, "shipped_amount")), json_integer_value(json_object_get(doc, "amount")),
           "shipped amount equals the order amount");
    apply(doc, data);
    json_decref(data);
    EQ_INT(order_decide_shipment(doc, NULL, "shp_3", NULL, NULL, "t", &data, &d), CS_ESTATE, "nothing left");
    EQ_INT(order_decide_cancel(doc, &d), CS_ESTATE, "shipped order cannot be cancelled");
    OK(strstr(d.message, "returns") != NULL, "points to returns: %s", d.message);
    json_decref(doc);
}

static void test_cancel_and_customers(void)
{
    struct cs_diag d = {0};
    const char *ok[] = {"pending", "approved", "confirmed"}, *no[] = {"rejected", "cancelled"};
    for (int i = 0; i < 3; i++) {
        json_t *doc = order_doc(ok[i]);
        EQ_INT(order_decide_cancel(doc, &d), 0, ok[i]);
        json_decref(doc);
    }
    for (int i = 0; i < 2; i++) {
        json_t *doc = order_doc(no[i]);
        EQ_INT(order_decide_cancel(doc, &d), CS_ESTATE, no[i]);
        json_decref(doc);
    }
    json_t *a = json_pack("{s:s,s:s}", "phone", "+33612345678", "email", "Camille@Example.com");
    json_t *same_phone = json_pack("{s:s,s:s}", "phone", "+33612345678", "email", "other@example.com");
    json_t *same_mail = json_pack("{s:s,s:s}", "phone", "+33700000000", "email", "camille@example.com");
    json_t *other = json_pack("{s:s,s:s}", "phone", "+33700000000", "email", "x@example.com");
    OK(order_customer_matches(a, same_phone), "same phone matches");
    OK(order_customer_matches(a, same_mail), "same e-mail, other case, matches");
    OK(!order_customer_matches(a, other), "neither: another customer");
    json_decref(a); json_decref(same_phone); json_decref(same_mail); json_decref(other);
}

int main(void)
{
    test_ship();
    test_cancel_and_customers();
    return tap_done();
}
