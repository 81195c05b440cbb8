/* HTTP handlers of /v1/disputes and /v1/test/disputes, and the dispute jobs:
 * validate and price (fees.compute) on the loop thread; store evidence files
 * on libuv's thread pool before the event that references them; decide and
 * append in the writer (core/disputes.h). docs/disputes.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/doc.h"
#include "core/router.h"
#include "core/disputes.h"
#include "core/api_disputes.h"
#include "core/evidence.h"
#include "core/multipart.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/list_page.h"
#include "core/crypto.h"
#include "core/ids.h"

struct upload {
    const char *data;            /* into the request body */
    size_t len;
    char filename[EVIDENCE_FILENAME_BYTES_MAX + 1];
    const char *content_type;    /* judged by content (evidence_type) */
    char sha256[65];             /* set on the thread pool */
};

struct dispute_cmd {
    struct command cmd;          /* cmd.object_id: the dispute */
    /* opening (cmd.params: {payment, reason, amount, contestable}) */
    int64_t priced_amount;       /* the disputable amount fees.compute priced when no amount was given */
    int64_t fee, vat;
    /* evidence */
    struct upload uploads[DISPUTE_FILES_MAX];
    size_t nuploads;
    char *text;                  /* NULL: unchanged */
    int submit;
    int files_stored;            /* the uploads are durable in the evidence store */
    uv_work_t work;
    struct cs_diag io;
    /* resolve */
    char outcome[8];
};

static void dispute_cmd_free_extra(struct command *cmd)
{
    struct dispute_cmd *c = (struct dispute_cmd *)cmd;
    free(c->text);
}

static struct dispute_cmd *dispute_cmd_new(struct req_ctx *rc, write_exec_fn exec)
{
    struct dispute_cmd *c = command_new(rc, sizeof *c, exec);
    if (c)
        c->cmd.free_extra = dispute_cmd_free_extra;
    return c;
}

static int test_mode_only(struct req_ctx *rc)
{
    if (!rc->livemode)
        return 0;
    respond_fail(rc, CS_EFORBIDDEN, "", "the test API exists only in test mode: use a sk_test_ key (in live mode "
                 "disputes come from the card schemes)");
    return -1;
}

/* The path's dispute id, checked before any work. */
static int path_dispute_id(struct req_ctx *rc)
{
    if (id_valid(rc->params[0], "dp"))
        return 0;
    respond_fail(rc, CS_ENOTFOUND, "id", "no such dispute: %s", rc->params[0]);
    return -1;
}

/* fees.compute for a dispute of `amount` (loop thread only: Lua). */
static int price_dispute(struct app *app, json_t *merchant, int livemode, int64_t amount, const char *currency,
                         int64_t *fee, int64_t *vat, struct cs_diag *d)
{
    json_t *input = json_pack("{s:s,s:I,s:s,s:{s:O,s:O},s:b}", "kind", "dispute", "amount", (json_int_t)amount,
                              "currency", currency, "merchant", "id", json_object_get(merchant, "id"), "country",
                              json_object_get(merchant, "country"), "livemode", livemode);
    json_t *out = NULL;
    int err = input ? policy_call(app->policy, "fees.compute", input, &out, d)
                    : cs_fail(d, CS_ENOMEM, "", "out of memory");
    json_decref(input);
    if (err == 0)
        err = dispute_fees_read(out, fee, vat, d);
    json_decref(out);
    return err;
}

/* The merchant's available balance in the payment's currency, on the
 * merchant's clock (now_us), before a dispute takes its debit. */
static int available_before(struct store_txn *t, json_t *payment, int64_t now_us, int64_t *available)
{
    int64_t pending = 0;
    *available = 0;
    const char *currency = json_string_value(json_object_get(payment, "currency"));
    const char *merchant = json_string_value(json_object_get(payment, "merchant"));
    return currency && merchant ? store_ledger_balance(t, merchant, json_is_true(json_object_get(payment, "livemode")),
                                                       currency, now_us, available, &pending)
                                : 0;
}

/* ---- POST /v1/test/disputes: the simulated scheme opens a dispute ---------------------------- */

static int exec_open(struct store_txn *t, struct write_cmd *wc)
{
    struct dispute_cmd *c = (struct dispute_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *p = c->cmd.params, *payment = NULL;
    const char *pid = json_string_value(json_object_get(p, "payment"));
    int rc = object_load_own(t, pid, c->cmd.merchant_id, c->cmd.livemode, &payment);
    if (rc == CS_ENOENT) {
        cs_fail(&wc->diag, CS_ENOTFOUND, "payment", "no such payment: %s", pid);
        return write_cmd_fail(wc, CS_ENOTFOUND);
    }
    if (rc)
        return write_cmd_fail(wc, rc);
    struct dispute_opening o = {.id = c->cmd.object_id, .reason = json_string_value(json_object_get(p, "reason")),
                                .amount = json_integer_value(json_object_get(p, "amount")),
                                .contestable = json_is_true(json_object_get(p, "contestable")),
                                .fee = c->fee, .vat = c->vat, .opened_via = "test_api"};
    rc = available_before(t, payment, c->cmd.now_us, &o.available);
    if (rc) {
        json_decref(payment);
        return write_cmd_fail(wc, rc);
    }
    int64_t disputable = 0;
    if (o.amount == 0) {
        o.amount = -1;
        /* The fee was priced for the amount read on the loop thread. */
        if (dispute_disputable(payment, c->cmd.now_us, &disputable, &wc->diag) == 0 &&
            disputable != c->priced_amount) {
            json_decref(payment);
            cs_fail(&wc->diag, CS_ECONFLICT, "payment", "payment %s changed while the dispute was being opened: retry",
                    pid);
            return write_cmd_fail(wc, CS_ECONFLICT);
        }
    }
    const char *type = NULL;
    json_t *data = NULL;
    rc = dispute_decide_open(payment, &o, c->cmd.now_us, &type, &data, &wc->diag);
    json_decref(payment);
    if (rc == 0)
        rc = object_append(t, &c->cmd, type, data);
    json_decref(data);
    return object_done(t, &c->cmd, rc, 201);
}

void api_test_disputes_create(struct req_ctx *rc)
{
    static const char *const keys[] = {"payment", "reason", "amount", "contestable", NULL};
    if (test_mode_only(rc))
        return;
    json_t *body = NULL, *payment = NULL, *merchant = req_merchant(rc);
    const char *pid = NULL, *reason = "fraudulent";
    int64_t amount = 0;
    int contestable = 1;
    if (!merchant) {
        respond_fail(rc, CS_EINTERNAL, "", "the merchant could not be read");
        return;
    }
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_string(body, "", "payment", 1, 1, CS_ID_BYTES_MAX - 1, &pid, &rc->diag) ||
        jin_string(body, "", "reason", 0, 1, 32, &reason, &rc->diag) ||
        jin_int(body, "", "amount", 0, 1, CS_AMOUNT_MINOR_MAX, &amount, &rc->diag) ||
        jin_bool(body, "", "contestable", 0, &contestable, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    if (!doc_one_of(reason, dispute_reasons)) {
        json_decref(body);
        respond_fail(rc, CS_EPARAM, "reason", "reason must be one of fraudulent, product_not_received, "
                     "product_unacceptable, duplicate, unrecognized, credit_not_processed, subscription_canceled, "
                     "other");
        return;
    }
    if (!id_valid(pid, "pay")) {
        respond_fail(rc, CS_EPARAM, "payment", "payment must be a payment id (pay_…), not %.60s", pid);
        json_decref(body);
        return;
    }
    /* Read now to refuse early and to price the dispute; the writer decides
     * again on what it holds. */
    int err = object_fetch(rc, pid, "payment", "payment", &payment);
    if (err) {
        json_decref(body);
        return;
    }
    struct dispute_cmd *c = dispute_cmd_new(rc, exec_open);
    if (!c) {
        json_decref(body);
        json_decref(payment);
        return;
    }
    int64_t disputable = 0;
    err = dispute_disputable(payment, c->cmd.now_us, &disputable, &rc->diag);
    if (!err && amount > disputable)
        err = cs_fail(&rc->diag, CS_EAMOUNT, "amount", "amount must be between 1 and %lld, what payment %s has "
                      "captured and not refunded", (long long)disputable, pid);
    if (!err)
        err = price_dispute(rc->app, merchant, rc->livemode, amount ? amount : disputable,
                            json_string_value(json_object_get(payment, "currency")), &c->fee, &c->vat, &rc->diag);
    json_decref(payment);
    if (err) {
        json_decref(body);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    c->priced_amount = disputable;
    c->cmd.params = json_pack("{s:s,s:s,s:I,s:b}", "payment", pid, "reason", reason, "amount", (json_int_t)amount,
                              "contestable", contestable);
    json_decref(body);
    if (!c->cmd.params || id_new("dp", c->cmd.now_us, c->cmd.object_id, sizeof c->cmd.object_id) != 0) {
        command_free(&c->cmd);
        respond_fail(rc, CS_EINTERNAL, "", "could not make the dispute");
        return;
    }
    command_submit(&c->cmd);
}

/* ---- changes of a dispute --------------------------------------------------------------------- */

static int change_submit(struct command *cmd, json_t *doc, const char **type, json_t **data)
{
    struct dispute_cmd *c = (struct dispute_cmd *)cmd;
    return dispute_decide_submit(doc, c->cmd.now_us, type, data, &c->cmd.base.diag);
}
static int exec_submit(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "dispute", change_submit);
}

static int change_accept(struct command *cmd, json_t *doc, const char **type, json_t **data)
{
    struct dispute_cmd *c = (struct dispute_cmd *)cmd;
    return dispute_decide_accept(doc, c->cmd.now_us, type, data, &c->cmd.base.diag);
}
static int exec_accept(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "dispute", change_accept);
}

static int change_resolve(struct command *cmd, json_t *doc, const char **type, json_t **data)
{
    struct dispute_cmd *c = (struct dispute_cmd *)cmd;
    return dispute_decide_resolve(doc, c->outcome, c->cmd.now_us, type, data, &c->cmd.base.diag);
}
static int exec_resolve(struct store_txn *t, struct write_cmd *wc)
{
    return object_exec_change(t, (struct command *)wc, "dispute", change_resolve);
}

/* A change whose JSON body has no fields (or only `keys`). */
static struct dispute_cmd *change_new(struct req_ctx *rc, write_exec_fn exec, const char *const *keys, json_t **body)
{
    static const char *const none[] = {NULL};
    *body = NULL;
    if (jin_parse(rc->req->body, rc->req->body_len, body, &rc->diag) ||
        jin_object(*body, "", keys ? keys : none, &rc->diag)) {
        json_decref(*body);
        *body = NULL;
        respond_error(rc);
        return NULL;
    }
    if (path_dispute_id(rc)) {
        json_decref(*body);
        *body = NULL;
        return NULL;
    }
    struct dispute_cmd *c = dispute_cmd_new(rc, exec);
    if (!c) {
        json_decref(*body);
        *body = NULL;
        return NULL;
    }
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    return c;
}

void api_disputes_submit(struct req_ctx *rc)
{
    json_t *body;
    struct dispute_cmd *c = change_new(rc, exec_submit, NULL, &body);
    if (!c)
        return;
    json_decref(body);
    command_submit(&c->cmd);
}

void api_disputes_accept(struct req_ctx *rc)
{
    json_t *body;
    struct dispute_cmd *c = change_new(rc, exec_accept, NULL, &body);
    if (!c)
        return;
    json_decref(body);
    command_submit(&c->cmd);
}

void api_test_disputes_resolve(struct req_ctx *rc)
{
    static const char *const keys[] = {"outcome", NULL};
    if (test_mode_only(rc))
        return;
    json_t *body;
    struct dispute_cmd *c = change_new(rc, exec_resolve, keys, &body);
    if (!c)
        return;
    const char *outcome = NULL;
    if (jin_string(body, "", "outcome", 1, 1, 8, &outcome, &rc->diag) ||
        (strcmp(outcome, "won") != 0 && strcmp(outcome, "lost") != 0 &&
         cs_fail(&rc->diag, CS_EPARAM, "outcome", "outcome must be won or lost"))) {
        json_decref(body);
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    snprintf(c->outcome, sizeof c->outcome, "%s", outcome);
    json_decref(body);
    command_submit(&c->cmd);
}

/* ---- reads ---------------------------------------------------------------------------------- */

void api_disputes_get(struct req_ctx *rc)
{
    object_get_handler(rc, "dp", "dispute");
}

void api_disputes_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "starting_after", "status", "payment", NULL};
    static const char *const filters[] = {"status", "payment", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *status = query_param(rc, "status"), *payment = query_param(rc, "payment");
    if (status && !doc_one_of(status, dispute_statuses)) {
        respond_fail(rc, CS_EPARAM, "status", "status must be one of open, sending, evidence_sent, under_review, won, "
                     "lost, accepted, expired, not_contestable");
        return;
    }
    if (payment && !id_valid(payment, "pay")) {
        respond_fail(rc, CS_EPARAM, "payment", "payment must be a payment id (pay_…)");
        return;
    }
    object_list_respond(rc, "dispute", "dp", "dispute", filters);
}

/* GET /v1/disputes/{id}/evidence/{sha256}: a stored file, as uploaded. */
void api_disputes_evidence_file(struct req_ctx *rc)
{
    if (path_dispute_id(rc))
        return;
    const char *sha = rc->params[1];
    if (!evidence_sha256_valid(sha)) {
        respond_fail(rc, CS_ENOTFOUND, "sha256", "no such evidence file: %s", sha);
        return;
    }
    json_t *doc = NULL;
    int err = object_fetch(rc, rc->params[0], "id", "dispute", &doc);
    if (err)
        return;
    json_t *entry = NULL, *f;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(doc, "evidence"), "files"), i, f) {
        const char *s = json_string_value(json_object_get(f, "sha256"));
        if (s && strcmp(s, sha) == 0)
            entry = f;
    }
    if (!entry) {
        json_decref(doc);
        respond_fail(rc, CS_ENOTFOUND, "sha256", "dispute %s has no evidence file %s", rc->params[0], sha);
        return;
    }
    /* A small file (EVIDENCE_FILE_BYTES_MAX) read at once on the loop. */
    char *buf = NULL;
    size_t len = 0;
    err = evidence_get(rc->app->data_dir, sha, &buf, &len, &rc->diag);
    if (err) {
        json_decref(doc);
        /* The event referenced it: a missing file is damage, not a 404. */
        if (err == CS_ENOENT)
            rc->diag.err = CS_ECORRUPT;
        fprintf(stderr, "caisse: %s\n", rc->diag.message);
        respond_fail(rc, rc->diag.err, "", "the evidence file could not be read");
        return;
    }
    /* Content-Disposition (RFC 6266): an ASCII fallback and the UTF-8 name. */
    const char *name = json_string_value(json_object_get(entry, "filename"));
    char ascii[EVIDENCE_FILENAME_BYTES_MAX + 1], pct[3 * EVIDENCE_FILENAME_BYTES_MAX + 1], hdr[640];
    size_t a = 0, p = 0;
    for (const unsigned char *s = (const unsigned char *)(name ? name : "evidence"); *s; s++) {
        ascii[a++] = *s < 0x80 ? (char)*s : '_';
        int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                    (*s && strchr("._-", *s));
        p += (size_t)(plain ? snprintf(pct + p, sizeof pct - p, "%c", *s) : snprintf(pct + p, sizeof pct - p, "%%%02X", *s));
    }
    ascii[a] = 0;
    snprintf(hdr, sizeof hdr, "Content-Disposition: attachment; filename=\"%s\"; filename*=UTF-8''%s\r\n"
             "X-Content-Type-Options: nosniff\r\n", ascii, pct);
    http_respond(rc->req, 200, json_string_value(json_object_get(entry, "content_type")), hdr, buf, len);
    free(buf);
    json_decref(doc);
}

/* ---- POST /v1/disputes/{id}/evidence (multipart/form-data) ------------------------------------- */

static int exec_evidence(struct store_txn *t, struct write_cmd *wc)
{
    struct dispute_cmd *c = (struct dispute_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *doc = NULL;
    int rc = object_load_own(t, c->cmd.object_id, c->cmd.merchant_id, c->cmd.livemode, &doc);
    if (rc == CS_ENOENT) {
        cs_fail(&wc->diag, CS_ENOTFOUND, "id", "no such dispute: %s", c->cmd.object_id);
        return write_cmd_fail(wc, CS_ENOTFOUND);
    }
    if (rc)
        return write_cmd_fail(wc, rc);
    /* Both decisions first, then both appends: nothing half-written. */
    const char *type1 = NULL, *type2 = NULL;
    json_t *data1 = NULL, *data2 = NULL, *files = json_array();
    for (size_t i = 0; i < c->nuploads; i++) {
        struct upload *u = &c->uploads[i];
        json_array_append_new(files, json_pack("{s:s,s:s,s:s,s:I}", "sha256", u->sha256, "filename", u->filename,
                                               "content_type", u->content_type, "size", (json_int_t)u->len));
    }
    if (c->nuploads || c->text) {
        rc = dispute_decide_evidence(doc, files, c->text, c->cmd.now_us, &type1, &data1, &wc->diag);
        /* Never reference a file that is not durable (core/evidence.h). */
        if (rc == 0 && c->nuploads && !c->files_stored)
            rc = cs_fail(&wc->diag, CS_EINTERNAL, "", "the evidence files were not stored");
    }
    if (rc == 0 && c->submit)
        rc = dispute_decide_submit(data1 ? json_object_get(data1, "object") : doc, c->cmd.now_us, &type2, &data2,
                                   &wc->diag);
    json_decref(files);
    json_decref(doc);
    if (rc == 0 && data1)
        rc = object_append(t, &c->cmd, type1, data1);
    if (rc == 0 && data2)
        rc = object_append(t, &c->cmd, type2, data2);
    json_decref(data1);
    json_decref(data2);
    return object_done(t, &c->cmd, rc, 200);
}

/* Thread pool: hash and store every upload (blocking I/O off the loop). */
static void store_uploads(uv_work_t *w)
{
    struct dispute_cmd *c = w->data;
    for (size_t i = 0; i < c->nuploads && !c->io.err; i++) {
        struct upload *u = &c->uploads[i];
        crypto_sha256_hex(u->data, u->len, u->sha256);
        evidence_put(c->cmd.rc->app->data_dir, u->sha256, u->data, u->len, &c->io);
    }
}

/* Loop thread: the files are durable (or not): on to the writer. */
static void uploads_stored(uv_work_t *w, int status)
{
    struct dispute_cmd *c = w->data;
    struct req_ctx *rc = c->cmd.rc;
    if (status != 0 || c->io.err) {
        if (c->io.err)
            fprintf(stderr, "caisse: %s\n", c->io.message);
        command_free(&c->cmd);
        respond_fail(rc, CS_EIO, "", "the evidence files could not be stored; nothing was recorded");
        return;
    }
    if (!rc->app->writer) {   /* the server stopped meanwhile */
        command_free(&c->cmd);
        respond_fail(rc, CS_ESHUTDOWN, "", "the server is shutting down");
        return;
    }
    c->files_stored = 1;
    command_submit(&c->cmd);
}

/* The text part: UTF-8 (jansson checks it), no control characters but tab,
 * CR and LF. A new NUL-terminated copy, or NULL with rc->diag filled. */
static char *read_text(struct req_ctx *rc, const struct multipart_part *p)
{
    if (p->len == 0 || p->len > DISPUTE_TEXT_BYTES_MAX) {
        cs_fail(&rc->diag, CS_EPARAM, "text", "text must be 1 to %u bytes", DISPUTE_TEXT_BYTES_MAX);
        return NULL;
    }
    for (size_t i = 0; i < p->len; i++) {
        unsigned char ch = (unsigned char)p->data[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f) {
            cs_fail(&rc->diag, CS_EPARAM, "text", "text contains control characters");
            return NULL;
        }
    }
    json_t *s = json_stringn(p->data, p->len);
    if (!s) {
        cs_fail(&rc->diag, CS_EPARAM, "text", "text must be UTF-8");
        return NULL;
    }
    json_decref(s);
    char *out = malloc(p->len + 1);
    if (!out) {
        cs_fail(&rc->diag, CS_ENOMEM, "", "out of memory");
        return NULL;
    }
    memcpy(out, p->data, p->len);
    out[p->len] = 0;
    return out;
}

/* Reads the form into c: file parts (checked by content), text, submit. */
static int read_form(struct req_ctx *rc, struct dispute_cmd *c, const struct multipart_part *parts, size_t n)
{
    int has_submit = 0;
    for (size_t i = 0; i < n; i++) {
        const struct multipart_part *p = &parts[i];
        if (strcmp(p->name, "file") == 0) {
            if (c->nuploads >= DISPUTE_FILES_MAX)
                return cs_fail(&rc->diag, CS_EPARAM, "file", "a dispute keeps at most %u evidence files: this "
                               "request sends more", DISPUTE_FILES_MAX);
            const char *shown = p->has_filename && p->filename[0] ? p->filename : "the file part";
            if (p->len == 0)
                return cs_fail(&rc->diag, CS_EPARAM, "file", "%.100s is empty", shown);
            if (p->len > EVIDENCE_FILE_BYTES_MAX)
                return cs_fail(&rc->diag, CS_EPARAM, "file", "%.100s is %zu bytes: an evidence file is at most %u "
                               "bytes (512 KiB)", shown, p->len, EVIDENCE_FILE_BYTES_MAX);
            const char *type = evidence_type(p->data, p->len);
            if (!type)
                return cs_fail(&rc->diag, CS_EPARAM, "file", "%.100s is not a PDF, PNG or JPEG file (judged by its "
                               "content, not its name)", shown);
            struct upload *u = &c->uploads[c->nuploads++];
            u->data = p->data;
            u->len = p->len;
            u->content_type = type;
            evidence_filename(p->filename, type, u->filename);
        } else if (strcmp(p->name, "text") == 0) {
            if (c->text)
                return cs_fail(&rc->diag, CS_EPARAM, "text", "text is given twice");
            if (!(c->text = read_text(rc, p)))
                return rc->diag.err;
        } else if (strcmp(p->name, "submit") == 0) {
            if (has_submit++)
                return cs_fail(&rc->diag, CS_EPARAM, "submit", "submit is given twice");
            if (p->len == 4 && memcmp(p->data, "true", 4) == 0)
                c->submit = 1;
            else if (!(p->len == 5 && memcmp(p->data, "false", 5) == 0))
                return cs_fail(&rc->diag, CS_EPARAM, "submit", "submit must be true or false");
        } else {
            return cs_fail(&rc->diag, CS_EUNKNOWN, p->name, "unknown form field %s (expected file, text, submit)",
                           p->name);
        }
    }
    if (!c->nuploads && !c->text && !c->submit)
        return cs_fail(&rc->diag, CS_EMISSING, "file", "send at least one file part, a text part or submit=true");
    return 0;
}

void api_disputes_evidence(struct req_ctx *rc)
{
    if (path_dispute_id(rc))
        return;
    char boundary[MULTIPART_BOUNDARY_BYTES_MAX + 1];
    if (multipart_boundary(http_header(rc->req, "content-type"), boundary, &rc->diag) != 0) {
        respond_error(rc);
        return;
    }
    /* Parts point into the body, which lives until the answer. */
    struct multipart_part *parts = arena_alloc(rc->req->arena, MULTIPART_PARTS_MAX * sizeof *parts);
    size_t n = 0;
    if (!parts) {
        respond_fail(rc, CS_ENOMEM, "", "out of memory");
        return;
    }
    if (multipart_parse(rc->req->body, rc->req->body_len, boundary, parts, &n, &rc->diag) != 0) {
        respond_error(rc);
        return;
    }
    struct dispute_cmd *c = dispute_cmd_new(rc, exec_evidence);
    if (!c)
        return;
    snprintf(c->cmd.object_id, sizeof c->cmd.object_id, "%s", rc->params[0]);
    if (read_form(rc, c, parts, n) != 0) {
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    /* Files are stored only for a request the writer should accept: a
     * refusal known now (state, deadline, count) goes to the writer without
     * them, which refuses it again (or replays the stored response of an
     * Idempotency-Key), so a bad request leaves no file behind. */
    int store_files = 0;
    if (c->nuploads) {
        json_t *doc = NULL;
        struct store_txn t;
        struct cs_diag quiet = {0};
        if (store_read_begin(rc->app->store, &t) == 0) {
            if (object_load_own(&t, c->cmd.object_id, rc->merchant_id, rc->livemode, &doc) == 0)
                store_files = dispute_evidence_allowed(doc, c->nuploads, c->cmd.now_us, &quiet) == 0;
            store_abort(&t);
        }
        json_decref(doc);
    }
    if (!store_files) {
        command_submit(&c->cmd);
        return;
    }
    c->work.data = c;
    int err = uv_queue_work(rc->app->loop, &c->work, store_uploads, uploads_stored);
    if (err) {
        command_free(&c->cmd);
        respond_fail(rc, CS_EINTERNAL, "", "could not queue the evidence files: %s", uv_strerror(err));
    }
}

/* ---- jobs (core/jobs.c) -------------------------------------------------------------------------- */

typedef int (*dispute_job_fn)(json_t *doc, int64_t now_us, const char **type, json_t **data, struct cs_diag *d);

static int run_job(struct store_txn *t, const struct sched_job *j, int64_t time_us, dispute_job_fn decide,
                   struct cs_diag *d)
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
    rc = decide(doc, time_us, &type, &data, &quiet);
    json_decref(doc);
    if (rc == CS_ESTATE)
        return 0;   /* stale: the dispute moved on */
    if (rc) {
        *d = quiet;
        return rc;
    }
    rc = object_job_append(t, j, time_us, type, data);
    json_decref(data);
    return rc ? rc : 1;
}

int dispute_job_advance(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                        struct cs_diag *d)
{
    (void)prepared;
    return run_job(t, j, time_us, dispute_decide_advance, d);
}

int dispute_job_expire(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d)
{
    (void)prepared;
    return run_job(t, j, time_us, dispute_decide_expire, d);
}

json_t *dispute_job_simulate_prepare(struct app *app, const struct sched_job *j, int64_t time_us)
{
    json_t *payment = NULL, *merchant = NULL;
    struct store_txn t;
    if (store_read_begin(app->store, &t) != 0)
        return NULL;
    MDB_val v;
    if (store_object_get(&t, j->aggregate_id, &v) == 0)
        payment = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (store_merchant_get(&t, j->merchant_id, &v) == 0)
        merchant = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    store_abort(&t);
    struct cs_diag d = {0};
    int64_t amount = 0, fee = 0, vat = 0;
    json_t *out;
    if (!payment || !merchant || dispute_disputable(payment, time_us, &amount, &d) != 0)
        out = json_pack("{s:b}", "stale", 1);   /* exec will see it too */
    else if (price_dispute(app, merchant, j->livemode, amount, json_string_value(json_object_get(payment, "currency")),
                           &fee, &vat, &d) != 0)
        out = json_pack("{s:s}", "error", d.message);
    else
        out = json_pack("{s:I,s:I,s:I}", "amount", (json_int_t)amount, "fee", (json_int_t)fee, "vat", (json_int_t)vat);
    json_decref(payment);
    json_decref(merchant);
    return out;
}

int dispute_job_simulate(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                         struct cs_diag *d)
{
    MDB_val v;
    int rc = store_object_get(t, j->aggregate_id, &v);
    if (rc)
        return rc == CS_ENOENT ? 0 : rc;
    json_t *payment = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    if (!payment)
        return CS_ECORRUPT;
    struct cs_diag quiet = {0};
    int64_t amount = 0;
    if (dispute_disputable(payment, time_us, &amount, &quiet) != 0) {
        json_decref(payment);
        return 0;   /* refunded in full, already disputed: nothing to open */
    }
    const char *error = json_string_value(json_object_get(prepared, "error"));
    if (!prepared || error || !json_is_integer(json_object_get(prepared, "fee"))) {
        json_decref(payment);
        return cs_fail(d, CS_EPOLICYFAIL, "", "dispute.simulate: fees.compute failed: %s",
                       error ? error : "no answer");
    }
    if (json_integer_value(json_object_get(prepared, "amount")) != amount) {
        json_decref(payment);   /* priced for another amount: run again, priced anew */
        return cs_fail(d, CS_ECONFLICT, "", "dispute.simulate: the payment changed since it was priced");
    }
    struct dispute_opening o = {.reason = "fraudulent", .amount = amount, .contestable = 1,
                                .fee = json_integer_value(json_object_get(prepared, "fee")),
                                .vat = json_integer_value(json_object_get(prepared, "vat")), .opened_via = "test_card"};
    rc = available_before(t, payment, time_us, &o.available);
    if (rc) {
        json_decref(payment);
        return rc;
    }
    char id[CS_ID_BYTES_MAX];
    if (id_new("dp", time_us, id, sizeof id) != 0) {
        json_decref(payment);
        return cs_fail(d, CS_EINTERNAL, "", "could not make an id");
    }
    o.id = id;
    const char *type = NULL;
    json_t *data = NULL;
    rc = dispute_decide_open(payment, &o, time_us, &type, &data, d);
    json_decref(payment);
    if (rc)
        return rc;
    rc = sched_append(t, j, time_us, id, type, STORE_VERSION_NEW, data);
    json_decref(data);
    return rc ? rc : 1;
}
