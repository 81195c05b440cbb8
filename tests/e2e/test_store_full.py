"""A full map (the store's size cap) fails the write with a clear 507, writes
nothing half, and reads go on; the log still verifies and replays."""
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli


def tearDownModule():
    harness.validate_exchanges()


class StoreFull(unittest.TestCase):
    def test_full_map_is_507_and_reads_go_on(self):
        srv = Server(args=["--map-max-bytes", str(2 << 20)]).start()
        try:
            m = create_merchant(srv.data, "Full", "FR")
            api = srv.client(m["test_secret_key"])
            first = api.post("/v1/orders", order_body())
            self.assertEqual(first.status, 201, first)
            full = None
            for i in range(5000):
                r = api.post("/v1/orders", order_body(((1000, 1), (2000, 2), (3000, 3))), record=False)
                if r.status != 201:
                    full = r
                    break
            self.assertIsNotNone(full, "the map never filled")
            self.assertEqual(full.status, 507, full)
            self.assertEqual(full.json["error"]["code"], "storage_full")
            seq = api.get("/healthz").json["head_seq"]
            # reads go on
            g = api.get(f"/v1/orders/{first.json['id']}")
            self.assertEqual(g.status, 200)
            self.assertEqual(api.get("/v1/orders?status=all&limit=5").status, 200)
            # a second refused write leaves the log as it was
            self.assertEqual(api.post("/v1/orders", order_body(), record=False).status, 507)
            self.assertEqual(api.get("/healthz").json["head_seq"], seq)
            api.close()
            self.assertEqual(srv.stop(), 0)
            self.assertIn("hash chain intact", run_cli("audit", "verify", data=srv.data).stdout)
            self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    unittest.main()
