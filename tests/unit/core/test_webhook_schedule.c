/* The retry schedule (backoff with jitter and the test scale) and event filters. */
#include <string.h>
#include "core/webhooks.h"
#include "tests/unit/tap.h"

int main(void)
{
    static const int64_t want_s[] = {0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400};
    int64_t total = 0;
    for (unsigned i = 0; i < WEBHOOK_ATTEMPTS_MAX; i++) {
        EQ_INT(webhook_backoff_nominal_s(i), want_s[i], "nominal delay");
        total += want_s[i];
    }
    EQ_INT(WEBHOOK_ATTEMPTS_MAX, 10, "ten attempts");
    OK(total > 3 * 86400 && total < 4 * 86400, "about three days in all: %lld s", (long long)total);
    EQ_INT(webhook_backoff_us(WEBHOOK_ATTEMPTS_MAX, 1.0, 0), -1, "no attempt after the last");
    EQ_INT(webhook_backoff_us(0, 1.0, 12345), 0, "the first attempt is immediate");
    /* jitter stays within +/- 10 % and spans it */
    for (unsigned i = 1; i < WEBHOOK_ATTEMPTS_MAX; i++) {
        int64_t nominal = want_s[i] * 1000000;
        int64_t lo = webhook_backoff_us(i, 1.0, 0), hi = webhook_backoff_us(i, 1.0, UINT32_MAX);
        int64_t mid = webhook_backoff_us(i, 1.0, 1u << 31);
        OK(lo >= nominal * 9 / 10 && lo <= nominal * 9 / 10 + 1, "attempt %u: lowest is -10 %%", i);
        OK(hi < nominal * 11 / 10 && hi > nominal * 109 / 100, "attempt %u: highest is almost +10 %%", i);
        OK(mid >= nominal - 1 && mid <= nominal + 1, "attempt %u: middle is nominal", i);
        OK(lo < hi, "attempt %u: jitter spreads retries", i);
    }
    /* the test scale: 24 h becomes 8.64 s at 0.0001 */
    int64_t day = webhook_backoff_us(9, 0.0001, 1u << 31);
    OK(day >= 8630000 && day <= 8650000, "24 h scaled by 0.0001 is 8.64 s: %lld us", (long long)day);
    EQ_INT(webhook_backoff_us(1, 0, 1u << 31), 5000000, "scale 0 means 1");

    /* filters */
    OK(webhook_filter_valid("order.confirmed"), "a known type");
    OK(webhook_filter_valid("order.*"), "a wildcard over known types");
    OK(webhook_filter_valid("customer.*"), "customer.*");
    OK(webhook_filter_valid("*"), "everything");
    OK(!webhook_filter_valid("order.exploded"), "unknown type refused");
    OK(!webhook_filter_valid("invoice.*"), "wildcard over no known type refused");
    OK(webhook_filter_valid("payment.*"), "payment events are known");
    OK(!webhook_filter_valid("order*"), "a wildcard needs the dot");
    OK(!webhook_filter_valid("ord.*"), "a wildcard is by whole segment");
    OK(!webhook_filter_valid("*.created"), "no leading wildcard");
    OK(!webhook_filter_valid(""), "empty refused");
    OK(!webhook_filter_valid("webhook_endpoint.created"), "endpoint events are not deliverable");
    OK(webhook_filter_match("order.*", "order.confirmed"), "order.* matches order.confirmed");
    OK(!webhook_filter_match("order.*", "orders.confirmed"), "order.* does not match orders.x");
    OK(!webhook_filter_match("order.*", "customer.created"), "order.* does not match customer.created");
    OK(webhook_filter_match("order.shipped", "order.shipped"), "exact");
    OK(!webhook_filter_match("order.shipped", "order.shipped_partially"), "exact is exact");
    OK(webhook_filter_match("*", "order.created"), "* matches");
    OK(webhook_filter_match("*", "payment.captured"), "* matches types added later");
    OK(!webhook_filter_match("*", "webhook_endpoint.created"), "* never matches endpoint events");
    const char routes[] = "order.confirmed\0customer.*\0";
    OK(webhook_filters_match(routes, sizeof routes - 1, "customer.created"), "second filter matches");
    OK(webhook_filters_match(routes, sizeof routes - 1, "order.confirmed"), "first filter matches");
    OK(!webhook_filters_match(routes, sizeof routes - 1, "order.created"), "none matches");
    OK(!webhook_filters_match("order.created", 13, "order.created"), "unterminated list matches nothing");
    for (const char *const *t = webhook_event_types; *t; t++)
        OK(webhook_filter_valid(*t) && webhook_type_deliverable(*t), "%s is subscribable", *t);
    return tap_done();
}
