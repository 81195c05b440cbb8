/* HTTP handlers of /v1/payments and the payment jobs: validate and take the
 * Lua decision on the loop thread; in the writer, apply the merchant's risk
 * controls against exact counters, run the card through the acquirer and
 * append the payment's event (core/payments.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/payments.h"
#include "core/api_payments.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/customer_link.h"
#include "core/disputes.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/clock.h"
#include "core/doc.h"
#include "core/cards.h"
#include "core/scheduler.h"

#define HOUR_US (3600LL * 1000000)

struct payment_cmd {
    struct command cmd;          /* cmd.object_id: the payment */
    struct card_facts card;
    int has_card;
    json_t *policy;              /* risk.decide's answer: {"decision", "rule"} */
    int64_t amount;              /* capture, amount update: -1 none */
    struct fee_quote quote;      /* fees.compute for what the command captures */
};

static void payment_cmd_free_extra(struct command *cmd)
{
    struct payment_cmd *c = (struct payment_cmd *)cmd;
    json_decref(c->policy);
}

static struct payment_cmd *payment_cmd_new(struct req_ctx *rc, write_exec_fn exec)
{
    struct payment_cmd *c = command_new(rc, sizeof *c, exec);
    if (c) {
        c->cmd.free_extra = payment_cmd_free_extra;
        c->amount = -1;
    }
    return c;
}

/* ---- risk ----------------------------------------------------------------------- */

void payments_risk_settings_id(const char *merchant_id, int livemode, char out[CS_ID_BYTES_MAX])
{
    snprintf(out, CS_ID_BYTES_MAX, "rks_%s_%c", merchant_id, livemode ? 'l' : 't');
}

json_t *payments_risk_settings(struct store_txn *t, const char *merchant_id, int livemode)
{
    char id[CS_ID_BYTES_MAX];
    payments_risk_settings_id(merchant_id, livemode, id);
    MDB_val v;
    if (store_object_get(t, id, &v) != 0)
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}

struct counting {
    int64_t now_us, count_since, outstanding_since;
    int64_t count, amount, outstanding;
};

static int count_visit(void *ctx, const char *id, const MDB_val *doc)
{
    (void)id;
    struct counting *k = ctx;
    json_t *p = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    /* The index is newest first by creation time: the version 1 event time,
     * which the document's "created" carries (to the microsecond). */
    int64_t at = json_integer_value(json_object_get(p, "created_us"));
    const char *status = json_string_value(json_object_get(p, "status"));
    int live = status && (strcmp(status, "authorized") == 0 || strcmp(status, "captured") == 0);
    int64_t amount = json_integer_value(json_object_get(p, "amount"));
    /* What the card still owes for it: the authorization while it is open
     * (captured in part or not), what was captured once it is closed (a
     * cancelled partial capture released the rest), net of refunds. */
    int64_t held = json_integer_value(json_object_get(p, status && strcmp(status, "authorized") == 0
                                                            ? "amount_authorized" : "amount_captured"));
    int64_t net = held - json_integer_value(json_object_get(p, "amount_refunded"));
    if (net < 0)
        net = 0;
    json_decref(p);
    if (at < k->count_since && at < k->outstanding_since)
        return 1;
    if (at >= k->count_since) {
        k->count++;
        if (live)
            k->amount += amount;
    }
    if (at >= k->outstanding_since && live)
        k->outstanding += net;
    return 0;
}

/* The counters of a card's recent payments for the merchant's controls:
 * payments (any outcome) and their approved amount over the velocity window
 * (default 24 h); the outstanding amount (authorized or captured, net of
 * refunds) over the outstanding window (default 30 days). */
json_t *payments_card_counters(struct store_txn *t, const char *merchant_id, int livemode, const char *fingerprint,
                               json_t *settings, int64_t now_us)
{
    json_t *vel = json_object_get(settings, "velocity"), *lim = json_object_get(settings, "card_outstanding_limit");
    int64_t vh = json_is_integer(json_object_get(vel, "window_hours")) ? json_integer_value(json_object_get(vel, "window_hours")) : 24;
    int64_t od = json_is_integer(json_object_get(lim, "window_days")) ? json_integer_value(json_object_get(lim, "window_days")) : 30;
    struct counting k = {.now_us = now_us, .count_since = now_us - vh * HOUR_US,
                         .outstanding_since = now_us - od * 24 * HOUR_US};
    store_card_payments_each(t, merchant_id, livemode, fingerprint, count_visit, &k);
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "count", (json_int_t)k.count, "amount", (json_int_t)k.amount,
                     "outstanding", (json_int_t)k.outstanding, "window_hours", (json_int_t)vh, "outstanding_window_days",
                     (json_int_t)od);
}

/* Calls risk.decide for a payment (loop thread), with counters read now:
 * the merchant's own rules in Lua. A new {"decision", "rule"}. */
json_t *payments_policy_decide(struct req_ctx *rc, json_t *draft, const struct card_facts *card, int64_t now_us)
{
    json_t *merchant = req_merchant(rc);
    json_t *counters = NULL;
    struct store_txn t;
    if (store_read_begin(rc->app->store, &t) == 0) {
        json_t *settings = payments_risk_settings(&t, rc->merchant_id, rc->livemode);
        counters = payments_card_counters(&t, rc->merchant_id, rc->livemode, card->fingerprint, settings, now_us);
        json_decref(settings);
        store_abort(&t);
    }
    json_t *cj = card_facts_json(card);
    json_t *input = json_pack("{s:s,s:b,s:{s:s,s:O?},s:{s:O,s:O,s:O,s:O,s:O?,s:O?},s:o,s:o}", "kind", "payment",
                              "livemode", rc->livemode, "merchant", "id", rc->merchant_id, "country",
                              json_object_get(merchant, "country"), "payment", "amount",
                              json_object_get(draft, "amount"), "currency", json_object_get(draft, "currency"),
                              "type", json_object_get(draft, "type"), "channel", json_object_get(draft, "channel"),
                              "order_reference", json_object_get(draft, "order_reference"), "customer",
                              json_object_get(draft, "customer"), "card", cj, "counters",
                              counters ? counters : json_object());
    json_t *out = NULL;
    int err = input ? policy_call(rc->app->policy, "risk.decide", input, &out, &rc->diag) : CS_ENOMEM;
    json_decref(input);
    if (err)
        return NULL;
    const char *decision = json_string_value(json_object_get(out, "decision"));
    const char *rule = json_string_value(json_object_get(out, "rule"));
    json_t *rv = json_object_get(out, "rule");
    /* A misspelt decision ("reject", "review": payments have no review) must
     * not let a payment through: the call fails instead. The rule is
     * recorded in the event and shown to the merchant: a short name. */
    if (!decision || (strcmp(decision, "approved") != 0 && strcmp(decision, "rejected") != 0) ||
        (rv && !json_is_null(rv) && (!rule || !*rule || strlen(rule) > 64 || strspn(rule,
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(rule)))) {
        json_decref(out);
        cs_fail(&rc->diag, CS_EPOLICYFAIL, "", "risk.decide answered a payment with an invalid result: decision must "
                "be \"approved\" or \"rejected\", rule a name of 1 to 64 letters, digits, '_', '.' or '-' (docs/risk.md)");
        return NULL;
    }
    json_t *r = json_pack("{s:s,s:s?}", "decision", decision, "rule", rule);
    json_decref(out);
    return r;
}

/* The recorded risk decision: the built-in controls first (exact counters,
 * in the writer), then the merchant's Lua rule. */
json_t *payments_risk_decide(struct store_txn *t, const char *merchant_id, int livemode,
                             const struct card_facts *cf, json_t *policy, int64_t amount, int64_t now_us)
{
    json_t *settings = payments_risk_settings(t, merchant_id, livemode);
    json_t *counters = payments_card_counters(t, merchant_id, livemode, cf->fingerprint, settings, now_us);
    json_t *card = card_facts_json(cf);
    const char *rule = payment_risk_rule(settings, card, amount, counters);
    json_t *risk;
    if (rule) {
        risk = json_pack("{s:s,s:s,s:s,s:O}", "decision", "blocked", "rule", rule, "source", "controls", "counters", counters);
    } else if (policy && strcmp(json_string_value(json_object_get(policy, "decision")), "rejected") == 0) {
        const char *lr = json_string_value(json_object_get(policy, "rule"));
        risk = json_pack("{s:s,s:s,s:s,s:O}", "decision", "blocked", "rule", lr ? lr : "merchant_rule", "source",
                         "risk.decide", "counters", counters);
    } else {
        risk = json_pack("{s:s,s:n,s:n,s:O}", "decision", "approved", "rule", "source", "counters", counters);
    }
    json_decref(settings);
    json_decref(counters);
    json_decref(card);
    return risk;
}

static json_t *risk_decide(struct store_txn *t, struct payment_cmd *c, int64_t amount)
{
    return payments_risk_decide(t, c->cmd.merchant_id, c->cmd.livemode, &c->card, c->policy, amount, c->cmd.now_us);
}

/* ---- fees ---------------------------------------------------------------------------- */

int payments_fee_quote(struct app *app, json_t *merchant, int livemode, json_t *payment, json_t *card,
                       int64_t amount, struct fee_quote *q, struct cs_diag *d)
{
    memset(q, 0, sizeof *q);
    if (amount <= 0)
        return 0;
    json_t *input = json_pack("{s:s,s:I,s:O,s:{s:O,s:O},s:b,s:{s:O,s:O},s:{s:O?,s:O?,s:O?}}", "kind", "payment",
                              "amount", (json_int_t)amount, "currency", json_object_get(payment, "currency"),
                              "merchant", "id", json_object_get(merchant, "id"), "country",
                              json_object_get(merchant, "country"), "livemode", livemode, "payment", "type",
                              json_object_get(payment, "type"), "channel", json_object_get(payment, "channel"),
                              "card", "country", json_object_get(card, "country"), "funding",
                              json_object_get(card, "funding"), "brand", json_object_get(card, "brand"));
    json_t *out = NULL;
    int err = input ? policy_call(app->policy, "fees.compute", input, &out, d)
                    : cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_decref(input);
    if (err == 0)
        err = dispute_fees_read(out, &q->fee, &q->vat, d);
    json_decref(out);
    if (err == 0) {
        q->set = 1;
        q->amount = amount;
    }
    return err;
}

/* ---- create ------------------------------------------------------------------------ */

/* A failed payment is recorded (rejects are listed) and answered 402 with
 * the card error and the payment. */
static int reply_payment(struct store_txn *t, struct payment_cmd *c, const char *type, int status)
{
    if (strcmp(type, "payment.failed") != 0)
        return object_reply(t, &c->cmd, c->cmd.object_id, status);
    MDB_val v;
    int rc = store_object_get(t, c->cmd.object_id, &v);
    if (rc)
        return write_cmd_fail(&c->cmd.base, rc);
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    json_t *f = json_object_get(doc, "failure");
    const char *code = json_string_value(json_object_get(f, "code"));
    int blocked = code && strcmp(code, "risk_blocked") == 0;
    json_t *err = json_pack("{s:{s:s,s:s,s:O,s:O,s:s,s:O}}", "error", "type", "card_error", "code",
                            blocked ? "payment_blocked" : "card_declined", "decline_code", json_object_get(f, "code"),
                            "message", json_object_get(f, "message"), "param", "card", "payment", doc);
    char *text = err ? json_dumps(err, JSON_COMPACT) : NULL;
    json_decref(err);
    json_decref(doc);
    if (!text)
        return write_cmd_fail(&c->cmd.base, CS_ENOMEM);
    rc = write_cmd_reply(&c->cmd.base, 402, text, strlen(text));
    free(text);
    return rc;
}

static int exec_create(struct store_txn *t, struct write_cmd *wc)
{
    struct payment_cmd *c = (struct payment_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *draft = c->cmd.params;
    int rc = customer_link_payment(t, &c->cmd, draft);
    if (rc)
        return write_cmd_fail(wc, rc);
    /* The controls weigh the whole amount the card is committed to (a split
     * or deposit payment's later charges too), as the counters weigh the
     * card's earlier payments. */
    json_t *risk = c->has_card ? risk_decide(t, c, json_integer_value(json_object_get(draft, "amount"))) : NULL;
    const char *type = NULL;
    json_t *data = NULL;
    rc = payment_decide_create(draft, c->has_card ? &c->card : NULL, risk, c->cmd.object_id, c->cmd.merchant_id,
                                   c->cmd.livemode, c->cmd.actor, c->cmd.now_us, &type, &data, &wc->diag);
    json_decref(risk);
    if (rc == 0)
        rc = payment_price_capture(NULL, data, &c->quote, &wc->diag);
    if (rc == 0)
        rc = object_append(t, &c->cmd, type, data);
    json_decref(data);
    if (rc)
        return write_cmd_fail(wc, rc);
    reply_payment(t, c, type, 201);
    command_idem_store(t, &c->cmd);
    return 0;
}

/* Reads the card (required for the api and manual channels) and runs the
 * merchant's Lua rule: shared by create and duplicate. */
static int prepare_card(struct req_ctx *rc, struct payment_cmd *c, json_t *draft)
{
    c->policy = payments_policy_decide(rc, draft, &c->card, c->cmd.now_us);
    json_t *card = c->policy ? card_facts_json(&c->card) : NULL;
    int err = !c->policy || payments_fee_quote(rc->app, req_merchant(rc), rc->livemode, draft, card,
                                               payment_capture_amount(draft, -1), &c->quote, &rc->diag);
    json_decref(card);
    if (err) {
        respond_error(rc);
        return -1;
    }
    return 0;
}

/* A payment taken on a terminal (channel "terminal"): the merchant's own
 * active terminal, or 404/409 naming `terminal` (docs/terminals.md).
 * Terminals are never deleted, so the check holds until the writer runs. */
static int check_terminal(struct req_ctx *rc, json_t *draft)
{
    const char *id = json_string_value(json_object_get(draft, "terminal"));
    json_t *doc = NULL;
    if (!id)
        return 0;
    if (object_fetch(rc, id, "terminal", "terminal", &doc) != 0)
        return -1;
    int active = doc_is(doc, "status", "active");
    json_decref(doc);
    if (!active) {
        respond_fail(rc, CS_ESTATE, "terminal", "terminal %s is not active", id);
        return -1;
    }
    return 0;
}

void api_payments_create(struct req_ctx *rc)
{
    json_t *body = NULL, *draft = NULL, *merchant = req_merchant(rc);
    if (!merchant) {
        respond_fail(rc, CS_EINTERNAL, "", "the merchant could not be read");
        return;
    }
    struct payment_cmd *c = payment_cmd_new(rc, exec_create);
    if (!c)
        return;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        payment_validate_create(body, merchant, c->cmd.now_us, &draft, &rc->diag)) {
        json_decref(body);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    /* The card: read and forgotten; only its facts go further. */
    json_t *card_in = json_object_get(body, "card");
    int err = !card_in ? cs_fail(&rc->diag, CS_EMISSING, "card", "card is required (a payment link takes the card "
                                 "on its hosted page: POST /v1/payment_links)")
                       : card_read(card_in, "card", c->cmd.now_us, rc->app->card_key, &c->card, &rc->diag);
    json_decref(body);
    if (err) {
        json_decref(draft);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    c->has_card = 1;
    c->cmd.params = draft;
    if (check_terminal(rc, draft) != 0) {
        command_free(&c->cmd);
        return;
    }
    if (prepare_card(rc, c, draft) != 0) {
        command_free(&c->cmd);
        return;
    }
    command_submit_new(&c->cmd, "pay");
}

/* ---- changes of an existing payment ------------------------------------------------------ */

static int change_capture(struct command *cmd, json_t *doc, const char **type, json_t **data)
{
    struct payment_cmd *c = (struct payment_cmd *)cmd;
    int rc = payment_decide_capture(doc, c->amount, c->cmd.now_us, type, data, &c->cmd.base.diag);
    if (rc == 0 && (rc = payment_price_capture(doc, *data, &c->quote, &c->cmd.base.diag)))
        json_decref(*data);
    return rc;
}
static int exec_capture(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "payment", change_capture);
}

static int change_cancel(struct command *cmd, json_t *doc, const char **type, json_t **data)
{
    struct payment_cmd *c = (struct payment_cmd *)cmd;
    return payment_decide_cancel(doc, json_string_value(json_object_get(c->cmd.params, "reason")), c->cmd.now_us,
                                 type, data, &c->cmd.base.diag);
}
static int exec_cancel(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "payment", change_cancel);
}

static int change_amount(struct command *cmd, json_t *doc, const char **type, json_t **data)
{
    struct payment_cmd *c = (struct payment_cmd *)cmd;
    return payment_decide_amount(doc, c->amount, c->cmd.now_us, type, data, &c->cmd.base.diag);
}
static int exec_amount(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "payment", change_amount);
}

/* The path's payment id, checked before any work. */
static int path_payment_id(struct req_ctx *rc)
{
    if (id_valid(rc->params[0], "pay"))
        return 0;
    respond_fail(rc, CS_ENOTFOUND, "id", "no such payment: %s", rc->params[0]);
    return -1;
}

/* The fee of what a capture would capture, priced on the payment as it is
 * now; the writer refuses (409, retry) if the payment moved meanwhile. */
static int quote_capture(struct req_ctx *rc, int64_t amount, struct fee_quote *q)
{
    memset(q, 0, sizeof *q);
    json_t *doc = NULL;
    if (object_read_own(rc, rc->params[0], &doc) != 0)
        return 0;   /* the writer answers: no such payment */
    int err = payments_fee_quote(rc->app, req_merchant(rc), rc->livemode, doc, json_object_get(doc, "card"),
                                 payment_capture_amount(doc, amount), q, &rc->diag);
    json_decref(doc);
    return err;
}

static void submit_change(struct req_ctx *rc, write_exec_fn exec, json_t *params, int64_t amount)
{
    if (path_payment_id(rc)) {
        json_decref(params);
        return;
    }
    struct payment_cmd *c = payment_cmd_new(rc, exec);
    if (!c) {
        json_decref(params);
        return;
    }
    if (exec == exec_capture && quote_capture(rc, amount, &c->quote) != 0) {
        json_decref(params);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->cmd.params = params;
    c->amount = amount;
    command_submit(&c->cmd);
}

void api_payments_capture(struct req_ctx *rc)
{
    static const char *const keys[] = {"amount", NULL};
    json_t *body = NULL;
    int64_t amount = -1;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "amount", 0, 1, CS_AMOUNT_MINOR_MAX, &amount, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    submit_change(rc, exec_capture, body, amount);
}

void api_payments_cancel(struct req_ctx *rc)
{
    static const char *const keys[] = {"reason", NULL};
    json_t *body = NULL;
    const char *reason = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "reason", 0, 1, 32, &reason, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    submit_change(rc, exec_cancel, body, -1);
}

void api_payments_update(struct req_ctx *rc)
{
    static const char *const keys[] = {"amount", NULL};
    json_t *body = NULL;
    int64_t amount = -1;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "amount", 1, 1, CS_AMOUNT_MINOR_MAX, &amount, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    submit_change(rc, exec_amount, body, amount);
}

void api_payments_get(struct req_ctx *rc)
{
    object_get_handler(rc, "pay", "payment");
}

/* ---- duplicate: a new payment on the same card ------------------------------------------------ */

void api_payments_duplicate(struct req_ctx *rc)
{
    static const char *const keys[] = {"amount", "description", NULL};
    json_t *body = NULL;
    int64_t amount = -1;
    const char *description = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "amount", 0, 1, CS_AMOUNT_MINOR_MAX, &amount, &rc->diag) ||
        jin_string(body, "", "description", 0, 1, 500, &description, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (path_payment_id(rc)) {
        json_decref(body);
        return;
    }
    json_t *src = NULL;
    if (object_fetch(rc, rc->params[0], "id", "payment", &src) != 0) {
        json_decref(body);
        return;
    }
    struct payment_cmd *c = payment_cmd_new(rc, exec_create);
    if (!c) {
        json_decref(body);
        json_decref(src);
        return;
    }
    if (card_facts_from_json(json_object_get(src, "card"), &c->card) != 0) {
        json_decref(body);
        json_decref(src);
        command_free(&c->cmd);
        respond_fail(rc, CS_ESTATE, "id", "this payment has no card to charge again");
        return;
    }
    /* The card may have expired since. */
    char ym[16];
    clock_format_date(c->cmd.now_us, ym, sizeof ym);
    int y = atoi(ym), m = atoi(ym + 5);
    if (c->card.exp_year < y || (c->card.exp_year == y && c->card.exp_month < m)) {
        json_decref(body);
        json_decref(src);
        command_free(&c->cmd);
        respond_fail(rc, CS_ECARD, "id", "the card of this payment has expired");
        return;
    }
    c->has_card = 1;
    /* A copy of what the merchant entered; a split or deposit becomes one
     * payment at order (its schedule belonged to the original). */
    const char *type = json_string_value(json_object_get(src, "type"));
    if (!type || strcmp(type, "split") == 0 || strcmp(type, "deposit") == 0)
        type = "at_order";
    json_t *draft = json_pack("{s:s,s:s,s:I,s:O,s:O,s:O,s:O,s:O,s:O,s:n,s:O}", "type", type, "channel",
                              strcmp(rc->actor, "operator") == 0 ? "manual" : "api", "amount",
                              (json_int_t)(amount > 0 ? amount : json_integer_value(json_object_get(src, "amount"))),
                              "currency", json_object_get(src, "currency"), "description",
                              json_object_get(src, "description"),   /* a new description is set below */
                              "order_reference", json_object_get(src, "order_reference"), "shop",
                              json_object_get(src, "shop"), "customer", json_object_get(src, "customer"),
                              "customer_id", json_object_get(src, "customer_id"), "charges", "duplicated_from",
                              json_object_get(src, "id"));
    if (description && draft)
        json_object_set_new(draft, "description", json_string(description));
    json_decref(body);
    json_decref(src);
    c->cmd.params = draft;
    if (!draft || prepare_card(rc, c, draft) != 0) {
        if (!draft)
            respond_fail(rc, CS_ENOMEM, "", "out of memory");
        command_free(&c->cmd);
        return;
    }
    command_submit_new(&c->cmd, "pay");
}

/* ---- jobs (core/jobs.c) ------------------------------------------------------------------------- */

typedef int (*payment_job_fn)(json_t *doc, int64_t now_us, json_t *prepared, const char **type, json_t **data,
                              struct cs_diag *d);

static int run_job(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                   payment_job_fn decide, struct cs_diag *d)
{
    MDB_val v;
    int rc = store_object_get(t, j->aggregate_id, &v);
    if (rc)
        return rc == CS_ENOENT ? 0 : rc;
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!doc)
        return CS_ECORRUPT;
    const char *type = NULL;
    json_t *data = NULL;
    struct cs_diag quiet = {0};
    rc = decide(doc, time_us, prepared, &type, &data, &quiet);
    json_decref(doc);
    if (rc == CS_ESTATE)
        return 0;   /* stale: the payment moved on */
    if (rc) {
        *d = quiet;
        return rc;
    }
    rc = object_job_append(t, j, time_us, type, data);
    json_decref(data);
    return rc ? rc : 1;
}

static int decide_expire(json_t *doc, int64_t now_us, json_t *prepared, const char **type, json_t **data,
                         struct cs_diag *d)
{
    (void)prepared;
    return payment_decide_expire(doc, now_us, type, data, d);
}

int payment_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d)
{
    return run_job(t, j, time_us, prepared, decide_expire, d);
}

static int decide_charge(json_t *doc, int64_t now_us, json_t *prepared, const char **type, json_t **data,
                         struct cs_diag *d)
{
    json_t *after = json_object_get(prepared, "retry_after_hours");
    int64_t retry = json_is_integer(after) ? json_integer_value(after) * HOUR_US : -1;
    json_t *qj = json_object_get(prepared, "quote");
    struct fee_quote q = {.set = json_is_object(qj), .amount = json_integer_value(json_object_get(qj, "amount")),
                          .fee = json_integer_value(json_object_get(qj, "fee")),
                          .vat = json_integer_value(json_object_get(qj, "vat"))};
    int rc = payment_decide_charge(doc, now_us, retry, type, data, d);
    if (rc == 0 && (rc = payment_price_capture(doc, *data, &q, d)))
        json_decref(*data);
    return rc;
}

int payment_job_charge(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d)
{
    return run_job(t, j, time_us, prepared, decide_charge, d);
}

/* The retry policy of a scheduled charge, asked before it runs (loop
 * thread): payments.retry says after how long the next attempt comes if
 * this one fails, or that none will. */
json_t *payment_job_charge_prepare(struct app *app, const struct sched_job *j, int64_t time_us)
{
    (void)time_us;
    json_t *doc = NULL;
    struct store_txn t;
    if (store_read_begin(app->store, &t) != 0)
        return NULL;
    MDB_val v;
    if (store_object_get(&t, j->aggregate_id, &v) == 0)
        doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    store_abort(&t);
    if (!doc)
        return NULL;
    json_t *input = json_pack("{s:i,s:O,s:O,s:O,s:b,s:s}", "attempt", payment_next_charge_attempt(doc), "type",
                              json_object_get(doc, "type"), "amount", json_object_get(doc, "amount"), "currency",
                              json_object_get(doc, "currency"), "livemode", j->livemode, "merchant", j->merchant_id);
    json_t *out = NULL;
    struct cs_diag d = {0};
    if (!input || policy_call(app->policy, "payments.retry", input, &out, &d) != 0) {
        fprintf(stderr, "caisse: payments.retry failed: %s\n", d.message);
        out = json_object();
    }
    json_decref(input);
    /* The charge's fee, priced now: without it the charge does not run (the
     * writer refuses a capture it cannot price) and the job is tried again. */
    struct fee_quote q;
    json_t *merchant = NULL;
    if (store_read_begin(app->store, &t) == 0) {
        if (store_merchant_get(&t, j->merchant_id, &v) == 0)
            merchant = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        store_abort(&t);
    }
    memset(&d, 0, sizeof d);
    if (out && merchant && payments_fee_quote(app, merchant, j->livemode, doc, json_object_get(doc, "card"),
                                              payment_capture_amount(doc, -1), &q, &d) == 0 && q.set)
        json_object_set_new(out, "quote", json_pack("{s:I,s:I,s:I}", "amount", (json_int_t)q.amount, "fee",
                                                   (json_int_t)q.fee, "vat", (json_int_t)q.vat));
    else if (d.err)
        fprintf(stderr, "caisse: fees.compute failed for %s: %s\n", j->aggregate_id, d.message);
    json_decref(merchant);
    json_decref(doc);
    return out;
}
