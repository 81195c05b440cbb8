#ifndef CAISSE_ORDERS_H
#define CAISSE_ORDERS_H
/* The order aggregate (buy-now-pay-later checkout): validation of a checkout,
 * the decisions taken at checkout (plan offer and risk, from Lua policy), and
 * the commands' decide functions, pure of I/O: (state, command, policy
 * results) -> events. */
#include <stdint.h>
#include <jansson.h>
#include "core/errors.h"
#include "lua/policy.h"

/* The plans caisse sells; plans.offer prices them. */
extern const char *const order_plans[];

/* Validates a checkout body against the merchant (currency, country) and
 * returns the order document without id, decisions or timestamps. */
int order_validate_create(json_t *body, json_t *merchant, json_t **order, struct cs_diag *d);

/* Runs country.rules (the country's checkout refusal and accepted ID
 * documents), plans.offer and risk.decide for a validated order, at platform
 * time now_us; sets order.plan and returns the decision ("approved", "rejected",
 * "review") in *decision (static string). */
int order_decide_checkout(struct policy_engine *pe, json_t *order, json_t *merchant, int livemode,
                          int64_t now_us, const char **decision, struct cs_diag *d);

/* The event type that records a risk decision. */
const char *order_decision_event(const char *decision);

/* Confirm: the order document `doc` must belong to nobody else (checked by the
 * caller), be approved, and match expected_version when it is >= 0. */
int order_decide_confirm(json_t *doc, int64_t expected_version, struct cs_diag *d);

/* Cancel: the fixed list of reasons (docs/events.md), and the check that
 * nothing is shipped yet and the order is not already final. */
extern const char *const order_cancel_reasons[];
int order_decide_cancel(json_t *doc, struct cs_diag *d);

/* Ship: validates a shipment request body (loop thread); *lines is borrowed
 * from body (NULL: everything left), the strings too. */
int order_validate_shipment(json_t *body, json_t **lines, const char **carrier,
                            const char **tracking, struct cs_diag *d);
/* Decides a shipment of `doc` (pure): which quantities, what amount, the
 * cumulative shipped amount and the new status. *data is the order.shipped
 * event's data (new reference). */
int order_decide_shipment(json_t *doc, json_t *lines, const char *shipment_id, const char *carrier,
                          const char *tracking, const char *shipped_at, json_t **data,
                          struct cs_diag *d);

/* Instalment collection (docs/events.md "Instalments"). Charges run once the
 * order has shipped, each on its due date at 06:00 UTC (or at once if that is
 * past), on the card of the first payment. */
#define ORDER_CHARGE_ATTEMPTS_MAX 3          /* then the failure waits for the operator */
#define ORDER_CHARGE_RETRY_US (24LL * 3600 * 1000000)

/* The next unpaid instalment of doc after `after` (0: the first unpaid), as
 * {"instalment": n, "due_us": t} with t = max(due date 06:00 UTC, now_us);
 * JSON null when every instalment is paid. New reference. */
json_t *order_next_charge(json_t *doc, int after, int64_t now_us);

/* Charges the due instalment of doc (attempt = failures so far + 1) through
 * the simulated acquirer: *type is order.instalment_paid or
 * order.instalment_failed and *data its decided data (with next_charge).
 * CS_ESTATE if nothing is due. */
int order_decide_charge(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);

/* Cart edits and returns (docs/events.md "Edits and returns"). Both change
 * the order's amount; the instalments not yet paid are re-computed so that
 * paid + remaining = the new amount (remainder to the first remaining one),
 * fees unchanged; what was paid beyond the new amount is refunded at once.
 *
 * order_validate_cart: the body {"lines": [...], "amount"} of a cart edit,
 * the same line rules as checkout; *lines is a new array.
 * order_decide_cart_edit / order_decide_return: the event data (new ref).
 * order_decide_return with lines NULL gives the whole order up (the plugins'
 * `return` command with no lines, a platform's "refunded"): every shipped
 * unit not yet returned comes back, units never shipped are dropped, so it is
 * a full return (status returned, everything paid refunded, the schedule
 * stopped); CS_ESTATE if nothing shipped is left to return. */
int order_validate_cart(json_t *body, json_t **lines, int64_t *amount, struct cs_diag *d);
int order_decide_cart_edit(json_t *doc, json_t *lines, int64_t amount, const char *refund_id,
                           const char *at, json_t **data, struct cs_diag *d);
int order_validate_return(json_t *body, json_t **lines, struct cs_diag *d);
int order_decide_return(json_t *doc, json_t *lines, const char *return_id, const char *refund_id,
                        const char *at, json_t **data, struct cs_diag *d);

/* Paying the plan off early (seed 000 "amortir le plan"): every unpaid
 * instalment at once; the fees of instalments not yet due are dropped. The
 * card is charged through the simulated acquirer; *data is the
 * order.paid_off event's data (next_charge null: nothing more to charge).
 * CS_ESTATE if nothing is left to pay or the order is not running;
 * CS_ECARD if the card declines. */
int order_decide_payoff(json_t *doc, int64_t now_us, int64_t early_fee, json_t **data, struct cs_diag *d);

/* Operator actions (seed 000): a partial early payment of `amount` minor
 * units, applied to the next unpaid instalments in order (an instalment it
 * covers whole is paid, and its fee dropped if it was not yet due); moving
 * the due day of the unpaid instalments to `day` of their month (clamped to
 * the month's end). *data is the event's data, with the new schedule and the
 * next charge. */
int order_decide_early_payment(json_t *doc, int64_t amount, int64_t now_us, json_t **data, struct cs_diag *d);
int order_decide_due_day(json_t *doc, int day, int64_t now_us, json_t **data, struct cs_diag *d);

/* Customers: 1 if the customer document is the same shopper as the order's
 * customer (same phone, or same e-mail ignoring case; the document number was
 * matched by the index). */
int order_customer_matches(json_t *order_customer, json_t *customer_doc);

#endif
