"""Signed webhooks end to end: a Node receiver (tests/webhooks/receiver.mjs)
verifies every delivery with the npm `standardwebhooks` library; endpoints
CRUD, filters, retries with backoff (scaled by --webhook-backoff-scale),
restart mid-retry, tampering, rotation, redirects, 410, SSRF refusals, a dead
endpoint that must not delay anything else, bad input and tenancy."""
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Server, create_merchant, order_body

RECEIVER = os.path.join(harness.ROOT, "tests", "webhooks", "receiver.mjs")
TESTS_DIR = os.path.join(harness.ROOT, "tests")
SCALE = "0.0001"          # 24 h of backoff = 8.64 s


class Receiver:
    """The Node receiver; its stdout lines are collected by a thread."""

    def __init__(self, tls=None):
        self.scheme = "https" if tls else "http"
        self.proc = subprocess.Popen(["node", RECEIVER, "serve", *(["--tls", *tls] if tls else [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=TESTS_DIR)
        first = self.proc.stdout.readline()
        if not first:
            raise AssertionError("receiver did not start: " + self.proc.stderr.read())
        self.port = json.loads(first)["port"]
        self.deliveries = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            d = json.loads(line)
            with self.lock:
                self.deliveries.append(d)

    def url(self, path, host="127.0.0.1"):
        return f"{self.scheme}://{host}:{self.port}{path}"

    def control(self, path, mode="ok", secrets=()):
        import http.client
        import ssl
        if self.scheme == "https":
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                            context=ssl._create_unverified_context())
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/_control", body=json.dumps({"path": path, "mode": mode, "secrets": list(secrets)}))
        assert c.getresponse().status == 200
        c.close()

    def at(self, path):
        with self.lock:
            return [d for d in self.deliveries if d["path"] == path]

    def wait(self, path, pred, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if pred(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting at {path}; have {len(self.at(path))} deliveries "
                             f"{[json.loads(d['body'])['type'] for d in self.at(path)]}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()


def verify_with_node(secret, body, headers):
    """Webhook.verify of the npm standardwebhooks package; True if it accepts."""
    p = subprocess.run(["node", RECEIVER, "verify"], input=json.dumps({"secret": secret, "body": body,
                                                                       "headers": headers}),
                       capture_output=True, text=True, timeout=30, cwd=TESTS_DIR)
    return p.returncode == 0


def setUpModule():
    global srv, rcv, m, m2, api, api_live, api_other
    rcv = Receiver()
    srv = Server(args=["--webhook-backoff-scale", SCALE]).start()
    m = create_merchant(srv.data, "Boutique Webhooks", "FR")
    m2 = create_merchant(srv.data, "Other Shop", "FR")
    api = srv.client(m["test_secret_key"])
    api_live = srv.client(m["live_secret_key"])
    api_other = srv.client(m2["test_secret_key"])


def tearDownModule():
    for c in (api, api_live, api_other):
        c.close()
    srv.cleanup()
    rcv.stop()
    harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


def new_endpoint(path, events=("order.*",), mode="ok", client=None, **extra):
    body = {"url": rcv.url(path), "enabled_events": list(events), "allow_private_network": True}
    body.update(extra)
    r = (client or api).post("/v1/webhook_endpoints", body)
    assert r.status == 201, r
    rcv.control(path, mode, [r.json["secret"]])
    return r.json


def new_order(client=None, confirm=False):
    r = (client or api).post("/v1/orders", order_body())
    assert r.status == 201, r
    if confirm:
        c = (client or api).post(f"/v1/orders/{r.json['id']}/confirm", {})
        assert c.status == 200, c
    return r.json["id"]


def order_events(order_id, client=None):
    r = (client or api).get(f"/v1/events?object_id={order_id}")
    assert r.status == 200, r
    return r


def types_of(deliveries):
    return [json.loads(d["body"])["type"] for d in deliveries]


def wait_attempts(endpoint_id, pred, timeout=20.0, client=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = (client or api).get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries?limit=100")
        assert r.status == 200, r
        if pred(r.json["data"]):
            return r.json["data"]
        time.sleep(0.1)
    raise AssertionError(f"timed out; attempts: {r.json['data'][:5]}")


class Delivery(unittest.TestCase):
    def test_order_events_arrive_signed_and_filtered(self):
        ep = new_endpoint("/orders")
        cust = new_endpoint("/customers", events=["customer.created"])
        oid = new_order(confirm=True)
        got = rcv.wait("/orders", lambda d: {"order.created", "order.approved", "order.confirmed"} <= set(types_of(d)))
        mine = [d for d in got if json.loads(d["body"])["aggregate_id"] == oid]
        self.assertEqual(sorted(types_of(mine)), ["order.approved", "order.confirmed", "order.created"])
        events = order_events(oid)
        for d in mine:
            self.assertEqual(d["verified"], [True], d["errors"])
            self.assertEqual(d["method"], "POST")
            self.assertEqual(d["content_type"], "application/json")
            self.assertTrue(d["headers"]["webhook-id"].startswith("msg_"))
            self.assertTrue(d["headers"]["webhook-signature"].startswith("v1,"))
            self.assertLess(abs(int(d["headers"]["webhook-timestamp"]) - time.time()), 60)
            # the body is the event exactly as /v1/events shows it, byte for byte
            self.assertIn(d["body"], events.body)
        # the customer endpoint got the customer, never an order event
        got = rcv.wait("/customers", lambda d: len(d) >= 1)
        self.assertEqual(set(types_of(got)), {"customer.created"})
        self.assertEqual(got[0]["verified"], [True])
        self.assertFalse(any(json.loads(d["body"])["type"].startswith("customer.") for d in rcv.at("/orders")))
        # the delivery log shows each success
        log = wait_attempts(ep["id"], lambda a: len([x for x in a if x["result"] == "succeeded"]) >= 3)
        ok = [a for a in log if a["event_id"] in {json.loads(d["body"])["id"] for d in mine}]
        self.assertEqual(len(ok), 3)
        for a in ok:
            self.assertEqual(a["status_code"], 200)
            self.assertEqual(a["attempt"], 1)
            self.assertEqual(a["response_excerpt"], "thanks")
            self.assertIsNone(a["next_attempt_at"])
            self.assertGreaterEqual(a["latency_ms"], 0)
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")
        api.request("DELETE", f"/v1/webhook_endpoints/{cust['id']}")

    def test_tampered_deliveries_are_rejected_by_the_verifier(self):
        ep = new_endpoint("/tamper")
        new_order()
        d = rcv.wait("/tamper", lambda d: len(d) >= 1)[0]
        secret = ep["secret"]
        self.assertTrue(verify_with_node(secret, d["body"], d["headers"]), "the original verifies")
        body = json.loads(d["body"])
        body["data"]["risk_decision"] = "forged"
        self.assertFalse(verify_with_node(secret, json.dumps(body, separators=(",", ":")), d["headers"]), "body")
        self.assertFalse(verify_with_node(secret, d["body"] + " ", d["headers"]), "one byte more")
        wid = d["headers"]["webhook-id"]
        h = dict(d["headers"], **{"webhook-id": wid[:-1] + ("Y" if wid.endswith("Z") else "Z")})
        self.assertFalse(verify_with_node(secret, d["body"], h), "id")
        h = dict(d["headers"], **{"webhook-timestamp": str(int(d["headers"]["webhook-timestamp"]) + 1)})
        self.assertFalse(verify_with_node(secret, d["body"], h), "timestamp")
        other = api.post("/v1/webhook_endpoints", {"url": rcv.url("/x"), "enabled_events": ["*"],
                                                   "allow_private_network": True}).json
        self.assertFalse(verify_with_node(other["secret"], d["body"], d["headers"]), "another endpoint's secret")
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")
        api.request("DELETE", f"/v1/webhook_endpoints/{other['id']}")

    def test_receiver_down_for_a_day_then_up_loses_nothing(self):
        ep = new_endpoint("/down", mode="500")
        orders = [new_order() for _ in range(3)]
        t0 = time.monotonic()
        # failing for a (scaled) day: 24 h x 0.0001 = 8.64 s
        rcv.wait("/down", lambda d: len(d) >= 6 * 4, timeout=15)
        log = wait_attempts(ep["id"], lambda a: any(x["attempt"] >= 4 for x in a))
        failed = [a for a in log if a["result"] == "failed"]
        self.assertTrue(all(a["status_code"] == 500 and a["next_attempt_at"] for a in failed), failed[:2])
        time.sleep(max(0.0, 8.7 - (time.monotonic() - t0)))
        rcv.control("/down", "ok", [ep["secret"]])
        want = set()
        for oid in orders:
            want |= {e["id"] for e in order_events(oid).json["data"]}
        got = rcv.wait("/down", lambda d: want <= {json.loads(x["body"])["id"] for x in d if x["status"] == 200},
                       timeout=25)
        # every attempt of one event carried the same webhook-id, and it verified
        by_event = {}
        for d in got:
            by_event.setdefault(json.loads(d["body"])["id"], set()).add(d["headers"]["webhook-id"])
            self.assertEqual(d["verified"], [True], d["errors"])
        for eid in want:
            self.assertEqual(len(by_event[eid]), 1, f"webhook-id changed across retries of {eid}")
            self.assertGreater(sum(1 for d in got if json.loads(d["body"])["id"] == eid), 4, "it was retried")
        log = wait_attempts(ep["id"], lambda a: sum(1 for x in a if x["result"] == "succeeded") >= len(want))
        self.assertEqual(len({a["event_id"] for a in log if a["result"] == "succeeded"}), len(want))
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")

    def test_rotation_sends_both_signatures_during_the_overlap(self):
        ep = new_endpoint("/rotate")
        old = ep["secret"]
        r = api.post(f"/v1/webhook_endpoints/{ep['id']}/rotate_secret", {"expires_in_seconds": 3600})
        self.assertEqual(r.status, 200, r)
        new = r.json["secret"]
        self.assertNotEqual(new, old)
        self.assertTrue(new.startswith("whsec_"))
        rcv.control("/rotate", "ok", [old, new])
        new_order()
        d = rcv.wait("/rotate", lambda d: len(d) >= 1)[0]
        sigs = d["headers"]["webhook-signature"].split(" ")
        self.assertEqual(len(sigs), 2, d["headers"])
        self.assertEqual(d["verified"], [True, True], d["errors"])
        # each signature alone verifies with its own secret only
        one = [dict(d["headers"], **{"webhook-signature": s}) for s in sigs]
        self.assertEqual([verify_with_node(new, d["body"], h) for h in one], [True, False])
        self.assertEqual([verify_with_node(old, d["body"], h) for h in one], [False, True])
        # a rotation without overlap: the old secret stops at once
        r = api.post(f"/v1/webhook_endpoints/{ep['id']}/rotate_secret", {"expires_in_seconds": 0})
        self.assertEqual(r.status, 200, r)
        newest = r.json["secret"]
        rcv.control("/rotate2", "ok", [])
        api.request("PATCH", f"/v1/webhook_endpoints/{ep['id']}", body={"url": rcv.url("/rotate2")})
        rcv.control("/rotate2", "ok", [new, newest])
        new_order()
        d = rcv.wait("/rotate2", lambda d: len(d) >= 1)[0]
        self.assertEqual(len(d["headers"]["webhook-signature"].split(" ")), 1)
        self.assertEqual(d["verified"], [False, True])
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")

    def test_redirect_is_not_followed(self):
        ep = new_endpoint("/redirect", mode="302")
        new_order()
        log = wait_attempts(ep["id"], lambda a: len(a) >= 2)
        self.assertTrue(all(a["status_code"] == 302 and a["result"] == "failed" for a in log), log[:2])
        time.sleep(0.5)
        self.assertEqual(rcv.at("/redirected"), [], "the redirect target was requested")
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")

    def test_410_disables_the_endpoint(self):
        ep = new_endpoint("/gone", mode="410")
        new_order()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            g = api.get(f"/v1/webhook_endpoints/{ep['id']}")
            if not g.json["enabled"]:
                break
            time.sleep(0.1)
        self.assertFalse(g.json["enabled"], g)
        self.assertEqual(g.json["disabled_reason"], "endpoint_gone")
        log = wait_attempts(ep["id"], lambda a: len(a) >= 1)
        self.assertEqual(log[-1]["status_code"], 410)
        self.assertIsNone(log[-1]["next_attempt_at"], "a 410 is not retried")
        ev = api.get(f"/v1/events?object_id={ep['id']}").json["data"]
        self.assertEqual([e["type"] for e in ev][-1], "webhook_endpoint.disabled")
        self.assertEqual(ev[-1]["actor"], "webhooks")
        # disabled: later events are not sent to it
        n = len(rcv.at("/gone"))
        new_order()
        time.sleep(1.0)
        self.assertEqual(len(rcv.at("/gone")), n)
        # redelivery to a disabled endpoint is refused; re-enabling works
        r = api.post(f"/v1/webhook_endpoints/{ep['id']}/redeliver", {"since_seq": 1})
        self.assertEqual(r.status, 409, r)
        r = api.request("PATCH", f"/v1/webhook_endpoints/{ep['id']}", body={"enabled": True})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["enabled"])
        self.assertIsNone(r.json["disabled_reason"])
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")

    def test_redeliver_one_event_and_since_a_sequence(self):
        ep = new_endpoint("/again")
        oid = new_order()
        got = rcv.wait("/again", lambda d: len(d) >= 2)
        first = got[0]
        eid = json.loads(first["body"])["id"]
        r = api.post(f"/v1/webhook_endpoints/{ep['id']}/redeliver", {"event_id": eid})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["queued"], 1)
        again = rcv.wait("/again", lambda d: sum(1 for x in d if json.loads(x["body"])["id"] == eid) >= 2)
        same = [x for x in again if json.loads(x["body"])["id"] == eid]
        self.assertEqual({x["headers"]["webhook-id"] for x in same}, {first["headers"]["webhook-id"]})
        self.assertEqual({x["body"] for x in same}, {first["body"]})
        seqs = [e["seq"] for e in order_events(oid).json["data"]]
        n = len(rcv.at("/again"))
        r = api.post(f"/v1/webhook_endpoints/{ep['id']}/redeliver", {"since_seq": min(seqs)})
        self.assertEqual(r.status, 202, r)
        self.assertGreaterEqual(r.json["queued"], 2)
        self.assertIsNone(r.json["next_since_seq"])
        rcv.wait("/again", lambda d: len(d) >= n + r.json["queued"])
        # unknown event, event of a type the endpoint does not take, both fields, none
        bad = [({"event_id": "evt_00000000000000000000000000"}, 404, "event_id"),
               ({"event_id": "nope"}, 400, "event_id"),
               ({"event_id": eid, "since_seq": 1}, 400, "since_seq"),
               ({}, 400, "event_id"),
               ({"since_seq": 0}, 400, "since_seq"),
               ({"since_seq": 1, "x": 1}, 400, "x")]
        for body, status, param in bad:
            r = api.post(f"/v1/webhook_endpoints/{ep['id']}/redeliver", body)
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.json["error"]["param"], param, (body, r))
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")


class Isolation(unittest.TestCase):
    def test_dead_endpoint_delays_neither_others_nor_the_api(self):
        dead = new_endpoint("/dead", mode="hang")
        live = new_endpoint("/live")
        latencies = []
        orders = []
        for _ in range(6):   # 12 events: the dead endpoint holds at most 4 sockets
            t = time.monotonic()
            orders.append(new_order())
            latencies.append(time.monotonic() - t)
        self.assertLess(max(latencies), 1.0, latencies)
        t = time.monotonic()
        got = rcv.wait("/live", lambda d: len({json.loads(x["body"])["aggregate_id"] for x in d} & set(orders)) == 6
                       and len(d) >= 12, timeout=5)
        self.assertLess(time.monotonic() - t, 3.0)
        self.assertTrue(all(d["verified"] == [True] for d in got))
        self.assertGreaterEqual(len(rcv.at("/dead")), 1, "the dead endpoint was tried")
        self.assertLessEqual(len(rcv.at("/dead")), 4, "at most 4 attempts in flight per endpoint")
        t = time.monotonic()
        r = api.get("/v1/webhook_endpoints")
        self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - t, 0.5)
        api.request("DELETE", f"/v1/webhook_endpoints/{dead['id']}")
        api.request("DELETE", f"/v1/webhook_endpoints/{live['id']}")


class Ssrf(unittest.TestCase):
    def test_private_targets_refused_at_creation(self):
        seq = head_seq()
        for url in ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://localhost:9/",
                    "http://127.0.0.1:9/", "http://[::1]:9/", "http://[::ffff:10.0.0.1]/", "http://192.168.1.1/",
                    "http://172.16.0.1/", "http://100.64.0.1/", "http://[fe80::1]/", "http://0.0.0.0/",
                    "http://metadata.google.internal/"]:
            r = api.post("/v1/webhook_endpoints", {"url": url, "enabled_events": ["*"]})
            self.assertEqual(r.status, 400, (url, r))
            self.assertEqual(r.json["error"]["param"], "url", url)
        # metadata stays refused even with the test-mode flag
        r = api.post("/v1/webhook_endpoints", {"url": "http://169.254.169.254/", "enabled_events": ["*"],
                                               "allow_private_network": True})
        self.assertEqual(r.status, 400, r)
        r = api.request("PATCH", "/v1/webhook_endpoints/we_00000000000000000000000000",
                        body={"url": "http://169.254.169.254/"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(head_seq(), seq)

    def test_name_resolving_to_loopback_is_refused_without_a_connection(self):
        # 2130706433 is 127.0.0.1 written as one number: not an address literal
        # to the URL check, but getaddrinfo resolves it; the refusal must come
        # after resolution and before any connection.
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(8)
        lst.setblocking(False)
        port = lst.getsockname()[1]
        try:
            r = api.post("/v1/webhook_endpoints", {"url": f"http://2130706433:{port}/hook", "enabled_events": ["*"]})
            self.assertEqual(r.status, 201, r)
            ep = r.json
            new_order()
            log = wait_attempts(ep["id"], lambda a: len(a) >= 1)
            self.assertEqual(log[-1]["error"], "address_refused", log[-1])
            self.assertIn("loopback", log[-1]["error_detail"])
            self.assertIsNone(log[-1]["status_code"])
            time.sleep(0.3)
            with self.assertRaises(BlockingIOError):
                lst.accept()   # nothing ever connected
        finally:
            lst.close()
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")


class Endpoints(unittest.TestCase):
    def test_crud_and_secret_shown_once(self):
        r = api.post("/v1/webhook_endpoints", {"url": "https://hooks.example.com/caisse", "enabled_events":
                                               ["order.confirmed", "customer.*"], "description": "ERP"})
        self.assertEqual(r.status, 201, r)
        ep = r.json
        self.assertTrue(ep["id"].startswith("we_"))
        self.assertTrue(ep["secret"].startswith("whsec_"))
        self.assertEqual(ep["enabled"], True)
        self.assertEqual(ep["allow_private_network"], False)
        g = api.get(f"/v1/webhook_endpoints/{ep['id']}")
        self.assertEqual(g.status, 200)
        self.assertNotIn("secret", g.json)
        self.assertEqual({k: v for k, v in ep.items() if k != "secret"}, g.json)
        ids = [e["id"] for e in api.get("/v1/webhook_endpoints?limit=100").json["data"]]
        self.assertIn(ep["id"], ids)
        r = api.request("PATCH", f"/v1/webhook_endpoints/{ep['id']}",
                        body={"enabled_events": ["*"], "description": "all", "enabled": False})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["enabled_events"], ["*"])
        self.assertEqual(r.json["description"], "all")
        self.assertFalse(r.json["enabled"])
        self.assertNotIn("secret", r.json)
        # the secret is in no API output and not in clear in the log
        ev = api.get(f"/v1/events?object_id={ep['id']}")
        self.assertEqual([e["type"] for e in ev.json["data"]], ["webhook_endpoint.created", "webhook_endpoint.updated"])
        self.assertNotIn(ep["secret"], ev.body)
        self.assertNotIn(ep["secret"][6:], ev.body)
        dump = harness.run_cli("events", "dump", data=srv.data).stdout
        self.assertNotIn(ep["secret"][6:], dump)
        with open(os.path.join(srv.data, "data.mdb"), "rb") as f:
            self.assertNotIn(ep["secret"][6:].encode(), f.read())
        st = os.stat(os.path.join(srv.data, "master.key"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_size, 32)
        # delete
        r = api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"id": ep["id"], "object": "webhook_endpoint", "deleted": True})
        self.assertEqual(api.get(f"/v1/webhook_endpoints/{ep['id']}").status, 404)
        self.assertEqual(api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}").status, 404)
        ids = [e["id"] for e in api.get("/v1/webhook_endpoints?limit=100").json["data"]]
        self.assertNotIn(ep["id"], ids)

    def test_list_pagination(self):
        made = [api.post("/v1/webhook_endpoints", {"url": f"https://h{i}.example.com/", "enabled_events": ["*"]}).json["id"]
                for i in range(3)]
        seen, cursor = [], None
        while True:
            r = api.get("/v1/webhook_endpoints?limit=2" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(r.status, 200, r)
            seen += [e["id"] for e in r.json["data"]]
            if not r.json["has_more"]:
                break
            cursor = r.json["next_cursor"]
        self.assertEqual([i for i in seen if i in made], made)
        self.assertEqual(len(seen), len(set(seen)))
        for i in made:
            api.request("DELETE", f"/v1/webhook_endpoints/{i}")

    def test_bad_input_changes_nothing(self):
        seq = head_seq()
        before = api.get("/v1/webhook_endpoints?limit=100").json["data"]
        cases = [
            ({"url": "not a url", "enabled_events": ["*"]}, "url"),
            ({"url": "ftp://example.com/", "enabled_events": ["*"]}, "url"),
            ({"url": "https://user:pw@example.com/", "enabled_events": ["*"]}, "url"),
            ({"url": "https://token@example.com/", "enabled_events": ["*"]}, "url"),
            ({"url": "https://example.com/" + "a" * 2100, "enabled_events": ["*"]}, "url"),
            ({"url": "https://example.com/", "enabled_events": ["order.created", "order.exploded"]}, "enabled_events[1]"),
            ({"url": "https://example.com/", "enabled_events": ["invoice.*"]}, "enabled_events[0]"),
            ({"url": "https://example.com/", "enabled_events": []}, "enabled_events"),
            ({"url": "https://example.com/", "enabled_events": "order.*"}, "enabled_events"),
            ({"url": "https://example.com/", "enabled_events": ["*", "*"]}, "enabled_events[1]"),
            ({"url": "https://example.com/"}, "enabled_events"),
            ({"enabled_events": ["*"]}, "url"),
            ({"url": "https://example.com/", "enabled_events": ["*"], "secret": "whsec_mine"}, "secret"),
            ({"url": "https://example.com/", "enabled_events": ["*"], "enabled": "yes"}, "enabled"),
        ]
        for body, param in cases:
            r = api.post("/v1/webhook_endpoints", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param, (body, r))
        r = api_live.post("/v1/webhook_endpoints", {"url": "https://example.com/", "enabled_events": ["*"],
                                                    "allow_private_network": True})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"]["param"], "allow_private_network")
        r = api.request("POST", "/v1/webhook_endpoints", raw="{", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r)
        ep = api.post("/v1/webhook_endpoints", {"url": "https://example.com/", "enabled_events": ["*"]}).json
        seq = head_seq()
        for body, param in [({"url": "https://a:b@example.com/"}, "url"), ({"enabled_events": ["nope"]}, "enabled_events[0]"),
                            ({"allow_private_network": True}, "allow_private_network"), ({}, "")]:
            r = api.request("PATCH", f"/v1/webhook_endpoints/{ep['id']}", body=body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"].get("param", ""), param, (body, r))
        for body, param in [({"expires_in_seconds": -1}, "expires_in_seconds"),
                            ({"expires_in_seconds": 8 * 86400}, "expires_in_seconds"), ({"x": 1}, "x")]:
            r = api.post(f"/v1/webhook_endpoints/{ep['id']}/rotate_secret", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["error"]["param"], param)
        r = api.get(f"/v1/webhook_endpoints/{ep['id']}/deliveries?cursor=zzz")
        self.assertEqual(r.status, 400, r)
        r = api.get("/v1/webhook_endpoints?colour=red")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(head_seq(), seq)
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")
        after = api.get("/v1/webhook_endpoints?limit=100").json["data"]
        self.assertEqual(before, after)

    def test_other_merchant_and_other_mode_get_404(self):
        ep = api.post("/v1/webhook_endpoints", {"url": "https://example.com/t", "enabled_events": ["*"]}).json
        seq = head_seq()
        for client in (api_other, api_live):
            self.assertEqual(client.get(f"/v1/webhook_endpoints/{ep['id']}").status, 404)
            self.assertEqual(client.get(f"/v1/webhook_endpoints/{ep['id']}/deliveries").status, 404)
            r = client.request("PATCH", f"/v1/webhook_endpoints/{ep['id']}", body={"enabled": False})
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["error"]["param"], "id")
            self.assertEqual(client.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}").status, 404)
            self.assertEqual(client.post(f"/v1/webhook_endpoints/{ep['id']}/rotate_secret", {}).status, 404)
            self.assertEqual(client.post(f"/v1/webhook_endpoints/{ep['id']}/redeliver", {"since_seq": 1}).status, 404)
            ids = [e["id"] for e in client.get("/v1/webhook_endpoints").json["data"]]
            self.assertNotIn(ep["id"], ids)
        self.assertEqual(head_seq(), seq)
        self.assertEqual(api.get("/v1/webhook_endpoints/we_nope").status, 404)
        # the other merchant's orders never reach this merchant's endpoint
        api.request("DELETE", f"/v1/webhook_endpoints/{ep['id']}")


@unittest.skipUnless(shutil.which("openssl"), "openssl is needed to make a test certificate")
class Https(unittest.TestCase):
    """HTTPS through mbedTLS: a certificate of a test CA given with --webhook-ca-file."""

    def test_https_verifies_certificate_and_host_name(self):
        tmp = tempfile.mkdtemp(prefix="caisse-wh-tls-")
        key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True, timeout=60)
        tls = Receiver(tls=(key, cert))
        servers = []
        try:
            for ca in (cert, None):
                s = Server(args=["--webhook-ca-file", cert] if ca else []).start()
                servers.append(s)
                mm = create_merchant(s.data, "TLS Shop", "FR")
                c = s.client(mm["test_secret_key"])
                path = "/tls-trusted" if ca else "/tls-untrusted"
                good = c.post("/v1/webhook_endpoints", {"url": tls.url(path, host="localhost"), "enabled_events":
                                                        ["order.created"], "allow_private_network": True}).json
                tls.control(path, "ok", [good["secret"]])
                wrong = c.post("/v1/webhook_endpoints", {"url": tls.url("/tls-wrong-name"), "enabled_events":
                                                         ["order.created"], "allow_private_network": True}).json
                self.assertEqual(c.post("/v1/orders", order_body()).status, 201)
                log = wait_attempts(good["id"], lambda a: len(a) >= 1, client=c)
                if ca:
                    self.assertEqual(log[0]["result"], "succeeded", log[0])
                    d = tls.wait(path, lambda d: len(d) >= 1)[0]
                    self.assertEqual(d["verified"], [True])
                else:
                    self.assertEqual(log[0]["error"], "tls_failed", log[0])
                    self.assertIn("not trusted", log[0]["error_detail"])
                log = wait_attempts(wrong["id"], lambda a: len(a) >= 1, client=c)
                self.assertEqual(log[0]["error"], "tls_failed", log[0])   # 127.0.0.1 is not the certificate's name
                c.close()
            self.assertEqual(tls.at("/tls-untrusted"), [])
            self.assertEqual(tls.at("/tls-wrong-name"), [])
        finally:
            for s in servers:
                s.cleanup()
            tls.stop()
            shutil.rmtree(tmp, ignore_errors=True)


class Restart(unittest.TestCase):
    """A separate server: killed with SIGKILL while a delivery is being retried."""

    def test_kill9_mid_retry_still_delivers_after_restart(self):
        s = Server(args=["--webhook-backoff-scale", SCALE]).start()
        try:
            mm = create_merchant(s.data, "Restart Shop", "FR")
            c = s.client(mm["test_secret_key"])
            ep = c.post("/v1/webhook_endpoints", {"url": rcv.url("/restart"), "enabled_events": ["order.created"],
                                                  "allow_private_network": True}).json
            rcv.control("/restart", "500", [ep["secret"]])
            r = c.post("/v1/orders", order_body())
            self.assertEqual(r.status, 201, r)
            failed = rcv.wait("/restart", lambda d: len(d) >= 4, timeout=10)
            s.kill9()
            c.close()
            rcv.control("/restart", "ok", [ep["secret"]])
            time.sleep(0.2)
            s.start()
            c = s.client(mm["test_secret_key"])
            got = rcv.wait("/restart", lambda d: any(x["status"] == 200 for x in d), timeout=20)
            ok = [x for x in got if x["status"] == 200]
            self.assertEqual({x["headers"]["webhook-id"] for x in got}, {failed[0]["headers"]["webhook-id"]})
            self.assertEqual(ok[0]["verified"], [True])
            self.assertEqual(json.loads(ok[0]["body"])["aggregate_id"], r.json["id"])
            # the attempt is recorded after the receiver answered: wait for it, bounded
            log = wait_attempts(ep["id"], lambda a: a and a[0]["result"] != "failed", client=c)
            self.assertEqual(log[0]["result"], "succeeded")
            self.assertGreater(log[0]["attempt"], 1)
            c.close()
            self.assertEqual(s.stop(), 0)
            harness.run_cli("replay", data=s.data)
            harness.run_cli("audit", "verify", data=s.data)
        finally:
            s.cleanup()

    def test_failing_for_three_days_disables_and_mails(self):
        # 3 days x 0.00001 = 2.6 s; the last retry (24 h) comes at ~2.7 s
        s = Server(args=["--webhook-backoff-scale", "0.00001"]).start()
        try:
            mm = create_merchant(s.data, "Failing Shop", "FR")
            c = s.client(mm["test_secret_key"])
            ep = c.post("/v1/webhook_endpoints", {"url": rcv.url("/failing"), "enabled_events": ["order.created"],
                                                  "allow_private_network": True}).json
            rcv.control("/failing", "500", [ep["secret"]])
            self.assertEqual(c.post("/v1/orders", order_body()).status, 201)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                g = c.get(f"/v1/webhook_endpoints/{ep['id']}").json
                if not g["enabled"]:
                    break
                time.sleep(0.1)
            self.assertFalse(g["enabled"], g)
            self.assertEqual(g["disabled_reason"], "failing")
            # the outbox reaches the spool after the commit: wait for the notice, bounded
            sent = harness.mails(s.data, lambda m: m["Subject"] == "Webhook endpoint " + ep["id"] + " disabled")
            files = glob.glob(os.path.join(s.data, "mail-spool", "new", "mail_*.eml"))
            self.assertEqual(len(files), 1, files)
            self.assertEqual(len(sent), 1, sent)
            self.assertIn(mm["id"], sent[0].as_string())
            c.close()
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
