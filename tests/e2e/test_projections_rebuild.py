"""`caisse projections rebuild`: when a projection is not what the log gives
(here an order document overwritten and an entry added behind caisse's back
with lmdb-utils' mdb_load, as an upgrade that changed a fold would leave it),
replay reports it, the rebuild replaces exactly that projection from the log,
and replay, audit and the API agree again. It refuses to run beside a
server, and does nothing to a store that is already right."""
import json
import os
import subprocess
import unittest

from harness import Server, create_merchant, order_body, run_cli

srv = None
key = None
orders = []


def setUpModule():
    global srv, key
    srv = Server()
    key = create_merchant(srv.data)["test_secret_key"]
    srv.start()
    c = srv.client(key)
    for _ in range(3):
        r = c.post("/v1/orders", order_body())
        assert r.status == 201, r.body
        orders.append(r.json)
    c.close()
    assert srv.stop() == 0, srv.stderr_text


def tearDownModule():
    srv.cleanup()


def orders_db():
    """The orders projection as lmdb-utils reads it: {key: value}."""
    out = subprocess.run(["mdb_dump", "-p", "-s", "orders", srv.data], capture_output=True, text=True,
                         check=True, timeout=60).stdout.splitlines()
    body = out[out.index("HEADER=END") + 1:out.index("DATA=END")]
    return {body[i].strip(): body[i + 1].strip() for i in range(0, len(body), 2)}


def tamper(pairs):
    text = "".join(f"{k}\n{v}\n" for k, v in pairs)
    subprocess.run(["mdb_load", "-T", "-s", "orders", srv.data], input=text, text=True, check=True, timeout=60)


class ProjectionsRebuild(unittest.TestCase):
    def test_1_a_right_store_is_left_alone(self):
        before = orders_db()
        p = run_cli("projections", "rebuild", data=srv.data)
        self.assertIn("nothing to rebuild", p.stdout)
        self.assertIn("rebuild: 0 projections rebuilt from the log", p.stdout)
        self.assertEqual(orders_db(), before)

    def test_2_a_drifted_projection_is_rebuilt_from_the_log(self):
        good = orders_db()
        victim = orders[1]["id"]
        self.assertIn(victim, good)
        tamper([(victim, json.dumps({"id": victim, "tampered": True})),
                ("ord_01ZZZZZZZZZZZZZZZZZZZZZZZZ", json.dumps({"bogus": True}))])
        self.assertNotEqual(orders_db(), good)

        p = run_cli("replay", data=srv.data, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stdout, r"projection orders: .* DIFFERENT")

        # Not beside a running server: it keeps documents in memory.
        srv.start()
        p = run_cli("projections", "rebuild", data=srv.data, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("stop it first", p.stderr)
        self.assertEqual(srv.stop(), 0, srv.stderr_text)
        self.assertIn("tampered", orders_db()[victim], "the refusal changed nothing")

        p = run_cli("projections", "rebuild", data=srv.data)
        self.assertRegex(p.stdout, r"projection orders: rebuilt from the log, 6 entries")
        self.assertIn("rebuild: 1 projection rebuilt from the log", p.stdout)
        self.assertNotIn("projection ledger: rebuilt", p.stdout, "only what differed is replaced")
        self.assertEqual(orders_db(), good)

        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)
        self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)
        srv.start()
        try:
            c = srv.client(key)
            r = c.get(f"/v1/orders/{victim}")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json, orders[1])
            self.assertEqual(c.get("/v1/orders/ord_01ZZZZZZZZZZZZZZZZZZZZZZZZ").status, 404)
            c.close()
        finally:
            self.assertEqual(srv.stop(), 0, srv.stderr_text)

    def test_3_bad_command_lines_are_refused(self):
        for args in (("projections",), ("projections", "repair"), ("projections", "rebuild", "--force")):
            p = run_cli(*args, data=srv.data, check=False)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr.startswith("caisse:"), p.stderr)
        missing = srv.data + "-missing"
        p = run_cli("projections", "rebuild", data=missing, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no store in", p.stderr)
        self.assertFalse(os.path.exists(missing), "nothing made where there was no store")

    def test_4_a_broken_log_is_not_rebuilt_from(self):
        before = orders_db()
        # event 2's record replaced: format byte, a wrong hash, some JSON
        key = "".join("\\%02x" % b for b in (2).to_bytes(8, "big"))
        value = "\\01" + "\\00" * 32 + "{}"
        subprocess.run(["mdb_load", "-T", "-s", "log", srv.data], input=f"{key}\n{value}\n", text=True,
                       check=True, timeout=60)
        self.assertEqual(run_cli("audit", "verify", data=srv.data, check=False).returncode, 1)
        p = run_cli("projections", "rebuild", data=srv.data, check=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("event 2", p.stderr)
        self.assertEqual(orders_db(), before, "nothing replaced")


if __name__ == "__main__":
    unittest.main()
