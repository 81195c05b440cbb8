/* The test clock (test mode only): GET /v1/test_clock tells a merchant's
 * platform time; POST /v1/test_clock/advance moves it forward, records it as
 * an event, then fires, in time order, every job that became due before
 * answering, so a test sees the consequences in the response's wake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/scheduler.h"
#include "core/writer.h"
#include "core/json_in.h"
#include "core/clock.h"
#include "core/ids.h"

#define TEST_CLOCK_ADVANCE_S_MAX (5LL * 366 * 24 * 3600)   /* five years a call */

static int test_mode_only(struct req_ctx *rc)
{
    if (!rc->livemode)
        return 0;
    respond_fail(rc, CS_EFORBIDDEN, "", "the test clock exists only in test mode: use a sk_test_ key");
    return -1;
}

static void respond_clock(struct req_ctx *rc, int64_t now_us, int fired)
{
    char at[40], body[160];
    clock_format_rfc3339(now_us, at, sizeof at);
    int n = snprintf(body, sizeof body, "{\"object\":\"test_clock\",\"livemode\":false,\"now\":\"%s\",\"jobs_fired\":%d}",
                     at, fired);
    respond_json_text(rc, 200, body, (size_t)n);
}

void api_test_clock_get(struct req_ctx *rc)
{
    if (test_mode_only(rc))
        return;
    respond_clock(rc, merchant_now_us(rc->app, rc->merchant_id, 0), 0);
}

struct advance_cmd {
    struct write_cmd base;
    struct req_ctx *rc;
    char merchant_id[CS_ID_BYTES_MAX];
    char actor[64];
    int64_t from_us, to_us, offset_us;
};

static int exec_advance(struct store_txn *t, struct write_cmd *wc)
{
    struct advance_cmd *c = (struct advance_cmd *)wc;
    char evt[CS_ID_BYTES_MAX], agg[CS_ID_BYTES_MAX + 8], from[40], to[40];
    snprintf(agg, sizeof agg, "clk_%s", c->merchant_id);
    clock_format_rfc3339(c->from_us, from, sizeof from);
    clock_format_rfc3339(c->to_us, to, sizeof to);
    if (id_new("evt", c->from_us, evt, sizeof evt) != 0)
        return write_cmd_fail(wc, CS_EINTERNAL);
    json_t *data = json_pack("{s:s,s:s,s:I}", "from", from, "to", to, "offset_us", (json_int_t)c->offset_us);
    struct event_in ev = {.id = evt, .type = "test_clock.advanced", .aggregate_id = agg,
                          .expected_version = STORE_VERSION_ANY, .merchant_id = c->merchant_id,
                          .livemode = 0, .actor = c->actor, .time_us = c->from_us, .data = data};
    int rc = store_event_append(t, &ev, NULL);
    json_decref(data);
    if (rc)
        return write_cmd_fail(wc, rc);
    wc->events = 1;
    return write_cmd_reply(wc, 200, "{}", 2);
}

static void advance_ran(void *ctx, int fired, int err)
{
    struct advance_cmd *c = ctx;
    if (err)
        respond_fail(c->rc, err, "", "the clock moved, but a due job failed: %s", cs_err_code(err));
    else
        respond_clock(c->rc, c->to_us, fired);
    free(c->base.body);
    free(c);
}

static void advance_done(struct write_cmd *wc)
{
    struct advance_cmd *c = (struct advance_cmd *)wc;
    if (wc->err) {
        c->rc->diag = wc->diag;
        respond_error(c->rc);
        free(wc->body);
        free(c);
        return;
    }
    scheduler_run_until(c->rc->app->scheduler, c->merchant_id, 0, c->to_us, advance_ran, c);
}

void api_test_clock_advance(struct req_ctx *rc)
{
    static const char *const keys[] = {"seconds", "to", NULL};
    if (test_mode_only(rc))
        return;
    json_t *body = NULL;
    int64_t seconds = 0, to = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "seconds", 0, 1, TEST_CLOCK_ADVANCE_S_MAX, &seconds, &rc->diag) ||
        jin_int(body, "", "to", 0, 1, 253402300799LL, &to, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    if ((seconds != 0) == (to != 0)) {
        respond_fail(rc, CS_EPARAM, "seconds", "give either seconds (how far to move) or to (a Unix time), not both");
        return;
    }
    int64_t real = clock_now_us(), now = merchant_now_us(rc->app, rc->merchant_id, 0);
    int64_t target = seconds ? now + seconds * 1000000 : to * 1000000;
    if (target <= now) {
        respond_fail(rc, CS_EPARAM, "to", "the test clock only moves forward: it is already past that time");
        return;
    }
    if (target - now > TEST_CLOCK_ADVANCE_S_MAX * 1000000) {
        respond_fail(rc, CS_EPARAM, "to", "the test clock moves at most five years a call");
        return;
    }
    struct advance_cmd *c = calloc(1, sizeof *c);
    if (!c) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    c->base.exec = exec_advance;
    c->base.done = advance_done;
    c->rc = rc;
    snprintf(c->merchant_id, sizeof c->merchant_id, "%s", rc->merchant_id);
    snprintf(c->actor, sizeof c->actor, "%s", rc->actor);
    c->from_us = now;
    c->to_us = target;
    c->offset_us = target - real;
    int err = writer_submit(rc->app->writer, &c->base);
    if (err) {
        free(c);
        respond_fail(rc, err, "", "the clock could not be moved now; retry");
    }
}
