"""Payout reports and the fee invoice against the real binary
(docs/reports.md): a standard payout's report carries the balance
transactions that became available since the previous standard payout, an
early payout's its own line; the PDF renders (pdftoppm) and names the payout
and its totals (pdftotext); the XLSX, read by an independent reader
(tests/reports/read_xlsx.mjs, read-excel-file pinned in the lockfile), has
the same lines as GET /v1/balance_transactions; the monthly fee invoice;
bad months and other merchants' payouts refused with nothing written."""
import os
import unittest

import harness
from harness import MerchantCase, create_merchant, eur, pdf_text, run_cli, xlsx_rows

HOUR, DAY = 3600, 86400
IBAN, BIC = "FR7630006000011234567890189", "AGRIFRPP"
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = ["id", "date", "type", "source", "amount", "fee", "vat", "net", "currency"]


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


def fetch(key, path):
    return harness.fetch_raw(srv, key, path)[:3]


class PayoutReports(MerchantCase):
    MERCHANT = ("Rapports Lumière", "FR")
    server = staticmethod(lambda: srv)

    def setUp(self):
        super().setUp()
        r = self.api.post("/v1/bank_account", {"iban": IBAN, "bic": BIC, "account_holder_name": "Boutique SARL"})
        self.assertEqual(r.status, 200, r)

    def txns_of(self, *sources):
        out = []
        for s in sources:
            r = self.api.get(f"/v1/balance_transactions?source={s}")
            self.assertEqual(r.status, 200, r)
            out += r.json["data"]
        return sorted(out, key=lambda t: t["event_seq"])

    def expected_rows(self, txns):
        rows = [[t["id"], t["created"][:10], t["type"], t["source"], t["amount"], t["fee"], t["vat"], t["net"], "EUR"]
                for t in txns]
        total = ["Total", None, None, None] + [sum(t[k] for t in txns) for k in ("amount", "fee", "vat", "net")]
        return [HEADER] + rows + [total + ["EUR"]]

    def check_report(self, po, txns):
        status, ctype, pdf = fetch(self.key, f"/v1/payouts/{po['id']}/report.pdf")
        self.assertEqual((status, ctype), (200, "application/pdf"), pdf[:300])
        self.assertTrue(pdf.startswith(b"%PDF-"))
        text = pdf_text(pdf)
        fees, vat = sum(t["fee"] for t in txns), sum(t["vat"] for t in txns)
        for needle in [po["id"], "Rapports Lumi", "FR", eur(po["amount"]), eur(fees), eur(vat), eur(fees + vat),
                       "Payment report"] + [t["source"] for t in txns]:
            self.assertIn(needle, text)
        status, ctype, xlsx = fetch(self.key, f"/v1/payouts/{po['id']}/report.xlsx")
        self.assertEqual((status, ctype), (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        self.assertEqual(xlsx_rows(xlsx), {"lines": self.expected_rows(txns)})

    def test_standard_payouts_carry_what_became_available(self):
        self.clock_to("2027-04-05T10:00:00")        # a Monday
        a, b = self.pay(10000), self.pay(2500)
        self.clock_to("2027-04-13T07:00:00")        # available on the 12th, the run at 06:00 on the 13th
        [po1] = self.api.get("/v1/payouts").json["data"]
        c = self.pay(3000)
        self.clock_to("2027-04-21T07:00:00")
        po2 = self.api.get("/v1/payouts").json["data"][0]
        self.assertNotEqual(po1["id"], po2["id"])
        first, second = self.txns_of(a["id"], b["id"]), self.txns_of(c["id"])
        self.assertEqual(sum(t["net"] for t in first), po1["amount"], "the lines add up to what was paid out")
        self.assertEqual(sum(t["net"] for t in second), po2["amount"])
        self.check_report(po1, first)
        self.check_report(po2, second)
        # the same payout twice: the same lines
        self.assertEqual(xlsx_rows(fetch(self.key, f"/v1/payouts/{po2['id']}/report.xlsx")[2]),
                         {"lines": self.expected_rows(second)})

    def test_early_payout_report_is_its_own_line_and_the_fee_invoice(self):
        self.clock_to("2027-06-07T10:00:00")
        p = self.pay(10000)
        r = self.api.post("/v1/payouts", {"amount": 5000})
        self.assertEqual(r.status, 201, r)
        po = r.json
        [line] = self.txns_of(po["id"])
        self.assertEqual((line["type"], line["amount"], line["fee"], line["vat"]), ("payout", -5000, 50, 10))
        self.check_report(po, [line])
        # the fee invoice of June: the capture's fee and the early payout's
        lines = self.txns_of(p["id"], po["id"])
        status, ctype, pdf = fetch(self.key, "/v1/reports/fees.pdf?month=2027-06")
        self.assertEqual((status, ctype), (200, "application/pdf"), pdf[:300])
        text = pdf_text(pdf)
        fees, vat = sum(t["fee"] for t in lines), sum(t["vat"] for t in lines)
        for needle in ["Fee invoice 2027-06", eur(fees), eur(vat), eur(fees + vat), p["id"], po["id"]]:
            self.assertIn(needle, text)
        # an earlier month with nothing: an invoice of zero
        status, _, pdf = fetch(self.key, "/v1/reports/fees.pdf?month=2027-05")
        self.assertEqual(status, 200)
        self.assertIn("(no lines)", pdf_text(pdf))
        self.assertNotIn(p["id"], pdf_text(pdf))

    def test_bad_months_and_other_merchants(self):
        self.clock_to("2027-08-02T10:00:00")
        self.pay(4000)
        po = self.api.post("/v1/payouts", {"amount": 1000}).json
        seq = head_seq()
        for query, code in [("month=2027-09", 400), ("month=2028-01", 400), ("month=2027-13", 400),
                            ("month=27-08", 400), ("month=2027-8", 400), ("month=2027-08-01", 400), ("", 400),
                            ("month=2027-08&format=xlsx", 400)]:
            r = self.api.get(f"/v1/reports/fees.pdf?{query}")
            self.assertEqual(r.status, code, (query, r))
            self.assertIn(r.json["error"]["param"], ("month", "format"), (query, r))
        self.assertIn("has not begun", self.api.get("/v1/reports/fees.pdf?month=2027-09").json["error"]["message"])
        self.assertEqual(self.api.get("/v1/reports/fees.pdf?month=2027-08").status, 200)
        for bad in ["po_nope", "pay_01M83A1B2C3D4E5F6G7H8J9K0M"]:
            self.assertEqual(self.api.get(f"/v1/payouts/{bad}/report.pdf").status, 404)
        self.assertEqual(self.api.get(f"/v1/payouts/{po['id']}/report.pdf?x=1").status, 400)
        self.assertEqual(head_seq(), seq, "reading reports writes nothing")
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        seq = head_seq()
        for fmt in ("pdf", "xlsx"):
            r = api.get(f"/v1/payouts/{po['id']}/report.{fmt}")
            self.assertEqual((r.status, r.json["error"]["param"]), (404, "id"), r)
        api.close()
        self.assertEqual(head_seq(), seq)

    def test_replay_equal(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
