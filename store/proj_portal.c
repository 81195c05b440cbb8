/* The `portal` projection: one-time-code challenges and shopper sessions of
 * the customer self-service API. Codes and tokens are never stored, only
 * keyed hashes (core/api_portal.c).
 *   portal: "chl:<challenge id>" -> {"customer","merchant","livemode","code_hmac","expires_us","attempts","status"}
 *           "ses:<token sha256 hex>" -> {"customer","merchant","livemode","expires_us"}
 *           "last:<customer id>" -> time of the last code sent (BE us), for the rate limit */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

#define PORTAL_KEY_BYTES_MAX 96u
#define OTP_ATTEMPTS_MAX 5

static int put(MDB_txn *txn, const MDB_dbi *dbi, const char *key, json_t *doc)
{
    char *text = jout_dumps(doc, NULL);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { strlen(key), (void *)key }, v = { strlen(text), text };
    int rc = mdb_put(txn, dbi[DBI_PORTAL], &k, &v, 0);
    free(text);
    return store_err(rc);
}

static json_t *get(MDB_txn *txn, const MDB_dbi *dbi, const char *key)
{
    MDB_val k = { strlen(key), (void *)key }, v;
    if (mdb_get(txn, dbi[DBI_PORTAL], &k, &v) != 0)
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, NULL);
}

int proj_portal_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strncmp(v->type, "customer.", 9) != 0 || !v->merchant_id)
        return 0;
    char key[PORTAL_KEY_BYTES_MAX];
    if (strcmp(v->type, "customer.otp_requested") == 0) {
        json_t *c = json_object_get(v->data, "challenge");
        const char *id = json_string_value(json_object_get(c, "id"));
        if (!id || strlen(id) >= CS_ID_BYTES_MAX)
            return 0;
        json_t *doc = json_pack("{s:s,s:s,s:b,s:O?,s:O?,s:i,s:s}", "customer", v->aggregate_id, "merchant",
                                v->merchant_id, "livemode", v->livemode, "code_hmac",
                                json_object_get(c, "code_hmac"), "expires_us", json_object_get(c, "expires_us"),
                                "attempts", 0, "status", "open");
        snprintf(key, sizeof key, "chl:%s", id);
        int err = doc ? put(txn, dbi, key, doc) : CS_ENOMEM;
        json_decref(doc);
        if (err)
            return err;
        uint8_t t[8];
        be64_put(t, (uint64_t)v->time_us);
        snprintf(key, sizeof key, "last:%s", v->aggregate_id);
        MDB_val k = { strlen(key), key }, val = { 8, t };
        return store_err(mdb_put(txn, dbi[DBI_PORTAL], &k, &val, 0));
    }
    if (strcmp(v->type, "customer.otp_failed") == 0 || strcmp(v->type, "customer.session_started") == 0) {
        const char *id = json_string_value(json_object_get(v->data, "challenge_id"));
        if (!id || strlen(id) >= CS_ID_BYTES_MAX)
            return 0;
        snprintf(key, sizeof key, "chl:%s", id);
        json_t *doc = get(txn, dbi, key);
        if (!doc)
            return 0;
        int err = 0;
        if (strcmp(v->type, "customer.otp_failed") == 0) {
            json_int_t n = json_integer_value(json_object_get(doc, "attempts")) + 1;
            json_object_set_new(doc, "attempts", json_integer(n));
            if (n >= OTP_ATTEMPTS_MAX)
                json_object_set_new(doc, "status", json_string("locked"));
        } else {
            json_object_set_new(doc, "status", json_string("used"));
            const char *tok = json_string_value(json_object_get(v->data, "token_sha256"));
            if (tok && strlen(tok) == 64) {
                char skey[PORTAL_KEY_BYTES_MAX];
                snprintf(skey, sizeof skey, "ses:%s", tok);
                json_t *ses = json_pack("{s:s,s:s,s:b,s:O?}", "customer", v->aggregate_id, "merchant",
                                        v->merchant_id, "livemode", v->livemode, "expires_us",
                                        json_object_get(v->data, "expires_us"));
                err = ses ? put(txn, dbi, skey, ses) : CS_ENOMEM;
                json_decref(ses);
            }
        }
        if (!err)
            err = put(txn, dbi, key, doc);
        json_decref(doc);
        return err;
    }
    return 0;
}

int store_portal_get(struct store_txn *t, const char *key, MDB_val *out)
{
    if (t->err)
        return t->err;
    MDB_val k = { strlen(key), (void *)key };
    if (k.mv_size == 0 || k.mv_size >= PORTAL_KEY_BYTES_MAX)
        return CS_ENOENT;
    int rc = mdb_get(t->txn, t->store->dbi[DBI_PORTAL], &k, out);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}
