"""The HTTP server as a client sees it: keep-alive, pipelining, limits
(414/431/413/408), 404/405, health, metrics, graceful shutdown. Raw sockets
where http.client would hide what is on the wire."""
import re
import signal
import socket
import threading
import time
import unittest

import harness
from harness import Server, create_merchant, order_body

HEADER_TIMEOUT_MS = 600


def setUpModule():
    global srv, m, api
    srv = Server(args=["--header-timeout-ms", str(HEADER_TIMEOUT_MS), "--body-timeout-ms", "800",
                       "--idle-timeout-ms", "1500"]).start()
    m = create_merchant(srv.data, "HTTP shop", "FR")
    api = srv.client(m["test_secret_key"])


def tearDownModule():
    api.close()
    srv.cleanup()
    harness.validate_exchanges()


def raw(data, read_until_close=True, timeout=10):
    """Sends bytes on a fresh connection and returns everything read until the
    server closes (or the timeout)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    s.sendall(data)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if not read_until_close:
                break
    except socket.timeout:
        pass
    s.close()
    return out


def statuses(data):
    """Status codes of the responses in a raw byte stream, walking each
    response by its Content-Length (bodies may contain anything)."""
    out, i = [], 0
    while i < len(data):
        m = re.match(rb"HTTP/1\.[01] (\d{3}) [^\r]*\r\n", data[i:])
        if not m:
            break
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            break
        head = data[i:end].decode("latin-1")
        clen = re.search(r"(?im)^content-length:\s*(\d+)", head)
        out.append(int(m.group(1)))
        i = end + 4 + (int(clen.group(1)) if clen else 0)
    return out


class Protocol(unittest.TestCase):
    def test_keep_alive_and_pipelining_in_order(self):
        key = m["test_secret_key"]
        o = api.post("/v1/orders", order_body()).json
        reqs = (f"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                f"GET /v1/orders/{o['id']} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
                f"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                f"POST /v1/orders/{o['id']}/confirm HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
                f"GET /v1/orders/{o['id']} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n")
        out = raw(reqs.encode())
        self.assertEqual(statuses(out), [200, 200, 404, 200, 200], out[:2000])
        # the last GET sees the confirm that was pipelined before it
        self.assertIn(b'"status":"confirmed"', out.rsplit(b"HTTP/1.1 200", 1)[1])

    def test_404_and_405(self):
        r = api.get("/v1/nothing-here")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json["error"]["code"], "route_unknown")
        r = api.request("DELETE", "/v1/orders")
        self.assertEqual(r.status, 405)
        self.assertIn("GET", r.header("Allow"))
        self.assertIn("POST", r.header("Allow"))
        r = api.request("PUT", "/v1/orders/ord_x/confirm")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "POST")

    def test_uri_too_long(self):
        out = raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(statuses(out), [414], out[:300])

    def test_headers_too_large(self):
        out = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n")
        self.assertEqual(statuses(out), [431], out[:300])
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(70))
        out = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertEqual(statuses(out), [431], out[:300])

    def test_body_too_large(self):
        seq = api.get("/healthz").json["head_seq"]
        out = raw(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + m["test_secret_key"].encode() + b"\r\n"
                  b"Content-Length: 2000000\r\n\r\n{")
        self.assertEqual(statuses(out), [413], out[:300])
        out = raw(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  (b"100000\r\n" + b"a" * 0x100000 + b"\r\n") * 2 + b"0\r\n\r\n")
        self.assertEqual(statuses(out), [413], out[:300])
        self.assertEqual(api.get("/healthz").json["head_seq"], seq)

    def test_slow_head_gets_408(self):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        t0 = time.monotonic()
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        s.close()
        self.assertEqual(statuses(out), [408], out)
        self.assertLess(time.monotonic() - t0, 8)

    def test_malformed_request_is_400(self):
        out = raw(b"HELLO\r\n\r\n")
        self.assertEqual(statuses(out), [400], out)

    def test_idle_connection_closed(self):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(4096)
        self.assertIn(b"200", first.split(b"\r\n")[0])
        t0 = time.monotonic()
        rest = s.recv(4096)  # blocks until the server closes the idle connection
        self.assertEqual(rest, b"")
        self.assertLess(time.monotonic() - t0, 8)
        s.close()

    def test_http10(self):
        out = raw(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertIn(b" 200 ", out.split(b"\r\n")[0])


class Observability(unittest.TestCase):
    def test_healthz_and_metrics(self):
        r = srv.client().get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "ok")
        api.post("/v1/orders", order_body())
        r = srv.client().get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        text = r.body
        for name in ("caisse_http_requests_total", "caisse_http_request_duration_seconds_bucket",
                     "caisse_commits_total", "caisse_events_per_commit", "caisse_fsync_seconds"):
            self.assertIn(name, text)
        self.assertRegex(text, r'caisse_http_requests_total\{[^}]*route="/v1/orders"[^}]*status="201"[^}]*\} [1-9]')

    def test_openapi_served(self):
        r = srv.client().get("/v1/openapi.json")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.json["openapi"].startswith("3."))
        self.assertIn("/v1/orders", r.json["paths"])


class Shutdown(unittest.TestCase):
    def test_sigterm_answers_in_flight_writes(self):
        s2 = Server().start()
        try:
            mm = create_merchant(s2.data, "Shutdown", "FR")
            results, errors = [], []
            stop = threading.Event()

            def load():
                c = s2.client(mm["test_secret_key"])
                while not stop.is_set():
                    try:
                        r = c.post("/v1/orders", order_body(), record=False)
                        results.append((r.status, r.json.get("id") if r.json else None))
                    except OSError as e:
                        errors.append(e)
                        return
            ts = [threading.Thread(target=load) for _ in range(4)]
            for t in ts:
                t.start()
            time.sleep(0.3)
            code = s2.stop(signal.SIGTERM, timeout=20)
            stop.set()
            for t in ts:
                t.join(timeout=20)
            self.assertEqual(code, 0, getattr(s2, "stderr_text", ""))
            ok = [i for st, i in results if st == 201]
            self.assertGreater(len(ok), 0)
            self.assertTrue(all(st in (201, 503) for st, _ in results), results[-5:])
            # every acknowledged order is in the log after the restart
            s2.start()
            c = s2.client(mm["test_secret_key"])
            for oid in ok:
                self.assertEqual(c.get(f"/v1/orders/{oid}", record=False).status, 200, oid)
            c.close()
        finally:
            s2.cleanup()


if __name__ == "__main__":
    unittest.main()
