"""The ledger against the real binary (docs/ledger.md): each capture, refund
and dispute is a balance transaction whose fee comes from fees.compute and
is recorded in the event; captures are held 7 days; the postings of every
merchant sum to zero per currency (`caisse audit ledger`); replay rebuilds
it all."""
import unittest

import harness
from harness import MerchantCase, Server, card, create_merchant, half_up, run_cli

DAY = 86400


def card_fee(amount, eea=True):
    """The built-in fees.compute for a card payment of a FR merchant."""
    fee = half_up(amount, 140 if eea else 290) + 25
    return fee, half_up(fee, 2000)


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class Ledger(MerchantCase):
    MERCHANT = ("Grand livre", "FR")
    server = staticmethod(lambda: srv)

    def balance(self):
        r = self.api.get("/v1/balance")
        self.assertEqual(r.status, 200, r)
        b = r.json
        return ({x["currency"]: x["amount"] for x in b["available"]}.get("EUR", 0),
                {x["currency"]: x["amount"] for x in b["pending"]}.get("EUR", 0))

    def txns(self, **q):
        qs = "&".join(f"{k}={v}" for k, v in q.items())
        r = self.api.get("/v1/balance_transactions" + ("?" + qs if qs else ""))
        self.assertEqual(r.status, 200, r)
        return r.json["data"]

    def test_capture_is_held_seven_days_with_its_fee(self):
        self.assertEqual(self.balance(), (0, 0))
        p = self.pay(12990)
        fee, vat = card_fee(12990)
        self.assertEqual((fee, vat), (207, 41))
        self.assertEqual((p["captures"][0]["fee"], p["captures"][0]["vat"]), (fee, vat))
        [t] = self.txns()
        self.assertEqual((t["type"], t["source"], t["amount"], t["fee"], t["vat"], t["net"]),
                         ("charge", p["id"], 12990, fee, vat, 12990 - fee - vat))
        self.assertEqual(self.balance(), (0, 12990 - fee - vat))
        # the fee is in the event, as decided: replay never asks the policy again
        ev = self.api.get(f"/v1/events?object_id={p['id']}").json["data"][0]
        self.assertEqual(ev["data"]["object"]["captures"][0]["fee"], fee)
        self.advance(7 * DAY - 60)
        self.assertEqual(self.balance(), (0, 12990 - fee - vat))
        self.advance(120)
        self.assertEqual(self.balance(), (12990 - fee - vat, 0))

    def test_cards_from_outside_the_eea_cost_more(self):
        p = self.pay(10000, card=card("4000000760000002"))   # issued in BR
        fee, vat = card_fee(10000, eea=False)
        self.assertEqual((p["captures"][0]["fee"], p["captures"][0]["vat"]), (fee, vat))
        self.assertEqual(self.txns()[0]["net"], 10000 - fee - vat)

    def test_partial_captures_and_split_charges_each_move_the_balance(self):
        p = self.pay(10000, type="deferred")
        self.assertEqual(self.txns(), [])   # an authorization moves nothing
        self.api.post(f"/v1/payments/{p['id']}/capture", {"amount": 4000})
        self.api.post(f"/v1/payments/{p['id']}/capture", {})
        charges = self.txns(source=p["id"])
        self.assertEqual(sorted(t["amount"] for t in charges), [4000, 6000])
        self.assertEqual(sorted(t["fee"] for t in charges), sorted([card_fee(4000)[0], card_fee(6000)[0]]))
        s = self.pay(900, type="split", split={"count": 3})
        self.assertEqual([t["amount"] for t in self.txns(source=s["id"])], [300])
        self.advance(31 * DAY)
        self.assertEqual(sorted(t["amount"] for t in self.txns(source=s["id"])), [300, 300])
        got = self.api.get(f"/v1/payments/{s['id']}").json["captures"]
        self.assertEqual([(c["fee"], c["vat"]) for c in got], [card_fee(300)] * 2)

    def test_refunds_are_taken_at_once_and_given_back_when_they_fail(self):
        p = self.pay(10000)
        net = 10000 - sum(card_fee(10000))
        r = self.api.post("/v1/refunds", {"payment": p["id"], "amount": 2513})   # 13: not honoured
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.balance(), (-2513, net))
        [t] = self.txns(type="refund")
        self.assertEqual((t["source"], t["amount"], t["net"]), (r.json["id"], -2513, -2513))
        self.advance(2 * DAY)   # sent at the daily run, refused by the payer's bank 2 h later
        self.assertEqual(self.api.get(f"/v1/refunds/{r.json['id']}").json["status"], "not_honored")
        [back] = self.txns(type="refund_failure")
        self.assertEqual((back["amount"], back["net"]), (2513, 2513))
        self.advance(6 * DAY)
        self.assertEqual(self.balance(), (net, 0))

    def test_a_dispute_debits_amount_and_fee_and_a_win_gives_them_back(self):
        p = self.pay(8000)
        net = 8000 - sum(card_fee(8000))
        d = self.api.post("/v1/test/disputes", {"payment": p["id"]})
        self.assertEqual(d.status, 201, d)
        dispute = d.json
        [t] = self.txns(type="dispute_debit")
        self.assertEqual((t["amount"], t["fee"], t["vat"], t["net"]), (-8000, 1500, 300, -9800))
        self.assertEqual(self.balance(), (-9800, net))
        # submit evidence text and win
        r = self.api.request("POST", f"/v1/disputes/{dispute['id']}/evidence",
                             raw=b"--b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nDelivered.\r\n--b--\r\n",
                             headers={"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.api.post(f"/v1/disputes/{dispute['id']}/submit", {}).status, 200)
        self.advance(2 * DAY)
        r = self.api.post(f"/v1/test/disputes/{dispute['id']}/resolve", {"outcome": "won"})
        self.assertEqual(r.status, 200, r)
        [w] = self.txns(type="dispute_reversal")
        self.assertEqual((w["amount"], w["fee"], w["vat"], w["net"]), (8000, -1500, -300, 9800))
        self.assertEqual(self.balance(), (0, net))   # the capture is still held: 2 of its 7 days passed

    def accounts(self):
        b = self.api.get("/v1/balance").json
        return {k: {x["currency"]: x["amount"] for x in b[k]}.get("EUR", 0)
                for k in ("available", "pending", "owed", "reserved", "fees", "paid_out")}

    def test_a_dispute_beyond_the_available_balance_is_recorded_as_owed(self):
        # 50.00 available (captured 8 days ago), 100.00 held: a 80.00 dispute
        # (+15.00 fee +3.00 VAT = 98.00) takes 50.00 from the balance, owes 48.00
        old = self.pay(5000)
        old_net = 5000 - sum(card_fee(5000))
        self.advance(8 * DAY)
        held = self.pay(10000)
        held_net = 10000 - sum(card_fee(10000))
        self.assertEqual(self.accounts(), {"available": old_net, "pending": held_net, "owed": 0, "reserved": 0,
                                           "fees": sum(card_fee(5000)) + sum(card_fee(10000)), "paid_out": 0})
        d = self.api.post("/v1/test/disputes", {"payment": held["id"], "amount": 8000})
        self.assertEqual(d.status, 201, d)
        self.assertEqual(d.json["owed"], 9800 - old_net)
        [t] = self.txns(type="dispute_debit")
        self.assertEqual((t["net"], t["owed"]), (-9800, 9800 - old_net))
        a = self.accounts()
        self.assertEqual((a["available"], a["owed"], a["reserved"], a["pending"]),
                         (old_net - 9800, 9800 - old_net, 9800, held_net))
        self.assertEqual(a["fees"], sum(card_fee(5000)) + sum(card_fee(10000)) + 1800)
        # a dispute the balance covers owes nothing and has no owed field
        self.advance(8 * DAY)          # the held capture is available: it pays the debt first
        a = self.accounts()
        self.assertEqual((a["available"], a["owed"]), (old_net + held_net - 9800, 0))
        d2 = self.api.post("/v1/test/disputes", {"payment": old["id"], "amount": 1000})
        self.assertEqual((d2.status, d2.json["owed"]), (201, 0), d2)
        self.assertNotIn("owed", self.txns(type="dispute_debit")[0])
        self.assertEqual(self.accounts()["reserved"], 9800 + 1000 + 1800)
        # accepted: the money is gone, nothing is reserved for it any more
        r = self.api.post(f"/v1/disputes/{d2.json['id']}/accept", {})
        self.assertEqual((r.status, r.json["status"]), (200, "accepted"), r)
        self.assertEqual(self.accounts()["reserved"], 9800)
        self.assertEqual(self.api.get("/v1/balance?x=1").status, 400)

    def test_lists_page_and_refuse_bad_parameters(self):
        for amount in (1000, 2000, 3000):
            self.pay(amount)
        first = self.api.get("/v1/balance_transactions?limit=2").json
        self.assertEqual(len(first["data"]), 2)
        self.assertTrue(first["has_more"])
        rest = self.api.get(f"/v1/balance_transactions?limit=2&cursor={first['next_cursor']}").json
        self.assertEqual([t["amount"] for t in first["data"] + rest["data"]], [3000, 2000, 1000])
        self.assertFalse(rest["has_more"])
        for q, param in [("type=fee", "type"), ("cursor=nope", "cursor"), ("starting_after=btx_x", "starting_after"),
                         ("colour=red", "colour"), ("limit=0", "limit"), ("source=x", "source")]:
            r = self.api.get("/v1/balance_transactions?" + q)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), q)
        r = self.api.get("/v1/balance?currency=EUR")
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "currency"))

    def test_merchants_and_modes_see_only_their_own(self):
        self.pay(5000)
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        self.assertEqual(api.get("/v1/balance").json["pending"], [])
        self.assertEqual(api.get("/v1/balance_transactions").json["data"], [])
        api.close()
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get("/v1/balance_transactions").json["data"], [])
        live.close()

    def test_a_fee_policy_that_fails_fails_the_payment_and_records_nothing(self):
        import os
        import tempfile
        pdir = tempfile.mkdtemp(prefix="caisse-fees-")
        with open(os.path.join(pdir, "fees.lua"), "w") as f:
            f.write('local base = caisse.policy.get("fees.compute")\n'
                    'caisse.policy.define("fees.compute", function(i)\n'
                    '  if i.kind == "payment" and i.amount == 666 then return {fee = -1, vat = 0} end\n'
                    '  return base(i) end)\n')
        s = Server(args=("--policy-dir", pdir)).start()
        try:
            m = create_merchant(s.data, "Frais", "FR")
            api = s.client(m["test_secret_key"])
            seq = api.get("/healthz").json["head_seq"]
            r = api.post("/v1/payments", {"amount": 666, "currency": "EUR", "card": card()})
            self.assertEqual((r.status, r.json["error"]["code"]), (500, "policy_failed"), r)
            self.assertEqual(api.get("/healthz").json["head_seq"], seq)
            self.assertEqual(api.post("/v1/payments", {"amount": 667, "currency": "EUR", "card": card()}).status, 201)
            api.close()
        finally:
            s.cleanup()

    def test_replay_rebuilds_the_ledger(self):
        p = self.pay(4242)
        self.api.post("/v1/refunds", {"payment": p["id"], "amount": 1000})
        self.advance(8 * DAY)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
