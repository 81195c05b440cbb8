"""The yearly summary and the daily sales report against the real binary
(docs/reports.md). Two months of activity under the test clock for a France
merchant (card payments captured, declined, deferred then captured, a
refund, buy-now-pay-later orders created, confirmed, shipped and returned,
their disbursements, a payout): the daily sales report of each day (CSV
parsed with Python's csv, XLSX read by an independent reader, PDF rendered
with pdftoppm and read with pdftotext) lists what the test did that day,
with the totals per method; the yearly summary's 12 months and total equal
sums the test makes itself from GET /v1/balance_transactions. Bad dates,
months and years (missing, malformed, not come yet, older than the online
history, unknown parameters) are 400 naming the parameter, and nothing is
written."""
import csv
import io
import os
import re
import unittest

import harness
from harness import create_merchant, eur, money, order_body, pdf_text, run_cli, totals_lines, unix, xlsx_rows

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IBAN, BIC = "FR7630006000011234567890189", "AGRIFRPP"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
DECLINED = dict(CARD, number="4000000000000002")
SALE_HEADER = ["time", "kind", "id", "reference", "method", "outcome", "status", "amount", "sold", "refunded",
               "currency"]
METHOD_HEADER = ["method", "sales", "sold", "refunds", "refunded", "currency"]
YEAR_HEADER = ["month", "charges", "captured", "refunds", "disputes", "card_fees", "card_vat", "payouts",
               "bnpl_payable", "bnpl_reduced", "bnpl_fees", "bnpl_vat", "disbursed", "currency"]


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


def fetch(key, path):
    return harness.fetch_raw(srv, key, path)


def on(day, stamp):
    return stamp is not None and stamp.startswith(day)


class SummaryReports(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        """Two months of activity, once for the module (the clock only moves forward)."""
        cls.m = create_merchant(srv.data, "Épicerie Rapports", "FR")
        cls.key = cls.m["test_secret_key"]
        cls.api = srv.client(cls.key)
        t = cls()
        t.setup_activity()

    @classmethod
    def tearDownClass(cls):
        cls.api.close()

    def tearDown(self):
        p = run_cli("audit", "ledger", data=srv.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(" 0 unbalanced", p.stdout)

    # ---- the activity ----

    def clock_to(self, text):
        r = self.api.post("/v1/test_clock/advance", {"to": unix(text)})
        self.assertEqual(r.status, 200, r)

    def order(self, lines, confirm=True, ship=True, reference=None):
        r = self.api.post("/v1/orders", order_body(lines, reference=reference))
        self.assertEqual(r.status, 201, r)
        o = r.json
        if confirm:
            self.assertEqual(self.api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
        if ship:
            r = self.api.post(f"/v1/orders/{o['id']}/shipments", {})
            self.assertEqual(r.status, 201, r)
        return o

    def pay(self, amount, card=CARD, status=201, **extra):
        r = self.api.post("/v1/payments", dict(amount=amount, currency="EUR", card=card, **extra))
        self.assertEqual(r.status, status, r)
        return r.json

    def setup_activity(self):
        cls = type(self)
        r = self.api.post("/v1/bank_account", {"iban": IBAN, "bic": BIC, "account_holder_name": "Epicerie SARL"})
        self.assertEqual(r.status, 200, r)
        self.clock_to("2027-03-01T09:00:00")                    # a Monday
        cls.o1 = self.order(((6495, 2),))                       # created, confirmed and shipped
        # created only: abandoned an hour later, so never shown
        cls.o4 = self.order(((8000, 1),), confirm=False, ship=False)
        cls.p1 = self.pay(10000)                                # captured at once
        self.pay(2000, card=DECLINED, status=402)               # declined
        cls.p3 = self.pay(3000, type="deferred")                # authorized
        r = self.api.post("/v1/refunds", {"payment": cls.p1["id"], "amount": 2000})
        self.assertEqual(r.status, 201, r)
        cls.r1 = r.json
        self.clock_to("2027-03-01T23:30:00")
        # created on the 1st (a reference a spreadsheet would run: escaped in the CSV) ...
        cls.o2 = self.order(((5000, 1),), confirm=False, ship=False, reference="=1+2")
        self.clock_to("2027-03-02T00:10:00")
        self.assertEqual(self.api.post(f"/v1/orders/{cls.o2['id']}/confirm", {}).status, 200)   # ... confirmed the 2nd
        self.clock_to("2027-03-02T10:00:00")                    # o1 disbursed at 06:00
        r = self.api.post(f"/v1/payments/{cls.p3['id']}/capture", {})
        self.assertEqual(r.status, 200, r)
        r = self.api.post(f"/v1/orders/{cls.o1['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        self.clock_to("2027-03-10T07:00:00")                    # the payout run of the captures
        self.clock_to("2027-04-05T10:00:00")
        self.pay(5000)
        self.order(((20000, 1),))                               # recovers o1's return at the next run
        self.clock_to("2027-04-06T07:00:00")
        self.assertEqual(len(self.api.get("/v1/disbursements").json["data"]), 2)
        self.assertGreaterEqual(len(self.api.get("/v1/payouts").json["data"]), 1)

    # ---- what the API says, read independently ----

    def all_of(self, path):
        out, cursor = [], None
        while True:
            sep = "&" if "?" in path else "?"
            r = self.api.get(path + sep + "limit=100" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(r.status, 200, r)
            out += r.json["data"]
            if not r.json["has_more"]:
                return out
            cursor = r.json["next_cursor"]

    def expected_day(self, day):
        """The day's lines and per-method totals from the objects (docs/reports.md)."""
        lines = []
        for o in self.all_of("/v1/orders?status=all"):
            c, k = on(day, o["created"]), on(day, o["confirmed_at"])
            if c or k:
                amount = o["amount"] + sum(r["amount"] for r in o["returns"])   # as confirmed: before the returns
                lines.append([o["created"] if c else o["confirmed_at"], "order", o["id"], o["reference"],
                              o["plan"]["product"], "confirmed" if k else "created", o["status"], amount,
                              amount if k else 0, 0])
            for r in o["returns"]:
                if on(day, r["returned_at"]):
                    lines.append([r["returned_at"], "return", r["id"], o["id"], o["plan"]["product"], "returned",
                                  o["status"], r["amount"], 0, r["amount"]])
        for p in self.all_of("/v1/payments"):
            caps = [c for c in p["captures"] if on(day, c["captured_at"])]
            captured = sum(c["amount"] for c in caps)
            if captured:
                outcome = "captured"
            elif p["status"] == "failed" and on(day, p["created"]):
                outcome = "failed"
            elif on(day, p["created"]):
                outcome = "created"
            else:
                continue
            at = p["created"] if on(day, p["created"]) else min(c["captured_at"] for c in caps)
            lines.append([at, "payment", p["id"], p["order_reference"] or "", "card", outcome, p["status"],
                          p["amount"], captured, 0])
        for rf in self.all_of("/v1/refunds"):
            if on(day, rf["created"]):
                lines.append([rf["created"], "refund", rf["id"], rf["payment"], "card", "refunded", rf["status"],
                              rf["amount"], 0, rf["amount"]])
        lines.sort(key=lambda l: (l[0], l[1], l[2]))
        for l in lines:
            l[0] = l[0][11:19]
        methods = {}
        for l in lines:
            m = methods.setdefault(l[4], [0, 0, 0, 0])
            if l[8]:
                m[0] += 1
                m[1] += l[8]
            if l[9]:
                m[2] += 1
                m[3] += l[9]
        methods = {k: v for k, v in methods.items() if v[0] or v[2]}
        order = sorted(methods, key=lambda k: (k != "card", k))
        return lines, [[k] + methods[k] for k in order]

    def check_day(self, day):
        lines, methods = self.expected_day(day)
        self.assertTrue(lines, day)
        # CSV
        status, ctype, body, disposition = fetch(self.key, f"/v1/reports/daily_sales.csv?date={day}")
        self.assertEqual((status, ctype), (200, "text/csv; charset=utf-8"), body[:300])
        self.assertEqual(disposition, f'attachment; filename="daily-sales-{day}.csv"')
        self.assertTrue(body.endswith(b"\r\n"))
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
        self.assertEqual(rows[0], SALE_HEADER)
        esc = [[("'" + c if isinstance(c, str) and c[:1] != "" and c[0] in "=+-@" else c) for c in l] for l in lines]
        self.assertEqual(rows[1:], [[str(c) for c in l] + ["EUR"] for l in esc])
        # XLSX: the same lines (a blank text is an empty cell), the totals, the methods
        status, ctype, body, _ = fetch(self.key, f"/v1/reports/daily_sales.xlsx?date={day}")
        self.assertEqual((status, ctype), (200, XLSX))
        book = xlsx_rows(body)
        sold, refunded = sum(l[8] for l in lines), sum(l[9] for l in lines)
        self.assertEqual(book["lines"], [SALE_HEADER] + [[c if c != "" else None for c in l] + ["EUR"] for l in lines]
                         + [["Total"] + [None] * 7 + [sold, refunded, "EUR"]])
        count_sales, count_refunds = sum(m[1] for m in methods), sum(m[3] for m in methods)
        self.assertEqual(book["methods"], [METHOD_HEADER] + [m + ["EUR"] for m in methods]
                         + [["Total", count_sales, sold, count_refunds, refunded, "EUR"]])
        # PDF
        status, ctype, body, _ = fetch(self.key, f"/v1/reports/daily_sales.pdf?date={day}")
        self.assertEqual((status, ctype), (200, "application/pdf"))
        text = pdf_text(body)
        for needle in [f"Daily sales {day}", "Epicerie Rapports"[1:], "Per payment method",
                       f"{count_sales}, {eur(sold)}", f"{count_refunds}, {eur(refunded)}"] + [l[2] for l in lines]:
            self.assertIn(needle, text)
        lines_total, methods_total = totals_lines(text)
        self.assertEqual(lines_total.split()[1:], [money(sold), money(refunded)])
        self.assertEqual(methods_total.split()[1:], [str(count_sales), money(sold), str(count_refunds),
                                                     money(refunded)])
        return lines, methods

    # ---- the tests ----

    def test_daily_sales_of_the_first_day(self):
        lines, methods = self.check_day("2027-03-01")
        kinds = sorted((l[1], l[5]) for l in lines)
        self.assertEqual(kinds, [("order", "confirmed"), ("order", "created"), ("payment", "captured"),
                                 ("payment", "created"), ("payment", "failed"), ("refund", "refunded")])
        # the abandoned checkout is not shown (seed 001), the order confirmed the next day is
        status, _, body, _ = fetch(self.key, "/v1/reports/daily_sales.csv?date=2027-03-01")
        self.assertNotIn(self.o4["id"].encode(), body)
        self.assertEqual(self.api.get(f"/v1/orders/{self.o4['id']}").json["status"], "abandoned")
        self.assertIn(("order", self.o2["id"], "created"), [(l[1], l[2], l[5]) for l in lines])
        self.assertEqual(methods, [["card", 1, 10000, 1, 2000], ["pay_in_3", 1, 12990, 0, 0]])

    def test_daily_sales_of_the_second_day(self):
        lines, methods = self.check_day("2027-03-02")
        # the deferred payment captured, the order created the day before confirmed, the return
        self.assertEqual(sorted((l[1], l[2], l[5]) for l in lines),
                         sorted([("payment", self.p3["id"], "captured"), ("order", self.o2["id"], "confirmed"),
                                 ("return", lines[[l[1] for l in lines].index("return")][2], "returned")]))
        self.assertEqual(methods, [["card", 1, 3000, 0, 0], ["pay_in_3", 1, 5000, 1, 6495]])

    def test_a_day_with_nothing(self):
        status, _, body, _ = fetch(self.key, "/v1/reports/daily_sales.csv?date=2027-03-20")
        self.assertEqual((status, body), (200, ",".join(SALE_HEADER).encode() + b"\r\n"))
        status, _, body, _ = fetch(self.key, "/v1/reports/daily_sales.pdf?date=2027-03-20")
        self.assertEqual(status, 200)
        self.assertIn("(no lines)", pdf_text(body))

    def expected_year(self, year):
        rows = [[f"{year}-{m:02d}"] + [0] * 12 for m in range(1, 13)]
        for t in self.all_of("/v1/balance_transactions"):
            if not t["created"].startswith(str(year)) or t["currency"] != "EUR":
                continue
            row = rows[int(t["created"][5:7]) - 1]
            kind = t["type"]
            if t["stream"] == "bnpl":
                if kind == "order_payable":
                    row[8] += t["amount"]
                elif kind == "order_reduction":
                    row[9] += t["amount"]
                elif kind == "disbursement":
                    row[10] -= t["fee"]
                    row[11] -= t["vat"]
                    row[12] -= t["net"]
                continue
            if kind == "charge":
                row[1] += 1
                row[2] += t["amount"]
            elif kind in ("refund", "refund_failure"):
                row[3] += t["amount"]
            elif kind in ("dispute_debit", "dispute_reversal"):
                row[4] += t["amount"]
            elif kind in ("payout", "payout_failure"):
                row[7] -= t["amount"]
            row[5] += t["fee"]
            row[6] += t["vat"]
        total = ["Total"] + [sum(r[i] for r in rows) for i in range(1, 13)]
        return rows, total

    def test_yearly_summary(self):
        rows, total = self.expected_year(2027)
        # the activity shows where the test put it
        march, april = rows[2], rows[3]
        self.assertEqual((march[1], march[2], march[3]), (2, 13000, -2000))
        self.assertEqual((march[8], march[9]), (12990, -6495))
        self.assertGreater(march[7], 0, "the payout of March")
        self.assertEqual((april[1], april[2], april[8]), (1, 5000, 20000))
        self.assertGreater(march[10], 0, "the commission of o1's disbursement")
        status, ctype, body, disposition = fetch(self.key, "/v1/reports/yearly.xlsx?year=2027")
        self.assertEqual((status, ctype), (200, XLSX))
        self.assertEqual(disposition, 'attachment; filename="yearly-2027.xlsx"')
        self.assertEqual(xlsx_rows(body), {"months": [YEAR_HEADER] + [r + ["EUR"] for r in rows] + [total + ["EUR"]]})
        status, ctype, body, _ = fetch(self.key, "/v1/reports/yearly.pdf?year=2027")
        self.assertEqual((status, ctype), (200, "application/pdf"))
        text = pdf_text(body)
        commissions = total[5] + total[10]
        vat = total[6] + total[11]
        for needle in ["Yearly summary 2027", "picerie Rapports", "Commissions invoiced", eur(commissions),
                       eur(vat), eur(commissions + vat), eur(total[5] + total[6]), eur(total[10] + total[11])] + \
                YEAR_HEADER[:-1]:
            self.assertIn(needle, text)
        [t] = totals_lines(text)
        self.assertEqual(t.split()[1:], [str(total[1])] + [money(v) for v in total[2:]], "the whole row fits the page")
        month_lines = [l.split() for l in text.splitlines() if re.match(r"^\s*2027-[0-9]{2}\s", l)]
        self.assertEqual([l[0] for l in month_lines], [r[0] for r in rows])
        self.assertEqual(month_lines[2][1:], [str(march[1])] + [money(v) for v in march[2:]])
        # a year with nothing: twelve rows of zero
        status, _, body, _ = fetch(self.key, "/v1/reports/yearly.xlsx?year=2026")
        self.assertEqual(status, 200)
        zero = xlsx_rows(body)["months"]
        self.assertEqual(zero[1:], [[f"2026-{m:02d}"] + [0] * 12 + ["EUR"] for m in range(1, 13)]
                         + [["Total"] + [0] * 12 + ["EUR"]])

    def test_bad_input_changes_nothing(self):
        seq = head_seq()
        cases = [("daily_sales.pdf", "", "date", "parameter_missing"),
                 ("daily_sales.csv", "date=2027-4-05", "date", "parameter_invalid"),
                 ("daily_sales.xlsx", "date=2027-02-30", "date", "parameter_invalid"),
                 ("daily_sales.csv", "date=05/04/2027", "date", "parameter_invalid"),
                 ("daily_sales.pdf", "date=2027-04-07", "date", "parameter_invalid"),    # today is 2027-04-06
                 ("daily_sales.csv", "date=2099-01-01", "date", "parameter_invalid"),
                 ("daily_sales.csv", "date=2025-12-31", "date", "parameter_invalid"),    # older than 15 months
                 ("daily_sales.csv", "date=2027-03-01&format=json", "format", "parameter_unknown"),
                 ("yearly.pdf", "", "year", "parameter_missing"),
                 ("yearly.xlsx", "year=27", "year", "parameter_invalid"),
                 ("yearly.pdf", "year=2027-01", "year", "parameter_invalid"),
                 ("yearly.pdf", "year=2028", "year", "parameter_invalid"),
                 ("yearly.xlsx", "year=2027&month=03", "month", "parameter_unknown"),
                 ("fees.pdf", "month=2027-05", "month", "parameter_invalid")]
        for path, query, param, code in cases:
            r = self.api.get(f"/v1/reports/{path}?{query}")
            self.assertEqual((r.status, r.json["error"]["param"], r.json["error"]["code"]), (400, param, code),
                             (path, query, r))
        future = self.api.get("/v1/reports/daily_sales.pdf?date=2027-04-07").json["error"]["message"]
        self.assertIn("has not come yet", future)
        self.assertIn("2027-04-06", future)
        self.assertIn("has not come yet", self.api.get("/v1/reports/yearly.pdf?year=2028").json["error"]["message"])
        old = self.api.get("/v1/reports/daily_sales.csv?date=2025-12-31").json["error"]["message"]
        self.assertIn("caisse events dump", old)
        self.assertEqual(self.api.get("/v1/reports/daily_sales.csv?date=2027-04-06").status, 200, "today is fine")
        self.assertEqual(head_seq(), seq, "nothing written")
        # another merchant sees none of it
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        self.assertEqual(api.post("/v1/test_clock/advance", {"to": unix("2027-03-02T00:00:00")}).status, 200)
        status, _, body, _ = fetch(other["test_secret_key"], "/v1/reports/daily_sales.csv?date=2027-03-01")
        self.assertEqual((status, body), (200, ",".join(SALE_HEADER).encode() + b"\r\n"))
        api.close()

    def test_zz_replay_equal(self):   # last
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
