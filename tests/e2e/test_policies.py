"""Lua policies in the real server: a policy that loops, blows memory, raises
or reaches for os fails only its own request; reload (SIGHUP and the operator
API) picks up a changed policy and refuses a broken one."""
import os
import signal
import tempfile
import time
import unittest

import harness
from harness import Server, create_merchant, order_body

OVERRIDE = """
local base = caisse.policy.get("risk.decide")
caisse.policy.define("risk.decide", function(input)
  local ln = input.customer.last_name
  if ln == "Loop" then while true do end end
  if ln == "PcallLoop" then pcall(function() while true do end end) return {decision="approved"} end
  if ln == "Bomb" then local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end end
  if ln == "Raise" then error("boom from the override") end
  if ln == "Exec" then return os.execute("touch /tmp/caisse-pwned") end
  if ln == "Io" then return io.open("/etc/passwd") end
  if ln == "Require" then return require("os") end
  return base(input)
end)
"""

REVIEW_ALL = """
caisse.policy.define("risk.decide", function(input) return {decision = "review"} end)
"""


def setUpModule():
    global srv, m, api, pdir, token
    pdir = tempfile.mkdtemp(prefix="caisse-policies-")
    with open(os.path.join(pdir, "10-rules.lua"), "w") as f:
        f.write(OVERRIDE)
    token = "op-" + str(harness.rng.randrange(10**12))
    tfile = os.path.join(pdir, "operator.token")
    with open(tfile, "w") as f:
        f.write(token + "\n")
    srv = Server(args=["--policy-dir", pdir, "--operator-token-file", tfile]).start()
    m = create_merchant(srv.data, "Policy shop", "FR")
    api = srv.client(m["test_secret_key"])


def tearDownModule():
    api.close()
    srv.cleanup()
    for f in os.listdir(pdir):
        os.unlink(os.path.join(pdir, f))
    os.rmdir(pdir)
    harness.validate_exchanges()


def with_last_name(name):
    b = order_body()
    b["customer"]["last_name"] = name
    return b


def head_seq():
    return harness.head_seq(srv)


class Sandbox(unittest.TestCase):
    def test_each_bad_policy_fails_alone(self):
        for name, word in [("Loop", "budget"), ("PcallLoop", "budget"), ("Bomb", "memory"),
                           ("Raise", "boom from the override"), ("Exec", "os"), ("Io", "io"),
                           ("Require", "require")]:
            with self.subTest(name=name):
                seq = head_seq()
                t0 = time.monotonic()
                r = api.post("/v1/orders", with_last_name(name))
                self.assertEqual(r.status, 500, r)
                self.assertEqual(r.json["error"]["code"], "policy_failed")
                self.assertIn("risk.decide", r.json["error"]["message"])
                self.assertIn(word, r.json["error"]["message"])
                self.assertLess(time.monotonic() - t0, 20)
                self.assertEqual(head_seq(), seq, "nothing recorded")
                # the server keeps serving: a normal checkout right after works
                ok = api.post("/v1/orders", order_body())
                self.assertEqual(ok.status, 201, ok)
                self.assertEqual(ok.json["status"], "approved")
        self.assertFalse(os.path.exists("/tmp/caisse-pwned"))


class Reload(unittest.TestCase):
    def test_sighup_and_operator_reload(self):
        path = os.path.join(pdir, "10-rules.lua")
        with open(path, "w") as f:
            f.write(REVIEW_ALL)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        decision = None
        while time.monotonic() < deadline:
            decision = api.post("/v1/orders", order_body()).json["risk_decision"]
            if decision == "review":
                break
            time.sleep(0.05)
        self.assertEqual(decision, "review", "SIGHUP reloaded the policy")

        op = srv.client(token)
        # a broken file: the reload is refused and the running policy stays
        with open(path, "w") as f:
            f.write("caisse.policy.define('risk.decide', function(i) return {decision='approved'} end\n")
        r = op.post("/v1/admin/policies/reload", {})
        self.assertGreaterEqual(r.status, 400, r)
        self.assertIn("10-rules.lua", r.json["error"]["message"])
        self.assertEqual(api.post("/v1/orders", order_body()).json["risk_decision"], "review")

        # back to the defaults through the operator API
        os.unlink(path)
        r = op.post("/v1/admin/policies/reload", {})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["reloaded"])
        self.assertGreaterEqual(r.json["generation"], 2)
        self.assertEqual(api.post("/v1/orders", order_body()).json["risk_decision"], "approved")
        with open(path, "w") as f:
            f.write(OVERRIDE)
        self.assertEqual(op.post("/v1/admin/policies/reload", {}).status, 200)
        op.close()

        # the operator API wants the operator token, not a merchant key
        self.assertEqual(api.post("/v1/admin/policies/reload", {}).status, 401)
        self.assertEqual(srv.client("wrong").post("/v1/admin/policies/reload", {}).status, 401)


if __name__ == "__main__":
    unittest.main()
