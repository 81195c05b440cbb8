"""An order's life after checkout, end to end: cancel (with its reasons and the
states that refuse it), shipments (all at once, in parts, and every way to get
one wrong), idempotent retries, the activity feed, and the checkout refusing a
product reference twice. Every refused request must leave the log unchanged
(head_seq from /healthz) and the order byte for byte as it was."""
import hashlib
import json
import re
import threading
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli

RFC3339_US = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
CROCKFORD = "[0-9A-HJKMNP-TV-Z]{26}"


def setUpModule():
    global srv, m, m2, api, api_live, api_other
    srv = Server().start()
    m = create_merchant(srv.data, "Vélos Lyon", "FR")
    m2 = create_merchant(srv.data, "Bicis Sevilla", "ES")
    api = srv.client(m["test_secret_key"])
    api_live = srv.client(m["live_secret_key"])
    api_other = srv.client(m2["test_secret_key"])


def tearDownModule():
    for c in (api, api_live, api_other):
        c.close()
    srv.cleanup()
    harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


def actor_of(key):
    return "api_key:" + hashlib.sha256(key.encode()).hexdigest()[:12]


# Products SKU-0 (19.99 x 3) and SKU-1 (45.50 x 2), a handling line with a
# reference and a discount with one: odd cents everywhere.
PRODUCTS = ((1999, 3), (4550, 2))
HANDLING = 490
DISCOUNT = 1234


def checkout(c=None, products=PRODUCTS, handling=HANDLING, discount=DISCOUNT, email=None, **kw):
    c = c or api
    body = order_body(products, email=email, **kw)
    if handling is not None:
        body["lines"].append({"type": "handling", "reference": "DELIVERY", "name": "Livraison", "unit_price": handling,
                              "quantity": 1, "tax_rate": 2000})
        body["amount"] += handling
    if discount is not None:
        body["lines"].append({"type": "discount", "reference": "PROMO10", "name": "Remise", "unit_price": discount})
        body["amount"] -= discount
    r = c.post("/v1/orders", body)
    assert r.status == 201, r
    return r.json


def confirmed(c=None, **kw):
    c = c or api
    o = checkout(c, **kw)
    assert o["status"] == "approved", o
    r = c.post(f"/v1/orders/{o['id']}/confirm", {})
    assert r.status == 200, r
    return r.json


def product_lines(o):
    return [l for l in o["lines"] if l["type"] == "product"]


def shipped_qty(o):
    return {l["reference"]: l["quantity_shipped"] for l in product_lines(o)}


class Base(unittest.TestCase):
    def get(self, o, c=None):
        r = (c or api).get(f"/v1/orders/{o['id'] if isinstance(o, dict) else o}")
        self.assertEqual(r.status, 200, r)
        return r

    def refused(self, path, body, status, code=None, param=None, c=None, raw=None, headers=None):
        """POSTs and checks the refusal, that the log did not grow and that the
        order (its id is the third path segment) reads the same as before."""
        c = c or api
        oid = path.split("/")[3]
        before = api.get(f"/v1/orders/{oid}")
        seq = head_seq()
        if raw is not None:
            r = c.request("POST", path, raw=raw, headers={"Content-Type": "application/json"})
        else:
            r = c.post(path, body, headers=headers)
        self.assertEqual(r.status, status, (path, body, r))
        err = r.json["error"]
        self.assertTrue(err["message"])
        if code is not None:
            self.assertEqual(err["code"], code, r)
        if param is not None:
            self.assertEqual(err.get("param"), param, r)
        self.assertEqual(head_seq(), seq, "a refused request appends nothing")
        after = api.get(f"/v1/orders/{oid}")
        self.assertEqual((after.status, after.body), (before.status, before.body), "the order is unchanged")
        return r

    def check_new_fields_fresh(self, o):
        self.assertIsNone(o["cancellation"])
        self.assertEqual(o["shipments"], [])
        self.assertEqual(o["shipped_amount"], 0)
        self.assertTrue(all(l["quantity_shipped"] == 0 for l in o["lines"]), o["lines"])


# ---- cancel ---------------------------------------------------------------------------


class Cancel(Base):
    def test_new_orders_carry_the_new_fields(self):
        o = checkout()
        self.assertEqual(o["status"], "approved")
        self.assertIsNone(o["customer_id"])
        self.check_new_fields_fresh(o)
        c = api.post(f"/v1/orders/{o['id']}/confirm", {}).json
        self.assertRegex(c["customer_id"], f"^cus_{CROCKFORD}$")
        self.check_new_fields_fresh(c)

    def test_cancel_approved_order(self):
        o = checkout()
        r = api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "customer_request", "comment": "Changed her mind"})
        self.assertEqual(r.status, 200, r)
        c = r.json
        self.assertEqual(c["id"], o["id"])
        self.assertEqual(c["status"], "cancelled")
        self.assertEqual(c["version"], o["version"] + 1)
        self.assertEqual(set(c["cancellation"]), {"reason", "comment", "cancelled_at"})
        self.assertEqual(c["cancellation"]["reason"], "customer_request")
        self.assertEqual(c["cancellation"]["comment"], "Changed her mind")
        self.assertRegex(c["cancellation"]["cancelled_at"], RFC3339_US)
        self.assertGreaterEqual(c["cancellation"]["cancelled_at"], o["created"])
        self.assertIsNone(c["customer_id"], "never confirmed: no customer")
        self.assertIsNone(c["confirmed_at"])
        self.assertEqual(c["shipments"], [])
        self.assertEqual(self.get(o).json, c)
        ids = [x["id"] for x in api.get("/v1/orders?status=cancelled&limit=100").json["data"]]
        self.assertIn(o["id"], ids)
        # the cancelled order cannot be confirmed any more
        self.refused(f"/v1/orders/{o['id']}/confirm", {}, 409, "state_invalid")
        ev = api.get(f"/v1/events?object_id={o['id']}").json["data"]
        self.assertEqual([e["type"] for e in ev], ["order.created", "order.approved", "order.cancelled"])
        self.assertEqual({k: ev[2]["data"].get(k) for k in ("reason", "comment", "cancelled_at")},
                         c["cancellation"])
        self.assertEqual(ev[2]["aggregate_version"], 3)

    def test_cancel_confirmed_order_without_comment(self):
        o = confirmed()
        r = api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "out_of_stock"})
        self.assertEqual(r.status, 200, r)
        c = r.json
        self.assertEqual(c["status"], "cancelled")
        self.assertEqual(c["cancellation"]["reason"], "out_of_stock")
        self.assertIsNone(c["cancellation"]["comment"])
        self.assertEqual(c["customer_id"], o["customer_id"], "the customer stays")
        self.assertEqual(c["confirmed_at"], o["confirmed_at"])
        self.assertEqual(c["version"], 4)
        self.assertEqual(c["shipped_amount"], 0)

    def test_cancel_order_in_review(self):
        o = checkout(email="camille+review@example.com")
        self.assertEqual((o["status"], o["risk_decision"]), ("pending", "review"))
        r = api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "fraud_suspected"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "cancelled")
        self.assertEqual(r.json["risk_decision"], "review")

    def test_every_reason_is_accepted_and_the_longest_comment(self):
        for reason in ("customer_request", "out_of_stock", "fraud_suspected", "duplicate_order",
                       "delivery_impossible", "other"):
            with self.subTest(reason=reason):
                o = checkout()
                # at the limit however it is counted (500 characters of 1 byte, or of 2 bytes)
                comment = "x" * 500 if reason < "f" else "é" * 250
                r = api.post(f"/v1/orders/{o['id']}/cancel", {"reason": reason, "comment": comment})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["cancellation"]["reason"], reason)
                self.assertEqual(r.json["cancellation"]["comment"], comment)

    def test_cancel_twice_is_a_conflict(self):
        o = checkout()
        self.assertEqual(api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "duplicate_order"}).status, 200)
        self.refused(f"/v1/orders/{o['id']}/cancel", {"reason": "duplicate_order"}, 409, "state_invalid")
        self.refused(f"/v1/orders/{o['id']}/cancel", {"reason": "other"}, 409, "state_invalid")

    def test_cancel_rejected_is_a_conflict(self):
        o = checkout(email="camille+reject@example.com")
        self.assertEqual(o["status"], "rejected")
        self.refused(f"/v1/orders/{o['id']}/cancel", {"reason": "fraud_suspected"}, 409, "state_invalid")

    def test_cancel_after_a_shipment_points_to_returns(self):
        o = confirmed()
        r = api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "partially_shipped")
        r = self.refused(f"/v1/orders/{o['id']}/cancel", {"reason": "customer_request"}, 409, "state_invalid")
        self.assertIn("return", r.json["error"]["message"].lower())
        # and once fully shipped, the same
        self.assertEqual(api.post(f"/v1/orders/{o['id']}/shipments", {}).json["status"], "shipped")
        r = self.refused(f"/v1/orders/{o['id']}/cancel", {"reason": "customer_request"}, 409, "state_invalid")
        self.assertIn("return", r.json["error"]["message"].lower())

    def test_bad_bodies(self):
        o = checkout()
        path = f"/v1/orders/{o['id']}/cancel"
        self.refused(path, {}, 400, "parameter_missing", "reason")
        self.refused(path, {"comment": "no reason"}, 400, "parameter_missing", "reason")
        self.refused(path, {"reason": "changed_mind"}, 400, "parameter_invalid", "reason")
        self.refused(path, {"reason": "Customer_Request"}, 400, "parameter_invalid", "reason")
        self.refused(path, {"reason": 3}, 400, "parameter_invalid", "reason")
        self.refused(path, {"reason": None}, 400, None, "reason")
        self.refused(path, {"reason": "other", "colour": "red"}, 400, "parameter_unknown", "colour")
        self.refused(path, {"reason": "other", "comment": ""}, 400, None, "comment")
        self.refused(path, {"reason": "other", "comment": "x" * 501}, 400, None, "comment")
        self.refused(path, {"reason": "other", "comment": 5}, 400, "parameter_invalid", "comment")
        self.refused(path, None, 400, "json_invalid", raw='{"reason": ')
        self.refused(path, None, 400, "json_invalid", raw='["other"]')
        self.assertEqual(self.get(o).json["status"], "approved")


# ---- shipments -------------------------------------------------------------------------


class Ship(Base):
    def test_everything_in_one_go(self):
        o = confirmed()
        products = sum(l["amount"] for l in product_lines(o))
        self.assertNotEqual(products, o["amount"], "handling and discount make a difference")
        r = api.post(f"/v1/orders/{o['id']}/shipments", {"carrier": "Colissimo", "tracking_number": "6A19283746501"})
        self.assertEqual(r.status, 201, r)
        s = r.json
        self.assertEqual(s["status"], "shipped")
        self.assertEqual(s["version"], 4)
        self.assertEqual(s["shipped_amount"], o["amount"])
        self.assertEqual(shipped_qty(s), {"SKU-0": 3, "SKU-1": 2})
        self.assertEqual(len(s["shipments"]), 1)
        sh = s["shipments"][0]
        self.assertRegex(sh["id"], f"^shp_{CROCKFORD}$")
        self.assertEqual(sh["amount"], o["amount"], "the completing shipment carries handling and discount")
        self.assertEqual((sh["carrier"], sh["tracking_number"]), ("Colissimo", "6A19283746501"))
        self.assertRegex(sh["shipped_at"], RFC3339_US)
        by_ref = {l["reference"]: l for l in sh["lines"]}
        self.assertEqual((by_ref["SKU-0"]["quantity"], by_ref["SKU-0"]["amount"]), (3, 5997))
        self.assertEqual((by_ref["SKU-1"]["quantity"], by_ref["SKU-1"]["amount"]), (2, 9100))
        for k in ("id", "reference", "amount", "customer", "plan", "confirmed_at", "customer_id", "created",
                  "cancellation"):
            self.assertEqual(s[k], o[k], k)
        strip = lambda lines: [{x: v for x, v in l.items() if x != "quantity_shipped"} for l in lines]
        self.assertEqual(strip(s["lines"]), strip(o["lines"]))
        self.assertEqual(self.get(o).json, s)
        ev = api.get(f"/v1/events?object_id={o['id']}&type=order.shipped").json["data"]
        self.assertEqual(len(ev), 1)
        self.assertEqual({k: ev[0]["data"].get(k) for k in ("shipment", "shipped_amount", "status")},
                         {"shipment": sh, "shipped_amount": o["amount"], "status": "shipped"})
        # nothing is left: shipping again is a conflict, with or without lines
        self.refused(f"/v1/orders/{o['id']}/shipments", {}, 409, "state_invalid")
        self.refused(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 1}]}, 409,
                     "state_invalid")

    def test_without_handling_or_discount(self):
        o = confirmed(products=((6000, 1),), handling=None, discount=None)
        r = api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["status"], r.json["shipped_amount"]), ("shipped", 6000))
        sh = r.json["shipments"][0]
        self.assertEqual(sh["lines"], [{"reference": "SKU-0", "quantity": 1, "amount": 6000}])
        self.assertEqual(sh["amount"], 6000)
        self.assertIsNone(sh["carrier"])
        self.assertIsNone(sh["tracking_number"])

    def test_partial_shipments_accumulate_to_the_cent(self):
        o = confirmed()
        self.assertEqual(o["amount"], 5997 + 9100 + HANDLING - DISCOUNT)
        path = f"/v1/orders/{o['id']}/shipments"
        r1 = api.post(path, {"lines": [{"reference": "SKU-0", "quantity": 2}], "carrier": "DPD"})
        self.assertEqual(r1.status, 201, r1)
        s1 = r1.json
        self.assertEqual(s1["status"], "partially_shipped")
        self.assertEqual(s1["shipped_amount"], 3998)
        self.assertEqual(shipped_qty(s1), {"SKU-0": 2, "SKU-1": 0})
        self.assertEqual(len(s1["shipments"]), 1)
        self.assertEqual(s1["shipments"][0]["amount"], 3998)
        self.assertEqual(s1["shipments"][0]["lines"], [{"reference": "SKU-0", "quantity": 2, "amount": 3998}])
        self.assertEqual(s1["shipments"][0]["carrier"], "DPD")
        self.assertIsNone(s1["shipments"][0]["tracking_number"])
        ids = [x["id"] for x in api.get("/v1/orders?status=partially_shipped&limit=100").json["data"]]
        self.assertIn(o["id"], ids)

        r2 = api.post(path, {"lines": [{"reference": "SKU-1", "quantity": 1}]})
        self.assertEqual(r2.status, 201, r2)
        s2 = r2.json
        self.assertEqual(s2["status"], "partially_shipped")
        self.assertEqual(s2["shipped_amount"], 3998 + 4550)
        self.assertEqual(shipped_qty(s2), {"SKU-0": 2, "SKU-1": 1})
        self.assertEqual(s2["shipments"][0], s1["shipments"][0], "earlier shipments are kept as they were")
        self.assertEqual(s2["shipments"][1]["lines"], [{"reference": "SKU-1", "quantity": 1, "amount": 4550}])

        r3 = api.post(path, {})   # everything left: SKU-0 x1, SKU-1 x1, handling and discount
        self.assertEqual(r3.status, 201, r3)
        s3 = r3.json
        self.assertEqual(s3["status"], "shipped")
        self.assertEqual(s3["version"], 6)
        self.assertEqual(shipped_qty(s3), {"SKU-0": 3, "SKU-1": 2})
        self.assertEqual(len(s3["shipments"]), 3)
        last = s3["shipments"][2]
        self.assertEqual(last["amount"], 1999 + 4550 + HANDLING - DISCOUNT)
        by_ref = {l["reference"]: l for l in last["lines"]}
        self.assertEqual((by_ref["SKU-0"]["quantity"], by_ref["SKU-0"]["amount"]), (1, 1999))
        self.assertEqual((by_ref["SKU-1"]["quantity"], by_ref["SKU-1"]["amount"]), (1, 4550))
        self.assertEqual(sum(x["amount"] for x in s3["shipments"]), o["amount"])
        self.assertEqual(s3["shipped_amount"], o["amount"])
        self.assertEqual(len({x["id"] for x in s3["shipments"]}), 3, "each shipment has its own id")
        at = [x["shipped_at"] for x in s3["shipments"]]
        self.assertEqual(at, sorted(at))
        ids = [x["id"] for x in api.get("/v1/orders?status=shipped&limit=100").json["data"]]
        self.assertIn(o["id"], ids)
        ids = [x["id"] for x in api.get("/v1/orders?status=partially_shipped&limit=100").json["data"]]
        self.assertNotIn(o["id"], ids)
        ev = api.get(f"/v1/events?object_id={o['id']}&type=order.shipped").json["data"]
        self.assertEqual([(e["data"]["status"], e["data"]["shipped_amount"]) for e in ev],
                         [("partially_shipped", 3998), ("partially_shipped", 8548), ("shipped", o["amount"])])
        self.assertEqual([e["data"]["shipment"] for e in ev], s3["shipments"])

    def test_explicit_lines_that_complete_the_order(self):
        o = confirmed()
        path = f"/v1/orders/{o['id']}/shipments"
        self.assertEqual(api.post(path, {"lines": [{"reference": "SKU-1", "quantity": 2}]}).json["status"],
                         "partially_shipped")
        r = api.post(path, {"lines": [{"reference": "SKU-0", "quantity": 3}]})
        self.assertEqual(r.status, 201, r)
        s = r.json
        self.assertEqual(s["status"], "shipped")
        self.assertEqual(s["shipped_amount"], o["amount"])
        self.assertEqual(s["shipments"][1]["amount"], 5997 + HANDLING - DISCOUNT)
        self.assertEqual(sum(x["amount"] for x in s["shipments"]), o["amount"])

    def test_concurrent_shipments_of_the_last_units(self):
        for _ in range(3):
            o = confirmed()
            results = []
            barrier = threading.Barrier(2)

            def ship():
                c = srv.client(m["test_secret_key"])
                barrier.wait(timeout=10)
                r = c.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 3}]})
                results.append((r.status, (r.json or {}).get("error", {}).get("param")))
                c.close()
            ts = [threading.Thread(target=ship) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(timeout=30)
            self.assertEqual(sorted(results, key=str), sorted([(201, None), (400, "lines[0].quantity")], key=str),
                             harness.seed_note())
            g = self.get(o).json
            self.assertEqual(len(g["shipments"]), 1)
            self.assertEqual(shipped_qty(g), {"SKU-0": 3, "SKU-1": 0})

    def test_more_than_remains(self):
        o = confirmed()
        path = f"/v1/orders/{o['id']}/shipments"
        self.refused(path, {"lines": [{"reference": "SKU-1", "quantity": 3}]}, 400, "parameter_invalid",
                     "lines[0].quantity")
        self.assertEqual(api.post(path, {"lines": [{"reference": "SKU-0", "quantity": 2}]}).status, 201)
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": 2}]}, 400, "parameter_invalid",
                     "lines[0].quantity")
        self.refused(path, {"lines": [{"reference": "SKU-1", "quantity": 1}, {"reference": "SKU-0", "quantity": 5}]},
                     400, "parameter_invalid", "lines[1].quantity")
        # exactly what remains is fine
        r = api.post(path, {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(shipped_qty(r.json), {"SKU-0": 3, "SKU-1": 0})
        self.assertEqual(r.json["status"], "partially_shipped")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": 1}]}, 400, "parameter_invalid",
                     "lines[0].quantity")

    def test_unknown_or_unshippable_reference(self):
        o = confirmed()
        path = f"/v1/orders/{o['id']}/shipments"
        self.refused(path, {"lines": [{"reference": "NOPE", "quantity": 1}]}, 400, None, "lines[0].reference")
        self.refused(path, {"lines": [{"reference": "sku-0", "quantity": 1}]}, 400, None, "lines[0].reference")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": 1}, {"reference": "PROMO10", "quantity": 1}]},
                     400, None, "lines[1].reference")
        self.refused(path, {"lines": [{"reference": "DELIVERY", "quantity": 1}]}, 400, None, "lines[0].reference")

    def test_same_reference_twice_in_one_request(self):
        o = confirmed()
        self.refused(f"/v1/orders/{o['id']}/shipments",
                     {"lines": [{"reference": "SKU-0", "quantity": 1}, {"reference": "SKU-0", "quantity": 1}]},
                     400, None, "lines[1].reference")
        self.refused(f"/v1/orders/{o['id']}/shipments",
                     {"lines": [{"reference": "SKU-1", "quantity": 1}, {"reference": "SKU-0", "quantity": 1},
                                {"reference": "SKU-1", "quantity": 1}]},
                     400, None, "lines[2].reference")

    def test_bad_bodies(self):
        o = confirmed()
        path = f"/v1/orders/{o['id']}/shipments"
        self.refused(path, {"lines": []}, 400, None, "lines")
        self.refused(path, {"lines": "all"}, 400, None, "lines")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": 0}]}, 400, None, "lines[0].quantity")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": -1}]}, 400, None, "lines[0].quantity")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": "1"}]}, 400, None, "lines[0].quantity")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": 1.5}]}, 400, None, "lines[0].quantity")
        self.refused(path, {"lines": [{"reference": "SKU-0", "quantity": 1, "gift": True}]}, 400,
                     "parameter_unknown", "lines[0].gift")
        self.refused(path, {"colour": "red"}, 400, "parameter_unknown", "colour")
        self.refused(path, {"carrier": ""}, 400, None, "carrier")
        self.refused(path, {"carrier": "x" * 65}, 400, None, "carrier")
        self.refused(path, {"tracking_number": ""}, 400, None, "tracking_number")
        self.refused(path, {"tracking_number": "9" * 65}, 400, None, "tracking_number")
        self.refused(path, None, 400, "json_invalid", raw="[]")
        self.assertEqual(self.get(o).json["status"], "confirmed")
        # the limits themselves are fine
        r = api.post(path, {"carrier": "c" * 64, "tracking_number": "9" * 64})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["shipments"][0]["carrier"], "c" * 64)

    def test_only_confirmed_orders_ship(self):
        approved = checkout()
        review = checkout(email="camille+review@example.com")
        rejected = checkout(email="camille+reject@example.com")
        cancelled = confirmed()
        self.assertEqual(api.post(f"/v1/orders/{cancelled['id']}/cancel", {"reason": "other"}).status, 200)
        for o in (approved, review, rejected, cancelled):
            with self.subTest(status=self.get(o).json["status"]):
                self.refused(f"/v1/orders/{o['id']}/shipments", {}, 409, "state_invalid")
                self.refused(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 1}]},
                             409, "state_invalid")


# ---- tenancy ---------------------------------------------------------------------------


class Tenancy(Base):
    def test_other_merchant_and_mode_see_nothing(self):
        o = confirmed()
        for c in (api_other, api_live):
            for method, suffix, body in (("POST", "/cancel", {"reason": "other"}), ("POST", "/shipments", {}),
                                         ("GET", "/activity", None)):
                with self.subTest(key=c.key[:8], op=suffix):
                    seq = head_seq()
                    r = c.request(method, f"/v1/orders/{o['id']}{suffix}", body=body)
                    self.assertEqual(r.status, 404, r)
                    self.assertEqual(r.json["error"]["code"], "resource_missing")
                    self.assertEqual(r.json["error"]["param"], "id")
                    self.assertEqual(head_seq(), seq)
        self.assertEqual(self.get(o).json, o, "untouched")
        for bad in ("ord_00000000000000000000000000", "nope"):
            for method, suffix, body in (("POST", "/cancel", {"reason": "other"}), ("POST", "/shipments", {}),
                                         ("GET", "/activity", None)):
                r = api.request(method, f"/v1/orders/{bad}{suffix}", body=body)
                self.assertEqual(r.status, 404, (bad, suffix, r))
                self.assertEqual(r.json["error"]["code"], "resource_missing", r)

    def test_live_orders_have_their_own_life(self):
        lo = checkout(api_live)
        self.assertTrue(lo["livemode"])
        self.assertEqual(api_live.post(f"/v1/orders/{lo['id']}/confirm", {}).status, 200)
        r = api_live.post(f"/v1/orders/{lo['id']}/shipments", {})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "shipped")
        acts = api_live.get(f"/v1/orders/{lo['id']}/activity").json["data"]
        self.assertEqual({a["actor"] for a in acts}, {actor_of(m["live_secret_key"])})
        self.assertEqual(api.get(f"/v1/orders/{lo['id']}/activity").status, 404)


# ---- idempotency -----------------------------------------------------------------------


class Idempotency(Base):
    def test_shipment_retry_returns_the_same_body_and_appends_nothing(self):
        o = confirmed()
        path = f"/v1/orders/{o['id']}/shipments"
        body = {"lines": [{"reference": "SKU-1", "quantity": 1}], "tracking_number": "TRK-1"}
        h = {"Idempotency-Key": "ship-" + str(harness.rng.randrange(10**12))}
        r1 = api.post(path, body, headers=h)
        self.assertEqual(r1.status, 201, r1)
        seq = head_seq()
        r2 = api.post(path, body, headers=h)
        self.assertEqual(r2.status, 201, r2)
        self.assertEqual(r2.body, r1.body, "the same response, byte for byte")
        self.assertEqual(head_seq(), seq, "a retry appends nothing")
        g = self.get(o).json
        self.assertEqual(len(g["shipments"]), 1)
        self.assertEqual(shipped_qty(g), {"SKU-0": 0, "SKU-1": 1})
        # the same key with another body is refused; a new key ships again
        r3 = api.post(path, {"lines": [{"reference": "SKU-1", "quantity": 1}]}, headers=h)
        self.assertEqual(r3.status, 409, r3)
        self.assertEqual(r3.json["error"]["code"], "idempotency_key_reused")
        self.assertEqual(head_seq(), seq)
        r4 = api.post(path, body, headers={"Idempotency-Key": h["Idempotency-Key"] + "-2"})
        self.assertEqual(r4.status, 201, r4)
        self.assertEqual(len(r4.json["shipments"]), 2)
        self.assertEqual(shipped_qty(r4.json), {"SKU-0": 0, "SKU-1": 2})

    def test_cancel_retry_returns_the_same_body(self):
        o = checkout()
        path = f"/v1/orders/{o['id']}/cancel"
        h = {"Idempotency-Key": "cancel-" + str(harness.rng.randrange(10**12))}
        r1 = api.post(path, {"reason": "customer_request"}, headers=h)
        self.assertEqual(r1.status, 200, r1)
        seq = head_seq()
        r2 = api.post(path, {"reason": "customer_request"}, headers=h)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(head_seq(), seq)
        # without the key, the second cancel is the conflict it is
        self.refused(path, {"reason": "customer_request"}, 409, "state_invalid")


# ---- activity --------------------------------------------------------------------------


class Activity(Base):
    def check_against_events(self, o, acts):
        evs = api.get(f"/v1/events?object_id={o['id']}&limit=100").json["data"]
        self.assertEqual([a["id"] for a in acts], [e["id"] for e in evs], "every event of the order, in order")
        self.assertEqual([a["type"] for a in acts], [e["type"] for e in evs])
        self.assertEqual([a["created"] for a in acts], [e["created"] for e in evs])
        self.assertEqual([a["actor"] for a in acts], [e["actor"] for e in evs])
        for a in acts:
            self.assertEqual(set(a), {"id", "object", "type", "created", "actor", "details"}, a)
            self.assertEqual(a["object"], "activity")
            self.assertRegex(a["id"], f"^evt_{CROCKFORD}$")
            self.assertRegex(a["created"], RFC3339_US)
        created = [a["created"] for a in acts]
        self.assertEqual(created, sorted(created))
        return evs

    def test_shipped_order(self):
        key = m["test_secret_key"]
        o = confirmed()
        s1 = api.post(f"/v1/orders/{o['id']}/shipments",
                      {"lines": [{"reference": "SKU-0", "quantity": 3}], "carrier": "GLS"}).json
        s2 = api.post(f"/v1/orders/{o['id']}/shipments", {}).json
        self.assertEqual(s2["status"], "shipped")
        r = api.get(f"/v1/orders/{o['id']}/activity")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["object"], r.json["has_more"], r.json["next_cursor"]), ("list", False, None))
        acts = r.json["data"]
        self.assertEqual([a["type"] for a in acts],
                         ["order.created", "order.approved", "order.confirmed", "order.shipped", "order.shipped"])
        self.check_against_events(o, acts)
        self.assertEqual({a["actor"] for a in acts}, {actor_of(key)})
        self.assertEqual(acts[0]["details"], {"reference": o["reference"], "amount": o["amount"],
                                              "currency": "EUR", "plan": "pay_in_3"})
        self.assertEqual(acts[1]["details"], {"risk_decision": "approved"})
        self.assertEqual(acts[2]["details"], {"customer_id": o["customer_id"]})
        # the first shipment starts the shopper's schedule: it names the next charge
        nxt = acts[3]["details"].pop("next_charge")
        self.assertEqual(nxt["instalment"], 2)
        self.assertEqual(acts[3]["details"], {"shipment": s2["shipments"][0], "shipped_amount": 5997,
                                              "status": "partially_shipped"})
        self.assertEqual(acts[3]["details"]["shipment"], s1["shipments"][0])
        self.assertEqual(acts[4]["details"], {"shipment": s2["shipments"][1], "shipped_amount": o["amount"],
                                              "status": "shipped"})

    def test_review_then_cancelled_and_rejected(self):
        o = checkout(email="camille+review@example.com", plan="instalments_6")
        api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "fraud_suspected", "comment": "Adresse douteuse"})
        acts = api.get(f"/v1/orders/{o['id']}/activity").json["data"]
        self.assertEqual([a["type"] for a in acts], ["order.created", "order.review_requested", "order.cancelled"])
        self.check_against_events(o, acts)
        self.assertEqual(acts[0]["details"]["plan"], "instalments_6")
        self.assertEqual(acts[1]["details"], {"risk_decision": "review"})
        self.assertEqual(acts[2]["details"], {"reason": "fraud_suspected", "comment": "Adresse douteuse"})

        rj = checkout(email="camille+reject@example.com")
        acts = api.get(f"/v1/orders/{rj['id']}/activity").json["data"]
        self.assertEqual([(a["type"], a["details"]) for a in acts][1:],
                         [("order.rejected", {"risk_decision": "rejected"})])
        self.check_against_events(rj, acts)

        c = checkout()
        api.post(f"/v1/orders/{c['id']}/cancel", {"reason": "other"})
        acts = api.get(f"/v1/orders/{c['id']}/activity").json["data"]
        self.assertEqual(acts[-1]["details"], {"reason": "other", "comment": None})

    def test_refused_requests_leave_no_activity(self):
        o = confirmed()
        api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 9}]})
        api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "nope"})
        acts = api.get(f"/v1/orders/{o['id']}/activity").json["data"]
        self.assertEqual([a["type"] for a in acts], ["order.created", "order.approved", "order.confirmed"])


# ---- checkout --------------------------------------------------------------------------


class Checkout(Base):
    def check_refused(self, body, param):
        seq = head_seq()
        r = api.post("/v1/orders", body)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"]["param"], param, r)
        self.assertEqual(head_seq(), seq)

    def test_duplicate_product_reference(self):
        b = order_body(((5000, 1), (7000, 2)))
        b["lines"][1]["reference"] = "SKU-0"
        self.check_refused(b, "lines[1].reference")
        b = order_body(((5000, 1), (7000, 2), (3000, 1)))
        b["lines"][2]["reference"] = "SKU-0"
        self.check_refused(b, "lines[2].reference")
        b = order_body(((5000, 1), (7000, 2), (3000, 1)))
        b["lines"][2]["reference"] = "SKU-1"
        self.check_refused(b, "lines[2].reference")
        # the same lines with distinct references are fine
        r = api.post("/v1/orders", order_body(((5000, 1), (7000, 2))))
        self.assertEqual(r.status, 201, r)


# ---- last: the operator tools agree with what the API did (Z: unittest runs classes in name order)


class ZOperatorTools(unittest.TestCase):
    def test_replay_and_audit(self):
        # make sure every new event type is in the log
        o = confirmed()
        api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        c = checkout()
        api.post(f"/v1/orders/{c['id']}/cancel", {"reason": "other"})
        p = run_cli("audit", "verify", data=srv.data)
        self.assertIn("hash chain intact", p.stdout)
        p = run_cli("replay", data=srv.data)
        self.assertIn("all projections equal", p.stdout)
        for name in ("orders", "customers", "events_by_merchant"):
            self.assertIn(name, p.stdout)
        types = set()
        for line in run_cli("events", "dump", "--merchant", m["id"], data=srv.data).stdout.splitlines():
            types.add(json.loads(line)["type"])
        self.assertTrue({"order.cancelled", "order.shipped", "customer.created"} <= types, types)


if __name__ == "__main__":
    unittest.main()
