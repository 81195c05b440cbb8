"""Crash test: a write load, `kill -9` at a random moment, restart, check.

One data directory lives across all rounds. Each round:
  1. a server is running (started fresh for round 1, the restarted one after);
  2. WRITERS threads, each with its own keep-alive connection, post orders
     (unique references; a mix of approved, rejected and review decisions) and
     confirm some of their own approved orders, recording every 2xx answer;
  3. after a random 50-400 ms the server gets SIGKILL;
  4. offline: `caisse audit verify` and `caisse replay` exit 0, and the log
     (`caisse events dump`) is whole: every `order.created` has its decision
     event (they are written in one transaction), every acknowledged order is
     in the log with its reference, every acknowledged confirm is logged;
  5. the server is restarted: every order acknowledged in this round GETs 200
     with the same reference and a status at least as advanced as the one
     acknowledged; every order of the log is in the projection (listed with
     status=all, its status and version equal to a fold of the log), and every
     order whose request was cut off by the kill is either absent or whole;
     a cut-off create that carried an Idempotency-Key is retried with it and
     must answer the committed order if there is one (no duplicate).

Rounds: CAISSE_CRASH_ROUNDS (default 20, about 20-30 s on 2 CPUs; 150 rounds
take about 12 min, the offline checks growing with the log); writer threads:
CAISSE_CRASH_WRITERS (default 8); CAISSE_CRASH_VERBOSE=1 prints each round.
A SIGKILL of the process leaves the page cache alone, so this proves the
commit protocol (nothing acknowledged before its commit, one transaction per
command, recovery), not the fsync itself. The seed is printed with any failure
(CAISSE_TEST_SEED reproduces the kill timings and the load mix, not the thread
interleaving).
"""
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import quote

import harness
from harness import Client, Server, create_merchant, order_body, run_cli, seed_note

ROUNDS = int(os.environ.get("CAISSE_CRASH_ROUNDS") or 20)
WRITERS = int(os.environ.get("CAISSE_CRASH_WRITERS") or 8)
KILL_AFTER_MS = (50, 400)
REQUEST_TIMEOUT_S = 5        # a request the dead server never answers fails by then
JOIN_TIMEOUT_S = 15          # writer threads stop by themselves well before this
SAMPLE_OLD = 200             # orders of earlier rounds re-read by GET after each restart
# The whole projection is listed and compared with the whole log after every
# restart in the default run; in longer runs every 10th round and the last one
# (between them, the orders the log gained are read by GET, and `caisse
# replay` proves the projections equal to the log after every kill).
FULL_EVERY = 1 if ROUNDS <= 20 else 10
DECISION_EVENTS = {"order.approved", "order.rejected", "order.review_requested"}
# The status a fold of the log gives after each order event.
FOLD_STATUS = {"order.created": "pending", "order.approved": "approved", "order.rejected": "rejected",
               "order.review_requested": "pending", "order.confirmed": "confirmed"}


def status_at_least(now, acked):
    """A status that a later event may have reached from the acknowledged one."""
    if now == acked:
        return True
    return acked == "approved" and now == "confirmed"


class Round:
    """What the writers of one round saw. Lists are appended under `lock`."""

    def __init__(self, number):
        self.number = number
        self.lock = threading.Lock()
        self.created = []        # (order id, reference, status) of each 2xx create
        self.confirmed = []      # order ids of each 2xx confirm
        self.cut_creates = []    # references of creates that got no answer
        self.cut_confirms = []   # order ids of confirms that got no answer
        self.cut_keyed = {}      # reference -> (body, Idempotency-Key) of cut creates that had a key
        self.refused = {}        # status -> count of non-2xx answers
        self.errors = []         # unexpected answers (bodies), reported at the end


class Writer(threading.Thread):
    """Posts orders and confirms until told to stop or the server is gone."""

    def __init__(self, port, key, rnd, index, stop, seed):
        super().__init__(daemon=True, name=f"writer-{rnd.number}-{index}")
        self.port, self.key, self.rnd, self.index, self.stop = port, key, rnd, index, stop
        self.rng = random.Random(seed)
        self.approved = []   # own approved, unconfirmed orders

    def run(self):
        c = Client(self.port, self.key, timeout=REQUEST_TIMEOUT_S)
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                if self.approved and self.rng.random() < 0.25:
                    oid = self.approved.pop(self.rng.randrange(len(self.approved)))
                    if not self.confirm(c, oid):
                        return
                else:
                    ref = f"CR-{self.rnd.number}-{self.index}-{n}-{self.rng.randrange(10**6)}"
                    if not self.create(c, ref):
                        return
        finally:
            c.close()

    def _send(self, c, method, path, body, headers=None):
        """The response, or None if the connection failed (the server died)."""
        try:
            return c.request(method, path, body=body, headers=headers, record=False)
        except (OSError, http.client.HTTPException):
            return None

    def create(self, c, ref):
        x = self.rng.random()
        email = ("camille+reject@example.com" if x < 0.15 else
                 "camille+review@example.com" if x < 0.30 else "camille@example.com")
        body = order_body(reference=ref, email=email)
        # half the creates carry an Idempotency-Key: a cut-off one is retried after the restart
        key = ref if self.rng.random() < 0.5 else None
        r = self._send(c, "POST", "/v1/orders", body, {"Idempotency-Key": key} if key else None)
        with self.rnd.lock:
            if r is None:
                self.rnd.cut_creates.append(ref)
                if key:
                    self.rnd.cut_keyed[ref] = (body, key)
                return False
            if 200 <= r.status < 300:
                o = r.json or {}
                self.rnd.created.append((o.get("id"), o.get("reference"), o.get("status")))
                if o.get("reference") != ref or not o.get("id"):
                    self.rnd.errors.append(f"create {ref} answered {r!r}")
                if o.get("status") == "approved":
                    self.approved.append(o["id"])
            else:
                self.note_refusal(r)
        return True

    def confirm(self, c, oid):
        r = self._send(c, "POST", f"/v1/orders/{oid}/confirm", {})
        with self.rnd.lock:
            if r is None:
                self.rnd.cut_confirms.append(oid)
                return False
            if 200 <= r.status < 300:
                self.rnd.confirmed.append(oid)
                if (r.json or {}).get("status") != "confirmed":
                    self.rnd.errors.append(f"confirm {oid} answered {r!r}")
            else:
                self.note_refusal(r)
        return True

    def note_refusal(self, r):
        self.rnd.refused[r.status] = self.rnd.refused.get(r.status, 0) + 1
        # Backpressure (429/503) is a legitimate answer under load; anything
        # else means the load itself is wrong or the server misbehaves.
        if r.status not in (429, 503):
            self.rnd.errors.append(f"unexpected {r!r}")


def read_log(data, orders, from_seq):
    """Folds the events from `from_seq` on into `orders` ({order id: {ref,
    types[], status, version}}); returns the ids it touched and the next seq.
    A kill cannot take back a committed event (audit verify proves the chain),
    so each round only reads what the log gained since the last one."""
    p = run_cli("events", "dump", "--from", str(from_seq), data=data, timeout=120)
    touched = set()
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        ev = json.loads(line)
        from_seq = max(from_seq, ev["seq"] + 1)
        t = ev.get("type", "")
        if not t.startswith("order."):
            continue
        oid = ev["aggregate_id"]
        o = orders.setdefault(oid, {"ref": None, "types": [], "status": None, "version": 0})
        if t == "order.created":
            o["ref"] = ev["data"]["order"]["reference"]
        o["types"].append(t)
        o["status"] = FOLD_STATUS.get(t, o["status"])
        o["version"] = ev.get("aggregate_version", o["version"] + 1)
        touched.add(oid)
    return touched, from_seq


class CrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix="caisse-crash-")
        cls.merchant = create_merchant(cls.data, name="Crash Shop")
        cls.key = cls.merchant["test_secret_key"]
        cls.server = None

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.cleanup()
        shutil.rmtree(cls.data, ignore_errors=True)

    def fail_note(self, msg):
        return f"{msg} {seed_note()}"

    def test_kill9_rounds(self):
        rng = random.Random(harness.SEED)
        acked = {}          # order id -> (reference, status) over all rounds
        acked_confirms = set()
        totals = {"created": 0, "confirmed": 0, "cut": 0, "cut_present": 0, "refused": 0, "retried_new": 0}
        log, next_seq = {}, 1   # the fold of the event log so far, and where it stops
        t0 = time.monotonic()
        srv = self.__class__.server = Server(self.data).start()
        for number in range(1, ROUNDS + 1):
            rnd = Round(number)
            stop = threading.Event()
            writers = [Writer(srv.port, self.key, rnd, i, stop, rng.randrange(1 << 30)) for i in range(WRITERS)]
            for w in writers:
                w.start()
            time.sleep(rng.uniform(*KILL_AFTER_MS) / 1000.0)
            srv.kill9()
            stop.set()
            for w in writers:
                w.join(JOIN_TIMEOUT_S)
            stuck = [w.name for w in writers if w.is_alive()]
            self.assertFalse(stuck, self.fail_note(f"round {number}: writers did not stop: {stuck}"))
            self.assertFalse(rnd.errors, self.fail_note(f"round {number}: unexpected answers: {rnd.errors[:5]}"))

            # -- offline: the log and the projections, as the kill left them
            audit = run_cli("audit", "verify", data=self.data, check=False, timeout=120)
            self.assertEqual(audit.returncode, 0,
                             self.fail_note(f"round {number}: audit verify failed: {audit.stderr.strip()}"))
            replay = run_cli("replay", data=self.data, check=False, timeout=120)
            self.assertEqual(replay.returncode, 0,
                             self.fail_note(f"round {number}: replay failed: {replay.stderr.strip()} "
                                            f"{replay.stdout.strip()[-500:]}"))
            touched, next_seq = read_log(self.data, log, next_seq)
            for oid in touched:
                o = log[oid]
                self.assertTrue(o["types"] and o["types"][0] == "order.created",
                                self.fail_note(f"round {number}: order {oid} logged without order.created: {o['types']}"))
                self.assertTrue(len(o["types"]) >= 2 and o["types"][1] in DECISION_EVENTS,
                                self.fail_note(f"round {number}: order {oid} half-present in the log "
                                               f"(no decision after order.created): {o['types']}"))
            for oid, ref, status in rnd.created:
                acked[oid] = (ref, status)
            for oid in rnd.confirmed:
                acked_confirms.add(oid)
                acked[oid] = (acked[oid][0], "confirmed") if oid in acked else (None, "confirmed")
            for oid, (ref, status) in acked.items():
                o = log.get(oid)
                self.assertIsNotNone(o, self.fail_note(f"round {number}: acknowledged order {oid} ({ref}) "
                                                       f"is not in the log after kill -9"))
                self.assertEqual(o["ref"], ref, self.fail_note(f"round {number}: order {oid} reference"))
                self.assertTrue(status_at_least(o["status"], status),
                                self.fail_note(f"round {number}: order {oid} acknowledged {status}, "
                                               f"log says {o['status']} ({o['types']})"))
            for oid in acked_confirms:
                self.assertIn("order.confirmed", log[oid]["types"],
                              self.fail_note(f"round {number}: acknowledged confirm of {oid} not logged"))

            # -- restart: the projections the server answers from
            srv = self.__class__.server = Server(self.data).start()
            c = Client(srv.port, self.key, timeout=REQUEST_TIMEOUT_S * 2)
            try:
                if number % FULL_EVERY == 0 or number == ROUNDS:
                    # the whole projection against the whole log
                    listed = self.list_all(c, number)
                    for oid, o in log.items():
                        doc = listed.get(oid)
                        self.assertIsNotNone(doc, self.fail_note(f"round {number}: logged order {oid} missing "
                                                                 f"from the projection after restart"))
                        self.assertEqual((doc.get("reference"), doc.get("status"), doc.get("version")),
                                         (o["ref"], o["status"], o["version"]),
                                         self.fail_note(f"round {number}: order {oid} projection differs from the log"))
                    self.assertEqual(set(listed) - set(log), set(),
                                     self.fail_note(f"round {number}: orders listed that the log does not hold"))
                else:
                    # what the log gained this round (replay proved the rest)
                    for oid in touched:
                        o = log[oid]
                        r = c.get(f"/v1/orders/{oid}", record=False)
                        self.assertEqual(r.status, 200, self.fail_note(f"round {number}: logged order {oid} "
                                                                       f"missing from the projection: {r!r}"))
                        self.assertEqual((r.json.get("reference"), r.json.get("status"), r.json.get("version")),
                                         (o["ref"], o["status"], o["version"]),
                                         self.fail_note(f"round {number}: order {oid} projection differs from the log"))
                # every order acknowledged this round, a sample of older ones,
                # and every cut-off order that made it: GET by id.
                this_round = {x[0] for x in rnd.created}
                older = [oid for oid in acked if oid not in this_round]
                check = [x[0] for x in rnd.created] + rnd.confirmed + \
                    rng.sample(older, min(SAMPLE_OLD, len(older)))
                cut_refs = set(rnd.cut_creates)
                cut_present = [oid for oid in touched if log[oid]["ref"] in cut_refs]
                cut_present += [oid for oid in rnd.cut_confirms if "order.confirmed" in log[oid]["types"]]
                for oid in check:
                    ref, status = acked[oid]
                    r = c.get(f"/v1/orders/{oid}", record=False)
                    self.assertEqual(r.status, 200, self.fail_note(f"round {number}: GET acknowledged {oid}: {r!r}"))
                    self.assertEqual(r.json.get("reference"), ref, self.fail_note(f"round {number}: {oid} reference"))
                    self.assertTrue(status_at_least(r.json.get("status"), status),
                                    self.fail_note(f"round {number}: {oid} acknowledged {status}, now {r!r}"))
                for oid in cut_present:
                    r = c.get(f"/v1/orders/{oid}", record=False)
                    self.assertEqual(r.status, 200, self.fail_note(f"round {number}: cut-off order {oid} is in the "
                                                                   f"log but GET says {r!r}"))
                    self.assertIn(r.json.get("status"), ("pending", "approved", "rejected", "confirmed"),
                                  self.fail_note(f"round {number}: cut-off order {oid}: {r!r}"))
                # a client retries its cut-off keyed creates: the same order if
                # it was committed, else a new one (acknowledged from now on)
                for ref, (body, key) in rnd.cut_keyed.items():
                    logged = [oid for oid in touched if log[oid]["ref"] == ref]
                    r = c.post("/v1/orders", body, headers={"Idempotency-Key": key}, record=False)
                    self.assertIn(r.status, (200, 201), self.fail_note(f"round {number}: retry of cut-off {ref}: {r!r}"))
                    if logged:
                        self.assertEqual(r.json.get("id"), logged[0],
                                         self.fail_note(f"round {number}: retry of committed cut-off {ref} with its "
                                                        f"Idempotency-Key made another order: {r!r}"))
                    else:
                        acked[r.json["id"]] = (ref, r.json["status"])
                        totals["retried_new"] += 1
            finally:
                c.close()
            cut = len(rnd.cut_creates) + len(rnd.cut_confirms)
            totals["created"] += len(rnd.created)
            totals["confirmed"] += len(rnd.confirmed)
            totals["cut"] += cut
            totals["cut_present"] += len(cut_present)
            totals["refused"] += sum(rnd.refused.values())
            if os.environ.get("CAISSE_CRASH_VERBOSE"):
                print(f"round {number}: {len(rnd.created)} created, {len(rnd.confirmed)} confirmed, "
                      f"{cut} cut off ({len(cut_present)} of them committed), refused {rnd.refused}, "
                      f"log {len(log)} orders, {time.monotonic() - t0:.1f}s", file=sys.stderr)
        srv.stop()
        self.__class__.server = None
        print(f"\ncrash: {ROUNDS} rounds in {time.monotonic() - t0:.1f}s: {totals['created']} orders and "
              f"{totals['confirmed']} confirms acknowledged, {totals['cut']} requests cut off by the kill "
              f"({totals['cut_present']} of them committed, whole; {totals['retried_new']} keyed creates retried "
              f"into new orders), {totals['refused']} refused "
              f"{seed_note()}", file=sys.stderr)
        self.assertGreater(totals["created"], 0, self.fail_note("the load never got an order acknowledged"))

    def list_all(self, c, number):
        """Every order of the merchant from the projection (status=all), by id."""
        out, cursor = {}, None
        for _ in range(100000):
            path = "/v1/orders?status=all&limit=100" + (f"&cursor={quote(cursor)}" if cursor else "")
            r = c.get(path, record=False)
            self.assertEqual(r.status, 200, self.fail_note(f"round {number}: list orders: {r!r}"))
            for o in r.json["data"]:
                self.assertNotIn(o["id"], out, self.fail_note(f"round {number}: {o['id']} listed twice"))
                out[o["id"]] = o
            if not r.json.get("has_more"):
                return out
            cursor = r.json["next_cursor"]
        self.fail(self.fail_note("list pagination does not end"))


if __name__ == "__main__":
    unittest.main()
