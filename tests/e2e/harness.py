"""End-to-end harness: starts the real caisse binary on a free port and talks
to it with Python's standard library only (http.client), never our own code.

Every exchange made through Client is appended to an NDJSON file so that the
OpenAPI validator (tests/openapi/validate.mjs, an npm package we did not write)
can check each response against the served document at the end of a module.
"""
import calendar
import datetime
import email
import email.policy
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

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
        # stderr goes to a file: a pipe nobody drains would block a chatty
        # server; stop() reads it (sanitizer reports, exit messages).
        fd, self.stderr_path = tempfile.mkstemp(prefix="caisse-stderr-", suffix=".txt")
        with os.fdopen(fd, "w") as err_file:
            self.proc = subprocess.Popen(
                [BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0", *self.args],
                stdout=subprocess.PIPE, stderr=err_file, text=True, env=env)
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
            self.proc.wait(timeout=10)
            raise AssertionError(f"caisse did not become ready: {line!r} {self.read_stderr()}")
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
            self.stderr_text = self.read_stderr()
        return code

    def read_stderr(self):
        """What the server wrote to stderr so far (its file is then removed)."""
        path, self.stderr_path = getattr(self, "stderr_path", None), None
        if not path:
            return ""
        try:
            with open(path, errors="replace") as f:
                return f.read()
        finally:
            os.unlink(path)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.read_stderr()

    def cleanup(self):
        """Stops the server if it runs and removes its data. A server that
        this stop finds exiting non-zero, or reporting a sanitizer finding
        (a leak at exit under ASan), fails the caller."""
        code, err = None, ""
        if self.proc and self.proc.poll() is None:
            code = self.stop()
            err = getattr(self, "stderr_text", "")
        if self.owns_data:
            shutil.rmtree(self.data, ignore_errors=True)
        if code is not None and (code != 0 or "Sanitizer" in err or "runtime error:" in err):
            raise AssertionError(f"caisse exited {code}:\n{err[-4000:]}")


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


def unix(text):
    """An ISO 8601 date-time (UTC) as Unix seconds, for the test clock."""
    return calendar.timegm(datetime.datetime.fromisoformat(text).timetuple())


def half_up(amount, bp):
    """amount × bp / 10000 rounded half away from zero, as the fee policies
    round (amounts may be negative: a commission given back)."""
    sign = -1 if amount < 0 else 1
    return sign * ((2 * abs(amount) * bp + 10000) // 20000)


def money(minor):
    """Minor units as the reports print them: "-12.34"."""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def eur(minor):
    return money(minor) + " EUR"


def card(number="4242424242424242", exp_month=12, exp_year=2030, cvc="123"):
    """A card of the simulated acquirer (docs/cards.md: 4242… succeeds)."""
    return {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}


def module_server(module_name, **server_args):
    """setUpModule and tearDownModule for a test module that shares one
    server, as the module's global `srv`: started before its first test;
    stopped (a non-zero exit or a sanitizer report fails the module) and its
    exchanges checked against the OpenAPI document after its last."""
    import sys
    module = sys.modules[module_name]

    def set_up():
        module.srv = Server(**server_args).start()
        print(seed_note())

    def tear_down():
        module.srv.cleanup()
        validate_exchanges()

    return set_up, tear_down


def mails(data, match, wait_for=1, timeout=10):
    """The parsed messages of a server's mail spool (data/mail-spool/new)
    that match(), once at least `wait_for` of them are there or the timeout
    passed: the outbox reaches the spool after the event's commit."""
    d = os.path.join(data, "mail-spool", "new")
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                m = email.message_from_bytes(f.read(), policy=email.policy.default)
            if match(m):
                found.append(m)
        if len(found) >= wait_for or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def head_seq(srv):
    """The log's head sequence: a refused request must leave it unchanged."""
    c = srv.client()
    try:
        return c.get("/healthz").json["head_seq"]
    finally:
        c.close()


def fetch_raw(srv, key, path):
    """GET returning (status, content type, raw bytes, Content-Disposition) —
    the Client decodes text — and recording the exchange for the OpenAPI
    check like Client."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    r = conn.getresponse()
    body, ctype, status = r.read(), r.getheader("Content-Type"), r.status
    disposition = r.getheader("Content-Disposition")
    conn.close()
    with open(EXCHANGES, "a") as f:
        f.write(json.dumps({"method": "GET", "path": path.split("?")[0], "status": status, "content_type": ctype,
                            "body": body.decode("utf-8", "replace")}) + "\n")
    return status, ctype, body, disposition


def pdf_text(body):
    """Renders every page of a PDF with pdftoppm (each a non-empty PNG) and
    returns the document's text from pdftotext -layout."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.pdf")
        with open(path, "wb") as f:
            f.write(body)
        subprocess.run(["pdftoppm", "-png", "-r", "40", path, os.path.join(d, "page")], check=True,
                       capture_output=True, timeout=60)
        pngs = [p for p in os.listdir(d) if p.endswith(".png")]
        assert pngs, "no page rendered"
        for p in pngs:
            with open(os.path.join(d, p), "rb") as f:
                png = f.read()
            assert png.startswith(b"\x89PNG") and len(png) > 500, len(png)
        return subprocess.run(["pdftotext", "-layout", path, "-"], check=True, capture_output=True, text=True,
                              timeout=60).stdout


def totals_lines(text):
    """The totals rows of a report's table in pdftotext's text: "Total" then amounts."""
    return [line for line in text.splitlines() if re.match(r"^Total\s+-?[0-9]", line.strip())]


def xlsx_rows(body):
    """Each sheet's rows of an XLSX ({name: rows}), read by an independent reader
    (tests/reports/read_xlsx.mjs: read-excel-file, pinned in the lockfile)."""
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.xlsx")
        with open(path, "wb") as f:
            f.write(body)
        p = subprocess.run(["node", "reports/read_xlsx.mjs", path], cwd=tests, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


class MerchantCase(unittest.TestCase):
    """A test with a merchant of its own, MERCHANT = (name, country), on the
    module's server (server(): a subclass returns its module's), its test
    clock, and the ledger audit after each test (`caisse audit ledger`: every
    merchant's postings sum to zero per currency)."""

    MERCHANT = ("Boutique", "FR")

    @staticmethod
    def server():
        raise NotImplementedError("the module's MerchantCase returns its server")

    def setUp(self):
        self.srv = self.server()
        self.m = create_merchant(self.srv.data, *self.MERCHANT)
        self.key = self.m["test_secret_key"]
        self.api = self.srv.client(self.key)

    def tearDown(self):
        self.api.close()
        p = run_cli("audit", "ledger", data=self.srv.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(" 0 unbalanced", p.stdout)

    def clock_to(self, text):
        r = self.api.post("/v1/test_clock/advance", {"to": unix(text)})
        self.assertEqual(r.status, 200, r)

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)

    def pay(self, amount, number="4242424242424242", **extra):
        """A card payment at order, captured: the payment."""
        body = {"amount": amount, "currency": "EUR", "card": card(number)}
        body.update(extra)
        r = self.api.post("/v1/payments", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def shipped(self, lines):
        """A pay-in-3 order of `lines` ((unit price, quantity), …) created,
        confirmed and shipped whole: the order as created."""
        r = self.api.post("/v1/orders", order_body(lines))
        self.assertEqual(r.status, 201, r)
        o = r.json
        self.assertEqual(self.api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
        r = self.api.post(f"/v1/orders/{o['id']}/shipments", {})
        self.assertEqual((r.status, r.json["status"]), (201, "shipped"), r)
        return o

    def disbursements(self):
        r = self.api.get("/v1/disbursements")
        self.assertEqual(r.status, 200, r)
        return r.json["data"]


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
