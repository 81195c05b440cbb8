/* GET /v1/events: the merchant's own slice of the log, in sequence order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/list_page.h"

struct events_page {
    struct store_txn *t;
    const char *merchant_id;
    int livemode;
    const char *type;         /* for the object_id walk, which is not type-indexed */
    uint64_t after_seq;
    struct list_page page;
    int err;
};

static int type_matches(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, type, n - 1) == 0;
    return strcmp(pattern, type) == 0;
}

static int add_event(struct events_page *p, uint64_t seq)
{
    if (p->page.count == p->page.limit) {
        p->page.has_more = 1;
        return 1;
    }
    struct event_view v;
    int rc = store_event_get(p->t, seq, &v);
    if (rc) {
        p->err = rc;
        return 1;
    }
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)seq);
    list_page_add(&p->page, v.json, v.json_len, cursor);
    event_view_clear(&v);
    return p->page.err != 0;
}

static int visit_merchant(void *ctx, uint64_t seq)
{
    return add_event(ctx, seq);
}

/* Walking one object's stream: keep only this merchant's events past the cursor. */
static int visit_stream(void *ctx, uint64_t version, uint64_t seq)
{
    struct events_page *p = ctx;
    if (seq <= p->after_seq)
        return 0;
    struct event_view v;
    int rc = store_event_get(p->t, seq, &v);
    if (rc) {
        p->err = rc;
        return 1;
    }
    int mine = v.merchant_id && strcmp(v.merchant_id, p->merchant_id) == 0 && v.livemode == p->livemode &&
               (!p->type || type_matches(p->type, v.type));
    event_view_clear(&v);
    return mine ? add_event(p, seq) : 0;
}

static int valid_type_filter(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > CS_EVENT_TYPE_BYTES_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || t[i] == '_' || t[i] == '.' || (t[i] == '*' && i == n - 1)))
            return 0;
    return 1;
}

void api_events_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "type", "object_id", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    struct events_page p = {.merchant_id = rc->merchant_id, .livemode = rc->livemode};
    unsigned limit;
    if (list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    const char *cursor = query_param(rc, "cursor");
    const char *type = query_param(rc, "type"), *object_id = query_param(rc, "object_id");
    char *end;
    if (cursor) {
        unsigned long long v = strtoull(cursor, &end, 10);
        if (!*cursor || *end || cursor[0] == '-') {
            respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
            return;
        }
        p.after_seq = v;
    }
    if (type && !valid_type_filter(type)) {
        respond_fail(rc, CS_EPARAM, "type", "type must be an event type such as order.created, or a prefix such as order.*");
        return;
    }
    if (object_id && (strlen(object_id) == 0 || strlen(object_id) >= CS_ID_BYTES_MAX)) {
        respond_fail(rc, CS_EPARAM, "object_id", "object_id must be an object id such as ord_…");
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    p.t = &t;
    p.type = type;
    list_page_init(&p.page, limit);
    if (object_id)
        err = store_stream_each(&t, object_id, visit_stream, &p);
    else
        err = store_merchant_events_each(&t, rc->merchant_id, rc->livemode, p.after_seq, 0, type,
                                         visit_merchant, &p);
    store_abort(&t);
    if (err == CS_ENOENT)
        err = 0;
    if (err || p.err) {
        list_page_free(&p.page);
        respond_fail(rc, err ? err : p.err, "", "the events could not be listed");
        return;
    }
    list_page_respond(&p.page, rc);
}
