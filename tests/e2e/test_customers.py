"""Customers end to end: made at the first confirmed order (never by an
abandoned or refused checkout), matched within one merchant and mode by ID
document number plus the same phone or the same e-mail (case-insensitive),
listed newest first with search and cursor pagination, kept apart per merchant
and per mode, and recorded as customer.created just before the order.confirmed
that names them."""
import json
import re
import unittest
from urllib.parse import quote

import harness
from harness import Server, create_merchant, order_body, run_cli

RFC3339_US = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
CUS_ID = re.compile(r"^cus_[0-9A-HJKMNP-TV-Z]{26}$")


def setUpModule():
    global srv
    srv = Server().start()


def tearDownModule():
    for c in clients:
        c.close()
    srv.cleanup()
    harness.validate_exchanges()


clients = []


def fresh(name="Boutique"):
    """A merchant of its own (customers are per merchant): (merchant, test client, live client)."""
    mer = create_merchant(srv.data, name, "FR")
    t, l = srv.client(mer["test_secret_key"]), srv.client(mer["live_secret_key"])
    clients.extend((t, l))
    return mer, t, l


def head_seq():
    return harness.head_seq(srv)


def doc_number():
    return f"ID{harness.rng.randrange(10**9):09d}"


def phone():
    return f"+336{harness.rng.randrange(10**8):08d}"


def shopper(first="Léa", last="Dubois", email=None, phone_=None, number=None, doc_type="national_id"):
    return {"first_name": first, "last_name": last,
            "email": email or f"lea.dubois.{harness.rng.randrange(10**9)}@example.com",
            "phone": phone_ or phone(), "id_document": {"type": doc_type, "number": number or doc_number()}}


def buy(c, who, confirm=True, email=None):
    """Checks out (and confirms) an order for this shopper; returns the order."""
    body = order_body()
    body["customer"].update(json.loads(json.dumps(who)))
    if email:
        body["customer"]["email"] = email
    r = c.post("/v1/orders", body)
    assert r.status == 201, r
    if confirm:
        assert r.json["status"] == "approved", r
        r = c.post(f"/v1/orders/{r.json['id']}/confirm", {})
        assert r.status == 200, r
    return r.json


def list_all(c, query="", limit=100):
    r = c.get(f"/v1/customers?limit={limit}{query}")
    assert r.status == 200, r
    return r.json


class Base(unittest.TestCase):
    def customer(self, c, cid):
        r = c.get(f"/v1/customers/{cid}")
        self.assertEqual(r.status, 200, r)
        return r.json


class Matching(Base):
    def test_same_document_and_phone_or_email_is_one_customer(self):
        mer, api, _ = fresh("Matching")
        lea = shopper(email="Lea.Dubois@example.com")
        o1 = buy(api, lea)
        cid = o1["customer_id"]
        self.assertRegex(cid, CUS_ID)
        self.assertEqual(api.get(f"/v1/orders/{o1['id']}").json["customer_id"], cid)

        # same document, same phone, the e-mail in another case (and a new name spelling): same customer
        o2 = buy(api, dict(lea, email="lea.dubois@EXAMPLE.COM", first_name="LEA"))
        self.assertEqual(o2["customer_id"], cid)
        # same document, another phone, the same e-mail up to case: same customer
        o3 = buy(api, dict(lea, phone=phone(), email="LEA.DUBOIS@example.com"))
        self.assertEqual(o3["customer_id"], cid)
        # same document, the same phone, an e-mail never seen: same customer (the phone suffices)
        o4 = buy(api, dict(lea, email="l.dubois@work.example.net"))
        self.assertEqual(o4["customer_id"], cid)

        cus = self.customer(api, cid)
        self.assertEqual(set(cus), {"id", "object", "livemode", "merchant", "first_name", "last_name", "email", "phone",
                                    "id_document", "created", "orders", "payments"})
        self.assertEqual(cus["id"], cid)
        self.assertEqual(cus["object"], "customer")
        self.assertIs(cus["livemode"], False)
        self.assertEqual(cus["merchant"], mer["id"])
        # the details are the first order's
        self.assertEqual((cus["first_name"], cus["last_name"], cus["email"], cus["phone"]),
                         ("Léa", "Dubois", "Lea.Dubois@example.com", lea["phone"]))
        self.assertEqual(cus["id_document"], lea["id_document"])
        self.assertRegex(cus["created"], RFC3339_US)
        self.assertGreaterEqual(cus["created"], o1["created"])
        self.assertLessEqual(cus["created"], o2["confirmed_at"])
        self.assertEqual(cus["orders"], [o1["id"], o2["id"], o3["id"], o4["id"]], "oldest first")
        self.assertEqual([x["id"] for x in list_all(api)["data"]], [cid])

    def test_same_document_other_contacts_is_another_customer(self):
        _, api, _ = fresh("Namesakes")
        a = shopper(first="Hugo", last="Petit")
        o1 = buy(api, a)
        # the same document number, but neither the phone nor the e-mail: someone else
        o2 = buy(api, dict(a, phone=phone(), email="someone.else@example.org"))
        self.assertRegex(o2["customer_id"], CUS_ID)
        self.assertNotEqual(o2["customer_id"], o1["customer_id"])
        # the same phone and e-mail with another document number: someone else too
        o3 = buy(api, dict(a, id_document={"type": "national_id", "number": doc_number()}))
        self.assertNotIn(o3["customer_id"], (o1["customer_id"], o2["customer_id"]))
        # a later order that matches the second customer joins it, not the first
        o4 = buy(api, dict(a, phone=phone(), email="SOMEONE.ELSE@example.org"))
        self.assertEqual(o4["customer_id"], o2["customer_id"])
        page = list_all(api)
        self.assertEqual([x["id"] for x in page["data"]], [o3["customer_id"], o2["customer_id"], o1["customer_id"]],
                         "newest first")
        self.assertFalse(page["has_more"])
        self.assertIsNone(page["next_cursor"])
        self.assertEqual(self.customer(api, o1["customer_id"])["orders"], [o1["id"]])
        self.assertEqual(self.customer(api, o2["customer_id"])["orders"], [o2["id"], o4["id"]])
        self.assertEqual(self.customer(api, o2["customer_id"])["email"], "someone.else@example.org")

    def test_no_customer_without_a_confirmed_order(self):
        _, api, _ = fresh("Abandoned")
        who = shopper()
        approved = buy(api, who, confirm=False)
        self.assertEqual(approved["status"], "approved")
        self.assertIsNone(approved["customer_id"])
        review = buy(api, who, confirm=False, email="lea+review@example.com")
        self.assertEqual(review["status"], "pending")
        rejected = buy(api, who, confirm=False, email="lea+reject@example.com")
        self.assertEqual(rejected["status"], "rejected")
        self.assertIsNone(rejected["customer_id"])
        cancelled = buy(api, who, confirm=False)
        self.assertEqual(api.post(f"/v1/orders/{cancelled['id']}/cancel", {"reason": "other"}).status, 200)
        self.assertEqual(list_all(api)["data"], [])
        self.assertEqual(api.get("/v1/events?type=customer.*").json["data"], [])
        # an order refused at confirmation makes none either
        r = api.post(f"/v1/orders/{rejected['id']}/confirm", {})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(list_all(api)["data"], [])
        # the first confirmation does
        c = api.post(f"/v1/orders/{approved['id']}/confirm", {})
        self.assertEqual(c.status, 200, c)
        cid = c.json["customer_id"]
        self.assertRegex(cid, CUS_ID)
        self.assertEqual([x["id"] for x in list_all(api)["data"]], [cid])
        self.assertEqual(self.customer(api, cid)["orders"], [approved["id"]])
        self.assertIsNone(api.get(f"/v1/orders/{review['id']}").json["customer_id"])


class Tenancy(Base):
    def test_another_merchant_sees_none(self):
        _, api, _ = fresh("Mine")
        _, other, _ = fresh("Theirs")
        who = shopper()
        o = buy(api, who)
        cid = o["customer_id"]
        self.assertEqual(list_all(other)["data"], [])
        self.assertEqual(list_all(other, "&query=Dubois")["data"], [])
        r = other.get(f"/v1/customers/{cid}")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json["error"]["code"], "resource_missing")
        self.assertEqual(r.json["error"]["param"], "id")
        self.assertEqual(other.get(f"/v1/events?object_id={cid}").json["data"], [])
        # the same shopper at the other merchant is the other merchant's own customer
        o2 = buy(other, who)
        self.assertRegex(o2["customer_id"], CUS_ID)
        self.assertNotEqual(o2["customer_id"], cid)
        self.assertEqual(self.customer(api, cid)["orders"], [o["id"]])
        self.assertEqual([x["id"] for x in list_all(other)["data"]], [o2["customer_id"]])
        self.assertEqual(api.get(f"/v1/customers/{o2['customer_id']}").status, 404)

    def test_live_and_test_apart(self):
        mer, api, live = fresh("Modes")
        who = shopper()
        t = buy(api, who)
        lv = buy(live, who)
        self.assertTrue(lv["livemode"])
        self.assertNotEqual(lv["customer_id"], t["customer_id"])
        lc = self.customer(live, lv["customer_id"])
        self.assertIs(lc["livemode"], True)
        self.assertEqual(lc["merchant"], mer["id"])
        self.assertEqual(lc["orders"], [lv["id"]])
        self.assertEqual([x["id"] for x in list_all(live)["data"]], [lv["customer_id"]])
        self.assertEqual([x["id"] for x in list_all(api)["data"]], [t["customer_id"]])
        for c, cid in ((api, lv["customer_id"]), (live, t["customer_id"])):
            r = c.get(f"/v1/customers/{cid}")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["error"]["code"], "resource_missing")


class Search(Base):
    NAMES = [("Camille", "Martin"), ("Lucas", "Bernard"), ("Marc", "Camus"), ("Ines", "Lambert"),
             ("Jean-Luc", "Martinez"), ("Hélène", "Éluard")]

    @classmethod
    def setUpClass(cls):
        _, cls.api, _ = fresh("Search")
        cls.made = []   # (id, first, last), oldest first
        for first, last in cls.NAMES:
            o = buy(cls.api, shopper(first=first, last=last))
            cls.made.append((o["customer_id"], first, last))
        cls.newest_first = list(reversed(cls.made))
        _, other, _ = fresh("Elsewhere")   # a customer id of another merchant, for the cursor
        cls.other_customer = buy(other, shopper())["customer_id"]

    def expected(self, q):
        q = q.lower()
        return [cid for cid, f, l in self.newest_first if q in f.lower() or q in l.lower()]

    def test_query(self):
        for q in ("camille", "MARTIN", "ber", "cam", "Lam", "luc", "a", "-L", "zzz", "leMar", "MartinBernard"):
            with self.subTest(q=q):
                page = list_all(self.api, "&query=" + q)
                got = [x["id"] for x in page["data"]]
                self.assertEqual(got, self.expected(q))
                self.assertFalse(page["has_more"])
        # sanity of the expectations themselves
        self.assertEqual(len(self.expected("martin")), 2)
        self.assertEqual(len(self.expected("luc")), 2)
        self.assertEqual(self.expected("leMar"), [])
        # percent-encoded like any query value
        got = [x["id"] for x in list_all(self.api, "&query=%4Aean-luc")["data"]]
        self.assertEqual(got, self.expected("jean-luc"))

    def test_query_case_insensitive_beyond_ascii(self):
        # French names: "HÉLÈNE" finds Hélène, "éluard" finds Éluard
        for q in ("hélène", "HÉLÈNE", "Élu", "éluard", "LÈN"):
            with self.subTest(q=q):
                got = [x["id"] for x in list_all(self.api, "&query=" + quote(q))["data"]]
                self.assertEqual(got, self.expected(q))
                self.assertEqual(len(got), 1)

    def test_pagination(self):
        seen, cursor, pages = [], None, 0
        while True:
            r = self.api.get("/v1/customers?limit=2" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(r.status, 200, r)
            page = r.json
            pages += 1
            self.assertLessEqual(len(page["data"]), 2)
            seen += [x["id"] for x in page["data"]]
            if not page["has_more"]:
                self.assertIsNone(page["next_cursor"])
                break
            self.assertEqual(page["next_cursor"], page["data"][-1]["id"])
            cursor = page["next_cursor"]
            self.assertLess(pages, 10)
        self.assertEqual(pages, (len(self.NAMES) + 1) // 2)
        self.assertEqual(seen, [cid for cid, _, _ in self.newest_first], "every customer once, newest first")

    def test_pagination_with_query(self):
        want = self.expected("a")
        self.assertGreaterEqual(len(want), 3)
        seen, cursor = [], None
        for _ in range(10):
            page = list_all(self.api, "&query=a" + (f"&cursor={cursor}" if cursor else ""), limit=1)
            seen += [x["id"] for x in page["data"]]
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        self.assertEqual(seen, want)

    def test_bad_params(self):
        seq = head_seq()
        cases = [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("cursor=nope", "cursor"),
                 ("cursor=ord_01JPB3K7Q8X4N2M5R6T9V0W1YZ", "cursor"), ("query=", "query"),
                 ("cursor=cus_00000000000000000000000000", "cursor"),
                 ("cursor=" + self.other_customer, "cursor"),
                 ("query=" + "x" * 101, "query"), ("colour=red", "colour")]
        for q, param in cases:
            with self.subTest(q=q):
                r = self.api.get("/v1/customers?" + q)
                self.assertEqual(r.status, 400, (q, r))
                self.assertEqual(r.json["error"]["param"], param, r)
        self.assertEqual(list_all(self.api, "&query=" + "x" * 100)["data"], [])
        for cid in ("nope", "cus_00000000000000000000000000", self.made[0][0].replace("cus_", "ord_")):
            r = self.api.get(f"/v1/customers/{cid}")
            self.assertEqual(r.status, 404, (cid, r))
            self.assertEqual(r.json["error"]["code"], "resource_missing")
        self.assertEqual(head_seq(), seq)


class Events(Base):
    def test_customer_created_before_the_confirmation_that_names_it(self):
        mer, api, _ = fresh("Evented")
        who = shopper()
        o1 = buy(api, who)
        cid = o1["customer_id"]
        evs = api.get("/v1/events?limit=100").json["data"]
        self.assertEqual([e["type"] for e in evs],
                         ["merchant.created", "order.created", "order.approved", "customer.created", "order.confirmed"])
        cc, oc = evs[3], evs[4]
        self.assertEqual(cc["aggregate_id"], cid)
        self.assertEqual(cc["aggregate_version"], 1)
        self.assertEqual((cc["merchant"], cc["livemode"]), (mer["id"], False))
        self.assertLess(cc["seq"], oc["seq"])
        self.assertEqual(oc["aggregate_id"], o1["id"])
        self.assertEqual(oc["data"]["customer_id"], cid)
        self.assertEqual(oc["data"]["confirmed_at"], o1["confirmed_at"])
        key_actor = oc["actor"]
        self.assertEqual(cc["actor"], key_actor)
        cus = self.customer(api, cid)
        self.assertEqual(cc["data"], {"customer": dict(cus, orders=[])})
        # a returning shopper: no second customer.created
        o2 = buy(api, who)
        self.assertEqual(o2["customer_id"], cid)
        created = api.get("/v1/events?type=customer.created").json["data"]
        self.assertEqual([e["aggregate_id"] for e in created], [cid])
        confirmed = api.get("/v1/events?type=order.confirmed").json["data"]
        self.assertEqual([e["data"]["customer_id"] for e in confirmed], [cid, cid])
        self.assertEqual([e["type"] for e in api.get(f"/v1/events?object_id={cid}").json["data"]],
                         ["customer.created"])
        # a new shopper: customer.created then order.confirmed, in that order
        o3 = buy(api, shopper(first="Nina"))
        evs = api.get(f"/v1/events?limit=100&cursor={confirmed[-1]['seq']}").json["data"]
        self.assertEqual([e["type"] for e in evs],
                         ["order.created", "order.approved", "customer.created", "order.confirmed"])
        self.assertEqual(evs[2]["aggregate_id"], o3["customer_id"])
        self.assertEqual(evs[3]["data"]["customer_id"], o3["customer_id"])


class ZOperatorTools(unittest.TestCase):
    """Last (unittest runs classes in name order): replay rebuilds the customers
    projection to the same digest, and the hash chain holds."""

    def test_replay_and_audit(self):
        p = run_cli("audit", "verify", data=srv.data)
        self.assertIn("hash chain intact", p.stdout)
        p = run_cli("replay", data=srv.data)
        self.assertIn("all projections equal", p.stdout)
        self.assertIn("customers", p.stdout)


if __name__ == "__main__":
    unittest.main()
