"""End-to-end harness: starts the real caisse binary on a free port and talks
to it with Python's standard library only (http.client), never our own code.

Every exchange made through Client is appended to an NDJSON file so that the
OpenAPI validator (tests/openapi/validate.mjs, an npm package we did not write)
can check each response against the served document at the end of a module.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("CAISSE_BIN") or os.path.join(ROOT, "build", "caisse")
EXCHANGES = os.environ.get("CAISSE_EXCHANGES") or os.path.join(tempfile.gettempdir(), f"caisse-exchanges-{os.getpid()}.ndjson")
SEED = int(os.environ.get("CAISSE_TEST_SEED") or random.SystemRandom().randrange(1 << 30))
rng = random.Random(SEED)


def seed_note():
    return f"(CAISSE_TEST_SEED={SEED})"


def run_cli(*args, data=None, check=True, timeout=60):
    """Runs `caisse ARGS...`; returns CompletedProcess with text output."""
    cmd = [BIN, *args]
    if data is not None:
        cmd += ["--data", data]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def create_merchant(data, name="Shop", country="FR", extra=()):
    p = run_cli("merchant", "create", "--name", name, "--country", country, *extra, data=data)
    return json.loads(p.stdout)


class Server:
    """A caisse process on 127.0.0.1 with its own data directory."""

    def __init__(self, data=None, args=(), env=None):
        self.owns_data = data is None
        self.data = data or tempfile.mkdtemp(prefix="caisse-e2e-")
        self.args = list(args)
        self.env = env
        self.proc = None
        self.port = None

    def start(self, timeout=20):
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + timeout
        # The server prints one readiness line with its port; wait for it, bounded.
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = ""
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                line = self.proc.stdout.readline()
                if line.startswith("caisse listening on http://"):
                    break
                if line == "":
                    break
        sel.close()
        if not line.startswith("caisse listening on"):
            self.proc.kill()
            err = self.proc.stderr.read()
            raise AssertionError(f"caisse did not become ready: {line!r} {err}")
        self.port = int(line.split()[3].rsplit(":", 1)[1].split("/")[0])
        return self

    def client(self, key=None):
        return Client(self.port, key)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        code = self.proc.returncode if self.proc else None
        if self.proc:
            self.proc.stdout.close()
            self.stderr_text = self.proc.stderr.read()
            self.proc.stderr.close()
        return code

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.stop()
        if self.owns_data:
            shutil.rmtree(self.data, ignore_errors=True)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Client:
    """A keep-alive HTTP/1.1 client (http.client) with a Bearer key."""

    def __init__(self, port, key=None, timeout=30):
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=None, record=True):
        h = {}
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                out = Response(r.status, r.getheaders(), r.read().decode("utf-8", "replace"))
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server may close an idle keep-alive connection: reconnect once
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt == 1:
                    raise
        if record:
            with open(EXCHANGES, "a") as f:
                f.write(json.dumps({"method": method, "path": path.split("?")[0], "status": out.status,
                                    "content_type": out.header("Content-Type"), "body": out.body}) + "\n")
        return out

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def close(self):
        self.conn.close()


def order_body(amount_lines=((10000, 3),), plan="pay_in_3", email=None, currency="EUR", reference=None,
               shop="main", card="4242424242424242", **extra):
    """A valid checkout body; amount is the sum of the lines."""
    lines = [{"type": "product", "reference": f"SKU-{i}", "name": f"Item {i}", "unit_price": p,
              "quantity": q, "tax_rate": 2000} for i, (p, q) in enumerate(amount_lines)]
    amount = sum(p * q for p, q in amount_lines)
    body = {
        "reference": reference or f"R-{rng.randrange(10**9)}",
        "shop": shop,
        "currency": currency,
        "amount": amount,
        "plan": plan,
        "lines": lines,
        "customer": {
            "first_name": "Camille", "last_name": "Martin",
            "email": email or "camille.martin@example.com",
            "phone": "+33612345678", "birth_date": "1990-04-12",
            "id_document": {"type": "national_id", "number": "X4RTBPFW4"},
            "billing_address": {"line1": "1 rue de Rivoli", "postal_code": "75001", "city": "Paris", "country": "FR"},
        },
        "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }
    body.update(extra)
    return body


def validate_exchanges():
    """Runs the npm OpenAPI validator over the exchanges recorded so far."""
    validator = os.path.join(ROOT, "tests", "openapi", "validate.mjs")
    if not os.path.exists(EXCHANGES):
        return
    p = subprocess.run(["node", validator, "--exchanges", EXCHANGES], capture_output=True, text=True,
                       timeout=120, cwd=os.path.join(ROOT, "tests"))
    os.unlink(EXCHANGES)
    if p.returncode != 0:
        raise AssertionError("responses do not match the OpenAPI document:\n" + p.stdout + p.stderr)
