"""Instalments under the test clock: charged on their due dates once the order
has shipped, retried after a failure, the order completed when all are paid;
a purchase on the 31st falls due on the last day of shorter months; amounts
always add up to the total."""
import calendar
import datetime
import unittest

import harness
from harness import create_merchant, order_body, run_cli


setUpModule, tearDownModule = harness.module_server(__name__)


class Instalments(unittest.TestCase):
    def setUp(self):
        self.m = create_merchant(srv.data, "Instalments", "FR")
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def runs(self):
        r = self.api.get("/v1/events?type=disbursement_schedule.ran&limit=100")
        self.assertEqual(r.status, 200, r)
        return len(r.json["data"])

    def advance(self, **body):
        """The order jobs fired (a shipment also asks a disbursement run:
        docs/disbursements.md; those are not counted here)."""
        runs = self.runs()
        r = self.api.post("/v1/test_clock/advance", body)
        self.assertEqual(r.status, 200, r)
        return r.json["jobs_fired"] - (self.runs() - runs)

    def order(self, lines=((10000, 3),), plan="pay_in_3", card="4242424242424242"):
        o = self.api.post("/v1/orders", order_body(lines, plan=plan, card=card))
        self.assertEqual(o.status, 201, o)
        oid = o.json["id"]
        self.assertEqual(self.api.post(f"/v1/orders/{oid}/confirm", {}).status, 200)
        return oid

    def get(self, oid):
        return self.api.get(f"/v1/orders/{oid}").json

    def test_pay_in_3_to_completion(self):
        oid = self.order(((10001, 3),))   # 30003: 10001 each
        self.assertEqual(self.advance(seconds=40 * 86400), 0, "nothing is charged before shipment")
        o = self.api.post(f"/v1/orders/{oid}/shipments", {}).json
        self.assertEqual(o["status"], "shipped")
        sched = o["plan"]["schedule"]
        self.assertEqual(sum(i["amount"] for i in sched), 30003)
        # instalment 2 was due while unshipped: charged at once after shipment
        self.assertEqual(self.advance(seconds=60), 1)
        o = self.get(oid)
        self.assertEqual([i["status"] for i in o["plan"]["schedule"]], ["paid", "paid", "scheduled"])
        self.assertEqual(o["amount_paid"], sched[0]["amount"] + sched[1]["amount"])
        self.assertEqual(self.advance(seconds=40 * 86400), 1)
        o = self.get(oid)
        self.assertEqual(o["status"], "completed")
        self.assertEqual(o["amount_paid"], 30003)
        types = [a["type"] for a in self.api.get(f"/v1/orders/{oid}/activity").json["data"]]
        self.assertEqual(types.count("order.instalment_paid"), 2)
        self.assertEqual([a["actor"] for a in self.api.get(f"/v1/orders/{oid}/activity").json["data"]
                          if a["type"] == "order.instalment_paid"], ["scheduler", "scheduler"])
        # a completed order is still one the merchant confirmed: it is listed
        self.assertIn(oid, [x["id"] for x in self.api.get("/v1/orders?status=completed").json["data"]])

    def due_ts(self, oid, n):
        d = self.get(oid)["plan"]["schedule"][n - 1]["due_date"]
        return int(datetime.datetime.fromisoformat(d + "T06:00:00+00:00").timestamp())

    def test_failed_charge_is_retried_then_paid(self):
        oid = self.order(card="4000000000000341")
        self.api.post(f"/v1/orders/{oid}/shipments", {})
        self.assertEqual(self.advance(to=self.due_ts(oid, 2) + 3600), 1)
        o = self.get(oid)
        second = o["plan"]["schedule"][1]
        self.assertEqual((second["status"], second["attempts"]), ("failed", 1))
        self.assertEqual(second["last_failure"]["code"], "insufficient_funds")
        self.assertEqual(o["amount_paid"], o["plan"]["schedule"][0]["amount"])
        fails = [a for a in self.api.get(f"/v1/orders/{oid}/activity").json["data"] if a["type"] == "order.instalment_failed"]
        self.assertEqual(len(fails), 1)
        self.assertEqual(fails[0]["actor"], "scheduler")
        self.assertEqual(fails[0]["details"]["next_charge"]["instalment"], 2)
        # retried a day later, and this time it passes
        self.assertEqual(self.advance(seconds=86400), 1)
        second = self.get(oid)["plan"]["schedule"][1]
        self.assertEqual((second["status"], second["attempts"]), ("paid", 2))

    def test_purchase_on_the_31st(self):
        now = datetime.datetime.fromisoformat(self.api.get("/v1/test_clock").json["now"].replace("Z", "+00:00"))
        y, mth = now.year, now.month
        while True:   # the next 31st, at noon UTC
            if calendar.monthrange(y, mth)[1] == 31:
                t = datetime.datetime(y, mth, 31, 12, tzinfo=datetime.timezone.utc)
                if t > now:
                    break
            mth += 1
            if mth == 13:
                y, mth = y + 1, 1
        self.advance(to=int(t.timestamp()))
        o = self.api.post("/v1/orders", order_body(((20000, 6),), plan="instalments_6")).json
        dates = [i["due_date"] for i in o["plan"]["schedule"]]
        self.assertEqual(dates[0], t.strftime("%Y-%m-%d"))
        for d in dates:
            yy, mm, dd = map(int, d.split("-"))
            self.assertEqual(dd, min(31, calendar.monthrange(yy, mm)[1]), dates)
        self.assertEqual(sum(i["amount"] for i in o["plan"]["schedule"]), 120000)
        self.assertEqual(sum(i["fee"] for i in o["plan"]["schedule"]), o["plan"]["total_fees"])

    def test_replay_equal(self):
        oid = self.order()
        self.api.post(f"/v1/orders/{oid}/shipments", {})
        self.advance(seconds=70 * 86400)
        self.assertEqual(self.get(oid)["status"], "completed")
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
