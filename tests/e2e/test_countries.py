"""Country policies end to end (lua/policy/countries*.lua, docs/policies.md
"country.rules"): Portugal's credit-intermediary rule refuses a checkout with
422 naming the rule and nothing written; a merchant that is an intermediary,
ES and IT merchants check out; the accepted ID documents come from the
country; an override directory that supplies an intermediary is honoured."""
import os
import shutil
import tempfile
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli

OVERRIDE = """\
-- 10-pt-intermediary.lua: financed orders in Portugal go through a registered
-- credit intermediary (test value).
local default = caisse.policy.get("country.rules")

caisse.policy.define("country.rules", function(input)
  if input.country == "PT" then
    input.credit_intermediary = { name = "Intermediario Exemplo, Lda", registration = "0042" }
  end
  return default(input)
end)
"""


def setUpModule():
    global srv, api_pt, api_pt_ci, api_es, api_it, api_fr
    srv = Server().start()
    api_pt = srv.client(create_merchant(srv.data, "Loja Lisboa", "PT")["test_secret_key"])
    pt_ci = create_merchant(srv.data, "Loja Porto", "PT", extra=("--credit-intermediary",))
    assert pt_ci["credit_intermediary"] is True, pt_ci
    api_pt_ci = srv.client(pt_ci["test_secret_key"])
    api_es = srv.client(create_merchant(srv.data, "Tienda Sevilla", "ES")["test_secret_key"])
    api_it = srv.client(create_merchant(srv.data, "Negozio Roma", "IT")["test_secret_key"])
    api_fr = srv.client(create_merchant(srv.data, "Boutique Lyon", "FR")["test_secret_key"])


def tearDownModule():
    for c in (api_pt, api_pt_ci, api_es, api_it, api_fr):
        c.close()
    srv.cleanup()
    harness.validate_exchanges()


def head_seq(server=None):
    return harness.head_seq(server or srv)


class Portugal(unittest.TestCase):
    def test_merchant_without_intermediary_refused(self):
        seq = head_seq()
        for plan in ("pay_in_3", "instalments_12"):
            with self.subTest(plan=plan):
                r = api_pt.post("/v1/orders", order_body(plan=plan))
                self.assertEqual(r.status, 422, r)
                err = r.json["error"]
                self.assertEqual(err["code"], "policy_refused")
                self.assertEqual(err["type"], "policy_error")
                self.assertEqual(err["param"], "merchant")
                self.assertTrue(err["message"].startswith("pt_credit_intermediary: "), err["message"])
                self.assertIn("registered credit intermediary", err["message"])
        self.assertEqual(head_seq(), seq, "a refused checkout writes nothing")

    def test_refusal_before_other_checks(self):
        # The country's refusal comes before the plan or the risk decision.
        seq = head_seq()
        r = api_pt.post("/v1/orders", order_body(email="ana+reject@example.com"))
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["error"]["code"], "policy_refused")
        self.assertEqual(head_seq(), seq)

    def test_merchant_that_is_an_intermediary_accepted(self):
        r = api_pt_ci.post("/v1/orders", order_body(plan="instalments_6"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "approved")
        self.assertEqual(r.json["plan"]["product"], "instalments_6")
        r = api_pt_ci.post(f"/v1/orders/{r.json['id']}/confirm", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "confirmed")
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


class OtherCountries(unittest.TestCase):
    def test_es_and_it_checkout(self):
        for name, client in (("ES", api_es), ("IT", api_it)):
            with self.subTest(country=name):
                r = client.post("/v1/orders", order_body())
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.json["status"], "approved")
                self.assertEqual(sum(i["amount"] for i in r.json["plan"]["schedule"]), r.json["amount"])

    def test_passport_refused_for_credit(self):
        # Identity checks accept a passport, a credit application does not.
        for name, client in (("FR", api_fr), ("IT", api_it), ("PT", api_pt_ci)):
            with self.subTest(country=name):
                seq = head_seq()
                b = order_body()
                b["customer"]["id_document"]["type"] = "passport"
                r = client.post("/v1/orders", b)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["error"]["param"], "customer.id_document.type")
                self.assertEqual(r.json["error"]["message"],
                                 "a passport is accepted for identity checks only; a credit application "
                                 "needs a national_id or a residence_permit")
                self.assertEqual(head_seq(), seq)

    def test_unknown_document_type_refused(self):
        seq = head_seq()
        for doc_type in ("driving_licence", "National-ID"):
            with self.subTest(type=doc_type):
                b = order_body()
                b["customer"]["id_document"]["type"] = doc_type
                r = api_es.post("/v1/orders", b)
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["error"]["param"], "customer.id_document.type")
                self.assertIn("national_id", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)

    def test_residence_permit_accepted(self):
        b = order_body()
        b["customer"]["id_document"]["type"] = "residence_permit"
        r = api_it.post("/v1/orders", b)
        self.assertEqual(r.status, 201, r)


class Override(unittest.TestCase):
    def test_override_supplying_an_intermediary_is_honoured(self):
        pdir = tempfile.mkdtemp(prefix="caisse-policy-")
        with open(os.path.join(pdir, "10-pt-intermediary.lua"), "w") as f:
            f.write(OVERRIDE)
        s = Server(args=("--policy-dir", pdir)).start()
        try:
            pt = s.client(create_merchant(s.data, "Loja Faro", "PT")["test_secret_key"])
            fr = s.client(create_merchant(s.data, "Boutique Nice", "FR")["test_secret_key"])
            r = pt.post("/v1/orders", order_body())
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["status"], "approved")
            # the override leaves the other rules in force
            b = order_body()
            b["customer"]["id_document"]["type"] = "passport"
            r = pt.post("/v1/orders", b)
            self.assertEqual(r.status, 400, r)
            r = fr.post("/v1/orders", order_body())
            self.assertEqual(r.status, 201, r)
            pt.close()
            fr.close()
        finally:
            s.cleanup()
            shutil.rmtree(pdir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
