"""Issue 5's acceptance scenario against the real binary: a week of activity
under the test clock for one Spanish and one French merchant — orders
shipped on a Friday and on public holidays, a partial return after its
disbursement, card payments with a dispute beyond the balance, a refund and
early payouts. Every disbursement and payout amount is computed here by
hand from the price list (docs/policies.md: cards 1.40 % + 0.25 EUR in the
EEA, 2.90 % + 0.25 outside, disputes 15.00, early payouts 1 % at least
0.50, pay in 3 3.45 %, the merchant country's VAT on each fee, half up at
each step) and compared with the API's; each payout's and disbursement's
PDF renders (pdftoppm) and its XLSX, read by an independent reader, has the
lines of the ledger; each payout's pain.001 file is well-formed, valid
against the subset schema and its control sum is the payout; every day's
reconciliation has zero findings; the ledger sums to zero; replay is
identical."""
import datetime
import os
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import harness
from harness import card, create_merchant, half_up, order_body, pdf_text, run_cli, unix, xlsx_rows

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
XSD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sepa", "pain.001.001.03-subset.xsd")
VAT = {"FR": 2000, "ES": 2100}
BR_CARD = "4000000760000002"


def card_fee(amount, country, eea=True):
    fee = half_up(amount, 140 if eea else 290) + 25
    return fee, half_up(fee, VAT[country])


def commission(amount, country):
    """pay in 3: 3.45 % of the order amount, VAT on it; negative given back."""
    fee = half_up(amount, 345)
    return fee, half_up(fee, VAT[country])


def dispute_fee(country):
    return 1500, half_up(1500, VAT[country])


def early_fee(amount, country):
    fee = max(50, half_up(amount, 100))
    return fee, half_up(fee, VAT[country])


setUpModule, tearDownModule = harness.module_server(__name__)


class Week:
    """One merchant's week: the API client, its clock and what it expects."""

    def __init__(self, case, name, country, iban, bic):
        self.t, self.country = case, country
        self.m = create_merchant(srv.data, name, country)
        self.key = self.m["test_secret_key"]
        self.api = srv.client(self.key)
        r = self.api.post("/v1/bank_account", {"iban": iban, "bic": bic, "account_holder_name": name})
        case.assertEqual(r.status, 200, r)

    def at(self, text):
        r = self.api.post("/v1/test_clock/advance", {"to": unix(text)})
        self.t.assertEqual(r.status, 200, r)

    def pay(self, amount, number="4242424242424242"):
        r = self.api.post("/v1/payments", {"amount": amount, "currency": "EUR", "card": card(number)})
        self.t.assertEqual((r.status, r.json.get("status")), (201, "captured"), r)
        return r.json

    def ship(self, lines):
        r = self.api.post("/v1/orders", order_body(lines))
        self.t.assertEqual(r.status, 201, r)
        oid = r.json["id"]
        self.t.assertEqual(self.api.post(f"/v1/orders/{oid}/confirm", {}).status, 200)
        r = self.api.post(f"/v1/orders/{oid}/shipments", {})
        self.t.assertEqual((r.status, r.json["status"]), (201, "shipped"), r)
        return r.json

    def list(self, path):
        r = self.api.get(path + "?limit=100")
        self.t.assertEqual(r.status, 200, r)
        return list(reversed(r.json["data"]))   # oldest first

    def balance(self):
        b = self.api.get("/v1/balance").json
        return {k: {x["currency"]: x["amount"] for x in b[k]}.get("EUR", 0)
                for k in ("available", "pending", "owed", "reserved", "fees", "paid_out")}

    def close(self):
        self.api.close()

    # ---- the checks every week ends with --------------------------------------------------

    def check_disbursement_files(self, d):
        status, ctype, body = harness.fetch_raw(srv, self.key, f"/v1/disbursements/{d['id']}/report.pdf")[:3]
        self.t.assertEqual((status, ctype), (200, "application/pdf"))
        text = pdf_text(body)
        self.t.assertIn(d["reference"], text)
        for line in d["orders"]:
            self.t.assertIn(line["order"], text)
        status, _, body = harness.fetch_raw(srv, self.key, f"/v1/disbursements/{d['id']}/report.xlsx")[:3]
        self.t.assertEqual(status, 200)
        rows = next(iter(xlsx_rows(body).values()))   # the first sheet
        head, lines, total = rows[0], rows[1:-1], rows[-1]
        col = {name: i for i, name in enumerate(head)}
        self.t.assertEqual([r[col["order"]] for r in lines], [l["order"] for l in d["orders"]])
        for r, l in zip(lines, d["orders"]):
            for k in ("payable", "reduction", "amount", "fee", "vat", "net"):
                self.t.assertEqual(r[col[k]], l[k], (d["reference"], k))
        self.t.assertEqual(total[col["net"]], d["amount"])

    def check_payout_files(self, po, txns):
        status, ctype, body = harness.fetch_raw(srv, self.key, f"/v1/payouts/{po['id']}/report.pdf")[:3]
        self.t.assertEqual((status, ctype), (200, "application/pdf"))
        self.t.assertIn(po["id"], pdf_text(body))
        status, _, body = harness.fetch_raw(srv, self.key, f"/v1/payouts/{po['id']}/report.xlsx")[:3]
        self.t.assertEqual(status, 200)
        rows = next(iter(xlsx_rows(body).values()))   # the first sheet
        head, lines = rows[0], rows[1:-1]
        col = {name: i for i, name in enumerate(head)}
        by_id = {t["id"]: t for t in txns}
        for r in lines:
            t = by_id[r[col["id"]]]
            self.t.assertEqual((r[col["amount"]], r[col["fee"]], r[col["vat"]], r[col["net"]]),
                               (t["amount"], t["fee"], t["vat"], t["net"]))
        if po["method"] == "standard":
            self.t.assertEqual(sum(r[col["net"]] for r in lines), po["amount"], "its lines add up to the payout")
        # the SEPA credit transfer: well-formed, valid, control sum = the payout
        r = self.api.get(f"/v1/payouts/{po['id']}/transfer_file")
        self.t.assertEqual(r.status, 200, r)
        body = r.body.encode()
        root = ET.fromstring(body)
        hdr = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
        self.t.assertEqual(hdr.find("p:NbOfTxs", NS).text, "1")
        self.t.assertEqual(hdr.find("p:CtrlSum", NS).text, f"{po['amount'] // 100}.{po['amount'] % 100:02d}")
        amounts = [a.text for a in root.iter("{%s}InstdAmt" % NS["p"])]
        self.t.assertEqual(amounts, [hdr.find("p:CtrlSum", NS).text])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.xml")
            with open(path, "wb") as f:
                f.write(body)
            p = subprocess.run(["xmllint", "--noout", "--schema", XSD, path], capture_output=True, text=True,
                               timeout=60)
            self.t.assertEqual(p.returncode, 0, p.stderr)

    def check_days(self, first, last):
        day = datetime.date.fromisoformat(first)
        while day <= datetime.date.fromisoformat(last):
            r = self.api.get(f"/v1/reconciliation?date={day.isoformat()}")
            self.t.assertEqual(r.status, 200, r)
            self.t.assertEqual(r.json["findings"], [], (self.country, day.isoformat()))
            day += datetime.timedelta(days=1)


class MoneyWeek(unittest.TestCase):
    def tearDown(self):
        p = run_cli("audit", "ledger", data=srv.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(" 0 unbalanced", p.stdout)

    def test_spain_around_the_immaculate_conception(self):
        es = Week(self, "Tienda Madrid", "ES", "ES9121000418450200051332", "CAIXESBBXXX")
        try:
            self.spain(es)
        finally:
            es.close()

    def spain(self, w):
        C = "ES"
        # Monday 7 December 2026: a card payment and a pay-in-3 order shipped
        w.at("2026-12-07T10:00:00")
        p1 = w.pay(12000)
        f1 = card_fee(12000, C)
        self.assertEqual(f1, (193, 41))
        o1 = w.ship(((10000, 3),))
        # Tuesday 8th, the Immaculate Conception (a national holiday): no
        # disbursement; another order ships on the holiday
        w.at("2026-12-08T11:00:00")
        self.assertEqual(w.list("/v1/disbursements"), [])
        o2 = w.ship(((5000, 4),))
        # Wednesday 9th 06:00: one disbursement for both
        w.at("2026-12-09T06:30:00")
        [d1] = w.list("/v1/disbursements")
        c1, c2 = commission(30000, C), commission(20000, C)
        self.assertEqual((c1, c2), ((1035, 217), (690, 145)))
        self.assertEqual((d1["reference"], d1["date"]), ("DSB-20261209-1", "2026-12-09"))
        self.assertEqual((d1["gross_amount"], d1["fees"], d1["fees_vat"], d1["amount"]),
                         (50000, 1035 + 690, 217 + 145, 50000 - 1035 - 690 - 217 - 145))
        self.assertEqual(sorted(l["order"] for l in d1["orders"]), sorted([o1["id"], o2["id"]]))
        # later that Wednesday: a partial return of o1 (disbursed), a new
        # shipment, another card payment
        w.at("2026-12-09T10:00:00")
        r = w.api.post(f"/v1/orders/{o1['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        o3 = w.ship(((7500, 2),))
        p2 = w.pay(8000)
        f2 = card_fee(8000, C)
        self.assertEqual(f2, (137, 29))
        # Thursday 10th 06:00: the return is recovered, its commission given back
        w.at("2026-12-10T06:30:00")
        _, d2 = w.list("/v1/disbursements")
        back, c3 = commission(-10000, C), commission(15000, C)
        self.assertEqual((back, c3), ((-345, -72), (518, 109)))
        lines = {l["order"]: l for l in d2["orders"]}
        self.assertEqual((lines[o1["id"]]["reduction"], lines[o1["id"]]["fee"], lines[o1["id"]]["vat"],
                          lines[o1["id"]]["net"]), (10000, -345, -72, -10000 + 345 + 72))
        self.assertEqual(lines[o3["id"]]["net"], 15000 - 518 - 109)
        self.assertEqual((d2["reference"], d2["amount"]), ("DSB-20261210-2", 15000 - 518 - 109 - 10000 + 345 + 72))
        # Thursday noon: the payer disputes p1, whose capture is still held:
        # the debit is beyond the available balance and recorded as owed
        w.at("2026-12-10T12:00:00")
        r = w.api.post("/v1/test/disputes", {"payment": p1["id"]})
        self.assertEqual(r.status, 201, r)
        df = dispute_fee(C)
        debit = 12000 + sum(df)
        self.assertEqual((r.json["amount"], r.json["owed"]), (12000, debit))
        net1, net2 = 12000 - sum(f1), 8000 - sum(f2)
        b = w.balance()
        self.assertEqual((b["available"], b["pending"], b["owed"], b["reserved"]), (-debit, net1 + net2, debit, debit))
        # Friday 11th: an early payout of 30.00 (held funds included), one
        # above the balance refused
        w.at("2026-12-11T10:00:00")
        seq = harness.head_seq(srv)
        r = w.api.post("/v1/payouts", {"amount": 1000000})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "amount"), r)
        self.assertEqual(harness.head_seq(srv), seq)
        r = w.api.post("/v1/payouts", {"amount": 3000})
        self.assertEqual(r.status, 201, r)
        early = r.json
        ef = early_fee(3000, C)
        self.assertEqual(ef, (50, 11))
        self.assertEqual((early["method"], early["amount"], early["fee"], early["fee_vat"]), ("instant", 3000, 50, 11))
        w.at("2026-12-11T15:00:00")
        p3 = w.pay(5000)
        f3 = card_fee(5000, C)
        net3 = 5000 - sum(f3)
        # The payout runs. p1's hold ends Mon 14th 10:00: the run of Tuesday
        # 15th finds 117.66 − 138.15 − 30.61 < 0, nothing; Thursday 17th
        # (p2's hold ended Wednesday 11:00) pays what is left; p3's hold ends
        # Friday 18th 15:00, so Monday 21st pays it.
        w.at("2026-12-16T12:00:00")
        self.assertEqual([p["method"] for p in w.list("/v1/payouts")], ["instant"])
        w.at("2026-12-17T06:30:00")
        first = net1 - debit - 3000 - sum(ef) + net2
        self.assertEqual([p["amount"] for p in w.list("/v1/payouts")], [3000, first])
        w.at("2026-12-21T06:30:00")
        payouts = w.list("/v1/payouts")
        self.assertEqual([(p["method"], p["amount"]) for p in payouts],
                         [("instant", 3000), ("standard", first), ("standard", net3)])
        w.at("2026-12-23T12:00:00")
        payouts = w.list("/v1/payouts")
        self.assertEqual([p["status"] for p in payouts], ["paid"] * 3)
        b = w.balance()
        self.assertEqual((b["available"], b["pending"], b["owed"], b["reserved"], b["paid_out"]),
                         (0, 0, 0, debit, 3000 + first + net3))
        self.assertEqual(b["fees"], sum(f1) + sum(f2) + sum(f3) + sum(df) + sum(ef)
                         + sum(c1) + sum(c2) + sum(back) + sum(c3))
        self.finish(w, payouts, [d1, d2], "2026-12-07", "2026-12-23")

    def test_france_around_christmas(self):
        fr = Week(self, "Boutique Lyon", "FR", "FR1420041010050500013M02606", "PSSTFRPPLIL")
        try:
            self.france(fr)
        finally:
            fr.close()

    def france(self, w):
        C = "FR"
        # Friday 18 December 2026: an order ships; the weekend waits
        w.at("2026-12-18T10:00:00")
        o1 = w.ship(((8000, 1), (4990, 1)))
        w.at("2026-12-20T23:00:00")
        self.assertEqual(w.list("/v1/disbursements"), [])
        w.at("2026-12-21T06:30:00")
        [d1] = w.list("/v1/disbursements")
        c1 = commission(12990, C)
        self.assertEqual(c1, (448, 90))
        self.assertEqual((d1["reference"], d1["amount"]), ("DSB-20261221-1", 12990 - 448 - 90))
        # Monday 21st: card payments, one with a card issued outside the EEA
        w.at("2026-12-21T11:00:00")
        p1, p2 = w.pay(25000), w.pay(10000, BR_CARD)
        f1, f2 = card_fee(25000, C), card_fee(10000, C, eea=False)
        self.assertEqual((f1, f2), ((375, 75), (315, 63)))
        # Tuesday 22nd: part of o1 comes back, after its disbursement
        w.at("2026-12-22T10:00:00")
        r = w.api.post(f"/v1/orders/{o1['id']}/returns", {"lines": [{"reference": "SKU-1", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        # Wednesday 23rd: a partial refund of p1 and an early payout of 100.00
        w.at("2026-12-23T10:00:00")
        r = w.api.post("/v1/refunds", {"payment": p1["id"], "amount": 5000})
        self.assertEqual(r.status, 201, r)
        w.at("2026-12-23T15:00:00")
        r = w.api.post("/v1/payouts", {"amount": 10000})
        self.assertEqual(r.status, 201, r)
        ef = early_fee(10000, C)
        self.assertEqual((r.json["fee"], r.json["fee_vat"]), ef)
        # Thursday 24th: p2 is disputed; the refund and the early payout already
        # took more than what is available (the captures are held): all owed
        w.at("2026-12-24T09:00:00")
        r = w.api.post("/v1/test/disputes", {"payment": p2["id"]})
        self.assertEqual(r.status, 201, r)
        df = dispute_fee(C)
        net1, net2 = 25000 - sum(f1), 10000 - sum(f2)
        self.assertEqual(r.json["owed"], 10000 + sum(df))
        # Friday 25th, Christmas: an order ships on the holiday; the
        # disbursement waits for Monday 28th and recovers the return
        w.at("2026-12-25T10:00:00")
        o2 = w.ship(((6000, 2),))
        w.at("2026-12-27T23:00:00")
        self.assertEqual(len(w.list("/v1/disbursements")), 1)
        w.at("2026-12-28T06:30:00")
        _, d2 = w.list("/v1/disbursements")
        back, c2 = commission(-4990, C), commission(12000, C)
        self.assertEqual((back, c2), ((-172, -34), (414, 83)))
        lines = {l["order"]: l for l in d2["orders"]}
        self.assertEqual(lines[o1["id"]]["net"], -4990 + 172 + 34)
        self.assertEqual(lines[o2["id"]]["net"], 12000 - 414 - 83)
        self.assertEqual((d2["reference"], d2["date"], d2["amount"]),
                         ("DSB-20261228-2", "2026-12-28", 12000 - 414 - 83 - 4990 + 172 + 34))
        # p1 and p2 are available from Monday 28th 11:00: Tuesday 29th pays
        w.at("2026-12-29T06:30:00")
        payouts = w.list("/v1/payouts")
        standard = net1 + net2 - 5000 - 10000 - sum(ef) - (10000 + sum(df))
        self.assertEqual([(p["method"], p["amount"]) for p in payouts], [("instant", 10000), ("standard", standard)])
        w.at("2026-12-31T12:00:00")
        payouts = w.list("/v1/payouts")
        self.assertEqual([p["status"] for p in payouts], ["paid", "paid"])
        refund = w.list("/v1/refunds")[0]
        self.assertEqual(refund["status"], "refunded")
        b = w.balance()
        self.assertEqual((b["available"], b["owed"], b["paid_out"]), (0, 0, 10000 + standard))
        self.finish(w, payouts, [d1, d2], "2026-12-18", "2026-12-31")

    def finish(self, w, payouts, disbursements, first, last):
        txns = w.list("/v1/balance_transactions")
        for po in payouts:
            w.check_payout_files(po, txns)
        for d in disbursements:
            self.assertEqual(w.api.get(f"/v1/disbursements/{d['id']}").json["amount"], d["amount"])
            w.check_disbursement_files(d)
        w.check_days(first, last)
        # what the bnpl stream owes is settled; the card balance is paid out
        self.assertEqual(sum(t["amount"] for t in txns if t["stream"] == "bnpl"), 0)
        self.assertEqual(sum(t["net"] for t in txns if t["stream"] == "card"), 0)

    def test_zz_replay_is_identical(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
