"""The card hold at checkout and the test clock: declined cards change
nothing; the first instalment is held, captured on confirm, released at once
on rejection, one hour after an abandoned checkout, 24 hours after an
unanswered review; expired and abandoned orders never show in lists."""
import unittest

import harness
from harness import create_merchant, order_body, run_cli


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class Holds(unittest.TestCase):
    def setUp(self):
        # a merchant per test: each moves its own test clock
        self.m = create_merchant(srv.data, "Holds", "FR")
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_declined_cards_change_nothing(self):
        for number, code in [("4000000000000002", "do_not_honor"), ("4000000000009995", "insufficient_funds"),
                             ("4000000000000069", "expired_card"), ("4000000000009979", "stolen_card")]:
            seq = head_seq()
            r = self.api.post("/v1/orders", order_body(card=number))
            self.assertEqual(r.status, 402, r)
            self.assertEqual(r.json["error"]["type"], "card_error")
            self.assertEqual(r.json["error"]["code"], "card_declined")
            self.assertIn(code, r.json["error"]["message"])
            self.assertEqual(r.json["error"]["param"], "card")
            self.assertEqual(head_seq(), seq)

    def test_bad_cards_are_400_naming_the_field(self):
        cases = [({"number": "4242424242424241", "exp_month": 12, "exp_year": 2030, "cvc": "123"}, "card.number"),
                 ({"number": "4242424242424242", "exp_month": 1, "exp_year": 2020, "cvc": "123"}, "card.exp_year"),
                 ({"number": "4242424242424242", "exp_month": 13, "exp_year": 2030, "cvc": "123"}, "card.exp_month"),
                 ({"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "12a"}, "card.cvc"),
                 ({"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}, "card.cvc"),
                 ({"number": "378282246310005", "exp_month": 12, "exp_year": 2030, "cvc": "1234"}, "card.number")]
        for card, param in cases:
            seq = head_seq()
            b = order_body()
            b["card"] = card
            r = self.api.post("/v1/orders", b)
            self.assertEqual(r.status, 400, (card, r))
            self.assertEqual(r.json["error"]["param"], param, card)
            self.assertEqual(head_seq(), seq)
        b = order_body()
        del b["card"]
        r = self.api.post("/v1/orders", b)
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "card"))

    def test_card_number_is_never_stored(self):
        o = self.api.post("/v1/orders", order_body(card="5555555555554444")).json
        self.assertEqual(o["card"]["brand"], "mastercard")
        self.assertEqual(o["card"]["last4"], "4444")
        self.assertEqual(o["card"]["bin"], "555555")
        dump = run_cli("events", "dump", data=srv.data).stdout
        self.assertNotIn("5555555555554444", dump)
        self.assertNotIn("4242424242424242", dump)

    def test_captured_on_confirm(self):
        o = self.api.post("/v1/orders", order_body(((10000, 3),))).json
        self.assertEqual(o["hold"], {"amount": 10000, "status": "held", "authorized_at": o["created"]})
        self.assertEqual(o["amount_paid"], 0)
        c = self.api.post(f"/v1/orders/{o['id']}/confirm", {}).json
        self.assertEqual(c["hold"]["status"], "captured")
        self.assertEqual(c["amount_paid"], 10000)
        first = c["plan"]["schedule"][0]
        self.assertEqual((first["status"], first["paid_at"]), ("paid", c["confirmed_at"]))
        self.assertEqual([i["status"] for i in c["plan"]["schedule"][1:]], ["scheduled", "scheduled"])
        # cancelling a confirmed order refunds what was paid
        x = self.api.post(f"/v1/orders/{o['id']}/cancel", {"reason": "customer_request"}).json
        self.assertEqual((x["hold"]["status"], x["amount_refunded"]), ("refunded", 10000))
        # nothing left to abandon: the clock passing changes nothing
        self.advance(2 * 3600)
        self.assertEqual(self.api.get(f"/v1/orders/{o['id']}").json["status"], "cancelled")

    def test_rejected_releases_at_once(self):
        o = self.api.post("/v1/orders", order_body(email="a+reject@example.com")).json
        self.assertEqual((o["status"], o["hold"]["status"]), ("rejected", "released"))

    def test_abandoned_after_one_hour(self):
        o = self.api.post("/v1/orders", order_body()).json
        self.assertEqual(self.advance(3599)["jobs_fired"], 0)
        self.assertEqual(self.api.get(f"/v1/orders/{o['id']}").json["status"], "approved")
        self.assertIn(o["id"], [x["id"] for x in self.api.get("/v1/orders?status=all").json["data"]])
        self.assertEqual(self.advance(2)["jobs_fired"], 1)
        g = self.api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual((g["status"], g["hold"]["status"]), ("abandoned", "released"))
        self.assertNotIn(o["id"], [x["id"] for x in self.api.get("/v1/orders?status=all").json["data"]])
        acts = self.api.get(f"/v1/orders/{o['id']}/activity").json["data"]
        self.assertEqual((acts[-1]["type"], acts[-1]["actor"]), ("order.abandoned", "scheduler"))
        self.assertEqual(self.api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 409)

    def test_review_expires_after_a_day_in_time_order(self):
        r1 = self.api.post("/v1/orders", order_body(email="a+review@example.com")).json
        self.advance(3600 * 10)
        r2 = self.api.post("/v1/orders", order_body(email="b+review@example.com")).json
        self.assertEqual(self.advance(3600 * 14 + 1)["jobs_fired"], 1)
        self.assertEqual(self.api.get(f"/v1/orders/{r1['id']}").json["status"], "expired")
        self.assertEqual(self.api.get(f"/v1/orders/{r2['id']}").json["status"], "pending")
        self.assertEqual(self.advance(3600 * 10)["jobs_fired"], 1)
        g = self.api.get(f"/v1/orders/{r2['id']}").json
        self.assertEqual((g["status"], g["hold"]["status"]), ("expired", "released"))
        # the expiry happened at its due time, 24 h after the review began
        exp = [a for a in self.api.get(f"/v1/orders/{r2['id']}/activity").json["data"] if a["type"] == "order.expired"]
        self.assertEqual(len(exp), 1)
        self.assertNotIn(r2["id"], [x["id"] for x in self.api.get("/v1/orders?status=all").json["data"]])

    def test_clock_is_per_merchant_and_test_only(self):
        t0 = self.api.get("/v1/test_clock").json["now"]
        other = srv.client(create_merchant(srv.data, "Other", "FR")["test_secret_key"])
        self.advance(86400 * 3)
        self.assertGreater(self.api.get("/v1/test_clock").json["now"], t0)
        self.assertLess(other.get("/v1/test_clock").json["now"][:10], self.api.get("/v1/test_clock").json["now"][:10])
        # orders made now carry the merchant's time
        o = self.api.post("/v1/orders", order_body()).json
        self.assertEqual(o["created"][:10], self.api.get("/v1/test_clock").json["now"][:10])
        live = srv.client(self.m["live_secret_key"])
        for r in (live.get("/v1/test_clock"), live.post("/v1/test_clock/advance", {"seconds": 60})):
            self.assertEqual(r.status, 403, r)
        live.close()
        other.close()

    def test_bad_advances(self):
        seq = head_seq()
        for body, param in [({}, "seconds"), ({"seconds": 10, "to": 4102444800}, "seconds"),
                            ({"seconds": 0}, "seconds"), ({"seconds": -5}, "seconds"),
                            ({"seconds": "60"}, "seconds"), ({"to": 946684800}, "to"),
                            ({"minutes": 5}, "minutes")]:
            r = self.api.post("/v1/test_clock/advance", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param, body)
        self.assertEqual(head_seq(), seq)

    def test_replay_after_all_of_it(self):
        o = self.api.post("/v1/orders", order_body()).json
        self.advance(7200)
        self.assertEqual(self.api.get(f"/v1/orders/{o['id']}").json["status"], "abandoned")
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)
        self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
