/* GET /v1/orders (search and filters, cursor pagination) and
 * GET /v1/orders/export (the same filters, every match, as CSV). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/csv.h"
#include "core/router.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/list_page.h"

#define EXPORT_ROWS_MAX 100000u   /* one export; narrow the filters past that */

struct order_filter {
    const char *status;       /* NULL: any */
    int confirmed_only;       /* the default: orders ever confirmed */
    const char *shop;
    const char *reference;
    const char *customer;     /* a customer id */
    char created_gte[40], created_lte[40];   /* RFC 3339, "" if open */
};

static const char *const filter_params[] = {"status", "shop", "reference", "customer", "created[gte]",
                                            "created[lte]", NULL};

static int parse_time_param(struct req_ctx *rc, const char *name, char *out, size_t cap)
{
    const char *s = query_param(rc, name);
    if (!s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v > 253402300799LL)
        return cs_fail(&rc->diag, CS_EPARAM, name, "%s must be a Unix timestamp in seconds", name);
    clock_format_rfc3339((int64_t)v * 1000000, out, cap);
    return 0;
}

/* Reads the filters from the query string; on error fills rc->diag. */
static int parse_filter(struct req_ctx *rc, struct order_filter *f)
{
    static const char *const statuses[] = {"pending", "approved", "rejected", "confirmed", "cancelled",
                                           "partially_shipped", "shipped", "completed", "returned", "all", NULL};
    memset(f, 0, sizeof *f);
    const char *status = query_param(rc, "status");
    if (status) {
        int ok = 0;
        for (const char *const *s = statuses; *s; s++)
            ok |= strcmp(*s, status) == 0;
        if (!ok)
            return cs_fail(&rc->diag, CS_EPARAM, "status", "status must be pending, approved, rejected, confirmed, "
                           "cancelled, partially_shipped, shipped, completed, returned or all");
    }
    /* By default the orders the merchant has confirmed, whatever became of
     * them since (shipped, cancelled...): abandoned and refused checkouts are
     * not the merchant's business (seeds 000, 002). */
    f->confirmed_only = !status;
    f->status = !status || strcmp(status, "all") == 0 ? NULL : status;
    f->shop = query_param(rc, "shop");
    f->reference = query_param(rc, "reference");
    f->customer = query_param(rc, "customer");
    if (f->customer && !id_valid(f->customer, "cus"))
        return cs_fail(&rc->diag, CS_EPARAM, "customer", "customer must be a customer id (cus_…)");
    if (f->reference && (!*f->reference || strlen(f->reference) > CS_REFERENCE_BYTES_MAX))
        return cs_fail(&rc->diag, CS_EPARAM, "reference", "reference must be 1 to %u bytes", CS_REFERENCE_BYTES_MAX);
    return parse_time_param(rc, "created[gte]", f->created_gte, sizeof f->created_gte) ||
           parse_time_param(rc, "created[lte]", f->created_lte, sizeof f->created_lte) ? rc->diag.err : 0;
}

static int str_is(json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

static int matches(const struct order_filter *f, json_t *o)
{
    const char *st = json_string_value(json_object_get(o, "status"));
    const char *cr = json_string_value(json_object_get(o, "created"));
    /* Expired reviews and abandoned checkouts never show in lists (seed 001). */
    return o && st && cr && (!f->status || strcmp(st, f->status) == 0) &&
           strcmp(st, "expired") != 0 && strcmp(st, "abandoned") != 0 &&
           (!f->confirmed_only || json_is_string(json_object_get(o, "confirmed_at"))) &&
           (!f->shop || str_is(o, "shop", f->shop)) &&
           (!f->reference || str_is(o, "reference", f->reference)) &&
           (!f->customer || str_is(o, "customer_id", f->customer)) &&
           (!f->created_gte[0] || strcmp(cr, f->created_gte) >= 0) &&
           (!f->created_lte[0] || strcmp(cr, f->created_lte) <= 0);
}

/* ---- list ------------------------------------------------------------------------ */

struct list_state {
    struct order_filter f;
    struct list_page page;
};

static int list_visit(void *ctx, const char *order_id, const MDB_val *doc)
{
    struct list_state *ls = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    int keep = matches(&ls->f, o);
    json_decref(o);
    if (!keep)
        return 0;
    return list_page_add(&ls->page, doc->mv_data, doc->mv_size, order_id) || ls->page.err;
}

static int cursor_error(struct req_ctx *rc)
{
    return cs_fail(&rc->diag, CS_EPARAM, "cursor", "cursor must be the next_cursor of a previous page");
}

void api_orders_list(struct req_ctx *rc)
{
    static const char *const params[] = {"limit", "cursor", "status", "shop", "reference", "customer",
                                         "created[gte]", "created[lte]", NULL};
    struct list_state ls;
    unsigned limit;
    if (query_check_known(rc, params) || parse_filter(rc, &ls.f) || list_parse_limit(rc, &limit)) {
        respond_error(rc);
        return;
    }
    const char *cursor = query_param(rc, "cursor");
    if (cursor && !id_valid(cursor, "ord")) {
        cursor_error(rc);
        respond_error(rc);
        return;
    }
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    list_page_init(&ls.page, limit);
    err = store_orders_each(&t, rc->merchant_id, rc->livemode, cursor, list_visit, &ls);
    store_abort(&t);
    if (err) {
        list_page_free(&ls.page);
        if (err == CS_EPARAM || err == CS_ENOENT)
            cursor_error(rc), respond_error(rc);
        else
            respond_fail(rc, err, "", "the orders could not be listed");
        return;
    }
    list_page_respond(&ls.page, rc);
}

/* ---- export ------------------------------------------------------------------------ */

struct csv {
    struct order_filter f;
    struct csv_buf buf;
    unsigned rows;
    int err;                  /* CS_ETOOLARGE: too many rows */
};

static void field(struct csv *c, const char *s, int last)
{
    csv_text(&c->buf, s, last);
}

static void number(struct csv *c, json_t *v, int last)
{
    csv_int(&c->buf, json_integer_value(v), last);
}

static int export_visit(void *ctx, const char *order_id, const MDB_val *doc)
{
    struct csv *c = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    if (!matches(&c->f, o)) {
        json_decref(o);
        return 0;
    }
    if (c->rows++ == EXPORT_ROWS_MAX) {
        json_decref(o);
        c->err = CS_ETOOLARGE;
        return 1;
    }
    json_t *cust = json_object_get(o, "customer"), *plan = json_object_get(o, "plan");
    field(c, order_id, 0);
    field(c, json_string_value(json_object_get(o, "reference")), 0);
    field(c, json_string_value(json_object_get(o, "created")), 0);
    field(c, json_string_value(json_object_get(o, "status")), 0);
    field(c, json_string_value(json_object_get(o, "shop")), 0);
    field(c, json_string_value(json_object_get(o, "currency")), 0);
    number(c, json_object_get(o, "amount"), 0);
    number(c, json_object_get(o, "amount_paid"), 0);
    number(c, json_object_get(o, "amount_refunded"), 0);
    field(c, json_string_value(json_object_get(plan, "product")), 0);
    number(c, json_object_get(plan, "instalments"), 0);
    field(c, json_string_value(json_object_get(o, "customer_id")), 0);
    field(c, json_string_value(json_object_get(cust, "first_name")), 0);
    field(c, json_string_value(json_object_get(cust, "last_name")), 0);
    field(c, json_string_value(json_object_get(cust, "email")), 0);
    field(c, json_string_value(json_object_get(o, "confirmed_at")), 1);
    json_decref(o);
    return c->err != 0 || c->buf.err != 0;
}

void api_orders_export(struct req_ctx *rc)
{
    struct csv c = {0};
    if (query_check_known(rc, filter_params) || parse_filter(rc, &c.f)) {
        respond_error(rc);
        return;
    }
    static const char header[] = "id,reference,created,status,shop,currency,amount,amount_paid,amount_refunded,"
                                 "plan,instalments,customer_id,first_name,last_name,email,confirmed_at\r\n";
    csv_raw(&c.buf, header, sizeof header - 1);
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        csv_free(&c.buf);
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    err = store_orders_each(&t, rc->merchant_id, rc->livemode, NULL, export_visit, &c);
    store_abort(&t);
    if (err || c.err || c.buf.err) {
        csv_free(&c.buf);
        if (c.err == CS_ETOOLARGE)
            respond_fail(rc, CS_EPARAM, "created[gte]", "more than %u orders match: narrow the dates", EXPORT_ROWS_MAX);
        else
            respond_fail(rc, err ? err : c.buf.err, "", "the orders could not be exported");
        return;
    }
    http_respond(rc->req, 200, "text/csv; charset=utf-8",
                 "Content-Disposition: attachment; filename=\"orders.csv\"\r\n", c.buf.out, c.buf.len);
    csv_free(&c.buf);
}
