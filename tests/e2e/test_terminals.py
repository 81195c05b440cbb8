"""Payment terminals against the real binary (docs/terminals.md): register,
list, get and rename terminals; card payments taken on a terminal (channel
terminal); each terminal's monthly billing at 01:00 UTC on the 1st: free
from 150 transactions in the month (failed payments do not count), else
25.00 EUR plus the merchant's VAT, taken from the balance as a
`terminal_fee` balance transaction; the ledger balanced and replay equal."""
import unittest

import harness
from harness import MerchantCase, card, create_merchant, pdf_text, run_cli

FREE_FROM = 150   # lua/policy/fees.lua: at least 150 transactions in the month is free


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


def fetch(key, path):
    return harness.fetch_raw(srv, key, path)[:3]


class Terminals(MerchantCase):
    MERCHANT = ("Boulangerie Caisse", "FR")
    server = staticmethod(lambda: srv)

    def terminal(self, serial, name=None):
        body = {"serial_number": serial}
        if name is not None:
            body["name"] = name
        r = self.api.post("/v1/terminals", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def pay_on(self, trm, n, number="4242424242424242", status=201):
        """n payments on terminal trm over the one keep-alive connection."""
        for _ in range(n):
            r = self.api.post("/v1/payments", {"amount": 1250, "currency": "EUR", "channel": "terminal",
                                               "terminal": trm["id"], "card": card(number)}, record=False)
            self.assertEqual(r.status, status, r)
            p = r.json["error"]["payment"] if status == 402 else r.json
            self.assertEqual((p["channel"], p["terminal"], p["status"]),
                             ("terminal", trm["id"], "failed" if status == 402 else "captured"))

    def total(self):
        b = self.api.get("/v1/balance").json
        return sum(x["amount"] for x in b["available"] + b["pending"] if x["currency"] == "EUR")

    def fees_of(self):
        r = self.api.get("/v1/balance_transactions?type=terminal_fee")
        self.assertEqual(r.status, 200, r)
        return r.json["data"]

    def test_create_list_get_rename(self):
        self.clock_to("2029-11-23T10:00:00")
        a = self.terminal("PAX-A920-0001", "Caisse 1")
        self.assertTrue(a["id"].startswith("trm_"))
        self.assertEqual((a["object"], a["livemode"], a["merchant"], a["serial_number"], a["name"], a["status"],
                          a["billing"], a["version"]),
                         ("terminal", False, self.m["id"], "PAX-A920-0001", "Caisse 1", "active", None, 1))
        self.assertEqual(a["next_billing_at"], "2029-12-01T01:00:00.000000Z")
        b = self.terminal("PAX-A920-0002")
        self.assertIsNone(b["name"])
        page = self.api.get("/v1/terminals").json
        self.assertEqual([t["id"] for t in page["data"]], [b["id"], a["id"]], "newest first")
        page = self.api.get("/v1/terminals?limit=1").json
        self.assertEqual(([t["id"] for t in page["data"]], page["has_more"]), ([b["id"]], True))
        page = self.api.get(f"/v1/terminals?starting_after={page['next_cursor']}").json
        self.assertEqual([t["id"] for t in page["data"]], [a["id"]])
        self.assertEqual(self.api.get(f"/v1/terminals/{a['id']}").json, a)
        # rename, with an Idempotency-Key: a retry answers the same, appends nothing
        h = {"Idempotency-Key": "rename-1"}
        r = self.api.post(f"/v1/terminals/{b['id']}", {"name": "Comptoir"}, headers=h)
        self.assertEqual((r.status, r.json["name"], r.json["version"]), (200, "Comptoir", 2), r)
        seq = head_seq()
        again = self.api.post(f"/v1/terminals/{b['id']}", {"name": "Comptoir"}, headers=h)
        self.assertEqual((again.status, again.json), (200, r.json))
        self.assertEqual(head_seq(), seq)
        r = self.api.post(f"/v1/terminals/{b['id']}", {"name": None})
        self.assertEqual((r.status, r.json["name"], r.json["version"]), (200, None, 3), r)
        types = [e["type"] for e in self.api.get("/v1/events?type=terminal.*&limit=100").json["data"]]
        self.assertEqual(sorted(types), ["terminal.created"] * 2 + ["terminal.updated"] * 2)
        ev = self.api.get("/v1/events?type=terminal.created&limit=100").json["data"]
        self.assertEqual({e["data"]["object"]["id"] for e in ev}, {a["id"], b["id"]})
        # a payment on it records the terminal; other channels have none
        self.pay_on(a, 1)
        p = self.api.post("/v1/payments", {"amount": 500, "currency": "EUR", "card": card()}).json
        self.assertEqual((p["channel"], p["terminal"]), ("api", None))

    def test_bad_input_changes_nothing(self):
        self.clock_to("2029-11-23T10:00:00")
        a = self.terminal("ING-MOVE5000-77")
        other = create_merchant(srv.data, "Autre boutique", "FR")
        oapi = srv.client(other["test_secret_key"])
        theirs = oapi.post("/v1/terminals", {"serial_number": "THEIRS-1"}).json
        seq = head_seq()
        for body, status, param in [
            ({}, 400, "serial_number"),
            ({"serial_number": "AB"}, 400, "serial_number"),
            ({"serial_number": "PAX A920"}, 400, "serial_number"),
            ({"serial_number": "PAX_A920"}, 400, "serial_number"),
            ({"serial_number": "X" * 33}, 400, "serial_number"),
            ({"serial_number": 1234}, 400, "serial_number"),
            ({"serial_number": "PAX-9", "name": "n" * 65}, 400, "name"),
            ({"serial_number": "PAX-9", "name": ""}, 400, "name"),
            ({"serial_number": "PAX-9", "colour": "red"}, 400, "colour"),
            ({"serial_number": "ING-MOVE5000-77"}, 409, "serial_number"),
        ]:
            r = self.api.post("/v1/terminals", body)
            self.assertEqual((r.status, r.json["error"]["param"]), (status, param), (body, r))
        pay = {"amount": 1000, "currency": "EUR", "card": card()}
        for extra, status, param in [
            ({"channel": "terminal", "terminal": "trm_01M83A1B2C3D4E5F6G7H8J9K0M"}, 404, "terminal"),
            ({"channel": "terminal", "terminal": theirs["id"]}, 404, "terminal"),
            ({"channel": "terminal", "terminal": "pay_01M83A1B2C3D4E5F6G7H8J9K0M"}, 400, "terminal"),
            ({"channel": "terminal"}, 400, "terminal"),
            ({"channel": "api", "terminal": a["id"]}, 400, "terminal"),
            ({"terminal": a["id"]}, 400, "terminal"),
            ({"channel": "manual", "terminal": a["id"]}, 400, "terminal"),
            ({"channel": "shop"}, 400, "channel"),
        ]:
            r = self.api.post("/v1/payments", {**pay, **extra})
            self.assertEqual((r.status, r.json["error"]["param"]), (status, param), (extra, r))
        for path, body, status, param in [
            (f"/v1/terminals/{theirs['id']}", {"name": "Mine"}, 404, "id"),
            ("/v1/terminals/trm_01M83A1B2C3D4E5F6G7H8J9K0M", {"name": "X"}, 404, "id"),
            ("/v1/terminals/nope", {"name": "X"}, 404, "id"),
            (f"/v1/terminals/{a['id']}", {}, 400, "name"),
            (f"/v1/terminals/{a['id']}", {"name": "x" * 65}, 400, "name"),
            (f"/v1/terminals/{a['id']}", {"name": "ok", "serial_number": "NEW-1"}, 400, "serial_number"),
        ]:
            r = self.api.post(path, body)
            self.assertEqual((r.status, r.json["error"]["param"]), (status, param), (path, body, r))
        self.assertEqual(self.api.get(f"/v1/terminals/{theirs['id']}").status, 404)
        self.assertEqual(self.api.get("/v1/terminals?cursor=bad").json["error"]["param"], "cursor")
        self.assertEqual(self.api.get("/v1/terminals?colour=red").status, 400)
        self.assertEqual(head_seq(), seq, "nothing appended by the bad requests")
        self.assertEqual([t["id"] for t in oapi.get("/v1/terminals").json["data"]], [theirs["id"]])
        oapi.close()
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get(f"/v1/terminals/{a['id']}").status, 404, "test-mode terminals stay in test mode")
        self.assertEqual(live.post("/v1/terminals", {"serial_number": "ING-MOVE5000-77"}).status, 201,
                         "a serial number is unique per mode")
        live.close()

    def test_monthly_billing(self):
        self.clock_to("2029-11-02T09:00:00")
        busy, quiet = self.terminal("BUSY-0001", "Caisse 1"), self.terminal("QUIET-0001", "Caisse 2")
        self.pay_on(busy, FREE_FROM)                              # exactly the threshold: free
        self.pay_on(quiet, 3)
        self.pay_on(quiet, 1, number="4000000000000002", status=402)   # declined: not a transaction
        self.pay_on(busy, 1, number="4000000000000002", status=402)
        self.api.post("/v1/payments", {"amount": 700, "currency": "EUR", "card": card()})   # not on a terminal
        self.clock_to("2029-12-01T00:30:00")
        self.pay_on(quiet, 1)                                     # December's, not November's
        before, seq = self.total(), head_seq()
        self.assertEqual(self.fees_of(), [])
        self.clock_to("2029-12-01T02:00:00")
        b, q = (self.api.get(f"/v1/terminals/{t['id']}").json for t in (busy, quiet))
        self.assertEqual(b["billing"], {"last_month": "2029-11", "last_transactions": FREE_FROM, "last_fee": 0,
                                        "last_vat": 0, "currency": "EUR"})
        self.assertEqual(q["billing"], {"last_month": "2029-11", "last_transactions": 3, "last_fee": 2500,
                                        "last_vat": 500, "currency": "EUR"})
        self.assertEqual((b["next_billing_at"], q["next_billing_at"]), ("2030-01-01T01:00:00.000000Z",) * 2)
        [fee] = self.fees_of()
        self.assertEqual((fee["type"], fee["stream"], fee["source"], fee["amount"], fee["fee"], fee["vat"],
                          fee["net"], fee["available_on"]),
                         ("terminal_fee", "card", quiet["id"], 0, 2500, 500, -3000, "2029-12-01T01:00:00.000000Z"))
        self.assertEqual(self.total(), before - 3000, "the balance paid the fee and its VAT")
        r = self.api.get("/v1/reconciliation?date=2029-12-01")   # the day's movements list the fee
        self.assertEqual(r.status, 200, r)
        items = [i for i in r.json["items"] if i["type"] == "terminal_fee"]
        self.assertEqual([(i["source"], i["net"]) for i in items], [(quiet["id"], -3000)])
        billed = self.api.get("/v1/events?type=terminal.billed&limit=100").json["data"]
        self.assertEqual(len(billed), 2)
        self.assertEqual(head_seq(), seq + 3, "test_clock.advanced, then one terminal.billed per terminal")
        by = {e["aggregate_id"]: e["data"] for e in billed}
        self.assertEqual(by[quiet["id"]]["fee"], {"month": "2029-11", "transactions": 3, "fee": 2500, "vat": 500,
                                                  "currency": "EUR"})
        self.assertEqual(by[busy["id"]]["object"]["billing"]["last_transactions"], FREE_FROM)
        self.assertEqual(by[busy["id"]]["fee"]["fee"], 0)
        # the month after: quiet took 1 (the 00:30 one), busy none: both pay
        self.clock_to("2030-01-01T02:00:00")
        b, q = (self.api.get(f"/v1/terminals/{t['id']}").json for t in (busy, quiet))
        self.assertEqual((b["billing"]["last_month"], b["billing"]["last_transactions"], b["billing"]["last_fee"]),
                         ("2029-12", 0, 2500))
        self.assertEqual((q["billing"]["last_month"], q["billing"]["last_transactions"], q["billing"]["last_fee"]),
                         ("2029-12", 1, 2500))
        self.assertEqual(q["next_billing_at"], "2030-02-01T01:00:00.000000Z")
        fees = self.fees_of()
        self.assertEqual(sorted(f["source"] for f in fees), sorted([quiet["id"], quiet["id"], busy["id"]]))
        self.assertTrue(all(f["net"] == -3000 for f in fees))
        # the fee invoice of the month a fee is charged lists it
        status, ctype, pdf = fetch(self.key, "/v1/reports/fees.pdf?month=2029-12")
        self.assertEqual((status, ctype), (200, "application/pdf"))
        text = pdf_text(pdf)
        self.assertIn("terminal_fee", text)
        self.assertIn(quiet["id"], text)

    def test_replay_equal(self):
        self.clock_to("2029-11-30T10:00:00")
        t = self.terminal("REPLAY-0001")
        self.pay_on(t, 2)
        self.clock_to("2029-12-01T02:00:00")
        self.assertEqual(len(self.fees_of()), 1)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
