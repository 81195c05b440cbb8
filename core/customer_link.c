/* Finding or making the customer of a card payment (core/customer_link.h). */
#include <stdio.h>
#include <string.h>
#include "core/customer_link.h"
#include "core/ids.h"
#include "core/clock.h"

static int first_match(void *ctx, const char *customer_id, const MDB_val *doc)
{
    (void)doc;
    snprintf(ctx, CS_ID_BYTES_MAX, "%s", customer_id);
    return 1;
}

static int own_customer(struct store_txn *t, struct command *c, const char *id)
{
    MDB_val v;
    if (store_customer_get(t, id, &v) != 0)
        return 0;
    json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
    const char *m = json_string_value(json_object_get(o, "merchant"));
    int own = m && strcmp(m, c->merchant_id) == 0 && json_is_true(json_object_get(o, "livemode")) == !!c->livemode;
    json_decref(o);
    return own;
}

int customer_link_payment(struct store_txn *t, struct command *c, json_t *draft)
{
    const char *given = json_string_value(json_object_get(draft, "customer_id"));
    if (given) {
        if (!own_customer(t, c, given))
            return cs_fail(&c->base.diag, CS_EPARAM, "customer_id", "no such customer: %s", given);
        return 0;
    }
    json_t *who = json_object_get(draft, "customer");
    const char *email = json_string_value(json_object_get(who, "email"));
    const char *phone = json_string_value(json_object_get(who, "phone"));
    if (!email && !phone)
        return 0;
    char id[CS_ID_BYTES_MAX] = "";
    int rc = 0;
    if (email)
        rc = store_customers_by_contact(t, c->merchant_id, c->livemode, "email", email, first_match, id);
    if (!rc && !id[0] && phone)
        rc = store_customers_by_contact(t, c->merchant_id, c->livemode, "phone", phone, first_match, id);
    if (rc)
        return rc;
    if (!id[0]) {
        if (id_new("cus", c->now_us, id, sizeof id) != 0)
            return CS_EINTERNAL;
        char created[40];
        clock_format_rfc3339(c->now_us, created, sizeof created);
        json_t *data = json_pack("{s:{s:s,s:s,s:b,s:s,s:O?,s:O?,s:O?,s:O?,s:n,s:s,s:[],s:[]}}", "customer", "id", id,
                                 "object", "customer", "livemode", c->livemode, "merchant", c->merchant_id,
                                 "first_name", json_object_get(who, "first_name"), "last_name",
                                 json_object_get(who, "last_name"), "email", json_object_get(who, "email"), "phone",
                                 json_object_get(who, "phone"), "id_document", "created", created, "orders",
                                 "payments");
        if (!data)
            return CS_ENOMEM;
        for (const char *const *k = (const char *const[]){"first_name", "last_name", "email", "phone", NULL}; *k; k++)
            if (!json_object_get(json_object_get(data, "customer"), *k))
                json_object_set_new(json_object_get(data, "customer"), *k, json_null());
        rc = command_append(t, c, id, "customer.created", STORE_VERSION_NEW, data);
        json_decref(data);
        if (rc)
            return rc;
    }
    json_object_set_new(draft, "customer_id", json_string(id));
    return 0;
}
