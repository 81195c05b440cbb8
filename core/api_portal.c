/* The shopper's self-service API (seed 000's customer area), under
 * /v1/customer/…: a shopper asks for a one-time code sent to the e-mail of
 * their purchases, exchanges it for a 30-minute session, then lists their
 * purchases and plans, pays a plan off early, or changes the card.
 *
 * Codes and tokens never reach the log: events keep an HMAC of the code
 * (keyed by the installation's otp.key, so a reader of the log cannot try
 * the million codes) and the SHA-256 of the token. A code is valid 10
 * minutes, for 5 attempts; a new one can be asked once a minute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <mbedtls/md.h>
#include "core/router.h"
#include "core/portal.h"
#include "core/writer.h"
#include "core/scheduler.h"
#include "core/notify.h"
#include "core/orders.h"
#include "core/cards.h"
#include "core/json_in.h"
#include "core/crypto.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/list_page.h"

#define OTP_TTL_US        (10LL * 60 * 1000000)
#define OTP_RESEND_US     (60LL * 1000000)
#define OTP_ATTEMPTS_MAX  5
#define SESSION_TTL_US    (30LL * 60 * 1000000)
#define CARD_CHECK_MINOR  100       /* the 1.00 validation charge, refunded at once */

static void code_hmac(const uint8_t key[32], const char *challenge_id, const char *code, char out[65])
{
    char msg[96];
    int n = snprintf(msg, sizeof msg, "%s:%s", challenge_id, code);
    uint8_t mac[32];
    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, 32, (const unsigned char *)msg, (size_t)n, mac);
    crypto_hex(mac, 32, out);
}

/* ---- a command of the portal ----------------------------------------------------------- */

enum portal_kind { P_OTP, P_SESSION, P_PAYOFF, P_CARD };

struct portal_cmd {
    struct write_cmd base;
    struct req_ctx *rc;
    enum portal_kind kind;
    char merchant_id[CS_ID_BYTES_MAX];
    int livemode;
    char customer_id[CS_ID_BYTES_MAX];
    char order_id[CS_ID_BYTES_MAX];
    char challenge_id[CS_ID_BYTES_MAX];
    char actor[64];
    int64_t now_us;
    char text[160];            /* OTP: the code (e-mailed, never logged); session: the token */
    char hmac[65];             /* OTP: code hmac; session: token sha256 */
    json_t *data;              /* card facts */
    int64_t early_fee;         /* payoff: decided by plans.early_repayment_fee */
};

static int append(struct store_txn *t, struct portal_cmd *c, const char *aggregate, const char *type,
                  uint64_t expected, json_t *data)
{
    char evt[CS_ID_BYTES_MAX];
    if (id_new("evt", c->now_us, evt, sizeof evt) != 0)
        return CS_EINTERNAL;
    struct event_in ev = {.id = evt, .type = type, .aggregate_id = aggregate, .expected_version = expected,
                          .merchant_id = c->merchant_id, .livemode = c->livemode, .actor = c->actor,
                          .time_us = c->now_us, .data = data};
    int rc = store_event_append(t, &ev, NULL);
    if (rc == 0)
        c->base.events++;
    return rc;
}

static json_t *load_json(struct store_txn *t, const char *key)
{
    MDB_val v;
    if (store_portal_get(t, key, &v) != 0)
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}

static int exec_otp(struct store_txn *t, struct portal_cmd *c)
{
    char key[96];
    snprintf(key, sizeof key, "last:%s", c->customer_id);
    MDB_val v;
    if (store_portal_get(t, key, &v) == 0 && v.mv_size == 8) {
        int64_t last = 0;
        for (int i = 0; i < 8; i++)
            last = last << 8 | ((const uint8_t *)v.mv_data)[i];
        if (c->now_us - last < OTP_RESEND_US) {
            cs_fail(&c->base.diag, CS_ERATE, "", "a code was sent less than a minute ago; wait before asking again");
            return write_cmd_fail(&c->base, CS_ERATE);
        }
    }
    json_t *data = json_pack("{s:{s:s,s:s,s:I}}", "challenge", "id", c->challenge_id, "code_hmac", c->hmac,
                             "expires_us", (json_int_t)(c->now_us + OTP_TTL_US));
    int rc = append(t, c, c->customer_id, "customer.otp_requested", STORE_VERSION_ANY, data);
    json_decref(data);
    if (rc)
        return write_cmd_fail(&c->base, rc);
    /* The code goes by e-mail only: the outbox, never the log. */
    MDB_val cv;
    json_t *cust = store_customer_get(t, c->customer_id, &cv) == 0 ? json_loadb(cv.mv_data, cv.mv_size, 0, NULL) : NULL;
    const char *to = json_string_value(json_object_get(cust, "email"));
    if (to) {
        char body[256], mkey[128];
        snprintf(body, sizeof body, "Your code: %s\n\nIt is valid for 10 minutes. If you did not ask for it, ignore this e-mail.\n", c->text);
        snprintf(mkey, sizeof mkey, "%016llx-%s-otp", (unsigned long long)c->now_us, c->challenge_id);
        char *msg = notify_render(to, "Your one-time code", body, mkey, c->now_us);
        rc = msg ? store_mail_put(t, mkey, msg, strlen(msg)) : CS_ENOMEM;
        free(msg);
    }
    json_decref(cust);
    memset(c->text, 0, sizeof c->text);
    if (rc)
        return write_cmd_fail(&c->base, rc);
    char out[128];
    int n = snprintf(out, sizeof out, "{\"object\":\"otp_challenge\",\"id\":\"%s\"}", c->challenge_id);
    return write_cmd_reply(&c->base, 202, out, (size_t)n);
}

/* Checks the challenge in the write transaction (a concurrent attempt may
 * have used or locked it); records a failed attempt, or starts a session. */
static int exec_verify(struct store_txn *t, struct portal_cmd *c)
{
    char key[96];
    snprintf(key, sizeof key, "chl:%s", c->challenge_id);
    json_t *chl = load_json(t, key);
    const char *status = json_string_value(json_object_get(chl, "status"));
    const char *want = json_string_value(json_object_get(chl, "code_hmac"));
    int64_t expires = json_integer_value(json_object_get(chl, "expires_us"));
    int rc = 0;
    if (!chl || !status || !want) {
        cs_fail(&c->base.diag, CS_ECODE, "code", "the code is not valid");
        rc = CS_ECODE;
    } else if (strcmp(status, "open") != 0 || c->now_us > expires) {
        cs_fail(&c->base.diag, CS_ECODE, "code", strcmp(status, "locked") == 0
                ? "too many wrong codes: ask for a new one" : "the code has expired or was used: ask for a new one");
        rc = CS_ECODE;
    } else if (!crypto_equal(want, c->hmac, 64)) {
        snprintf(c->customer_id, sizeof c->customer_id, "%s", json_string_value(json_object_get(chl, "customer")));
        snprintf(c->merchant_id, sizeof c->merchant_id, "%s", json_string_value(json_object_get(chl, "merchant")));
        c->livemode = json_is_true(json_object_get(chl, "livemode"));
        json_t *data = json_pack("{s:s,s:I}", "challenge_id", c->challenge_id, "attempts",
                                 json_integer_value(json_object_get(chl, "attempts")) + 1);
        rc = append(t, c, c->customer_id, "customer.otp_failed", STORE_VERSION_ANY, data);
        json_decref(data);
        if (rc == 0) {
            /* recorded, and refused: a failed guess counts even though this "fails" */
            json_decref(chl);
            cs_fail(&c->base.diag, CS_ECODE, "code", "the code is not valid");
            c->base.err = CS_ECODE;
            c->base.status = 401;
            return 0;
        }
    } else {
        snprintf(c->customer_id, sizeof c->customer_id, "%s", json_string_value(json_object_get(chl, "customer")));
        snprintf(c->merchant_id, sizeof c->merchant_id, "%s", json_string_value(json_object_get(chl, "merchant")));
        c->livemode = json_is_true(json_object_get(chl, "livemode"));
        char token[64], sha[65];
        if (api_key_new(0, token, sizeof token) != 0) {
            json_decref(chl);
            return write_cmd_fail(&c->base, CS_EINTERNAL);
        }
        memcpy(token, "cst_", 4);   /* sk_test_ + 32 -> cst_ + 32 base62 */
        memmove(token + 4, token + 8, strlen(token + 8) + 1);
        crypto_sha256_hex(token, strlen(token), sha);
        json_t *data = json_pack("{s:s,s:s,s:I}", "challenge_id", c->challenge_id, "token_sha256", sha,
                                 "expires_us", (json_int_t)(c->now_us + SESSION_TTL_US));
        rc = append(t, c, c->customer_id, "customer.session_started", STORE_VERSION_ANY, data);
        json_decref(data);
        if (rc == 0) {
            char at[40], out[256];
            clock_format_rfc3339(c->now_us + SESSION_TTL_US, at, sizeof at);
            int n = snprintf(out, sizeof out, "{\"object\":\"customer_session\",\"token\":\"%s\",\"customer\":\"%s\",\"expires_at\":\"%s\"}",
                             token, c->customer_id, at);
            json_decref(chl);
            return write_cmd_reply(&c->base, 201, out, (size_t)n);
        }
    }
    json_decref(chl);
    return write_cmd_fail(&c->base, rc);
}

/* Confirmed, and not finished: instalments are still to be charged. */
static int plan_running(json_t *doc)
{
    const char *st = json_string_value(json_object_get(doc, "status"));
    return st && (strcmp(st, "confirmed") == 0 || strcmp(st, "partially_shipped") == 0 || strcmp(st, "shipped") == 0);
}

/* The order, if it is this shopper's. */
static json_t *own_order(struct store_txn *t, struct portal_cmd *c)
{
    MDB_val v;
    if (store_order_get(t, c->order_id, &v) != 0)
        return NULL;
    json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    const char *cid = json_string_value(json_object_get(o, "customer_id"));
    if (!cid || strcmp(cid, c->customer_id) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int exec_order_op(struct store_txn *t, struct portal_cmd *c)
{
    json_t *doc = own_order(t, c);
    if (!doc) {
        cs_fail(&c->base.diag, CS_ENOTFOUND, "id", "no such purchase: %s", c->order_id);
        return write_cmd_fail(&c->base, CS_ENOTFOUND);
    }
    uint64_t version = (uint64_t)json_integer_value(json_object_get(doc, "version"));
    json_t *data = NULL;
    const char *type;
    int rc;
    if (c->kind == P_PAYOFF) {
        type = "order.paid_off";
        rc = order_decide_payoff(doc, c->now_us, c->early_fee, &data, &c->base.diag);
    } else if (!plan_running(doc)) {
        rc = cs_fail(&c->base.diag, CS_ESTATE, "", "a %s purchase has no plan left to pay: its card cannot change",
                     json_string_value(json_object_get(doc, "status")));
    } else {
        type = "order.card_changed";
        data = json_pack("{s:O,s:{s:i,s:s}}", "card", c->data, "validation", "amount", CARD_CHECK_MINOR,
                         "status", "refunded");
        rc = data ? 0 : CS_ENOMEM;
    }
    json_decref(doc);
    if (rc == 0)
        rc = append(t, c, c->order_id, type, version, data);
    if (rc == 0)
        rc = notify_order_event(t, type, c->order_id, c->now_us);
    json_decref(data);
    if (rc)
        return write_cmd_fail(&c->base, rc);
    MDB_val v;
    if ((rc = store_order_get(t, c->order_id, &v)) != 0)
        return write_cmd_fail(&c->base, rc);
    return write_cmd_reply(&c->base, 200, v.mv_data, v.mv_size);
}

static int exec_portal(struct store_txn *t, struct write_cmd *wc)
{
    struct portal_cmd *c = (struct portal_cmd *)wc;
    switch (c->kind) {
    case P_OTP: return exec_otp(t, c);
    case P_SESSION: return exec_verify(t, c);
    default: return exec_order_op(t, c);
    }
}

static void portal_done(struct write_cmd *wc)
{
    struct portal_cmd *c = (struct portal_cmd *)wc;
    if (wc->err) {
        c->rc->diag = wc->diag;
        respond_error(c->rc);
    } else {
        respond_json_text(c->rc, wc->status, wc->body, wc->body_len);
    }
    json_decref(c->data);
    free(wc->body);
    free(c);
}

static struct portal_cmd *portal_cmd_new(struct req_ctx *rc, enum portal_kind kind)
{
    struct portal_cmd *c = calloc(1, sizeof *c);
    if (!c) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return NULL;
    }
    c->base.exec = exec_portal;
    c->base.done = portal_done;
    c->rc = rc;
    c->kind = kind;
    return c;
}

static void submit(struct req_ctx *rc, struct portal_cmd *c)
{
    int err = writer_submit(rc->app->writer, &c->base);
    if (err) {
        json_decref(c->data);
        free(c);
        respond_fail(rc, err, "", "busy; retry");
    }
}

/* ---- sign-in ------------------------------------------------------------------------ */

struct by_email {
    const char *email;
    char id[CS_ID_BYTES_MAX];
};

static int email_visit(void *ctx, const char *customer_id, const MDB_val *doc)
{
    struct by_email *b = ctx;
    json_t *o = json_loadb(doc->mv_data, doc->mv_size, 0, NULL);
    const char *e = json_string_value(json_object_get(o, "email"));
    int hit = e && strcasecmp(e, b->email) == 0;
    json_decref(o);
    if (hit)
        snprintf(b->id, sizeof b->id, "%s", customer_id);
    return hit;
}

void api_portal_otp(struct req_ctx *rc)
{
    static const char *const keys[] = {"merchant", "livemode", "email", NULL};
    json_t *body = NULL;
    const char *merchant = NULL, *email = NULL;
    int livemode = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "merchant", 1, 1, CS_ID_BYTES_MAX - 1, &merchant, &rc->diag) ||
        jin_string(body, "", "email", 1, 3, 254, &email, &rc->diag) ||
        jin_bool(body, "", "livemode", 0, &livemode, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (!id_valid(merchant, "mer")) {
        json_decref(body);
        respond_fail(rc, CS_EPARAM, "merchant", "merchant must be a merchant id (mer_…)");
        return;
    }
    struct by_email b = {.email = email};
    struct store_txn t;
    if (store_read_begin(rc->app->store, &t) == 0) {
        store_customers_each(&t, merchant, livemode, NULL, email_visit, &b);
        store_abort(&t);
    }
    struct portal_cmd *c = portal_cmd_new(rc, P_OTP);
    if (!c) {
        json_decref(body);
        return;
    }
    snprintf(c->merchant_id, sizeof c->merchant_id, "%s", merchant);
    c->livemode = livemode;
    c->now_us = merchant_now_us(rc->app, merchant, livemode);
    json_decref(body);
    if (id_new("chl", c->now_us, c->challenge_id, sizeof c->challenge_id) != 0) {
        free(c);
        respond_fail(rc, CS_EINTERNAL, "", "could not make an id");
        return;
    }
    if (!b.id[0]) {
        /* No such shopper: the same answer, and nothing sent or recorded, so
         * the endpoint does not tell who buys where. */
        char out[128];
        int n = snprintf(out, sizeof out, "{\"object\":\"otp_challenge\",\"id\":\"%s\"}", c->challenge_id);
        free(c);
        respond_json_text(rc, 202, out, (size_t)n);
        return;
    }
    snprintf(c->customer_id, sizeof c->customer_id, "%s", b.id);
    snprintf(c->actor, sizeof c->actor, "shopper:%s", b.id);
    uint32_t r;
    crypto_random(&r, sizeof r);
    snprintf(c->text, sizeof c->text, "%06u", r % 1000000u);
    code_hmac(rc->app->otp_key, c->challenge_id, c->text, c->hmac);
    submit(rc, c);
}

void api_portal_session(struct req_ctx *rc)
{
    static const char *const keys[] = {"challenge_id", "code", NULL};
    json_t *body = NULL;
    const char *chl = NULL, *code = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "challenge_id", 1, 1, CS_ID_BYTES_MAX - 1, &chl, &rc->diag) ||
        jin_string(body, "", "code", 1, 1, 16, &code, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (!id_valid(chl, "chl")) {
        json_decref(body);
        respond_fail(rc, CS_ECODE, "code", "the code is not valid");
        return;
    }
    struct portal_cmd *c = portal_cmd_new(rc, P_SESSION);
    if (!c) {
        json_decref(body);
        return;
    }
    snprintf(c->challenge_id, sizeof c->challenge_id, "%s", chl);
    code_hmac(rc->app->otp_key, chl, code, c->hmac);
    json_decref(body);
    /* The challenge's merchant clock decides expiry: read it first. */
    char key[96];
    snprintf(key, sizeof key, "chl:%s", c->challenge_id);   /* chl went with the body */
    struct store_txn t;
    MDB_val v;
    json_t *o = NULL;
    if (store_read_begin(rc->app->store, &t) == 0) {
        if (store_portal_get(&t, key, &v) == 0)
            o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        store_abort(&t);
    }
    const char *mer = json_string_value(json_object_get(o, "merchant"));
    int live = json_is_true(json_object_get(o, "livemode"));
    c->now_us = mer ? merchant_now_us(rc->app, mer, live) : 0;
    snprintf(c->actor, sizeof c->actor, "shopper:%s", o ? json_string_value(json_object_get(o, "customer")) : "unknown");
    json_decref(o);
    submit(rc, c);
}

int portal_authenticate(struct req_ctx *rc, const char *token)
{
    if (!token || strncmp(token, "cst_", 4) != 0)
        return cs_fail(&rc->diag, CS_EAUTH, "", "no session: send Authorization: Bearer cst_… from POST /v1/customer/sessions");
    char sha[65], key[96];
    crypto_sha256_hex(token, strlen(token), sha);
    snprintf(key, sizeof key, "ses:%s", sha);
    struct store_txn t;
    MDB_val v;
    json_t *o = NULL;
    if (store_read_begin(rc->app->store, &t) == 0) {
        if (store_portal_get(&t, key, &v) == 0)
            o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        store_abort(&t);
    }
    const char *cid = json_string_value(json_object_get(o, "customer"));
    const char *mer = json_string_value(json_object_get(o, "merchant"));
    if (!cid || !mer) {
        json_decref(o);
        return cs_fail(&rc->diag, CS_EAUTH, "", "the session is not valid");
    }
    snprintf(rc->customer_id, sizeof rc->customer_id, "%s", cid);
    snprintf(rc->merchant_id, sizeof rc->merchant_id, "%s", mer);
    rc->livemode = json_is_true(json_object_get(o, "livemode"));
    int64_t expires = json_integer_value(json_object_get(o, "expires_us"));
    json_decref(o);
    if (merchant_now_us(rc->app, rc->merchant_id, rc->livemode) > expires)
        return cs_fail(&rc->diag, CS_EAUTH, "", "the session has expired: sign in again");
    snprintf(rc->actor, sizeof rc->actor, "shopper:%s", rc->customer_id);
    return 0;
}

/* ---- the shopper's purchases -------------------------------------------------------------- */

void api_portal_orders(struct req_ctx *rc)
{
    struct store_txn t;
    int err = store_read_begin(rc->app->store, &t);
    if (err) {
        respond_fail(rc, err, "", "the store could not be read");
        return;
    }
    MDB_val v;
    json_t *cust = store_customer_get(&t, rc->customer_id, &v) == 0 ? json_loadb(v.mv_data, v.mv_size, 0, NULL) : NULL;
    struct list_page page;
    json_t *ids = json_object_get(cust, "orders");
    list_page_init(&page, (unsigned)json_array_size(ids));
    for (size_t i = json_array_size(ids); i-- > 0;) {   /* newest first */
        const char *oid = json_string_value(json_array_get(ids, i));
        if (oid && store_order_get(&t, oid, &v) == 0)
            list_page_add(&page, v.mv_data, v.mv_size, oid);
    }
    store_abort(&t);
    json_decref(cust);
    list_page_respond(&page, rc);
}

static struct portal_cmd *order_op(struct req_ctx *rc, enum portal_kind kind)
{
    if (!id_valid(rc->params[0], "ord")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such purchase: %s", rc->params[0]);
        return NULL;
    }
    struct portal_cmd *c = portal_cmd_new(rc, kind);
    if (!c)
        return NULL;
    snprintf(c->order_id, sizeof c->order_id, "%s", rc->params[0]);
    snprintf(c->merchant_id, sizeof c->merchant_id, "%s", rc->merchant_id);
    snprintf(c->customer_id, sizeof c->customer_id, "%s", rc->customer_id);
    snprintf(c->actor, sizeof c->actor, "%s", rc->actor);
    c->livemode = rc->livemode;
    c->now_us = merchant_now_us(rc->app, rc->merchant_id, rc->livemode);
    return c;
}

void api_portal_payoff(struct req_ctx *rc)
{
    static const char *const keys[] = {NULL};
    json_t *body = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    struct portal_cmd *c = order_op(rc, P_PAYOFF);
    if (!c)
        return;
    /* The policy runs here, on the loop thread; its decision travels in the
     * command and is recorded in the event. */
    struct store_txn t;
    MDB_val v;
    json_t *o = NULL, *mer = req_merchant(rc);
    if (store_read_begin(rc->app->store, &t) == 0) {
        if (store_order_get(&t, c->order_id, &v) == 0)
            o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        store_abort(&t);
    }
    int64_t remaining = 0;
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(json_object_get(o, "plan"), "schedule"), i, inst) {
        const char *st = json_string_value(json_object_get(inst, "status"));
        if (!st || (strcmp(st, "paid") != 0 && strcmp(st, "cancelled") != 0))
            remaining += json_integer_value(json_object_get(inst, "amount"));
    }
    char today[11];
    clock_format_date(c->now_us, today, sizeof today);
    json_t *in = json_pack("{s:O?,s:O?,s:I,s:s,s:{s:s}}", "country", json_object_get(mer, "country"), "currency",
                           json_object_get(o, "currency"), "amount", (json_int_t)remaining, "date", today,
                           "merchant", "id", rc->merchant_id);
    json_decref(o);
    json_t *out = NULL;
    int err = in ? policy_call(rc->app->policy, "plans.early_repayment_fee", in, &out, &rc->diag) : CS_ENOMEM;
    json_decref(in);
    json_t *fee = json_object_get(out, "fee");
    if (!err && (!json_is_integer(fee) || json_integer_value(fee) < 0))
        err = cs_fail(&rc->diag, CS_EPOLICYFAIL, "", "plans.early_repayment_fee returned no non-negative integer fee");
    if (!err)
        c->early_fee = json_integer_value(fee);
    json_decref(out);
    if (err) {
        if (err == CS_ENOTFOUND)
            cs_fail(&rc->diag, CS_EPOLICYFAIL, "", "no plans.early_repayment_fee policy is defined");
        free(c);
        respond_error(rc);
        return;
    }
    submit(rc, c);
}

void api_portal_card(struct req_ctx *rc)
{
    static const char *const keys[] = {"card", NULL};
    json_t *body = NULL;
    struct card_facts card;
    int64_t now = merchant_now_us(rc->app, rc->merchant_id, rc->livemode);
    int err = jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag);
    if (!err)
        err = jin_object(body, "", keys, &rc->diag);
    json_t *in = err ? NULL : json_object_get(body, "card");
    if (!err && !in)
        err = cs_fail(&rc->diag, CS_EMISSING, "card", "card is required");
    if (!err)
        err = card_read(in, "card", now, rc->app->card_key, &card, &rc->diag);
    if (err) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    /* The new card is checked with a 1.00 charge, refunded at once. */
    struct acq_result r;
    acquirer_authorize(&card, CARD_CHECK_MINOR, 0, &r);
    if (r.outcome != ACQ_APPROVED) {
        respond_fail(rc, CS_ECARD, "card", "the card was declined (%s): %s", r.code, r.message);
        return;
    }
    struct portal_cmd *c = order_op(rc, P_CARD);
    if (!c)
        return;
    c->data = card_facts_json(&card);
    submit(rc, c);
}
