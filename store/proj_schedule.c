/* The `schedule` projection: what becomes due, and when, folded from the
 * events that start and end a wait. schedule: due_us(BE) job-id -> job JSON;
 * schedule_jobs: job-id -> due_us(BE), to find a job again to remove it.
 * And the `test_clocks` projection: merchant NUL mode -> offset_us(BE, as
 * two's complement), the distance of a test-mode merchant's clock from
 * platform time.
 *
 * Jobs (docs/events.md "Scheduled jobs"):
 *   order.abandon  1 h after order.approved, unless confirmed, cancelled first
 *   order.expire   24 h after order.review_requested, unless decided first
 *   order.charge   the next instalment, at the time the last order event
 *                  decided (data.next_charge: first shipment, paid, failed)
 *   others         as an event's data.jobs says: {"<kind>": due_us} adds or
 *                  moves the aggregate's job of that kind, null removes it;
 *                  data.related[].jobs the same for another object, and
 *                  data.related[].jobs_earliest only if that makes the job
 *                  earlier (a capture asks for its merchant's payout run) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

#define HOUR_US (3600LL * 1000000)
#define JOB_ID_BYTES_MAX (CS_ID_BYTES_MAX + 16)

static int job_add_to(MDB_txn *txn, const MDB_dbi *dbi, const char *kind, const struct event_view *v,
                      const char *aggregate_id, int64_t due_us)
{
    char id[JOB_ID_BYTES_MAX];
    snprintf(id, sizeof id, "%s:%s", kind, aggregate_id);
    uint8_t key[8 + JOB_ID_BYTES_MAX];
    be64_put(key, (uint64_t)due_us);
    size_t n = strlen(id);
    memcpy(key + 8, id, n);
    json_t *job = json_pack("{s:s,s:s,s:s,s:s?,s:b,s:I}", "id", id, "kind", kind, "aggregate_id",
                            aggregate_id, "merchant", v->merchant_id, "livemode", v->livemode,
                            "due_us", (json_int_t)due_us);
    char *text = job ? jout_dumps(job, NULL) : NULL;
    json_decref(job);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { 8 + n, key }, val = { strlen(text), text };
    int rc = mdb_put(txn, dbi[DBI_SCHEDULE], &k, &val, 0);
    free(text);
    if (rc)
        return store_err(rc);
    MDB_val jk = { n, id }, jv = { 8, key };
    return store_err(mdb_put(txn, dbi[DBI_SCHEDULE_JOBS], &jk, &jv, 0));
}

static int job_add(MDB_txn *txn, const MDB_dbi *dbi, const char *kind, const struct event_view *v,
                   int64_t due_us)
{
    return job_add_to(txn, dbi, kind, v, v->aggregate_id, due_us);
}

static int job_remove(MDB_txn *txn, const MDB_dbi *dbi, const char *kind, const char *aggregate_id)
{
    char id[JOB_ID_BYTES_MAX];
    snprintf(id, sizeof id, "%s:%s", kind, aggregate_id);
    size_t n = strlen(id);
    MDB_val jk = { n, id }, jv;
    int rc = mdb_get(txn, dbi[DBI_SCHEDULE_JOBS], &jk, &jv);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_err(rc);
    if (jv.mv_size != 8)
        return CS_ECORRUPT;
    uint8_t key[8 + JOB_ID_BYTES_MAX];
    memcpy(key, jv.mv_data, 8);
    memcpy(key + 8, id, n);
    MDB_val k = { 8 + n, key };
    if ((rc = mdb_del(txn, dbi[DBI_SCHEDULE], &k, NULL)) && rc != MDB_NOTFOUND)
        return store_err(rc);
    rc = mdb_del(txn, dbi[DBI_SCHEDULE_JOBS], &jk, NULL);
    return rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

/* data.jobs = {"<kind>": due_us | null}: the event (re)schedules or cancels
 * its aggregate's jobs of those kinds (payments, refunds, disputes); an entry
 * of data.related may carry the same for the object it names (a dispute
 * opened by its payment's dispute.simulate job ends that job). */
/* The due time of the pending job `kind:aggregate_id`, or -1 if none. */
static int64_t job_due(MDB_txn *txn, const MDB_dbi *dbi, const char *kind, const char *aggregate_id)
{
    char id[JOB_ID_BYTES_MAX];
    snprintf(id, sizeof id, "%s:%s", kind, aggregate_id);
    MDB_val jk = { strlen(id), id }, jv;
    if (mdb_get(txn, dbi[DBI_SCHEDULE_JOBS], &jk, &jv) != 0 || jv.mv_size != 8)
        return -1;
    return (int64_t)be64_get(jv.mv_data);
}

/* earliest: a job already due no later than the new time is kept (several
 * events may each ask for a run of one shared job: the first due wins). */
static int fold_jobs(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, const char *aggregate_id,
                     json_t *jobs, int earliest)
{
    const char *kind;
    json_t *due;
    json_object_foreach(jobs, kind, due) {
        if (strlen(kind) >= 32)
            continue;
        if (earliest && json_is_integer(due)) {
            int64_t cur = job_due(txn, dbi, kind, aggregate_id);
            if (cur >= 0 && cur <= json_integer_value(due))
                continue;
        }
        int err = job_remove(txn, dbi, kind, aggregate_id);
        if (!err && json_is_integer(due))
            err = job_add_to(txn, dbi, kind, v, aggregate_id, json_integer_value(due));
        if (err)
            return err;
    }
    return 0;
}

/* What shipped becomes payable: the merchant's disbursement run (job
 * disbursement.run on "dss_<merchant>_<t|l>") at 06:00 UTC the day after the
 * shipment, unless one is due sooner (docs/disbursements.md; the same rule as
 * disbursement_run_after_us in core/disbursements.h, kept out of the event so
 * order.shipped's data stays as it is). */
static int ask_disbursement_run(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    const int64_t day = 24 * HOUR_US;
    char sid[CS_ID_BYTES_MAX + 8];
    snprintf(sid, sizeof sid, "dss_%s_%c", v->merchant_id, v->livemode ? 'l' : 't');
    int64_t due = (v->time_us / day + 1) * day + 6 * HOUR_US;
    json_t *jobs = json_pack("{s:I}", "disbursement.run", (json_int_t)due);
    int err = jobs ? fold_jobs(txn, dbi, v, sid, jobs, 1) : CS_ENOMEM;
    json_decref(jobs);
    return err;
}

int proj_schedule_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(v->data, "related"), i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        json_t *rjobs = json_object_get(r, "jobs"), *first = json_object_get(r, "jobs_earliest");
        int err = 0;
        if (id && strlen(id) < CS_ID_BYTES_MAX && json_is_object(rjobs))
            err = fold_jobs(txn, dbi, v, id, rjobs, 0);
        if (!err && id && strlen(id) < CS_ID_BYTES_MAX && json_is_object(first))
            err = fold_jobs(txn, dbi, v, id, first, 1);
        if (err)
            return err;
    }
    json_t *jobs = json_object_get(v->data, "jobs");
    if (json_is_object(jobs) && strlen(v->aggregate_id) < CS_ID_BYTES_MAX)
        return fold_jobs(txn, dbi, v, v->aggregate_id, jobs, 0);
    if (strncmp(v->type, "order.", 6) != 0 || strlen(v->aggregate_id) >= CS_ID_BYTES_MAX)
        return 0;
    const char *t = v->type + 6;
    /* A decided next charge (first shipment, a paid or failed instalment)
     * replaces the pending one; null means none is left to schedule. */
    json_t *next = json_object_get(v->data, "next_charge");
    if (next) {
        int err = job_remove(txn, dbi, "order.charge", v->aggregate_id);
        json_t *due = json_object_get(next, "due_us");
        if (!err && json_is_integer(due))
            err = job_add(txn, dbi, "order.charge", v, json_integer_value(due));
        if (err)
            return err;
    }
    if (strcmp(t, "cancelled") == 0 || strcmp(t, "paid_off") == 0 ||
        (strcmp(t, "returned") == 0 && json_is_true(json_object_get(json_object_get(v->data, "return"), "full")))) {
        int err = job_remove(txn, dbi, "order.charge", v->aggregate_id);
        if (err)
            return err;
    }
    if (strcmp(t, "shipped") == 0 && v->merchant_id && strlen(v->merchant_id) < CS_ID_BYTES_MAX)
        return ask_disbursement_run(txn, dbi, v);
    if (strcmp(t, "approved") == 0)
        return job_add(txn, dbi, "order.abandon", v, v->time_us + HOUR_US);
    if (strcmp(t, "review_requested") == 0)
        return job_add(txn, dbi, "order.expire", v, v->time_us + 24 * HOUR_US);
    if (strcmp(t, "confirmed") == 0 || strcmp(t, "cancelled") == 0 || strcmp(t, "rejected") == 0 ||
        strcmp(t, "expired") == 0 || strcmp(t, "abandoned") == 0) {
        int err = job_remove(txn, dbi, "order.abandon", v->aggregate_id);
        return err ? err : job_remove(txn, dbi, "order.expire", v->aggregate_id);
    }
    return 0;
}

static size_t clock_key(uint8_t *buf, const char *merchant_id, int livemode)
{
    size_t m = strlen(merchant_id);
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    return m + 2;
}

int proj_test_clocks_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strcmp(v->type, "test_clock.advanced") != 0 || !v->merchant_id ||
        strlen(v->merchant_id) >= CS_ID_BYTES_MAX)
        return 0;
    json_t *off = json_object_get(v->data, "offset_us");
    if (!json_is_integer(off))
        return 0;
    uint8_t kb[CS_ID_BYTES_MAX + 2], vb[8];
    be64_put(vb, (uint64_t)json_integer_value(off));
    MDB_val k = { clock_key(kb, v->merchant_id, v->livemode), kb }, val = { 8, vb };
    return store_err(mdb_put(txn, dbi[DBI_TEST_CLOCKS], &k, &val, 0));
}

/* ---- read side ---------------------------------------------------------------- */

int store_test_clock_offset(struct store_txn *t, const char *merchant_id, int livemode, int64_t *offset_us)
{
    *offset_us = 0;
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id))
        return 0;
    uint8_t kb[CS_ID_BYTES_MAX + 2];
    MDB_val k = { clock_key(kb, merchant_id, livemode), kb }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_TEST_CLOCKS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_txn_fail(t, store_err(rc));
    if (v.mv_size != 8)
        return store_txn_fail(t, CS_ECORRUPT);
    *offset_us = (int64_t)be64_get(v.mv_data);
    return 0;
}

int store_test_clock_max_offset(struct store_txn *t, int64_t *max_us)
{
    *max_us = 0;
    if (t->err)
        return t->err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_TEST_CLOCKS], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int64_t off = v.mv_size == 8 ? (int64_t)be64_get(v.mv_data) : 0;
        if (off > *max_us)
            *max_us = off;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

int store_schedule_each(struct store_txn *t, int (*fn)(void *ctx, const char *job_json, size_t len), void *ctx)
{
    if (t->err)
        return t->err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[DBI_SCHEDULE], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (fn(ctx, v.mv_data, v.mv_size))
            break;
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

int store_schedule_has(struct store_txn *t, const char *job_id)
{
    if (t->err)
        return t->err;
    MDB_val k = { strlen(job_id), (void *)job_id }, v;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_SCHEDULE_JOBS], &k, &v);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}
