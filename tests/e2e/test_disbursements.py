"""Buy-now-pay-later disbursements against the real binary
(docs/disbursements.md): what shipped is disbursed the next business day of
the merchant's country at 06:00 UTC (weekends and public holidays roll
over), less the commission (3.45 % on pay in 3) and its VAT, rounded half
up; a return after a disbursement is recovered from the next one; the
ledger stays balanced and replay rebuilds it all."""
import unittest

import harness
from harness import MerchantCase, create_merchant, half_up, mails, order_body, run_cli

HOUR, DAY = 3600, 86400


def commission(amount, bp=345):
    fee = half_up(amount, bp)
    return fee, half_up(fee, 2000)


setUpModule, tearDownModule = harness.module_server(__name__)


def head_seq():
    return harness.head_seq(srv)


class Disbursements(MerchantCase):
    MERCHANT = ("Literie Rennes", "FR")
    server = staticmethod(lambda: srv)

    def bnpl_total(self):
        r = self.api.get("/v1/balance_transactions?limit=100")
        return sum(t["amount"] for t in r.json["data"] if t["stream"] == "bnpl")

    def test_shipped_on_a_friday_is_disbursed_on_monday(self):
        self.clock_to("2026-11-27T10:00:00")          # a Friday
        o = self.shipped(((12990, 1),))
        self.clock_to("2026-11-29T12:00:00")          # Saturday and Sunday: no disbursement
        self.assertEqual(self.disbursements(), [])
        self.clock_to("2026-11-30T06:30:00")
        [d] = self.disbursements()
        fee, vat = commission(12990)
        self.assertEqual((fee, vat), (448, 90))
        self.assertEqual((d["reference"], d["date"], d["currency"]), ("DSB-20261130-1", "2026-11-30", "EUR"))
        self.assertEqual((d["gross_amount"], d["fees"], d["fees_vat"], d["fees_vat_included"], d["amount"]),
                         (12990, fee, vat, fee + vat, 12990 - fee - vat))
        [line] = d["orders"]
        self.assertEqual((line["order"], line["reference"], line["product"], line["payable"], line["reduction"],
                          line["fee"], line["vat"], line["net"]),
                         (o["id"], o["reference"], "pay_in_3", 12990, 0, fee, vat, 12990 - fee - vat))
        self.assertEqual(self.api.get(f"/v1/disbursements/{d['id']}").json, d)
        [t] = self.api.get("/v1/balance_transactions?type=disbursement").json["data"]
        self.assertEqual((t["stream"], t["source"], t["amount"], t["fee"], t["vat"], t["net"]),
                         ("bnpl", d["id"], -12990, -fee, -vat, -d["amount"]))
        self.assertEqual(self.bnpl_total(), 12990 - 12990, "the bnpl stream is settled")
        # a later day with nothing shipped makes nothing
        self.clock_to("2026-12-02T08:00:00")
        self.assertEqual(len(self.disbursements()), 1)

    def test_shipped_before_a_public_holiday_rolls_to_the_next_business_day(self):
        self.clock_to("2026-12-24T10:00:00")          # Thursday; Friday 25th is Christmas
        self.shipped(((5000, 2),))
        self.clock_to("2026-12-27T23:00:00")
        self.assertEqual(self.disbursements(), [])
        self.clock_to("2026-12-28T06:00:00")          # Monday
        [d] = self.disbursements()
        fee, vat = commission(10000)
        self.assertEqual((d["date"], d["amount"], d["fees"], d["fees_vat"]), ("2026-12-28", 10000 - fee - vat, fee, vat))

    def test_a_return_after_a_disbursement_is_recovered_from_the_next(self):
        self.clock_to("2026-11-30T10:00:00")          # Monday
        a = self.shipped(((3000, 2),))
        self.clock_to("2026-12-01T07:00:00")
        [first] = self.disbursements()
        self.assertEqual(first["gross_amount"], 6000)
        r = self.api.post(f"/v1/orders/{a['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        b = self.shipped(((10000, 1),))
        self.clock_to("2026-12-02T07:00:00")
        second, again = self.disbursements()
        self.assertEqual(again["id"], first["id"], "newest first")
        back_fee, back_vat = commission(3000)
        fee, vat = commission(10000)
        lines = {l["order"]: l for l in second["orders"]}
        self.assertEqual((lines[a["id"]]["reduction"], lines[a["id"]]["fee"], lines[a["id"]]["vat"],
                          lines[a["id"]]["net"]), (3000, -back_fee, -back_vat, -3000 + back_fee + back_vat))
        self.assertEqual((lines[b["id"]]["payable"], lines[b["id"]]["net"]), (10000, 10000 - fee - vat))
        self.assertEqual(second["amount"], 10000 - fee - vat - 3000 + back_fee + back_vat)
        self.assertEqual(second["reference"], "DSB-20261202-2")
        self.assertEqual(self.bnpl_total(), 0)

    def cart(self, order_id, lines):
        r = self.api.post(f"/v1/orders/{order_id}/cart", {"lines": lines, "amount": sum(
            l["unit_price"] * l.get("quantity", 1) * (-1 if l["type"] == "discount" else 1) for l in lines)})
        return r

    @staticmethod
    def lines_of(order):
        keep = ("type", "reference", "name", "unit_price", "quantity", "tax_rate")
        return [{k: l[k] for k in keep if l.get(k) is not None} for l in order["lines"]]

    def test_a_discount_after_disbursement_is_recovered_from_the_next(self):
        self.clock_to("2026-12-07T10:00:00")          # Monday
        a = self.shipped(((6000, 1),))
        self.clock_to("2026-12-08T07:00:00")
        [first] = self.disbursements()
        self.assertEqual(first["gross_amount"], 6000)
        # a commercial gesture on the shipped, disbursed order: a 15.00 discount line
        a = self.api.get(f"/v1/orders/{a['id']}").json
        r = self.cart(a["id"], self.lines_of(a) + [{"type": "discount", "name": "Geste", "unit_price": 1500,
                                                      "quantity": 1}])
        self.assertEqual((r.status, r.json["amount"]), (200, 4500), r)
        [red] = self.api.get(f"/v1/balance_transactions?type=order_reduction&source={a['id']}").json["data"]
        self.assertEqual((red["amount"], red["stream"]), (-1500, "bnpl"))
        b = self.shipped(((9000, 1),))
        self.clock_to("2026-12-09T07:00:00")
        second, _ = self.disbursements()
        lines = {l["order"]: l for l in second["orders"]}
        back_fee, back_vat = commission(1500)
        fee, vat = commission(9000)
        self.assertEqual((lines[a["id"]]["reduction"], lines[a["id"]]["fee"], lines[a["id"]]["net"]),
                         (1500, -back_fee, -1500 + back_fee + back_vat))
        self.assertEqual(second["amount"], 9000 - fee - vat - 1500 + back_fee + back_vat)
        self.assertEqual(self.bnpl_total(), 0)
        # the price of what shipped is a fact: 409 naming lines, nothing recorded
        seq = head_seq()
        cut = self.lines_of(self.api.get(f"/v1/orders/{b['id']}").json)
        cut[0]["unit_price"] = 1000
        r = self.cart(b["id"], cut)
        self.assertEqual((r.status, r.json["error"]["param"]), (409, "lines"), r)
        self.assertIn("discount", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)

    def test_a_cart_cut_to_what_shipped_makes_its_handling_payable(self):
        self.clock_to("2026-12-14T10:00:00")          # Monday
        r = self.api.post("/v1/orders", order_body(((3000, 2), (2000, 1))))
        o = self.api.post(f"/v1/orders/{r.json['id']}/confirm", {}).json
        lines = self.lines_of(o) + [{"type": "handling", "name": "Colissimo", "unit_price": 690, "quantity": 1}]
        r = self.cart(o["id"], lines)
        self.assertEqual(r.status, 200, r)
        r = self.api.post(f"/v1/orders/{o['id']}/shipments", {"lines": [{"reference": "SKU-0", "quantity": 2}]})
        self.assertEqual((r.status, r.json["status"]), (201, "partially_shipped"), r)
        # SKU-1 will never come: the cart is cut down to what left; the order is complete
        r = self.cart(o["id"], [l for l in lines if l.get("reference") != "SKU-1"])
        self.assertEqual((r.status, r.json["status"]), (200, "shipped"), r)
        got = sorted((t["type"], t["amount"]) for t in
                     self.api.get(f"/v1/balance_transactions?source={o['id']}").json["data"])
        self.assertEqual(got, [("order_payable", 690), ("order_payable", 6000)])
        self.clock_to("2026-12-15T07:00:00")
        [d] = self.disbursements()
        fee, vat = commission(6690)
        self.assertEqual((d["gross_amount"], d["amount"]), (6690, 6690 - fee - vat))

    def test_the_merchant_is_told_of_each_disbursement(self):
        self.m = create_merchant(srv.data, "Literie Courriel", "FR", extra=("--email", "compta@literie.example"))
        self.api.close()
        self.api = srv.client(self.m["test_secret_key"])
        self.clock_to("2026-12-01T10:00:00")          # Tuesday
        self.shipped(((4990, 2),))
        self.clock_to("2026-12-02T06:30:00")
        [d] = self.disbursements()
        found = next(iter(mails(srv.data, lambda m: m["Subject"] == "Disbursement " + d["reference"])), None)
        self.assertIsNotNone(found, "the disbursement notice was spooled")
        self.assertEqual(found["To"], "compta@literie.example")
        text = found.get_body().get_content()
        fee, vat = commission(9980)
        self.assertIn(f"pays you {(9980 - fee - vat) // 100}.{(9980 - fee - vat) % 100:02d} EUR for 1 order(s)", text)
        self.assertIn(f"Commissions, VAT included: {(fee + vat) // 100}.{(fee + vat) % 100:02d} EUR", text)
        self.assertIn(d["id"], text)

    def test_bad_parameters_and_other_merchants(self):
        self.clock_to("2026-11-30T10:00:00")
        self.shipped(((4000, 2),))
        self.clock_to("2026-12-01T07:00:00")
        [d] = self.disbursements()
        seq = head_seq()
        for q, param in [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=nope", "cursor"),
                         ("starting_after=po_x", "starting_after"), ("colour=red", "colour")]:
            r = self.api.get("/v1/disbursements?" + q)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), q)
        self.assertEqual(self.api.get("/v1/disbursements/dsb_nope").status, 404)
        self.assertEqual(self.api.get(f"/v1/disbursements?cursor={d['id']}").json["data"], [])
        self.assertEqual(head_seq(), seq, "nothing appended by the bad requests")
        other = create_merchant(srv.data, "Autre", "FR")
        api = srv.client(other["test_secret_key"])
        self.assertEqual(api.get(f"/v1/disbursements/{d['id']}").status, 404)
        self.assertEqual(api.get("/v1/disbursements").json["data"], [])
        api.close()
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get(f"/v1/disbursements/{d['id']}").status, 404)
        live.close()

    def test_replay_equal(self):
        self.clock_to("2026-11-30T10:00:00")
        self.shipped(((2500, 4),))
        self.clock_to("2026-12-01T07:00:00")
        self.assertEqual(len(self.disbursements()), 1)
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
