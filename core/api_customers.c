/* GET /v1/customers and /v1/customers/{id}: the customer card (seeds 000,
 * 003). Customers are a projection of customer.created and order.confirmed. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "core/router.h"
#include "core/ids.h"
#include "core/list_page.h"
#include "core/text.h"

/* 1 if the customer document is this merchant's in this mode. */
static int own(json_t *o, struct req_ctx *rc)
{
    const char *m = json_string_value(json_object_get(o, "merchant"));
    return m && strcmp(m, rc->merchant_id) == 0 && json_is_true(json_object_get(o, "livemode")) == rc->livemode;
}

void api_customers_get(struct req_ctx *rc)
{
    const char *id = rc->params[0];
    struct store_txn t;
    if (!id_valid(id, "cus")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such customer: %s", id);
        return;
    }
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    MDB_val v;
    err = store_customer_get(&t, id, &v);
    json_t *o = err == 0 ? json_loadb(v.mv_data, v.mv_size, 0, NULL) : NULL;
    if (o && own(o, rc))
        respond_json_text(rc, 200, v.mv_data, v.mv_size);
    else if (err == 0 || err == CS_ENOENT)
        respond_fail(rc, CS_ENOTFOUND, "id", "no such customer: %s", id);
    else
        respond_fail(rc, err, "", "the customer could not be read");
    json_decref(o);
    store_abort(&t);
}

struct search {
    const char *query;        /* case-insensitive substring of a first or last name; NULL: all */
    struct list_page page;
};

static int search_visit(void *ctx, const char *customer_id, const MDB_val *doc)
{
    struct search *s = ctx;
    if (s->query) {
        json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
        const char *first = json_string_value(json_object_get(o, "first_name"));
        const char *last = json_string_value(json_object_get(o, "last_name"));
        int hit = (first && utf8_contains_folded(first, s->query)) ||
                  (last && utf8_contains_folded(last, s->query));
        json_decref(o);
        if (!hit)
            return 0;
    }
    return list_page_add(&s->page, doc->mv_data, doc->mv_size, customer_id) || s->page.err;
}

void api_customers_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "query", NULL};
    unsigned limit;
    if (query_check_known(rc, allowed) || list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    struct search s = {.query = query_param(rc, "query")};
    const char *cursor = query_param(rc, "cursor");
    if (s.query && (strlen(s.query) == 0 || strlen(s.query) > 100)) {
        respond_fail(rc, CS_EPARAM, "query", "query must be 1 to 100 characters of a first or last name");
        return;
    }
    if (cursor && !id_valid(cursor, "cus")) {
        respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    list_page_init(&s.page, limit);
    err = store_customers_each(&t, rc->merchant_id, rc->livemode, cursor, search_visit, &s);
    store_abort(&t);
    if (err == CS_EPARAM) {
        list_page_free(&s.page);
        respond_fail(rc, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    if (err) {
        list_page_free(&s.page);
        respond_fail(rc, err, "", "the customers could not be listed");
        return;
    }
    list_page_respond(&s.page, rc);
}
