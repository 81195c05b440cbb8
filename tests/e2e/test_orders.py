"""Orders end to end: checkout, risk outcomes, confirm, lists, events,
idempotency, tenancy, and every kind of bad input (a clear 4xx naming the
field, and the log unchanged)."""
import json
import threading
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli


def setUpModule():
    global srv, m, m2, api, api_live, api_other
    srv = Server().start()
    m = create_merchant(srv.data, "Boutique Paris", "FR")
    m2 = create_merchant(srv.data, "Tienda Madrid", "ES")
    api = srv.client(m["test_secret_key"])
    api_live = srv.client(m["live_secret_key"])
    api_other = srv.client(m2["test_secret_key"])


def tearDownModule():
    for c in (api, api_live, api_other):
        c.close()
    srv.cleanup()
    harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


class Checkout(unittest.TestCase):
    def test_pay_in_3_approved_then_confirmed(self):
        body = order_body(((10000, 2), (5000, 1)), plan="pay_in_3")
        body["lines"].append({"type": "handling", "name": "Shipping", "unit_price": 590, "quantity": 1, "tax_rate": 2000})
        body["lines"].append({"type": "discount", "name": "Promo", "unit_price": 1000, "quantity": 1})
        body["amount"] = 20000 + 5000 + 590 - 1000
        r = api.post("/v1/orders", body)
        self.assertEqual(r.status, 201, r)
        o = r.json
        self.assertTrue(o["id"].startswith("ord_"))
        self.assertEqual(o["status"], "approved")
        self.assertEqual(o["risk_decision"], "approved")
        self.assertEqual(o["amount"], 24590)
        self.assertEqual(o["version"], 2)
        self.assertEqual([l["amount"] for l in o["lines"]], [20000, 5000, 590, -1000])
        plan = o["plan"]
        self.assertEqual(plan["product"], "pay_in_3")
        self.assertEqual(plan["instalments"], 3)
        self.assertEqual(len(plan["schedule"]), 3)
        self.assertEqual(sum(i["amount"] for i in plan["schedule"]), 24590)
        self.assertEqual(plan["total"], 24590 + plan["total_fees"])
        # the shipping address defaults to the billing one
        self.assertEqual(o["customer"]["shipping_address"], o["customer"]["billing_address"])

        # not in the default list until confirmed
        ids = [x["id"] for x in api.get("/v1/orders?limit=100").json["data"]]
        self.assertNotIn(o["id"], ids)

        r = api.post(f"/v1/orders/{o['id']}/confirm", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "confirmed")
        self.assertIsNotNone(r.json["confirmed_at"])
        self.assertEqual(r.json["version"], 3)
        g = api.get(f"/v1/orders/{o['id']}")
        self.assertEqual(g.status, 200)
        self.assertEqual(g.json, r.json)
        ids = [x["id"] for x in api.get("/v1/orders?limit=100").json["data"]]
        self.assertIn(o["id"], ids)

        # confirming twice is a state conflict, and changes nothing
        seq = head_seq()
        r = api.post(f"/v1/orders/{o['id']}/confirm", {})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["error"]["code"], "state_invalid")
        self.assertEqual(head_seq(), seq)

    def test_instalments_12_has_fees(self):
        r = api.post("/v1/orders", order_body(((120000, 1),), plan="instalments_12"))
        self.assertEqual(r.status, 201, r)
        plan = r.json["plan"]
        self.assertEqual(plan["instalments"], 12)
        self.assertGreater(plan["fee_per_instalment"], 0)
        self.assertEqual(plan["total_fees"], 12 * plan["fee_per_instalment"])
        self.assertEqual(sum(i["fee"] for i in plan["schedule"]), plan["total_fees"])
        self.assertEqual(sum(i["amount"] for i in plan["schedule"]), 120000)
        dates = [i["due_date"] for i in plan["schedule"]]
        self.assertEqual(dates, sorted(dates))

    def test_magic_customers_force_each_outcome(self):
        r = api.post("/v1/orders", order_body(email="camille+reject@example.com"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "rejected")
        self.assertEqual(r.json["risk_decision"], "rejected")
        rejected = r.json["id"]
        # no reason is stored anywhere: not in the order, not in the events
        ev = api.get(f"/v1/events?object_id={rejected}").json["data"]
        self.assertEqual([e["type"] for e in ev], ["order.created", "order.rejected"])
        self.assertEqual(ev[1]["data"], {"risk_decision": "rejected"})
        self.assertNotIn("reason", json.dumps(ev))
        r2 = api.post(f"/v1/orders/{rejected}/confirm", {})
        self.assertEqual(r2.status, 409, r2)

        r = api.post("/v1/orders", order_body(email="camille+review@example.com"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "pending")
        self.assertEqual(r.json["risk_decision"], "review")
        ev = api.get(f"/v1/events?object_id={r.json['id']}").json["data"]
        self.assertEqual([e["type"] for e in ev], ["order.created", "order.review_requested"])

    def test_minor_is_rejected(self):
        body = order_body()
        body["customer"]["birth_date"] = "2015-01-01"
        r = api.post("/v1/orders", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["status"], "rejected")

    def test_plan_not_offered_for_amount(self):
        seq = head_seq()
        r = api.post("/v1/orders", order_body(((100, 1),), plan="pay_in_3"))
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["error"]["param"], "plan")
        self.assertEqual(head_seq(), seq)


class Lists(unittest.TestCase):
    def test_pagination_filters_and_order(self):
        c = srv.client(create_merchant(srv.data, "Lister", "FR")["test_secret_key"])
        made = []
        for i in range(7):
            o = c.post("/v1/orders", order_body(shop="a" if i % 2 else "b")).json
            self.assertEqual(c.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
            made.append(o["id"])
        pending = c.post("/v1/orders", order_body()).json["id"]  # approved, never confirmed
        seen, cursor = [], None
        while True:
            r = c.get("/v1/orders?limit=3" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(r.status, 200, r)
            seen += [x["id"] for x in r.json["data"]]
            self.assertLessEqual(len(r.json["data"]), 3)
            if not r.json["has_more"]:
                self.assertIsNone(r.json["next_cursor"])
                break
            cursor = r.json["next_cursor"]
        self.assertEqual(seen, list(reversed(made)), "newest first, every confirmed order once")
        self.assertNotIn(pending, seen)
        a = [x["id"] for x in c.get("/v1/orders?shop=a&limit=100").json["data"]]
        self.assertEqual(sorted(a), sorted(made[1::2]))
        allof = [x["id"] for x in c.get("/v1/orders?status=all&limit=100").json["data"]]
        self.assertIn(pending, allof)
        approved = [x["id"] for x in c.get("/v1/orders?status=approved").json["data"]]
        self.assertEqual(approved, [pending])
        none = c.get("/v1/orders?created[gte]=4102444800").json["data"]  # 2100-01-01
        self.assertEqual(none, [])
        some = c.get("/v1/orders?created[gte]=0&created[lte]=4102444800&limit=100").json["data"]
        self.assertEqual(len(some), 7)
        c.close()

    def test_search_and_csv_export(self):
        import csv, io
        c = srv.client(create_merchant(srv.data, "Exporter", "FR")["test_secret_key"])
        refs = []
        for i, name in enumerate(["Zoé, \"la\" Grande", "=cmd()", "Plain"]):
            b = order_body(reference=f"EXP-{i}")
            b["customer"]["last_name"] = name
            o = c.post("/v1/orders", b).json
            c.post(f"/v1/orders/{o['id']}/confirm", {})
            refs.append(o["id"])
        one = c.get("/v1/orders?reference=EXP-1").json["data"]
        self.assertEqual([x["id"] for x in one], [refs[1]])
        cust = one[0]["customer_id"]
        self.assertEqual(sorted(x["id"] for x in c.get(f"/v1/orders?customer={cust}").json["data"]), sorted(refs),
                         "one shopper: every order under one customer")
        r = c.get("/v1/orders/export?reference=EXP-0")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(r.body)))
        self.assertEqual([x["id"] for x in rows], [refs[0]])
        self.assertEqual(rows[0]["last_name"], 'Zoé, "la" Grande', "quoted per RFC 4180")
        self.assertEqual(rows[0]["amount"], "30000")
        rows = list(csv.DictReader(io.StringIO(c.get("/v1/orders/export").body)))
        self.assertEqual(sorted(x["id"] for x in rows), sorted(refs))
        self.assertEqual([x["last_name"] for x in rows if x["id"] == refs[1]], ["'=cmd()"], "no formula injection")
        for q, param in [("customer=bob", "customer"), ("status=x", "status"), ("limit=5", "limit")]:
            r = c.get("/v1/orders/export?" + q)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), q)
        c.close()

    def test_bad_list_params(self):
        for q, param in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                         ("status=refunded", "status"), ("cursor=nope", "cursor"),
                         ("created[gte]=yesterday", "created[gte]"), ("colour=red", "colour")]:
            r = api.get("/v1/orders?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["error"]["param"], param, q)


class Events(unittest.TestCase):
    def test_own_events_in_order_with_filters(self):
        c = srv.client(create_merchant(srv.data, "Evented", "FR")["test_secret_key"])
        o = c.post("/v1/orders", order_body()).json
        c.post(f"/v1/orders/{o['id']}/confirm", {})
        evs = c.get("/v1/events?limit=100").json["data"]
        types = [e["type"] for e in evs]
        self.assertEqual(types, ["merchant.created", "order.created", "order.approved", "customer.created",
                                 "order.confirmed"])
        seqs = [e["seq"] for e in evs]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(evs[1]["data"]["order"]["id"], o["id"])
        self.assertTrue(all(e["merchant"] == evs[0]["merchant"] and e["livemode"] is False for e in evs))
        self.assertEqual([e["type"] for e in c.get("/v1/events?type=order.confirmed").json["data"]], ["order.confirmed"])
        self.assertEqual(len(c.get("/v1/events?type=order.*").json["data"]), 3)
        p1 = c.get("/v1/events?limit=3").json
        self.assertTrue(p1["has_more"])
        p2 = c.get(f"/v1/events?limit=3&cursor={p1['next_cursor']}").json
        self.assertEqual([e["type"] for e in p2["data"]], ["customer.created", "order.confirmed"])
        self.assertFalse(p2["has_more"])
        # another merchant's object: nothing of it shows
        self.assertEqual(api_other.get(f"/v1/events?object_id={o['id']}").json["data"], [])
        for q, param in [("type=Order", "type"), ("limit=1000", "limit"), ("cursor=-1", "cursor"), ("x=1", "x")]:
            r = c.get("/v1/events?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["error"]["param"], param)
        c.close()


class Idempotency(unittest.TestCase):
    def test_retry_returns_stored_response_and_other_body_conflicts(self):
        body = order_body()
        h = {"Idempotency-Key": "idem-" + str(harness.rng.randrange(10**12))}
        r1 = api.post("/v1/orders", body, headers=h)
        self.assertEqual(r1.status, 201, r1)
        seq = head_seq()
        r2 = api.post("/v1/orders", body, headers=h)
        self.assertEqual(r2.status, 201)
        self.assertEqual(r2.body, r1.body, "the same response, byte for byte")
        self.assertEqual(head_seq(), seq, "a retry appends nothing")
        other = dict(body, reference="ANOTHER")
        r3 = api.post("/v1/orders", other, headers=h)
        self.assertEqual(r3.status, 409, r3)
        self.assertEqual(r3.json["error"]["code"], "idempotency_key_reused")
        self.assertEqual(head_seq(), seq)
        # keys are per merchant: the same key elsewhere is a new request
        r4 = api_other.post("/v1/orders", dict(body, currency="EUR"), headers=h)
        self.assertEqual(r4.status, 201, r4)
        self.assertNotEqual(r4.json["id"], r1.json["id"])

    def test_key_too_long(self):
        r = api.post("/v1/orders", order_body(), headers={"Idempotency-Key": "k" * 300})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json["error"]["param"], "Idempotency-Key")


class Concurrency(unittest.TestCase):
    def test_two_concurrent_confirms_one_wins(self):
        for _ in range(5):
            o = api.post("/v1/orders", order_body()).json
            results = []
            barrier = threading.Barrier(2)

            def confirm():
                c = srv.client(m["test_secret_key"])
                barrier.wait(timeout=10)
                results.append(c.post(f"/v1/orders/{o['id']}/confirm", {}).status)
                c.close()
            ts = [threading.Thread(target=confirm) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(timeout=30)
            self.assertEqual(sorted(results), [200, 409], harness.seed_note())
            evs = api.get(f"/v1/events?object_id={o['id']}").json["data"]
            self.assertEqual([e["type"] for e in evs].count("order.confirmed"), 1)

    def test_expected_version(self):
        o = api.post("/v1/orders", order_body()).json
        r = api.post(f"/v1/orders/{o['id']}/confirm", {"expected_version": 1})
        self.assertEqual(r.status, 409)
        self.assertEqual(r.json["error"]["code"], "version_mismatch")
        r = api.post(f"/v1/orders/{o['id']}/confirm", {"expected_version": o["version"]})
        self.assertEqual(r.status, 200, r)


class Tenancy(unittest.TestCase):
    def test_isolation_and_modes(self):
        o = api.post("/v1/orders", order_body()).json
        for c in (api_other, api_live):
            r = c.get(f"/v1/orders/{o['id']}")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["error"]["code"], "resource_missing")
            r = c.post(f"/v1/orders/{o['id']}/confirm", {})
            self.assertEqual(r.status, 404, r)
        self.assertEqual(api.get(f"/v1/orders/{o['id']}").json["status"], "approved", "untouched")
        self.assertNotIn(o["id"], [x["id"] for x in api_live.get("/v1/orders?status=all&limit=100").json["data"]])
        # live data is apart from test data
        lo = api_live.post("/v1/orders", order_body())
        self.assertEqual(lo.status, 201, lo)
        self.assertTrue(lo.json["livemode"])
        self.assertEqual(api.get(f"/v1/orders/{lo.json['id']}").status, 404)

    def test_authentication(self):
        for hdr in ({}, {"Authorization": "Bearer sk_test_nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer " + m["test_secret_key"] + "x"}):
            c = srv.client()
            r = c.request("GET", "/v1/orders", headers=hdr)
            self.assertEqual(r.status, 401, (hdr, r))
            self.assertEqual(r.json["error"]["type"], "authentication_error")
            c.close()


class BadInput(unittest.TestCase):
    """Each bad request gets a 4xx naming the field, and the log is unchanged."""

    def check(self, body, status, param=None, code=None, raw=None, headers=None):
        seq = head_seq()
        if raw is not None:
            r = api.request("POST", "/v1/orders", raw=raw, headers=headers or {"Content-Type": "application/json"})
        else:
            r = api.post("/v1/orders", body, headers=headers)
        self.assertEqual(r.status, status, r)
        err = r.json["error"]
        self.assertTrue(err["message"])
        if param is not None:
            self.assertEqual(err.get("param"), param, r)
        if code is not None:
            self.assertEqual(err["code"], code, r)
        self.assertEqual(head_seq(), seq, "the log is unchanged")
        return r

    def mutate(self, fn):
        b = order_body()
        fn(b)
        return b

    def test_malformed_json(self):
        self.check(None, 400, code="json_invalid", raw='{"reference": "x",')
        self.check(None, 400, code="json_invalid", raw='[1,2]')
        self.check(None, 400, code="json_invalid", raw='{"a":1,"a":2}')

    def test_media_type(self):
        self.check(None, 415, raw=json.dumps(order_body()), headers={"Content-Type": "text/plain"})

    def test_fields(self):
        cases = [
            (lambda b: b.pop("reference"), 400, "reference", "parameter_missing"),
            (lambda b: b.update(reference=123), 400, "reference", "parameter_invalid"),
            (lambda b: b.update(colour="red"), 400, "colour", "parameter_unknown"),
            (lambda b: b["customer"].update(nickname="x"), 400, "customer.nickname", "parameter_unknown"),
            (lambda b: b.update(amount=-5), 400, "amount", "amount_invalid"),
            (lambda b: b.update(amount=0), 400, "amount", "amount_invalid"),
            (lambda b: b.update(amount="300"), 400, "amount", "amount_invalid"),
            (lambda b: b.update(amount=300.5), 400, "amount", "amount_invalid"),
            (lambda b: b.update(amount=b["amount"] + 1), 400, "amount", "amount_invalid"),
            (lambda b: b.update(currency="XYZ"), 400, "currency", "currency_invalid"),
            (lambda b: b.update(currency="GBP"), 400, "currency", "currency_invalid"),
            (lambda b: b.update(plan="pay_in_7"), 400, "plan", None),
            (lambda b: b.update(lines=[]), 400, "lines", None),
            (lambda b: b.update(lines="x"), 400, "lines", None),
            (lambda b: b["lines"][0].update(quantity=0), 400, "lines[0].quantity", None),
            (lambda b: b["lines"][0].update(unit_price=-1), 400, "lines[0].unit_price", "amount_invalid"),
            (lambda b: b["lines"][0].update(unit_price=9223372036854775807), 400, "lines[0].unit_price", "amount_invalid"),
            (lambda b: b["lines"][0].update(type="gift"), 400, "lines[0].type", None),
            (lambda b: b["lines"][0].pop("name"), 400, "lines[0].name", "parameter_missing"),
            (lambda b: b["customer"].update(email="not-an-email"), 400, "customer.email", None),
            (lambda b: b["customer"].update(phone="0612345678"), 400, "customer.phone", None),
            (lambda b: b["customer"].update(birth_date="1990-02-30"), 400, "customer.birth_date", None),
            (lambda b: b["customer"]["id_document"].update(type="passport"), 400, "customer.id_document.type", None),
            (lambda b: b["customer"]["id_document"].update(number="ab"), 400, "customer.id_document.number", None),
            (lambda b: b["customer"].pop("id_document"), 400, "customer.id_document", "parameter_missing"),
            (lambda b: b["customer"]["billing_address"].update(country="France"), 400, "customer.billing_address.country", None),
            (lambda b: b.pop("customer"), 400, "customer", "parameter_missing"),
            (lambda b: b.update(metadata={"k": 1}), 400, "metadata.k", None),
            (lambda b: b.update(shop="bad shop"), 400, "shop", None),
        ]
        for fn, status, param, code in cases:
            with self.subTest(param=param):
                self.check(self.mutate(fn), status, param, code)

    def test_sum_overflow(self):
        b = order_body()
        b["lines"] = [{"reference": "A", "name": "a", "unit_price": 99999999999, "quantity": 100000}]
        b["amount"] = 1
        self.check(b, 400, "lines[0]", "amount_invalid")

    def test_overflowing_number(self):
        raw = json.dumps(order_body()).replace('"amount": 30000', '"amount": 99999999999999999999999')
        self.check(None, 400, code="json_invalid", raw=raw)


class OperatorTools(unittest.TestCase):
    def test_replay_audit_dump(self):
        o = api.post("/v1/orders", order_body()).json
        p = run_cli("audit", "verify", data=srv.data)
        self.assertIn("hash chain intact", p.stdout)
        p = run_cli("replay", data=srv.data)
        self.assertIn("all projections equal", p.stdout)
        for name in ("streams", "merchants", "orders", "events_by_merchant"):
            self.assertIn(name, p.stdout)
        p = run_cli("events", "dump", "--merchant", m["id"], "--type", "order.created", data=srv.data)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertIn(o["id"], [e["aggregate_id"] for e in lines])
        self.assertTrue(all(e["type"] == "order.created" and e["merchant"] == m["id"] for e in lines))
        seqs = [e["seq"] for e in lines]
        self.assertEqual(seqs, sorted(seqs))
        p = run_cli("events", "dump", "--from", "1", "--to", "1", data=srv.data)
        one = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual([e["seq"] for e in one], [1])
        self.assertEqual(one[0]["type"], "merchant.created")
        # time range: everything is after 2000 and before 2100; nothing after 2100
        p = run_cli("events", "dump", "--since", "946684800", "--until", "2100-01-01T00:00:00Z", data=srv.data)
        self.assertEqual(len(p.stdout.splitlines()), len(run_cli("events", "dump", data=srv.data).stdout.splitlines()))
        first = json.loads(run_cli("events", "dump", "--from", "2", "--to", "2", data=srv.data).stdout)
        p = run_cli("events", "dump", "--since", first["created"], "--until", first["created"], data=srv.data)
        self.assertIn(first["id"], p.stdout)
        self.assertEqual(run_cli("events", "dump", "--since", "2100-01-01T00:00:00Z", data=srv.data).stdout, "")
        bad = run_cli("events", "dump", "--since", "yesterday", data=srv.data, check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--since", bad.stderr)
        # keys are never in the log, only their hashes
        self.assertNotIn(m["test_secret_key"], run_cli("events", "dump", data=srv.data).stdout)
        bad = run_cli("events", "dump", "--from", "x", data=srv.data, check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--from", bad.stderr)
        bad = run_cli("audit", "verify", "--bogus", data=srv.data, check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("--bogus", bad.stderr)

    def test_merchant_create_errors(self):
        for args, word in [(("--name", "X", "--country", "ZZ"), "--country"), (("--country", "FR"), "--name")]:
            p = run_cli("merchant", "create", *args, data=srv.data, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(word, p.stderr)


if __name__ == "__main__":
    unittest.main()
