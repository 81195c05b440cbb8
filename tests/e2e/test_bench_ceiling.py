"""tools/bench/lmdb_ceiling, the store's ceiling that tools/bench/run.sh
prints beside the server's figures: on a data directory written by the real
server it copies every database whole (it checks that itself), prints its
one result line, and refuses bad arguments and a used destination."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import Server, create_merchant, order_body

BUILD_DIR = os.environ.get("CAISSE_BUILD_DIR") or os.path.join(harness.ROOT, "build")
TOOL = os.path.join(BUILD_DIR, "lmdb_ceiling")
ORDERS = 7
LINE = re.compile(r"^BENCH_LMDB per_commit=(\d+) checkouts=(\d+) commits=(\d+) seconds=[\d.]+ "
                  r"checkouts_per_s=\d+ commit_ms_mean=[\d.]+ commit_ms_p99=[\d.]+ "
                  r"file_kib_per_checkout=[\d.]+ flags=(durable|nometasync|nosync)$")

srv = None


def setUpModule():
    global srv
    srv = Server()
    key = create_merchant(srv.data)["test_secret_key"]
    srv.start()
    c = srv.client(key)
    for _ in range(ORDERS):
        r = c.post("/v1/orders", order_body())
        assert r.status == 201, r.body
    c.close()
    assert srv.stop() == 0, srv.stderr_text


def tearDownModule():
    srv.cleanup()


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120)


class LmdbCeiling(unittest.TestCase):
    def setUp(self):
        self.dst = tempfile.mkdtemp(prefix="caisse-ceiling-")
        self.addCleanup(shutil.rmtree, self.dst, True)

    def test_copies_every_checkout_in_commits_of_the_given_size(self):
        for per, flags, want in ((3, [], "durable"), (ORDERS, ["--nometasync"], "nometasync")):
            dst = tempfile.mkdtemp(prefix="caisse-ceiling-")
            self.addCleanup(shutil.rmtree, dst, True)
            p = run(srv.data, dst, str(per), *flags)
            self.assertEqual(p.returncode, 0, p.stderr)
            m = LINE.match(p.stdout.strip())
            self.assertIsNotNone(m, p.stdout)
            self.assertEqual(int(m.group(1)), per)
            self.assertEqual(int(m.group(2)), ORDERS)
            self.assertEqual(int(m.group(3)), -(-ORDERS // per))
            self.assertEqual(m.group(4), want)

    def test_the_copy_is_an_environment_caisse_can_read_back(self):
        p = run(srv.data, self.dst, "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        dump = harness.run_cli("events", "dump", data=self.dst).stdout.splitlines()
        orig = harness.run_cli("events", "dump", data=srv.data).stdout.splitlines()
        self.assertEqual(len(orig), 1 + 2 * ORDERS)   # merchant.created, then two events an order
        self.assertEqual(dump, orig)

    def test_refuses_a_destination_that_holds_an_environment(self):
        self.assertEqual(run(srv.data, self.dst, "4").returncode, 0)
        p = run(srv.data, self.dst, "4")
        self.assertEqual(p.returncode, 2)
        self.assertIn("already holds an environment", p.stderr)

    def test_refuses_bad_arguments(self):
        for args in ((srv.data, self.dst, "0"), (srv.data, self.dst, "x"), (srv.data, self.dst),
                     (srv.data, self.dst, "4", "--fast")):
            p = run(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr.startswith("lmdb_ceiling:") or p.stderr.startswith("usage:"), p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dst, "data.mdb")))

    def test_refuses_a_source_without_orders(self):
        empty = tempfile.mkdtemp(prefix="caisse-ceiling-src-")
        self.addCleanup(shutil.rmtree, empty, True)
        create_merchant(empty)
        p = run(empty, self.dst, "4")
        self.assertEqual(p.returncode, 2)
        self.assertIn("has no orders", p.stderr)


if __name__ == "__main__":
    unittest.main()
