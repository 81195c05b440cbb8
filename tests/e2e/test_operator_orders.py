"""Operator actions on a plan: a partial early payment and a new due day."""
import os
import tempfile
import unittest

import harness
from harness import Server, create_merchant, order_body, run_cli


def setUpModule():
    global srv, api, op, tdir
    tdir = tempfile.mkdtemp(prefix="caisse-op-")
    token = "op-" + str(harness.rng.randrange(10**12))
    path = os.path.join(tdir, "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    srv = Server(args=["--operator-token-file", path]).start()
    api = srv.client(create_merchant(srv.data, "Ops", "FR")["test_secret_key"])
    op = srv.client(token)


def tearDownModule():
    api.close()
    op.close()
    srv.cleanup()
    os.unlink(os.path.join(tdir, "token"))
    os.rmdir(tdir)
    harness.validate_exchanges()


def running_order(plan="instalments_6", lines=((10000, 6),)):
    o = api.post("/v1/orders", order_body(lines, plan=plan)).json
    api.post(f"/v1/orders/{o['id']}/confirm", {})
    return api.post(f"/v1/orders/{o['id']}/shipments", {}).json


def head_seq():
    return api.get("/healthz").json["head_seq"]


class Operator(unittest.TestCase):
    def test_partial_early_payment(self):
        o = running_order()
        r = op.post(f"/v1/admin/orders/{o['id']}/early_payment", {"amount": 15000})
        self.assertEqual(r.status, 200, r)
        s = r.json["plan"]["schedule"]
        self.assertEqual([i["status"] for i in s], ["paid", "paid", "scheduled", "scheduled", "scheduled", "scheduled"])
        self.assertEqual((s[1]["amount"], s[1]["fee"]), (0, 0), "covered whole, not yet due: fee dropped")
        self.assertEqual(s[2]["amount"], 5000, "the rest of the payment reduces the next one")
        self.assertEqual(r.json["amount_paid"], o["amount_paid"] + 15000)
        acts = api.get(f"/v1/orders/{o['id']}/activity").json["data"]
        self.assertEqual((acts[-1]["type"], acts[-1]["actor"]), ("order.early_payment", "operator"))

    def test_move_due_day(self):
        o = running_order()
        r = op.post(f"/v1/admin/orders/{o['id']}/due_day", {"day": 31})
        self.assertEqual(r.status, 200, r)
        for inst in r.json["plan"]["schedule"][1:]:
            y, m, d = map(int, inst["due_date"].split("-"))
            import calendar
            self.assertEqual(d, calendar.monthrange(y, m)[1], "day 31 clamps to the month's end")
        self.assertEqual(r.json["plan"]["schedule"][0], o["plan"]["schedule"][0], "paid instalments stay")

    def test_refusals_change_nothing(self):
        o = running_order()
        cancelled = api.post("/v1/orders", order_body()).json
        api.post(f"/v1/orders/{cancelled['id']}/cancel", {"reason": "other"})
        cases = [(op, f"/v1/admin/orders/{o['id']}/early_payment", {"amount": 10**9}, 400, "amount"),
                 (op, f"/v1/admin/orders/{o['id']}/early_payment", {"amount": 0}, 400, "amount"),
                 (op, f"/v1/admin/orders/{o['id']}/due_day", {"day": 32}, 400, "day"),
                 (op, f"/v1/admin/orders/{o['id']}/due_day", {}, 400, "day"),
                 (op, f"/v1/admin/orders/{cancelled['id']}/due_day", {"day": 5}, 409, None),
                 (op, "/v1/admin/orders/ord_01ZZZZZZZZZZZZZZZZZZZZZZZZ/due_day", {"day": 5}, 404, "id"),
                 (api, f"/v1/admin/orders/{o['id']}/due_day", {"day": 5}, 401, None)]
        for client, path, body, status, param in cases:
            seq = head_seq()
            r = client.post(path, body)
            self.assertEqual(r.status, status, (path, body, r))
            self.assertEqual(r.json["error"].get("param"), param, (path, body))
            self.assertEqual(head_seq(), seq)

    def test_replay_equal(self):
        self.assertIn("all projections equal", run_cli("replay", data=srv.data).stdout)


if __name__ == "__main__":
    unittest.main()
