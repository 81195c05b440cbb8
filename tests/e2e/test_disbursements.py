"""Buy-now-pay-later disbursements against the real binary
(docs/disbursements.md): what shipped is disbursed the next business day of
the merchant's country at 06:00 UTC (weekends and public holidays roll
over), less the commission (3.45 % on pay in 3) and its VAT, rounded half
up; a return after a disbursement is recovered from the next one; the
ledger stays balanced and replay rebuilds it all."""
import calendar
import datetime
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli

HOUR, DAY = 3600, 86400


def half_up(amount, bp):
    return (2 * amount * bp + 10000) // 20000


def commission(amount, bp=345):
    fee = half_up(amount, bp)
    return fee, half_up(fee, 2000)


def unix(text):
    return calendar.timegm(datetime.datetime.fromisoformat(text).timetuple())


def setUpModule():
    global srv
    srv = Server().start()


def tearDownModule():
    srv.cleanup()
    harness.validate_exchanges()


def head_seq():
    c = srv.client()
    seq = c.get("/healthz").json["head_seq"]
    c.close()
    return seq


class Disbursements(unittest.TestCase):
    def setUp(self):
        self.m = create_merchant(srv.data, "Literie Rennes", "FR")
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()
        p = run_cli("audit", "ledger", data=srv.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(" 0 unbalanced", p.stdout)

    def clock_to(self, text):
        r = self.api.post("/v1/test_clock/advance", {"to": unix(text)})
        self.assertEqual(r.status, 200, r)

    def shipped(self, lines):
        r = self.api.post("/v1/orders", order_body(lines))
        self.assertEqual(r.status, 201, r)
        o = r.json
        self.assertEqual(self.api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
        r = self.api.post(f"/v1/orders/{o['id']}/shipments", {})
        self.assertEqual((r.status, r.json["status"]), (201, "shipped"), r)
        return o

    def disbursements(self):
        r = self.api.get("/v1/disbursements")
        self.assertEqual(r.status, 200, r)
        return r.json["data"]

    def bnpl_total(self):
        r = self.api.get("/v1/balance_transactions?limit=100")
        return sum(t["amount"] for t in r.json["data"] if t["stream"] == "bnpl")

    def test_shipped_on_a_friday_is_disbursed_on_monday(self):
        self.clock_to("2026-11-27T10:00:00")          # a Friday
        o = self.shipped(((12990, 1),))
        self.clock_to("2026-11-29T12:00:00")          # Saturday and Sunday: no disbursement
        self.assertEqual(self.disbursements(), [])
        self.clock_to("2026-11-30T06:30:00")
        [d] = self.disbursements()
        fee, vat = commission(12990)
        self.assertEqual((fee, vat), (448, 90))
        self.assertEqual((d["reference"], d["date"], d["currency"]), ("DSB-20261130-1", "2026-11-30", "EUR"))
        self.assertEqual((d["gross_amount"], d["fees"], d["fees_vat"], d["fees_vat_included"], d["amount"]),
                         (12990, fee, vat, fee + vat, 12990 - fee - vat))
        [line] = d["orders"]
        self.assertEqual((line["order"], line["reference"], line["product"], line["payable"], line["reduction"],
                          line["fee"], line["vat"], line["net"]),
                         (o["id"], o["reference"], "pay_in_3", 12990, 0, fee, vat, 12990 - fee - vat))
        self.assertEqual(self.api.get(f"/v1/disbursements/{d['id']}").json, d)
        [t] = self.api.get("/v1/balance_transactions?type=disbursement").json["data"]
        self.assertEqual((t["stream"], t["source"], t["amount"], t["fee"], t["vat"], t["net"]),
                         ("bnpl", d["id"], -12990, -fee, -vat, -d["amount"]))
        self.assertEqual(self.bnpl_total(), 12990 - 12990, "the bnpl stream is settled")
        # a later day with nothing shipped makes nothing
        self.clock_to("2026-12-02T08:00:00")
        self.assertEqual(len(self.disbursements()), 1)

    def test_shipped_before_a_public_holiday_rolls_to_the_next_business_day(self):
        self.clock_to("2026-12-24T10:00:00")          # Thursday; Friday 25th is Christmas
        self.shipped(((5000, 2),))
        self.clock_to("2026-12-27T23:00:00")
        self.assertEqual(self.disbursements(), [])
        self.clock_to("2026-12-28T06:00:00")          # Monday
        [d] = self.disbursements()
        fee, vat = commission(10000)
        self.assertEqual((d["date"], d["amount"], d["fees"], d["fees_vat"]), ("2026-12-28", 10000 - fee - vat, fee, vat))

    def test_a_return_after_a_disbursement_is_recovered_from_the_next(self):
        self.clock_to("2026-11-30T10:00:00")          # Monday
        a = self.shipped(((3000, 2),))
        self.clock_to("2026-12-01T07:00:00")
        [first] = self.disbursements()
        self.assertEqual(first["gross_amount"], 6000)
        r = self.api.post(f"/v1/orders/{a['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        b = self.shipped(((10000, 1),))
        self.clock_to("2026-12-02T07:00:00")
        second, again = self.disbursements()
        self.assertEqual(again["id"], first["id"], "newest first")
        back_fee, back_vat = commission(3000)
        fee, vat = commission(10000)
        lines = {l["order"]: l for l in second["orders"]}
        self.assertEqual((lines[a["id"]]["reduction"], lines[a["id"]]["fee"], lines[a["id"]]["vat"],
                          lines[a["id"]]["net"]), (3000, -back_fee, -back_vat, -3000 + back_fee + back_vat))
        self.assertEqual((lines[b["id"]]["payable"], lines[b["id"]]["net"]), (10000, 10000 - fee - vat))
        self.assertEqual(second["amount"], 10000 - fee - vat - 3000 + back_fee + back_vat)
        self.assertEqual(second["reference"], "DSB-20261202-2")
        self.assertEqual(self.bnpl_total(), 0)

    def test_bad_parameters_and_other_merchants(self):
        self.clock_to("2026-11-30T10:00:00")
        self.shipped(((4000, 2),))
        self.clock_to("2026-12-01T07:00:00")
        [d] = self.disbursements()
        seq = head_seq()
        for q, param in [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=nope", "cursor"),
                         ("starting_after=po_x", "starting_after"), ("colour=red", "colour")]:
            r = self.api.get("/v1/disbursements?" + q)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), q)
        self.assertEqual(self.api.get("/v1/disbursements/dsb_nope").status, 404)
        self.assertEqual(self.api.get(f"/v1/disbursements?cursor={d['id']}").json["data"], [])
        self.assertEqual(head_seq(), seq, "nothing appended by the bad requests")
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        self.assertEqual(api.get(f"/v1/disbursements/{d['id']}").status, 404)
        self.assertEqual(api.get("/v1/disbursements").json["data"], [])
        api.close()
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get(f"/v1/disbursements/{d['id']}").status, 404)
        live.close()

    def test_replay_equal(self):
        self.clock_to("2026-11-30T10:00:00")
        self.shipped(((2500, 4),))
        self.clock_to("2026-12-01T07:00:00")
        self.assertEqual(len(self.disbursements()), 1)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
