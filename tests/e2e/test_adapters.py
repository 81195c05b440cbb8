"""The WooCommerce, PrestaShop, Magento 2 and Shopify adapters (plugins/woocommerce,
plugins/prestashop, plugins/magento, plugins/shopify; docs/plugins.md) in the
real server, loaded from a copy of the repository's plugin folders: for each
platform, its ship mapping ships a confirmed order, its cancel mapping cancels
one, its refund mapping cancels an order not shipped yet and returns a shipped
(or partially shipped) one in full with everything paid refunded, a no-op
status records nothing, an unknown reference is 404, a malformed payload is
400 with a clear message and a redelivered notification changes nothing. Also
the plugins' `return` command itself (with and without lines), and each
adapter's own Lua tests (`caisse plugin test`)."""
import os
import shutil
import tempfile
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli

ADAPTERS = ("woocommerce", "prestashop", "magento", "shopify")

# A plugin that hands its request's command to the host as is: the `return`
# command (docs/plugins.md) tested on its own.
RETURNER_MANIFEST = """{"name": "returner", "version": "1.0.0", "description": "runs one return command",
 "routes": [{"method": "POST", "path": "/return"}]}"""
RETURNER_LUA = """
caisse.route("POST", "/return", function(request)
  return { status = 200, body = { asked = true },
           commands = { { op = "return", order = request.json.order, params = request.json.params } } }
end)
"""


def setUpModule():
    global srv, m, api, pdir
    pdir = tempfile.mkdtemp(prefix="caisse-adapters-")
    for name in ADAPTERS:
        shutil.copytree(os.path.join(harness.ROOT, "plugins", name), os.path.join(pdir, name))
    os.makedirs(os.path.join(pdir, "returner"))
    with open(os.path.join(pdir, "returner", "manifest.json"), "w") as f:
        f.write(RETURNER_MANIFEST)
    with open(os.path.join(pdir, "returner", "plugin.lua"), "w") as f:
        f.write(RETURNER_LUA)
    srv = Server(args=["--plugin-dir", pdir]).start()
    m = create_merchant(srv.data, "Adapter shop", "FR")
    api = srv.client(m["test_secret_key"])


def tearDownModule():
    api.close()
    srv.cleanup()
    shutil.rmtree(pdir, ignore_errors=True)
    harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


def confirmed_order(reference):
    o = api.post("/v1/orders", order_body(reference=reference))
    assert o.status == 201, o
    r = api.post(f"/v1/orders/{o.json['id']}/confirm", {})
    assert r.status == 200, r
    return r.json


def status_of(order):
    return api.get(f"/v1/orders/{order['id']}").json["status"]


def shipped_order(reference, lines=None, client=None):
    """A confirmed order shipped through the API (everything, or `lines`)."""
    c = client or api
    o = c.post("/v1/orders", order_body(reference=reference))
    assert o.status == 201, o
    r = c.post(f"/v1/orders/{o.json['id']}/confirm", {})
    assert r.status == 200, r
    r = c.post(f"/v1/orders/{o.json['id']}/shipments", {"lines": lines} if lines else {})
    assert r.status == 201, r
    return r.json


def events_of(order_id, type_, client=None):
    c = client or api
    return [e for e in c.get(f"/v1/events?object_id={order_id}").json["data"] if e["type"] == type_]


class AdapterCases:
    """The same six cases for each platform; subclasses say how to send."""
    name = None

    def new_ref(self):
        raise NotImplementedError

    def send(self, ref, kind):
        """kind: 'ship', 'ship2' (a second ship-like status), 'cancel', 'noop',
        'refund' (the platform's "the whole order was refunded")."""
        raise NotImplementedError

    def send_raw(self, body, **kw):
        raise NotImplementedError

    def test_ship_mapping_ships_a_confirmed_order(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = self.send(ref, "ship")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "ship")
        self.assertEqual(r.json["order"], o["id"])
        self.assertEqual(r.json["reference"], ref)
        self.assertEqual(r.json["results"][0]["status"], 201, r)
        self.assertEqual(r.json["results"][0]["body"]["status"], "shipped")
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "shipped")
        self.assertEqual(len(g["shipments"]), 1)

    def test_redelivered_ship_changes_nothing(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = self.send(ref, "ship")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "ship")
        seq = head_seq()
        for kind in ("ship", "ship", "ship2"):
            r = self.send(ref, kind)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["action"], "none", r)
            self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(len(api.get(f"/v1/orders/{o['id']}").json["shipments"]), 1)

    def test_cancel_mapping_cancels_a_confirmed_order(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = self.send(ref, "cancel")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "cancel")
        self.assertEqual(r.json["order"], o["id"])
        self.assertEqual(r.json["results"][0]["status"], 200, r)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "cancelled")
        self.assertEqual(g["cancellation"]["reason"], "customer_request")
        # redelivered: nothing more
        seq = head_seq()
        r = self.send(ref, "cancel")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertEqual(head_seq(), seq)

    def test_cancel_after_ship_is_409(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        self.assertEqual(self.send(ref, "ship").status, 200)
        seq = head_seq()
        r = self.send(ref, "cancel")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "state_invalid")
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o), "shipped")

    def test_no_op_status_changes_nothing(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        seq = head_seq()
        r = self.send(ref, "noop")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o), "confirmed")

    def test_unknown_reference_is_404(self):
        seq = head_seq()
        for kind in ("ship", "cancel"):
            r = self.send(self.new_ref(), kind)
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["error"]["code"], "resource_missing")
            self.assertIn("no caisse order with reference", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)

    def check_returned_in_full(self, o, r):
        """r: the refund notification's answer on the shipped order o."""
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "return", r)
        self.assertEqual(r.json["order"], o["id"])
        res = r.json["results"]
        self.assertEqual(len(res), 1, res)
        self.assertEqual((res[0]["op"], res[0]["order"], res[0]["status"]), ("return", o["id"], 201), res)
        self.assertEqual(res[0]["body"]["status"], "returned")
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "returned")
        self.assertGreater(g["amount_paid"], 0)
        self.assertEqual(g["amount_refunded"], g["amount_paid"], "everything paid is refunded")
        self.assertEqual(g["amount"], 0)
        self.assertEqual(len(g["returns"]), 1, g["returns"])
        ret = g["returns"][0]
        self.assertTrue(ret["full"])
        shipped = {l["reference"]: l["quantity_shipped"] for l in o["lines"] if l["type"] == "product"
                   and l["quantity_shipped"] > 0}
        self.assertEqual({l["reference"]: l["quantity"] for l in ret["lines"]}, shipped, "what was shipped came back")
        self.assertEqual([x["amount"] for x in g["refunds"]], [g["amount_paid"]], g["refunds"])
        self.assertEqual(g["refunds"][0]["status"], "refunded")
        self.assertTrue(all(l["quantity"] == 0 and l["quantity_shipped"] == 0 for l in g["lines"]
                            if l["type"] == "product"), g["lines"])
        self.assertEqual([i["status"] for i in g["plan"]["schedule"]], ["paid", "cancelled", "cancelled"])
        ev = events_of(o["id"], "order.returned")
        self.assertEqual(len(ev), 1, ev)
        self.assertTrue(ev[0]["actor"].startswith("api_key:"), ev[0])
        self.assertEqual(ev[0]["data"]["refund"]["amount"], g["amount_paid"])
        self.assertIsNone(ev[0]["data"]["next_charge"], "the schedule stops")
        return g

    def test_refund_of_a_shipped_order_returns_it_in_full(self):
        ref = self.new_ref()
        o = shipped_order(ref)
        self.assertEqual(o["status"], "shipped")
        self.check_returned_in_full(o, self.send(ref, "refund"))
        # redelivered: nothing more, whatever arrives after it
        seq = head_seq()
        for kind in ("refund", "refund", "ship"):
            r = self.send(ref, kind)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["action"], "none", r)
            self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(len(api.get(f"/v1/orders/{o['id']}").json["returns"]), 1)

    def test_refund_of_a_partially_shipped_order_returns_it_in_full(self):
        ref = self.new_ref()
        o = shipped_order(ref, lines=[{"reference": "SKU-0", "quantity": 1}])
        self.assertEqual(o["status"], "partially_shipped")
        g = self.check_returned_in_full(o, self.send(ref, "refund"))
        self.assertEqual(g["returns"][0]["lines"], [{"reference": "SKU-0", "quantity": 1, "amount": 10000}])
        self.assertEqual(g["returns"][0]["amount"], 10000)
        seq = head_seq()
        r = self.send(ref, "refund")
        self.assertEqual((r.status, r.json["action"]), (200, "none"), r)
        self.assertEqual(head_seq(), seq)

    def test_refund_of_a_confirmed_order_cancels_it(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = self.send(ref, "refund")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "cancel")
        self.assertEqual(r.json["order"], o["id"])
        self.assertEqual((r.json["results"][0]["op"], r.json["results"][0]["status"]), ("cancel", 200), r)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "cancelled")
        self.assertEqual(g["cancellation"]["reason"], "customer_request")
        self.assertEqual(g["cancellation"]["comment"], f"refunded in {self.platform} (order {ref})")
        self.assertGreater(g["amount_paid"], 0)
        self.assertEqual(g["amount_refunded"], g["amount_paid"])
        self.assertEqual([x["amount"] for x in g["refunds"]], [g["amount_paid"]])
        self.assertNotIn("order.returned", [e["type"] for e in api.get(f"/v1/events?object_id={o['id']}").json["data"]])
        ev = events_of(o["id"], "order.cancelled")
        self.assertEqual(len(ev), 1)
        self.assertTrue(ev[0]["actor"].startswith("api_key:"), ev[0])
        # redelivered, or cancelled and refunded both notified: nothing more
        seq = head_seq()
        for kind in ("refund", "cancel", "refund"):
            r = self.send(ref, kind)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["action"], "none", r)
            self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)

    def test_refund_of_an_order_never_paid_is_409(self):
        ref = self.new_ref()
        o = api.post("/v1/orders", order_body(reference=ref, email="camille+reject@example.com"))
        self.assertEqual(o.json["status"], "rejected", o)
        seq = head_seq()
        r = self.send(ref, "refund")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "state_invalid")
        self.assertIn("nothing to refund", r.json["error"]["message"])
        self.assertIn(o.json["id"], r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o.json), "rejected")

    def test_refund_of_an_unknown_reference_is_404(self):
        other = shipped_order(self.new_ref())
        seq = head_seq()
        r = self.send(self.new_ref(), "refund")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json["error"]["code"], "resource_missing")
        self.assertIn("no caisse order with reference", r.json["error"]["message"])
        self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(other), "shipped")

    def check_400(self, r, word):
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"]["type"], "invalid_request_error")
        self.assertIn(word, r.json["error"]["message"])

    def test_not_json_is_400(self):
        seq = head_seq()
        self.check_400(self.send_raw("not json", headers={"Content-Type": "text/plain"}), self.platform)
        self.assertEqual(head_seq(), seq)


class PrestaShop(AdapterCases, unittest.TestCase):
    platform = "PrestaShop"
    STATES = {"ship": (4, "Shipped"), "ship2": (5, "Delivered"), "cancel": (6, "Canceled"),
              "noop": (3, "Processing in progress"), "refund": (7, "Refunded")}

    def new_ref(self):
        return "".join(harness.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(9))

    def payload(self, ref, state):
        sid, sname = state
        return {"id_order": harness.rng.randrange(1, 10**6), "reference": ref, "id_customer": 7,
                "current_state": {"id": sid, "name": sname}, "total_paid": "300.00"}

    def send(self, ref, kind):
        return api.post("/plugins/prestashop/webhook", self.payload(ref, self.STATES[kind]))

    def send_raw(self, body, **kw):
        return api.post("/plugins/prestashop/webhook", raw=body, **kw)

    def test_delivered_ships_when_not_yet_shipped(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = self.send(ref, "ship2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "ship")
        self.assertEqual(status_of(o), "shipped")

    def test_refunded_state_id_as_string(self):
        ref = self.new_ref()
        o = shipped_order(ref)
        r = api.post("/plugins/prestashop/webhook", {"id_order": "12", "reference": ref, "current_state": "7"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["action"], r.json["prestashop_state"]), ("return", 7), r)
        self.assertNotIn("note", r.json)
        self.assertEqual(status_of(o), "returned")

    def test_state_id_as_string(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = api.post("/plugins/prestashop/webhook", {"id_order": "12", "reference": ref, "current_state": "4"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "ship")
        self.assertEqual(status_of(o), "shipped")

    def test_malformed_payloads_are_400(self):
        seq = head_seq()
        self.check_400(api.post("/plugins/prestashop/webhook", {"id_order": 12, "reference": "X"}), "current_state")
        self.check_400(api.post("/plugins/prestashop/webhook",
                                {"id_order": 12, "reference": "X", "current_state": {"name": "Shipped"}}),
                       "current_state")
        self.check_400(api.post("/plugins/prestashop/webhook", {"id_order": 12, "current_state": {"id": 4}}),
                       "reference")
        self.assertEqual(head_seq(), seq)


class Magento(AdapterCases, unittest.TestCase):
    platform = "Magento"
    STATES = {"ship": ("complete", "complete"), "ship2": ("complete", "complete"),
              "cancel": ("canceled", "canceled"), "noop": ("processing", "processing"),
              "refund": ("closed", "closed")}

    def new_ref(self):
        return f"{harness.rng.randrange(10**9):09d}"

    def payload(self, ref, state):
        st, status = state
        return {"order": {"entity_id": harness.rng.randrange(1, 10**6), "increment_id": ref, "state": st,
                          "status": status, "grand_total": 300.0, "order_currency_code": "EUR"}}

    def send(self, ref, kind):
        return api.post("/plugins/magento/webhook", self.payload(ref, self.STATES[kind]))

    def send_raw(self, body, **kw):
        return api.post("/plugins/magento/webhook", raw=body, **kw)

    def test_closed_echoes_the_state_and_no_note(self):
        ref = self.new_ref()
        shipped_order(ref)
        r = self.send(ref, "refund")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["magento_state"], r.json["magento_status"], r.json["action"]),
                         ("closed", "closed", "return"), r)
        self.assertNotIn("note", r.json)

    def test_leading_zeros_are_kept(self):
        ref = "000" + self.new_ref()
        o = confirmed_order(ref)
        r = self.send(ref, "ship")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["reference"], ref)
        self.assertEqual(status_of(o), "shipped")

    def test_malformed_payloads_are_400(self):
        seq = head_seq()
        self.check_400(api.post("/plugins/magento/webhook", {"increment_id": "1", "state": "complete"}), "order")
        self.check_400(api.post("/plugins/magento/webhook", {"order": {"increment_id": "1"}}), "order.state")
        self.check_400(api.post("/plugins/magento/webhook", {"order": {"state": "complete"}}), "increment_id")
        self.assertEqual(head_seq(), seq)


class Shopify(AdapterCases, unittest.TestCase):
    platform = "Shopify"
    # kind -> (X-Shopify-Topic, financial_status)
    TOPICS = {"ship": ("orders/fulfilled", "paid"), "ship2": ("orders/fulfilled", "paid"),
              "cancel": ("orders/cancelled", "voided"), "noop": ("orders/updated", "paid"),
              "refund": ("orders/updated", "refunded")}

    def new_ref(self):
        return f"#{harness.rng.randrange(1000, 10**9)}"

    def payload(self, ref, topic, financial_status=None):
        n = int(ref[1:])
        return {"id": 820982911946154508 + n, "name": ref, "order_number": n, "currency": "EUR",
                "financial_status": financial_status,
                "fulfillment_status": "fulfilled" if topic == "orders/fulfilled" else None,
                "cancelled_at": "2024-05-02T10:00:00-04:00" if topic == "orders/cancelled" else None,
                "cancel_reason": "customer" if topic == "orders/cancelled" else None,
                "line_items": [{"id": 1, "sku": "SKU-0", "quantity": 3}]}

    def send_topic(self, ref, topic, financial_status):
        return api.post("/plugins/shopify/webhook", self.payload(ref, topic, financial_status),
                        headers={"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": "not-checked",
                                 "X-Shopify-Shop-Domain": "example.myshopify.com"})

    def send(self, ref, kind):
        return self.send_topic(ref, *self.TOPICS[kind])

    def test_refunded_on_orders_paid_also_refunds(self):
        ref = self.new_ref()
        o = shipped_order(ref)
        r = self.send_topic(ref, "orders/paid", "refunded")
        self.assertEqual((r.status, r.json["action"], r.json["shopify_financial_status"]),
                         (200, "return", "refunded"), r)
        self.assertEqual(status_of(o), "returned")

    def test_cancelled_and_refunded_stays_a_cancel(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        r = self.send_topic(ref, "orders/cancelled", "refunded")
        self.assertEqual((r.status, r.json["action"]), (200, "cancel"), r)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["cancellation"]["comment"], f"cancelled in Shopify (order {ref})")
        self.assertEqual(g["amount_refunded"], g["amount_paid"])
        # a shipped order cancelled in Shopify: 409, the refund that follows returns it
        ref = self.new_ref()
        o = shipped_order(ref)
        seq = head_seq()
        r = self.send_topic(ref, "orders/cancelled", "refunded")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(head_seq(), seq)
        self.check_returned_in_full(o, self.send_topic(ref, "orders/updated", "refunded"))

    def test_partially_refunded_and_refunds_create_do_nothing(self):
        ref = self.new_ref()
        o = shipped_order(ref)
        seq = head_seq()
        for topic, fs in (("orders/updated", "partially_refunded"), ("orders/updated", "paid"),
                          ("refunds/create", "refunded"), ("orders/fulfilled", "refunded")):
            r = self.send_topic(ref, topic, fs)
            self.assertEqual((r.status, r.json["action"]), (200, "none"), (topic, fs, r))
            self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o), "shipped")

    def send_raw(self, body, headers=None, **kw):
        return api.post("/plugins/shopify/webhook", raw=body,
                        headers=dict(headers or {}, **{"X-Shopify-Topic": "orders/fulfilled"}), **kw)

    def test_missing_topic_is_400(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        seq = head_seq()
        self.check_400(api.post("/plugins/shopify/webhook", self.payload(ref, "orders/fulfilled")), "X-Shopify-Topic")
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o), "confirmed")

    def test_malformed_payloads_are_400(self):
        seq = head_seq()
        h = {"X-Shopify-Topic": "orders/fulfilled"}
        self.check_400(api.post("/plugins/shopify/webhook", {"name": "#1001"}, headers=h), "Shopify order")
        self.check_400(api.post("/plugins/shopify/webhook", {"id": 1}, headers=h), "name")
        self.assertEqual(head_seq(), seq)


class WooCommerce(AdapterCases, unittest.TestCase):
    platform = "WooCommerce"
    STATUSES = {"ship": "completed", "ship2": "completed", "cancel": "cancelled", "noop": "processing",
                "refund": "refunded"}

    def new_ref(self):
        return str(harness.rng.randrange(1000, 10**9))

    def send(self, ref, kind):
        return api.post("/plugins/woocommerce/webhook",
                        {"id": harness.rng.randrange(1, 10**6), "number": ref, "status": self.STATUSES[kind],
                         "currency": "EUR", "total": "300.00",
                         "line_items": [{"id": 1, "sku": "SKU-0", "quantity": 3}]})

    def send_raw(self, body, **kw):
        return api.post("/plugins/woocommerce/webhook", raw=body, **kw)

    def test_refunded_echoes_the_items(self):
        ref = self.new_ref()
        shipped_order(ref)
        r = self.send(ref, "refund")
        self.assertEqual((r.status, r.json["action"], r.json["woocommerce_status"]), (200, "return", "refunded"), r)
        self.assertEqual(r.json["items"], [{"sku": "SKU-0", "quantity": 3}])


class ReturnCommand(unittest.TestCase):
    """The `return` command a plugin hands the host (docs/plugins.md)."""

    def run_return(self, order_id, params):
        return api.post("/plugins/returner/return", {"order": order_id, "params": params})

    def test_with_lines_is_a_partial_return(self):
        o = shipped_order(f"RET-{harness.rng.randrange(10**9)}")
        r = self.run_return(o["id"], {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 200, r)
        res = r.json["results"][0]
        self.assertEqual((res["op"], res["order"], res["status"]), ("return", o["id"], 201), res)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "shipped")
        self.assertEqual(g["amount"], 20000)
        self.assertEqual(g["returns"][0]["lines"], [{"reference": "SKU-0", "quantity": 1, "amount": 10000}])
        self.assertFalse(g["returns"][0]["full"])
        ev = events_of(o["id"], "order.returned")
        self.assertEqual(len(ev), 1)
        self.assertTrue(ev[0]["actor"].startswith("api_key:"), ev[0])
        # then {}: the rest comes back, and everything paid is refunded
        r = self.run_return(o["id"], {})
        self.assertEqual(r.json["results"][0]["status"], 201, r)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "returned")
        self.assertEqual([x["lines"] for x in g["returns"]],
                         [[{"reference": "SKU-0", "quantity": 1, "amount": 10000}],
                          [{"reference": "SKU-0", "quantity": 2, "amount": 20000}]])
        self.assertEqual(g["amount_refunded"], g["amount_paid"])
        # nothing is left to return
        seq = head_seq()
        r = self.run_return(o["id"], {})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["results"][0]["body"]["error"]["code"], "state_invalid")
        self.assertEqual(head_seq(), seq)

    def test_bad_params_are_400_naming_the_field_and_record_nothing(self):
        o = shipped_order(f"RET-{harness.rng.randrange(10**9)}")
        for params, param in [
                ({"lines": [{"reference": "SKU-0", "quantity": 4}]}, "lines[0].quantity"),
                ({"lines": [{"reference": "NOPE", "quantity": 1}]}, "lines[0].reference"),
                ({"lines": [{"reference": "SKU-0", "quantity": 0}]}, "lines[0].quantity"),
                ({"lines": [{"reference": "SKU-0"}]}, "lines[0].quantity"),
                ({"lines": []}, "lines"),
                ({"lines": [{"reference": "SKU-0", "quantity": 1}], "carrier": "Colissimo"}, "carrier"),
                ({"everything": True}, "everything")]:
            seq = head_seq()
            r = self.run_return(o["id"], params)
            self.assertEqual(r.status, 400, (params, r))
            res = r.json["results"][0]
            self.assertEqual((res["op"], res["status"]), ("return", 400), res)
            self.assertEqual(res["body"]["error"].get("param"), param, (params, res))
            self.assertEqual(head_seq(), seq)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual((g["status"], g["returns"], g["amount_refunded"]), ("shipped", [], 0))

    def test_an_unshipped_order_or_another_merchants_is_refused(self):
        o = confirmed_order(f"RET-{harness.rng.randrange(10**9)}")
        seq = head_seq()
        r = self.run_return(o["id"], {})
        self.assertEqual(r.status, 409, r)
        self.assertIn("only shipped goods", r.json["results"][0]["body"]["error"]["message"])
        other = create_merchant(srv.data, "Other shop", "FR")
        api_other = srv.client(other["test_secret_key"])
        try:
            theirs = shipped_order(f"RET-{harness.rng.randrange(10**9)}", client=api_other)
            seq = head_seq()
            r = self.run_return(theirs["id"], {})
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["results"][0]["body"]["error"]["code"], "resource_missing")
            self.assertEqual(head_seq(), seq)
            self.assertEqual(api_other.get(f"/v1/orders/{theirs['id']}").json["status"], "shipped")
        finally:
            api_other.close()
        self.assertEqual(status_of(o), "confirmed")

    def test_the_api_still_requires_lines(self):
        o = shipped_order(f"RET-{harness.rng.randrange(10**9)}")
        seq = head_seq()
        r = api.post(f"/v1/orders/{o['id']}/returns", {})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"]["param"], "lines")
        self.assertEqual(head_seq(), seq)


class CompletedOrder(unittest.TestCase):
    def test_refund_of_a_completed_order_refunds_every_instalment(self):
        m2 = create_merchant(srv.data, "Completed shop", "FR")   # its own test clock
        c = srv.client(m2["test_secret_key"])
        try:
            ref = "".join(harness.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(9))
            o = shipped_order(ref, client=c)
            r = c.post("/v1/test_clock/advance", {"seconds": 70 * 86400})
            self.assertEqual(r.status, 200, r)
            g = c.get(f"/v1/orders/{o['id']}").json
            self.assertEqual(g["status"], "completed", g)
            paid = g["amount_paid"]
            self.assertGreaterEqual(paid, 30000)
            r = c.post("/plugins/prestashop/webhook", {"id_order": 3, "reference": ref,
                                                       "current_state": {"id": 7, "name": "Refunded"}})
            self.assertEqual((r.status, r.json["action"]), (200, "return"), r)
            g = c.get(f"/v1/orders/{o['id']}").json
            self.assertEqual(g["status"], "returned")
            self.assertEqual(g["amount_refunded"], paid)
            self.assertEqual([x["amount"] for x in g["refunds"]], [paid])
            self.assertEqual([i["status"] for i in g["plan"]["schedule"]], ["paid", "paid", "paid"])
        finally:
            c.close()


class LuaTests(unittest.TestCase):
    def test_each_adapter_passes_its_own_tests(self):
        for name in ADAPTERS:
            p = run_cli("plugin", "test", os.path.join(harness.ROOT, "plugins", name), check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertNotIn("not ok", p.stdout)
            self.assertRegex(p.stdout, r"# [1-9]\d* passed, 0 failed")


class ZReplay(unittest.TestCase):
    def test_replay_rebuilds_equal_projections(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
