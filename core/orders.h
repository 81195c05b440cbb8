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

/* Runs plans.offer and risk.decide for a validated order, at platform time
 * now_us; sets order.plan and returns the decision ("approved", "rejected",
 * "review") in *decision (static string). */
int order_decide_checkout(struct policy_engine *pe, json_t *order, json_t *merchant, int livemode,
                          int64_t now_us, const char **decision, struct cs_diag *d);

/* The event type that records a risk decision. */
const char *order_decision_event(const char *decision);

/* Confirm: the order document `doc` must belong to nobody else (checked by the
 * caller), be approved, and match expected_version when it is >= 0. */
int order_decide_confirm(json_t *doc, int64_t expected_version, struct cs_diag *d);

#endif
