"""The plugin host API in the real server (docs/plugins.md): caisse.kv storage
recorded in the log (plugin.kv_* events, the plugin_kv projection rebuilt by
replay, kept out of webhooks), on_event subscriptions delivered after commit
with the sequence, from a durable position that survives a restart, with a
failing handler skipped alone; per-merchant policy overrides (the shipped
merchant_rules and country_policy_example plugins) consulted only for the
merchants that installed them; the `cart` command; bad manifests, a write to
another merchant's storage and commands on another merchant's objects
refused with nothing recorded; and `caisse plugin test` on the shipped
plugins and on failing tests."""
import json
import os
import shutil
import tempfile
import time
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli

PLUGINS = os.path.join(harness.ROOT, "plugins")
BR_CARD = "4000000760000002"        # issued in Brazil (docs/cards.md)


def manifest(name, routes=(), policies=None, version="1.0.0"):
    m = {"name": name, "version": version, "routes": [{"method": a, "path": b} for a, b in routes]}
    if policies is not None:
        m["policies"] = policies
    return json.dumps(m)


def write_plugin(root, name, lua, man):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write(man)
    with open(os.path.join(d, "plugin.lua"), "w") as f:
        f.write(lua)
    return d


# A key-value store over HTTP, and a write to another merchant's storage.
KVSTORE = """
caisse.route('PUT', '/kv/{key}', function(req)
  caisse.kv.put(req.merchant.id, req.params.key, req.json)
  -- read-your-writes inside the call
  return {body = {stored = caisse.kv.get(req.merchant.id, req.params.key)}}
end)
caisse.route('GET', '/kv/{key}', function(req)
  return {body = {value = caisse.kv.get(req.merchant.id, req.params.key) or caisse.null}}
end)
caisse.route('DELETE', '/kv/{key}', function(req)
  caisse.kv.delete(req.merchant.id, req.params.key)
  return {status = 204}
end)
caisse.route('POST', '/other', function(req)
  caisse.kv.put(req.json.merchant, 'stolen', 'yes')
  return {body = {}}
end)
caisse.route('POST', '/then-raise', function(req)
  caisse.kv.put(req.merchant.id, 'half', 'written')
  error('raised after a put')
end)
caisse.route('POST', '/cart', function(req)
  return {body = {}, commands = {{op = 'cart', order = req.json.order, params = req.json.params}}}
end)
caisse.route('POST', '/refund', function(req)
  return {body = {}, commands = {{op = 'refund', payment = req.json.payment, params = req.json.params}}}
end)
"""
KVSTORE_ROUTES = [("PUT", "/kv/{key}"), ("GET", "/kv/{key}"), ("DELETE", "/kv/{key}"), ("POST", "/other"),
                  ("POST", "/then-raise"), ("POST", "/cart"), ("POST", "/refund")]

# Ships the confirmed orders of the merchants that enabled it, and counts
# what it saw in its storage.
LISTENER = """
caisse.route('POST', '/enable', function(req)
  caisse.kv.put(req.merchant.id, 'auto_ship', true)
  return {body = {enabled = true}}
end)
caisse.route('GET', '/state', function(req)
  local m = req.merchant.id
  return {body = {seen = caisse.kv.get(m, 'seen') or 0, last_seq = caisse.kv.get(m, 'last_seq') or 0,
                  last_type = caisse.kv.get(m, 'last_type') or ''}}
end)
caisse.on_event('order.confirmed', function(ev)
  local m = ev.merchant
  if caisse.kv.get(m, 'auto_ship') ~= true then return nil end
  caisse.kv.put(m, 'seen', (caisse.kv.get(m, 'seen') or 0) + 1)
  caisse.kv.put(m, 'last_seq', ev.seq)
  caisse.kv.put(m, 'last_type', ev.type)
  return {commands = {{op = 'ship', order = ev.aggregate_id, params = {carrier = 'Listener'}}}}
end)
"""
LISTENER_ROUTES = [("POST", "/enable"), ("GET", "/state")]

# Fails on every cancelled order: retried, then skipped; never holds the others back.
RAISER = "caisse.on_event('order.cancelled', function(ev) error('cannot handle ' .. ev.type) end)\n"

# Enrolled merchants' checkouts go through an override that raises.
BADPOLICY = """
caisse.route('POST', '/enable', function(req)
  caisse.kv.put(req.merchant.id, 'on', true)
  return {body = {}}
end)
caisse.policy.override('risk.decide', function(input, base)
  error('broken rule for ' .. input.merchant.id)
end)
"""

BAD_MANIFESTS = {
    # folder: (plugin.lua, manifest, words expected in the error)
    "policiesnotarray": ("", manifest("policiesnotarray", policies="risk.decide"), "policies must be an array"),
    "policiesbadname": ("", manifest("policiesbadname", policies=["Risk Decide"]), "policies[0]"),
    "policiestwice": ("", manifest("policiestwice", policies=["risk.decide", "risk.decide"]), "listed twice"),
    "overridemissing": ("", manifest("overridemissing", policies=["risk.decide"]), "have no override"),
    "overrideundeclared": ("caisse.policy.override('plans.offer', function(i, b) return b(i) end)\n",
                           manifest("overrideundeclared"), "not listed in manifest.json"),
    "overridetwice": ("local f = function(i, b) return b(i) end\n"
                      "caisse.policy.override('risk.decide', f)\ncaisse.policy.override('risk.decide', f)\n",
                      manifest("overridetwice", policies=["risk.decide"]), "overridden twice"),
    "badpattern": ("caisse.on_event('Order.Shipped', function() end)\n", manifest("badpattern"), "a pattern is"),
    "pluginpattern": ("caisse.on_event('plugin.*', function() end)\n", manifest("pluginpattern"),
                      "not delivered to plugins"),
    "kvatload": ("caisse.kv.put('mer_x', 'k', 'v')\n", manifest("kvatload"), "only inside a handler"),
}


def setUpModule():
    global srv, pdir, tdir, token, op
    pdir = tempfile.mkdtemp(prefix="caisse-plugins-host-")
    tdir = tempfile.mkdtemp(prefix="caisse-plugins-host-token-")
    for name in ("merchant_rules", "country_policy_example"):
        shutil.copytree(os.path.join(PLUGINS, name), os.path.join(pdir, name))
    write_plugin(pdir, "kvstore", KVSTORE, manifest("kvstore", KVSTORE_ROUTES))
    write_plugin(pdir, "listener", LISTENER, manifest("listener", LISTENER_ROUTES))
    write_plugin(pdir, "raiser", RAISER, manifest("raiser"))
    write_plugin(pdir, "badpolicy", BADPOLICY, manifest("badpolicy", [("POST", "/enable")], ["risk.decide"]))
    for name, (lua, man, _) in BAD_MANIFESTS.items():
        write_plugin(pdir, name, lua, man)
    token = "op-" + str(harness.rng.randrange(10**12))
    tfile = os.path.join(tdir, "operator.token")
    with open(tfile, "w") as f:
        f.write(token + "\n")
    srv = Server(args=["--plugin-dir", pdir, "--operator-token-file", tfile]).start()
    op = srv.client(token)


def tearDownModule():
    op.close()
    srv.cleanup()
    shutil.rmtree(pdir, ignore_errors=True)
    shutil.rmtree(tdir, ignore_errors=True)
    harness.validate_exchanges()


def head_seq(server=None):
    return harness.head_seq(server or srv)


def plugin_entry(name, client=None):
    r = (client or op).get("/v1/plugins")
    assert r.status == 200, r
    return next((p for p in r.json["data"] if p["name"] == name), None)


def wait_for(fn, what, timeout=15):
    """Polls fn() until it returns a true value (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class MerchantCase(unittest.TestCase):
    """A merchant per test: rules and storage never leak between tests."""
    country = "FR"

    def setUp(self):
        self.m = create_merchant(srv.data, "Shop", self.country)
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def checkout(self, status=201, **kw):
        r = self.api.post("/v1/orders", order_body(**kw))
        self.assertEqual(r.status, status, r)
        return r.json

    def confirmed(self, **kw):
        o = self.checkout(**kw)
        r = self.api.post(f"/v1/orders/{o['id']}/confirm", {})
        self.assertEqual(r.status, 200, r)
        return r.json

    def billing(self, country, **kw):
        b = order_body(**kw)
        b["customer"]["billing_address"]["country"] = country
        return b


class Storage(MerchantCase):
    def test_put_get_delete_are_events_and_a_projection(self):
        r = self.api.request("PUT", "/plugins/kvstore/kv/colour", body={"name": "blue", "rgb": [0, 0, 255]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["stored"], {"name": "blue", "rgb": [0, 0, 255]}, "read-your-writes in the call")
        r = self.api.get("/plugins/kvstore/kv/colour")
        self.assertEqual(r.json["value"], {"name": "blue", "rgb": [0, 0, 255]})
        ev = self.api.get("/v1/events?type=plugin.kv_set").json["data"]
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["data"], {"plugin": "kvstore", "key": "colour", "value": {"name": "blue", "rgb": [0, 0, 255]}})
        self.assertEqual(ev[0]["actor"], "plugin:kvstore")
        self.assertTrue(ev[0]["aggregate_id"].startswith("plg_"), ev[0])

        # the same value again records nothing
        seq = head_seq()
        self.api.request("PUT", "/plugins/kvstore/kv/colour", body={"name": "blue", "rgb": [0, 0, 255]})
        self.assertEqual(head_seq(), seq)

        r = self.api.request("DELETE", "/plugins/kvstore/kv/colour")
        self.assertEqual(r.status, 204, r)
        self.assertIsNone(self.api.get("/plugins/kvstore/kv/colour").json["value"])
        ev = self.api.get("/v1/events?type=plugin.kv_deleted").json["data"]
        self.assertEqual([e["data"] for e in ev], [{"plugin": "kvstore", "key": "colour"}])
        seq = head_seq()
        self.api.request("DELETE", "/plugins/kvstore/kv/colour")
        self.assertEqual(head_seq(), seq, "deleting an absent key records nothing")

    def test_storage_is_per_merchant_and_mode(self):
        other = create_merchant(srv.data, "Other", "FR")
        api_other = srv.client(other["test_secret_key"])
        live = srv.client(self.m["live_secret_key"])
        try:
            self.api.request("PUT", "/plugins/kvstore/kv/k", body="mine")
            self.assertEqual(api_other.get("/plugins/kvstore/kv/k").json["value"], None)
            self.assertEqual(live.get("/plugins/kvstore/kv/k").json["value"], None)
            self.assertEqual(self.api.get("/plugins/kvstore/kv/k").json["value"], "mine")
        finally:
            api_other.close()
            live.close()

    def test_writing_another_merchants_storage_fails_and_records_nothing(self):
        other = create_merchant(srv.data, "Other", "FR")
        seq = head_seq()
        r = self.api.post("/plugins/kvstore/other", {"merchant": other["id"]})
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json["error"]["code"], "plugin_failed")
        self.assertIn("is not the merchant this call runs for", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)

    def test_a_handler_that_raises_writes_nothing(self):
        seq = head_seq()
        r = self.api.post("/plugins/kvstore/then-raise", {})
        self.assertEqual(r.status, 500, r)
        self.assertIn("raised after a put", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)
        self.assertIsNone(self.api.get("/plugins/kvstore/kv/half").json["value"])

    def test_bad_keys_and_values_fail_and_record_nothing(self):
        seq = head_seq()
        r = self.api.request("PUT", "/plugins/kvstore/kv/" + "k" * 129, body=1)
        self.assertEqual(r.status, 500, r)
        self.assertIn("a key has 1 to 128 characters", r.json["error"]["message"])
        r = self.api.request("PUT", "/plugins/kvstore/kv/big", body="x" * 17000)
        self.assertEqual(r.status, 500, r)
        self.assertIn("at most 16384 bytes", r.json["error"]["message"])
        r = self.api.request("PUT", "/plugins/kvstore/kv/nothing", body=None, raw="null",
                             headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 500, r)
        self.assertIn("a value is required", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)

    def test_plugin_events_are_not_webhook_types(self):
        r = self.api.post("/v1/webhook_endpoints", {"url": "https://example.com/hook",
                                                     "enabled_events": ["plugin.kv_set"]})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"]["param"], "enabled_events[0]")


class Commands(MerchantCase):
    def test_cart_command_edits_the_cart(self):
        o = self.confirmed(amount_lines=((10000, 3),))
        lines = [dict(l) for l in o["lines"]]
        lines[0]["quantity"] = 2
        lines = [{k: l[k] for k in ("type", "reference", "name", "unit_price", "quantity", "tax_rate")} for l in lines]
        r = self.api.post("/plugins/kvstore/cart", {"order": o["id"], "params": {"lines": lines, "amount": 20000}})
        self.assertEqual(r.status, 200, r)
        res = r.json["results"][0]
        self.assertEqual((res["op"], res["order"], res["status"]), ("cart", o["id"], 200), res)
        self.assertEqual(res["body"]["amount"], 20000)
        self.assertEqual(self.api.get(f"/v1/orders/{o['id']}").json["amount"], 20000)
        ev = self.api.get(f"/v1/events?type=order.cart_updated").json["data"]
        self.assertEqual(ev[0]["aggregate_id"], o["id"])
        self.assertTrue(ev[0]["actor"].startswith("api_key:"), ev[0])

    def test_cart_command_with_bad_lines_is_400_and_records_nothing(self):
        o = self.confirmed()
        seq = head_seq()
        r = self.api.post("/plugins/kvstore/cart", {"order": o["id"], "params": {"lines": [], "amount": 0}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["results"][0]["status"], 400)
        self.assertIn("param", r.json["results"][0]["body"]["error"])
        r = self.api.post("/plugins/kvstore/cart", {"order": o["id"], "params": {"amount": 1}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["results"][0]["body"]["error"]["param"], "lines")
        self.assertEqual(head_seq(), seq)

    def test_cart_on_another_merchants_order_is_404(self):
        other = create_merchant(srv.data, "Other", "FR")
        api_other = srv.client(other["test_secret_key"])
        try:
            o = api_other.post("/v1/orders", order_body()).json
            api_other.post(f"/v1/orders/{o['id']}/confirm", {})
            seq = head_seq()
            r = self.api.post("/plugins/kvstore/cart", {"order": o["id"], "params": {
                "lines": [{"type": "product", "reference": "SKU-0", "name": "Item 0", "unit_price": 10000,
                           "quantity": 1, "tax_rate": 2000}], "amount": 10000}})
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["results"][0]["body"]["error"]["code"], "resource_missing")
            self.assertEqual(head_seq(), seq)
            self.assertEqual(api_other.get(f"/v1/orders/{o['id']}").json["amount"], 30000)
        finally:
            api_other.close()


    def pay(self, api=None, amount=10000):
        r = (api or self.api).post("/v1/payments", {"amount": amount, "currency": "EUR", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        self.assertEqual(r.status, 201, r)
        return r.json

    def test_refund_command_refunds_a_payment(self):
        p = self.pay()
        r = self.api.post("/plugins/kvstore/refund", {"payment": p["id"], "params": {"amount": 2500,
                                                                                      "reason": "requested_by_customer"}})
        self.assertEqual(r.status, 200, r)
        res = r.json["results"][0]
        self.assertEqual((res["op"], res["payment"], res["status"]), ("refund", p["id"], 201), res)
        self.assertEqual((res["body"]["object"], res["body"]["amount"], res["body"]["status"]), ("refund", 2500, "pending"))
        self.assertEqual(self.api.get(f"/v1/payments/{p['id']}").json["amount_refunded"], 2500)
        # more than what is left is refused by the same rules as the API, and records nothing
        seq = head_seq()
        r = self.api.post("/plugins/kvstore/refund", {"payment": p["id"], "params": {"amount": 7501}})
        self.assertEqual((r.status, r.json["results"][0]["body"]["error"]["param"]), (400, "amount"), r)
        r = self.api.post("/plugins/kvstore/refund", {"payment": p["id"], "params": {"payment": p["id"]}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(head_seq(), seq)

    def test_refund_on_another_merchants_payment_is_404(self):
        other = create_merchant(srv.data, "Other", "FR")
        api_other = srv.client(other["test_secret_key"])
        try:
            p = self.pay(api_other)
            seq = head_seq()
            r = self.api.post("/plugins/kvstore/refund", {"payment": p["id"], "params": {}})
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["results"][0]["body"]["error"]["param"], "payment")
            self.assertEqual(head_seq(), seq)
            self.assertEqual(api_other.get(f"/v1/payments/{p['id']}").json["amount_refunded"], 0)
        finally:
            api_other.close()


class Events(MerchantCase):
    def state(self):
        return self.api.get("/plugins/listener/state").json

    def test_on_event_ships_confirmed_orders_after_commit(self):
        self.assertEqual(self.api.post("/plugins/listener/enable", {}).status, 200)
        o = self.confirmed()
        shipped = wait_for(lambda: self.api.get(f"/v1/orders/{o['id']}").json["status"] == "shipped" and
                           self.api.get(f"/v1/orders/{o['id']}").json, "the listener to ship")
        self.assertEqual(shipped["shipments"][0]["carrier"], "Listener")
        st = wait_for(lambda: self.state()["seen"] == 1 and self.state(), "the listener's storage")
        confirmed = self.api.get("/v1/events?type=order.confirmed").json["data"][0]
        self.assertEqual(st["last_seq"], confirmed["seq"], "the handler got the event's sequence")
        self.assertEqual(st["last_type"], "order.confirmed")
        ship_ev = self.api.get("/v1/events?type=order.shipped").json["data"][0]
        self.assertEqual(ship_ev["actor"], "plugin:listener")
        self.assertGreater(ship_ev["seq"], confirmed["seq"])
        entry = plugin_entry("listener")
        self.assertEqual(entry["events"], ["order.confirmed"])
        self.assertGreaterEqual(entry["delivery"]["position"], confirmed["seq"])
        self.assertGreaterEqual(entry["delivery"]["delivered"], 1)

    def test_merchants_that_did_not_enable_it_are_left_alone(self):
        o = self.confirmed()
        # the listener has handled this event once its position is past it
        seq = self.api.get("/v1/events?type=order.confirmed").json["data"][0]["seq"]
        wait_for(lambda: plugin_entry("listener")["delivery"]["position"] >= seq, "the listener to pass the event")
        self.assertEqual(self.api.get(f"/v1/orders/{o['id']}").json["status"], "confirmed")

    def test_a_failing_handler_is_skipped_and_holds_nobody_back(self):
        before = plugin_entry("raiser")["delivery"]
        o = self.confirmed()
        r = self.api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "customer_request"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.api.post("/plugins/listener/enable", {}).status, 200)
        o2 = self.confirmed()
        wait_for(lambda: self.api.get(f"/v1/orders/{o2['id']}").json["status"] == "shipped",
                 "the listener to go on while the raiser fails")
        after = wait_for(lambda: (lambda d: d["skipped"] > before["skipped"] and d)(plugin_entry("raiser")["delivery"]),
                         "the raiser to skip the event after its retries")
        self.assertGreaterEqual(after["failures"], before["failures"] + 3)
        self.assertIn("cannot handle order.cancelled", after["last_error"])


class RulesPlugin(MerchantCase):
    def rules(self, body, status=200):
        r = self.api.request("PUT", "/plugins/merchant_rules/rules", body=body)
        self.assertEqual(r.status, status, r)
        return r.json

    def test_orders_blocked_capped_and_sent_to_review(self):
        self.rules({"blocked_countries": ["ES"], "max_amount": {"EUR": 50000}, "review_above": {"EUR": 20000}})
        r = self.api.post("/v1/orders", self.billing("ES", amount_lines=((5000, 1),)))
        self.assertEqual((r.status, r.json["status"]), (201, "rejected"), r)
        self.assertEqual(self.checkout(amount_lines=((30000, 2),))["status"], "rejected", "over the cap")
        o = self.checkout(amount_lines=((10000, 3),))
        self.assertEqual((o["status"], o["risk_decision"]), ("pending", "review"), "above review_above")
        self.assertEqual(self.checkout(amount_lines=((5000, 2),))["status"], "approved")

    def test_another_merchant_and_live_mode_are_not_affected(self):
        self.rules({"blocked_countries": ["ES"]})
        other = create_merchant(srv.data, "Other", "FR")
        api_other = srv.client(other["test_secret_key"])
        try:
            r = api_other.post("/v1/orders", self.billing("ES"))
            self.assertEqual((r.status, r.json["status"]), (201, "approved"), r)
        finally:
            api_other.close()
        r = self.api.get("/plugins/merchant_rules/rules")
        self.assertEqual(r.json["rules"]["blocked_countries"], ["ES"])
        live = srv.client(self.m["live_secret_key"])
        try:
            self.assertIsNone(live.get("/plugins/merchant_rules/rules").json["rules"])
        finally:
            live.close()

    def test_card_payments_blocked_by_issuing_country_and_cap(self):
        self.rules({"blocked_countries": ["BR"], "max_amount": {"EUR": 50000}})

        def pay(number, amount):
            return self.api.post("/v1/payments", {"amount": amount, "currency": "EUR", "card": {
                "number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        r = pay(BR_CARD, 1000)
        self.assertEqual(r.status, 402, r)
        self.assertEqual(r.json["error"]["payment"]["risk"]["rule"], "merchant_rules.blocked_country")
        r = pay("4242424242424242", 60000)
        self.assertEqual(r.status, 402, r)
        self.assertEqual(r.json["error"]["payment"]["risk"]["rule"], "merchant_rules.max_amount")
        self.assertEqual(pay("4242424242424242", 1000).status, 201)

    def test_bad_rules_are_400_naming_the_field_and_record_nothing(self):
        seq = head_seq()
        for body, param in [({"blocked_countries": ["es"]}, "blocked_countries[0]"),
                            ({"max_amount": {"EUR": -1}}, "max_amount.EUR"),
                            ({"review_above": {"EUR": 1.5}}, "review_above.EUR"),
                            ({"colour": "red"}, "colour")]:
            r = self.rules(body, status=400)
            self.assertEqual(r["error"]["param"], param, body)
        self.assertEqual(head_seq(), seq)
        self.assertIsNone(self.api.get("/plugins/merchant_rules/rules").json["rules"])

    def test_deleting_the_rules_uninstalls_them(self):
        self.rules({"blocked_countries": ["ES"]})
        self.assertEqual(self.api.post("/v1/orders", self.billing("ES")).json["status"], "rejected")
        self.assertEqual(self.api.request("DELETE", "/plugins/merchant_rules/rules").status, 200)
        self.assertEqual(self.api.post("/v1/orders", self.billing("ES")).json["status"], "approved")

    def test_a_failing_override_fails_the_checkout_and_records_nothing(self):
        self.assertEqual(self.api.post("/plugins/badpolicy/enable", {}).status, 200)
        seq = head_seq()
        r = self.api.post("/v1/orders", order_body())
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json["error"]["code"], "policy_failed")
        self.assertIn("plugin badpolicy policy risk.decide", r.json["error"]["message"])
        self.assertIn("broken rule for", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)


class CountryPlugin(MerchantCase):
    def dispute_fee(self, api):
        p = api.post("/v1/payments", {"amount": 12000, "currency": "EUR", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        self.assertEqual(p.status, 201, p)
        d = api.post("/v1/test/disputes", {"payment": p.json["id"]})
        self.assertEqual(d.status, 201, d)
        return d.json["fee"], d.json["fee_vat"]

    def test_overseas_vat_on_the_dispute_fee(self):
        self.assertEqual(self.dispute_fee(self.api), (1500, 300), "mainland France: 20 %")
        r = self.api.request("PUT", "/plugins/country_policy_example/territory", body={"territory": "GP"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["vat_rates"]["standard"], 850)
        self.assertEqual(self.dispute_fee(self.api), (1500, 128), "Guadeloupe: 8.5 %")
        # checkouts still pass through country.rules (overridden for this merchant)
        self.assertEqual(self.checkout()["status"], "approved")

    def test_bad_territory_is_400_and_records_nothing(self):
        seq = head_seq()
        r = self.api.request("PUT", "/plugins/country_policy_example/territory", body={"territory": "XX"})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "territory"), r)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.dispute_fee(self.api), (1500, 300))


class Manifests(unittest.TestCase):
    def test_bad_policies_and_subscriptions_fail_their_plugin_only(self):
        for name, (_, _, words) in BAD_MANIFESTS.items():
            e = plugin_entry(name)
            self.assertEqual(e["status"], "failed", e)
            self.assertIn(words, e["error"], name)
        for name in ("merchant_rules", "country_policy_example", "kvstore", "listener", "raiser"):
            self.assertEqual(plugin_entry(name)["status"], "loaded", name)
        self.assertEqual(plugin_entry("merchant_rules")["policies"], ["risk.decide"])
        self.assertEqual(plugin_entry("country_policy_example")["policies"], ["country.rules", "fees.compute"])


class Restart(unittest.TestCase):
    """Delivery resumes from the recorded position: an event committed while
    the plugin was not loaded is delivered when it is back."""

    def test_delivery_resumes_after_a_restart(self):
        data = tempfile.mkdtemp(prefix="caisse-plugins-restart-")
        with_listener = tempfile.mkdtemp(prefix="caisse-plugins-with-")
        without = tempfile.mkdtemp(prefix="caisse-plugins-without-")
        write_plugin(with_listener, "listener", LISTENER, manifest("listener", LISTENER_ROUTES))
        s = None
        try:
            s = Server(data=data, args=["--plugin-dir", with_listener]).start()
            m = create_merchant(data, "Restart", "FR")
            api = s.client(m["test_secret_key"])
            self.assertEqual(api.post("/plugins/listener/enable", {}).status, 200)
            api.close()
            s.stop()

            s = Server(data=data, args=["--plugin-dir", without]).start()
            api = s.client(m["test_secret_key"])
            o = api.post("/v1/orders", order_body()).json
            self.assertEqual(api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
            self.assertEqual(api.get(f"/v1/orders/{o['id']}").json["status"], "confirmed",
                             "the listener is not loaded: nothing ships it")
            api.close()
            s.stop()

            s = Server(data=data, args=["--plugin-dir", with_listener]).start()
            api = s.client(m["test_secret_key"])
            wait_for(lambda: api.get(f"/v1/orders/{o['id']}").json["status"] == "shipped",
                     "the listener to catch up after the restart")
            self.assertEqual(api.get("/plugins/listener/state").json["seen"], 1)
            api.close()
            s.stop()
            self.assertIn("all projections equal", run_cli("replay", data=data).stdout)
        finally:
            if s:
                s.cleanup()
            for d in (data, with_listener, without):
                shutil.rmtree(d, ignore_errors=True)


class PluginTestCommand(unittest.TestCase):
    def test_the_shipped_plugins_pass_their_tests(self):
        for name in ("merchant_rules", "country_policy_example"):
            p = run_cli("plugin", "test", os.path.join(PLUGINS, name), check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("TAP version 13", p.stdout)
            self.assertNotIn("not ok", p.stdout)
            self.assertRegex(p.stdout, r"# \d+ passed, 0 failed")

    def test_a_failing_test_is_named_and_exits_1(self):
        root = tempfile.mkdtemp(prefix="caisse-plugin-test-")
        try:
            with open(os.path.join(PLUGINS, "merchant_rules", "plugin.lua")) as f:
                lua = f.read()
            with open(os.path.join(PLUGINS, "merchant_rules", "manifest.json")) as f:
                man = f.read().replace('"merchant_rules"', '"rules_copy"')
            d = write_plugin(root, "rules_copy", lua, man)
            p = run_cli("plugin", "test", d, check=False)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("1..0 # no tests", p.stdout)
            os.makedirs(os.path.join(d, "tests"))
            with open(os.path.join(d, "tests", "a_test.lua"), "w") as f:
                f.write("caisse.test('passes', function(t) t.eq(1, 1) end)\n"
                        "caisse.test('a wrong expectation', function(t)\n"
                        "  t.request('PUT', '/rules', {json = {blocked_countries = {'RU'}}})\n"
                        "  t.eq(t.kv.get(t.merchant, 'rules').blocked_countries, {'BY'})\n"
                        "end)\n"
                        "caisse.test('runs forever', function(t) while true do end end)\n"
                        "caisse.test('still runs after that', function(t) t.ok(true) end)\n")
            p = run_cli("plugin", "test", d, check=False)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("ok 1 - passes", p.stdout)
            self.assertIn("not ok 2 - a wrong expectation", p.stdout)
            self.assertIn('expected {"BY"}, got {"RU"}', p.stdout)
            self.assertIn("a_test.lua:4", p.stdout)
            self.assertIn("not ok 3 - runs forever", p.stdout)
            self.assertIn("instruction budget", p.stdout)
            self.assertIn("ok 4 - still runs after that", p.stdout)
            self.assertIn("# 2 passed, 2 failed", p.stdout)

            with open(os.path.join(d, "plugin.lua"), "a") as f:
                f.write("\nthis is not Lua\n")
            p = run_cli("plugin", "test", d, check=False)
            self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
            self.assertIn("Bail out! plugin rules_copy does not load", p.stdout)

            p = run_cli("plugin", "test", os.path.join(root, "missing"), check=False)
            self.assertEqual(p.returncode, 2)
            p = run_cli("plugin", "run", d, check=False)
            self.assertEqual(p.returncode, 2)
            self.assertIn("usage: caisse plugin test DIR", p.stderr)
        finally:
            shutil.rmtree(root, ignore_errors=True)


class ZReplay(unittest.TestCase):
    def test_replay_rebuilds_the_plugin_storage(self):
        m = create_merchant(srv.data, "Replay", "FR")
        api = srv.client(m["test_secret_key"])
        try:
            api.request("PUT", "/plugins/kvstore/kv/a", body={"n": 1})
            api.request("PUT", "/plugins/kvstore/kv/a", body={"n": 2})
            api.request("PUT", "/plugins/kvstore/kv/b", body="x")
            api.request("DELETE", "/plugins/kvstore/kv/b")
        finally:
            api.close()
        out = run_cli("replay", data=srv.data).stdout
        self.assertIn("plugin_kv", out)
        self.assertIn("all projections equal", out)


if __name__ == "__main__":
    unittest.main()
