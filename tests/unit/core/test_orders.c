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

/* The order of order_doc once confirmed (instalment 1 of 3 paid, 1230) and
 * shipped as `shipped` says for A and B (2 and 3 ordered). */
static json_t *shipped_doc(const char *status, int a_shipped, int b_shipped)
{
    json_t *doc = order_doc(status);
    json_t *lines = json_object_get(doc, "lines");
    json_object_set_new(json_array_get(lines, 0), "quantity_shipped", json_integer(a_shipped));
    json_object_set_new(json_array_get(lines, 1), "quantity_shipped", json_integer(b_shipped));
    json_object_set_new(doc, "amount_paid", json_integer(1230));
    json_object_set_new(doc, "amount_refunded", json_integer(0));
    json_object_set_new(doc, "plan", json_pack("{s:[{s:I,s:I,s:s,s:s},{s:I,s:I,s:s,s:s},{s:I,s:I,s:s,s:s}]}",
                                               "schedule",
                                               "amount", (json_int_t)1230, "fee", (json_int_t)0, "status", "paid", "due_date", "2026-03-02",
                                               "amount", (json_int_t)1230, "fee", (json_int_t)0, "status", "scheduled", "due_date", "2026-04-02",
                                               "amount", (json_int_t)1230, "fee", (json_int_t)0, "status", "scheduled", "due_date", "2026-05-02"));
    return doc;
}

static int64_t line_qty(json_t *data, size_t i, const char *field)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(data, "lines"), i), field));
}

/* The plugins' `return` with no lines (a platform's "refunded"): everything
 * shipped comes back, what never shipped is dropped, everything paid is
 * refunded and the schedule stops. */
static void test_return_everything(void)
{
    struct cs_diag d = {0};
    json_t *data = NULL;

    json_t *doc = shipped_doc("shipped", 2, 3);
    EQ_INT(order_decide_return(doc, NULL, "ret_1", "re_1", "t", &data, &d), 0, "shipped: the whole order comes back");
    json_t *ret = json_object_get(data, "return");
    EQ_STR(json_string_value(json_object_get(data, "status")), "returned", "status returned");
    OK(json_is_true(json_object_get(ret, "full")), "a full return");
    EQ_INT(json_array_size(json_object_get(ret, "lines")), 2, "both product lines");
    EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(ret, "lines"), 0), "reference")), "A", "A");
    EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(ret, "lines"), 0), "quantity")), 2, "2 A");
    EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(ret, "lines"), 1), "quantity")), 3, "3 B");
    EQ_INT(json_integer_value(json_object_get(ret, "amount")), 3500, "the goods' value");
    EQ_INT(json_integer_value(json_object_get(data, "amount_after")), 0, "nothing owed");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "refund"), "amount")), 1230, "everything paid back");
    EQ_STR(json_string_value(json_object_get(json_object_get(data, "refund"), "id")), "re_1", "the refund id");
    OK(json_is_null(json_object_get(data, "next_charge")), "no next charge");
    json_t *sched = json_object_get(data, "schedule");
    EQ_STR(json_string_value(json_object_get(json_array_get(sched, 0), "status")), "paid", "paid stays paid");
    EQ_STR(json_string_value(json_object_get(json_array_get(sched, 1), "status")), "cancelled", "2 cancelled");
    EQ_STR(json_string_value(json_object_get(json_array_get(sched, 2), "status")), "cancelled", "3 cancelled");
    for (size_t i = 0; i < 4; i++)
        EQ_INT(line_qty(data, i, "amount"), 0, "every line's amount is 0");
    EQ_INT(line_qty(data, 0, "quantity") + line_qty(data, 1, "quantity"), 0, "no product left");
    json_decref(data);
    json_decref(doc);

    /* Partially shipped: 1 A and 2 B left; the 1 A and 1 B never shipped are dropped. */
    doc = shipped_doc("partially_shipped", 1, 2);
    EQ_INT(order_decide_return(doc, NULL, "ret_2", "re_2", "t", &data, &d), 0, "partially shipped");
    ret = json_object_get(data, "return");
    EQ_STR(json_string_value(json_object_get(data, "status")), "returned", "returned, not partially_shipped");
    OK(json_is_true(json_object_get(ret, "full")), "full: nothing will ship any more");
    EQ_INT(json_integer_value(json_object_get(ret, "amount")), 1000 + 2 * 500, "what came back: 1 A and 2 B");
    EQ_INT(line_qty(data, 0, "quantity"), 0, "A dropped");
    EQ_INT(line_qty(data, 1, "quantity"), 0, "B dropped");
    EQ_INT(line_qty(data, 0, "quantity_shipped") + line_qty(data, 1, "quantity_shipped"), 0, "nothing out");
    EQ_INT(json_integer_value(json_object_get(json_object_get(data, "refund"), "amount")), 1230, "all paid back");
    json_decref(data);

    /* The same order, with explicit lines: the API's partial return, unchanged. */
    json_t *req = json_pack("[{s:s,s:i}]", "reference", "B", "quantity", 2);
    EQ_INT(order_decide_return(doc, req, "ret_3", "re_3", "t", &data, &d), 0, "explicit lines");
    json_decref(req);
    EQ_STR(json_string_value(json_object_get(data, "status")), "partially_shipped", "a partial return");
    OK(json_is_false(json_object_get(json_object_get(data, "return"), "full")), "not full");
    EQ_INT(line_qty(data, 0, "quantity"), 2, "A kept");
    EQ_INT(line_qty(data, 1, "quantity"), 1, "1 B left to ship");
    json_decref(data);
    json_decref(doc);

    /* What an earlier return took back does not come back twice. */
    doc = shipped_doc("shipped", 2, 3);
    json_t *b = json_array_get(json_object_get(doc, "lines"), 1);
    json_object_set_new(b, "quantity", json_integer(1));
    json_object_set_new(b, "quantity_shipped", json_integer(1));
    EQ_INT(order_decide_return(doc, NULL, "ret_4", "re_4", "t", &data, &d), 0, "after a partial return");
    ret = json_object_get(data, "return");
    EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(ret, "lines"), 1), "quantity")), 1,
           "the 1 B still out");
    EQ_INT(json_integer_value(json_object_get(ret, "amount")), 2000 + 500, "2 A and 1 B");
    json_decref(data);
    json_decref(doc);

    /* Nothing shipped left to return; or not shipped at all. */
    doc = shipped_doc("partially_shipped", 0, 0);
    data = NULL;
    EQ_INT(order_decide_return(doc, NULL, "ret_5", "re_5", "t", &data, &d), CS_ESTATE, "nothing out: refused");
    OK(strstr(d.message, "nothing shipped") != NULL, "says why: %s", d.message);
    OK(data == NULL, "no data");
    json_decref(doc);
    const char *no[] = {"confirmed", "cancelled", "returned", "pending"};
    for (int i = 0; i < 4; i++) {
        doc = shipped_doc(no[i], 0, 0);
        EQ_INT(order_decide_return(doc, NULL, "ret_6", "re_6", "t", &data, &d), CS_ESTATE, no[i]);
        OK(strstr(d.message, "only shipped goods") != NULL, "%s: %s", no[i], d.message);
        json_decref(doc);
    }
}

int main(void)
{
    test_ship();
    test_cancel_and_customers();
    test_return_everything();
    return tap_done();
}
