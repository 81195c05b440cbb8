"""The shopper's self-service API: a one-time code by e-mail (never in the
log), a session, my purchases, paying a plan off early (fees of instalments
not yet due dropped), changing the card; guessing is limited."""
import os
import re
import time
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli


def setUpModule():
    global srv, m, api
    srv = Server().start()
    m = create_merchant(srv.data, "Portal", "FR")
    api = srv.client(m["test_secret_key"])


def tearDownModule():
    api.close()
    srv.cleanup()
    harness.validate_exchanges()


def code_for(challenge_id, timeout=10):
    """The code from the spooled e-mail (the only place it exists)."""
    d = os.path.join(srv.data, "mail-spool", "new")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in os.listdir(d):
            if challenge_id in name:
                return re.search(r"Your code: (\d{6})", open(os.path.join(d, name)).read()).group(1)
        time.sleep(0.05)
    raise AssertionError("no code e-mail for " + challenge_id)


def shopper_order(email, plan="instalments_12", lines=((10000, 12),)):
    """A shipped order of the shopper `email` (customers are matched by ID
    document and phone or e-mail: each shopper here gets their own)."""
    body = order_body(lines, plan=plan, email=email)
    n = sum(map(ord, email.lower())) * 7919 % 10**8
    body["customer"]["id_document"]["number"] = f"P{n:08d}"
    body["customer"]["phone"] = f"+3361{n:08d}"
    o = api.post("/v1/orders", body).json
    api.post(f"/v1/orders/{o['id']}/confirm", {})
    api.post(f"/v1/orders/{o['id']}/shipments", {})
    return o["id"]


def sign_in(email):
    p = srv.client()
    r = p.post("/v1/customer/otp", {"merchant": m["id"], "email": email})
    assert r.status == 202, r
    chl = r.json["id"]
    r = p.post("/v1/customer/sessions", {"challenge_id": chl, "code": code_for(chl)})
    assert r.status == 201, r
    p.close()
    return srv.client(r.json["token"]), r.json


class Portal(unittest.TestCase):
    def test_sign_in_and_list_my_purchases(self):
        a = shopper_order("lea@example.com")
        b = shopper_order("LEA@example.com", plan="pay_in_3", lines=((10000, 3),))
        other = shopper_order("max@example.com")
        me, sess = sign_in("lea@example.com")
        self.assertTrue(sess["token"].startswith("cst_"))
        mine = [o["id"] for o in me.get("/v1/customer/orders").json["data"]]
        self.assertEqual(mine, [b, a], "newest first, both of hers, none of his")
        # a purchase that is not mine: 404 both ways
        self.assertEqual(me.post(f"/v1/customer/orders/{other}/payoff", {}).status, 404)
        # the code and the token never reach the log
        dump = run_cli("events", "dump", data=srv.data).stdout
        self.assertNotIn(sess["token"], dump)
        self.assertNotIn('"code"', dump)
        # a session is not an API key, and an API key is not a session
        self.assertEqual(me.get("/v1/orders").status, 401)
        self.assertEqual(api.get("/v1/customer/orders").status, 401)
        me.close()

    def test_payoff_drops_fees_not_yet_due(self):
        oid = shopper_order("pay@example.com")
        api.post("/v1/test_clock/advance", {"seconds": 95 * 86400})   # month 4: 4 instalments paid
        o = api.get(f"/v1/orders/{oid}").json
        paid = [i for i in o["plan"]["schedule"] if i["status"] == "paid"]
        self.assertEqual(len(paid), 4)
        fee = o["plan"]["fee_per_instalment"]
        self.assertGreater(fee, 0)
        me, _ = sign_in("pay@example.com")
        r = me.post(f"/v1/customer/orders/{oid}/payoff", {})
        self.assertEqual(r.status, 200, r)
        o = r.json
        self.assertEqual(o["status"], "completed")
        self.assertEqual(o["amount_paid"], 120000 + 4 * fee, "principal, and only the fees already due")
        self.assertEqual(sum(i["fee"] for i in o["plan"]["schedule"]), 4 * fee)
        self.assertTrue(all(i["status"] == "paid" for i in o["plan"]["schedule"]))
        self.assertEqual(me.post(f"/v1/customer/orders/{oid}/payoff", {}).status, 409)
        self.assertEqual(api.post("/v1/test_clock/advance", {"seconds": 400 * 86400}).status, 200)
        self.assertEqual(api.get(f"/v1/orders/{oid}").json["amount_paid"], 120000 + 4 * fee, "nothing more charged")
        me.close()

    def test_change_card(self):
        oid = shopper_order("card@example.com")
        me, _ = sign_in("card@example.com")
        seq = api.get("/healthz").json["head_seq"]
        r = me.post(f"/v1/customer/orders/{oid}/card", {"card": {"number": "4000000000000002", "exp_month": 1,
                                                                 "exp_year": 2031, "cvc": "123"}})
        self.assertEqual(r.status, 402, "the 1.00 check declines")
        r = me.post(f"/v1/customer/orders/{oid}/card", {"card": {"number": "4242424242424241", "exp_month": 1,
                                                                 "exp_year": 2031, "cvc": "123"}})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "card.number"))
        self.assertEqual(api.get("/healthz").json["head_seq"], seq, "refusals change nothing")
        r = me.post(f"/v1/customer/orders/{oid}/card", {"card": {"number": "5555555555554444", "exp_month": 1,
                                                                 "exp_year": 2031, "cvc": "123"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["card"]["brand"], r.json["card"]["last4"]), ("mastercard", "4444"))
        ev = [a for a in api.get(f"/v1/orders/{oid}/activity").json["data"] if a["type"] == "order.card_changed"]
        self.assertEqual(ev[0]["details"]["validation"], {"amount": 100, "status": "refunded"})
        self.assertTrue(ev[0]["actor"].startswith("shopper:cus_"))
        me.close()

    def test_codes_are_single_use_expire_and_lock(self):
        shopper_order("guess@example.com")
        p = srv.client()
        chl = p.post("/v1/customer/otp", {"merchant": m["id"], "email": "guess@example.com"}).json["id"]
        code = code_for(chl)
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        for _ in range(5):
            r = p.post("/v1/customer/sessions", {"challenge_id": chl, "code": wrong})
            self.assertEqual((r.status, r.json["error"]["code"]), (401, "code_invalid"))
        r = p.post("/v1/customer/sessions", {"challenge_id": chl, "code": code})
        self.assertEqual(r.status, 401, "locked after five wrong codes, even with the right one")
        self.assertIn("too many", r.json["error"]["message"])
        # a new code only after a minute
        r = p.post("/v1/customer/otp", {"merchant": m["id"], "email": "guess@example.com"})
        self.assertEqual((r.status, r.json["error"]["code"]), (429, "rate_limited"))
        api.post("/v1/test_clock/advance", {"seconds": 61})
        chl = p.post("/v1/customer/otp", {"merchant": m["id"], "email": "guess@example.com"}).json["id"]
        code = code_for(chl)
        api.post("/v1/test_clock/advance", {"seconds": 11 * 60})
        r = p.post("/v1/customer/sessions", {"challenge_id": chl, "code": code})
        self.assertEqual(r.status, 401)
        self.assertIn("expired", r.json["error"]["message"])
        api.post("/v1/test_clock/advance", {"seconds": 61})
        chl = p.post("/v1/customer/otp", {"merchant": m["id"], "email": "guess@example.com"}).json["id"]
        code = code_for(chl)
        self.assertEqual(p.post("/v1/customer/sessions", {"challenge_id": chl, "code": code}).status, 201)
        self.assertEqual(p.post("/v1/customer/sessions", {"challenge_id": chl, "code": code}).status, 401, "used")
        p.close()

    def test_session_expires(self):
        shopper_order("late@example.com")
        me, _ = sign_in("late@example.com")
        self.assertEqual(me.get("/v1/customer/orders").status, 200)
        api.post("/v1/test_clock/advance", {"seconds": 31 * 60})
        r = me.get("/v1/customer/orders")
        self.assertEqual(r.status, 401)
        self.assertIn("expired", r.json["error"]["message"])
        me.close()

    def test_unknown_shopper_looks_the_same_and_bad_input(self):
        p = srv.client()
        seq = api.get("/healthz").json["head_seq"]
        r = p.post("/v1/customer/otp", {"merchant": m["id"], "email": "nobody@example.com"})
        self.assertEqual(r.status, 202)
        self.assertEqual(api.get("/healthz").json["head_seq"], seq, "nothing recorded for nobody")
        self.assertEqual(p.post("/v1/customer/sessions", {"challenge_id": r.json["id"], "code": "123456"}).status, 401)
        for body, param in [({"email": "a@example.com"}, "merchant"), ({"merchant": "x", "email": "a@b.c"}, "merchant"),
                            ({"merchant": m["id"]}, "email"), ({"merchant": m["id"], "email": "a@b.c", "x": 1}, "x")]:
            r = p.post("/v1/customer/otp", body)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), body)
        r = p.post("/v1/customer/sessions", {"challenge_id": "chl_x"})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "code"))
        self.assertEqual(srv.client("cst_nope").get("/v1/customer/orders").status, 401)
        p.close()

    def test_replay_equal(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


class EarlyRepaymentFee(unittest.TestCase):
    """Only where the country's policy sets one: an override sets 15.00 for FR."""

    def test_override_sets_a_fee(self):
        import tempfile
        pdir = tempfile.mkdtemp(prefix="caisse-fee-")
        with open(os.path.join(pdir, "fee.lua"), "w") as f:
            f.write('local base = caisse.policy.get("plans.early_repayment_fee")\n'
                    'caisse.policy.define("plans.early_repayment_fee", function(i)\n'
                    '  if i.country == "FR" then return { fee = 1500 } end\n'
                    '  return base(i)\nend)\n')
        s2 = Server(args=["--policy-dir", pdir]).start()
        try:
            m2 = create_merchant(s2.data, "Fee", "FR")
            a2 = s2.client(m2["test_secret_key"])
            o = a2.post("/v1/orders", order_body(((10000, 3),), email="fee@example.com")).json
            a2.post(f"/v1/orders/{o['id']}/confirm", {})
            a2.post(f"/v1/orders/{o['id']}/shipments", {})
            p = s2.client()
            chl = p.post("/v1/customer/otp", {"merchant": m2["id"], "email": "fee@example.com"}).json["id"]
            d = os.path.join(s2.data, "mail-spool", "new")
            code = None
            deadline = time.monotonic() + 10
            while code is None and time.monotonic() < deadline:
                for name in os.listdir(d):
                    if chl in name:
                        code = re.search(r"Your code: (\d{6})", open(os.path.join(d, name)).read()).group(1)
                time.sleep(0.05)
            tok = p.post("/v1/customer/sessions", {"challenge_id": chl, "code": code}).json["token"]
            r = s2.client(tok).post(f"/v1/customer/orders/{o['id']}/payoff", {})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["amount_paid"], 30000 + 1500, "principal plus the country's fee")
            ev = [x for x in a2.get(f"/v1/orders/{o['id']}/activity").json["data"] if x["type"] == "order.paid_off"]
            self.assertEqual(ev[0]["details"]["payoff"]["early_repayment_fee"], 1500)
            a2.close()
            p.close()
        finally:
            s2.cleanup()
            os.unlink(os.path.join(pdir, "fee.lua"))
            os.rmdir(pdir)


if __name__ == "__main__":
    unittest.main()
