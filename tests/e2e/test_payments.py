"""Card payments of the virtual POS against the real binary: every payment
type, the manual operations (capture full or partial, cancel, change the
amount, duplicate), authorizations expiring and split charges retried under
the test clock, declines recorded as failed payments, and bad input that
changes nothing."""
import threading
import unittest

import harness
from harness import Server, card, create_merchant, run_cli

GOOD = "4242424242424242"


def body(amount=10000, **extra):
    b = {"amount": amount, "currency": "EUR", "card": card()}
    b.update(extra)
    return b


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class PaymentsBase(unittest.TestCase):
    def setUp(self):
        # a merchant per test: each moves its own test clock
        self.m = create_merchant(srv.data, "Boutique", "FR")
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def create(self, status=201, **kw):
        r = self.api.post("/v1/payments", body(**kw))
        self.assertEqual(r.status, status, r)
        return r.json

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def clock_to(self, unix_seconds):
        r = self.api.post("/v1/test_clock/advance", {"to": unix_seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def get(self, pid):
        r = self.api.get(f"/v1/payments/{pid}")
        self.assertEqual(r.status, 200, r)
        return r.json


class Types(PaymentsBase):
    def test_at_order_is_captured_at_once(self):
        p = self.create(amount=12990, description="Commande 311", order_reference="CMD-311",
                        customer={"email": "lea@example.com", "first_name": "Léa"})
        self.assertEqual((p["status"], p["type"], p["channel"]), ("captured", "at_order", "api"))
        self.assertEqual((p["amount_authorized"], p["amount_captured"]), (12990, 12990))
        self.assertEqual(p["captures"][0]["amount"], 12990)
        self.assertEqual(p["card"]["last4"], "4242")
        self.assertEqual(p["risk"]["decision"], "approved")
        self.assertEqual(p["created_by"][:8], "api_key:")
        self.assertEqual(self.get(p["id"]), p)
        ev = self.api.get(f"/v1/events?object_id={p['id']}").json["data"]
        self.assertEqual([e["type"] for e in ev], ["payment.captured"])
        self.assertEqual(ev[0]["data"]["object"]["status"], "captured")

    def test_authorize_partial_capture_then_cancel_the_rest(self):
        p = self.create(amount=10000, type="deferred")
        self.assertEqual((p["status"], p["amount_authorized"], p["amount_captured"]), ("authorized", 10000, 0))
        self.assertIsNotNone(p["authorization"]["expires_at"])
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 4000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["amount_captured"]), ("authorized", 4000))
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 2500})
        self.assertEqual((r.json["status"], r.json["amount_captured"]), ("authorized", 6500))
        r = self.api.post(f"/v1/payments/{p['id']}/cancel", {"reason": "requested_by_customer"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "captured")
        self.assertEqual(r.json["cancellation"]["amount_released"], 3500)
        self.assertEqual(r.json["amount_captured"], 6500)
        types = [e["type"] for e in self.api.get(f"/v1/events?object_id={p['id']}").json["data"]]
        self.assertEqual(sorted(types), sorted(["payment.authorized", "payment.partially_captured",
                                                "payment.partially_captured", "payment.cancelled"]))
        # nothing more to do with it
        seq = head_seq()
        for path, b in [("capture", {}), ("cancel", {})]:
            r = self.api.post(f"/v1/payments/{p['id']}/{path}", b)
            self.assertEqual((r.status, r.json["error"]["code"]), (409, "state_invalid"), r)
        self.assertEqual(head_seq(), seq)

    def test_full_capture_and_cancel_of_nothing_captured(self):
        p = self.create(type="at_shipment")
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {})
        self.assertEqual((r.status, r.json["status"], r.json["amount_captured"]), (200, "captured", 10000))
        q = self.create(type="at_delivery", amount=5000)
        r = self.api.post(f"/v1/payments/{q['id']}/cancel", {})
        self.assertEqual((r.status, r.json["status"]), (200, "cancelled"))
        self.assertEqual(r.json["cancellation"]["amount_released"], 5000)

    def test_deferred_authorization_expires_after_7_days(self):
        p = self.create(type="deferred")
        f = self.create(type="at_shipment", amount=3000)
        self.advance(7 * 86400 - 60)
        self.assertEqual(self.get(p["id"])["status"], "authorized")
        self.advance(120)
        e = self.get(p["id"])
        self.assertEqual(e["status"], "cancelled")
        self.assertEqual(e["cancellation"]["reason"], "authorization_expired")
        # at shipment keeps its authorization 30 days
        self.assertEqual(self.get(f["id"])["status"], "authorized")
        seq = head_seq()
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(head_seq(), seq)
        self.advance(23 * 86400)
        self.assertEqual(self.get(f["id"])["status"], "cancelled")

    def test_expiry_of_a_partly_captured_authorization_keeps_the_capture(self):
        p = self.create(type="deferred")
        self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 1000})
        self.advance(8 * 86400)
        e = self.get(p["id"])
        self.assertEqual((e["status"], e["amount_captured"]), ("captured", 1000))
        self.assertEqual(e["cancellation"]["amount_released"], 9000)

    def test_split_of_three_with_the_second_failing_then_retried(self):
        # 4000000000000341: approved at once, each later charge fails once then passes
        p = self.create(amount=1000, type="split", split={"count": 3, "interval_days": 30},
                        card=card("4000000000000341"))
        self.assertEqual(p["status"], "authorized")
        self.assertEqual([c["amount"] for c in p["charges"]], [334, 333, 333])
        self.assertEqual([c["status"] for c in p["charges"]], ["paid", "scheduled", "scheduled"])
        self.assertEqual(p["amount_captured"], 334)
        # to just after the second charge's due time (charges run at 06:00
        # UTC: moving by whole days from the wall clock's hour would also run
        # the retry when the tests run after 06:00)
        self.clock_to(p["charges"][1]["due_us"] // 10**6 + 3600)
        q = self.get(p["id"])
        second = q["charges"][1]
        self.assertEqual((second["status"], second["attempts"]), ("failed", 1), q)
        self.assertEqual(second["last_failure"]["code"], "insufficient_funds")
        self.assertIsNotNone(second["next_attempt_at"])
        self.assertEqual(q["amount_captured"], 334)
        self.advance(86400)
        q = self.get(p["id"])
        self.assertEqual((q["charges"][1]["status"], q["charges"][1]["attempts"]), ("paid", 2))
        self.assertEqual(q["amount_captured"], 667)
        self.assertEqual(q["status"], "authorized")
        self.clock_to(q["charges"][2]["due_us"] // 10**6 + 3600)   # the third fails once, passes the day after
        self.advance(86400)
        q = self.get(p["id"])
        self.assertEqual((q["status"], q["amount_captured"]), ("captured", 1000))
        types = [e["type"] for e in self.api.get(f"/v1/events?object_id={p['id']}&limit=100").json["data"]]
        self.assertEqual(types.count("payment.charge_failed"), 2)
        self.assertEqual(types.count("payment.charge_succeeded"), 2)

    def test_split_declined_at_once_fails_whole(self):
        p = self.create(amount=900, type="split", split={"count": 3}, card=card("4000000000009995"), status=402)
        self.assertEqual(p["error"]["payment"]["status"], "failed")
        self.assertEqual([c["status"] for c in p["error"]["payment"]["charges"]], ["cancelled"] * 3)

    def test_deposit_then_balance_on_its_date(self):
        clock = self.api.get("/v1/test_clock").json
        today = clock["now"][:10]
        import datetime
        due = (datetime.date.fromisoformat(today) + datetime.timedelta(days=10)).isoformat()
        p = self.create(amount=50000, type="deposit", deposit={"amount": 15000, "balance_due": due}, channel="manual")
        self.assertEqual(p["channel"], "manual")
        self.assertEqual([(c["kind"], c["amount"], c["status"]) for c in p["charges"]],
                         [("deposit", 15000, "paid"), ("balance", 35000, "scheduled")])
        self.assertEqual((p["status"], p["amount_captured"]), ("authorized", 15000))
        self.advance(9 * 86400)
        self.assertEqual(self.get(p["id"])["amount_captured"], 15000)
        self.advance(2 * 86400)
        q = self.get(p["id"])
        self.assertEqual((q["status"], q["amount_captured"]), ("captured", 50000))
        self.assertEqual(q["charges"][1]["paid_at"][:10], due)

    def test_deposit_balance_collected_by_capture(self):
        p = self.create(amount=20000, type="deposit", deposit={"amount": 5000})
        self.assertIsNone(p["charges"][1]["due_at"])
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 1000})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "amount"))
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {})
        self.assertEqual((r.status, r.json["status"], r.json["amount_captured"]), (200, "captured", 20000))


class ManualOperations(PaymentsBase):
    def test_change_the_amount_before_capture(self):
        p = self.create(amount=10000, type="deferred")
        r = self.api.post(f"/v1/payments/{p['id']}", {"amount": 8000})
        self.assertEqual((r.status, r.json["amount"], r.json["amount_authorized"]), (200, 8000, 8000))
        r = self.api.post(f"/v1/payments/{p['id']}", {"amount": 12000})
        self.assertEqual((r.status, r.json["amount"]), (200, 12000))
        ev = self.api.get(f"/v1/events?object_id={p['id']}&type=payment.amount_updated").json["data"]
        self.assertEqual(sorted(e["data"]["previous_amount"] for e in ev), [8000, 10000])
        self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 100})
        seq = head_seq()
        r = self.api.post(f"/v1/payments/{p['id']}", {"amount": 5000})
        self.assertEqual((r.status, r.json["error"]["code"]), (409, "state_invalid"), r)
        c = self.create()
        r = self.api.post(f"/v1/payments/{c['id']}", {"amount": 5000})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(head_seq(), seq + 1)   # only the captured payment was created

    def test_duplicate_charges_the_same_card_again(self):
        p = self.create(amount=4200, description="Abonnement novembre", order_reference="SUB-11")
        r = self.api.post(f"/v1/payments/{p['id']}/duplicate", {"description": "Abonnement décembre"})
        self.assertEqual(r.status, 201, r)
        d = r.json
        self.assertNotEqual(d["id"], p["id"])
        self.assertEqual((d["duplicated_from"], d["status"], d["amount"]), (p["id"], "captured", 4200))
        self.assertEqual(d["card"]["fingerprint"], p["card"]["fingerprint"])
        self.assertEqual((d["description"], d["order_reference"]), ("Abonnement décembre", "SUB-11"))
        r = self.api.post(f"/v1/payments/{p['id']}/duplicate", {"amount": 999})
        self.assertEqual((r.status, r.json["amount"]), (201, 999))

    def test_declines_are_recorded_as_failed_payments(self):
        for number, code in [("4000000000000002", "do_not_honor"), ("4000000000009995", "insufficient_funds"),
                             ("4000000000000069", "expired_card"), ("4000000000009979", "stolen_card")]:
            seq = head_seq()
            r = self.api.post("/v1/payments", body(card=card(number)))
            self.assertEqual(r.status, 402, r)
            err = r.json["error"]
            self.assertEqual((err["type"], err["code"], err["decline_code"], err["param"]),
                             ("card_error", "card_declined", code, "card"))
            self.assertEqual(err["payment"]["status"], "failed")
            self.assertEqual(err["payment"]["failure"]["code"], code)
            self.assertEqual(head_seq(), seq + 1)
            self.assertEqual(self.get(err["payment"]["id"])["status"], "failed")
            # a failed payment can be neither captured nor cancelled
            r = self.api.post(f"/v1/payments/{err['payment']['id']}/capture", {})
            self.assertEqual(r.status, 409)

    def test_idempotent_create(self):
        h = {"Idempotency-Key": "pay-once-1"}
        a = self.api.post("/v1/payments", body(amount=777), headers=h)
        b = self.api.post("/v1/payments", body(amount=777), headers=h)
        self.assertEqual((a.status, b.status), (201, 201))
        self.assertEqual(a.json["id"], b.json["id"])
        c = self.api.post("/v1/payments", body(amount=778), headers=h)
        self.assertEqual((c.status, c.json["error"]["code"]), (409, "idempotency_key_reused"))

    def test_concurrent_captures_never_exceed_the_authorization(self):
        p = self.create(amount=10000, type="deferred")
        results = []

        def capture():
            c = srv.client(self.m["test_secret_key"])
            results.append(c.post(f"/v1/payments/{p['id']}/capture", {"amount": 6000}).status)
            c.close()
        threads = [threading.Thread(target=capture) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(sorted(results), [200, 400])
        self.assertEqual(self.get(p["id"])["amount_captured"], 6000)

    def test_other_merchants_payments_do_not_exist(self):
        p = self.create()
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        for method, path, b in [("GET", f"/v1/payments/{p['id']}", None),
                                ("POST", f"/v1/payments/{p['id']}/capture", {}),
                                ("POST", f"/v1/payments/{p['id']}/cancel", {}),
                                ("POST", f"/v1/payments/{p['id']}/duplicate", {})]:
            r = api.request(method, path, body=b)
            self.assertEqual((r.status, r.json["error"]["code"]), (404, "resource_missing"), path)
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get(f"/v1/payments/{p['id']}").status, 404)
        live.close()
        api.close()


class Customers(PaymentsBase):
    def test_payments_join_the_customer_by_email_then_phone(self):
        a = self.create(customer={"email": "Lea.Dubois@Example.com", "first_name": "Léa", "last_name": "Dubois"})
        cid = a["customer_id"]
        self.assertTrue(cid.startswith("cus_"), a)
        b = self.create(customer={"email": "lea.dubois@example.com"})
        self.assertEqual(b["customer_id"], cid)
        c = self.create(customer={"phone": "+33611223344"})
        d = self.create(customer={"email": "other@example.com", "phone": "+33611223344"})
        self.assertNotEqual(c["customer_id"], cid)
        self.assertEqual(d["customer_id"], c["customer_id"])
        e = self.create(customer_id=cid)
        self.assertEqual(e["customer_id"], cid)
        none = self.create()
        self.assertIsNone(none["customer_id"])
        card = self.api.get(f"/v1/customers/{cid}").json
        self.assertEqual(card["payments"], [a["id"], b["id"], e["id"]])
        self.assertEqual((card["first_name"], card["id_document"]), ("Léa", None))
        listed = [x["id"] for x in self.api.get("/v1/customers").json["data"]]
        self.assertIn(cid, listed)

    def test_an_order_customer_gets_card_payments_too(self):
        o = self.api.post("/v1/orders", harness.order_body(email="camille@example.com")).json
        r = self.api.post(f"/v1/orders/{o['id']}/confirm", {})
        self.assertEqual(r.status, 200, r)
        cid = r.json["customer_id"]
        p = self.create(customer={"email": "CAMILLE@example.com"})
        self.assertEqual(p["customer_id"], cid)
        card = self.api.get(f"/v1/customers/{cid}").json
        self.assertEqual((card["orders"], card["payments"]), ([o["id"]], [p["id"]]))

    def test_unknown_or_foreign_customer_id_is_refused(self):
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        foreign = api.post("/v1/payments", body(customer={"email": "x@example.com"})).json["customer_id"]
        api.close()
        for cid in [foreign, "cus_01M83488Z73N8E7K7NXP890G3W"]:
            seq = head_seq()
            r = self.api.post("/v1/payments", body(customer_id=cid))
            self.assertEqual((r.status, r.json["error"]["param"]), (400, "customer_id"), r)
            self.assertEqual(head_seq(), seq)


class RetryPolicy(unittest.TestCase):
    """payments.retry decides whether a failed charge is attempted again: a
    policy that never retries leaves the failed charge to the merchant, who
    collects it by capture."""

    def test_no_retry_stops_the_schedule_until_the_merchant_captures(self):
        import os
        import tempfile
        pdir = tempfile.mkdtemp(prefix="caisse-retry-")
        with open(os.path.join(pdir, "no_retry.lua"), "w") as f:
            f.write('caisse.policy.define("payments.retry", function(input) return {} end)\n')
        s = Server(args=("--policy-dir", pdir)).start()
        try:
            m = create_merchant(s.data, "Sans relance", "FR")
            api = s.client(m["test_secret_key"])
            p = api.post("/v1/payments", body(amount=900, type="split", split={"count": 3},
                                               card=card("4000000000000341"))).json
            self.assertEqual(api.post("/v1/test_clock/advance", {"seconds": 31 * 86400}).status, 200)
            q = api.get(f"/v1/payments/{p['id']}").json
            self.assertEqual(q["charges"][1]["status"], "failed")
            self.assertIsNone(q["charges"][1]["next_attempt_at"])
            self.assertEqual(q["failure"]["code"], "insufficient_funds")
            # nothing runs any more, even the third charge's date
            api.post("/v1/test_clock/advance", {"seconds": 40 * 86400})
            self.assertEqual(api.get(f"/v1/payments/{p['id']}").json["amount_captured"], 300)
            r = api.post(f"/v1/payments/{p['id']}/capture", {})
            self.assertEqual((r.status, r.json["charges"][1]["status"], r.json["amount_captured"]), (200, "paid", 600), r)
            api.close()
        finally:
            s.cleanup()


class BadInput(PaymentsBase):
    def test_each_bad_field_is_named_and_changes_nothing(self):
        cases = [
            ({"amount": 0}, "amount"), ({"amount": -5}, "amount"), ({"amount": "10"}, "amount"),
            ({"amount": 1.5}, "amount"), ({"currency": "USD"}, "currency"), ({"currency": "EURO"}, "currency"),
            ({"type": "later"}, "type"), ({"channel": "phone"}, "channel"),
            ({"card": card("4242424242424241")}, "card.number"),
            ({"card": card(exp_month=1, exp_year=2020)}, "card.exp_year"),
            ({"card": card(exp_month=13)}, "card.exp_month"), ({"card": card(cvc="12a")}, "card.cvc"),
            ({"card": None}, "card"), ({"colour": "red"}, "colour"),
            ({"type": "split"}, "split"), ({"type": "split", "split": {"count": 1}}, "split.count"),
            ({"type": "split", "split": {"count": 13}}, "split.count"),
            ({"type": "split", "split": {"count": 3, "interval_days": 0}}, "split.interval_days"),
            ({"split": {"count": 3}}, "split"),
            ({"type": "deposit"}, "deposit"), ({"type": "deposit", "deposit": {"amount": 10000}}, "deposit.amount"),
            ({"type": "deposit", "deposit": {"amount": 100, "balance_due": "2020-01-01"}}, "deposit.balance_due"),
            ({"type": "deposit", "deposit": {"amount": 100, "balance_due": "2030-02-30"}}, "deposit.balance_due"),
            ({"customer": {"email": "nope"}}, "customer.email"), ({"customer": {"phone": "06 11"}}, "customer.phone"), ({"customer": {"age": 3}}, "customer.age"),
            ({"customer_id": "ord_1"}, "customer_id"), ({"shop": "a b"}, "shop"),
            ({"metadata": {"k": 1}}, "metadata.k"), ({"description": "x" * 501}, "description"),
        ]
        for extra, param in cases:
            seq = head_seq()
            b = body()
            b.update(extra)
            if extra.get("card", 0) is None:
                del b["card"]
            r = self.api.post("/v1/payments", b)
            self.assertEqual(r.status, 400, (extra, r))
            self.assertEqual(r.json["error"]["param"], param, (extra, r))
            self.assertEqual(head_seq(), seq, extra)
        r = self.api.post("/v1/payments", raw="{nope", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)

    def test_bad_operations(self):
        p = self.create(type="deferred", amount=5000)
        seq = head_seq()
        for path, b, status, param in [
                ("capture", {"amount": 5001}, 400, "amount"), ("capture", {"amount": 0}, 400, "amount"),
                ("capture", {"extra": 1}, 400, "extra"), ("cancel", {"reason": "bored"}, 400, "reason"),
                ("", {"amount": 0}, 400, "amount"), ("", {}, 400, "amount"), ("", {"amount": 5000}, 400, "amount"),
                ("duplicate", {"amount": -1}, 400, "amount")]:
            r = self.api.post(f"/v1/payments/{p['id']}" + (f"/{path}" if path else ""), b)
            self.assertEqual((r.status, r.json["error"]["param"]), (status, param), (path, b, r))
        for bad in ["pay_nope", "ord_01M83488Z73N8E7K7NXP890G3W", "pay_01M83488Z73N8E7K7NXP890G3Z"]:
            self.assertEqual(self.api.get(f"/v1/payments/{bad}").status, 404)
            self.assertEqual(self.api.post(f"/v1/payments/{bad}/capture", {}).status, 404)
        self.assertEqual(head_seq(), seq)

    def test_replay_equal_after_all_of_it(self):
        p = self.create(type="deferred")
        self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 10})
        self.create(amount=900, type="split", split={"count": 3}, card=card("4000000000000341"))
        self.advance(40 * 86400)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)
        self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
