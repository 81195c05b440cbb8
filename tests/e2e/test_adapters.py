"""The PrestaShop, Magento 2 and Shopify adapters (plugins/prestashop,
plugins/magento, plugins/shopify; docs/plugins.md) in the real server, loaded
from a copy of the repository's plugin folders: for each platform, its ship
mapping ships a confirmed order, its cancel mapping cancels one, a no-op status
records nothing, an unknown reference is 404, a malformed payload is 400 with
a clear message and a redelivered "shipped" notification changes nothing."""
import os
import shutil
import tempfile
import unittest

import harness
from harness import Server, create_merchant, order_body

ADAPTERS = ("prestashop", "magento", "shopify")


def setUpModule():
    global srv, m, api, pdir
    pdir = tempfile.mkdtemp(prefix="caisse-adapters-")
    for name in ADAPTERS:
        shutil.copytree(os.path.join(harness.ROOT, "plugins", name), os.path.join(pdir, name))
    srv = Server(args=["--plugin-dir", pdir]).start()
    m = create_merchant(srv.data, "Adapter shop", "FR")
    api = srv.client(m["test_secret_key"])


def tearDownModule():
    api.close()
    srv.cleanup()
    shutil.rmtree(pdir, ignore_errors=True)
    harness.validate_exchanges()


def head_seq():
    c = srv.client()
    try:
        return c.get("/healthz").json["head_seq"]
    finally:
        c.close()


def confirmed_order(reference):
    o = api.post("/v1/orders", order_body(reference=reference))
    assert o.status == 201, o
    r = api.post(f"/v1/orders/{o.json['id']}/confirm", {})
    assert r.status == 200, r
    return r.json


def status_of(order):
    return api.get(f"/v1/orders/{order['id']}").json["status"]


class AdapterCases:
    """The same six cases for each platform; subclasses say how to send."""
    name = None

    def new_ref(self):
        raise NotImplementedError

    def send(self, ref, kind):
        """kind: 'ship', 'ship2' (a second ship-like status), 'cancel', 'noop'."""
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
              "noop": (3, "Processing in progress")}

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

    def test_refunded_answers_a_note_and_records_nothing(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        seq = head_seq()
        r = api.post("/plugins/prestashop/webhook", self.payload(ref, (7, "Refunded")))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertIn("refund", r.json["note"])
        self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o), "confirmed")

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
              "cancel": ("canceled", "canceled"), "noop": ("processing", "processing")}

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

    def test_closed_answers_a_note_and_records_nothing(self):
        ref = self.new_ref()
        o = confirmed_order(ref)
        seq = head_seq()
        r = api.post("/plugins/magento/webhook", self.payload(ref, ("closed", "closed")))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertIn("refund", r.json["note"])
        self.assertEqual(head_seq(), seq)
        self.assertEqual(status_of(o), "confirmed")

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
    TOPICS = {"ship": "orders/fulfilled", "ship2": "orders/fulfilled", "cancel": "orders/cancelled",
              "noop": "orders/updated"}

    def new_ref(self):
        return f"#{harness.rng.randrange(1000, 10**9)}"

    def payload(self, ref, topic):
        n = int(ref[1:])
        return {"id": 820982911946154508 + n, "name": ref, "order_number": n, "currency": "EUR",
                "fulfillment_status": "fulfilled" if topic == "orders/fulfilled" else None,
                "cancelled_at": "2024-05-02T10:00:00-04:00" if topic == "orders/cancelled" else None,
                "cancel_reason": "customer" if topic == "orders/cancelled" else None,
                "line_items": [{"id": 1, "sku": "SKU-0", "quantity": 3}]}

    def send(self, ref, kind):
        topic = self.TOPICS[kind]
        return api.post("/plugins/shopify/webhook", self.payload(ref, topic),
                        headers={"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": "not-checked",
                                 "X-Shopify-Shop-Domain": "example.myshopify.com"})

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



if __name__ == "__main__":
    unittest.main()
