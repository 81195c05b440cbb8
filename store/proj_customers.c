/* The `customers` projection: customers (id -> customer JSON), the list index
 * customers_by_merchant (merchant NUL mode created_us(BE) id -> "") and the
 * matching indexes customers_by_document (merchant NUL mode number NUL id -> "")
 * and customers_by_contact (merchant NUL mode "email:"<lower-case e-mail> NUL
 * id, and "phone:"<digits and +> NUL id -> ""). Folds customer.created,
 * order.confirmed with a customer_id (the customer's `orders` gains the
 * order) and the first event of a payment with a customer_id (its
 * `payments` gains the payment). */
#include <stdlib.h>
#include <string.h>
#include "core/json_out.h"
#include "store/store_internal.h"

#define LIST_KEY_BYTES_MAX (2 * CS_ID_BYTES_MAX + 10)
#define DOC_KEY_BYTES_MAX  (2 * CS_ID_BYTES_MAX + 3 + 270)   /* also "email:" + 254 bytes */
#define CONTACT_BYTES_MAX  (6 + 254)

static size_t list_key(uint8_t *buf, const char *merchant_id, int livemode, int64_t created_us,
                       const char *customer_id)
{
    size_t m = strlen(merchant_id), c = strlen(customer_id);
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    be64_put(buf + m + 2, (uint64_t)created_us);
    memcpy(buf + m + 10, customer_id, c);
    return m + 10 + c;
}

/* merchant NUL mode number NUL [id]: with id == NULL, the prefix to scan. */
static size_t doc_key(uint8_t *buf, const char *merchant_id, int livemode, const char *number,
                      const char *customer_id)
{
    size_t m = strlen(merchant_id), n = strlen(number);
    memcpy(buf, merchant_id, m + 1);
    buf[m + 1] = (uint8_t)mode_byte(livemode);
    memcpy(buf + m + 2, number, n + 1);
    size_t len = m + 3 + n;
    if (customer_id) {
        size_t c = strlen(customer_id);
        memcpy(buf + len, customer_id, c);
        len += c;
    }
    return len;
}

static int put_doc(MDB_txn *txn, const MDB_dbi *dbi, const char *id, json_t *doc)
{
    char *text = jout_dumps(doc, NULL);
    if (!text)
        return CS_ENOMEM;
    MDB_val k = { strlen(id), (void *)id }, v = { strlen(text), text };
    int rc = mdb_put(txn, dbi[DBI_CUSTOMERS], &k, &v, 0);
    free(text);
    return store_err(rc);
}

int store_customer_contact_key(const char *kind, const char *value, char out[CONTACT_BYTES_MAX + 1])
{
    size_t k = strlen(kind), n = 0;
    if (!value || k + 1 + strlen(value) > CONTACT_BYTES_MAX)
        return -1;
    memcpy(out, kind, k);
    out[k] = ':';
    n = k + 1;
    int email = strcmp(kind, "email") == 0;
    for (const char *p = value; *p; p++) {
        char c = *p;
        if (email)
            out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);   /* ASCII case folding, as the API does */
        else if ((c >= '0' && c <= '9') || (c == '+' && n == k + 1))
            out[n++] = c;
    }
    out[n] = 0;
    return n > k + 1 ? 0 : -1;
}

static int index_contact(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, const char *kind,
                         const char *value)
{
    char key[CONTACT_BYTES_MAX + 1];
    if (store_customer_contact_key(kind, value, key) != 0)
        return 0;
    uint8_t kb[DOC_KEY_BYTES_MAX];
    MDB_val empty = { 0, (void *)"" };
    MDB_val k = { doc_key(kb, v->merchant_id, v->livemode, key, v->aggregate_id), kb };
    return store_err(mdb_put(txn, dbi[DBI_CUSTOMERS_BY_CONTACT], &k, &empty, 0));
}

static int fold_created(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    json_t *cust = json_object_get(v->data, "customer");
    const char *number = json_string_value(json_object_get(json_object_get(cust, "id_document"), "number"));
    if (!json_is_object(cust) || !v->merchant_id || (number && strlen(number) > 64) ||
        strlen(v->aggregate_id) >= CS_ID_BYTES_MAX || strlen(v->merchant_id) >= CS_ID_BYTES_MAX)
        return 0;   /* nothing to project; replay skips it the same way */
    json_t *doc = json_copy(cust);
    if (!doc)
        return CS_ENOMEM;
    if (!json_is_array(json_object_get(doc, "orders")))
        json_object_set_new(doc, "orders", json_array());
    if (!json_is_array(json_object_get(doc, "payments")))
        json_object_set_new(doc, "payments", json_array());
    int err = put_doc(txn, dbi, v->aggregate_id, doc);
    json_decref(doc);
    if (err)
        return err;
    uint8_t kb[DOC_KEY_BYTES_MAX];
    MDB_val empty = { 0, (void *)"" };
    MDB_val k = { list_key(kb, v->merchant_id, v->livemode, v->time_us, v->aggregate_id), kb };
    if ((err = store_err(mdb_put(txn, dbi[DBI_CUSTOMERS_BY_MERCHANT], &k, &empty, 0))))
        return err;
    if ((err = index_contact(txn, dbi, v, "email", json_string_value(json_object_get(cust, "email")))) ||
        (err = index_contact(txn, dbi, v, "phone", json_string_value(json_object_get(cust, "phone")))))
        return err;
    if (!number)
        return 0;   /* a customer of card payments: no ID document */
    k.mv_size = doc_key(kb, v->merchant_id, v->livemode, number, v->aggregate_id);
    return store_err(mdb_put(txn, dbi[DBI_CUSTOMERS_BY_DOCUMENT], &k, &empty, 0));
}

/* The customer `cid` gains `what` (an order or a payment) in its list `list`. */
static int fold_link(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v, const char *cid,
                     const char *list)
{
    if (!cid || strlen(cid) >= CS_ID_BYTES_MAX)
        return 0;
    MDB_val k = { strlen(cid), (void *)cid }, val;
    int rc = mdb_get(txn, dbi[DBI_CUSTOMERS], &k, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_err(rc);
    json_t *doc = json_loadb(val.mv_data, val.mv_size, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return CS_ECORRUPT;
    }
    json_t *items = json_object_get(doc, list);
    if (!json_is_array(items)) {
        items = json_array();
        json_object_set_new(doc, list, items);
    }
    json_array_append_new(items, json_string(v->aggregate_id));
    int err = put_doc(txn, dbi, cid, doc);
    json_decref(doc);
    return err;
}

int proj_customers_fold(MDB_txn *txn, const MDB_dbi *dbi, const struct event_view *v)
{
    if (strcmp(v->type, "customer.created") == 0)
        return fold_created(txn, dbi, v);
    if (strcmp(v->type, "order.confirmed") == 0)
        return fold_link(txn, dbi, v, json_string_value(json_object_get(v->data, "customer_id")), "orders");
    if (strncmp(v->type, "payment.", 8) == 0 && v->aggregate_version == 1)
        return fold_link(txn, dbi, v,
                         json_string_value(json_object_get(json_object_get(v->data, "object"), "customer_id")),
                         "payments");
    return 0;
}

/* ---- read side ---------------------------------------------------------------- */

int store_customer_get(struct store_txn *t, const char *customer_id, MDB_val *doc)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(customer_id))
        return CS_ENOENT;
    MDB_val k = { strlen(customer_id), (void *)customer_id };
    int rc = mdb_get(t->txn, t->store->dbi[DBI_CUSTOMERS], &k, doc);
    if (rc == MDB_NOTFOUND)
        return CS_ENOENT;
    return rc ? store_txn_fail(t, store_err(rc)) : 0;
}

static int customers_matching(struct store_txn *t, enum store_dbi index, const char *merchant_id, int livemode,
                              const char *number,
                              int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc), void *ctx)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id) || strlen(number) == 0 || strlen(number) > CONTACT_BYTES_MAX)
        return 0;
    uint8_t kb[DOC_KEY_BYTES_MAX];
    size_t prefix = doc_key(kb, merchant_id, livemode, number, NULL);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->store->dbi[index], &c);
    if (rc)
        return store_txn_fail(t, store_err(rc));
    MDB_val k = { prefix, kb }, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix || k.mv_size - prefix >= CS_ID_BYTES_MAX || memcmp(k.mv_data, kb, prefix) != 0)
            break;
        char id[CS_ID_BYTES_MAX];
        size_t idlen = k.mv_size - prefix;
        memcpy(id, (const uint8_t *)k.mv_data + prefix, idlen);
        id[idlen] = 0;
        MDB_val ik = { idlen, id }, doc;
        if ((rc = mdb_get(t->txn, t->store->dbi[DBI_CUSTOMERS], &ik, &doc))) {
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;   /* indexed but absent */
            break;
        }
        if (fn(ctx, id, &doc))
            break;
    }
    mdb_cursor_close(c);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    return store_txn_fail(t, store_err(rc));
}

int store_customers_by_document(struct store_txn *t, const char *merchant_id, int livemode,
                                const char *number,
                                int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc),
                                void *ctx)
{
    if (strlen(number) > 64)
        return 0;
    return customers_matching(t, DBI_CUSTOMERS_BY_DOCUMENT, merchant_id, livemode, number, fn, ctx);
}

int store_customers_by_contact(struct store_txn *t, const char *merchant_id, int livemode, const char *kind,
                               const char *value,
                               int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc), void *ctx)
{
    char key[CONTACT_BYTES_MAX + 1];
    if (store_customer_contact_key(kind, value, key) != 0)
        return 0;
    return customers_matching(t, DBI_CUSTOMERS_BY_CONTACT, merchant_id, livemode, key, fn, ctx);
}

int store_customers_each(struct store_txn *t, const char *merchant_id, int livemode,
                         const char *after_id,
                         int (*fn)(void *ctx, const char *customer_id, const MDB_val *doc), void *ctx)
{
    if (t->err)
        return t->err;
    if (!store_id_valid(merchant_id))
        return after_id ? CS_EPARAM : 0;
    size_t m = strlen(merchant_id), prefix = m + 2;
    uint8_t kb[LIST_KEY_BYTES_MAX];
    size_t klen;
    if (after_id) {
        /* The cursor's position: its creation time is in its document. */
        MDB_val doc;
        int err = store_customer_get(t, after_id, &doc);
        if (err)
            return err == CS_ENOENT ? CS_EPARAM : err;
        json_t *o = json_loadb(doc.mv_data, doc.mv_size, 0, NULL);
        const char *mer = json_string_value(json_object_get(o, "merchant"));
        const char *created = json_string_value(json_object_get(o, "created"));
        int64_t us = 0;
        int own = mer && strcmp(mer, merchant_id) == 0 &&
                  json_is_true(json_object_get(o, "livemode")) == !!livemode && created &&
                  store_time_parse(created, &us) == 0;
        json_decref(o);
        if (!own)
            return CS_EPARAM;
        klen = list_key(kb, merchant_id, livemode, us, after_id);
    } else {
        memcpy(kb, merchant_id, m + 1);
        kb[m + 1] = (uint8_t)mode_byte(livemode);
        memset(kb + prefix, 0xff, 9);
        klen = prefix + 9;
    }
    return store_index_walk_newest(t, DBI_CUSTOMERS_BY_MERCHANT, DBI_CUSTOMERS, kb, klen, prefix, fn, ctx);
}
