#include <stddef.h>
#include "core/router.h"

/* Every route of the server. tests/e2e/test_openapi.py walks this table (via
 * the OpenAPI document) so the two cannot drift apart. */
const struct route routes[] = {
    {"GET",  "/healthz",                   api_healthz,        ROUTE_PUBLIC, "getHealth"},
    {"GET",  "/metrics",                   api_metrics,        ROUTE_PUBLIC, "getMetrics"},
    {"GET",  "/v1/openapi.json",           api_openapi,        ROUTE_PUBLIC, "getOpenApi"},
    {"POST", "/v1/orders",                 api_orders_create,
     ROUTE_MERCHANT | ROUTE_WRITE | ROUTE_IDEMPOTENT | ROUTE_JSON_BODY, "createOrder"},
    {"GET",  "/v1/orders",                 api_orders_list,    ROUTE_MERCHANT, "listOrders"},
    {"GET",  "/v1/orders/{id}",            api_orders_get,     ROUTE_MERCHANT, "getOrder"},
    {"POST", "/v1/orders/{id}/confirm",    api_orders_confirm,
     ROUTE_MERCHANT | ROUTE_WRITE | ROUTE_IDEMPOTENT | ROUTE_JSON_BODY, "confirmOrder"},
    {"POST", "/v1/orders/{id}/cancel",     api_orders_cancel,
     ROUTE_MERCHANT | ROUTE_WRITE | ROUTE_IDEMPOTENT | ROUTE_JSON_BODY, "cancelOrder"},
    {"POST", "/v1/orders/{id}/shipments",  api_orders_ship,
     ROUTE_MERCHANT | ROUTE_WRITE | ROUTE_IDEMPOTENT | ROUTE_JSON_BODY, "createShipment"},
    {"GET",  "/v1/orders/{id}/activity",   api_orders_activity, ROUTE_MERCHANT, "getOrderActivity"},
    {"GET",  "/v1/customers",              api_customers_list, ROUTE_MERCHANT, "listCustomers"},
    {"GET",  "/v1/customers/{id}",         api_customers_get,  ROUTE_MERCHANT, "getCustomer"},
    {"GET",  "/v1/events",                 api_events_list,    ROUTE_MERCHANT, "listEvents"},
    {"GET",  "/v1/test_clock",             api_test_clock_get, ROUTE_MERCHANT, "getTestClock"},
    {"POST", "/v1/test_clock/advance",     api_test_clock_advance,
     ROUTE_MERCHANT | ROUTE_WRITE | ROUTE_JSON_BODY, "advanceTestClock"},
    {"POST", "/v1/admin/policies/reload",  api_admin_reload,   ROUTE_OPERATOR | ROUTE_JSON_BODY, "reloadPolicies"},
    {NULL, NULL, NULL, 0, NULL},
};
