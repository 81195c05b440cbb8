"""Buy-now-pay-later disbursement reports and the bnpl commissions of the
monthly fee invoice against the real binary (docs/reports.md): each
disbursement's PDF renders (pdftoppm) and names the reference, the amount
paid, the commissions and every order (pdftotext); its XLSX, read by an
independent reader (tests/reports/read_xlsx.mjs), has the same lines as GET
/v1/disbursements/{id}; a return after a disbursement shows as a negative
line of the next one; the fee invoice of the month lists each disbursement's
commission (positive, given back negative) beside the card fees; another
merchant's or mode's disbursement is 404 and nothing is written."""
import os
import unittest

import harness
from harness import MerchantCase, create_merchant, eur, money, pdf_text, run_cli, totals_lines, xlsx_rows

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = ["order", "reference", "product", "payable", "reduction", "amount", "fee", "vat", "net", "currency"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


def fetch(key, path):
    return harness.fetch_raw(srv, key, path)


class DisbursementReports(MerchantCase):
    MERCHANT = ("Literie Lumière", "FR")
    server = staticmethod(lambda: srv)

    def all_txns(self):
        out, cursor = [], None
        while True:
            r = self.api.get("/v1/balance_transactions?limit=100" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(r.status, 200, r)
            out += r.json["data"]
            if not r.json["has_more"]:
                return sorted(out, key=lambda t: t["event_seq"])
            cursor = r.json["next_cursor"]

    def expected_rows(self, d):
        rows = [[l["order"], l["reference"], l["product"], l["payable"], l["reduction"], l["amount"], l["fee"],
                 l["vat"], l["net"], "EUR"] for l in d["orders"]]
        total = ["Total", None, None] + [sum(l[k] for l in d["orders"])
                                         for k in ("payable", "reduction", "amount", "fee", "vat", "net")]
        return [HEADER] + rows + [total + ["EUR"]]

    def check_report(self, d):
        # the document is what GET /v1/disbursements/{id} answers
        self.assertEqual(self.api.get(f"/v1/disbursements/{d['id']}").json, d)
        status, ctype, pdf, disposition = fetch(self.key, f"/v1/disbursements/{d['id']}/report.pdf")
        self.assertEqual((status, ctype), (200, "application/pdf"), pdf[:300])
        self.assertEqual(disposition, f'attachment; filename="{d["id"]}-report.pdf"')
        self.assertTrue(pdf.startswith(b"%PDF-"))
        text = pdf_text(pdf)
        for needle in [f"Disbursement {d['reference']}", d["id"], "Literie Lumi", "FR", d["date"],
                       "Invoice: commissions", "Payment report", eur(d["amount"]), eur(d["fees"]),
                       eur(d["fees_vat"]), eur(d["fees_vat_included"]), eur(d["gross_amount"])]:
            self.assertIn(needle, text)
        for l in d["orders"]:
            self.assertIn(l["order"], text)
            self.assertIn(l["reference"], text)
        # the totals row: amount, fee, vat, net of the lines
        total_line = totals_lines(text)
        self.assertEqual(len(total_line), 1, text)
        self.assertTrue(total_line[0].split()[-4:] == [money(d["gross_amount"]), money(d["fees"]),
                                                       money(d["fees_vat"]), money(d["amount"])], total_line)
        status, ctype, xlsx, _ = fetch(self.key, f"/v1/disbursements/{d['id']}/report.xlsx")
        self.assertEqual((status, ctype), (200, XLSX))
        self.assertEqual(xlsx_rows(xlsx), {"lines": self.expected_rows(d)})

    def test_reports_of_two_runs_and_the_fee_invoice(self):
        self.clock_to("2026-11-30T10:00:00")          # a Monday
        a = self.shipped(((3000, 2),))
        b = self.shipped(((12990, 1),))
        self.clock_to("2026-12-01T07:00:00")
        [first] = self.disbursements()
        self.assertEqual({l["order"] for l in first["orders"]}, {a["id"], b["id"]})
        self.check_report(first)
        # a return of an order already paid out, and a new shipment: the next run recovers it
        r = self.api.post(f"/v1/orders/{a['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        c = self.shipped(((10000, 1),))
        card = self.api.post("/v1/payments", {"amount": 5000, "currency": "EUR", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        self.assertEqual(card.status, 201, card)
        self.clock_to("2026-12-02T07:00:00")
        second = self.disbursements()[0]
        lines = {l["order"]: l for l in second["orders"]}
        self.assertEqual(set(lines), {a["id"], c["id"]})
        self.assertLess(lines[a["id"]]["fee"], 0, "the commission on the returned value is given back")
        self.assertLess(lines[a["id"]]["net"], 0)
        self.check_report(second)
        # the same report twice: the same lines
        self.assertEqual(xlsx_rows(fetch(self.key, f"/v1/disbursements/{second['id']}/report.xlsx")[2]),
                         {"lines": self.expected_rows(second)})

        # the fee invoice of December: the card capture's fee, and each disbursement's commission (positive)
        txns = [t for t in self.all_txns() if t["created"].startswith("2026-12")]
        card_lines = [t for t in txns if t["stream"] == "card" and (t["fee"] or t["vat"])]
        bnpl_lines = [t for t in txns if t["stream"] == "bnpl" and t["type"] == "disbursement"]
        self.assertEqual({t["source"] for t in bnpl_lines}, {first["id"], second["id"]})
        self.assertEqual(len(card_lines), 1)
        for t in bnpl_lines:
            d = first if t["source"] == first["id"] else second
            self.assertEqual((-t["fee"], -t["vat"]), (d["fees"], d["fees_vat"]))
        fees = sum(t["fee"] for t in card_lines) - sum(t["fee"] for t in bnpl_lines)
        vat = sum(t["vat"] for t in card_lines) - sum(t["vat"] for t in bnpl_lines)
        commissions = -sum(t["fee"] + t["vat"] for t in bnpl_lines)
        status, ctype, pdf, _ = fetch(self.key, "/v1/reports/fees.pdf?month=2026-12")
        self.assertEqual((status, ctype), (200, "application/pdf"), pdf[:300])
        text = pdf_text(pdf)
        for needle in ["Fee invoice 2026-12", eur(fees), eur(vat), eur(fees + vat), eur(commissions),
                       card_lines[0]["source"], first["id"], second["id"]]:
            self.assertIn(needle, text)
        # one line per disbursement: fee, vat and total as caisse invoices them, in the log's order
        rows = {}
        for line in text.splitlines():
            parts = line.split()
            if parts and parts[0].startswith("btx_"):
                rows[parts[0]] = parts
        self.assertEqual(list(rows), [t["id"] for t in sorted(card_lines + bnpl_lines, key=lambda t: t["event_seq"])])
        for t in bnpl_lines:
            self.assertEqual(rows[t["id"]][2:], ["disbursement", t["source"], money(-t["fee"]), money(-t["vat"]),
                                                 money(-t["fee"] - t["vat"])])
        total_line = totals_lines(text)
        self.assertEqual(total_line[0].split()[-3:], [money(fees), money(vat), money(fees + vat)])
        # November: the shipments only, no commission yet
        status, _, pdf, _ = fetch(self.key, "/v1/reports/fees.pdf?month=2026-11")
        self.assertEqual(status, 200)
        self.assertIn("(no lines)", pdf_text(pdf))

    def test_other_merchants_modes_and_bad_requests(self):
        self.clock_to("2026-11-30T10:00:00")
        self.shipped(((4000, 2),))
        self.clock_to("2026-12-01T07:00:00")
        [d] = self.disbursements()
        other = create_merchant(srv.data, "Autre", "FR")
        seq = head_seq()
        for fmt in ("pdf", "xlsx"):
            for bad in ["dsb_nope", "po_01M83A1B2C3D4E5F6G7H8J9K0M", d["id"] + "x"]:
                r = self.api.get(f"/v1/disbursements/{bad}/report.{fmt}")
                self.assertEqual((r.status, r.json["error"]["param"]), (404, "id"), (bad, r))
            r = self.api.get(f"/v1/disbursements/{d['id']}/report.{fmt}?x=1")
            self.assertEqual((r.status, r.json["error"]["param"]), (400, "x"), r)
            r = self.api.get(f"/v1/disbursements/{d['id']}/report.{fmt}?format=csv")
            self.assertEqual((r.status, r.json["error"]["param"]), (400, "format"), r)
        api = srv.client(other["test_secret_key"])
        live = srv.client(self.m["live_secret_key"])
        for client in (api, live):
            for fmt in ("pdf", "xlsx"):
                r = client.get(f"/v1/disbursements/{d['id']}/report.{fmt}")
                self.assertEqual((r.status, r.json["error"]["param"]), (404, "id"), r)
        api.close()
        live.close()
        self.assertEqual(head_seq(), seq, "reading reports writes nothing")

    def test_zz_replay_equal(self):   # last: after the runs above
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
