"""Payouts of card payments against the real binary (docs/payouts.md): the
7-day hold, the payout run on the merchant's business days (weekends and
public holidays defer it), the payout's steps, a failed payout giving the
money back, early payouts for a fee, the SEPA transfer file, and the ledger
balanced after each."""
import unittest
import xml.etree.ElementTree as ET

import harness
from harness import MerchantCase, card, create_merchant, half_up, mails, run_cli

HOUR, DAY = 3600, 86400
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
IBAN, BIC = "FR7630006000011234567890189", "AGRIFRPP"


def net_of(amount):
    fee = half_up(amount, 140) + 25
    return amount - fee - half_up(fee, 2000)


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class Payouts(MerchantCase):
    MERCHANT = ("Reversements", "FR")
    server = staticmethod(lambda: srv)

    def bank(self, holder="Boutique Lumière SARL"):
        r = self.api.post("/v1/bank_account", {"iban": IBAN, "bic": BIC, "account_holder_name": holder})
        self.assertEqual(r.status, 200, r)

    def payouts(self):
        r = self.api.get("/v1/payouts")
        self.assertEqual(r.status, 200, r)
        return r.json["data"]

    def balance(self):
        b = self.api.get("/v1/balance").json
        return ({x["currency"]: x["amount"] for x in b["available"]}.get("EUR", 0),
                {x["currency"]: x["amount"] for x in b["pending"]}.get("EUR", 0))

    def test_held_seven_days_then_paid_on_the_next_business_day(self):
        self.bank()
        self.clock_to("2026-12-17T10:00:00")        # a Thursday
        self.pay(10000)
        self.assertEqual(self.api.get("/v1/payout_schedule").status, 404)
        # available Thursday 24th at 10:00; the run at 06:00 on Friday 25th is Christmas
        self.clock_to("2026-12-25T07:00:00")
        s = self.api.get("/v1/payout_schedule").json
        self.assertEqual((s["last_run"]["date"], s["last_run"]["outcome"]), ("2026-12-25", "not_a_business_day"))
        self.assertIsNotNone(s["last_run"]["detail"], "the holiday is named")
        self.assertEqual(s["next_run_at"], "2026-12-28T06:00:00.000000Z")   # Saturday, Sunday skipped
        self.assertEqual(self.payouts(), [])
        self.assertEqual(self.balance(), (net_of(10000), 0))
        self.clock_to("2026-12-28T06:30:00")
        [po] = self.payouts()
        self.assertEqual((po["amount"], po["method"], po["status"], po["fee"]), (net_of(10000), "standard", "pending", 0))
        self.assertEqual(po["destination"]["iban_last4"], IBAN[-4:])
        self.assertEqual(self.balance(), (0, 0))
        s = self.api.get("/v1/payout_schedule").json
        self.assertEqual((s["last_run"]["outcome"], s["last_run"]["payout"], s["next_run_at"]),
                         ("paid_out", po["id"], None))
        self.advance(HOUR)
        self.assertEqual(self.api.get(f"/v1/payouts/{po['id']}").json["status"], "in_transit")
        self.advance(DAY)
        done = self.api.get(f"/v1/payouts/{po['id']}").json
        self.assertEqual(done["status"], "paid")
        self.assertIsNotNone(done["paid_at"])
        [t] = self.api.get("/v1/balance_transactions?type=payout").json["data"]
        self.assertEqual((t["source"], t["amount"], t["net"]), (po["id"], -po["amount"], -po["amount"]))

    def test_the_merchant_is_told_of_each_payout(self):
        m = create_merchant(srv.data, "Avec courriel", "FR", extra=("--email", "compta@boutique.example"))
        api = srv.client(m["test_secret_key"])
        try:
            r = api.post("/v1/bank_account", {"iban": IBAN, "bic": BIC, "account_holder_name": "Boutique"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(api.post("/v1/payments", {"amount": 20000, "currency": "EUR", "card": card()}).status, 201)
            po = api.post("/v1/payouts", {"amount": 10000}).json
            found = next(iter(mails(srv.data, lambda m: po["id"] in m["Subject"])), None)
            self.assertIsNotNone(found, "the payout notice was spooled")
            self.assertEqual(found["To"], "compta@boutique.example")
            text = found.get_body().get_content()
            self.assertIn("100.00 EUR", text)
            self.assertIn("Early payout fee, VAT included: 1.20 EUR", text)
        finally:
            api.close()
        p = run_cli("merchant", "create", "--name", "X", "--country", "FR", "--email", "nope", data=srv.data, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--email", p.stderr)

    def test_a_failed_payout_gives_the_money_back(self):
        self.bank(holder="Payout Failure")
        self.clock_to("2027-01-11T10:00:00")        # a Monday
        self.pay(5000)
        self.clock_to("2027-01-19T07:00:00")
        [po] = self.payouts()
        self.assertEqual(self.balance(), (0, 0))
        self.advance(HOUR + DAY)
        failed = self.api.get(f"/v1/payouts/{po['id']}").json
        self.assertEqual((failed["status"], failed["failure"]["code"]), ("failed", "account_closed"))
        self.assertEqual(self.balance(), (net_of(5000), 0))
        [back] = self.api.get("/v1/balance_transactions?type=payout_failure").json["data"]
        self.assertEqual(back["amount"], po["amount"])

    def test_no_bank_account_is_retried_each_business_day(self):
        self.clock_to("2027-02-01T10:00:00")        # a Monday
        self.pay(3000)
        self.clock_to("2027-02-09T07:00:00")
        s = self.api.get("/v1/payout_schedule").json
        self.assertEqual((s["last_run"]["outcome"], s["next_run_at"]), ("no_bank_account", "2027-02-10T06:00:00.000000Z"))
        self.bank()
        self.clock_to("2027-02-10T07:00:00")
        self.assertEqual([p["amount"] for p in self.payouts()], [net_of(3000)])

    def test_early_payout_for_a_fee(self):
        self.pay(10000)
        seq = head_seq()
        r = self.api.post("/v1/payouts", {"amount": 5000})
        self.assertEqual((r.status, r.json["error"]["param"]), (409, "bank_account"), r)
        self.assertEqual(head_seq(), seq)
        self.bank()
        seq = head_seq()
        for body, param in [({"amount": net_of(10000)}, "amount"), ({"amount": 0}, "amount"), ({}, "amount"),
                            ({"amount": "5000"}, "amount"), ({"amount": 5000, "to": "x"}, "to")]:
            r = self.api.post("/v1/payouts", body)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), (body, r))
        self.assertEqual(head_seq(), seq)
        r = self.api.post("/v1/payouts", {"amount": 5000})
        self.assertEqual(r.status, 201, r)
        po = r.json
        self.assertEqual((po["method"], po["amount"], po["fee"], po["fee_vat"]), ("instant", 5000, 50, 10))
        available, pending = self.balance()
        self.assertEqual(available + pending, net_of(10000) - 5060)
        # the transfer file: well-formed, its control sum the payout
        f = self.api.get(f"/v1/payouts/{po['id']}/transfer_file")
        self.assertEqual(f.status, 200, f)
        self.assertTrue(f.header("Content-Type").startswith("application/xml"))
        doc = ET.fromstring(f.body.encode())
        self.assertEqual(doc.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", NS).text, "50.00")
        self.assertEqual(doc.find("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", NS).text, "1")
        tx = doc.find("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf", NS)
        self.assertEqual(tx.find("p:Amt/p:InstdAmt", NS).text, "50.00")
        self.assertEqual(tx.find("p:CdtrAcct/p:Id/p:IBAN", NS).text, IBAN)
        self.assertEqual(f.body, self.api.get(f"/v1/payouts/{po['id']}/transfer_file").body, "the same bytes")

    def test_lists_and_other_merchants(self):
        self.bank()
        self.pay(2000)
        self.api.post("/v1/payouts", {"amount": 100})
        self.assertEqual([p["status"] for p in self.payouts()], ["pending"])
        self.assertEqual(self.api.get("/v1/payouts?status=paid").json["data"], [])
        r = self.api.get("/v1/payouts?status=lost")
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "status"))
        po = self.payouts()[0]
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        self.assertEqual(api.get(f"/v1/payouts/{po['id']}").status, 404)
        self.assertEqual(api.get(f"/v1/payouts/{po['id']}/transfer_file").status, 404)
        self.assertEqual(api.get("/v1/payouts").json["data"], [])
        api.close()

    def test_replay_equal(self):
        self.bank()
        self.clock_to("2027-03-01T10:00:00")
        self.pay(7000)
        self.clock_to("2027-03-10T07:00:00")
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
