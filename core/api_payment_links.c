/* HTTP handlers of /v1/payment_links, the hosted payment page /pay/{token}
 * and the links' expiry job (docs/payment_links.md).
 *
 * Creating a link is one command: the payment (requires_payment, channel
 * payment_link), the link, and the e-mail to the shopper with the link's
 * URL, in one write transaction. The URL's token is 32 random bytes; the
 * log keeps only its SHA-256 (data.token_sha256, indexed by the objects
 * projection) besides the URL in the link's document (see the doc's
 * "The URL" for why it is kept).
 *
 * Paying on the hosted page: the loop thread reads the card from the form
 * and asks the merchant's risk.decide; the writer re-checks the link at
 * that instant (so a link paid twice at once is paid once), applies the
 * built-in risk controls, runs the card and appends the payment's event and
 * payment_link.completed, or records the declined attempt on the link
 * (the payment stays requires_payment, the link active, for another card). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/doc.h"
#include "core/router.h"
#include "core/payments.h"
#include "core/payment_links.h"
#include "core/api_payments.h"
#include "core/api_payment_links.h"
#include "core/pay_page.h"
#include "core/customer_link.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/list_page.h"
#include "core/notify.h"
#include "core/crypto.h"
#include "core/cards.h"
#include "core/ids.h"

static const char *const cancel_reasons[] = {"requested_by_customer", "duplicate", "fraudulent", "abandoned",
                                             "other", NULL};

static const char *sget(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int is(json_t *doc, const char *key, const char *value)
{
    const char *s = sget(doc, key);
    return s && strcmp(s, value) == 0;
}

static json_t *load(struct store_txn *t, const char *id, int *rc)
{
    MDB_val v;
    *rc = id ? store_object_get(t, id, &v) : CS_ECORRUPT;
    if (*rc)
        return NULL;
    json_t *doc = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!doc)
        *rc = CS_ECORRUPT;
    return doc;
}

/* Queues an e-mail to the link's customer in the transaction. */
static int mail_put(struct store_txn *t, json_t *link, const char *what, const char *subject, const char *body,
                    int64_t now_us)
{
    const char *to = sget(json_object_get(link, "customer"), "email");
    if (!to)
        return 0;
    char key[128];
    snprintf(key, sizeof key, "%016llx-%s-%s", (unsigned long long)now_us, sget(link, "id"), what);
    char *msg = notify_render(to, subject, body, key, now_us);
    if (!msg)
        return CS_ENOMEM;
    int rc = store_mail_put(t, key, msg, strlen(msg));
    free(msg);
    return rc;
}

static const char *merchant_name_of(json_t *merchant)
{
    const char *name = sget(merchant, "name");
    return name ? name : "your merchant";
}

/* ---- create ---------------------------------------------------------------------------- */

struct link_cmd {
    struct command cmd;                        /* cmd.object_id: the link */
    char payment_id[CS_ID_BYTES_MAX];
    char token_sha256[65];
    char url[sizeof ((struct app *)0)->public_url + 64];
    char *merchant_name;
    int64_t expires_in_hours;
};

static void link_cmd_free_extra(struct command *cmd)
{
    struct link_cmd *c = (struct link_cmd *)cmd;
    free(c->merchant_name);
}

static int exec_create(struct store_txn *t, struct write_cmd *wc)
{
    struct link_cmd *c = (struct link_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *draft = c->cmd.params;
    int rc = customer_link_payment(t, &c->cmd, draft);
    if (rc)
        return write_cmd_fail(wc, rc);
    const char *ptype = NULL;
    json_t *pdata = NULL, *ldata = NULL;
    char *subject = NULL, *body = NULL;
    rc = payment_decide_create(draft, NULL, NULL, c->payment_id, c->cmd.merchant_id, c->cmd.livemode, c->cmd.actor,
                               c->cmd.now_us, &ptype, &pdata, &wc->diag);
    if (rc == 0) {
        json_t *payment = json_object_get(pdata, "object");
        rc = payment_link_decide_create(payment, c->cmd.object_id, c->url, c->token_sha256, c->expires_in_hours,
                                        c->cmd.actor, c->cmd.now_us, &ldata, &wc->diag);
    }
    json_t *link = json_object_get(ldata, "object");
    if (rc == 0)
        rc = payment_link_email(link, c->merchant_name, &subject, &body);
    /* Everything is decided: write. */
    if (rc == 0)
        rc = object_append(t, &c->cmd, ptype, pdata);
    if (rc == 0)
        rc = object_append(t, &c->cmd, "payment_link.created", ldata);
    if (rc == 0)
        rc = mail_put(t, link, "link", subject, body, c->cmd.now_us);
    json_decref(pdata);
    json_decref(ldata);
    free(subject);
    free(body);
    return object_done(t, &c->cmd, rc, 201);
}

void api_payment_links_create(struct req_ctx *rc)
{
    json_t *body = NULL, *draft = NULL, *merchant = req_merchant(rc);
    int64_t hours = 0;
    if (!merchant) {
        respond_fail(rc, CS_EINTERNAL, "", "the merchant could not be read");
        return;
    }
    struct link_cmd *c = command_new(rc, sizeof *c, exec_create);
    if (!c)
        return;
    c->cmd.free_extra = link_cmd_free_extra;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) ||
        payment_link_validate_create(body, merchant, c->cmd.now_us, &draft, &hours, &rc->diag)) {
        json_decref(body);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    json_decref(body);
    c->cmd.params = draft;
    c->expires_in_hours = hours;
    c->merchant_name = strdup(merchant_name_of(merchant));
    /* The URL's secret: only its hash goes further than this function and
     * the URL itself. */
    uint8_t raw[PAYMENT_LINK_TOKEN_BYTES];
    char token[PAYMENT_LINK_TOKEN_CHARS + 1];
    if (!c->merchant_name || id_new("plink", c->cmd.now_us, c->cmd.object_id, sizeof c->cmd.object_id) != 0 ||
        id_new("pay", c->cmd.now_us, c->payment_id, sizeof c->payment_id) != 0 || crypto_random(raw, sizeof raw) != 0) {
        command_free(&c->cmd);
        respond_fail(rc, CS_EINTERNAL, "", "could not make the link's ids or secret");
        return;
    }
    payment_link_base64url(raw, sizeof raw, token);
    crypto_sha256_hex(token, PAYMENT_LINK_TOKEN_CHARS, c->token_sha256);
    snprintf(c->url, sizeof c->url, "%s/pay/%s", rc->app->public_url, token);
    memset(raw, 0, sizeof raw);
    memset(token, 0, sizeof token);
    json_object_set_new(draft, "payment_link", json_string(c->cmd.object_id));
    command_submit(&c->cmd);
}

/* ---- read ---------------------------------------------------------------------------------- */

void api_payment_links_get(struct req_ctx *rc)
{
    object_get_handler(rc, "plink", "payment link");
}

void api_payment_links_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "starting_after", "status", NULL};
    static const char *const filters[] = {"status", NULL};
    static const char *const statuses[] = {"active", "completed", "expired", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *status = query_param(rc, "status");
    if (status && !doc_one_of(status, statuses)) {
        respond_fail(rc, CS_EPARAM, "status", "status must be active, completed or expired");
        return;
    }
    object_list_respond(rc, "payment_link", "plink", "payment link", filters);
}

/* ---- ending a link: deactivation and the expiry job ------------------------------------------ */

/* The events that end an active link and cancel its payment if it still
 * awaits its card: decided together, before anything is written. */
struct ending {
    const char *link_type, *payment_type;
    json_t *link_data, *payment_data;   /* payment_data NULL: the payment is left as it is */
};

static int decide_ending(json_t *link, json_t *payment, const char *reason, const char *cancel_reason,
                         int64_t now_us, struct ending *e, struct cs_diag *d)
{
    memset(e, 0, sizeof *e);
    int rc = payment_link_decide_end(link, reason, now_us, &e->link_type, &e->link_data, d);
    if (rc == 0 && is(payment, "status", "requires_payment"))
        rc = payment_decide_cancel(payment, cancel_reason, now_us, &e->payment_type, &e->payment_data, d);
    if (rc) {
        json_decref(e->link_data);
        e->link_data = NULL;
    }
    return rc;
}

static void ending_clear(struct ending *e)
{
    json_decref(e->link_data);
    json_decref(e->payment_data);
}

struct deactivate_cmd {
    struct command cmd;                 /* cmd.object_id: the link */
    const char *reason;                 /* static: one of cancel_reasons */
};

static int exec_deactivate(struct store_txn *t, struct write_cmd *wc)
{
    struct deactivate_cmd *c = (struct deactivate_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *link = NULL, *payment = NULL;
    int rc = object_load_own(t, c->cmd.object_id, c->cmd.merchant_id, c->cmd.livemode, &link);
    if (rc == CS_ENOENT) {
        cs_fail(&wc->diag, CS_ENOTFOUND, "id", "no such payment link: %s", c->cmd.object_id);
        return write_cmd_fail(wc, CS_ENOTFOUND);
    }
    if (rc)
        return write_cmd_fail(wc, rc);
    payment = load(t, sget(link, "payment"), &rc);
    struct ending e = {0};
    if (rc == 0)
        rc = decide_ending(link, payment, "deactivated", c->reason, c->cmd.now_us, &e, &wc->diag);
    json_decref(link);
    json_decref(payment);
    if (rc == CS_ENOENT)
        rc = CS_ECORRUPT;   /* a link's payment is made with it */
    if (rc == 0)
        rc = object_append(t, &c->cmd, e.link_type, e.link_data);
    if (rc == 0 && e.payment_data)
        rc = object_append(t, &c->cmd, e.payment_type, e.payment_data);
    ending_clear(&e);
    return object_done(t, &c->cmd, rc, 200);
}

void api_payment_links_deactivate(struct req_ctx *rc)
{
    static const char *const keys[] = {"reason", NULL};
    json_t *body = NULL;
    const char *reason = "other";
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "reason", 0, 1, 32, &reason, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    const char *const *r = cancel_reasons;
    while (*r && strcmp(*r, reason) != 0)
        r++;
    json_decref(body);   /* reason now points to a static string, or nothing */
    if (!*r) {
        respond_fail(rc, CS_EPARAM, "reason", "reason must be one of requested_by_customer, duplicate, fraudulent, "
                     "abandoned, other");
        return;
    }
    if (!id_valid(rc->params[0], "plink")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such payment link: %s", rc->params[0]);
        return;
    }
    struct deactivate_cmd *c = command_new(rc, sizeof *c, exec_deactivate);
    if (!c)
        return;
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    c->reason = *r;
    command_submit(&c->cmd);
}

int payment_link_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                            struct cs_diag *d)
{
    (void)prepared;
    int rc;
    json_t *link = load(t, j->aggregate_id, &rc);
    if (rc)
        return rc == CS_ENOENT ? 0 : rc;
    if (!is(link, "status", "active") || time_us < payment_link_expires_us(link)) {
        json_decref(link);
        return 0;   /* stale: paid or ended first */
    }
    json_t *payment = load(t, sget(link, "payment"), &rc);
    struct ending e = {0};
    struct cs_diag quiet = {0};
    if (rc == 0)
        rc = decide_ending(link, payment, "expired", "abandoned", time_us, &e, &quiet);
    json_decref(link);
    json_decref(payment);
    if (rc) {
        *d = quiet;
        return rc == CS_ENOENT ? CS_ECORRUPT : rc;
    }
    int n = 1;
    rc = object_job_append(t, j, time_us, e.link_type, e.link_data);
    if (rc == 0 && e.payment_data) {
        rc = object_job_append(t, j, time_us, e.payment_type, e.payment_data);
        n = 2;
    }
    ending_clear(&e);
    return rc ? rc : n;
}

/* ---- the hosted page ----------------------------------------------------------------------------- */

/* A link found by the token of the path, with its payment and merchant. */
struct pay_ctx {
    json_t *link, *payment, *merchant;
    int64_t now_us;
};

static void pay_ctx_clear(struct pay_ctx *p)
{
    json_decref(p->link);
    json_decref(p->payment);
    json_decref(p->merchant);
    memset(p, 0, sizeof *p);
}

static void respond_page(struct req_ctx *rc, int status, const struct pay_view *v)
{
    size_t n = 0;
    char *html = pay_page_render(v, &n);
    if (!html) {
        static const char oom[] = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>"
                                  "</head><body><p>Something went wrong. Please try again later.</p></body></html>\n";
        http_respond(rc->req, 500, "text/html; charset=utf-8", pay_page_headers(), oom, sizeof oom - 1);
        return;
    }
    http_respond(rc->req, status, "text/html; charset=utf-8", pay_page_headers(), html, n);
    free(html);
}

static void respond_page_kind(struct req_ctx *rc, int status, enum pay_page_kind kind, const char *error)
{
    struct pay_view v = {.kind = kind, .error = error};
    respond_page(rc, status, &v);
}

/* What the page shows of a link: the payment's amount (what is charged),
 * never the shopper's own details (a forwarded URL shows only what it pays). */
static void view_of(const struct pay_ctx *p, const char *token, struct pay_view *v)
{
    memset(v, 0, sizeof *v);
    v->merchant_name = merchant_name_of(p->merchant);
    v->amount = json_integer_value(json_object_get(p->payment, "amount"));
    v->currency = sget(p->payment, "currency");
    v->description = sget(p->link, "description");
    v->order_reference = sget(p->link, "order_reference");
    v->action = token;
}

/* Finds the link of the path's token, its payment and merchant, and makes
 * the request act for that merchant (mode, clock, actor). Answers the page
 * (404, 500) and returns -1 otherwise. */
static int pay_load(struct req_ctx *rc, struct pay_ctx *p)
{
    memset(p, 0, sizeof *p);
    const char *token = rc->params[0];
    if (!payment_link_token_valid(token)) {
        respond_page_kind(rc, 404, PAY_PAGE_NOT_FOUND, NULL);
        return -1;
    }
    /* Looked up by its hash: the index never sees the secret, and a lookup's
     * timing says nothing about it. */
    char hash[65], id[CS_ID_BYTES_MAX];
    crypto_sha256_hex(token, strlen(token), hash);
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err == 0) {
        err = store_object_by_token(&t, hash, id);
        if (err == 0)
            p->link = load(&t, id, &err);
        if (err == 0 && !is(p->link, "object", "payment_link"))
            err = CS_ENOENT;   /* a token of another kind of object opens no page */
        if (err == 0)
            p->payment = load(&t, sget(p->link, "payment"), &err);
        MDB_val mv;
        const char *mid = sget(p->link, "merchant");
        if (err == 0 && (err = mid ? store_merchant_get(&t, mid, &mv) : CS_ECORRUPT) == 0)
            p->merchant = json_loadb(mv.mv_data, mv.mv_size, 0, NULL);
        if (err == 0 && !p->merchant)
            err = CS_ECORRUPT;
        store_abort(&t);
    }
    if (err) {
        pay_ctx_clear(p);
        if (err == CS_ENOENT)
            respond_page_kind(rc, 404, PAY_PAGE_NOT_FOUND, NULL);
        else
            respond_page_kind(rc, cs_err_status(err), PAY_PAGE_ERROR, NULL);
        return -1;
    }
    snprintf(rc->merchant_id, sizeof rc->merchant_id, "%s", sget(p->link, "merchant"));
    rc->livemode = json_is_true(json_object_get(p->link, "livemode"));
    snprintf(rc->actor, sizeof rc->actor, "payment_page:%s", sget(p->link, "id"));
    rc->merchant = json_incref(p->merchant);   /* req_merchant() for the risk policy */
    p->now_us = merchant_now_us(rc->app, rc->merchant_id, rc->livemode);
    return 0;
}

static const int gone_status[] = {[PAYMENT_LINK_PAYABLE] = 200, [PAYMENT_LINK_COMPLETED] = 410,
                                  [PAYMENT_LINK_EXPIRED] = 410, [PAYMENT_LINK_UNPAYABLE] = 410};
static const enum pay_page_kind gone_kind[] = {[PAYMENT_LINK_PAYABLE] = PAY_PAGE_FORM,
                                               [PAYMENT_LINK_COMPLETED] = PAY_PAGE_COMPLETED,
                                               [PAYMENT_LINK_EXPIRED] = PAY_PAGE_EXPIRED,
                                               [PAYMENT_LINK_UNPAYABLE] = PAY_PAGE_UNPAYABLE};

void api_pay_page(struct req_ctx *rc)
{
    struct pay_ctx p;
    if (pay_load(rc, &p) != 0)
        return;
    enum payment_link_state s = payment_link_state(p.link, p.payment, p.now_us);
    struct pay_view v;
    view_of(&p, rc->params[0], &v);
    v.kind = gone_kind[s];
    respond_page(rc, gone_status[s], &v);
    pay_ctx_clear(&p);
}

struct pay_cmd {
    struct command cmd;                 /* cmd.object_id: the link */
    struct req_ctx *page;               /* the request the page answers */
    char payment_id[CS_ID_BYTES_MAX];
    struct card_facts card;
    json_t *policy;                     /* risk.decide's answer */
    struct fee_quote quote;             /* fees.compute for what paying captures */
    char merchant_name[256];            /* for the receipt */
    struct pay_ctx p;                   /* loop thread only: what the answer page shows */
};

static void pay_cmd_free_extra(struct command *cmd)
{
    struct pay_cmd *c = (struct pay_cmd *)cmd;
    json_decref(c->policy);
    pay_ctx_clear(&c->p);
}

/* What the shopper is told of a refusal: the acquirer's reason when it
 * helps them (funds, expiry), a plain decline otherwise (a stolen card or
 * a risk rule is not explained to whoever holds the card). */
static const char *decline_text(const char *code)
{
    if (code && strcmp(code, "insufficient_funds") == 0)
        return "Your card has insufficient funds. Try another card.";
    if (code && strcmp(code, "expired_card") == 0)
        return "Your card has expired. Try another card.";
    return "Your card was declined. Try another card.";
}

static int reply_outcome(struct write_cmd *wc, int status, json_t *outcome)
{
    char *text = outcome ? json_dumps(outcome, JSON_COMPACT) : NULL;
    json_decref(outcome);
    if (!text)
        return write_cmd_fail(wc, CS_ENOMEM);
    int rc = write_cmd_reply(wc, status, text, strlen(text));
    free(text);
    return rc;
}

/* The declined attempt recorded on the link; the last one allowed also
 * ends the link and cancels its payment. All decided before any append. */
static int record_decline(struct store_txn *t, struct pay_cmd *c, json_t *link, json_t *payment, json_t *failed)
{
    struct write_cmd *wc = &c->cmd.base;
    json_t *ldata = NULL, *card = card_facts_json(&c->card);
    json_t *failure = json_object_get(failed, "failure");
    int exhausted = 0;
    int rc = payment_link_decide_failed(link, failure, card, c->cmd.now_us, &ldata, &exhausted, &wc->diag);
    json_decref(card);
    struct ending e = {0};
    if (rc == 0 && exhausted)
        rc = decide_ending(json_object_get(ldata, "object"), payment, "too_many_attempts", "other", c->cmd.now_us,
                           &e, &wc->diag);
    if (rc == 0)
        rc = object_append(t, &c->cmd, "payment_link.payment_failed", ldata);
    if (rc == 0 && exhausted)
        rc = object_append(t, &c->cmd, e.link_type, e.link_data);
    if (rc == 0 && e.payment_data)
        rc = object_append(t, &c->cmd, e.payment_type, e.payment_data);
    json_decref(ldata);
    ending_clear(&e);
    if (rc)
        return write_cmd_fail(wc, rc);
    const char *code = sget(failure, "code");
    return reply_outcome(wc, 402, json_pack("{s:s,s:s?,s:s,s:b}", "outcome", "declined", "code", code, "message",
                                            decline_text(code), "closed", exhausted));
}

static int exec_pay(struct store_txn *t, struct write_cmd *wc)
{
    struct pay_cmd *c = (struct pay_cmd *)wc;
    static const char *const gone[] = {[PAYMENT_LINK_PAYABLE] = "payable", [PAYMENT_LINK_COMPLETED] = "completed",
                                       [PAYMENT_LINK_EXPIRED] = "expired", [PAYMENT_LINK_UNPAYABLE] = "unpayable"};
    json_t *link = NULL, *payment = NULL;
    int rc = object_load_own(t, c->cmd.object_id, c->cmd.merchant_id, c->cmd.livemode, &link);
    if (rc == 0)
        payment = load(t, c->payment_id, &rc);
    if (rc) {
        json_decref(link);
        return write_cmd_fail(wc, rc == CS_ENOENT ? CS_ECORRUPT : rc);   /* links are never removed */
    }
    /* The single source of truth: the link as it is now, in the writer. */
    enum payment_link_state s = payment_link_state(link, payment, c->cmd.now_us);
    if (s != PAYMENT_LINK_PAYABLE) {
        json_decref(link);
        json_decref(payment);
        return reply_outcome(wc, 410, json_pack("{s:s}", "outcome", gone[s]));
    }
    json_t *risk = payments_risk_decide(t, c->cmd.merchant_id, c->cmd.livemode, &c->card, c->policy,
                                        json_integer_value(json_object_get(payment, "amount")), c->cmd.now_us);
    const char *ptype = NULL;
    json_t *pdata = NULL, *ldata = NULL;
    rc = risk ? payment_decide_pay(payment, &c->card, risk, c->cmd.now_us, &ptype, &pdata, &wc->diag) : CS_ENOMEM;
    json_decref(risk);
    if (rc == 0)
        rc = payment_price_capture(payment, pdata, &c->quote, &wc->diag);
    json_t *paid = json_object_get(pdata, "object");
    if (rc == 0 && strcmp(ptype, "payment.failed") == 0) {
        /* Not appended: the payment keeps waiting for a card. */
        rc = record_decline(t, c, link, payment, paid);
        json_decref(pdata);
        json_decref(link);
        json_decref(payment);
        return rc;
    }
    char *subject = NULL, *body = NULL;
    if (rc == 0)
        rc = payment_link_decide_complete(link, c->cmd.now_us, &ldata, &wc->diag);
    if (rc == 0)
        rc = payment_link_receipt_email(link, paid, c->merchant_name, &subject, &body);
    if (rc == 0)
        rc = object_append(t, &c->cmd, ptype, pdata);
    if (rc == 0)
        rc = object_append(t, &c->cmd, "payment_link.completed", ldata);
    if (rc == 0)
        rc = mail_put(t, link, "receipt", subject, body, c->cmd.now_us);
    json_t *out = NULL;
    if (rc == 0) {
        json_t *card = json_object_get(paid, "card");
        out = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O?,s:O?}", "outcome", "paid", "payment", json_object_get(paid, "id"),
                        "status", json_object_get(paid, "status"), "amount", json_object_get(paid, "amount"),
                        "currency", json_object_get(paid, "currency"), "brand", json_object_get(card, "brand"),
                        "last4", json_object_get(card, "last4"));
    }
    free(subject);
    free(body);
    json_decref(pdata);
    json_decref(ldata);
    json_decref(link);
    json_decref(payment);
    if (rc)
        return write_cmd_fail(wc, rc);
    return reply_outcome(wc, 200, out);
}

/* Loop thread: the page of the writer's outcome. */
static void pay_done(struct write_cmd *wc)
{
    struct pay_cmd *c = (struct pay_cmd *)wc;
    struct req_ctx *rc = c->page;
    struct pay_view v;
    view_of(&c->p, rc->params[0], &v);
    int status = wc->status;
    json_t *out = wc->err ? NULL : json_loadb(wc->body, wc->body_len, 0, NULL);
    const char *outcome = sget(out, "outcome");
    if (!outcome) {
        status = wc->err ? cs_err_status(wc->diag.err ? wc->diag.err : wc->err) : 500;
        if (status < 500)
            status = 500;   /* the writer refuses nothing a shopper could fix */
        v.kind = PAY_PAGE_ERROR;
        v.error = "The payment could not be processed right now. Please try again in a moment.";
    } else if (strcmp(outcome, "paid") == 0) {
        v.kind = PAY_PAGE_PAID;
        v.amount = json_integer_value(json_object_get(out, "amount"));
        v.currency = sget(out, "currency");
        v.card_brand = sget(out, "brand");
        v.card_last4 = sget(out, "last4");
        v.payment_id = sget(out, "payment");
        v.authorized_only = !is(out, "status", "captured");
    } else if (strcmp(outcome, "declined") == 0) {
        v.kind = json_is_true(json_object_get(out, "closed")) ? PAY_PAGE_EXPIRED : PAY_PAGE_FORM;
        v.error = json_is_true(json_object_get(out, "closed"))
                      ? "Your card was declined, and too many attempts were made: this link is now closed."
                      : sget(out, "message");
        v.error_param = "card";
    } else {
        v.kind = strcmp(outcome, "completed") == 0 ? PAY_PAGE_COMPLETED
               : strcmp(outcome, "unpayable") == 0 ? PAY_PAGE_UNPAYABLE : PAY_PAGE_EXPIRED;
    }
    respond_page(rc, status, &v);
    json_decref(out);
    command_free(&c->cmd);
}

static int form_media_type(struct http_request *req)
{
    static const char form[] = "application/x-www-form-urlencoded";
    const char *ct = http_header(req, "content-type");
    size_t n = sizeof form - 1;
    return ct && strncasecmp(ct, form, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

void api_pay_submit(struct req_ctx *rc)
{
    struct pay_ctx p;
    if (pay_load(rc, &p) != 0)
        return;
    struct pay_view v;
    view_of(&p, rc->params[0], &v);
    enum payment_link_state s = payment_link_state(p.link, p.payment, p.now_us);
    if (s != PAYMENT_LINK_PAYABLE) {
        v.kind = gone_kind[s];
        respond_page(rc, gone_status[s], &v);
        pay_ctx_clear(&p);
        return;
    }
    /* The card: read from the form, checked, and forgotten. */
    struct pay_form form;
    struct card_facts card;
    json_t *cj = NULL;
    int err = !form_media_type(rc->req)
                  ? cs_fail(&rc->diag, CS_EMEDIATYPE, "", "send the form as application/x-www-form-urlencoded")
                  : pay_form_parse(rc->req->body, rc->req->body_len, &form, &rc->diag);
    if (err == 0 && !(cj = pay_form_card(&form, &rc->diag)))
        err = rc->diag.err;
    if (err == 0)
        err = card_read(cj, "card", p.now_us, rc->app->card_key, &card, &rc->diag);
    memset(&form, 0, sizeof form);
    json_decref(cj);
    if (err) {
        v.kind = PAY_PAGE_FORM;
        v.error = rc->diag.message;
        v.error_param = rc->diag.param;
        respond_page(rc, cs_err_status(err), &v);
        pay_ctx_clear(&p);
        return;
    }
    json_t *policy = payments_policy_decide(rc, p.payment, &card, p.now_us);
    struct fee_quote quote = {0};
    json_t *cfacts = policy ? card_facts_json(&card) : NULL;
    if (policy && payments_fee_quote(rc->app, p.merchant, rc->livemode, p.payment, cfacts,
                                     payment_capture_amount(p.payment, -1), &quote, &rc->diag) != 0) {
        json_decref(policy);
        policy = NULL;
    }
    json_decref(cfacts);
    if (!policy) {
        v.kind = PAY_PAGE_ERROR;
        v.error = "The payment could not be processed right now. Please try again later.";
        respond_page(rc, cs_err_status(rc->diag.err), &v);
        pay_ctx_clear(&p);
        return;
    }
    struct cs_diag d = {0};
    struct pay_cmd *c = command_new_cb(rc->app, sizeof *c, exec_pay, rc->merchant_id, rc->livemode, rc->actor, NULL, NULL);
    if (!c) {
        json_decref(policy);
        pay_ctx_clear(&p);
        respond_page_kind(rc, 500, PAY_PAGE_ERROR, NULL);
        return;
    }
    c->cmd.base.done = pay_done;
    c->cmd.free_extra = pay_cmd_free_extra;
    c->cmd.now_us = p.now_us;
    c->page = rc;
    c->card = card;
    c->policy = policy;
    c->quote = quote;
    c->p = p;
    snprintf(c->merchant_name, sizeof c->merchant_name, "%s", merchant_name_of(p.merchant));
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", sget(p.link, "id"));
    snprintf(c->payment_id, sizeof c->payment_id, "%s", sget(p.payment, "id"));
    if (command_submit_cb(rc->app, &c->cmd, &d) != 0) {   /* c is freed */
        respond_page_kind(rc, cs_err_status(d.err), PAY_PAGE_ERROR,
                          "The payment could not be processed right now. Please try again in a moment.");
        return;
    }
}
