"""Expired Idempotency-Key records are deleted: by `caisse idempotency purge`
(safe while the server runs) and by the server's own sweep soon after it
starts. A record goes only once a retry could no longer get it (7 days at the
time its merchant lives in: a test clock moves it), another merchant's record
stays, and the log is not touched."""
import os
import re
import time
import unittest

import harness
from harness import Server, create_merchant, head_seq, order_body, run_cli

DAY = 86400


def metric(srv, name):
    body = srv.client().get("/metrics", record=False).body
    m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
    return int(m.group(1)) if m else None


class IdempotencyPurge(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.a = create_merchant(self.srv.data, name="A")["test_secret_key"]
        self.b = create_merchant(self.srv.data, name="B")["test_secret_key"]
        self.srv.start()
        self.addCleanup(self.srv.cleanup)

    def create(self, key, idem, body=None):
        r = self.srv.client(key).post("/v1/orders", body or order_body(), headers={"Idempotency-Key": idem})
        self.assertEqual(r.status, 201, r.body)
        return r

    def purge(self):
        p = run_cli("idempotency", "purge", data=self.srv.data)
        return harness.json.loads(p.stdout)

    def test_the_cli_purges_what_expired_and_keeps_the_rest(self):
        self.create(self.a, "a-1")
        self.create(self.b, "b-1")
        retry = self.srv.client(self.a).post("/v1/orders", order_body(), headers={"Idempotency-Key": "a-1"})
        self.assertEqual(retry.status, 409, "same key, another body: the record is there")

        out = self.purge()
        self.assertEqual((out["visited"], out["purged"]), (2, 0), out)
        self.assertEqual(out["ttl_seconds"], 7 * DAY)

        # A's test clock: 6 days later the record is still honoured and kept.
        r = self.srv.client(self.a).post("/v1/test_clock/advance", {"seconds": 6 * DAY})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.purge()["purged"], 0)
        again = self.srv.client(self.a).post("/v1/orders", order_body(), headers={"Idempotency-Key": "a-1"})
        self.assertEqual(again.status, 409, "6 days old: still honoured")

        # Two more days: past 7 days for A only.
        r = self.srv.client(self.a).post("/v1/test_clock/advance", {"seconds": 2 * DAY})
        self.assertEqual(r.status, 200, r.body)
        seq = head_seq(self.srv)
        out = self.purge()
        self.assertEqual((out["visited"], out["purged"]), (2, 1), out)
        self.assertEqual(head_seq(self.srv), seq, "a purge appends nothing to the log")
        self.assertEqual(self.purge(), {"visited": 1, "purged": 0, "ttl_seconds": 7 * DAY})

        # A's key is free again; B's record still answers a retry with its body.
        self.create(self.a, "a-1")
        b_retry = self.srv.client(self.b).post("/v1/orders", order_body(), headers={"Idempotency-Key": "b-1"})
        self.assertEqual(b_retry.status, 409, b_retry.body)
        self.assertEqual(b_retry.json["error"]["param"], "Idempotency-Key")

        p = run_cli("replay", data=self.srv.data)
        self.assertIn("all projections equal", p.stdout)

    def test_the_server_sweeps_soon_after_it_starts(self):
        self.create(self.a, "a-1")
        self.create(self.a, "a-2")
        self.create(self.b, "b-1")
        r = self.srv.client(self.a).post("/v1/test_clock/advance", {"seconds": 8 * DAY})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.srv.stop(), 0, self.srv.stderr_text)
        self.srv.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not metric(self.srv, "caisse_idempotency_sweeps_total"):
            time.sleep(0.1)
        self.assertEqual(metric(self.srv, "caisse_idempotency_sweeps_total"), 1, "one sweep, bounded wait")
        self.assertEqual(metric(self.srv, "caisse_idempotency_visited_total"), 3)
        self.assertEqual(metric(self.srv, "caisse_idempotency_purged_total"), 2)
        self.assertEqual(self.purge(), {"visited": 1, "purged": 0, "ttl_seconds": 7 * DAY})

    def test_bad_command_lines_are_refused(self):
        for args in (("idempotency",), ("idempotency", "sweep"), ("idempotency", "purge", "--all")):
            p = run_cli(*args, data=self.srv.data, check=False)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr.startswith("caisse:"), p.stderr)
        missing = self.srv.data + "-missing"
        p = run_cli("idempotency", "purge", data=missing, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, f"caisse: no store in {missing}\n")
        self.assertFalse(os.path.exists(missing), "nothing made where there was no store")


if __name__ == "__main__":
    unittest.main()
