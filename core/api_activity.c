/* GET /v1/orders/{id}/activity: the order's own events, in order, as the
 * activity log of the order page (seed 000: cart updates, returns,
 * cancellations, with who did it). Read from the order's stream in the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/ids.h"
#include "core/list_page.h"

struct activity_walk {
    struct store_txn *t;
    const char *merchant_id;
    int livemode;
    int own;                  /* the stream's first event is this merchant's */
    struct list_page page;
    int err;
};

/* The part of an event's data that the activity log shows. */
static json_t *details(const char *type, json_t *data)
{
    if (strcmp(type, "order.created") == 0) {
        json_t *o = json_object_get(data, "order");
        return json_pack("{s:O?,s:O?,s:O?,s:O?}", "reference", json_object_get(o, "reference"),
                         "amount", json_object_get(o, "amount"), "currency",
                         json_object_get(o, "currency"), "plan",
                         json_object_get(json_object_get(o, "plan"), "product"));
    }
    if (strcmp(type, "order.confirmed") == 0)
        return json_pack("{s:O?}", "customer_id", json_object_get(data, "customer_id"));
    if (strcmp(type, "order.cancelled") == 0)
        return json_pack("{s:O?,s:O?}", "reason", json_object_get(data, "reason"), "comment",
                         json_object_get(data, "comment"));
    return json_deep_copy(data);   /* decisions and shipments are shown as recorded */
}

static int visit(void *ctx, uint64_t version, uint64_t seq)
{
    struct activity_walk *w = ctx;
    struct event_view v;
    int rc = store_event_get(w->t, seq, &v);
    if (rc) {
        w->err = rc;
        return 1;
    }
    if (version == 1)
        w->own = v.merchant_id && strcmp(v.merchant_id, w->merchant_id) == 0 && v.livemode == w->livemode;
    if (!w->own) {
        event_view_clear(&v);
        return 1;
    }
    json_t *entry = json_pack("{s:s,s:s,s:s,s:O,s:s,s:o}", "id", v.id, "object", "activity", "type",
                              v.type, "created", json_object_get(v.root, "created"), "actor", v.actor,
                              "details", details(v.type, v.data));
    char *text = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
    json_decref(entry);
    event_view_clear(&v);
    if (!text) {
        w->err = CS_ENOMEM;
        return 1;
    }
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)seq);
    w->page.limit++;   /* the activity of one order is returned whole */
    list_page_add(&w->page, text, strlen(text), cursor);
    free(text);
    return w->page.err != 0;
}

void api_orders_activity(struct req_ctx *rc)
{
    static const char *const allowed[] = {NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *id = rc->params[0];
    if (!id_valid(id, "ord")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such order: %s", id);
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    struct activity_walk w = {.t = &t, .merchant_id = rc->merchant_id, .livemode = rc->livemode};
    list_page_init(&w.page, 0);
    err = store_stream_each(&t, id, visit, &w);
    store_abort(&t);
    if (err || w.err) {
        list_page_free(&w.page);
        respond_fail(rc, err ? err : w.err, "", "the activity could not be read");
        return;
    }
    if (!w.own) {
        list_page_free(&w.page);
        respond_fail(rc, CS_ENOTFOUND, "id", "no such order: %s", id);
        return;
    }
    list_page_respond(&w.page, rc);
}
