"""Cart edits and returns re-compute the remaining instalments to the cent
and refund exactly what was paid beyond the new amount."""
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli

KEEP = ("type", "reference", "name", "unit_price", "quantity", "tax_rate")


def setUpModule():
    global srv, api
    srv = Server().start()
    m = create_merchant(srv.data, "Returns", "FR")
    api = srv.client(m["test_secret_key"])


def tearDownModule():
    api.close()
    srv.cleanup()
    harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


def cart_of(order):
    return [{k: v for k, v in line.items() if k in KEEP and v is not None} for line in order["lines"]]


def advance(seconds):
    r = api.post("/v1/test_clock/advance", {"seconds": seconds})
    assert r.status == 200, r
    return r.json["jobs_fired"]


class Edits(unittest.TestCase):
    def confirmed(self, lines=((10000, 2), (5000, 2)), plan="pay_in_3"):
        o = api.post("/v1/orders", order_body(lines, plan=plan)).json
        return api.post(f"/v1/orders/{o['id']}/confirm", {}).json

    def test_discount_before_shipment_recomputes(self):
        o = self.confirmed()
        cart = cart_of(o) + [{"type": "discount", "name": "Promo", "unit_price": 3001, "quantity": 1}]
        r = api.post(f"/v1/orders/{o['id']}/cart", {"lines": cart, "amount": 30000 - 3001})
        self.assertEqual(r.status, 200, r)
        s = r.json["plan"]["schedule"]
        self.assertEqual(r.json["amount"], 26999)
        self.assertEqual([i["status"] for i in s], ["paid", "scheduled", "scheduled"])
        self.assertEqual(s[0]["amount"], 10000, "what was paid stays")
        self.assertEqual([s[1]["amount"], s[2]["amount"]], [8500, 8499], "remainder to the first")
        self.assertEqual(sum(i["amount"] for i in s), 26999)
        ev = [a for a in api.get(f"/v1/orders/{o['id']}/activity").json["data"] if a["type"] == "order.cart_updated"]
        self.assertEqual(ev[0]["details"]["before"]["amount"], 30000)
        self.assertEqual(ev[0]["details"]["after"]["amount"], 26999)

    def test_edit_changes_name_price_quantity_and_adds_handling(self):
        o = self.confirmed()
        cart = cart_of(o)
        cart[0].update(name="Chaise", unit_price=9000, quantity=3)
        del cart[1]
        cart.append({"type": "handling", "name": "Express", "unit_price": 990})
        r = api.post(f"/v1/orders/{o['id']}/cart", {"lines": cart, "amount": 27990})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([l["name"] for l in r.json["lines"]], ["Chaise", "Express"])
        self.assertEqual(sum(i["amount"] for i in r.json["plan"]["schedule"]), 27990)

    def test_bad_edits_change_nothing(self):
        o = self.confirmed()
        cart = cart_of(o)
        big_discount = cart + [{"type": "discount", "name": "Too much", "unit_price": 40000, "quantity": 1}]
        for body, status, param in [
                ({"lines": cart, "amount": 1}, 400, "amount"),
                ({"lines": big_discount, "amount": -10000}, 400, "amount"),
                ({"lines": big_discount, "amount": 1}, 400, "lines"),
                ({"lines": [dict(cart[0], quantity=-1)], "amount": 1}, 400, "lines[0].quantity"),
                ({"lines": cart}, 400, "amount"),
                ({"lines": cart, "amount": 30000, "note": "x"}, 400, "note")]:
            seq = head_seq()
            r = api.post(f"/v1/orders/{o['id']}/cart", body)
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.json["error"].get("param"), param, body)
            self.assertEqual(head_seq(), seq)
        c = api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "other"}).json
        seq = head_seq()
        r = api.post(f"/v1/orders/{o['id']}/cart", {"lines": cart, "amount": 30000})
        self.assertEqual(r.status, 409, "a cancelled order cannot be edited")
        self.assertEqual(head_seq(), seq)
        self.assertEqual(c["status"], "cancelled")

    def test_cannot_edit_below_shipped(self):
        o = self.confirmed()
        api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 2}]})
        cart = cart_of(o)
        cart[0]["quantity"] = 1
        r = api.post(f"/v1/orders/{o['id']}/cart", {"lines": cart, "amount": 20000})
        self.assertEqual(r.status, 409, r)
        self.assertIn("returns", r.json["error"]["message"])


class Returns(unittest.TestCase):
    def shipped(self, lines=((10000, 2), (5000, 2)), plan="pay_in_3"):
        o = api.post("/v1/orders", order_body(lines, plan=plan)).json
        api.post(f"/v1/orders/{o['id']}/confirm", {})
        return api.post(f"/v1/orders/{o['id']}/shipments", {}).json

    def test_partial_return_in_month_two(self):
        o = self.shipped()
        advance(35 * 86400)   # instalment 2 paid
        o = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(o["amount_paid"], 20000)
        r = api.post(f"/v1/orders/{o['id']}/returns", {"lines": [{"reference": "SKU-1", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        o = r.json
        self.assertEqual(o["amount"], 25000)
        s = o["plan"]["schedule"]
        self.assertEqual([i["amount"] for i in s], [10000, 10000, 5000], "the remaining instalment carries the rest")
        self.assertEqual(o["amount_refunded"], 0, "paid is below the new total: no refund")
        self.assertEqual(o["status"], "shipped")
        self.assertEqual(o["returns"][0]["amount"], 5000)
        # the last charge takes the re-computed amount
        advance(40 * 86400)
        o = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual((o["status"], o["amount_paid"]), ("completed", 25000))

    def test_partial_return_refunds_the_excess(self):
        o = self.shipped()
        advance(35 * 86400)
        r = api.post(f"/v1/orders/{o['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 2}]}).json
        self.assertEqual(r["amount"], 10000)
        self.assertEqual(r["amount_refunded"], 10000, "paid 20000 for a 10000 order")
        self.assertEqual(r["refunds"][0]["status"], "refunded")
        self.assertEqual(r["plan"]["schedule"][2]["amount"], 0)

    def test_full_return_refunds_everything_paid(self):
        o = self.shipped(plan="instalments_6", lines=((20000, 1), (5000, 2)))
        advance(35 * 86400)
        o = api.get(f"/v1/orders/{o['id']}").json
        paid = o["amount_paid"]
        self.assertGreater(paid, o["plan"]["schedule"][0]["amount"], "fees included")
        r = api.post(f"/v1/orders/{o['id']}/returns",
                     {"lines": [{"reference": "SKU-0", "quantity": 1}, {"reference": "SKU-1", "quantity": 2}]}).json
        self.assertEqual((r["status"], r["amount_refunded"]), ("returned", paid))
        self.assertTrue(all(i["status"] in ("paid", "cancelled") for i in r["plan"]["schedule"]))
        advance(200 * 86400)   # other orders of this merchant may be charged; not this one
        self.assertEqual(api.get(f"/v1/orders/{o['id']}").json["amount_paid"], paid)
        acts = [a["type"] for a in api.get(f"/v1/orders/{o['id']}/activity").json["data"]]
        self.assertEqual(acts[-1], "order.returned", "nothing after the full return")

    def test_bad_returns_change_nothing(self):
        o = self.shipped()
        unshipped = api.post(f"/v1/orders", order_body()).json
        api.post(f"/v1/orders/{unshipped['id']}/confirm", {})
        for oid, body, status, param in [
                (o["id"], {"lines": [{"reference": "SKU-0", "quantity": 3}]}, 400, "lines[0].quantity"),
                (o["id"], {"lines": [{"reference": "NOPE", "quantity": 1}]}, 400, "lines[0].reference"),
                (o["id"], {"lines": [{"reference": "SKU-0", "quantity": 0}]}, 400, "lines[0].quantity"),
                (o["id"], {}, 400, "lines"),
                (o["id"], {"lines": [{"reference": "SKU-0", "quantity": 1}], "carrier": "x"}, 400, "carrier"),
                (unshipped["id"], {"lines": [{"reference": "SKU-0", "quantity": 1}]}, 409, None)]:
            seq = head_seq()
            r = api.post(f"/v1/orders/{oid}/returns", body)
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.json["error"].get("param"), param, body)
            self.assertEqual(head_seq(), seq)

    def test_replay_equal(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
