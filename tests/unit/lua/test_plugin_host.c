/* The plugin host API below HTTP (lua/plugin.h): caisse.kv (writes handed
 * over only when a call succeeds, the pending overlay and its settling, the
 * merchant of the call only, read-only in policies), the manifest's
 * "policies", per-merchant policy overrides (enrolment by a KV key, chaining
 * in name order, base() bounded), on_event matching and results, and the
 * pieces of the core they meet (the KV aggregate id, webhooks skipping
 * plugin.* events). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/unit/tap.h"
#include "core/errors.h"
#include "core/ids.h"
#include "core/plugin_effects.h"
#include "core/webhooks.h"
#include "lua/plugin.h"
#include "lua/policy.h"

static char dir[64];

static void put(const char *plugin, const char *file, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, plugin);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", dir, plugin, file);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* ---- a committed store the tests fill by hand ----------------------------------------- */

static json_t *store;   /* "<plugin>/<merchant>/<t|l>/<key>" -> value */

static void store_key(char *out, size_t cap, const char *plugin, const char *merchant, int livemode, const char *key)
{
    snprintf(out, cap, "%s/%s/%c/%s", plugin, merchant, livemode ? 'l' : 't', key);
}

static json_t *kv_get(void *ctx, const char *plugin, const char *merchant_id, int livemode, const char *key)
{
    (void)ctx;
    char k[256];
    store_key(k, sizeof k, plugin, merchant_id, livemode, key);
    json_t *v = json_object_get(store, k);
    return v ? json_deep_copy(v) : NULL;
}

static void kv_each(void *ctx, const char *plugin, const char *merchant_id, int livemode,
                    int (*fn)(void *fctx, const char *key), void *fctx)
{
    (void)ctx;
    char prefix[256];
    store_key(prefix, sizeof prefix, plugin, merchant_id, livemode, "");
    const char *k;
    json_t *v;
    json_object_foreach(store, k, v)
        if (strncmp(k, prefix, strlen(prefix)) == 0 && fn(fctx, k + strlen(prefix)))
            return;
}

#define ROUTE(m, p) "{\"method\":\"" m "\",\"path\":\"" p "\"}"

static int call(struct plugins *h, const char *name, const char *method, const char *path, const char *merchant,
                json_t *json, json_t **resp, json_t **writes, struct cs_diag *d)
{
    json_t *req = json_pack("{s:s,s:s,s:{s:s,s:b}}", "method", method, "path", path, "merchant", "id", merchant,
                            "livemode", 0);
    if (json)
        json_object_set(req, "json", json);
    memset(d, 0, sizeof *d);
    int rc = plugins_handle(h, name, method, path, merchant, 0, req, resp, writes, d);
    json_decref(req);
    return rc;
}

/* GET /kv/{key} of plugin "kv" as mer_1: the value's JSON text, or "nil". */
static const char *get_text(struct plugins *h, const char *key, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/kv/%s", key);
    json_t *resp = NULL;
    struct cs_diag d;
    if (call(h, "kv", "GET", path, "mer_1", NULL, &resp, NULL, &d) != 0) {
        snprintf(buf, cap, "error: %.200s", d.message);
        return buf;
    }
    json_t *v = json_object_get(json_object_get(resp, "body"), "value");
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, cap, "%s", text ? text : "nil");
    free(text);
    json_decref(resp);
    return buf;
}

static void test_kv(struct plugins *h)
{
    char buf[256];
    json_t *resp = NULL, *w1 = NULL, *w2 = NULL;
    struct cs_diag d;
    json_t *val = json_pack("{s:i}", "n", 1);
    OK(call(h, "kv", "PUT", "/kv/a", "mer_1", val, &resp, &w1, &d) == 0, "put: %s", d.message);
    json_decref(val);
    EQ_STR(json_string_value(json_object_get(json_object_get(resp, "body"), "seen")), "{\"n\":1}",
           "the call reads its own write");
    json_decref(resp);
    EQ_INT(json_array_size(w1), 1, "one write handed over");
    EQ_STR(json_string_value(json_object_get(json_array_get(w1, 0), "key")), "a", "its key");
    EQ_STR(get_text(h, "a", buf, sizeof buf), "{\"n\":1}", "a later call sees the pending write");

    val = json_pack("{s:i}", "n", 2);
    OK(call(h, "kv", "PUT", "/kv/a", "mer_1", val, &resp, &w2, &d) == 0, "second put");
    json_decref(val);
    json_decref(resp);
    plugins_kv_settled(h, "kv", "mer_1", 0, w1);
    EQ_STR(get_text(h, "a", buf, sizeof buf), "{\"n\":2}", "settling the first batch keeps the later write");
    plugins_kv_settled(h, "kv", "mer_1", 0, w2);
    EQ_STR(get_text(h, "a", buf, sizeof buf), "nil", "settled and not in the store: gone (as if the commit failed)");
    json_decref(w1);
    json_decref(w2);

    json_object_set_new(store, "kv/mer_1/t/b", json_string("committed"));
    EQ_STR(get_text(h, "b", buf, sizeof buf), "\"committed\"", "the committed value");
    OK(call(h, "kv", "DELETE", "/kv/b", "mer_1", NULL, &resp, &w1, &d) == 0, "delete");
    json_decref(resp);
    OK(json_object_get(json_array_get(w1, 0), "value") == NULL, "a delete has no value");
    EQ_STR(get_text(h, "b", buf, sizeof buf), "nil", "a pending delete hides the committed value");
    plugins_kv_settled(h, "kv", "mer_1", 0, w1);
    json_decref(w1);
    json_object_del(store, "kv/mer_1/t/b");

    w1 = NULL;
    OK(call(h, "kv", "POST", "/raise", "mer_1", NULL, &resp, &w1, &d) == CS_EPLUGINFAIL, "a call that raises fails");
    OK(w1 == NULL && resp == NULL, "and hands over no write");
    EQ_STR(get_text(h, "half", buf, sizeof buf), "nil", "its write is dropped");

    OK(call(h, "kv", "POST", "/other", "mer_1", NULL, &resp, &w1, &d) == CS_EPLUGINFAIL, "another merchant's key");
    OK(strstr(d.message, "is not the merchant this call runs for") != NULL, "named: %s", d.message);
    OK(call(h, "kv", "POST", "/many", "mer_1", NULL, &resp, &w1, &d) == CS_EPLUGINFAIL, "too many writes");
    OK(strstr(d.message, "at most 32 writes per call") != NULL, "named: %s", d.message);
    OK(call(h, "kv", "POST", "/badkey", "mer_1", NULL, &resp, &w1, &d) == CS_EPLUGINFAIL, "a bad key");
    OK(strstr(d.message, "a key has 1 to 128 characters") != NULL, "named: %s", d.message);
    OK(call(h, "kv", "POST", "/function", "mer_1", NULL, &resp, &w1, &d) == CS_EPLUGINFAIL, "a function value");
    OK(w1 == NULL, "nothing handed over");
}

static void test_manifest_policies(void)
{
    char err[400];
    struct plugin_manifest m;
    const char *good = "{\"name\":\"p\",\"version\":\"1.0.0\",\"policies\":[\"risk.decide\",\"fees.compute\"]}";
    OK(plugin_manifest_parse("p", good, strlen(good), &m, err, sizeof err) == 0, "policies: %s", err);
    EQ_INT(m.npolicies, 2, "two policies");
    EQ_STR(m.policies[1], "fees.compute", "in order");
    struct { const char *text, *want; } bad[] = {
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"policies\":\"risk.decide\"}", "policies must be an array"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"policies\":[1]}", "policies[0]"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"policies\":[\"Risk\"]}", "policies[0]"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"policies\":[\"a\",\"a\"]}", "listed twice"},
        {"{\"name\":\"p\",\"version\":\"1.0.0\",\"policies\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}",
         "at most 8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = plugin_manifest_parse("p", bad[i].text, strlen(bad[i].text), &m, err, sizeof err);
        OK(rc != 0 && strstr(err, bad[i].want), "bad policies %zu: \"%s\" in \"%s\"", i, bad[i].want, err);
    }
}

static json_t *risk_input(const char *merchant, int livemode)
{
    return json_pack("{s:i,s:s,s:s,s:s,s:b,s:s,s:{s:s,s:s},s:{s:s}}", "amount", 30000, "currency", "EUR", "country",
                     "FR", "product", "pay_in_3", "livemode", livemode, "purchase_date", "2026-03-02", "customer",
                     "email", "a@example.com", "birth_date", "1990-01-01", "merchant", "id", merchant);
}

static const char *decide(struct policy_engine *e, json_t *in, char *buf, size_t cap)
{
    json_t *out = NULL;
    struct cs_diag d = {0};
    if (policy_call(e, "risk.decide", in, &out, &d) != 0)
        snprintf(buf, cap, "error: %s", d.message);
    else {
        const char *trail = json_string_value(json_object_get(out, "trail"));
        snprintf(buf, cap, "%s%s%s", json_string_value(json_object_get(out, "decision")), trail ? " " : "",
                 trail ? trail : "");
    }
    json_decref(out);
    json_decref(in);
    return buf;
}

static void test_policies(struct plugins *h)
{
    struct policy_engine *e = NULL;
    struct cs_diag d = {0};
    OK(policy_engine_new(NULL, &e, &d) == 0, "engine: %s", d.message);
    policy_engine_set_resolver(e, plugins_policy_call, h);
    char buf[300];
    EQ_STR(decide(e, risk_input("mer_1", 0), buf, sizeof buf), "approved", "nobody enrolled: the built-in");

    json_object_set_new(store, "pa/mer_1/t/on", json_true());
    EQ_STR(decide(e, risk_input("mer_1", 0), buf, sizeof buf), "review pa", "enrolled in pa: its override");
    EQ_STR(decide(e, risk_input("mer_2", 0), buf, sizeof buf), "approved", "another merchant");
    EQ_STR(decide(e, risk_input("mer_1", 1), buf, sizeof buf), "approved", "the other mode");
    json_t *no_mode = risk_input("mer_1", 0);
    json_object_del(no_mode, "livemode");
    EQ_STR(decide(e, no_mode, buf, sizeof buf), "approved", "without livemode no plugin applies (the built-in answers)");

    json_object_set_new(store, "pb/mer_1/t/on", json_true());
    EQ_STR(decide(e, risk_input("mer_1", 0), buf, sizeof buf), "review pa<pb", "chained in name order: pa, pb, base");

    json_object_del(store, "pa/mer_1/t/on");
    json_object_del(store, "pb/mer_1/t/on");
    json_object_set_new(store, "pc/mer_1/t/on", json_true());
    const char *r = decide(e, risk_input("mer_1", 0), buf, sizeof buf);
    OK(strstr(r, "plugin pc policy risk.decide") && strstr(r, "at most 8 calls"), "base() is bounded: %s", r);
    json_object_del(store, "pc/mer_1/t/on");

    json_object_set_new(store, "pd/mer_1/t/on", json_true());
    r = decide(e, risk_input("mer_1", 0), buf, sizeof buf);
    OK(strstr(r, "a policy override only decides") != NULL, "a policy cannot write: %s", r);
    json_object_del(store, "pd/mer_1/t/on");
    EQ_STR(decide(e, risk_input("mer_1", 0), buf, sizeof buf), "approved", "keys gone: nobody applies");
    policy_engine_free(e);
}

static void test_events(struct plugins *h)
{
    OK(plugins_subscribed(h, "ev", "order.shipped"), "order.* matches order.shipped");
    OK(plugins_subscribed(h, "ev", "payment.captured"), "the exact type");
    OK(!plugins_subscribed(h, "ev", "payment.failed"), "another type");
    OK(!plugins_subscribed(h, "ev", "plugin.kv_set"), "plugin.* never");
    OK(plugins_subscribed(h, "star", "refund.sent") && !plugins_subscribed(h, "star", "plugin.kv_deleted"),
       "* matches all but plugin.*");
    OK(plugins_has_subscriptions(h, "ev") && !plugins_has_subscriptions(h, "kv"), "has subscriptions");

    json_t *ev = json_pack("{s:s,s:I,s:s,s:b,s:s,s:{}}", "type", "order.shipped", "seq", (json_int_t)42,
                           "merchant", "mer_1", "livemode", 0, "aggregate_id", "ord_X", "data");
    json_t *cmds = NULL, *writes = NULL;
    struct cs_diag d = {0};
    OK(plugins_event(h, "ev", ev, &cmds, &writes, &d) == 0, "delivered: %s", d.message);
    EQ_INT(json_array_size(cmds), 2, "both matching handlers' commands, in order");
    EQ_STR(json_string_value(json_object_get(json_array_get(cmds, 0), "order")), "ord_X", "from the first");
    EQ_STR(json_string_value(json_object_get(json_array_get(cmds, 1), "op")), "cart", "from the second");
    EQ_INT(json_array_size(writes), 1, "its KV write");
    EQ_INT(json_integer_value(json_object_get(json_array_get(writes, 0), "value")), 42, "with the event's seq");
    plugins_kv_settled(h, "ev", "mer_1", 0, writes);
    json_decref(cmds);
    json_decref(writes);

    json_object_set_new(ev, "type", json_string("payment.captured"));
    OK(plugins_event(h, "ev", ev, &cmds, &writes, &d) == CS_EPLUGINFAIL, "a bad command fails the delivery");
    OK(strstr(d.message, "commands[0].op") != NULL, "named: %s", d.message);
    OK(cmds == NULL && writes == NULL, "nothing handed over");
    json_object_set_new(ev, "type", json_string("refund.sent"));
    OK(plugins_event(h, "star", ev, &cmds, &writes, &d) == CS_EPLUGINFAIL, "a handler returning a string");
    OK(strstr(d.message, "neither nil nor a table") != NULL, "named: %s", d.message);
    json_object_del(ev, "merchant");
    OK(plugins_event(h, "ev", ev, &cmds, &writes, &d) == CS_EPARAM, "an event without a merchant");
    json_decref(ev);
}

static void test_core_pieces(void)
{
    char a[CS_ID_BYTES_MAX], b[CS_ID_BYTES_MAX], c[CS_ID_BYTES_MAX];
    plugin_kv_aggregate("merchant_rules", "mer_01ABC", 0, a);
    plugin_kv_aggregate("merchant_rules", "mer_01ABC", 1, b);
    plugin_kv_aggregate("merchant_rules", "mer_01ABC", 0, c);
    OK(id_valid(a, "plg"), "shaped like an id: %s", a);
    OK(strcmp(a, b) != 0 && strcmp(a, c) == 0, "one per mode, stable");
    OK(!webhook_type_deliverable("plugin.kv_set") && !webhook_type_deliverable("plugin.kv_deleted"),
       "plugin.* events are not for webhooks");
    OK(webhook_type_deliverable("order.shipped"), "business events are");
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/caisse-plugin-host-XXXXXX");
    OK(mkdtemp(dir) != NULL, "temp dir");
    store = json_object();

    put("kv", "manifest.json", "{\"name\":\"kv\",\"version\":\"1.0.0\",\"routes\":[" ROUTE("PUT", "/kv/{key}") ","
        ROUTE("GET", "/kv/{key}") "," ROUTE("DELETE", "/kv/{key}") "," ROUTE("POST", "/raise") ","
        ROUTE("POST", "/other") "," ROUTE("POST", "/many") "," ROUTE("POST", "/badkey") ","
        ROUTE("POST", "/function") "]}");
    put("kv", "plugin.lua",
        "local function enc(v) if v == nil then return nil end\n"
        "  if type(v) == 'table' then return '{\"n\":' .. v.n .. '}' end return v end\n"
        "caisse.route('PUT', '/kv/{key}', function(r)\n"
        "  caisse.kv.put(r.merchant.id, r.params.key, r.json)\n"
        "  return {body = {seen = enc(caisse.kv.get(r.merchant.id, r.params.key))}} end)\n"
        "caisse.route('GET', '/kv/{key}', function(r)\n"
        "  return {body = {value = caisse.kv.get(r.merchant.id, r.params.key)}} end)\n"
        "caisse.route('DELETE', '/kv/{key}', function(r) caisse.kv.delete(r.merchant.id, r.params.key)\n"
        "  return {} end)\n"
        "caisse.route('POST', '/raise', function(r) caisse.kv.put(r.merchant.id, 'half', 1) error('no') end)\n"
        "caisse.route('POST', '/other', function(r) caisse.kv.put('mer_2', 'k', 1) return {} end)\n"
        "caisse.route('POST', '/many', function(r)\n"
        "  for i = 1, 33 do caisse.kv.put(r.merchant.id, 'k' .. i, i) end return {} end)\n"
        "caisse.route('POST', '/badkey', function(r) caisse.kv.put(r.merchant.id, 'a b', 1) return {} end)\n"
        "caisse.route('POST', '/function', function(r) caisse.kv.put(r.merchant.id, 'f', print or error)\n"
        "  return {} end)\n");
    /* overrides: each appends its name to `trail`, pa then pb */
    put("pa", "manifest.json", "{\"name\":\"pa\",\"version\":\"1.0.0\",\"policies\":[\"risk.decide\"]}");
    put("pa", "plugin.lua", "caisse.policy.override('risk.decide', function(input, base)\n"
        "  local out = base(input)\n"
        "  return {decision = 'review', trail = out.trail and ('pa<' .. out.trail) or 'pa'} end)\n");
    put("pb", "manifest.json", "{\"name\":\"pb\",\"version\":\"1.0.0\",\"policies\":[\"risk.decide\"]}");
    put("pb", "plugin.lua", "caisse.policy.override('risk.decide', function(input, base)\n"
        "  local out = base(input) out.trail = 'pb' return out end)\n");
    put("pc", "manifest.json", "{\"name\":\"pc\",\"version\":\"1.0.0\",\"policies\":[\"risk.decide\"]}");
    put("pc", "plugin.lua", "caisse.policy.override('risk.decide', function(input, base)\n"
        "  for i = 1, 9 do base(input) end return base(input) end)\n");
    put("pd", "manifest.json", "{\"name\":\"pd\",\"version\":\"1.0.0\",\"policies\":[\"risk.decide\"]}");
    put("pd", "plugin.lua", "caisse.policy.override('risk.decide', function(input, base)\n"
        "  caisse.kv.put(input.merchant.id, 'x', 1) return base(input) end)\n");
    put("ev", "manifest.json", "{\"name\":\"ev\",\"version\":\"1.0.0\"}");
    put("ev", "plugin.lua",
        "caisse.on_event('order.*', function(e)\n"
        "  caisse.kv.put(e.merchant, 'last', e.seq)\n"
        "  return {commands = {{op = 'ship', order = e.aggregate_id}}} end)\n"
        "caisse.on_event('order.shipped', function(e)\n"
        "  return {commands = {{op = 'cart', order = e.aggregate_id, params = {lines = {}, amount = 0}}}} end)\n"
        "caisse.on_event('payment.captured', function(e) return {commands = {{op = 'explode', order = 'x'}}} end)\n");
    put("star", "manifest.json", "{\"name\":\"star\",\"version\":\"1.0.0\"}");
    put("star", "plugin.lua", "caisse.on_event('*', function(e) return 'a string' end)\n");

    struct plugin_options po = {.dir = dir, .kv_get = kv_get, .kv_each = kv_each};
    struct plugins *h = NULL;
    struct cs_diag d = {0};
    OK(plugins_new(&po, &h, &d) == 0, "plugins: %s", d.message);
    json_t *list = plugins_list_json(h);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
        OK(strcmp(json_string_value(json_object_get(p, "status")), "loaded") == 0, "%s loads: %s",
           json_string_value(json_object_get(p, "name")), json_string_value(json_object_get(p, "error")));
    json_decref(list);

    test_kv(h);
    test_manifest_policies();
    test_policies(h);
    test_events(h);
    test_core_pieces();

    plugins_free(h);
    json_decref(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return tap_done();
}
