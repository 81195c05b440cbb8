"""The buy-now-pay-later stream of the ledger against the real binary
(docs/disbursements.md, docs/ledger.md): a shipment makes its amount payable
by the financier (`order_payable`, stream `bnpl`), a return of shipped goods
takes it back (`order_reduction`); neither moves the card balance
(GET /v1/balance) nor appears in payout lines; the postings of every merchant
still sum to zero (`caisse audit ledger`); replay rebuilds it all."""
import unittest

import harness
from harness import MerchantCase, create_merchant, order_body, run_cli


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class BnplLedger(MerchantCase):
    MERCHANT = ("Meubles Nantes", "FR")
    server = staticmethod(lambda: srv)

    def confirmed(self, lines=((10000, 3), (2500, 2))):
        r = self.api.post("/v1/orders", order_body(lines))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "approved", r.json)
        r = self.api.post(f"/v1/orders/{r.json['id']}/confirm", {})
        self.assertEqual(r.status, 200, r)
        return r.json

    def bnpl(self, **q):
        qs = "&".join(f"{k}={v}" for k, v in q.items())
        r = self.api.get("/v1/balance_transactions" + ("?" + qs if qs else ""))
        self.assertEqual(r.status, 200, r)
        for t in r.json["data"]:
            self.assertIn(t["stream"], ("card", "bnpl"))
            self.assertEqual(t["stream"] == "bnpl", t["type"] in ("order_payable", "order_reduction", "disbursement"), t)
        return [t for t in r.json["data"] if t["stream"] == "bnpl" and t["type"] != "disbursement"]

    def balance(self):
        r = self.api.get("/v1/balance")
        self.assertEqual(r.status, 200, r)
        # a currency only the bnpl stream touched is listed with 0 (docs/disbursements.md)
        return tuple({x["currency"]: x["amount"] for x in r.json[k]}.get("EUR", 0) for k in ("available", "pending"))

    def test_shipments_become_payable_and_returns_reduce_them(self):
        o = self.confirmed()
        self.assertEqual(self.bnpl(), [], "nothing payable before a shipment")
        before = self.balance()
        r = self.api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 2}]})
        self.assertIn(r.status, (200, 201), r)
        first = self.bnpl()
        self.assertEqual(len(first), 1, first)
        t = first[0]
        self.assertEqual((t["type"], t["source"], t["currency"], t["amount"], t["fee"], t["vat"], t["net"]),
                         ("order_payable", o["id"], "EUR", 20000, 0, 0, 20000))
        self.assertEqual(self.balance(), before, "the card balance does not move")
        # the rest ships: the remaining products
        r = self.api.post(f"/v1/orders/{o['id']}/shipments", {})
        self.assertEqual(r.json["status"], "shipped", r)
        payable = [t["amount"] for t in self.bnpl(type="order_payable")]
        self.assertEqual(payable, [15000, 20000], "newest first")
        self.assertEqual(sum(payable), o["amount"], "everything shipped is payable")
        # a partial return of shipped goods
        r = self.api.post(f"/v1/orders/{o['id']}/returns", {"lines": [{"reference": "SKU-1", "quantity": 1}]})
        self.assertIn(r.status, (200, 201), r)
        red = self.bnpl(type="order_reduction")
        self.assertEqual([(t["amount"], t["net"], t["source"]) for t in red], [(-2500, -2500, o["id"])])
        self.assertEqual(len(self.bnpl(source=o["id"])), 3, "filtered by the order")
        self.assertEqual(self.balance(), before, "still no card balance movement")

    def test_a_bad_type_is_refused_and_other_merchants_see_nothing(self):
        o = self.confirmed(((3000, 2),))
        self.api.post(f"/v1/orders/{o['id']}/shipments", {})
        self.assertEqual(len(self.bnpl(type="order_payable")), 1)
        seq = head_seq()
        for q, param in [("type=order", "type"), ("type=bnpl", "type"), ("source=x", "source")]:
            r = self.api.get("/v1/balance_transactions?" + q)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), q)
        self.assertEqual(head_seq(), seq, "reads append nothing")
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        self.assertEqual(api.get(f"/v1/balance_transactions?source={o['id']}").json["data"], [])
        api.close()
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get("/v1/balance_transactions?type=order_payable").json["data"], [])
        live.close()

    def test_replay_rebuilds_the_bnpl_stream(self):
        o = self.confirmed(((3000, 2),))
        self.api.post(f"/v1/orders/{o['id']}/shipments", {})
        self.api.post(f"/v1/orders/{o['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual([t["amount"] for t in self.bnpl()], [-3000, 6000])
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
