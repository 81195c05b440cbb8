/* GET /v1/reports/efficiency: card authorization attempts per day, their
 * outcome and the reject rate, from the merchant's payment events
 * (core/reports.h, docs/risk.md "Efficiency report"). */
#include <stdio.h>
#include <string.h>
#include "core/router.h"
#include "core/reports.h"
#include "core/scheduler.h"
#include "core/clock.h"

struct eff_walk {
    struct store_txn *t;
    struct eff_report r;
    int64_t stop_before_us;
    int err;
};

static int eff_visit(void *ctx, uint64_t seq)
{
    struct eff_walk *w = ctx;
    struct event_view ev;
    int err = store_event_get(w->t, seq, &ev);
    if (err) {
        w->err = err;
        return 1;
    }
    int stop = ev.time_us < w->stop_before_us;
    if (!stop)
        eff_report_add(&w->r, ev.type, ev.time_us, ev.data);
    event_view_clear(&ev);
    return stop;
}

/* A day parameter "YYYY-MM-DD": 1 if present (into *day), 0 if absent, -1
 * with rc->diag filled if malformed. */
static int day_param(struct req_ctx *rc, const char *name, int64_t *day)
{
    const char *s = query_param(rc, name);
    int y, m, d;
    if (!s)
        return 0;
    if (strlen(s) != 10 || clock_parse_date(s, &y, &m, &d) != 0) {
        cs_fail(&rc->diag, CS_EPARAM, name, "%s must be a date YYYY-MM-DD (UTC days)", name);
        return -1;
    }
    *day = report_day_of_date(y, m, d);
    return 1;
}

void api_reports_efficiency(struct req_ctx *rc)
{
    static const char *const params[] = {"from", "to", NULL};
    int64_t now = merchant_now_us(rc->app, rc->merchant_id, rc->livemode);
    int64_t today = report_day_of_us(now), first = report_history_first_day(now);
    int64_t from = 0, to = today;
    int has_from = 0, has_to = 0;
    if (query_check_known(rc, params) || (has_from = day_param(rc, "from", &from)) < 0 ||
        (has_to = day_param(rc, "to", &to)) < 0) {
        respond_error(rc);
        return;
    }
    char today_s[11], first_s[11];
    report_date_of_day(today, today_s);
    report_date_of_day(first, first_s);
    if (to > today) {
        respond_fail(rc, CS_EPARAM, "to", "to must not be in the future (today is %s UTC on this merchant's clock)",
                     today_s);
        return;
    }
    if (!has_from)
        from = to - (REPORT_DEFAULT_DAYS - 1) < first ? first : to - (REPORT_DEFAULT_DAYS - 1);
    if (from < first) {
        respond_fail(rc, CS_EPARAM, "from", "from must be %s or later: %d months are online; older events are in "
                     "the log (caisse events dump --since)", first_s, REPORT_HISTORY_MONTHS);
        return;
    }
    if (from > to) {
        respond_fail(rc, CS_EPARAM, has_from ? "from" : "to", "from must not be after to");
        return;
    }
    json_t *merchant = req_merchant(rc);
    struct eff_walk w = {.stop_before_us = (from - REPORT_EVENT_LATENESS_DAYS_MAX) * REPORT_DAY_US};
    if (eff_report_init(&w.r, from, to) != 0) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        eff_report_destroy(&w.r);
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    w.t = &t;
    err = store_merchant_events_each(&t, rc->merchant_id, rc->livemode, 0, 1, "payment*", eff_visit, &w);   /* payment.* and payment_link.* */
    store_abort(&t);
    if (err || w.err || w.r.overflow) {
        eff_report_destroy(&w.r);
        if (w.r.overflow)
            respond_fail(rc, CS_EPARAM, "from", "the sums of this period overflow: ask for a shorter one");
        else
            respond_fail(rc, err ? err : w.err, "", "the payment events could not be read");
        return;
    }
    json_t *out = eff_report_json(&w.r, json_string_value(json_object_get(merchant, "currency")));
    eff_report_destroy(&w.r);
    if (!out) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    respond_json(rc, 200, out);
}
