"""Payment links (payment by e-mail): a merchant creates a link; the shopper
gets an e-mail with its URL (read from the Maildir spool with Python's own
e-mail parser); the URL opens the hosted page, driven here as a browser
would: the form's action parsed from the HTML with html.parser, the card
posted as application/x-www-form-urlencoded. Paid once (even when posted
twice at once), declined cards leave the link payable, expiry on the test
clock and deactivation cancel the payment, bad inputs change nothing."""
import html.parser
import http.client
import json
import threading
import time
import unittest
import urllib.parse

import harness
from harness import Server, create_merchant, mails, run_cli

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GOOD = {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}
PANS = ("4242424242424242", "4000000000000002", "5555555555554444", "4242 4242 4242 4242")


def setUpModule():
    global srv
    srv = Server().start()


def tearDownModule():
    code = srv.stop()
    err = getattr(srv, "stderr_text", "")
    srv.cleanup()
    harness.validate_exchanges()
    # a clean exit: under the sanitizers, also no leak nor memory error
    if code != 0 or "Sanitizer" in err:
        raise AssertionError(f"caisse exited {code}:\n{err[-4000:]}")


def head_seq():
    return harness.head_seq(srv)


class Page(html.parser.HTMLParser):
    """What a browser would see of the hosted page: the title, the heading,
    the form (action, method, field names), the error and its field."""

    def __init__(self, text):
        super().__init__()
        self.form = None
        self.fields = []
        self.error_param = None
        self.error = ""
        self.h1 = ""
        self.text = ""
        self.scripts = 0
        self._in = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = a
        elif tag == "input":
            self.fields.append(a.get("name"))
        elif tag == "script":
            self.scripts += 1
        elif tag == "h1":
            self._in = "h1"
        elif tag == "p" and a.get("id") == "error":
            self.error_param = a.get("data-param")
            self._in = "error"

    def handle_endtag(self, tag):
        if tag in ("h1", "p"):
            self._in = None

    def handle_data(self, data):
        self.text += data
        if self._in == "h1":
            self.h1 += data
        elif self._in == "error":
            self.error += data


class PaymentLinks(unittest.TestCase):
    def setUp(self):
        # a merchant per test: each moves its own test clock
        self.m = create_merchant(srv.data, "Pâtisserie Zoé & <Fils>", "FR")
        self.api = srv.client(self.m["test_secret_key"])
        self.browser = srv.client()   # no key: the page's only credential is its URL

    def tearDown(self):
        self.api.close()
        self.browser.close()

    # ---- helpers ----------------------------------------------------------------------

    def create(self, **over):
        body = {"amount": 12550, "currency": "EUR", "description": "Gâteau <Saint-Honoré>",
                "order_reference": "CMD-77", "customer": {"email": "zoe.martin@example.com", "first_name": "Zoé"}}
        body.update(over)
        r = self.api.post("/v1/payment_links", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def path_of(self, link):
        return urllib.parse.urlsplit(link["url"]).path

    def open_page(self, link, status=200):
        r = self.browser.get(self.path_of(link))
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        return r, Page(r.body)

    def submit(self, link, fields, status, page=None, content_type=FORM, raw=None):
        """Posts the form where the page's form says, as a browser does."""
        target = self.path_of(link)
        if page is not None and page.form is not None:
            self.assertEqual(page.form.get("method"), "post")
            target = urllib.parse.urljoin(link["url"], page.form["action"])
            self.assertEqual(target, link["url"], "the form posts back to the link's URL")
            target = urllib.parse.urlsplit(target).path
        body = raw if raw is not None else urllib.parse.urlencode(fields)
        r = self.browser.post(target, raw=body, headers=content_type)
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
        for pan in PANS:
            self.assertNotIn(pan, r.body, "the card number is never echoed")
        return r, Page(r.body)

    def get(self, path):
        r = self.api.get(path)
        self.assertEqual(r.status, 200, r)
        return r.json

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def event_types(self, object_id):
        r = self.api.get(f"/v1/events?object_id={object_id}&limit=100")
        self.assertEqual(r.status, 200, r)
        return [e["type"] for e in r.json["data"]]

    # ---- tests ------------------------------------------------------------------------

    def test_link_email_page_and_payment(self):
        link = self.create()
        self.assertTrue(link["id"].startswith("plink_"))
        self.assertEqual(link["object"], "payment_link")
        self.assertEqual(link["status"], "active")
        self.assertEqual((link["amount"], link["currency"], link["type"]), (12550, "EUR", "at_order"))
        self.assertTrue(link["url"].startswith(f"http://127.0.0.1:{srv.port}/pay/"), link["url"])
        token = link["url"].rsplit("/", 1)[1]
        self.assertRegex(token, r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(link["expires_in_hours"], 72)
        self.assertEqual(link["failed_attempts"], 0)
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["channel"], pay["payment_link"]),
                         ("requires_payment", "payment_link", link["id"]))
        self.assertEqual(pay["amount"], 12550)
        self.assertEqual(self.get(f"/v1/payment_links/{link['id']}"), link)

        # the e-mail, with the URL
        msgs = mails(srv.data, lambda m: link["url"] in m.get_content())
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0]["To"], "zoe.martin@example.com")
        self.assertIn("Pâtisserie Zoé & <Fils>", msgs[0]["Subject"])
        self.assertIn("125.50 EUR", msgs[0]["Subject"])
        text = msgs[0].get_content()
        self.assertIn("Hello Zoé", text)
        self.assertIn("Gâteau <Saint-Honoré>", text)
        # the log keeps the token's hash, never a card
        dump = run_cli("events", "dump", "--merchant", self.m["id"], data=srv.data).stdout
        created = [json.loads(line) for line in dump.splitlines() if '"payment_link.created"' in line]
        self.assertEqual(len(created), 1)
        import hashlib
        self.assertEqual(created[0]["data"]["token_sha256"], hashlib.sha256(token.encode()).hexdigest())

        # the page
        r, page = self.open_page(link)
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("form-action 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
        self.assertEqual(page.scripts, 0)
        self.assertIn("125.50 EUR", page.text)
        self.assertIn("Pâtisserie Zoé & <Fils>", page.text)       # as text: escaped in the HTML
        self.assertNotIn("<Fils>", r.body)
        self.assertIn("Gâteau <Saint-Honoré>", page.text)
        self.assertNotIn("zoe.martin@example.com", r.body, "the shopper's details are not on the page")
        self.assertEqual(sorted(page.fields), ["cvc", "exp_month", "exp_year", "number"])

        # pay
        r, done = self.submit(link, GOOD, 200, page)
        self.assertEqual(done.h1, "Payment received")
        self.assertIn("125.50 EUR", done.text)
        self.assertIn("ending in 4242", done.text)
        self.assertIsNone(done.form)
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["amount_captured"]), ("captured", 12550))
        self.assertEqual(pay["card"]["last4"], "4242")
        after = self.get(f"/v1/payment_links/{link['id']}")
        self.assertEqual(after["status"], "completed")
        self.assertIsNotNone(after["completed_at"])
        self.assertEqual(self.event_types(link["id"]), ["payment_link.created", "payment_link.completed"])
        self.assertEqual(self.event_types(link["payment"]), ["payment.created", "payment.captured"])
        receipts = mails(srv.data, lambda m: m["Subject"].startswith("Your payment to")
                         and link["payment"] in m.get_content())
        self.assertEqual(len(receipts), 1)
        self.assertEqual(receipts[0]["To"], "zoe.martin@example.com")
        self.assertIn("125.50 EUR", receipts[0].get_content())
        self.assertIn("visa ending in 4242", receipts[0].get_content())

        # the same link again: 410, nothing changes
        seq = head_seq()
        r, gone = self.open_page(link, 410)
        self.assertEqual(gone.h1, "Already paid")
        self.assertIsNone(gone.form)
        self.submit(link, GOOD, 410)
        self.submit(link, {"number": "5555555555554444", "exp_month": "1", "exp_year": "31", "cvc": "999"}, 410)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.get(f"/v1/payment_links/{link['id']}"), after)

    def test_declined_card_then_another(self):
        link = self.create(amount=4990, description=None)
        _, page = self.open_page(link)
        seq = head_seq()
        r, declined = self.submit(link, dict(GOOD, number="4000000000000002"), 402, page)
        self.assertIn("declined", declined.error)
        self.assertEqual(declined.error_param, "card")
        self.assertIsNotNone(declined.form, "the form again, for another card")
        self.assertIn("49.90 EUR", declined.text)
        self.assertEqual(head_seq(), seq + 1, "one event: the attempt recorded on the link")
        l1 = self.get(f"/v1/payment_links/{link['id']}")
        self.assertEqual((l1["status"], l1["failed_attempts"]), ("active", 1))
        self.assertEqual(l1["last_failure"]["code"], "do_not_honor")
        self.assertEqual(l1["last_failure"]["card"]["last4"], "0002")
        self.assertEqual(self.get(f"/v1/payments/{link['payment']}")["status"], "requires_payment")
        # insufficient funds says so
        _, funds = self.submit(link, dict(GOOD, number="4000000000009995"), 402, declined)
        self.assertIn("insufficient funds", funds.error)
        # another card pays it
        _, paid = self.submit(link, dict(GOOD, number="5555 5555 5555 4444"), 200, funds)
        self.assertEqual(paid.h1, "Payment received")
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["card"]["brand"], pay["card"]["last4"]), ("captured", "mastercard", "4444"))
        l2 = self.get(f"/v1/payment_links/{link['id']}")
        self.assertEqual((l2["status"], l2["failed_attempts"]), ("completed", 2))
        self.assertEqual(self.event_types(link["id"]), ["payment_link.created", "payment_link.payment_failed",
                                                        "payment_link.payment_failed", "payment_link.completed"])
        # the efficiency report counts the two refused cards and the paying one
        eff = self.api.get("/v1/reports/efficiency")
        self.assertEqual(eff.status, 200, eff)
        t = eff.json["totals"]
        self.assertEqual((t["attempts"], t["succeeded"], t["failed"], t["amount_failed"]), (3, 1, 2, 2 * 4990), t)
        self.assertEqual(sorted(c["code"] for c in eff.json["failures_by_code"]), ["do_not_honor", "insufficient_funds"])

    def test_merchant_risk_controls_apply(self):
        r = self.api.post("/v1/risk_settings", {"blocked_card_countries": ["BR"]})
        self.assertEqual(r.status, 200, r)
        link = self.create()
        _, page = self.open_page(link)
        _, refused = self.submit(link, dict(GOOD, number="4000000760000002"), 402, page)
        self.assertEqual(refused.error, "Your card was declined. Try another card.", "the rule is not explained")
        l1 = self.get(f"/v1/payment_links/{link['id']}")
        self.assertEqual((l1["status"], l1["last_failure"]["code"]), ("active", "risk_blocked"))
        self.assertEqual(self.get(f"/v1/payments/{link['payment']}")["status"], "requires_payment")
        self.submit(link, GOOD, 200, refused)
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["risk"]["decision"]), ("captured", "approved"))

    def test_deferred_link_is_authorized(self):
        link = self.create(type="deferred")
        _, page = self.open_page(link)
        _, paid = self.submit(link, GOOD, 200, page)
        self.assertEqual(paid.h1, "Payment authorized")
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["amount_authorized"], pay["amount_captured"]), ("authorized", 12550, 0))
        self.assertEqual(self.get(f"/v1/payment_links/{link['id']}")["status"], "completed")

    def test_expiry_on_the_test_clock(self):
        link = self.create(expires_in_hours=2)
        self.advance(2 * 3600 - 1)
        self.open_page(link, 200)
        self.assertEqual(self.get(f"/v1/payment_links/{link['id']}")["status"], "active")
        self.assertEqual(self.advance(2)["jobs_fired"], 1)
        l1 = self.get(f"/v1/payment_links/{link['id']}")
        self.assertEqual((l1["status"], l1["expiry_reason"]), ("expired", "expired"))
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["cancellation"]["reason"]), ("cancelled", "abandoned"))
        self.assertEqual(self.event_types(link["id"])[-1], "payment_link.expired")
        self.assertEqual(self.event_types(link["payment"])[-1], "payment.cancelled")
        seq = head_seq()
        _, gone = self.open_page(link, 410)
        self.assertEqual(gone.h1, "Link expired")
        self.submit(link, GOOD, 410)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.advance(3 * 86400)["jobs_fired"], 0, "nothing left to fire")

    def test_paid_link_does_not_expire(self):
        link = self.create(expires_in_hours=1)
        _, page = self.open_page(link)
        self.submit(link, GOOD, 200, page)
        self.assertEqual(self.advance(2 * 3600)["jobs_fired"], 0, "the expiry job was cancelled")
        self.assertEqual(self.get(f"/v1/payment_links/{link['id']}")["status"], "completed")
        self.assertEqual(self.get(f"/v1/payments/{link['payment']}")["status"], "captured")

    def test_deactivate(self):
        link = self.create()
        r = self.api.post(f"/v1/payment_links/{link['id']}/deactivate", {"reason": "requested_by_customer"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["expiry_reason"]), ("expired", "deactivated"))
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], pay["cancellation"]["reason"]), ("cancelled", "requested_by_customer"))
        seq = head_seq()
        self.open_page(link, 410)
        self.submit(link, GOOD, 410)
        r = self.api.post(f"/v1/payment_links/{link['id']}/deactivate", {})
        self.assertEqual((r.status, r.json["error"]["code"]), (409, "state_invalid"))
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.advance(80 * 3600)["jobs_fired"], 0, "the expiry job went with it")
        # the default reason; bad inputs
        other = self.create()
        seq = head_seq()
        for body, param in [({"reason": "bored"}, "reason"), ({"reason": 3}, "reason"), ({"why": "x"}, "why")]:
            r = self.api.post(f"/v1/payment_links/{other['id']}/deactivate", body)
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), body)
        for bad in ("plink_01M834XAGSZNZXYQEAHFDDCZ6Y", "pay_01M834XAGSRF73VYY7MCPH5SR3", "nope"):
            r = self.api.post(f"/v1/payment_links/{bad}/deactivate", {})
            self.assertEqual(r.status, 404, r)
        self.assertEqual(head_seq(), seq)
        r = self.api.post(f"/v1/payment_links/{other['id']}/deactivate", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get(f"/v1/payments/{other['payment']}")["cancellation"]["reason"], "other")

    def test_payment_cancelled_through_the_api(self):
        link = self.create()
        r = self.api.post(f"/v1/payments/{link['payment']}/cancel", {"reason": "duplicate"})
        self.assertEqual(r.status, 200, r)
        seq = head_seq()
        _, page = self.open_page(link, 410)
        self.assertEqual(page.h1, "No longer payable")
        self.submit(link, GOOD, 410)
        self.assertEqual(head_seq(), seq)

    def test_paid_once_when_posted_twice_at_once(self):
        link = self.create()
        path = self.path_of(link)
        body = urllib.parse.urlencode(GOOD)
        barrier = threading.Barrier(4)
        statuses = []
        lock = threading.Lock()

        def pay():
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            c.connect()
            barrier.wait(timeout=10)
            c.request("POST", path, body=body, headers=FORM)
            r = c.getresponse()
            r.read()
            with lock:
                statuses.append(r.status)
            c.close()

        threads = [threading.Thread(target=pay) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(sorted(statuses), [200, 410, 410, 410])
        pay = self.get(f"/v1/payments/{link['payment']}")
        self.assertEqual((pay["status"], len(pay["captures"])), ("captured", 1))
        self.assertEqual(self.event_types(link["payment"]).count("payment.captured"), 1)
        self.assertEqual(self.event_types(link["id"]).count("payment_link.completed"), 1)

    def test_too_many_declined_attempts_end_the_link(self):
        link = self.create()
        _, page = self.open_page(link)
        for i in range(9):
            _, page = self.submit(link, dict(GOOD, number="4000000000000002"), 402, page)
            self.assertIsNotNone(page.form, i)
        _, last = self.submit(link, dict(GOOD, number="4000000000000002"), 402, page)
        self.assertIsNone(last.form)
        self.assertIn("closed", last.error)
        l1 = self.get(f"/v1/payment_links/{link['id']}")
        self.assertEqual((l1["status"], l1["expiry_reason"], l1["failed_attempts"]),
                         ("expired", "too_many_attempts", 10))
        self.assertEqual(self.get(f"/v1/payments/{link['payment']}")["status"], "cancelled")
        self.submit(link, GOOD, 410)

    def test_bad_create_inputs(self):
        base = {"amount": 1000, "currency": "EUR", "customer": {"email": "a@example.com"}}

        def without(*keys):
            return {k: v for k, v in base.items() if k not in keys}

        cases = [
            (without("amount"), "amount"),
            (dict(base, amount=0), "amount"),
            (dict(base, amount="10"), "amount"),
            (dict(base, amount=100000000001), "amount"),
            (without("currency"), "currency"),
            (dict(base, currency="USD"), "currency"),
            (dict(base, currency="XYZ"), "currency"),
            (dict(base, type="split"), "type"),
            (dict(base, type="deposit"), "type"),
            (dict(base, type="weekly"), "type"),
            (without("customer"), "customer"),
            (dict(base, customer={"first_name": "Zoé"}), "customer.email"),
            (dict(base, customer={"email": "not-an-address"}), "customer.email"),
            (dict(base, customer={"email": "a@example.com", "age": 3}), "customer.age"),
            (dict(base, customer="a@example.com"), "customer"),
            (dict(base, expires_in_hours=0), "expires_in_hours"),
            (dict(base, expires_in_hours=721), "expires_in_hours"),
            (dict(base, expires_in_hours="3"), "expires_in_hours"),
            (dict(base, description=""), "description"),
            (dict(base, description="x" * 501), "description"),
            (dict(base, order_reference="a\nb"), "order_reference"),
            (dict(base, metadata=[1]), "metadata"),
            (dict(base, card={"number": "4242424242424242"}), "card"),
            (dict(base, channel="api"), "channel"),
            (dict(base, split={"count": 2}), "split"),
            (dict(base, foo=1), "foo"),
        ]
        seq = head_seq()
        for body, param in cases:
            r = self.api.post("/v1/payment_links", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param, body)
        r = self.api.post("/v1/payment_links", raw="{", headers={"Content-Type": "application/json"})
        self.assertEqual((r.status, r.json["error"]["code"]), (400, "json_invalid"))
        r = self.api.post("/v1/payment_links", raw="amount=1", headers=FORM)
        self.assertEqual(r.status, 415, r)
        self.assertEqual(head_seq(), seq)
        anonymous = srv.client()
        self.assertEqual(anonymous.post("/v1/payment_links", base).status, 401)
        anonymous.close()
        self.assertEqual(head_seq(), seq)

    def test_bad_forms_change_nothing(self):
        link = self.create()
        _, page = self.open_page(link)
        cases = [
            (dict(GOOD, number="4242424242424241"), 400, "card.number", "Luhn"),
            (dict(GOOD, number="4242 4242 42x2 4242"), 400, "card.number", "digits"),
            (dict(GOOD, number="378282246310005"), 400, "card.number", "Visa and Mastercard"),
            (dict(GOOD, exp_month="1", exp_year="2020"), 400, "card.exp_year", "expired"),
            (dict(GOOD, exp_month="13"), 400, "card.exp_month", "month"),
            (dict(GOOD, exp_year="203"), 400, "card.exp_year", "year"),
            (dict(GOOD, cvc="12a"), 400, "card.cvc", "digits"),
            ({k: v for k, v in GOOD.items() if k != "cvc"}, 400, "card.cvc", "required"),
            (dict(GOOD, amount="1"), 400, "amount", "unknown"),
        ]
        seq = head_seq()
        for fields, status, param, words in cases:
            _, p = self.submit(link, fields, status, page)
            self.assertEqual(p.error_param, param, fields)
            self.assertIn(words, p.error, fields)
            self.assertIsNotNone(p.form, "the form again")
        raw_cases = [
            ("number=4242424242424242&number=4242424242424242&exp_month=12&exp_year=2030&cvc=123", 400, "card.number"),
            ("number=4242%2G424242424242&exp_month=12&exp_year=2030&cvc=123", 400, "card.number"),
            ("number=4242424242424242&exp_month=12&exp_year=2030&cvc=123&", 400, "form"),
            ("a" * 3000, 413, None),
        ]
        for raw, status, param in raw_cases:
            _, p = self.submit(link, None, status, raw=raw)
            self.assertEqual(p.error_param, param, raw[:40])
        for ctype in ({"Content-Type": "application/json"}, {"Content-Type": "text/plain"}, {}):
            r = self.browser.post(self.path_of(link), raw=urllib.parse.urlencode(GOOD), headers=ctype)
            self.assertEqual(r.status, 415, (ctype, r))
            self.assertTrue(r.header("Content-Type").startswith("text/html"))
        r = self.browser.post(self.path_of(link), raw=urllib.parse.urlencode(GOOD),
                              headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
        self.assertEqual(r.status, 200, "a charset parameter is fine")
        self.assertEqual(head_seq(), seq + 2, "only the payment: payment.captured and payment_link.completed")

    def test_unknown_tokens(self):
        link = self.create()
        token = link["url"].rsplit("/", 1)[1]
        twin = ("A" if token[0] != "A" else "B") + token[1:]
        seq = head_seq()
        for t in (twin, "short", token + "x", "%2e%2e"):
            r = self.browser.get(f"/pay/{t}")
            self.assertEqual(r.status, 404, (t, r))
            self.assertEqual(Page(r.body).h1, "Payment link not found")
            r = self.browser.post(f"/pay/{t}", raw=urllib.parse.urlencode(GOOD), headers=FORM)
            self.assertEqual(r.status, 404, (t, r))
        r = self.browser.request("PUT", f"/pay/{token}", raw="x")
        self.assertEqual(r.status, 405)
        self.assertEqual(head_seq(), seq)
        # the token is the only credential: an API key is neither needed nor used
        self.assertEqual(self.api.get(self.path_of(link)).status, 200)

    def test_list_and_get(self):
        links = [self.create(amount=100 + i) for i in range(3)]
        r = self.api.get("/v1/payment_links?limit=2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["id"] for x in r.json["data"]], [links[2]["id"], links[1]["id"]])
        self.assertTrue(r.json["has_more"])
        r2 = self.api.get(f"/v1/payment_links?limit=2&cursor={r.json['next_cursor']}")
        self.assertEqual([x["id"] for x in r2.json["data"]], [links[0]["id"]])
        self.assertFalse(r2.json["has_more"])
        self.api.post(f"/v1/payment_links/{links[1]['id']}/deactivate", {})
        r = self.api.get("/v1/payment_links?status=expired")
        self.assertEqual([x["id"] for x in r.json["data"]], [links[1]["id"]])
        r = self.api.get("/v1/payment_links?status=active")
        self.assertEqual([x["id"] for x in r.json["data"]], [links[2]["id"], links[0]["id"]])
        for q, param in [("status=paid", "status"), ("cursor=pay_01M834XAGSRF73VYY7MCPH5SR3", "cursor"),
                         ("cursor=plink_01M834XAGSZNZXYQEAHFDDCZ6Y", "cursor"), ("limit=0", "limit"), ("x=1", "x")]:
            r = self.api.get(f"/v1/payment_links?{q}")
            self.assertEqual((r.status, r.json["error"]["param"]), (400, param), q)
        # another merchant sees none of them
        other = create_merchant(srv.data, "Other", "FR")
        oc = srv.client(other["test_secret_key"])
        self.assertEqual(oc.get(f"/v1/payment_links/{links[0]['id']}").status, 404)
        self.assertEqual(oc.get("/v1/payment_links").json["data"], [])
        self.assertEqual(oc.post(f"/v1/payment_links/{links[0]['id']}/deactivate", {}).status, 404)
        live = srv.client(self.m["live_secret_key"])
        self.assertEqual(live.get(f"/v1/payment_links/{links[0]['id']}").status, 404, "test and live kept apart")
        oc.close()
        live.close()

    def test_idempotent_create(self):
        body = {"amount": 700, "currency": "EUR", "customer": {"email": "idem@example.com"}}
        h = {"Idempotency-Key": "link-once"}
        a = self.api.post("/v1/payment_links", body, headers=h)
        seq = head_seq()
        b = self.api.post("/v1/payment_links", body, headers=h)
        self.assertEqual((a.status, b.status), (201, 201))
        self.assertEqual(a.json, b.json, "the same link and URL")
        self.assertEqual(head_seq(), seq)
        sent = mails(srv.data, lambda m: m["To"] == "idem@example.com")
        self.assertEqual(len(sent), 1)
        time.sleep(0.5)   # a second one would be spooled by now (200 ms ticks)
        self.assertEqual(len(mails(srv.data, lambda m: m["To"] == "idem@example.com", timeout=0)), 1, "one e-mail")


class PublicUrl(unittest.TestCase):
    def test_public_url_option(self):
        other = Server(args=["--public-url", "https://pay.example.com/shop/"]).start()
        try:
            m = create_merchant(other.data, "Proxy", "FR")
            api = other.client(m["test_secret_key"])
            r = api.post("/v1/payment_links", {"amount": 500, "currency": "EUR",
                                               "customer": {"email": "p@example.com"}})
            self.assertEqual(r.status, 201, r)
            self.assertRegex(r.json["url"], r"^https://pay\.example\.com/shop/pay/[A-Za-z0-9_-]{43}$")
            # behind the proxy the page is /shop/pay/<token>; here, /pay/<token>
            token = r.json["url"].rsplit("/", 1)[1]
            browser = other.client()
            page = browser.get(f"/pay/{token}")
            browser.close()
            self.assertEqual(page.status, 200)
            action = Page(page.body).form["action"]
            self.assertEqual(urllib.parse.urljoin(r.json["url"], action), r.json["url"],
                             "a relative action works under any prefix")
            api.close()
        finally:
            other.cleanup()
        for bad in ("ftp://x", "https://", "https://a.example/?q=1", "https://a.example/<b>"):
            p = run_cli("serve", "--data", "/nonexistent-caisse-dir", "--listen", "127.0.0.1:0",
                        "--public-url", bad, check=False, timeout=20)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertIn("--public-url", p.stderr)


class ZReplay(unittest.TestCase):
    """Last (unittest sorts classes by name): the log of everything above."""

    def test_replay_audit_and_no_card_number_in_the_log(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)
        run_cli("audit", "verify", data=srv.data)
        dump = run_cli("events", "dump", data=srv.data).stdout
        types = {json.loads(line)["type"] for line in dump.splitlines()}
        for t in ("payment_link.created", "payment_link.completed", "payment_link.payment_failed",
                  "payment_link.expired", "payment_link.deactivated"):
            self.assertIn(t, types)
        for pan in ("4242424242424242", "4000000000000002", "5555555555554444"):
            self.assertNotIn(pan, dump)


if __name__ == "__main__":
    unittest.main()
