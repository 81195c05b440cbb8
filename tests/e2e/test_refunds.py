"""Refunds of card payments (docs/refunds.md): full and partial refunds never
beyond what was captured, even when two race; the daily run sends pending
refunds at 06:00 UTC and the simulated bank answers two hours later
(refunded, or not_honored / failed by magic amounts, which give the amount
back); a payment disputed before the run cancels its refund; lists and
filters; every bad input is a 4xx naming its field and leaves the log as it
was; replay rebuilds the same projections."""
import datetime
import threading
import unittest

import harness
from harness import create_merchant, run_cli

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
HOUR = 3600


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


class RefundCase(unittest.TestCase):
    def setUp(self):
        # a merchant per test: each moves its own test clock
        self.m = create_merchant(srv.data, "Refunds", "FR")
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def pay(self, amount=10000, card=CARD, type="at_order", api=None):
        r = (api or self.api).post("/v1/payments", {"amount": amount, "currency": "EUR", "type": type, "card": card})
        self.assertEqual(r.status, 201, r)
        return r.json

    def payment(self, pid):
        r = self.api.get(f"/v1/payments/{pid}")
        self.assertEqual(r.status, 200, r)
        return r.json

    def refund(self, body, status=201, headers=None):
        r = self.api.post("/v1/refunds", body, headers=headers)
        self.assertEqual(r.status, status, r)
        return r.json

    def refused(self, body, status, code, param, api=None):
        """A refused refund: the status, code and field, and nothing written."""
        seq = head_seq()
        r = (api or self.api).post("/v1/refunds", body)
        self.assertEqual(r.status, status, (body, r))
        self.assertEqual(r.json["error"]["code"], code, (body, r))
        self.assertEqual(r.json["error"].get("param"), param, (body, r))
        self.assertEqual(head_seq(), seq, body)
        return r.json["error"]

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def now(self):
        return parse_time(self.api.get("/v1/test_clock").json["now"])

    def advance_to(self, when, margin):
        """Moves the clock to `margin` seconds after `when` (negative: before)."""
        seconds = int((when - self.now()).total_seconds()) + margin
        self.assertGreater(seconds, 0)
        return self.advance(seconds)

    def get_refund(self, rid):
        r = self.api.get(f"/v1/refunds/{rid}")
        self.assertEqual(r.status, 200, r)
        return r.json


class Create(RefundCase):
    def test_full_refund(self):
        p = self.pay(10000)
        rf = self.refund({"payment": p["id"], "reason": "requested_by_customer", "metadata": {"ticket": "SAV-12"}})
        self.assertTrue(rf["id"].startswith("rfd_"))
        self.assertEqual((rf["object"], rf["status"], rf["amount"], rf["currency"]), ("refund", "pending", 10000, "EUR"))
        self.assertEqual((rf["payment"], rf["reason"], rf["metadata"]), (p["id"], "requested_by_customer", {"ticket": "SAV-12"}))
        self.assertEqual((rf["sent_at"], rf["refunded_at"], rf["failure"], rf["version"]), (None, None, None, 1))
        self.assertEqual(rf["livemode"], False)
        # the daily run: the next 06:00 UTC, within 24 hours
        created, send_at = parse_time(rf["created"]), parse_time(rf["send_at"])
        self.assertEqual((send_at.hour, send_at.minute, send_at.second, send_at.microsecond), (6, 0, 0, 0))
        self.assertTrue(created < send_at <= created + datetime.timedelta(hours=24), rf)
        self.assertEqual(self.get_refund(rf["id"]), rf)
        pay = self.payment(p["id"])
        self.assertEqual((pay["amount_refunded"], pay["refunds"]), (10000, [rf["id"]]))
        self.assertEqual(pay["status"], "captured")
        # nothing left: a second refund is refused, naming the payment
        self.refused({"payment": p["id"]}, 409, "state_invalid", "payment")
        self.refused({"payment": p["id"], "amount": 1}, 409, "state_invalid", "payment")
        # the event carries the refund and the payment's new totals
        evs = self.api.get(f"/v1/events?object_id={rf['id']}").json["data"]
        self.assertEqual([e["type"] for e in evs], ["refund.created"])
        self.assertEqual(evs[0]["data"]["object"], rf)
        self.assertEqual(evs[0]["data"]["related"],
                         [{"id": p["id"], "set": {"amount_refunded": 10000, "amount_refund_pending": 10000,
                                                   "refunds": [rf["id"]]}}])

    def test_partial_refunds_up_to_the_capture(self):
        p = self.pay(10000)
        ids = []
        for amount in (3000, 2500):
            ids.append(self.refund({"payment": p["id"], "amount": amount})["id"])
        # more than what is left: the amount is named, nothing written
        err = self.refused({"payment": p["id"], "amount": 4501}, 400, "amount_invalid", "amount")
        self.assertIn("4500", err["message"])
        last = self.refund({"payment": p["id"]})   # no amount: all that is left
        self.assertEqual(last["amount"], 4500)
        ids.append(last["id"])
        pay = self.payment(p["id"])
        self.assertEqual((pay["amount_refunded"], pay["refunds"]), (10000, ids))
        self.refused({"payment": p["id"], "amount": 1}, 409, "state_invalid", "payment")

    def test_partially_captured_authorization(self):
        p = self.pay(10000, type="deferred")
        self.assertEqual(p["status"], "authorized")
        self.refused({"payment": p["id"]}, 409, "state_invalid", "payment")   # nothing captured yet
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 4000})
        self.assertEqual((r.status, r.json["status"], r.json["amount_captured"]), (200, "authorized", 4000), r)
        self.refused({"payment": p["id"], "amount": 4001}, 400, "amount_invalid", "amount")
        self.assertEqual(self.refund({"payment": p["id"]})["amount"], 4000)
        self.refused({"payment": p["id"], "amount": 1}, 409, "state_invalid", "payment")
        # a later capture makes more refundable
        r = self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 2000})
        self.assertEqual((r.status, r.json["amount_refunded"]), (200, 4000), r)
        self.assertEqual(self.refund({"payment": p["id"]})["amount"], 2000)
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 6000)

    def test_refund_events_are_webhook_types(self):
        for filters in (["refund.*"], ["refund.created", "refund.sent", "refund.refunded", "refund.failed",
                                       "refund.not_honored", "refund.payment_cancelled"]):
            r = self.api.post("/v1/webhook_endpoints", {"url": "https://example.com/hooks", "enabled_events": filters})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(self.api.request("DELETE", f"/v1/webhook_endpoints/{r.json['id']}").status, 200)
        r = self.api.post("/v1/webhook_endpoints", {"url": "https://example.com/hooks", "enabled_events": ["refund.lost"]})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "enabled_events[0]"), r)

    def test_idempotency_key(self):
        p = self.pay(10000)
        body = {"payment": p["id"], "amount": 1000}
        first = self.refund(body, headers={"Idempotency-Key": "rf-1"})
        seq = head_seq()
        again = self.refund(body, headers={"Idempotency-Key": "rf-1"})
        self.assertEqual(again, first)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 1000)
        r = self.api.post("/v1/refunds", {"payment": p["id"], "amount": 2000}, headers={"Idempotency-Key": "rf-1"})
        self.assertEqual((r.status, r.json["error"]["code"]), (409, "idempotency_key_reused"), r)
        self.assertEqual(head_seq(), seq)


class Race(RefundCase):
    def race(self, bodies):
        """Sends the bodies at once, each on its own connection."""
        clients = [srv.client(self.m["test_secret_key"]) for _ in bodies]
        barrier = threading.Barrier(len(bodies))
        out = [None] * len(bodies)

        def send(i):
            barrier.wait(timeout=10)
            out[i] = clients[i].post("/v1/refunds", bodies[i])

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        for c in clients:
            c.close()
        self.assertTrue(all(r is not None for r in out), "every request answered")
        return out

    def test_two_partial_refunds_beyond_the_capture(self):
        for round_ in range(8):
            p = self.pay(10000)
            out = self.race([{"payment": p["id"], "amount": 6000}, {"payment": p["id"], "amount": 7000}])
            ok = [r for r in out if r.status == 201]
            refused = [r for r in out if r.status != 201]
            self.assertEqual(len(ok), 1, (round_, out))
            self.assertEqual((refused[0].status, refused[0].json["error"]["code"], refused[0].json["error"]["param"]),
                             (400, "amount_invalid", "amount"), refused)
            pay = self.payment(p["id"])
            self.assertEqual((pay["amount_refunded"], pay["refunds"]), (ok[0].json["amount"], [ok[0].json["id"]]))
            listed = self.api.get(f"/v1/refunds?payment={p['id']}").json["data"]
            self.assertEqual([x["id"] for x in listed], [ok[0].json["id"]])

    def test_two_full_refunds(self):
        for round_ in range(5):
            p = self.pay(5000)
            out = self.race([{"payment": p["id"]}, {"payment": p["id"]}, {"payment": p["id"]}])
            self.assertEqual(sorted(r.status for r in out), [201, 409, 409], (round_, out))
            self.assertEqual(self.payment(p["id"])["amount_refunded"], 5000)


class Lifecycle(RefundCase):
    def test_pending_sent_refunded(self):
        p = self.pay(10000)
        rf = self.refund({"payment": p["id"], "amount": 2500})
        send_at = parse_time(rf["send_at"])
        self.advance_to(send_at, -60)
        self.assertEqual(self.get_refund(rf["id"])["status"], "pending")
        self.assertEqual(self.advance(120)["jobs_fired"], 1)
        sent = self.get_refund(rf["id"])
        self.assertEqual((sent["status"], sent["sent_at"], sent["version"]), ("sent", rf["send_at"], 2))
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 2500)
        self.advance_to(send_at + datetime.timedelta(hours=2), -60)
        self.assertEqual(self.get_refund(rf["id"])["status"], "sent")
        self.assertEqual(self.advance(120)["jobs_fired"], 1)
        done = self.get_refund(rf["id"])
        self.assertEqual((done["status"], done["failure"], done["version"]), ("refunded", None, 3))
        self.assertEqual(parse_time(done["refunded_at"]), send_at + datetime.timedelta(hours=2))
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 2500)
        evs = self.api.get(f"/v1/events?object_id={rf['id']}").json["data"]
        self.assertEqual([(e["type"], e["actor"]) for e in evs],
                         [("refund.created", rf["created_by"]), ("refund.sent", "scheduler"),
                          ("refund.refunded", "scheduler")])
        self.assertEqual(evs[1]["created"], rf["send_at"])
        self.assertEqual(evs[2]["data"]["object"], done)
        # nothing more happens
        self.assertEqual(self.advance(3 * 24 * HOUR)["jobs_fired"], 0)
        self.assertEqual(self.get_refund(rf["id"]), done)

    def test_not_honored_and_failed_give_the_amount_back(self):
        p = self.pay(10000)
        a = self.refund({"payment": p["id"], "amount": 1013})   # ..13: the payer's bank refuses
        b = self.refund({"payment": p["id"], "amount": 2514})   # ..14: the refund fails
        c = self.refund({"payment": p["id"], "amount": 1000})
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 4527)
        self.advance_to(parse_time(a["send_at"]) + datetime.timedelta(hours=2), 60)
        a, b, c = (self.get_refund(x["id"]) for x in (a, b, c))
        self.assertEqual((a["status"], a["failure"]["code"]), ("not_honored", "refused_by_bank"))
        self.assertEqual((b["status"], b["failure"]["code"]), ("failed", "processing_error"))
        self.assertEqual((c["status"], c["failure"]), ("refunded", None))
        self.assertEqual((a["sent_at"], a["refunded_at"]), (a["send_at"], None))
        pay = self.payment(p["id"])
        self.assertEqual((pay["amount_refunded"], pay["refunds"]), (1000, [a["id"], b["id"], c["id"]]))
        evs = self.api.get(f"/v1/events?object_id={a['id']}").json["data"]
        self.assertEqual([e["type"] for e in evs], ["refund.created", "refund.sent", "refund.not_honored"])
        # a and b settle at the same instant, in either order: a gives back its 1013
        given = evs[2]["data"]["related"]
        self.assertEqual([x["id"] for x in given], [p["id"]])
        self.assertIn(given[0]["set"], [{"amount_refunded": 4527 - 1013, "amount_refund_pending": 0},
                                        {"amount_refunded": 4527 - 2514 - 1013, "amount_refund_pending": 0}])
        # refundable again
        self.assertEqual(self.refund({"payment": p["id"]})["amount"], 9000)
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 10000)

    def open_dispute(self, pid):
        """Opens a dispute on the payment through the test-mode disputes API
        (core/api_disputes.c); None if this build has none."""
        r = self.api.post("/v1/test/disputes", {"payment": pid}, record=False)
        if r.status == 404 and r.json and r.json["error"]["code"] == "route_unknown":
            return None
        self.assertEqual(r.status, 201, r)
        return r.json

    def test_payment_cancelled_when_disputed_before_sending(self):
        p = self.pay(10000)
        rf = self.refund({"payment": p["id"], "amount": 4000})
        dispute = self.open_dispute(p["id"])
        if dispute is None:
            self.skipTest("no disputes API in this build: a payment cannot be disputed")
        pay = self.payment(p["id"])
        self.assertEqual(pay["dispute"], dispute["id"])
        # the pending refund is no money back yet: the dispute covers the whole capture
        self.assertEqual((dispute["amount"], pay["amount_disputed"]), (10000, 10000))
        self.assertEqual((pay["amount_refunded"], pay["amount_refund_pending"]), (4000, 4000))
        self.assertEqual(self.get_refund(rf["id"])["status"], "pending")
        # a disputed payment takes no new refund: the scheme pays the payer back
        err = self.refused({"payment": p["id"], "amount": 1}, 409, "state_invalid", "payment")
        self.assertIn(dispute["id"], err["message"])
        # the daily run finds the payment disputed: nothing is sent
        self.advance_to(parse_time(rf["send_at"]), 60)
        done = self.get_refund(rf["id"])
        self.assertEqual((done["status"], done["failure"]["code"], done["failure"]["dispute"]),
                         ("payment_cancelled", "payment_disputed", dispute["id"]))
        self.assertEqual((done["sent_at"], done["refunded_at"]), (None, None))
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 0)
        evs = self.api.get(f"/v1/events?object_id={rf['id']}").json["data"]
        self.assertEqual([(e["type"], e["actor"]) for e in evs],
                         [("refund.created", rf["created_by"]), ("refund.payment_cancelled", "scheduler")])
        self.assertEqual(evs[1]["data"]["related"],
                         [{"id": p["id"], "set": {"amount_refunded": 0, "amount_refund_pending": 0}}])
        # nothing is left to happen to it
        self.advance(24 * HOUR)
        self.assertEqual(self.get_refund(rf["id"]), done)


    def test_refunds_again_once_the_dispute_is_won(self):
        p = self.pay(10000)
        dispute = self.open_dispute(p["id"])
        if dispute is None:
            self.skipTest("no disputes API in this build: a payment cannot be disputed")
        self.refused({"payment": p["id"]}, 409, "state_invalid", "payment")
        # the merchant answers with evidence; the scheme decides for the merchant
        boundary = "refundtestboundary"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n"
                f"Delivered and signed for on 2026-03-16.\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\ntrue\r\n"
                f"--{boundary}--\r\n")
        r = self.api.post(f"/v1/disputes/{dispute['id']}/evidence", raw=form, record=False,
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(r.status, 200, r)
        self.advance(15 * 60)
        r = self.api.post(f"/v1/test/disputes/{dispute['id']}/resolve", {"outcome": "won"}, record=False)
        self.assertEqual((r.status, r.json["status"]), (200, "won"), r)
        # the scheme gave the money back to the merchant: a refund pays once
        rf = self.refund({"payment": p["id"]})
        self.assertEqual(rf["amount"], 10000)
        self.advance_to(parse_time(rf["send_at"]), 60)
        self.assertEqual(self.get_refund(rf["id"])["status"], "sent")


class Lists(RefundCase):
    def test_list_filters_and_pages(self):
        p1, p2 = self.pay(10000), self.pay(8000)
        r1 = self.refund({"payment": p1["id"], "amount": 1013})
        r2 = self.refund({"payment": p1["id"], "amount": 2000})
        r3 = self.refund({"payment": p2["id"], "amount": 3000})

        def ids(query):
            r = self.api.get("/v1/refunds" + query)
            self.assertEqual(r.status, 200, (query, r))
            return [x["id"] for x in r.json["data"]], r.json["has_more"], r.json["next_cursor"]

        self.assertEqual(ids(""), ([r3["id"], r2["id"], r1["id"]], False, None))
        self.assertEqual(ids("?limit=2"), ([r3["id"], r2["id"]], True, r2["id"]))
        self.assertEqual(ids(f"?limit=2&cursor={r2['id']}"), ([r1["id"]], False, None))
        self.assertEqual(ids(f"?payment={p1['id']}"), ([r2["id"], r1["id"]], False, None))
        self.assertEqual(ids(f"?payment={p1['id']}&limit=1"), ([r2["id"]], True, r2["id"]))
        self.assertEqual(ids(f"?payment={p1['id']}&limit=1&cursor={r2['id']}"), ([r1["id"]], False, None))
        self.assertEqual(ids(f"?payment={p2['id']}"), ([r3["id"]], False, None))
        self.assertEqual(ids("?status=pending")[0], [r3["id"], r2["id"], r1["id"]])
        self.assertEqual(ids("?status=refunded")[0], [])
        self.advance_to(parse_time(r1["send_at"]) + datetime.timedelta(hours=2), 60)
        self.assertEqual(ids("?status=not_honored")[0], [r1["id"]])
        self.assertEqual(ids("?status=refunded")[0], [r3["id"], r2["id"]])
        self.assertEqual(ids(f"?status=refunded&payment={p1['id']}")[0], [r2["id"]])
        self.assertEqual(ids("?status=pending")[0], [])
        # another merchant sees none of it
        other = create_merchant(srv.data, "Other", "FR")
        o = srv.client(other["test_secret_key"])
        r = o.get("/v1/refunds")
        self.assertEqual((r.status, r.json["data"]), (200, []))
        r = o.get(f"/v1/refunds?payment={p1['id']}")
        self.assertEqual((r.status, r.json["data"]), (200, []))
        r = o.get(f"/v1/refunds/{r1['id']}")
        self.assertEqual((r.status, r.json["error"]["code"], r.json["error"]["param"]), (404, "resource_missing", "id"))
        r = o.get(f"/v1/refunds?cursor={r1['id']}")
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "cursor"))
        o.close()
        # nor does live mode
        live = srv.client(self.m["live_secret_key"])
        r = live.get("/v1/refunds")
        self.assertEqual((r.status, r.json["data"]), (200, []))
        self.assertEqual(live.get(f"/v1/refunds/{r1['id']}").status, 404)
        live.close()

    def test_bad_list_queries(self):
        p = self.pay(1000)
        r1 = self.refund({"payment": p["id"], "amount": 100})
        for query, param in [("?status=done", "status"), ("?payment=ord_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "payment"),
                             ("?payment=pay_x", "payment"), ("?cursor=nope", "cursor"),
                             ("?cursor=rfd_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "cursor"),
                             (f"?payment={self.pay(500)['id']}&cursor={r1['id']}", "cursor"),
                             ("?limit=0", "limit"), ("?limit=101", "limit"), ("?sort=amount", "sort")]:
            r = self.api.get("/v1/refunds" + query)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), (query, r))
        for rid in ("rfd_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "nope", p["id"]):
            r = self.api.get(f"/v1/refunds/{rid}")
            self.assertEqual((r.status, r.json["error"]["code"], r.json["error"]["param"]),
                             (404, "resource_missing", "id"), rid)


class BadInput(RefundCase):
    def test_bad_bodies(self):
        p = self.pay(10000)
        pid = p["id"]
        cases = [
            ({"payment": pid, "charge": "x"}, 400, "parameter_unknown", "charge"),
            ({}, 400, "parameter_missing", "payment"),
            ({"amount": 100}, 400, "parameter_missing", "payment"),
            ({"payment": "pay_x"}, 400, "parameter_invalid", "payment"),
            ({"payment": 12}, 400, "parameter_invalid", "payment"),
            ({"payment": pid, "amount": 0}, 400, "parameter_invalid", "amount"),
            ({"payment": pid, "amount": -100}, 400, "parameter_invalid", "amount"),
            ({"payment": pid, "amount": 10.5}, 400, "parameter_invalid", "amount"),
            ({"payment": pid, "amount": "100"}, 400, "parameter_invalid", "amount"),
            ({"payment": pid, "amount": 10**12}, 400, "parameter_invalid", "amount"),
            ({"payment": pid, "amount": 10001}, 400, "amount_invalid", "amount"),
            ({"payment": pid, "reason": "abandoned"}, 400, "parameter_invalid", "reason"),
            ({"payment": pid, "metadata": {"k": 1}}, 400, "parameter_invalid", "metadata.k"),
            ({"payment": pid, "metadata": "x"}, 400, "parameter_invalid", "metadata"),
            ({"payment": "pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ"}, 404, "resource_missing", "payment"),
        ]
        for body, status, code, param in cases:
            self.refused(body, status, code, param)
        seq = head_seq()
        r = self.api.post("/v1/refunds", raw="{\"payment\":", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        r = self.api.post("/v1/refunds", raw="[1]", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.payment(pid)["amount_refunded"], 0)

    def test_another_merchants_payment_does_not_exist(self):
        p = self.pay(10000)
        other = create_merchant(srv.data, "Other", "FR")
        o = srv.client(other["test_secret_key"])
        mine = self.refused({"payment": p["id"]}, 404, "resource_missing", "payment", api=o)
        unknown = self.refused({"payment": "pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ"}, 404, "resource_missing", "payment", api=o)
        self.assertEqual(mine["message"].replace(p["id"], "X"), unknown["message"].replace("pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "X"))
        o.close()
        # the same merchant's live mode neither
        live = srv.client(self.m["live_secret_key"])
        self.refused({"payment": p["id"]}, 404, "resource_missing", "payment", api=live)
        live.close()
        self.assertEqual(self.payment(p["id"])["amount_refunded"], 0)

    def test_payments_that_cannot_be_refunded(self):
        # declined: recorded as failed
        r = self.api.post("/v1/payments", {"amount": 5000, "currency": "EUR",
                                           "card": dict(CARD, number="4000000000000002")}, record=False)
        self.assertEqual(r.status, 402, r)
        failed = r.json["error"]["payment"]["id"]
        self.assertEqual(self.payment(failed)["status"], "failed")
        err = self.refused({"payment": failed}, 409, "state_invalid", "payment")
        self.assertIn("failed", err["message"])
        # cancelled before any capture
        c = self.pay(5000, type="deferred")
        r = self.api.post(f"/v1/payments/{c['id']}/cancel", {})
        self.assertEqual((r.status, r.json["status"]), (200, "cancelled"), r)
        err = self.refused({"payment": c["id"]}, 409, "state_invalid", "payment")
        self.assertIn("cancelled", err["message"])
        # authorized, nothing captured
        a = self.pay(5000, type="deferred")
        err = self.refused({"payment": a["id"], "amount": 100}, 409, "state_invalid", "payment")
        self.assertIn("cancel", err["message"])


class ZOperatorTools(unittest.TestCase):
    """Last (unittest runs classes in name order): replay rebuilds every
    projection from the log to the same digest, and the hash chain holds."""

    def test_replay_and_audit(self):
        self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)
        p = run_cli("replay", data=srv.data)
        self.assertIn("all projections equal", p.stdout)


if __name__ == "__main__":
    unittest.main()
