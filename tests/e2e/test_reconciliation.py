"""Reconciliation of a day of card payments against the real binary
(docs/reconciliation.md): every capture, refund and dispute of the day
against the payout that carried it, from held to in a payout to paid out;
failed payments and disputes as unpaid items; the CSV export with the same
rows; a failed payout as a finding; bad dates refused with the log
unchanged; another merchant sees nothing; replay equal at the end."""
import calendar
import csv
import datetime
import io
import unittest

import harness
from harness import Server, create_merchant, run_cli

HOUR, DAY = 3600, 86400
IBAN, BIC = "FR7630006000011234567890189", "AGRIFRPP"
COLUMNS = ["id", "type", "source", "payment", "currency", "amount", "fee", "vat", "net", "created", "available_on",
           "payout", "payout_status", "state", "reason"]


def card(number="4242424242424242"):
    return {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def unix(text):
    return calendar.timegm(datetime.datetime.fromisoformat(text).timetuple())


def setUpModule():
    global srv
    srv = Server().start()


def tearDownModule():
    try:
        out = run_cli("replay", data=srv.data).stdout
        assert "all projections equal" in out, out
    finally:
        srv.cleanup()
        harness.validate_exchanges()


def head_seq():
    c = srv.client()
    seq = c.get("/healthz").json["head_seq"]
    c.close()
    return seq


class Reconciliation(unittest.TestCase):
    def setUp(self):
        self.m = create_merchant(srv.data, "Rapprochement", "FR")
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()
        p = run_cli("audit", "ledger", data=srv.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def bank(self, holder="Boutique Lumière SARL"):
        r = self.api.post("/v1/bank_account", {"iban": IBAN, "bic": BIC, "account_holder_name": holder})
        self.assertEqual(r.status, 200, r)

    def pay(self, amount, number="4242424242424242", status=201):
        r = self.api.post("/v1/payments", {"amount": amount, "currency": "EUR", "card": card(number)})
        self.assertEqual(r.status, status, r)
        return r.json if status == 201 else r.json["error"]["payment"]

    def clock_to(self, text):
        r = self.api.post("/v1/test_clock/advance", {"to": unix(text)})
        self.assertEqual(r.status, 200, r)

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)

    def recon(self, date, api=None):
        r = (api or self.api).get(f"/v1/reconciliation?date={date}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["object"], r.json["date"], r.json["livemode"]), ("reconciliation", date, False))
        return r.json

    def export(self, date):
        r = self.api.get(f"/v1/reconciliation/export?date={date}")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/csv"), r)
        self.assertIn(f'filename="reconciliation-{date}.csv"', r.header("Content-Disposition"))
        text = r.body if isinstance(r.body, str) else r.body.decode("utf-8")
        self.assertTrue(text.endswith("\r\n"), "CRLF rows")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(rows[0], COLUMNS)
        return rows[1:]

    def assertCsvMatches(self, date, report):
        want = [[("" if it[k] is None else str(it[k])) for k in COLUMNS] for it in report["items"]]
        self.assertEqual(self.export(date), want)

    def by_source(self, report, type_):
        return {it["source"]: it for it in report["items"] if it["type"] == type_}

    def test_a_day_from_held_to_paid_out(self):
        self.bank()
        self.clock_to("2027-03-01T09:00:00")            # a Monday
        a, b = self.pay(10000), self.pay(5000)
        r = self.api.post("/v1/refunds", {"payment": a["id"], "amount": 2000})
        self.assertEqual(r.status, 201, r)
        refund = r.json
        failed = self.pay(4000, number="4000000000000002", status=402)
        r = self.api.post("/v1/test/disputes", {"payment": b["id"], "reason": "product_not_received"})
        self.assertEqual(r.status, 201, r)
        dispute = r.json

        day = self.recon("2027-03-01")
        charges = self.by_source(day, "charge")
        self.assertEqual(set(charges), {a["id"], b["id"]})
        for c in charges.values():
            self.assertEqual((c["state"], c["payout"], c["payout_status"]), ("held", None, None))
            self.assertEqual(c["payment"], c["source"])
        self.assertEqual(charges[a["id"]]["amount"], 10000)
        self.assertEqual(charges[a["id"]]["net"], charges[a["id"]]["amount"] - charges[a["id"]]["fee"] - charges[a["id"]]["vat"])
        [rf] = self.by_source(day, "refund").values()
        self.assertEqual((rf["source"], rf["payment"], rf["amount"], rf["state"]),
                         (refund["id"], a["id"], -2000, "awaiting_payout"))
        [dd] = self.by_source(day, "dispute_debit").values()
        self.assertEqual((dd["payment"], dd["amount"]), (b["id"], -5000))
        [fp] = self.by_source(day, "payment_failed").values()
        self.assertEqual((fp["id"], fp["state"], fp["reason"], fp["amount"]), (failed["id"], "unpaid", "do_not_honor", 4000))
        [dp] = self.by_source(day, "dispute").values()
        self.assertEqual((dp["id"], dp["payment"], dp["state"], dp["reason"]),
                         (dispute["id"], b["id"], "unpaid", "product_not_received"))
        self.assertEqual((day["payouts"], day["findings"]), ([], []))
        self.assertCsvMatches("2027-03-01", day)

        # available Monday 8th 09:00: the run at 06:00 on Tuesday 9th pays it out
        self.clock_to("2027-03-09T06:30:00")  # pending until 07:00
        [po] = self.api.get("/v1/payouts").json["data"]
        day = self.recon("2027-03-01")
        for it in day["items"]:
            if it["state"] != "unpaid":
                self.assertEqual((it["state"], it["payout"], it["payout_status"]), ("in_payout", po["id"], "pending"), it)
        self.assertEqual(day["findings"], [])
        run = self.recon("2027-03-09")
        [p] = run["payouts"]
        self.assertEqual((p["id"], p["amount"], p["carried_net"], p["method"]), (po["id"], po["amount"], po["amount"], "standard"))
        self.assertEqual(po["amount"], sum(it["net"] for it in day["items"] if it["state"] != "unpaid"))
        [own] = run["items"]
        self.assertEqual((own["type"], own["source"], own["payout"], own["amount"]), ("payout", po["id"], po["id"], -po["amount"]))
        self.assertEqual(run["findings"], [])

        self.advance(HOUR + DAY)
        day = self.recon("2027-03-01")
        self.assertEqual({it["state"] for it in day["items"]}, {"paid_out", "unpaid"})
        self.assertTrue(all(it["payout_status"] == "paid" for it in day["items"] if it["state"] == "paid_out"))
        self.assertEqual(day["findings"], [])
        self.assertCsvMatches("2027-03-01", day)
        self.assertEqual(self.recon("2027-03-09")["findings"], [])

        # another merchant sees nothing of it
        other = create_merchant(srv.data, "Autre", "FR")
        api2 = srv.client(other["test_secret_key"])
        r = api2.post("/v1/test_clock/advance", {"to": unix("2027-03-10T12:00:00")})
        self.assertEqual(r.status, 200, r)
        mine = self.recon("2027-03-01", api=api2)
        self.assertEqual((mine["items"], mine["payouts"], mine["findings"]), ([], [], []))
        api2.close()

    def test_awaiting_payout_between_hold_and_run(self):
        self.bank()
        self.clock_to("2027-04-05T09:00:00")            # a Monday
        p = self.pay(3000)
        self.clock_to("2027-04-12T12:00:00")            # available 09:00, the run is tomorrow 06:00
        [c] = self.recon("2027-04-05")["items"]
        self.assertEqual((c["source"], c["state"], c["payout"]), (p["id"], "awaiting_payout", None))

    def test_a_failed_payout_is_a_finding(self):
        self.bank(holder="Payout Failure")
        self.clock_to("2027-01-11T10:00:00")            # a Monday
        p = self.pay(5000)
        self.clock_to("2027-01-19T07:00:00")
        [po] = self.api.get("/v1/payouts").json["data"]
        self.assertEqual(self.recon("2027-01-11")["findings"], [])
        self.advance(HOUR + DAY)
        self.assertEqual(self.api.get(f"/v1/payouts/{po['id']}").json["status"], "failed")
        day = self.recon("2027-01-11")
        [c] = day["items"]
        self.assertEqual((c["source"], c["payout"], c["payout_status"], c["state"]),
                         (p["id"], po["id"], "failed", "awaiting_payout"))
        [f] = day["findings"]
        self.assertEqual((f["code"], f["id"]), ("payout_failed", c["id"]))
        self.assertIn(po["id"], f["message"])
        self.assertCsvMatches("2027-01-11", day)
        codes = [f["code"] for f in self.recon("2027-01-19")["findings"]]
        self.assertIn("payout_failed", codes, "the payout's own line on its day")

    def test_bad_dates_are_refused_and_change_nothing(self):
        self.clock_to("2027-03-10T12:00:00")
        self.pay(1000)
        cases = [("/v1/reconciliation?date=2027-03-11", "date", "parameter_invalid", "has not come"),
                 ("/v1/reconciliation?date=2099-01-01", "date", "parameter_invalid", "has not come"),
                 ("/v1/reconciliation?date=2027-3-10", "date", "parameter_invalid", "YYYY-MM-DD"),
                 ("/v1/reconciliation?date=2027-02-30", "date", "parameter_invalid", "YYYY-MM-DD"),
                 ("/v1/reconciliation?date=", "date", "parameter_invalid", "YYYY-MM-DD"),
                 ("/v1/reconciliation", "date", "parameter_missing", "required"),
                 ("/v1/reconciliation?date=2025-12-09", "date", "parameter_invalid", "caisse events dump"),
                 ("/v1/reconciliation?date=2027-03-10&limit=5", "limit", "parameter_unknown", "limit"),
                 ("/v1/reconciliation/export?date=2027-03-11", "date", "parameter_invalid", "has not come"),
                 ("/v1/reconciliation/export", "date", "parameter_missing", "required"),
                 ("/v1/reconciliation/export?date=2020-01-01", "date", "parameter_invalid", "caisse events dump")]
        for path, param, code, words in cases:
            seq = head_seq()
            r = self.api.get(path)
            self.assertEqual(r.status, 400, (path, r))
            self.assertEqual((r.json["error"]["param"], r.json["error"]["code"]), (param, code), path)
            self.assertIn(words, r.json["error"]["message"], path)
            self.assertEqual(head_seq(), seq, path)
        # the edges: today, and 15 months back to the day
        self.assertEqual(len(self.recon("2027-03-10")["items"]), 1)
        self.assertEqual(self.recon("2025-12-10")["items"], [])

    def test_needs_a_key(self):
        r = srv.client().get("/v1/reconciliation?date=2027-03-01")
        self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
    unittest.main()
