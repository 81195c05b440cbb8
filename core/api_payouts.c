/* Payouts (docs/payouts.md): the merchant's payout run and the payouts'
 * steps as scheduler jobs, early payouts and the payouts' transfer files
 * through the API (core/payouts.h for the decisions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/router.h"
#include "core/payouts.h"
#include "core/payments.h"
#include "core/api_payouts.h"
#include "core/bank_account.h"
#include "core/disputes.h"
#include "core/objects.h"
#include "core/command.h"
#include "core/json_in.h"
#include "core/ids.h"
#include "core/doc.h"
#include "core/clock.h"
#include "core/sepa.h"
#include "core/notify.h"

#define DAY_US (86400LL * 1000000)

static json_t *load(struct store_txn *t, const char *id, int (*get)(struct store_txn *, const char *, MDB_val *))
{
    MDB_val v;
    if (get(t, id, &v) != 0)
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}

static json_t *bank_account_of(struct store_txn *t, const char *merchant_id, int livemode)
{
    char id[CS_ID_BYTES_MAX];
    bank_account_id(merchant_id, livemode, id);
    return load(t, id, store_object_get);
}

/* ---- the payout run (job payout.run on the payout schedule) ---------------------------- */

/* The merchant's calendar for the run's day, asked on the loop thread:
 * {"date", "business_day", "next_business_day", "holiday"}. */
json_t *payout_job_run_prepare(struct app *app, const struct sched_job *j, int64_t time_us)
{
    json_t *merchant = NULL;
    struct store_txn t;
    if (store_read_begin(app->store, &t) == 0) {
        merchant = load(&t, j->merchant_id, store_merchant_get);
        store_abort(&t);
    }
    char date[16];
    clock_format_date(time_us, date, sizeof date);
    json_t *input = json_pack("{s:O?,s:s,s:s,s:{s:s},s:b}", "country", json_object_get(merchant, "country"), "purpose",
                              "payout", "date", date, "merchant", "id", j->merchant_id, "livemode", j->livemode);
    json_decref(merchant);
    json_t *out = NULL;
    struct cs_diag d = {0};
    if (!input || policy_call(app->policy, "country.rules", input, &out, &d) != 0) {
        fprintf(stderr, "caisse: payout run of %s: country.rules failed: %s\n", j->merchant_id, d.message);
        out = NULL;
    }
    json_decref(input);
    return out;
}

struct run_facts {
    json_t *merchant, *bank, *schedule;
    int64_t available, pending;
};

static void run_facts_clear(struct run_facts *f)
{
    json_decref(f->merchant);
    json_decref(f->bank);
    json_decref(f->schedule);
}

int payout_job_run(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                   struct cs_diag *d)
{
    const char *next_day = json_string_value(json_object_get(prepared, "next_business_day"));
    int y, mo, dd;
    if (!next_day || clock_parse_date(next_day, &y, &mo, &dd) != 0)
        return cs_fail(d, CS_EPOLICYFAIL, "", "the payout calendar (country.rules) gave no next business day");
    char stamp[40];
    snprintf(stamp, sizeof stamp, "%.10sT00:00:00.000000Z", next_day);
    int64_t next_run = payout_run_time(clock_parse_rfc3339(stamp));   /* that day, at the run's hour */
    struct run_facts f = {0};
    f.merchant = load(t, j->merchant_id, store_merchant_get);
    f.bank = bank_account_of(t, j->merchant_id, j->livemode);
    f.schedule = load(t, j->aggregate_id, store_object_get);
    const char *currency = json_string_value(json_object_get(f.merchant, "currency"));
    int rc = currency ? store_ledger_balance(t, j->merchant_id, j->livemode, currency, time_us, &f.available, &f.pending)
                      : CS_ECORRUPT;
    if (rc) {
        run_facts_clear(&f);
        return rc;
    }
    char date[16], payout_id[CS_ID_BYTES_MAX] = "";
    clock_format_date(time_us, date, sizeof date);
    const char *outcome, *detail = NULL;
    int64_t next = f.pending > 0 ? next_run : -1;   /* held funds come out on a later run */
    if (!json_is_true(json_object_get(prepared, "business_day"))) {
        outcome = "not_a_business_day";
        detail = json_string_value(json_object_get(prepared, "holiday"));
        next = next_run;
    } else if (f.available <= 0) {
        outcome = "nothing_available";
    } else if (!f.bank) {
        outcome = "no_bank_account";
        next = next_run;
    } else {
        outcome = "paid_out";
        json_t *pdata = NULL;
        rc = id_new("po", time_us, payout_id, sizeof payout_id) ? CS_EINTERNAL
             : payout_decide_create(payout_id, j->merchant_id, j->livemode, f.available, currency, "standard", 0, 0,
                                    f.bank, time_us, &pdata, d);
        if (rc == 0)
            rc = object_job_append(t, j, time_us, "payout.created", pdata);
        if (rc == 0)
            rc = notify_payout(t, f.merchant, json_object_get(pdata, "object"), time_us);
        json_decref(pdata);
        if (rc) {
            run_facts_clear(&f);
            return rc;
        }
    }
    json_t *data = NULL;
    rc = payout_decide_run(f.schedule, j->aggregate_id, j->merchant_id, j->livemode, date, outcome, detail,
                           payout_id[0] ? payout_id : NULL, next, time_us, &data, d);
    run_facts_clear(&f);
    if (rc == 0) {
        json_object_set_new(data, "outcome", json_string(outcome));
        rc = object_job_append(t, j, time_us, "payout_schedule.ran", data);
    }
    json_decref(data);
    return rc ? rc : (payout_id[0] ? 2 : 1);
}

/* ---- a payout's steps (job payout.advance) ----------------------------------------------- */

int payout_job_advance(struct store_txn *t, const struct sched_job *j, int64_t time_us, json_t *prepared,
                       struct cs_diag *d)
{
    (void)prepared;
    json_t *doc = load(t, j->aggregate_id, store_object_get);
    if (!doc)
        return 0;
    const char *type = NULL;
    json_t *data = NULL;
    struct cs_diag quiet = {0};
    int rc = payout_decide_advance(doc, time_us, &type, &data, &quiet);
    json_decref(doc);
    if (rc == CS_ESTATE)
        return 0;
    if (rc) {
        *d = quiet;
        return rc;
    }
    rc = object_job_append(t, j, time_us, type, data);
    json_decref(data);
    return rc ? rc : 1;
}

/* ---- early payouts: POST /v1/payouts ------------------------------------------------------ */

struct payout_cmd {
    struct command cmd;        /* cmd.object_id: the new payout */
    int64_t amount, fee, vat;
};

static int exec_early(struct store_txn *t, struct write_cmd *wc)
{
    struct payout_cmd *c = (struct payout_cmd *)wc;
    if (command_idem_check(t, &c->cmd))
        return 0;
    json_t *merchant = load(t, c->cmd.merchant_id, store_merchant_get);
    json_t *bank = bank_account_of(t, c->cmd.merchant_id, c->cmd.livemode);
    const char *currency = json_string_value(json_object_get(merchant, "currency"));
    int64_t available = 0, pending = 0, total = 0;
    int rc = currency ? store_ledger_balance(t, c->cmd.merchant_id, c->cmd.livemode, currency, c->cmd.now_us,
                                             &available, &pending)
                      : CS_ECORRUPT;
    json_t *data = NULL;
    if (rc == 0 && !bank)
        rc = cs_fail(&wc->diag, CS_ESTATE, "bank_account", "no bank account to pay out to: set it with "
                     "POST /v1/bank_account first");
    else if (rc == 0 && (__builtin_add_overflow(available, pending, &total) || c->amount + c->fee + c->vat > total))
        rc = cs_fail(&wc->diag, CS_EAMOUNT, "amount", "the balance is %lld (held funds included): an early payout of "
                     "%lld costs %lld more", (long long)total, (long long)c->amount, (long long)(c->fee + c->vat));
    if (rc == 0)
        rc = payout_decide_create(c->cmd.object_id, c->cmd.merchant_id, c->cmd.livemode, c->amount, currency, "instant",
                                  c->fee, c->vat, bank, c->cmd.now_us, &data, &wc->diag);
    json_decref(bank);
    if (rc == 0)
        rc = object_append(t, &c->cmd, "payout.created", data);
    if (rc == 0)
        rc = notify_payout(t, merchant, json_object_get(data, "object"), c->cmd.now_us);
    json_decref(merchant);
    json_decref(data);
    return object_done(t, &c->cmd, rc, 201);
}

void api_payouts_create(struct req_ctx *rc)
{
    static const char *const keys[] = {"amount", NULL};
    json_t *body = NULL, *merchant = req_merchant(rc);
    int64_t amount = 0;
    if (jin_parse(rc->req->body, rc->req->body_len, &body, &rc->diag) || jin_object(body, "", keys, &rc->diag) ||
        jin_int(body, "", "amount", 1, 1, CS_AMOUNT_MINOR_MAX, &amount, &rc->diag)) {
        json_decref(body);
        respond_error(rc);
        return;
    }
    json_decref(body);
    if (!merchant) {
        respond_fail(rc, CS_EINTERNAL, "", "the merchant could not be read");
        return;
    }
    struct payout_cmd *c = command_new(rc, sizeof *c, exec_early);
    if (!c)
        return;
    c->amount = amount;
    /* The fee is priced here (Lua) for this amount; the writer checks the
     * balance covers the amount and the fee. */
    json_t *input = json_pack("{s:s,s:I,s:O,s:{s:O,s:O},s:b}", "kind", "payout", "amount", (json_int_t)amount,
                              "currency", json_object_get(merchant, "currency"), "merchant", "id",
                              json_object_get(merchant, "id"), "country", json_object_get(merchant, "country"),
                              "livemode", rc->livemode);
    json_t *out = NULL;
    int err = input ? policy_call(rc->app->policy, "fees.compute", input, &out, &rc->diag) : CS_ENOMEM;
    json_decref(input);
    if (err == 0)
        err = dispute_fees_read(out, &c->fee, &c->vat, &rc->diag);
    json_decref(out);
    if (err == 0 && id_new("po", c->cmd.now_us, c->cmd.object_id, sizeof c->cmd.object_id) != 0)
        err = cs_fail(&rc->diag, CS_EINTERNAL, "", "could not make an id");
    if (err) {
        command_free(&c->cmd);
        respond_error(rc);
        return;
    }
    command_submit(&c->cmd);
}

/* ---- reads -------------------------------------------------------------------------------- */

void api_payouts_get(struct req_ctx *rc)
{
    object_get_handler(rc, "po", "payout");
}

void api_payouts_list(struct req_ctx *rc)
{
    static const char *const allowed[] = {"limit", "cursor", "starting_after", "status", NULL};
    static const char *const filters[] = {"status", NULL};
    static const char *const statuses[] = {"pending", "in_transit", "paid", "failed", NULL};
    if (query_check_known(rc, allowed)) {
        respond_error(rc);
        return;
    }
    const char *status = query_param(rc, "status");
    if (status && !doc_one_of(status, statuses)) {
        respond_fail(rc, CS_EPARAM, "status", "status must be pending, in_transit, paid or failed");
        return;
    }
    object_list_respond(rc, "payout", "po", "payout", filters);
}

void api_payout_schedule_get(struct req_ctx *rc)
{
    char id[CS_ID_BYTES_MAX + 8];
    payout_schedule_id(rc->merchant_id, rc->livemode, id, sizeof id);
    json_t *doc = NULL;
    int err = object_read_own(rc, id, &doc);
    if (err == CS_ENOENT)
        respond_fail(rc, CS_ENOTFOUND, "", "no payout run yet: the first comes once a capture's 7-day hold ends");
    else if (err)
        respond_fail(rc, err, "", "the payout schedule could not be read");
    else
        respond_json(rc, 200, doc);
}

/* SEPA identifiers allow no '_': "po_01…" becomes "po-01…". */
static void sepa_id_of(const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s", id);
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = '-';
}

void api_payouts_transfer_file(struct req_ctx *rc)
{
    if (!id_valid(rc->params[0], "po")) {
        respond_fail(rc, CS_ENOTFOUND, "id", "no such payout: %s", rc->params[0]);
        return;
    }
    json_t *doc = NULL;
    int err = object_fetch(rc, rc->params[0], "id", "payout", &doc);
    if (err)
        return;
    if (rc->livemode) {
        json_decref(doc);
        respond_fail(rc, CS_ESTATE, "id", "live transfer files name caisse's own bank account, which this "
                     "installation has not configured (docs/payouts.md)");
        return;
    }
    /* The file is made again from what the payout recorded: the same bytes
     * every time (MsgId and CreDtTm are the payout's). */
    json_t *dest = json_object_get(doc, "destination");
    char msg_id[CS_ID_BYTES_MAX], date[16];
    sepa_id_of(doc_str(doc, "id"), msg_id, sizeof msg_id);
    int64_t created = clock_parse_rfc3339(doc_str(doc, "created"));
    clock_format_date(created, date, sizeof date);
    char remittance[80];
    snprintf(remittance, sizeof remittance, "caisse payout %s", msg_id);
    struct sepa_transfer tr = {.creditor = {.name = doc_str(dest, "account_holder_name"), .iban = doc_str(dest, "iban"),
                                            .bic = doc_str(dest, "bic")},
                               .amount = doc_int(doc, "amount"), .currency = doc_str(doc, "currency"),
                               .end_to_end_id = msg_id, .remittance = remittance};
    struct sepa_batch b = {.message_id = msg_id, .payment_info_id = msg_id, .created_us = created,
                           .execution_date = date, .debtor = {.name = SEPA_TEST_DEBTOR_NAME,
                                                               .iban = SEPA_TEST_DEBTOR_IBAN,
                                                               .bic = SEPA_TEST_DEBTOR_BIC},
                           .batch_booking = 0, .transfers = &tr, .count = 1};
    char *xml = NULL;
    size_t len = 0;
    err = sepa_pain001_build(&b, &xml, &len, NULL, &rc->diag);
    json_decref(doc);
    if (err) {
        respond_error(rc);
        return;
    }
    char disposition[128];
    snprintf(disposition, sizeof disposition, "Content-Disposition: attachment; filename=\"%s.xml\"\r\n", msg_id);
    http_respond(rc->req, 200, "application/xml", disposition, xml, len);
    free(xml);
}
