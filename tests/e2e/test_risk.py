"""The merchant's risk controls (seed 004 "contrôle risques"), the payments
list and its CSV export (the rejects by failure code, 15 months online), and
the authorization efficiency report, against the real binary (docs/risk.md).

Each control refuses a payment with 402, records it as failed with the rule
that fired, and lists it among the rejects; a merchant's own Lua rule wraps
risk.decide in an override file; bad settings and bad query parameters are
400 naming the field and write nothing; replay rebuilds it all."""
import calendar
import csv
import datetime
import io
import os
import shutil
import tempfile
import unittest
import urllib.parse

import harness
from harness import Server, card, create_merchant, run_cli

GOOD = "4242424242424242"
MASTERCARD = "5555555555554444"
MC_2SERIES = "2223000000000015"
DECLINED = "4000000000000002"
NO_FUNDS = "4000000000009995"
EXPIRED = "4000000000000069"
SYSTEMATIC = "4000000000003063"
VIRTUAL = "4000000000000077"
BRAZIL = "4000000760000002"
RETRY_ONCE = "4000000000000341"


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq(server=None):
    return harness.head_seq(server or srv)


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def qs(**params):
    return urllib.parse.urlencode(params)


class RiskCase(unittest.TestCase):
    server = None

    def setUp(self):
        # a merchant per test: each has its own settings, cards and test clock
        s = self.server or srv
        self.m = create_merchant(s.data, "Risques", "FR")
        self.api = s.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def pay(self, amount=10000, number=GOOD, status=201, api=None, **extra):
        body = {"amount": amount, "currency": "EUR", "card": card(number)}
        body.update(extra)
        r = (api or self.api).post("/v1/payments", body)
        self.assertEqual(r.status, status, r)
        return r.json if status == 201 else r.json["error"].get("payment")

    def blocked(self, rule, amount=10000, number=GOOD, source="controls", api=None, **extra):
        """A payment refused by the risk controls: 402, recorded failed with the rule."""
        body = {"amount": amount, "currency": "EUR", "card": card(number)}
        body.update(extra)
        r = (api or self.api).post("/v1/payments", body)
        self.assertEqual(r.status, 402, r)
        e = r.json["error"]
        self.assertEqual((e["type"], e["code"], e["decline_code"], e["param"]),
                         ("card_error", "payment_blocked", "risk_blocked", "card"))
        self.assertIn(rule, e["message"])
        p = e["payment"]
        self.assertEqual((p["status"], p["failure"]["code"]), ("failed", "risk_blocked"))
        self.assertEqual((p["risk"]["decision"], p["risk"]["rule"], p["risk"]["source"]), ("blocked", rule, source))
        self.assertEqual((p["amount_authorized"], p["amount_captured"]), (0, 0))
        self.assertEqual((api or self.api).get(f"/v1/payments/{p['id']}").json, p)
        rejects = [x["id"] for x in (api or self.api).get("/v1/payments?failure_code=risk_blocked&limit=100").json["data"]]
        self.assertIn(p["id"], rejects)
        return p

    def settings(self, body, status=200):
        r = self.api.post("/v1/risk_settings", body)
        self.assertEqual(r.status, status, r)
        return r.json

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def now(self):
        return parse_time(self.api.get("/v1/test_clock").json["now"])


class Controls(RiskCase):
    def test_grey_listed_bin(self):
        self.pay(number=GOOD)
        self.settings({"blocked_bins": ["424242"]})
        p = self.blocked("bin_grey_list", number=GOOD)
        self.assertEqual(p["card"]["bin"], "424242")
        self.assertEqual(p["risk"]["counters"]["count"], 1, "the earlier payment of the card was counted")
        # another BIN passes; the event recorded the refusal
        self.pay(number=MASTERCARD)
        evs = self.api.get(f"/v1/events?object_id={p['id']}").json["data"]
        self.assertEqual([e["type"] for e in evs], ["payment.failed"])
        self.assertEqual(evs[0]["data"]["object"]["risk"]["rule"], "bin_grey_list")
        # listed among the rejects, and only there
        self.assertEqual([x["id"] for x in self.api.get("/v1/payments?failure_code=risk_blocked").json["data"]], [p["id"]])

    def test_blocked_card_fingerprint(self):
        first = self.pay(number=GOOD)
        fp = first["card"]["fingerprint"]
        self.assertRegex(fp, "^[0-9a-f]{64}$")
        self.settings({"blocked_cards": [fp]})
        p = self.blocked("card_grey_list", number=GOOD)
        self.assertEqual(p["card"]["fingerprint"], fp)
        other = self.pay(number=MASTERCARD)
        self.assertNotEqual(other["card"]["fingerprint"], fp)

    def test_blocked_card_country(self):
        b = self.pay(number=BRAZIL)
        self.assertEqual(b["card"]["country"], "BR")
        self.settings({"blocked_card_countries": ["BR", "NG"]})
        self.blocked("card_country_grey_list", number=BRAZIL)
        self.pay(number=GOOD)   # FR
        # emptied: BR passes again
        self.settings({"blocked_card_countries": []})
        self.pay(number=BRAZIL)

    def test_outstanding_limit_freed_by_cancel_and_refund(self):
        self.settings({"card_outstanding_limit": {"amount": 10000, "window_days": 30}})
        a = self.pay(6000, type="deferred")
        self.assertEqual(a["status"], "authorized")
        p = self.blocked("card_outstanding_limit", amount=5000)
        self.assertEqual(p["risk"]["counters"]["outstanding"], 6000)
        self.assertEqual(p["risk"]["counters"]["outstanding_window_days"], 30)
        # another card has its own outstanding
        self.pay(5000, number=MASTERCARD)
        # cancelling the authorization frees its room
        r = self.api.post(f"/v1/payments/{a['id']}/cancel", {})
        self.assertEqual((r.status, r.json["status"]), (200, "cancelled"), r)
        self.pay(5000)
        c = self.pay(4000)                       # 9000 outstanding
        self.blocked("card_outstanding_limit", amount=2000)
        # a refund frees what it gives back
        r = self.api.post("/v1/refunds", {"payment": c["id"], "amount": 1000})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.api.get(f"/v1/payments/{c['id']}").json["amount_refunded"], 1000)
        ok = self.pay(2000)                      # 8000 + 2000 = the limit exactly
        self.assertEqual(ok["risk"]["counters"]["outstanding"], 8000)
        self.blocked("card_outstanding_limit", amount=1)

    def test_outstanding_window(self):
        self.settings({"card_outstanding_limit": {"amount": 10000, "window_days": 2}})
        self.pay(9000)
        self.blocked("card_outstanding_limit", amount=2000)
        self.advance(2 * 86400 + 60)             # the first payment leaves the window
        self.pay(2000)

    def test_split_payment_weighs_its_whole_amount(self):
        # the limit is on what the card is committed to: all the charges
        self.settings({"card_outstanding_limit": {"amount": 10000}})
        p = self.blocked("card_outstanding_limit", amount=12000, type="split", split={"count": 3})
        self.assertEqual(p["charges"][0]["status"], "cancelled")
        s = self.pay(9000, type="split", split={"count": 3})
        self.assertEqual((s["status"], s["amount_captured"]), ("authorized", 3000))
        self.blocked("card_outstanding_limit", amount=1001)
        self.pay(1000)

    def test_virtual_card_filter(self):
        v = self.pay(number=VIRTUAL)
        self.assertTrue(v["card"]["virtual"])
        self.settings({"block_virtual_cards": True})
        self.blocked("virtual_card_filter", number=VIRTUAL)
        self.pay(number=GOOD)
        self.pay(number=SYSTEMATIC)              # the other filter is off

    def test_systematic_authorization_filter(self):
        self.settings({"block_systematic_authorization": True})
        p = self.blocked("systematic_authorization_filter", number=SYSTEMATIC)
        self.assertTrue(p["card"]["systematic_authorization"])
        self.pay(number=VIRTUAL)                 # the other filter is off
        self.settings({"block_systematic_authorization": False})
        self.pay(number=SYSTEMATIC)

    def test_velocity_by_count(self):
        self.settings({"velocity": {"max_count": 2, "window_hours": 24}})
        self.pay(100)
        self.pay(100)
        p = self.blocked("velocity_count", amount=100)
        self.assertEqual(p["risk"]["counters"]["count"], 2)
        self.pay(100, number=MASTERCARD)             # per card
        # declined attempts count too
        self.pay(100, number=DECLINED, status=402)
        self.pay(100, number=DECLINED, status=402)
        self.blocked("velocity_count", amount=100, number=DECLINED)
        self.advance(24 * 3600 + 1)                  # the window passes
        self.pay(100)

    def test_velocity_by_amount(self):
        self.settings({"velocity": {"max_amount": 5000, "window_hours": 1}})
        self.pay(3000)
        p = self.blocked("velocity_amount", amount=2500)
        self.assertEqual(p["risk"]["counters"]["amount"], 3000)
        self.assertEqual(p["risk"]["counters"]["window_hours"], 1)
        self.pay(2000)                               # exactly 5000
        self.blocked("velocity_amount", amount=1)
        self.advance(3601)
        self.pay(5000)

    def test_controls_off_by_default_and_in_live_mode_apart(self):
        # test-mode settings do not touch live mode
        self.settings({"blocked_bins": ["424242"]})
        live = srv.client(self.m["live_secret_key"])
        try:
            r = live.get("/v1/risk_settings")
            self.assertEqual((r.status, r.json["version"], r.json["blocked_bins"], r.json["livemode"]), (200, 0, [], True))
            self.assertTrue(r.json["id"].endswith("_l"))
        finally:
            live.close()
        self.blocked("bin_grey_list")


class Settings(RiskCase):
    def test_defaults_then_partial_updates(self):
        seq = head_seq()
        r = self.api.get("/v1/risk_settings")
        self.assertEqual(r.status, 200, r)
        d = r.json
        self.assertEqual(d["id"], f"rks_{self.m['id']}_t")
        self.assertEqual((d["object"], d["livemode"], d["merchant"], d["version"], d["created"], d["updated"]),
                         ("risk_settings", False, self.m["id"], 0, None, None))
        self.assertEqual((d["blocked_cards"], d["blocked_bins"], d["blocked_card_countries"]), ([], [], []))
        self.assertEqual((d["card_outstanding_limit"], d["velocity"]), (None, None))
        self.assertEqual((d["block_virtual_cards"], d["block_systematic_authorization"]), (False, False))
        self.assertEqual(head_seq(), seq, "reading the defaults writes nothing")

        fp = "ab" * 32
        s1 = self.settings({"blocked_bins": ["400000", "424242", "400000"], "blocked_cards": [fp, fp],
                            "velocity": {"max_count": 3}})
        self.assertEqual((s1["version"], s1["blocked_bins"], s1["blocked_cards"]), (1, ["400000", "424242"], [fp]))
        self.assertEqual(s1["velocity"], {"max_count": 3, "max_amount": None, "window_hours": 24})
        self.assertEqual(s1["created"], s1["updated"])
        self.assertEqual(self.api.get("/v1/risk_settings").json, s1)

        s2 = self.settings({"card_outstanding_limit": {"amount": 50000}, "blocked_card_countries": ["BR"],
                            "block_virtual_cards": True})
        self.assertEqual(s2["version"], 2)
        self.assertEqual(s2["blocked_bins"], ["400000", "424242"], "untouched fields stay")
        self.assertEqual(s2["velocity"], s1["velocity"])
        self.assertEqual(s2["card_outstanding_limit"], {"amount": 50000, "window_days": 30})
        self.assertEqual((s2["blocked_card_countries"], s2["block_virtual_cards"]), (["BR"], True))
        self.assertEqual(s2["created"], s1["created"])
        self.assertEqual(self.api.get("/v1/risk_settings").json, s2)

        s3 = self.settings({"velocity": None, "blocked_bins": []})
        self.assertEqual((s3["version"], s3["velocity"], s3["blocked_bins"]), (3, None, []))
        self.assertEqual(self.api.get("/v1/risk_settings").json, s3)

        evs = self.api.get(f"/v1/events?object_id={s3['id']}").json["data"]
        self.assertEqual([e["type"] for e in evs], ["risk_settings.updated"] * 3)
        last = max(evs, key=lambda e: e["aggregate_version"])
        self.assertEqual(last["data"]["object"], s3)
        self.assertEqual(last["data"]["previous_attributes"],
                         {"blocked_bins": ["400000", "424242"], "velocity": s1["velocity"]})

    def test_idempotency_key(self):
        h = {"Idempotency-Key": "risk-1"}
        r1 = self.api.post("/v1/risk_settings", {"blocked_bins": ["411111"]}, headers=h)
        seq = head_seq()
        r2 = self.api.post("/v1/risk_settings", {"blocked_bins": ["411111"]}, headers=h)
        self.assertEqual((r2.status, r2.json), (200, r1.json))
        self.assertEqual(head_seq(), seq)
        r3 = self.api.post("/v1/risk_settings", {"blocked_bins": ["422222"]}, headers=h)
        self.assertEqual(r3.status, 409, r3)

    def test_validation_errors(self):
        self.settings({"blocked_bins": ["400000"]})
        cases = [
            ({}, ""),
            ({"blocked_pans": []}, "blocked_pans"),
            ({"blocked_cards": ["ab" * 31]}, "blocked_cards[0]"),
            ({"blocked_cards": ["ab" * 32, "AB" * 32]}, "blocked_cards[1]"),
            ({"blocked_cards": "ab" * 32}, "blocked_cards"),
            ({"blocked_bins": ["424242", "42424"]}, "blocked_bins[1]"),
            ({"blocked_bins": ["424242", "400000", 424242]}, "blocked_bins[2]"),
            ({"blocked_bins": None}, "blocked_bins"),
            ({"blocked_bins": ["%06d" % i for i in range(1001)]}, "blocked_bins"),
            ({"blocked_card_countries": ["FR", "br"]}, "blocked_card_countries[1]"),
            ({"blocked_card_countries": ["FRA"]}, "blocked_card_countries[0]"),
            ({"card_outstanding_limit": 10000}, "card_outstanding_limit"),
            ({"card_outstanding_limit": {}}, "card_outstanding_limit.amount"),
            ({"card_outstanding_limit": {"amount": 0}}, "card_outstanding_limit.amount"),
            ({"card_outstanding_limit": {"amount": 100, "window_days": 0}}, "card_outstanding_limit.window_days"),
            ({"card_outstanding_limit": {"amount": 100, "window_days": 400}}, "card_outstanding_limit.window_days"),
            ({"card_outstanding_limit": {"amount": 100, "currency": "EUR"}}, "card_outstanding_limit.currency"),
            ({"velocity": {}}, "velocity.max_count"),
            ({"velocity": {"window_hours": 12}}, "velocity.max_count"),
            ({"velocity": {"max_count": 0}}, "velocity.max_count"),
            ({"velocity": {"max_amount": "5000"}}, "velocity.max_amount"),
            ({"velocity": {"max_count": 2, "window_hours": 0}}, "velocity.window_hours"),
            ({"velocity": {"max_count": 2, "window_hours": 745}}, "velocity.window_hours"),
            ({"velocity": [2]}, "velocity"),
            ({"block_virtual_cards": "true"}, "block_virtual_cards"),
            ({"block_systematic_authorization": None}, "block_systematic_authorization"),
            ({"block_systematic_authorization": 1}, "block_systematic_authorization"),
        ]
        before = self.api.get("/v1/risk_settings").json
        for body, param in cases:
            seq = head_seq()
            r = self.api.post("/v1/risk_settings", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"].get("param", ""), param, (body, r))
            self.assertEqual(head_seq(), seq, body)
        r = self.api.post("/v1/risk_settings", raw="[1]", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.api.get("/v1/risk_settings").json, before, "nothing changed")
        r = self.api.get("/v1/risk_settings?verbose=1")
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "verbose"))


POLICY = """
-- 50-merchant-rules.lua: per-merchant payment rules (docs/risk.md)
local base = caisse.policy.get("risk.decide")
caisse.policy.define("risk.decide", function(input)
  if input.kind == "payment" and input.merchant.id == "{merchant}" then
    if input.card.country == "BR" then
      return {{ decision = "rejected", rule = "merchant_block_BR" }}
    end
    if input.payment.amount == 777 then   -- echoes what the rule sees
      return {{ decision = "rejected", rule = table.concat({{ "echo", input.card.country, input.card.brand,
        input.payment.currency, input.payment.channel, input.payment.type, tostring(input.counters.count),
        tostring(input.livemode), input.merchant.country }}, "_") }}
    end
    if input.payment.amount == 778 then return {{ decision = "review" }} end
    if input.payment.amount == 779 then return {{ decision = "rejected", rule = "no spaces allowed" }} end
  end
  return base(input)
end)
"""


class LuaRule(RiskCase):
    """A merchant's own rule in an override file of --policy-dir."""

    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix="caisse-risk-lua-")
        cls.pdir = tempfile.mkdtemp(prefix="caisse-risk-policy-")
        cls.blocker = create_merchant(cls.data, "Bloqueur", "FR")
        with open(os.path.join(cls.pdir, "50-merchant-rules.lua"), "w") as f:
            f.write(POLICY.format(merchant=cls.blocker["id"]))
        cls.server = Server(data=cls.data, args=["--policy-dir", cls.pdir]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.data, ignore_errors=True)
        shutil.rmtree(cls.pdir, ignore_errors=True)

    def test_merchant_rule_blocks_a_country_for_that_merchant_only(self):
        api = self.server.client(self.blocker["test_secret_key"])
        try:
            p = self.blocked("merchant_block_BR", number=BRAZIL, source="risk.decide", api=api)
            self.assertEqual(p["card"]["country"], "BR")
            self.pay(number=GOOD, api=api)
            # the built-in controls come first
            self.assertEqual(api.post("/v1/risk_settings", {"blocked_bins": ["400000"]}).status, 200)
            self.blocked("bin_grey_list", number=BRAZIL, api=api)
            self.assertEqual(api.post("/v1/risk_settings", {"blocked_bins": []}).status, 200)
            # the input the rule sees (a fresh card: no payment counted yet)
            e = self.blocked("echo_FR_mastercard_EUR_manual_deferred_0_false_FR", amount=777, number=MASTERCARD,
                             source="risk.decide", api=api, channel="manual", type="deferred")
            self.assertEqual(e["risk"]["counters"]["count"], 0)
            # an answer that is neither approved nor rejected fails the request, writing nothing
            for amount in (778, 779):
                seq = head_seq(self.server)
                r = api.post("/v1/payments", {"amount": amount, "currency": "EUR", "card": card()})
                self.assertEqual((r.status, r.json["error"]["code"]), (500, "policy_failed"), r)
                self.assertIn("risk.decide", r.json["error"]["message"])
                self.assertEqual(head_seq(self.server), seq)
        finally:
            api.close()
        # another merchant on the same server is not blocked (self.api: a new merchant)
        other = self.pay(number=BRAZIL)
        self.assertEqual((other["status"], other["risk"]["decision"], other["risk"]["rule"]), ("captured", "approved", None))
        self.pay(777, number=MASTERCARD)

    def test_replay_with_the_rule(self):
        api = self.server.client(self.blocker["test_secret_key"])
        try:
            self.blocked("merchant_block_BR", number=BRAZIL, source="risk.decide", api=api)
        finally:
            api.close()
        self.assertIn("all projections equal", run_cli("replay", data=self.data).stdout)


class List(RiskCase):
    def make_payments(self):
        """Six payments, oldest first: A..F."""
        p = {}
        p["A"] = self.pay(1000, order_reference="ORD-A", shop="paris", customer={"email": "x@example.com"})
        p["B"] = self.pay(2500, number=MASTERCARD, type="deferred", channel="manual", order_reference="ORD-B",
                          shop="lyon")
        p["C"] = self.pay(3000, number=DECLINED, status=402, shop="paris")
        self.settings({"blocked_bins": ["222300"]})
        p["D"] = self.blocked("bin_grey_list", amount=4000, number=MC_2SERIES)
        p["E"] = self.pay(6000, type="split", split={"count": 2}, order_reference="ORD-A",
                          customer={"email": "x@example.com"})
        f = self.pay(1500, type="deferred")
        r = self.api.post(f"/v1/payments/{f['id']}/cancel", {"reason": "duplicate"})
        self.assertEqual(r.status, 200, r)
        p["F"] = r.json
        return p

    def ids(self, query=""):
        r = self.api.get("/v1/payments?limit=100" + ("&" + query if query else ""))
        self.assertEqual(r.status, 200, (query, r))
        self.assertFalse(r.json["has_more"])
        return [x["id"] for x in r.json["data"]]

    def test_filters(self):
        p = self.make_payments()
        i = {k: v["id"] for k, v in p.items()}
        ids = lambda *ks: [i[k] for k in ks]
        self.assertEqual(self.ids(), ids("F", "E", "D", "C", "B", "A"), "newest first")
        full = self.api.get("/v1/payments").json["data"]
        self.assertEqual(full[0], self.api.get(f"/v1/payments/{i['F']}").json, "the documents as they are")
        self.assertEqual(self.ids("status=failed"), ids("D", "C"))
        self.assertEqual(self.ids("status=cancelled"), ids("F"))
        self.assertEqual(self.ids("status=authorized"), ids("E", "B"))
        self.assertEqual(self.ids("status=captured"), ids("A"))
        self.assertEqual(self.ids("status=requires_payment"), [])
        self.assertEqual(self.ids("type=deferred"), ids("F", "B"))
        self.assertEqual(self.ids("type=split"), ids("E"))
        self.assertEqual(self.ids("channel=manual"), ids("B"))
        self.assertEqual(self.ids("channel=api"), ids("F", "E", "D", "C", "A"))
        self.assertEqual(self.ids("failure_code=risk_blocked"), ids("D"))
        self.assertEqual(self.ids("failure_code=do_not_honor"), ids("C"))
        self.assertEqual(self.ids("failure_code=stolen_card"), [])
        self.assertEqual(self.ids(qs(**{"amount[gte]": 2500, "amount[lte]": 4000})), ids("D", "C", "B"))
        self.assertEqual(self.ids(qs(**{"amount[gte]": 6000})), ids("E"))
        self.assertEqual(self.ids(qs(**{"amount[lte]": 1000})), ids("A"))
        self.assertEqual(self.ids("card_last4=4444"), ids("B"))
        self.assertEqual(self.ids("card_last4=0015"), ids("D"))
        self.assertEqual(self.ids("order_reference=ORD-A"), ids("E", "A"))
        cus = p["A"]["customer_id"]
        self.assertTrue(cus and cus.startswith("cus_"), p["A"])
        self.assertEqual(p["E"]["customer_id"], cus, "the same e-mail, the same customer")
        self.assertEqual(self.ids(f"customer={cus}"), ids("E", "A"))
        self.assertEqual(self.ids("shop=paris"), ids("C", "A"))
        self.assertEqual(self.ids("shop=default"), ids("F", "E", "D"))
        self.assertEqual(self.ids("status=authorized&type=split&order_reference=ORD-A"), ids("E"))
        # created bounds: RFC 3339 to the microsecond, dates, Unix seconds
        self.assertEqual(self.ids(qs(**{"created[gte]": p["D"]["created"]})), ids("F", "E", "D"))
        self.assertEqual(self.ids(qs(**{"created[lte]": p["C"]["created"]})), ids("C", "B", "A"))
        self.assertEqual(self.ids(qs(**{"created[gte]": p["B"]["created"], "created[lte]": p["D"]["created"]})),
                         ids("D", "C", "B"))
        self.assertEqual(self.ids(qs(**{"created[gte]": p["A"]["created"][:10],
                                        "created[lte]": p["F"]["created"][:10]})), ids("F", "E", "D", "C", "B", "A"))
        first_s = p["A"]["created_us"] // 1000000
        self.assertEqual(self.ids(qs(**{"created[lte]": first_s - 1})), [])
        self.assertEqual(self.ids(qs(**{"created[gte]": first_s})), ids("F", "E", "D", "C", "B", "A"))
        a = parse_time(p["A"]["created"])
        plus_one = (a + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+01:00")
        self.assertEqual(self.ids(qs(**{"created[lte]": plus_one})), ids("A"), "an offset")
        # another merchant sees none of them
        other = srv.client(create_merchant(srv.data, "Autre", "FR")["test_secret_key"])
        try:
            self.assertEqual(other.get("/v1/payments").json["data"], [])
            r = other.get(f"/v1/payments?starting_after={i['C']}")
            self.assertEqual((r.status, r.json["error"]["param"]), (400, "starting_after"))
        finally:
            other.close()

    def test_pagination(self):
        p = self.make_payments()
        every = self.ids()
        seen, after, pages = [], None, 0
        while True:
            r = self.api.get("/v1/payments?limit=4" + (f"&starting_after={after}" if after else ""))
            self.assertEqual(r.status, 200, r)
            page = [x["id"] for x in r.json["data"]]
            seen += page
            pages += 1
            if not r.json["has_more"]:
                self.assertIsNone(r.json["next_cursor"])
                break
            self.assertEqual(r.json["next_cursor"], page[-1])
            after = r.json["next_cursor"]
        self.assertEqual((pages, seen), (2, every), "every payment once, in order")
        # pages of two under a filter, with the orders list's `cursor` name
        got, cursor = [], None
        while True:
            r = self.api.get("/v1/payments?limit=1&channel=api" + (f"&cursor={cursor}" if cursor else ""))
            got += [x["id"] for x in r.json["data"]]
            if not r.json["has_more"]:
                break
            cursor = r.json["next_cursor"]
        self.assertEqual(got, self.ids("channel=api"))
        self.assertEqual(len(got), len(set(got)))
        # a payment written between two pages does not shift the next page
        r1 = self.api.get("/v1/payments?limit=3").json
        self.pay(50)
        r2 = self.api.get(f"/v1/payments?limit=3&starting_after={r1['next_cursor']}").json
        self.assertEqual([x["id"] for x in r1["data"] + r2["data"]], every)
        self.assertFalse(r2["has_more"])
        self.assertEqual(len(p), 6)

    def test_bad_parameters(self):
        self.pay(100)
        pid = self.api.get("/v1/payments").json["data"][0]["id"]
        cases = [
            ("status=paid", "status"), ("type=later", "type"), ("channel=phone", "channel"),
            ("failure_code=Risk-Blocked", "failure_code"), (qs(**{"created[gte]": "yesterday"}), "created[gte]"),
            (qs(**{"created[lte]": "2026-02-30"}), "created[lte]"),
            (qs(**{"created[gte]": "2026-11-23T10:00:00"}), "created[gte]"),
            (qs(**{"created[gte]": "2020-01-01"}), "created[gte]"), (qs(**{"created[lte]": "1500000000"}), "created[lte]"),
            (qs(**{"amount[gte]": -1}), "amount[gte]"), (qs(**{"amount[lte]": "1e3"}), "amount[lte]"),
            (qs(**{"amount[gte]": 500, "amount[lte]": 400}), "amount[lte]"),
            (qs(**{"amount[gte]": 100000000001}), "amount[gte]"),
            ("card_last4=424", "card_last4"), ("card_last4=abcd", "card_last4"),
            ("order_reference=", "order_reference"), ("order_reference=" + "x" * 65, "order_reference"),
            ("customer=ord_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "customer"), ("shop=a%20b", "shop"),
            ("limit=0", "limit"), ("limit=101", "limit"), ("starting_after=pay_nope", "starting_after"),
            ("cursor=ord_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "cursor"),
            (f"starting_after={pid}&cursor={pid}", "cursor"), ("colour=red", "colour"),
        ]
        for q, param in cases:
            r = self.api.get("/v1/payments?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["error"]["param"], param, (q, r))
            if param in ("starting_after", "cursor", "limit", "colour"):
                continue
            r = self.api.get("/v1/payments/export?" + q)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), (q, r))
        r = self.api.get("/v1/payments?" + qs(**{"created[gte]": "2020-01-01"}))
        self.assertIn("caisse events dump --since", r.json["error"]["message"])
        self.assertIn("15 months", r.json["error"]["message"])
        r = self.api.get("/v1/payments/export?limit=5")
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "limit"), "the export has no pages")

    def test_fifteen_months_online(self):
        old = self.pay(1200, order_reference="OLD")
        self.advance(16 * 31 * 86400)            # 16 months later
        new = self.pay(1300)
        self.assertEqual(self.ids(), [new["id"]], "older than 15 months: not online")
        self.assertEqual(self.ids("order_reference=OLD"), [])
        r = self.api.get("/v1/payments?" + qs(**{"created[gte]": old["created"][:10]}))
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "created[gte]"), r)
        self.assertIn("caisse events dump --since", r.json["error"]["message"])
        rows = list(csv.reader(io.StringIO(self.api.get("/v1/payments/export").body)))
        self.assertEqual([row[0] for row in rows[1:]], [new["id"]])
        # a bound on the first online day is fine; the day before is not
        now = self.now()
        y, m = divmod(now.year * 12 + now.month - 1 - 15, 12)
        first = datetime.date(y, m + 1, min(now.day, calendar.monthrange(y, m + 1)[1]))
        r = self.api.get("/v1/payments?" + qs(**{"created[gte]": first.isoformat()}))
        self.assertEqual(r.status, 200, r)
        r = self.api.get("/v1/payments?" + qs(**{"created[gte]": (first - datetime.timedelta(days=1)).isoformat()}))
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "created[gte]"), r)
        # the old payment is still whole in the log and by id
        self.assertEqual(self.api.get(f"/v1/payments/{old['id']}").json["id"], old["id"])
        dump = run_cli("events", "dump", "--merchant", self.m["id"], "--type", "payment.captured", data=srv.data).stdout
        self.assertIn(old["id"], dump)

    def test_export_is_the_list_as_csv(self):
        p = self.make_payments()
        tricky = self.pay(990, description='=HYPERLINK("http://evil.example")', order_reference='Réf "12", lot 3')
        for query in ["", "status=failed", "shop=paris", "order_reference=ORD-A", qs(**{"amount[gte]": 2000})]:
            r = self.api.get("/v1/payments/export" + ("?" + query if query else ""))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("Content-Type"), "text/csv; charset=utf-8")
            self.assertEqual(r.header("Content-Disposition"), 'attachment; filename="payments.csv"')
            self.assertTrue(r.body.endswith("\r\n"))
            rows = list(csv.DictReader(io.StringIO(r.body, newline="")))
            self.assertEqual([row["id"] for row in rows], self.ids(query), query)
        rows = {row["id"]: row for row in csv.DictReader(io.StringIO(self.api.get("/v1/payments/export").body, newline=""))}
        d = rows[p["D"]["id"]]
        self.assertEqual((d["status"], d["failure_code"], d["risk_decision"], d["risk_rule"], d["amount"], d["currency"]),
                         ("failed", "risk_blocked", "blocked", "bin_grey_list", "4000", "EUR"))
        self.assertEqual((d["card_brand"], d["card_last4"], d["card_country"]), ("mastercard", "0015", "FR"))
        c = rows[p["C"]["id"]]
        self.assertEqual((c["failure_code"], c["risk_decision"], c["risk_rule"]), ("do_not_honor", "approved", ""))
        e = rows[p["E"]["id"]]
        self.assertEqual((e["type"], e["amount"], e["amount_authorized"], e["amount_captured"], e["customer_email"]),
                         ("split", "6000", "6000", "3000", "x@example.com"))
        self.assertEqual(rows[p["F"]["id"]]["status"], "cancelled")
        t = rows[tricky["id"]]
        self.assertEqual(t["description"], "'" + '=HYPERLINK("http://evil.example")', "formulas are not run")
        self.assertEqual(t["order_reference"], 'Réf "12", lot 3', "quotes and commas survive")
        header = self.api.get("/v1/payments/export").body.split("\r\n", 1)[0]
        self.assertEqual(header, "id,created,status,type,channel,amount,currency,amount_authorized,amount_captured,"
                                 "amount_refunded,amount_disputed,card_brand,card_last4,card_country,failure_code,"
                                 "failure_message,risk_decision,risk_rule,order_reference,shop,customer_id,"
                                 "customer_email,description")
        r = self.api.get("/v1/payments/export?status=requires_payment")
        self.assertEqual(r.body.count("\r\n"), 1, "only the header")


class Efficiency(RiskCase):
    def report(self, query="", status=200):
        r = self.api.get("/v1/reports/efficiency" + ("?" + query if query else ""))
        self.assertEqual(r.status, status, r)
        return r.json

    def test_counts_and_reject_rate(self):
        day0 = self.now().date()
        empty = self.report()
        self.assertEqual((empty["from"], empty["to"]), ((day0 - datetime.timedelta(days=29)).isoformat(), day0.isoformat()))
        self.assertEqual(len(empty["days"]), 30)
        self.assertEqual(empty["totals"], {"attempts": 0, "succeeded": 0, "failed": 0, "amount_succeeded": 0,
                                           "amount_failed": 0, "reject_rate_bp": None})
        self.assertEqual((empty["currency"], empty["timezone"], empty["failures_by_code"]), ("EUR", "UTC", []))

        made = []
        made.append(self.pay(1000))
        made.append(self.pay(2000, number=MASTERCARD, type="deferred"))
        made.append(self.pay(3000, number=VIRTUAL))
        made.append(self.pay(1500, number=MASTERCARD))
        made.append(self.pay(400, number=DECLINED, status=402))
        made.append(self.pay(500, number=NO_FUNDS, status=402))
        made.append(self.pay(600, number=EXPIRED, status=402))
        self.settings({"blocked_card_countries": ["BR"]})
        made.append(self.blocked("card_country_grey_list", amount=700, number=BRAZIL))
        # a split whose second charge fails once, then passes on its retry
        split = self.pay(8000, number=RETRY_ONCE, type="split", split={"count": 2, "interval_days": 1})
        made.append(split)
        # a capture of the authorization is no new attempt
        self.assertEqual(self.api.post(f"/v1/payments/{made[1]['id']}/capture", {}).status, 200)
        today = max(parse_time(x["created"]).date() for x in made).isoformat()
        first = min(parse_time(x["created"]).date() for x in made).isoformat()
        rep = self.report(qs(**{"from": first, "to": today}))
        t = rep["totals"]
        self.assertEqual((t["attempts"], t["succeeded"], t["failed"]), (9, 5, 4))
        self.assertEqual((t["amount_succeeded"], t["amount_failed"]), (1000 + 2000 + 3000 + 1500 + 4000, 400 + 500 + 600 + 700))
        self.assertEqual(t["reject_rate_bp"], 4444, "4 of 9: 44.44 %")
        self.assertEqual(rep["failures_by_code"], [
            {"code": "do_not_honor", "count": 1, "amount": 400},
            {"code": "expired_card", "count": 1, "amount": 600},
            {"code": "insufficient_funds", "count": 1, "amount": 500},
            {"code": "risk_blocked", "count": 1, "amount": 700}])
        self.assertEqual(rep["by_source"]["scheduled_charges"]["attempts"], 0)
        self.assertEqual(sum(d["attempts"] for d in rep["days"]), 9)

        # the scheduled charges: the second one fails, then passes a day later
        self.advance(2 * 86400)
        self.advance(86400)
        s = self.api.get(f"/v1/payments/{split['id']}").json
        self.assertEqual((s["status"], s["charges"][1]["status"], s["charges"][1]["attempts"]), ("captured", "paid", 2), s)
        end = self.now().date().isoformat()
        rep = self.report(qs(**{"from": first, "to": end}))
        t = rep["totals"]
        self.assertEqual((t["attempts"], t["succeeded"], t["failed"]), (11, 6, 5))
        self.assertEqual((t["amount_succeeded"], t["amount_failed"]), (11500 + 4000, 2200 + 4000))
        self.assertEqual(t["reject_rate_bp"], 4545, "5 of 11: 45.45 %")
        self.assertEqual(rep["by_source"]["scheduled_charges"],
                         {"attempts": 2, "succeeded": 1, "failed": 1, "amount_succeeded": 4000, "amount_failed": 4000,
                          "reject_rate_bp": 5000})
        self.assertEqual(rep["by_source"]["payments"]["attempts"], 9)
        codes = {c["code"]: c["count"] for c in rep["failures_by_code"]}
        self.assertEqual(codes, {"do_not_honor": 1, "expired_card": 1, "insufficient_funds": 2, "risk_blocked": 1})
        self.assertEqual(rep["failures_by_code"][0], {"code": "insufficient_funds", "count": 2, "amount": 4500})
        # per day, from the events themselves
        expected = {}
        for e in self.api.get(f"/v1/events?object_id={split['id']}").json["data"]:
            if e["type"] in ("payment.charge_failed", "payment.charge_succeeded"):
                expected.setdefault(e["created"][:10], []).append(e["type"])
        for d in rep["days"]:
            charges = expected.get(d["date"], [])
            if d["date"] > today:
                self.assertEqual((d["succeeded"], d["failed"]),
                                 (charges.count("payment.charge_succeeded"), charges.count("payment.charge_failed")), d)
            if d["attempts"] == 0:
                self.assertIsNone(d["reject_rate_bp"])
            else:
                self.assertEqual(d["reject_rate_bp"], (2 * d["failed"] * 10000 + d["attempts"]) // (2 * d["attempts"]))
        self.assertEqual([d["date"] for d in rep["days"]][0], first)
        self.assertEqual([d["date"] for d in rep["days"]][-1], end)
        # one day only
        one = self.report(qs(**{"from": end, "to": end}))
        self.assertEqual(len(one["days"]), 1)
        # another merchant's report is its own
        other = srv.client(create_merchant(srv.data, "Autre", "FR")["test_secret_key"])
        try:
            self.assertEqual(other.get("/v1/reports/efficiency").json["totals"]["attempts"], 0)
        finally:
            other.close()

    def test_bad_parameters(self):
        today = self.now().date()
        cases = [
            (qs(**{"from": "2026-13-01"}), "from"), (qs(**{"from": "23/11/2026"}), "from"),
            (qs(**{"to": "2026-02-30"}), "to"), (qs(**{"to": "1700000000"}), "to"),
            (qs(**{"to": (today + datetime.timedelta(days=1)).isoformat()}), "to"),
            (qs(**{"from": (today - datetime.timedelta(days=470)).isoformat()}), "from"),
            (qs(**{"from": today.isoformat(), "to": (today - datetime.timedelta(days=1)).isoformat()}), "from"),
            (qs(**{"from": (today + datetime.timedelta(days=1)).isoformat()}), "from"),
            ("period=month", "period"),
        ]
        for q, param in cases:
            seq = head_seq()
            r = self.api.get("/v1/reports/efficiency?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["error"]["param"], param, (q, r))
            self.assertEqual(head_seq(), seq)
        r = self.api.get("/v1/reports/efficiency?" + qs(**{"to": (today + datetime.timedelta(days=1)).isoformat()}))
        self.assertIn("future", r.json["error"]["message"])
        r = self.api.get("/v1/reports/efficiency?" + qs(**{"from": (today - datetime.timedelta(days=470)).isoformat()}))
        self.assertIn("caisse events dump", r.json["error"]["message"])
        # the longest period is fine
        r = self.api.get("/v1/reports/efficiency?" + qs(**{"from": (today - datetime.timedelta(days=400)).isoformat()}))
        self.assertEqual((r.status, len(r.json["days"])), (200, 401))
        # only `to`: the 30 days up to it
        r = self.report(qs(**{"to": (today - datetime.timedelta(days=5)).isoformat()}))
        self.assertEqual((r["from"], len(r["days"])), ((today - datetime.timedelta(days=34)).isoformat(), 30))


class ZReplay(unittest.TestCase):
    """Last (unittest runs classes in name order): replay rebuilds every
    projection from the log, the risk settings and payments included."""

    def test_replay_and_audit(self):
        self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
