"""The merchant's bank account (GET and POST /v1/bank_account) and the SEPA
credit-transfer file (`caisse sepa transfer-file`, pain.001.001.03) against
the real binary (docs/bank_account.md).

Set, read, replace; the IBAN shown in full and masked; every bad field a 400
naming it with nothing written (the log's head unchanged); test and live
modes and merchants kept apart; the command line writing a file that an
independent parser (Python's xml.etree) reads back with NbOfTxs equal to the
transfers and CtrlSum to the sum of their amounts, valid against the subset
schema written for these tests (xmllint), and refusing a merchant without
bank details; replay rebuilds it all."""
import decimal
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import harness
from harness import create_merchant, run_cli

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
XSD = os.path.join(harness.HERE, "sepa", "pain.001.001.03-subset.xsd")

FR_IBAN = "FR7630006000011234567890189"
FR_BIC = "AGRIFRPP"
DE_IBAN = "DE89370400440532013000"
DE_BIC = "COBADEFFXXX"
ES_IBAN = "ES9121000418450200051332"


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class BankCase(unittest.TestCase):
    def setUp(self):
        # a merchant per test: each has its own accounts
        self.m = create_merchant(srv.data, "Boulangerie", "FR")
        self.api = srv.client(self.m["test_secret_key"])
        self.live = srv.client(self.m["live_secret_key"])
        self.tmp = tempfile.mkdtemp(prefix="caisse-sepa-")

    def tearDown(self):
        self.api.close()
        self.live.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def set_account(self, body, api=None, status=200, headers=None):
        r = (api or self.api).post("/v1/bank_account", body, headers=headers)
        self.assertEqual(r.status, status, r)
        return r.json

    def account(self, iban=FR_IBAN, bic=FR_BIC, name="Boulangerie du Port"):
        return {"iban": iban, "bic": bic, "account_holder_name": name}

    def events(self, api=None):
        mode = "l" if api is self.live else "t"
        r = (api or self.api).get(f"/v1/events?object_id=bka_{self.m['id']}_{mode}")
        self.assertEqual(r.status, 200, r)
        return r.json["data"]


class Account(BankCase):
    def test_none_before_the_first_set(self):
        before = head_seq()
        r = self.api.get("/v1/bank_account")
        self.assertEqual(r.status, 404, r)
        e = r.json["error"]
        self.assertEqual((e["type"], e["code"]), ("invalid_request_error", "resource_missing"))
        self.assertIn("no bank account yet in test mode", e["message"])
        self.assertIn("POST /v1/bank_account", e["message"])
        self.assertEqual(self.live.get("/v1/bank_account").status, 404)
        self.assertEqual(head_seq(), before, "reading writes nothing")
        r = self.api.get("/v1/bank_account?expand=iban")
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "expand"))

    def test_set_read_replace(self):
        a = self.set_account({"iban": "fr76 3000 6000 0112 3456 7890 189", "bic": " agri fr pp ",
                              "account_holder_name": "  Café   Dupont & Fils "})
        mid = self.m["id"]
        self.assertEqual(a, {
            "id": f"bka_{mid}_t", "object": "bank_account", "livemode": False, "merchant": mid,
            "account_holder_name": "Café Dupont & Fils",
            "iban": FR_IBAN, "iban_last4": "0189", "iban_masked": "FR76 **** **** **** **** ***0 189",
            "country": "FR", "bic": "AGRIFRPP", "version": 1,
            "created": a["created"], "updated": a["created"]})
        self.assertEqual(self.api.get("/v1/bank_account").json, a)
        evs = self.events()
        self.assertEqual([e["type"] for e in evs], ["bank_account.updated"])
        self.assertEqual(evs[0]["data"], {"object": a, "previous_attributes": None})
        self.assertEqual((evs[0]["aggregate_id"], evs[0]["aggregate_version"]), (a["id"], 1))

        # replaced as a whole: a German account
        b = self.set_account(self.account(DE_IBAN, DE_BIC, "Café Dupont & Fils"))
        self.assertEqual((b["version"], b["created"], b["iban"], b["country"], b["bic"]),
                         (2, a["created"], DE_IBAN, "DE", DE_BIC))
        self.assertEqual((b["iban_last4"], b["iban_masked"]), ("3000", "DE89 **** **** **** **30 00"))
        self.assertGreater(b["updated"], a["updated"])
        evs = self.events()
        self.assertEqual([e["type"] for e in evs], ["bank_account.updated"] * 2)
        self.assertEqual([e["aggregate_version"] for e in evs], [1, 2], "in the log's order")
        newest = evs[1]
        self.assertEqual(newest["data"]["object"], b)
        self.assertEqual(newest["data"]["previous_attributes"], {
            "iban": FR_IBAN, "iban_last4": "0189", "iban_masked": "FR76 **** **** **** **** ***0 189",
            "country": "FR", "bic": "AGRIFRPP"})

        # only the name
        c = self.set_account(self.account(DE_IBAN, DE_BIC, "Dupont et Fils SARL"))
        self.assertEqual(c["version"], 3)
        self.assertEqual(self.events()[-1]["data"]["previous_attributes"], {"account_holder_name": "Café Dupont & Fils"})

        # the same values again: nothing recorded, the account as it is
        before = head_seq()
        same = self.set_account({"iban": "de89 3704 0044 0532 0130 00", "bic": "cobadeffxxx",
                                  "account_holder_name": " Dupont  et Fils SARL"})
        self.assertEqual(same, c)
        self.assertEqual(head_seq(), before)
        self.assertEqual(len(self.events()), 3)

    def test_event_type_is_a_webhook_type(self):
        for filters in (["bank_account.updated"], ["bank_account.*"]):
            r = self.api.post("/v1/webhook_endpoints", {"url": "https://example.com/hooks", "enabled_events": filters})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(self.api.request("DELETE", f"/v1/webhook_endpoints/{r.json['id']}").status, 200)
        r = self.api.post("/v1/webhook_endpoints", {"url": "https://example.com/hooks",
                                                    "enabled_events": ["bank_account.created"]})
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "enabled_events[0]"), r)

    def test_idempotency_key(self):
        h = {"Idempotency-Key": "bank-1"}
        first = self.set_account(self.account(), headers=h)
        before = head_seq()
        again = self.api.post("/v1/bank_account", self.account(), headers=h)
        self.assertEqual((again.status, again.json), (200, first))
        self.assertEqual(head_seq(), before)
        other = self.api.post("/v1/bank_account", self.account(ES_IBAN, "CAIXESBB"), headers=h)
        self.assertEqual((other.status, other.json["error"]["code"]), (409, "idempotency_key_reused"))
        self.assertEqual(head_seq(), before)
        self.assertEqual(self.api.get("/v1/bank_account").json, first)

    def test_every_bad_field_is_a_400_naming_it(self):
        good = self.set_account(self.account())
        ok = self.account(ES_IBAN, "CAIXESBB", "Peña")
        cases = [
            ({}, "iban", "parameter_missing"),
            ({k: v for k, v in ok.items() if k != "iban"}, "iban", "parameter_missing"),
            ({k: v for k, v in ok.items() if k != "bic"}, "bic", "parameter_missing"),
            ({k: v for k, v in ok.items() if k != "account_holder_name"}, "account_holder_name", "parameter_missing"),
            (dict(ok, currency="EUR"), "currency", "parameter_unknown"),
            (dict(ok, iban=7630006000), "iban", "parameter_invalid"),
            (dict(ok, iban=""), "iban", "parameter_invalid"),
            (dict(ok, iban="ES9121000418450200051333"), "iban", "parameter_invalid"),     # mod 97
            (dict(ok, iban="ES912100041845020005133"), "iban", "parameter_invalid"),      # a digit lost
            (dict(ok, iban="TR330006100519786457841326"), "iban", "parameter_invalid"),   # not SEPA
            (dict(ok, iban="ES91-2100-0418-4502-0005-1332"), "iban", "parameter_invalid"),
            (dict(ok, iban="ES99" + ES_IBAN[4:]), "iban", "parameter_invalid"),
            (dict(ok, iban="0" * 100), "iban", "parameter_invalid"),
            (dict(ok, bic="CAIXESB"), "bic", "parameter_invalid"),
            (dict(ok, bic="CAIXES1B"), "bic", "parameter_invalid"),
            (dict(ok, bic="CAIXESBBXAB"), "bic", "parameter_invalid"),
            (dict(ok, bic=None), "bic", "parameter_missing"),
            (dict(ok, bic="BNPAFRPP"), "bic", "parameter_invalid"),                       # a French bank
            (dict(ok, account_holder_name=""), "account_holder_name", "parameter_invalid"),
            (dict(ok, account_holder_name="   "), "account_holder_name", "parameter_invalid"),
            (dict(ok, account_holder_name="東京商店"), "account_holder_name", "parameter_invalid"),
            (dict(ok, account_holder_name="a\tb"), "account_holder_name", "parameter_invalid"),
            (dict(ok, account_holder_name="n" * 71), "account_holder_name", "parameter_invalid"),
            (dict(ok, account_holder_name=["Peña"]), "account_holder_name", "parameter_invalid"),
        ]
        before = head_seq()
        for body, param, code in cases:
            with self.subTest(body=body):
                r = self.api.post("/v1/bank_account", body)
                self.assertEqual(r.status, 400, r)
                self.assertEqual((r.json["error"]["param"], r.json["error"]["code"]), (param, code), r)
        messages = {
            "ES9121000418450200051333": "check digits do not match",
            "ES912100041845020005133": "an IBAN of Spain has 24 characters, this one has 23",
            "TR330006100519786457841326": "not a country of the SEPA zone",
        }
        for iban, words in messages.items():
            self.assertIn(words, self.api.post("/v1/bank_account", dict(ok, iban=iban)).json["error"]["message"])
        self.assertIn("is of a bank in FR but the IBAN is of ES",
                      self.api.post("/v1/bank_account", dict(ok, bic="BNPAFRPP")).json["error"]["message"])
        r = self.api.post("/v1/bank_account", raw="{\"iban\": ", headers={"Content-Type": "application/json"})
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "json_invalid"))
        # a test BIC is fine in test mode, not in live mode
        r = self.live.post("/v1/bank_account", self.account(FR_IBAN, "CAISFRP0"))
        self.assertEqual((r.status, r.json["error"]["param"]), (400, "bic"), r)
        self.assertIn("test BIC", r.json["error"]["message"])
        self.assertEqual(head_seq(), before, "nothing written by any refusal")
        self.assertEqual(self.api.get("/v1/bank_account").json, good)
        self.assertEqual(self.live.get("/v1/bank_account").status, 404)
        self.assertEqual(self.set_account(self.account(FR_IBAN, "CAISFRP0"))["bic"], "CAISFRP0")

    def test_modes_and_merchants_apart(self):
        t = self.set_account(self.account())
        other = create_merchant(srv.data, "Autre", "ES")
        oapi = srv.client(other["test_secret_key"])
        try:
            self.assertEqual(oapi.get("/v1/bank_account").status, 404)
            self.assertEqual(self.live.get("/v1/bank_account").status, 404)
            live = self.set_account(self.account(DE_IBAN, DE_BIC, "Live GmbH"), api=self.live)
            self.assertEqual((live["id"], live["livemode"], live["version"]), (f"bka_{self.m['id']}_l", True, 1))
            o = self.set_account(self.account(ES_IBAN, "CAIXESBB", "Otro"), api=oapi)
            self.assertEqual(o["merchant"], other["id"])
            self.assertEqual(self.api.get("/v1/bank_account").json, t)
            self.assertEqual(self.live.get("/v1/bank_account").json, live)
            self.assertEqual(oapi.get("/v1/bank_account").json, o)
            self.assertEqual([e["livemode"] for e in self.events(self.live)], [True])
            # the test key never reaches the live account's events, nor another merchant's
            self.assertEqual(self.api.get(f"/v1/events?object_id=bka_{self.m['id']}_l").json["data"], [])
            self.assertEqual(self.api.get(f"/v1/events?object_id=bka_{other['id']}_t").json["data"], [])
        finally:
            oapi.close()


def amount_of(text):
    return decimal.Decimal(text)


class TransferFile(BankCase):
    def cli(self, *args, check=False):
        return run_cli("sepa", "transfer-file", *args, data=srv.data, check=check)

    def read(self, path):
        tree = ET.parse(path)   # raises on a file that is not well-formed
        return tree.getroot()

    def check_file(self, root):
        """The sums and counts that XSD cannot express."""
        self.assertEqual(root.tag, "{%s}Document" % NS["p"])
        txs = root.findall("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf", NS)
        amounts = [amount_of(a.text) for a in root.findall(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)]
        for a in root.findall(".//p:InstdAmt", NS):
            self.assertEqual(a.get("Ccy"), "EUR")
            self.assertRegex(a.text, r"^\d+\.\d\d$")
        self.assertEqual(len(amounts), len(txs))
        for where in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
            self.assertEqual(int(root.find(f"{where}/p:NbOfTxs", NS).text), len(txs))
            self.assertEqual(amount_of(root.find(f"{where}/p:CtrlSum", NS).text), sum(amounts))
        return txs, sum(amounts)

    def schema_check(self, path):
        p = subprocess.run(["xmllint", "--noout", "--schema", XSD, path], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_file_for_the_merchant_account(self):
        self.set_account(self.account(FR_IBAN, FR_BIC, "Café Dupont & Fils"))
        out = os.path.join(self.tmp, "pain.xml")
        p = self.cli("--merchant", self.m["id"], "--amount", "12345", "--remittance", "Versement – août",
                     "--reference", "PO-TEST-1", "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = json.loads(p.stdout)
        self.assertEqual((summary["file"], summary["number_of_transactions"], summary["control_sum"],
                          summary["currency"], summary["end_to_end_id"], summary["creditor_iban"]),
                         (out, 1, 12345, "EUR", "PO-TEST-1", "FR76 **** **** **** **** ***0 189"))
        root = self.read(out)
        txs, total = self.check_file(root)
        self.assertEqual((len(txs), total), (1, decimal.Decimal("123.45")))
        tx = txs[0]
        self.assertEqual(tx.find("p:CdtrAcct/p:Id/p:IBAN", NS).text, FR_IBAN)
        self.assertEqual(tx.find("p:CdtrAgt/p:FinInstnId/p:BIC", NS).text, FR_BIC)
        self.assertEqual(tx.find("p:Cdtr/p:Nm", NS).text, "Cafe Dupont + Fils")
        self.assertEqual(tx.find("p:PmtId/p:EndToEndId", NS).text, "PO-TEST-1")
        self.assertEqual(tx.find("p:RmtInf/p:Ustrd", NS).text, "Versement - aout")
        g = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
        self.assertEqual(g.find("p:MsgId", NS).text, summary["message_id"])
        self.assertRegex(g.find("p:CreDtTm", NS).text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        pi = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
        self.assertEqual([pi.find(f"p:{k}", NS).text for k in ("PmtMtd", "BtchBookg", "ChrgBr", "ReqdExctnDt")],
                         ["TRF", "true", "SLEV", summary["execution_date"]])
        self.assertEqual(pi.find("p:PmtTpInf/p:SvcLvl/p:Cd", NS).text, "SEPA")
        # test mode's documented debtor
        self.assertEqual((pi.find("p:Dbtr/p:Nm", NS).text, pi.find("p:DbtrAcct/p:Id/p:IBAN", NS).text,
                          pi.find("p:DbtrAgt/p:FinInstnId/p:BIC", NS).text),
                         ("caisse test debtor", "FR7699999000010000000000115", "CAISFRP0"))
        self.schema_check(out)

    def test_file_on_stdout_with_a_debtor_and_live_mode(self):
        self.set_account(self.account(DE_IBAN, DE_BIC, "Müller GmbH"), api=self.live)
        p = self.cli("--merchant", self.m["id"], "--live", "--amount", "99999999999", "--execution-date", "2099-01-02",
                     "--debtor-name", "Plateforme SAS", "--debtor-iban", "fr14 2004 1010 0505 0001 3m02 606",
                     "--debtor-bic", "psstfrppxxx")
        self.assertEqual(p.returncode, 0, p.stderr)
        path = os.path.join(self.tmp, "stdout.xml")
        with open(path, "w") as f:
            f.write(p.stdout)
        root = self.read(path)
        txs, total = self.check_file(root)
        self.assertEqual(total, decimal.Decimal("999999999.99"))
        pi = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
        self.assertEqual((pi.find("p:Dbtr/p:Nm", NS).text, pi.find("p:DbtrAcct/p:Id/p:IBAN", NS).text,
                          pi.find("p:DbtrAgt/p:FinInstnId/p:BIC", NS).text, pi.find("p:ReqdExctnDt", NS).text),
                         ("Plateforme SAS", "FR1420041010050500013M02606", "PSSTFRPPXXX", "2099-01-02"))
        self.assertEqual(txs[0].find("p:Cdtr/p:Nm", NS).text, "Muller GmbH")
        self.assertEqual(txs[0].find("p:CdtrAcct/p:Id/p:IBAN", NS).text, DE_IBAN)
        self.schema_check(path)

    def test_refused_without_bank_details(self):
        before = head_seq()
        out = os.path.join(self.tmp, "none.xml")
        p = self.cli("--merchant", self.m["id"], "--amount", "500", "--out", out)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(f"merchant {self.m['id']} has no bank account in test mode", p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1, "one line on stderr")
        self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(out))
        # a live account is not the test one, and the reverse
        self.set_account(self.account(), api=self.live)
        self.assertEqual(self.cli("--merchant", self.m["id"], "--out", out).returncode, 1)
        self.set_account(self.account())
        p = self.cli("--merchant", self.m["id"], "--live", "--debtor-name", "P", "--debtor-iban", DE_IBAN,
                     "--debtor-bic", DE_BIC, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse([f for f in os.listdir(self.tmp) if ".tmp." in f], "no temporary file left")
        self.assertEqual(head_seq(), before + 2, "the command records nothing: only the two accounts set")

    def test_bad_options(self):
        self.set_account(self.account())
        mid = self.m["id"]
        out = os.path.join(self.tmp, "bad.xml")
        cases = [
            ((), 2, "--merchant must be a merchant id"),
            (("--merchant", "mer_nope"), 2, "--merchant must be a merchant id"),
            (("--merchant", "mer_01M834885QTQ25T05FQDY3GPQN"), 1, "no such merchant"),
            (("--merchant", mid, "--amount", "0"), 2, "--amount must be minor units"),
            (("--merchant", mid, "--amount", "100000000000"), 2, "--amount must be minor units"),
            (("--merchant", mid, "--amount", "12.50"), 2, "--amount must be minor units"),
            (("--merchant", mid, "--live"), 2, "--live needs the debtor account"),
            (("--merchant", mid, "--live", "--debtor-name", "P", "--debtor-iban", DE_IBAN, "--debtor-bic", "CAISFRP0"),
             2, "test BIC"),
            (("--merchant", mid, "--debtor-iban", "FR7699999000010000000000116"), 2, "check digits do not match"),
            (("--merchant", mid, "--debtor-bic", "CAIS"), 2, "8 or 11 characters"),
            (("--merchant", mid, "--execution-date", "2020-01-01"), 2, "is before the file's day"),
            (("--merchant", mid, "--execution-date", "2026-02-30"), 2, "execution_date must be a date"),
            (("--merchant", mid, "--reference", "po_1"), 2, "--reference"),
            (("--merchant", mid, "--remittance", "東京"), 2, "--remittance"),
            (("--merchant", mid, "--debtor-name", "東京"), 2, "the debtor account"),
            (("--merchant", mid, "--colour", "blue"), 2, "unknown option --colour"),
            (("--merchant", mid, "--amount", "1", "--amount", "2"), 2, "--amount is given twice"),
            (("--merchant", mid, "--amount"), 2, "--amount needs a value"),
        ]
        for args, code, words in cases:
            with self.subTest(args=args):
                p = self.cli("--out", out, *args)
                self.assertEqual(p.returncode, code, p)
                self.assertIn(words, p.stderr)
                self.assertFalse(os.path.exists(out))
        p = run_cli("sepa", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: caisse sepa transfer-file", p.stderr)


class ZReplay(unittest.TestCase):
    """Last (unittest runs classes in name order): replay rebuilds the bank
    accounts from the log."""

    def test_replay_and_audit(self):
        self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
