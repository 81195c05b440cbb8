"""Reconciliation of a day against the real binary
(docs/reconciliation.md): every capture, refund and dispute of the day
against the payout that carried it, from held to in a payout to paid out;
failed payments and disputes as unpaid items; the buy-now-pay-later
payables and returns against the disbursement that carried them; the CSV
exports (items, findings) with the same rows; a failed payout as a finding;
a public holiday pushing payout_late; bad dates refused with the log
unchanged; another merchant sees nothing; replay equal at the end."""
import csv
import io
import json
import subprocess
import unittest

import harness
from harness import MerchantCase, Server, card, create_merchant, run_cli, unix

HOUR, DAY = 3600, 86400
IBAN, BIC = "FR7630006000011234567890189", "AGRIFRPP"
COLUMNS = ["id", "type", "source", "payment", "currency", "amount", "fee", "vat", "net", "created", "available_on",
           "payout", "payout_status", "state", "reason", "disbursement"]


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
    return harness.head_seq(srv)


def unprint(text):
    """mdb_dump -p's printable form to bytes: \\\\ is a backslash, \\xx a byte."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == "\\":
            if text[i + 1] == "\\":
                out.append(0x5C)
                i += 2
            else:
                out.append(int(text[i + 1:i + 3], 16))
                i += 3
        else:
            out += text[i].encode()
            i += 1
    return bytes(out)


def enprint(data):
    return "".join("\\\\" if b == 0x5C else chr(b) if 0x20 <= b < 0x7F else "\\%02x" % b for b in data)


def dump_value(db, key):
    """The bytes stored under key in the database, read with lmdb-utils."""
    out = subprocess.run(["mdb_dump", "-p", "-s", db, srv.data], capture_output=True, text=True, check=True,
                         timeout=60).stdout.splitlines()
    body = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
    for i in range(0, len(body), 2):
        if unprint(body[i][1:]) == key.encode():
            return unprint(body[i + 1][1:])
    raise AssertionError(f"{key} is not in {db}")


def load_value(db, key, value):
    """Writes value under key, behind caisse's back (lmdb-utils)."""
    subprocess.run(["mdb_load", "-T", "-s", db, srv.data], input=f"{enprint(key.encode())}\n{enprint(value)}\n",
                   text=True, check=True, timeout=60)


class Day(MerchantCase):
    """A merchant of its own, its test clock and the report's readers."""

    MERCHANT = ("Rapprochement", "FR")
    server = staticmethod(lambda: srv)

    def bank(self, holder="Boutique Lumière SARL"):
        r = self.api.post("/v1/bank_account", {"iban": IBAN, "bic": BIC, "account_holder_name": holder})
        self.assertEqual(r.status, 200, r)

    def pay(self, amount, number="4242424242424242", status=201):
        r = self.api.post("/v1/payments", {"amount": amount, "currency": "EUR", "card": card(number)})
        self.assertEqual(r.status, status, r)
        return r.json if status == 201 else r.json["error"]["payment"]

    def recon(self, date, api=None):
        r = (api or self.api).get(f"/v1/reconciliation?date={date}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["object"], r.json["date"], r.json["livemode"]), ("reconciliation", date, False))
        return r.json

    def export(self, date, path="export", name="reconciliation", columns=COLUMNS):
        r = self.api.get(f"/v1/reconciliation/{path}?date={date}")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/csv"), r)
        self.assertIn(f'filename="{name}-{date}.csv"', r.header("Content-Disposition"))
        text = r.body if isinstance(r.body, str) else r.body.decode("utf-8")
        self.assertTrue(text.endswith("\r\n"), "CRLF rows")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(rows[0], columns)
        return rows[1:]

    def assertCsvMatches(self, date, report):
        want = [[("" if it[k] is None else str(it[k])) for k in COLUMNS] for it in report["items"]]
        self.assertEqual(self.export(date), want)
        findings = [[f["code"], f["id"], f["message"]] for f in report["findings"]]
        self.assertEqual(self.export(date, "findings.csv", "reconciliation-findings", ["code", "id", "message"]),
                         findings)

    def by_source(self, report, type_):
        return {it["source"]: it for it in report["items"] if it["type"] == type_}


class Reconciliation(Day):
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

    def test_refunds_and_their_failures_against_the_payment(self):
        self.clock_to("2027-05-03T09:00:00")            # a Monday
        p = self.pay(10000)
        made = []
        for amount in (2000, 1013, 1514):               # ..13: not honoured, ..14: fails
            r = self.api.post("/v1/refunds", {"payment": p["id"], "amount": amount})
            self.assertEqual(r.status, 201, r)
            made.append(r.json)
        self.clock_to("2027-05-06T12:00:00")
        status = [self.api.get(f"/v1/refunds/{x['id']}").json["status"] for x in made]
        self.assertEqual(status, ["refunded", "not_honored", "failed"])
        self.assertEqual(self.api.get(f"/v1/payments/{p['id']}").json["amount_refunded"], 2000)
        days = ["2027-05-03", "2027-05-04", "2027-05-05", "2027-05-06"]
        types = set()
        for date in days:
            day = self.recon(date)
            self.assertEqual(day["findings"], [], date)
            types |= {it["type"] for it in day["items"]}
        self.assertTrue({"refund", "refund_failure"} <= types, types)

        # The payment's document says 2500 refunded, the ledger took 2000:
        # every day with one of its refunds or their failures says so.
        original = dump_value("objects", p["id"])
        doc = json.loads(original)
        doc["amount_refunded"] = 2500
        load_value("objects", p["id"], json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
        try:
            flagged = []
            for date in days:
                fs = [f for f in self.recon(date)["findings"] if f["id"] == p["id"]]
                if fs:
                    self.assertEqual(fs[0]["code"], "ledger_mismatch")
                    self.assertIn("amount_refunded 2500 but its refund transactions in the ledger take 2000",
                                  fs[0]["message"])
                    flagged.append(date)
            self.assertEqual(flagged[0], "2027-05-03", "the day of the refunds")
            self.assertIn("2027-05-03", flagged)
            self.assertGreaterEqual(len(flagged), 2, "and the day of the failures")
        finally:
            load_value("objects", p["id"], original)
        self.assertEqual(self.recon("2027-05-03")["findings"], [])

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

    def test_a_public_holiday_pushes_payout_late(self):
        # no bank account: the payout runs pay nothing, so the capture waits
        self.clock_to("2027-07-06T10:00:00")            # a Tuesday
        p = self.pay(5000)
        # available Tuesday 13th; the run of Wednesday 14th (Bastille Day, a
        # holiday in France) is Thursday's; + 2 business days = Monday 19th
        self.clock_to("2027-07-19T12:00:00")
        day = self.recon("2027-07-06")
        [c] = day["items"]
        self.assertEqual((c["source"], c["state"], c["payout"]), (p["id"], "awaiting_payout", None))
        self.assertEqual(day["findings"], [], "weekends only would make it late from Saturday 17th")
        self.clock_to("2027-07-20T00:00:00")
        day = self.recon("2027-07-06")
        [f] = day["findings"]
        self.assertEqual((f["code"], f["id"]), ("payout_late", c["id"]))
        self.assertIn("2027-07-20T00:00:00", f["message"])
        self.assertCsvMatches("2027-07-06", day)

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
                 ("/v1/reconciliation/findings.csv", "date", "parameter_missing", "required"),
                 ("/v1/reconciliation/findings.csv?date=2027-03-11", "date", "parameter_invalid", "has not come"),
                 ("/v1/reconciliation/findings.csv?date=2027-03-10&x=1", "x", "parameter_unknown", "x"),
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
        for path in ("", "/export", "/findings.csv"):
            r = srv.client().get(f"/v1/reconciliation{path}?date=2027-03-01")
            self.assertEqual(r.status, 401, (path, r))


class BuyNowPayLater(Day):
    """The bnpl stream: an FR merchant's shipments against the disbursement
    that carried them (docs/disbursements.md)."""

    def bnpl_items(self, report):
        return [it for it in report["items"] if it["type"] in ("order_payable", "order_reduction", "disbursement")]

    def test_shipments_against_their_disbursements(self):
        self.clock_to("2026-11-30T10:00:00")            # a Monday
        a = self.shipped(((3000, 2),))
        b = self.shipped(((5000, 1),))
        day = self.recon("2026-11-30")
        payables = {it["source"]: it for it in self.bnpl_items(day)}
        self.assertEqual(set(payables), {a["id"], b["id"]})
        for it in payables.values():
            self.assertEqual((it["type"], it["state"], it["disbursement"], it["payout"], it["payment"]),
                             ("order_payable", "awaiting_disbursement", None, None, None))
        self.assertEqual(day["findings"], [])

        self.clock_to("2026-12-01T07:00:00")            # Tuesday's run disbursed them
        [d1] = self.disbursements()
        day = self.recon("2026-11-30")
        payables = {it["source"]: it for it in self.bnpl_items(day)}
        self.assertEqual({k: (it["amount"], it["state"], it["disbursement"]) for k, it in payables.items()},
                         {a["id"]: (6000, "disbursed", d1["id"]), b["id"]: (5000, "disbursed", d1["id"])})
        self.assertEqual((day["disbursements"], day["findings"]), ([], []))
        self.assertCsvMatches("2026-11-30", day)
        rows = {r[2]: dict(zip(COLUMNS, r)) for r in self.export("2026-11-30")}
        self.assertEqual((rows[a["id"]]["disbursement"], rows[a["id"]]["state"], rows[a["id"]]["amount"]),
                         (d1["id"], "disbursed", "6000"))

        run = self.recon("2026-12-01")
        [own] = self.bnpl_items(run)
        self.assertEqual((own["type"], own["source"], own["disbursement"], own["state"], own["amount"], own["net"]),
                         ("disbursement", d1["id"], d1["id"], "disbursed", -d1["gross_amount"], -d1["amount"]))
        [row] = run["disbursements"]
        self.assertEqual((row["id"], row["reference"], row["amount"], row["carried_net"], row["gross_amount"],
                          row["carried_gross"], row["carried_count"]),
                         (d1["id"], d1["reference"], d1["amount"], d1["amount"], 11000, 11000, 2))
        self.assertEqual(run["findings"], [])

        # a partial return after the disbursement, recovered from the next one
        self.clock_to("2026-12-01T10:00:00")
        r = self.api.post(f"/v1/orders/{a['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        c = self.shipped(((10000, 1),))
        day = self.recon("2026-12-01")
        [red] = [it for it in day["items"] if it["type"] == "order_reduction"]
        self.assertEqual((red["source"], red["amount"], red["state"], red["disbursement"]),
                         (a["id"], -3000, "awaiting_disbursement", None))
        self.clock_to("2026-12-02T07:00:00")
        d2, _ = self.disbursements()
        day = self.recon("2026-12-01")
        by = {(it["type"], it["source"]): it for it in self.bnpl_items(day)}
        self.assertEqual(by[("order_reduction", a["id"])]["disbursement"], d2["id"], "recovered by the next")
        self.assertEqual(by[("order_payable", c["id"])]["disbursement"], d2["id"])
        self.assertEqual(by[("disbursement", d1["id"])]["disbursement"], d1["id"])
        self.assertTrue(all(it["state"] == "disbursed" for it in by.values()))
        self.assertEqual(day["findings"], [])
        self.assertCsvMatches("2026-12-01", day)
        run = self.recon("2026-12-02")
        [row] = run["disbursements"]
        self.assertEqual((row["id"], row["carried_net"], row["carried_gross"], row["carried_count"]),
                         (d2["id"], d2["amount"], 10000 - 3000, 2))
        self.assertEqual(row["amount"], d2["amount"])
        self.assertEqual(run["findings"], [])
        self.assertCsvMatches("2026-12-02", run)

    def test_carried_over_is_not_late(self):
        self.clock_to("2026-11-30T10:00:00")            # a Monday
        a = self.shipped(((3000, 2),))
        self.clock_to("2026-12-01T07:00:00")
        [d1] = self.disbursements()
        # all of it comes back and a small order ships: Wednesday's run finds
        # the reductions outweighing the payables and disburses nothing
        r = self.api.post(f"/v1/orders/{a['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 2}]})
        self.assertEqual(r.status, 201, r)
        b = self.shipped(((5000, 1),))
        self.clock_to("2026-12-07T12:00:00")            # weekends only, b would be late from Friday 4th
        self.assertEqual([d["id"] for d in self.disbursements()], [d1["id"]])
        day = self.recon("2026-12-01")
        by = {(it["type"], it["source"]): it for it in self.bnpl_items(day)}
        self.assertEqual({k: (it["state"], it["disbursement"]) for k, it in by.items()},
                         {("disbursement", d1["id"]): ("disbursed", d1["id"]),
                          ("order_reduction", a["id"]): ("carried_over", None),
                          ("order_payable", b["id"]): ("carried_over", None)})
        self.assertEqual(day["findings"], [])
        self.assertCsvMatches("2026-12-01", day)


if __name__ == "__main__":
    unittest.main()
