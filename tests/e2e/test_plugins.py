"""Lua plugins in the real server (docs/plugins.md): the shipped WooCommerce
adapter ships and cancels orders from WooCommerce-shaped webhooks; plugins that
loop, blow memory or reach for os/io fail alone with 500 plugin_failed while
the API and the other plugins keep serving; a malformed manifest and a route
collision are reported in GET /v1/plugins; reload (SIGHUP and the operator
API) picks up a changed plugin and keeps the old one when the new one is
broken; a plugin command on another merchant's order fails 404 and records
nothing; plugin routes need a merchant's API key."""
import json
import os
import shutil
import signal
import tempfile
import time
import unittest

import harness
from harness import Server, create_merchant, order_body

WOO_SRC = os.path.join(harness.ROOT, "plugins", "woocommerce")


def manifest(name, routes, version="1.0.0"):
    return json.dumps({"name": name, "version": version, "description": f"test plugin {name}",
                       "routes": [{"method": m, "path": p} for m, p in routes]})


BAD = {
    # name: (plugin.lua, word expected in the error, source:line expected)
    "looper": ("caisse.route('GET', '/run', function(req)\n  while true do end\nend)\n",
               "instruction budget", "looper/plugin.lua:2"),
    "pcalllooper": ("caisse.route('GET', '/run', function(req)\n  pcall(function() while true do end end)\n"
                    "  return {status = 200}\nend)\n", "instruction budget", "pcalllooper/plugin.lua:"),
    "bomber": ("caisse.route('GET', '/run', function(req)\n  local t = {}\n"
               "  for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\nend)\n", "memory cap", None),
    "execer": ("caisse.route('GET', '/run', function(req)\n  return os.execute('touch /tmp/caisse-pwned')\nend)\n",
               "os", "execer/plugin.lua:2"),
    "ioer": ("caisse.route('GET', '/run', function(req)\n  return io.open('/etc/passwd')\nend)\n",
             "io", "ioer/plugin.lua:2"),
    "raiser": ("caisse.route('GET', '/run', function(req)\n  error('boom from the plugin')\nend)\n",
               "boom from the plugin", "raiser/plugin.lua:2"),
}

# Ships whatever order id the request names: used to try another merchant's order.
SHIPPER = """
caisse.route('POST', '/ship', function(req)
  return {status = 200, body = {asked = req.json.order},
          commands = {{op = 'ship', order = req.json.order, params = {}}}}
end)
caisse.route('GET', '/echo/{word}', function(req)
  return {body = {method = req.method, path = req.path, word = req.params.word, q = req.query.q,
                  ua = req.headers['x-test'], auth = req.headers['authorization'] or 'hidden',
                  merchant = req.merchant.id, livemode = req.merchant.livemode}}
end)
"""


def versioned(v):
    return f"caisse.route('GET', '/version', function() return {{body = {{version = '{v}'}}}} end)\n"


def write_plugin(name, lua, man=None):
    d = os.path.join(pdir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write(man if man is not None else manifest(name, [("GET", "/run")]))
    with open(os.path.join(d, "plugin.lua"), "w") as f:
        f.write(lua)


def setUpModule():
    global srv, m, other, api, api_other, op, pdir, token, tdir
    pdir = tempfile.mkdtemp(prefix="caisse-plugins-")
    tdir = tempfile.mkdtemp(prefix="caisse-plugins-token-")
    shutil.copytree(WOO_SRC, os.path.join(pdir, "woocommerce"))
    for name, (lua, _, _) in BAD.items():
        write_plugin(name, lua)
    write_plugin("shipper", SHIPPER, manifest("shipper", [("POST", "/ship"), ("GET", "/echo/{word}")]))
    write_plugin("versioned", versioned("v1"), manifest("versioned", [("GET", "/version")]))
    write_plugin("malformed", "caisse.route('GET', '/run', function() return {} end)\n",
                 '{"name": "malformed", "version": "1.0.0", "routes": [{"method": "GET"}]')
    write_plugin("wrongname", "", manifest("another-name", []))
    write_plugin("collision", "caisse.route('GET', '/run', function() return {} end)\n",
                 manifest("collision", [("GET", "/run"), ("GET", "/run")]))
    write_plugin("doubleroute", "caisse.route('GET', '/run', function() return {} end)\n"
                                "caisse.route('GET', '/run', function() return {} end)\n")
    token = "op-" + str(harness.rng.randrange(10**12))
    tfile = os.path.join(tdir, "operator.token")
    with open(tfile, "w") as f:
        f.write(token + "\n")
    srv = Server(args=["--plugin-dir", pdir, "--operator-token-file", tfile]).start()
    m = create_merchant(srv.data, "Woo shop", "FR")
    other = create_merchant(srv.data, "Other shop", "FR")
    api = srv.client(m["test_secret_key"])
    api_other = srv.client(other["test_secret_key"])
    op = srv.client(token)


def tearDownModule():
    for c in (api, api_other, op):
        c.close()
    srv.cleanup()
    shutil.rmtree(pdir, ignore_errors=True)
    shutil.rmtree(tdir, ignore_errors=True)
    harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


def confirmed_order(client=None, reference=None):
    client = client or api
    o = client.post("/v1/orders", order_body(reference=reference))
    assert o.status == 201, o
    r = client.post(f"/v1/orders/{o.json['id']}/confirm", {})
    assert r.status == 200, r
    return r.json


def woo_payload(number, status):
    """The fields of WooCommerce's order webhook the adapter reads, with some it ignores."""
    return {"id": 700 + harness.rng.randrange(10**6), "parent_id": 0, "number": number, "order_key": "wc_order_x",
            "created_via": "checkout", "status": status, "currency": "EUR", "total": "300.00",
            "billing": {"first_name": "Camille", "last_name": "Martin", "country": "FR"},
            "line_items": [{"id": 1, "name": "Item 0", "product_id": 42, "sku": "SKU-0", "quantity": 3,
                            "total": "300.00"}]}


def plugin_entry(name):
    r = op.get("/v1/plugins")
    assert r.status == 200, r
    for p in r.json["data"]:
        if p["name"] == name:
            return p
    return None


class WooCommerce(unittest.TestCase):
    def test_completed_ships_the_order(self):
        ref = f"WC-{harness.rng.randrange(10**9)}"
        o = confirmed_order(reference=ref)
        r = api.post("/plugins/woocommerce/webhook", woo_payload(ref, "completed"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "ship")
        self.assertEqual(r.json["order"], o["id"])
        self.assertEqual(r.json["results"][0]["status"], 201, r)
        self.assertEqual(r.json["results"][0]["body"]["status"], "shipped")
        g = api.get(f"/v1/orders/{o['id']}")
        self.assertEqual(g.json["status"], "shipped")
        self.assertEqual(len(g.json["shipments"]), 1)
        # WooCommerce redelivers webhooks: the second one changes nothing
        seq = head_seq()
        r = api.post("/plugins/woocommerce/webhook", woo_payload(ref, "completed"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertEqual(head_seq(), seq)

    def test_cancelled_cancels_a_confirmed_order(self):
        ref = f"WC-{harness.rng.randrange(10**9)}"
        o = confirmed_order(reference=ref)
        r = api.post("/plugins/woocommerce/webhook", woo_payload(ref, "cancelled"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "cancel")
        self.assertEqual(r.json["results"][0]["status"], 200, r)
        g = api.get(f"/v1/orders/{o['id']}").json
        self.assertEqual(g["status"], "cancelled")
        self.assertEqual(g["cancellation"]["reason"], "customer_request")

    def test_processing_is_a_no_op(self):
        ref = f"WC-{harness.rng.randrange(10**9)}"
        o = confirmed_order(reference=ref)
        seq = head_seq()
        r = api.post("/plugins/woocommerce/webhook", woo_payload(ref, "processing"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["action"], "none")
        self.assertNotIn("results", r.json)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(api.get(f"/v1/orders/{o['id']}").json["status"], "confirmed")

    def test_unknown_reference_is_404(self):
        seq = head_seq()
        r = api.post("/plugins/woocommerce/webhook", woo_payload("NO-SUCH-REF", "completed"))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json["error"]["code"], "resource_missing")
        self.assertEqual(head_seq(), seq)

    def test_another_merchants_reference_is_not_found(self):
        ref = f"WC-{harness.rng.randrange(10**9)}"
        o = confirmed_order(client=api_other, reference=ref)
        seq = head_seq()
        r = api.post("/plugins/woocommerce/webhook", woo_payload(ref, "completed"))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(api_other.get(f"/v1/orders/{o['id']}").json["status"], "confirmed")

    def test_not_json_is_400(self):
        r = api.post("/plugins/woocommerce/webhook", raw="not json", headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 400, r)


class Requests(unittest.TestCase):
    def test_unauthenticated_is_401(self):
        for key in (None, "sk_test_not_a_key"):
            c = srv.client(key)
            r = c.post("/plugins/woocommerce/webhook", woo_payload("1", "completed"))
            c.close()
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json["error"]["code"], "api_key_invalid")

    def test_unknown_plugin_route_method(self):
        self.assertEqual(api.get("/plugins/nosuch/x").status, 404)
        self.assertEqual(api.get("/plugins/woocommerce/nope").status, 404)
        r = api.get("/plugins/woocommerce/webhook")
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.header("Allow"), "POST")

    def test_request_table(self):
        r = api.get("/plugins/shipper/echo/hello?q=a%20b", headers={"X-Test": "yes"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"method": "GET", "path": "/echo/hello", "word": "hello", "q": "a b", "ua": "yes",
                                  "auth": "hidden", "merchant": m["id"], "livemode": False})

    def test_command_on_another_merchants_order_is_404(self):
        theirs = confirmed_order(client=api_other)
        seq = head_seq()
        r = api.post("/plugins/shipper/ship", {"order": theirs["id"]})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json["results"][0]["status"], 404)
        self.assertEqual(r.json["results"][0]["body"]["error"]["code"], "resource_missing")
        self.assertEqual(head_seq(), seq, "nothing recorded")
        self.assertEqual(api_other.get(f"/v1/orders/{theirs['id']}").json["status"], "confirmed")
        # the same plugin on the merchant's own order works
        mine = confirmed_order()
        r = api.post("/plugins/shipper/ship", {"order": mine["id"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["results"][0]["status"], 201)

    def test_bad_command_fails_before_anything(self):
        seq = head_seq()
        r = api.post("/plugins/shipper/ship", {"order": "not-an-order"})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(head_seq(), seq)


class Sandbox(unittest.TestCase):
    def test_each_bad_plugin_fails_alone(self):
        ref = f"WC-{harness.rng.randrange(10**9)}"
        o = confirmed_order(reference=ref)
        for name, (_, word, where) in BAD.items():
            with self.subTest(plugin=name):
                seq = head_seq()
                t0 = time.monotonic()
                r = api.get(f"/plugins/{name}/run")
                self.assertEqual(r.status, 500, r)
                self.assertEqual(r.json["error"]["code"], "plugin_failed")
                self.assertIn(f"plugin {name}", r.json["error"]["message"])
                self.assertIn(word, r.json["error"]["message"])
                if where:
                    self.assertIn(where, r.json["error"]["message"])
                self.assertLess(time.monotonic() - t0, 20)
                self.assertEqual(head_seq(), seq)
                # the API and the other plugins keep serving
                self.assertEqual(api.get(f"/v1/orders/{o['id']}").status, 200)
                self.assertEqual(api.get("/plugins/versioned/version").status, 200)
        self.assertFalse(os.path.exists("/tmp/caisse-pwned"))
        r = api.post("/plugins/woocommerce/webhook", woo_payload(ref, "completed"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(api.get(f"/v1/orders/{o['id']}").json["status"], "shipped")
        # a second round: the states were rebuilt after the budget failures
        for name in BAD:
            self.assertEqual(api.get(f"/plugins/{name}/run").status, 500)


class Listing(unittest.TestCase):
    def test_list_needs_the_operator(self):
        self.assertEqual(api.get("/v1/plugins").status, 401)
        c = srv.client()
        self.assertEqual(c.get("/v1/plugins").status, 401)
        c.close()

    def test_malformed_and_collisions_are_reported(self):
        names = {p["name"]: p for p in op.get("/v1/plugins").json["data"]}
        self.assertEqual(names["woocommerce"]["status"], "loaded")
        self.assertEqual(names["woocommerce"]["version"], "1.0.0")
        self.assertEqual(names["woocommerce"]["routes"],
                         [{"method": "POST", "path": "/webhook", "mounted_at": "/plugins/woocommerce/webhook"}])
        self.assertEqual(names["shipper"]["status"], "loaded")
        for bad, word in [("malformed", "manifest.json"), ("wrongname", "folder"),
                          ("collision", "route collision"), ("doubleroute", "route collision")]:
            with self.subTest(plugin=bad):
                self.assertEqual(names[bad]["status"], "failed")
                self.assertIn(word, names[bad]["error"])
                r = api.get(f"/plugins/{bad}/run")
                self.assertEqual(r.status, 500, r)
                self.assertEqual(r.json["error"]["code"], "plugin_failed")
        self.assertIn("doubleroute/plugin.lua:2", names["doubleroute"]["error"])


class Reload(unittest.TestCase):
    def version(self):
        r = api.get("/plugins/versioned/version")
        self.assertEqual(r.status, 200, r)
        return r.json["version"]

    def test_reload_sighup_then_admin(self):
        self.assertEqual(self.version(), "v1")
        write_plugin("versioned", versioned("v2"), manifest("versioned", [("GET", "/version")], "1.0.1"))
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.version() != "v2" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.version(), "v2")
        self.assertEqual(plugin_entry("versioned")["version"], "1.0.1")

        write_plugin("versioned", versioned("v3"), manifest("versioned", [("GET", "/version")], "1.0.2"))
        r = op.post("/v1/admin/plugins/reload", {})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["reloaded"])
        self.assertEqual(self.version(), "v3")

        # a broken version: reported, the old one keeps serving
        write_plugin("versioned", "caisse.route('GET', '/version', function() end\n",
                     manifest("versioned", [("GET", "/version")], "1.0.3"))
        r = op.post("/v1/admin/plugins/reload")
        self.assertEqual(r.status, 200, r)
        entry = [p for p in r.json["data"] if p["name"] == "versioned"][0]
        self.assertEqual(entry["status"], "loaded")
        self.assertEqual(entry["version"], "1.0.2")
        self.assertIn("reload failed", entry["error"])
        self.assertIn("versioned/plugin.lua", entry["error"])
        self.assertEqual(self.version(), "v3")

        # a new plugin folder is picked up
        write_plugin("latecomer", "caisse.route('GET', '/run', function() return {body = 'hi'} end)\n")
        op.post("/v1/admin/plugins/reload", {})
        r = api.get("/plugins/latecomer/run")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, "hi")

        write_plugin("versioned", versioned("v4"), manifest("versioned", [("GET", "/version")], "1.0.4"))
        self.assertEqual(op.post("/v1/admin/plugins/reload", {}).status, 200)
        self.assertEqual(self.version(), "v4")
        self.assertNotIn("error", plugin_entry("versioned"))

    def test_reload_needs_the_operator(self):
        self.assertEqual(api.post("/v1/admin/plugins/reload", {}).status, 401)


if __name__ == "__main__":
    unittest.main()
