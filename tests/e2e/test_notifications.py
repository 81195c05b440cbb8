"""E-mails to shoppers: each is written in the transaction of its event and
spooled as an RFC 5322 file that Python's own e-mail parser reads; a kill -9
right after the acknowledgement loses none."""
import email
import email.policy
import os
import time
import unittest

import harness
from harness import Server, create_merchant, order_body


def spooled(data, wait_for, timeout=10):
    """The parsed messages in the spool once at least `wait_for` are there."""
    d = os.path.join(data, "mail-spool", "new")
    deadline = time.monotonic() + timeout
    while True:
        names = sorted(os.listdir(d)) if os.path.isdir(d) else []
        if len(names) >= wait_for or time.monotonic() > deadline:
            return [email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
                    for n in names]
        time.sleep(0.05)


class Notifications(unittest.TestCase):
    def setUp(self):
        self.srv = Server().start()
        self.m = create_merchant(self.srv.data, "Mailer", "FR")
        self.api = self.srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()
        self.srv.cleanup()
        harness.validate_exchanges()

    def test_confirmation_receipt_and_updated_plan(self):
        b = order_body(((10000, 3),), email="zoe@example.com")
        b["customer"]["first_name"] = "Zoé"
        o = self.api.post("/v1/orders", b).json
        self.assertEqual(spooled(self.srv.data, 1, timeout=0.5), [], "nothing before confirmation")
        self.api.post(f"/v1/orders/{o['id']}/confirm", {})
        msgs = spooled(self.srv.data, 1)
        self.assertEqual(len(msgs), 1)
        m0 = msgs[0]
        self.assertEqual(m0["To"], "zoe@example.com")
        self.assertEqual(m0["Subject"], f"Your purchase {o['reference']} is confirmed")
        self.assertTrue(m0["Message-ID"] and m0["Date"])
        text = m0.get_content()
        self.assertIn("Hello Zoé", text)
        self.assertIn("300.00 EUR", text)
        self.assertEqual(text.count("100.00 EUR"), 3)

        self.api.post(f"/v1/orders/{o['id']}/shipments", {})
        self.api.post("/v1/test_clock/advance", {"seconds": 32 * 86400})
        msgs = spooled(self.srv.data, 2)
        self.assertEqual(len(msgs), 2)
        receipt = [x for x in msgs if x["Subject"].startswith("Receipt")]
        self.assertEqual(len(receipt), 1)
        self.assertIn("200.00 EUR", receipt[0].get_content(), "total paid so far")

        r = self.api.post(f"/v1/orders/{o['id']}/returns", {"lines": [{"reference": "SKU-0", "quantity": 1}]})
        self.assertEqual(r.status, 201, r)
        msgs = spooled(self.srv.data, 3)
        changed = [x for x in msgs if "has changed" in x["Subject"]]
        self.assertEqual(len(changed), 1)
        self.assertIn("200.00 EUR", changed[0].get_content(), "the new amount")

    def test_refused_commands_send_nothing(self):
        o = self.api.post("/v1/orders", order_body(email="x+reject@example.com")).json
        self.assertEqual(self.api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 409)
        self.assertEqual(spooled(self.srv.data, 1, timeout=0.6), [])

    def test_kill_after_ack_loses_no_mail(self):
        oids = []
        for i in range(5):
            o = self.api.post("/v1/orders", order_body()).json
            self.assertEqual(self.api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
            oids.append(o["id"])
        self.srv.kill9()   # most likely before the 200 ms spool tick
        self.srv.start()
        msgs = spooled(self.srv.data, 5)
        self.assertEqual(len(msgs), 5, harness.seed_note())
        self.api = self.srv.client(self.m["test_secret_key"])


if __name__ == "__main__":
    unittest.main()
