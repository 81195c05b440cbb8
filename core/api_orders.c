/* HTTP handlers of /v1/orders: parse and validate on the loop thread, take the
 * policy decisions there, and hand the writer a command whose exec appends
 * the events and answers from the projection it just updated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/writer.h"
#include "core/orders.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/list_page.h"
#include "core/cards.h"
#include "core/scheduler.h"
#include "core/notify.h"
#include "core/command.h"
#include "core/json_out.h"

/* ---- the write command of the order handlers ------------------------------- */

struct order_cmd {
    struct command cmd;       /* cmd.object_id: the order */
    /* create */
    json_t *order;            /* the complete order document, status pending */
    json_t *created;          /* order.created's data: {"order": order} */
    struct jout created_text; /* its text, written on the loop thread (below) */
    const char *decision;
    /* confirm */
    int64_t expected_version; /* -1: none */
};

static void order_cmd_free_extra(struct command *cmd)
{
    struct order_cmd *c = (struct order_cmd *)cmd;
    json_decref(c->order);
    json_decref(c->created);
    jout_free(&c->created_text);
}

static int append_to(struct store_txn *t, struct order_cmd *c, const char *aggregate_id,
                     const char *type, uint64_t expected, json_t *data)
{
    return command_append(t, &c->cmd, aggregate_id, type, expected, data);
}

static int append(struct store_txn *t, struct order_cmd *c, const char *type, uint64_t expected,
                  json_t *data)
{
    return command_append(t, &c->cmd, c->cmd.object_id, type, expected, data);
}

/* Replies with the order document as the projection now holds it. */
static int reply_order(struct store_txn *t, struct order_cmd *c, int status)
{
    MDB_val doc;
    int rc = store_order_get(t, c->cmd.object_id, &doc);
    if (rc != 0)
        return write_cmd_fail(&c->cmd.base, rc);
    return write_cmd_reply(&c->cmd.base, status, doc.mv_data, doc.mv_size);
}

static int exec_create(struct store_txn *t, struct write_cmd *wc)
{
    struct order_cmd *c = (struct order_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    int rc = command_append_text(t, &c->cmd, c->cmd.object_id, "order.created", STORE_VERSION_NEW, c->created,
                                 c->created_text.buf, c->created_text.len);
    if (rc == 0) {
        json_t *decided = json_pack("{s:s}", "risk_decision", c->decision);
        rc = append(t, c, order_decision_event(c->decision), 1, decided);
        json_decref(decided);
    }
    if (rc != 0)
        return write_cmd_fail(wc, rc);
    reply_order(t, c, 201);
    command_idem_store(t, &c->cmd);
    return 0;
}

/* The order as this merchant (and mode) may see it: CS_ENOENT otherwise. */
static int load_own_order(struct store_txn *t, const char *id, const char *merchant_id, int livemode,
                          json_t **doc)
{
    MDB_val v;
    int rc = store_order_get(t, id, &v);
    if (rc != 0)
        return rc;
    json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!o)
        return CS_ECORRUPT;
    const char *m = json_string_value(json_object_get(o, "merchant"));
    if (!m || strcmp(m, merchant_id) != 0 || json_is_true(json_object_get(o, "livemode")) != livemode) {
        json_decref(o);
        return CS_ENOENT;
    }
    *doc = o;
    return 0;
}

/* A change to an existing order: decide from its current document, append
 * the event, answer with the document the projection now holds. */
typedef int (*order_decide_fn)(struct store_txn *t, struct order_cmd *c, json_t *doc,
                               const char **type, json_t **data);

static int exec_order_change(struct store_txn *t, struct order_cmd *c, order_decide_fn decide,
                             int status)
{
    struct write_cmd *wc = &c->cmd.base;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *doc = NULL;
    int rc = load_own_order(t, c->cmd.object_id, c->cmd.merchant_id, c->cmd.livemode, &doc);
    if (rc == CS_ENOENT) {
        cs_fail(&wc->diag, CS_ENOTFOUND, "id", "no such order: %s", c->cmd.object_id);
        return write_cmd_fail(wc, CS_ENOTFOUND);
    }
    if (rc != 0)
        return write_cmd_fail(wc, rc);
    const char *type = NULL;
    json_t *data = NULL;
    uint64_t version = (uint64_t)json_integer_value(json_object_get(doc, "version"));
    rc = decide(t, c, doc, &type, &data);
    json_decref(doc);
    if (rc == 0)
        rc = append(t, c, type, version, data);
    if (rc == 0)
        rc = notify_order_event(t, type, c->cmd.object_id, c->cmd.now_us);
    json_decref(data);
    if (rc != 0)
        return write_cmd_fail(wc, rc);
    reply_order(t, c, status);
    command_idem_store(t, &c->cmd);
    return 0;
}

/* ---- confirm: the customer is found or created here ---------------------------- */

struct customer_match {
    json_t *shopper;                 /* the order's customer */
    char id[CS_ID_BYTES_MAX];
};

static int customer_visit(void *ctx, const char *customer_id, const MDB_val *doc)
{
    struct customer_match *m = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    int same = o && order_customer_matches(m->shopper, o);
    json_decref(o);
    if (same)
        snprintf(m->id, sizeof m->id, "%s", customer_id);
    return same;
}

/* The customer of this shopper (docs/events.md "Customers"), appending
 * customer.created for a first purchase. */
static int customer_for(struct store_txn *t, struct order_cmd *c, json_t *doc, char out[CS_ID_BYTES_MAX])
{
    struct customer_match m = {.shopper = json_object_get(doc, "customer")};
    json_t *iddoc = json_object_get(m.shopper, "id_document");
    const char *number = json_string_value(json_object_get(iddoc, "number"));
    if (!number)
        return CS_ECORRUPT;
    int rc = store_customers_by_document(t, c->cmd.merchant_id, c->cmd.livemode, number, customer_visit, &m);
    if (rc)
        return rc;
    if (m.id[0]) {
        snprintf(out, CS_ID_BYTES_MAX, "%s", m.id);
        return 0;
    }
    if (id_new("cus", c->cmd.now_us, out, CS_ID_BYTES_MAX) != 0)
        return CS_EINTERNAL;
    char created[40];
    clock_format_rfc3339(c->cmd.now_us, created, sizeof created);
    json_t *data = json_pack("{s:{s:s,s:s,s:b,s:s,s:O,s:O,s:O,s:O,s:O,s:s,s:[],s:[]}}", "customer", "id", out,
                             "object", "customer", "livemode", c->cmd.livemode, "merchant", c->cmd.merchant_id,
                             "first_name", json_object_get(m.shopper, "first_name"), "last_name",
                             json_object_get(m.shopper, "last_name"), "email",
                             json_object_get(m.shopper, "email"), "phone",
                             json_object_get(m.shopper, "phone"), "id_document", iddoc, "created",
                             created, "orders", "payments");
    if (!data)
        return CS_ENOMEM;
    rc = append_to(t, c, out, "customer.created", STORE_VERSION_NEW, data);
    json_decref(data);
    return rc;
}

static int decide_confirm(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                          json_t **data)
{
    int rc = order_decide_confirm(doc, c->expected_version, &c->cmd.base.diag);
    char customer_id[CS_ID_BYTES_MAX];
    if (rc == 0)
        rc = customer_for(t, c, doc, customer_id);
    if (rc != 0)
        return rc;
    char at[40];
    clock_format_rfc3339(c->cmd.now_us, at, sizeof at);
    /* Confirming completes the checkout: the held first instalment is captured. */
    json_t *first = json_array_get(json_object_get(json_object_get(doc, "plan"), "schedule"), 0);
    json_int_t paid = json_integer_value(json_object_get(first, "amount")) + json_integer_value(json_object_get(first, "fee"));
    *type = "order.confirmed";
    *data = json_pack("{s:s,s:s,s:{s:i,s:I,s:s,s:s}}", "confirmed_at", at, "customer_id", customer_id,
                      "payment", "instalment", 1, "amount", paid, "paid_at", at, "result", "approved");
    return *data ? 0 : CS_ENOMEM;
}

static int exec_confirm(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_confirm, 200);
}

static int decide_cancel(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                         json_t **data)
{
    int rc = order_decide_cancel(doc, &c->cmd.base.diag);
    if (rc != 0)
        return rc;
    char at[40];
    clock_format_rfc3339(c->cmd.now_us, at, sizeof at);
    /* A held first instalment is released; a captured one (confirmed order)
     * is refunded in full: nothing was shipped. */
    const char *hold = json_string_value(json_object_get(json_object_get(doc, "hold"), "status"));
    int captured = hold && strcmp(hold, "captured") == 0;
    json_int_t paid = json_integer_value(json_object_get(doc, "amount_paid"));
    json_int_t before = json_integer_value(json_object_get(doc, "amount_refunded"));
    json_t *refund = json_null();
    char refund_id[CS_ID_BYTES_MAX];
    if (captured && paid > before && id_new("re", c->cmd.now_us, refund_id, sizeof refund_id) == 0)
        refund = json_pack("{s:s,s:I,s:s,s:s}", "id", refund_id, "amount", paid - before, "status", "refunded",
                           "refunded_at", at);
    *type = "order.cancelled";
    *data = json_pack("{s:O,s:O,s:s,s:{s:s},s:I,s:o}", "reason", json_object_get(c->cmd.params, "reason"), "comment",
                      json_object_get(c->cmd.params, "comment"), "cancelled_at", at, "hold", "status",
                      captured ? "refunded" : "released", "amount_refunded", captured ? paid : before,
                      "refund", refund);
    return *data ? 0 : CS_ENOMEM;
}

static int exec_cancel(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_cancel, 200);
}

static int decide_ship(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                       json_t **data)
{
    char id[CS_ID_BYTES_MAX], at[40];
    if (id_new("shp", c->cmd.now_us, id, sizeof id) != 0)
        return CS_EINTERNAL;
    clock_format_rfc3339(c->cmd.now_us, at, sizeof at);
    json_t *lines = json_object_get(c->cmd.params, "lines");
    *type = "order.shipped";
    int rc = order_decide_shipment(doc, json_is_array(lines) ? lines : NULL, id,
                                   json_string_value(json_object_get(c->cmd.params, "carrier")),
                                   json_string_value(json_object_get(c->cmd.params, "tracking_number")), at,
                                   data, &c->cmd.base.diag);
    /* The first shipment starts the shopper's schedule (seed 000). */
    if (rc == 0 && json_array_size(json_object_get(doc, "shipments")) == 0)
        json_object_set_new(*data, "next_charge", order_next_charge(doc, 0, c->cmd.now_us));
    return rc;
}

static int exec_ship(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_ship, 201);
}

static int decide_cart(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                       json_t **data)
{
    char refund_id[CS_ID_BYTES_MAX], at[40];
    if (id_new("re", c->cmd.now_us, refund_id, sizeof refund_id) != 0)
        return CS_EINTERNAL;
    clock_format_rfc3339(c->cmd.now_us, at, sizeof at);
    *type = "order.cart_updated";
    return order_decide_cart_edit(doc, json_object_get(c->cmd.params, "lines"),
                                  json_integer_value(json_object_get(c->cmd.params, "amount")), refund_id, at,
                                  data, &c->cmd.base.diag);
}

static int exec_cart(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_cart, 200);
}

static int decide_return(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                         json_t **data)
{
    char return_id[CS_ID_BYTES_MAX], refund_id[CS_ID_BYTES_MAX], at[40];
    if (id_new("ret", c->cmd.now_us, return_id, sizeof return_id) != 0 ||
        id_new("re", c->cmd.now_us, refund_id, sizeof refund_id) != 0)
        return CS_EINTERNAL;
    clock_format_rfc3339(c->cmd.now_us, at, sizeof at);
    *type = "order.returned";
    return order_decide_return(doc, json_object_get(c->cmd.params, "lines"), return_id, refund_id, at, data,
                               &c->cmd.base.diag);
}

static int exec_return(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_return, 201);
}

static struct order_cmd *order_cmd_new(struct req_ctx *rc, write_exec_fn exec)
{
    struct order_cmd *c = command_new(rc, sizeof *c, exec);
    if (c) {
        c->cmd.free_extra = order_cmd_free_extra;
        c->expected_version = -1;
    }
    return c;
}

static void submit(struct req_ctx *rc, struct order_cmd *c)
{
    (void)rc;
    command_submit(&c->cmd);
}

/* ---- handlers ------------------------------------------------------------ */

void api_orders_create(struct req_ctx *rc)
{
    json_t *body = NULL, *draft = NULL, *merchant = req_merchant(rc);
    if (!merchant) {
        respond_fail(rc, CS_EINTERNAL, "", "the merchant could not be read");
        return;
    }
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        order_validate_create(body, merchant, &draft, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    struct order_cmd *c = order_cmd_new(rc, exec_create);
    if (!c) {
        json_decref(body);
        json_decref(draft);
        return;
    }
    /* The card: read and forgotten; only its facts go further. */
    struct card_facts card;
    json_t *card_in = json_object_get(body, "card");
    int card_rc = !card_in ? cs_fail(&rc->diag, CS_EMISSING, "card", "card is required: the first instalment is held on it")
                           : card_read(card_in, "card", c->cmd.now_us, rc->app->card_key, &card, &rc->diag);
    json_decref(body);
    if (card_rc) {
        json_decref(draft);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    const char *decision = NULL;
    if (order_decide_checkout(rc->app->policy, draft, merchant, rc->livemode, c->cmd.now_us,
                              &decision, &rc->diag) != 0) {
        json_decref(draft);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    c->decision = decision;
    /* The first instalment (and its fee) is held on the card while the order
     * is decided and confirmed (docs/events.md "Card hold"). */
    json_t *first = json_array_get(json_object_get(json_object_get(draft, "plan"), "schedule"), 0);
    int64_t hold = json_integer_value(json_object_get(first, "amount")) + json_integer_value(json_object_get(first, "fee"));
    struct acq_result auth;
    acquirer_authorize(&card, hold, 0, &auth);
    if (auth.outcome != ACQ_APPROVED) {
        json_decref(draft);
        command_free(&c->cmd);
        respond_fail(rc, CS_ECARD, "card", "the card was declined (%s): %s", auth.code, auth.message);
        return;
    }
    if (id_new("ord", c->cmd.now_us, c->cmd.object_id, sizeof c->cmd.object_id) != 0) {
        json_decref(draft);
        command_free(&c->cmd);
        respond_fail(rc, CS_EINTERNAL, "", "could not make an id");
        return;
    }
    char created[40];
    clock_format_rfc3339(c->cmd.now_us, created, sizeof created);
    /* The document in its API key order; the projection fills version/updated. */
    c->order = json_pack("{s:s,s:s,s:b,s:s,s:O,s:O,s:s,s:n,s:O,s:O,s:O,s:O,s:O,s:O,s:s,s:s,s:n,s:i}",
                         "id", c->cmd.object_id, "object", "order", "livemode", rc->livemode, "merchant",
                         rc->merchant_id, "reference", json_object_get(draft, "reference"), "shop",
                         json_object_get(draft, "shop"), "status", "pending", "risk_decision",
                         "currency", json_object_get(draft, "currency"), "amount",
                         json_object_get(draft, "amount"), "lines", json_object_get(draft, "lines"),
                         "customer", json_object_get(draft, "customer"), "plan",
                         json_object_get(draft, "plan"), "metadata", json_object_get(draft, "metadata"),
                         "created", created, "updated", created, "confirmed_at", "version", 0);
    if (c->order) {
        json_object_set_new(c->order, "customer_id", json_null());
        json_object_set_new(c->order, "cancellation", json_null());
        json_object_set_new(c->order, "shipments", json_array());
        json_object_set_new(c->order, "shipped_amount", json_integer(0));
        json_object_set_new(c->order, "amount_paid", json_integer(0));
        json_object_set_new(c->order, "amount_refunded", json_integer(0));
        json_object_set_new(c->order, "returns", json_array());
        json_object_set_new(c->order, "refunds", json_array());
        json_object_set_new(c->order, "card", card_facts_json(&card));
        json_object_set_new(c->order, "hold", json_pack("{s:I,s:s,s:s}", "amount", (json_int_t)hold,
                                                        "status", "held", "authorized_at", created));
    }
    json_decref(draft);
    /* order.created's data and its text are made here: the writer, whose
     * batches bound the rate of durable writes, then only copies the text
     * into the record. Should the text fail, the writer writes (and refuses)
     * it itself. */
    c->created = c->order ? json_pack("{s:O}", "order", c->order) : NULL;
    if (c->created && jout_append(&c->created_text, c->created, STORE_DATA_DEPTH_MAX) != 0)
        jout_free(&c->created_text);
    if (!c->created) {
        command_free(&c->cmd);
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    submit(rc, c);
}

void api_orders_confirm(struct req_ctx *rc)
{
    static const char *const keys[] = {"expected_version", NULL};
    json_t *body = NULL;
    int64_t expected = -1;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "expected_version", 0, 1, INT32_MAX, &expected, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    if (!id_valid(rc->params[0], "ord")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such order: %s", rc->params[0]);
        return;
    }
    struct order_cmd *c = order_cmd_new(rc, exec_confirm);
    if (!c)
        return;
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->expected_version = expected;
    submit(rc, c);
}

/* The order id of the path, checked before any work: an id that cannot exist
 * is answered like an unknown one. */
static int path_order_id(struct req_ctx *rc)
{
    if (id_valid(rc->params[0], "ord"))
        return 0;
    respond_fail(rc, CS_ENOTFOUND, "id", "no such order: %s", rc->params[0]);
    return -1;
}

void api_orders_cancel(struct req_ctx *rc)
{
    static const char *const keys[] = {"reason", "comment", NULL};
    json_t *body = NULL;
    const char *reason = NULL, *comment = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "reason", 1, 1, 32, &reason, &rc->diag) ||
        jin_string(body, "", "comment", 0, 1, 500, &comment, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    int known = 0;
    for (const char *const *r = order_cancel_reasons; *r; r++)
        known |= strcmp(*r, reason) == 0;
    if (!known) {
        json_decref(body);
        respond_fail(rc, CS_EPARAM, "reason", "reason must be one of customer_request, out_of_stock, "
                     "fraud_suspected, duplicate_order, delivery_impossible, other");
        return;
    }
    if (path_order_id(rc)) {
        json_decref(body);
        return;
    }
    struct order_cmd *c = order_cmd_new(rc, exec_cancel);
    if (!c) {
        json_decref(body);
        return;
    }
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->cmd.params = json_pack("{s:s,s:s?}", "reason", reason, "comment", comment);
    json_decref(body);
    submit(rc, c);
}

static int decide_early_payment(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                                json_t **data)
{
    *type = "order.early_payment";
    return order_decide_early_payment(doc, json_integer_value(json_object_get(c->cmd.params, "amount")), c->cmd.now_us,
                                      data, &c->cmd.base.diag);
}

static int exec_early_payment(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_early_payment, 200);
}

static int decide_due_day(struct store_txn *t, struct order_cmd *c, json_t *doc, const char **type,
                          json_t **data)
{
    *type = "order.due_day_changed";
    return order_decide_due_day(doc, (int)json_integer_value(json_object_get(c->cmd.params, "day")), c->cmd.now_us,
                                data, &c->cmd.base.diag);
}

static int exec_due_day(struct store_txn *t, struct write_cmd *wc)
{
    return exec_order_change(t, (struct order_cmd *)wc, decide_due_day, 200);
}

/* Operator actions act on any merchant's order: the command takes the
 * order's merchant and mode from its document. */
static void submit_operator_change(struct req_ctx *rc, write_exec_fn exec, json_t *params)
{
    if (path_order_id(rc)) {
        json_decref(params);
        return;
    }
    struct store_txn t;
    MDB_val v;
    json_t *o = NULL;
    if (store_read_begin(rc->app->store, &t) == 0) {
        if (store_order_get(&t, rc->params[0], &v) == 0)
            o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        store_abort(&t);
    }
    const char *mer = json_string_value(json_object_get(o, "merchant"));
    if (!mer) {
        json_decref(o);
        json_decref(params);
        respond_fail(rc, CS_ENOTFOUND, "id", "no such order: %s", rc->params[0]);
        return;
    }
    snprintf(rc->merchant_id, sizeof rc->merchant_id, "%s", mer);
    rc->livemode = json_is_true(json_object_get(o, "livemode"));
    json_decref(o);
    struct order_cmd *c = order_cmd_new(rc, exec);
    if (!c) {
        json_decref(params);
        return;
    }
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->cmd.params = params;
    submit(rc, c);
}

void api_admin_early_payment(struct req_ctx *rc)
{
    static const char *const keys[] = {"amount", NULL};
    json_t *body = NULL;
    int64_t amount = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "amount", 1, 1, CS_AMOUNT_MINOR_MAX, &amount, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    submit_operator_change(rc, exec_early_payment, body);
}

void api_admin_due_day(struct req_ctx *rc)
{
    static const char *const keys[] = {"day", NULL};
    json_t *body = NULL;
    int64_t day = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "day", 1, 1, 31, &day, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    submit_operator_change(rc, exec_due_day, body);
}

/* Shared by the order changes whose body is validated on the loop thread and
 * decided in the writer: parse, validate, submit. */
static void submit_change(struct req_ctx *rc, write_exec_fn exec, json_t *params)
{
    if (path_order_id(rc)) {
        json_decref(params);
        return;
    }
    struct order_cmd *c = order_cmd_new(rc, exec);
    if (!c) {
        json_decref(params);
        return;
    }
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->cmd.params = params;
    submit(rc, c);
}

void api_orders_edit_cart(struct req_ctx *rc)
{
    json_t *body = NULL, *lines = NULL;
    int64_t amount = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        order_validate_cart(body, &lines, &amount, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    submit_change(rc, exec_cart, json_pack("{s:o,s:I}", "lines", lines, "amount", (json_int_t)amount));
}

void api_orders_return(struct req_ctx *rc)
{
    json_t *body = NULL, *lines = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        order_validate_return(body, &lines, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    submit_change(rc, exec_return, body);   /* validated: {"lines": [...]} */
}

void api_orders_ship(struct req_ctx *rc)
{
    json_t *body = NULL, *lines = NULL;
    const char *carrier = NULL, *tracking = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        order_validate_shipment(body, &lines, &carrier, &tracking, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (path_order_id(rc)) {
        json_decref(body);
        return;
    }
    struct order_cmd *c = order_cmd_new(rc, exec_ship);
    if (!c) {
        json_decref(body);
        return;
    }
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->cmd.params = body;   /* validated: lines, carrier, tracking_number */
    submit(rc, c);
}

/* The stored document starts with the fields that say whose it is, in this
 * order (see api_orders_create): a prefix compare answers most reads without
 * parsing; anything else falls back to a full parse. */
static int doc_is_own(const MDB_val *v, const char *id, const char *merchant_id, int livemode)
{
    char prefix[160];
    int n = snprintf(prefix, sizeof prefix, "{\"id\":\"%s\",\"object\":\"order\",\"livemode\":%s,\"merchant\":\"%s\"",
                     id, livemode ? "true" : "false", merchant_id);
    if (n > 0 && (size_t)n < sizeof prefix && v->mv_size > (size_t)n && memcmp(v->mv_data, prefix, (size_t)n) == 0)
        return 1;
    json_t *o = json_loadb(v->mv_data, v->mv_size, 0, NULL);
    const char *m = json_string_value(json_object_get(o, "merchant"));
    int own = m && strcmp(m, merchant_id) == 0 && json_is_true(json_object_get(o, "livemode")) == livemode;
    json_decref(o);
    return own;
}

void api_orders_get(struct req_ctx *rc)
{
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
    MDB_val v;
    err = store_order_get(&t, id, &v);
    if (err == 0 && doc_is_own(&v, id, rc->merchant_id, rc->livemode))
        respond_json_text(rc, 200, v.mv_data, v.mv_size);
    else if (err == 0 || err == CS_ENOENT)
        respond_fail(rc, CS_ENOTFOUND, "id", "no such order: %s", id);
    else
        respond_fail(rc, err, "", "the order could not be read");
    store_abort(&t);
}


/* ---- commands of plugins (lua/plugin.h, core/api_plugins.c) ------------------- */

int orders_submit_command(struct app *app, const char *merchant_id, int livemode, const char *actor,
                          const char *op, const char *order_id, json_t *params,
                          void (*done)(void *ctx, int status, const char *body, size_t len), void *ctx,
                          struct cs_diag *d)
{
    json_t *empty = json_object();
    json_t *body = params ? params : empty;
    json_t *validated = NULL;
    write_exec_fn exec = NULL;
    int64_t expected = -1;
    int rc = 0;
    if (!json_is_object(body)) {
        rc = cs_fail(d, CS_EPARAM, "params", "params must be an object");
    } else if (strcmp(op, "confirm") == 0) {
        static const char *const keys[] = {"expected_version", NULL};
        rc = jin_object(body, "", keys, d) || jin_int(body, "", "expected_version", 0, 1, INT32_MAX, &expected, d);
        exec = exec_confirm;
    } else if (strcmp(op, "cancel") == 0) {
        static const char *const keys[] = {"reason", "comment", NULL};
        const char *reason = NULL, *comment = NULL;
        rc = jin_object(body, "", keys, d) || jin_string(body, "", "reason", 1, 1, 32, &reason, d) ||
             jin_string(body, "", "comment", 0, 1, 500, &comment, d);
        if (!rc) {
            int known = 0;
            for (const char *const *r = order_cancel_reasons; *r; r++)
                known |= strcmp(*r, reason) == 0;
            if (!known)
                rc = cs_fail(d, CS_EPARAM, "reason", "reason must be one of customer_request, out_of_stock, "
                             "fraud_suspected, duplicate_order, delivery_impossible, other");
            else
                validated = json_pack("{s:s,s:s?}", "reason", reason, "comment", comment);
        }
        exec = exec_cancel;
    } else if (strcmp(op, "ship") == 0) {
        json_t *lines = NULL;
        const char *carrier = NULL, *tracking = NULL;
        rc = order_validate_shipment(body, &lines, &carrier, &tracking, d);
        if (!rc)
            validated = json_incref(body);
        exec = exec_ship;
    } else if (strcmp(op, "cart") == 0) {
        /* the body of POST /v1/orders/{id}/cart: {"lines": [...], "amount"} */
        json_t *lines = NULL;
        int64_t amount = 0;
        rc = order_validate_cart(body, &lines, &amount, d);
        if (!rc && !(validated = json_pack("{s:o,s:I}", "lines", lines, "amount", (json_int_t)amount)))
            rc = cs_fail(d, CS_ENOMEM, "", "out of memory");
        exec = exec_cart;
    } else if (strcmp(op, "return") == 0) {
        /* {}: the whole order comes back (order_decide_return with no lines);
         * otherwise the body of POST /v1/orders/{id}/returns, checked alike. */
        json_t *lines = NULL;
        if (json_object_size(body) == 0)
            validated = json_object();
        else if (!(rc = order_validate_return(body, &lines, d)))
            validated = json_incref(body);
        if (!rc && !validated)
            rc = cs_fail(d, CS_ENOMEM, "", "out of memory");
        exec = exec_return;
    } else {
        rc = cs_fail(d, CS_EPARAM, "op", "unknown command %s", op);
    }
    json_decref(empty);
    if (rc) {
        json_decref(validated);
        return d->err ? d->err : CS_EPARAM;
    }
    if (!id_valid(order_id, "ord")) {
        json_decref(validated);
        return cs_fail(d, CS_ENOTFOUND, "id", "no such order: %s", order_id);
    }
    struct order_cmd *c = command_new_cb(app, sizeof *c, exec, merchant_id, livemode, actor, done, ctx);
    if (!c) {
        json_decref(validated);
        return cs_fail(d, CS_ENOMEM, "", "out of memory");
    }
    c->cmd.free_extra = order_cmd_free_extra;
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", order_id);
    c->expected_version = expected;
    c->cmd.params = validated;
    return command_submit_cb(app, &c->cmd, d);
}
