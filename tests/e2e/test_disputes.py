"""Disputes (chargebacks) of card payments against the real binary, under the
test clock: opened by the test API or by the disputing test card two days
after capture; lost by expiry, won with evidence uploaded as real
multipart/form-data (files checked by content, stored content-addressed
beside the log), accepted, not contestable; the flat fee and its VAT from
fees.compute per country; and bad input of every kind answered with a 4xx
naming the field while the log, the evidence and the disk stay unchanged."""
import hashlib
import os
import socket
import struct
import unittest
import zlib
from email import policy
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import harness
from harness import Server, create_merchant, run_cli

DAY = 86400
GOOD = "4242424242424242"
DISPUTING = "4000000000000259"
FEE = 1500                                               # fees.compute: 15.00 EUR flat
VAT = {"FR": 300, "ES": 315, "PT": 345, "IT": 330}       # 20, 21, 23, 22 % of the fee


def setUpModule():
    global srv
    srv = Server().start()


def tearDownModule():
    try:
        out = run_cli("replay", data=srv.data).stdout
        assert "all projections equal" in out, out
    finally:
        srv.cleanup()
        harness.validate_exchanges()


def head_seq():
    return harness.head_seq(srv)


# ---- files and bodies ------------------------------------------------------------

def pdf(text="Bon de livraison"):
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n% " + text.encode() +
            b"\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def png(shade=0):
    """A real 1x1 PNG; each shade is a different file."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    raw = b"\x00" + bytes([shade, 255 - shade, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes([0xff, 0xd9])


def form(*parts, boundary="----caisse-test-7MA4YWxkTrZu0gW"):
    """A multipart/form-data body built by hand (RFC 7578): parts are
    (name, value) for fields or (name, filename, content_type, data) for files."""
    out = b""
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        if len(p) == 2:
            name, value = p
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += value if isinstance(value, bytes) else value.encode()
        else:
            name, filename, ctype, data = p
            out += f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode()
            out += f"Content-Type: {ctype}\r\n\r\n".encode() + data
        out += b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, f"multipart/form-data; boundary={boundary}"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def stored(data):
    """Whether the evidence store holds this content."""
    h = sha(data)
    return os.path.exists(os.path.join(srv.data, "evidence", h[:2], h))


class DisputesBase(unittest.TestCase):
    country = "FR"

    def setUp(self):
        # a merchant per test: each moves its own test clock
        self.m = create_merchant(srv.data, "Boutique", self.country)
        self.api = srv.client(self.m["test_secret_key"])

    def tearDown(self):
        self.api.close()

    def pay(self, amount=12000, number=GOOD, **extra):
        b = {"amount": amount, "currency": "EUR",
             "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
        b.update(extra)
        r = self.api.post("/v1/payments", b)
        self.assertEqual(r.status, 201, r)
        return r.json

    def open(self, payment, status=201, **extra):
        r = self.api.post("/v1/test/disputes", dict(payment=payment["id"], **extra))
        self.assertEqual(r.status, status, r)
        return r.json

    def advance(self, seconds):
        r = self.api.post("/v1/test_clock/advance", {"seconds": seconds})
        self.assertEqual(r.status, 200, r)
        return r.json

    def get(self, dispute_id):
        r = self.api.get(f"/v1/disputes/{dispute_id}")
        self.assertEqual(r.status, 200, r)
        return r.json

    def upload(self, dispute_id, *parts, headers=None):
        body, ctype = form(*parts)
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return self.api.post(f"/v1/disputes/{dispute_id}/evidence", raw=body, headers=h)

    def events(self, aggregate_id):
        r = self.api.get("/v1/events?limit=100")
        self.assertEqual(r.status, 200, r)
        return [e for e in r.json["data"] if e["aggregate_id"] == aggregate_id]   # oldest first

    def refused(self, r, status, param, code=None):
        """A refusal: the status, the named field, a message."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"].get("param"), param, r)
        self.assertTrue(r.json["error"]["message"])
        if code:
            self.assertEqual(r.json["error"]["code"], code, r)


class Lifecycle(DisputesBase):
    def test_lost_by_expiry_without_evidence(self):
        p = self.pay(12000)
        seq = head_seq()
        d = self.open(p, reason="product_not_received")
        self.assertEqual(head_seq(), seq + 1)
        self.assertTrue(d["id"].startswith("dp_"))
        self.assertEqual((d["status"], d["reason"], d["amount"], d["currency"]), ("open", "product_not_received",
                                                                                   12000, "EUR"))
        self.assertEqual((d["fee"], d["fee_vat"]), (FEE, VAT["FR"]))
        self.assertEqual(d["balance_impact"], -(12000 + FEE + VAT["FR"]))
        self.assertEqual(d["balance_transactions"][0]["net"], -13800)
        self.assertEqual(d["evidence"], {"files": [], "text": None})
        self.assertEqual((d["opened_via"], d["card"]), ("test_api", {"brand": "visa", "last4": "4242"}))
        # the payment knows (the refunds of a disputed payment read this)
        pay = self.api.get(f"/v1/payments/{p['id']}").json
        self.assertEqual((pay["dispute"], pay["amount_disputed"]), (d["id"], 12000))
        # the event records the money moved, so a ledger never asks the policy again
        opened = self.events(d["id"])[0]
        self.assertEqual(opened["type"], "dispute.opened")
        data = opened["data"]
        self.assertEqual((data["amount"], data["fee"], data["vat"], data["balance_impact"]),
                         (12000, FEE, VAT["FR"], -13800))
        self.assertEqual(data["related"], [{"id": p["id"], "set": {"dispute": d["id"], "amount_disputed": 12000},
                                            "jobs": {"dispute.simulate": None}}])
        # 30 days to answer
        self.advance(30 * DAY - 60)
        self.assertEqual(self.get(d["id"])["status"], "open")
        self.advance(120)
        d = self.get(d["id"])
        self.assertEqual((d["status"], d["outcome"]), ("expired", "lost"))
        self.assertEqual(d["closed_at"], d["evidence_due_at"])
        self.assertEqual(d["balance_impact"], -13800)      # the debit stays
        self.assertEqual([e["type"] for e in self.events(d["id"])], ["dispute.opened", "dispute.expired"])
        self.assertEqual(self.events(d["id"])[-1]["actor"], "scheduler")
        # evidence after the deadline, accepting or submitting: refused, nothing changes
        seq = head_seq()
        self.refused(self.upload(d["id"], ("file", "recu.pdf", "application/pdf", pdf("late"))), 409, "id",
                     "state_invalid")
        self.assertFalse(stored(pdf("late")), "a refused file is not stored")
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/accept", {}), 409, "id")
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/submit", {}), 409, "id")
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.get(d["id"])["evidence"]["files"], [])

    def test_accepted(self):
        p = self.pay(8000)
        d = self.open(p, amount=5000, reason="duplicate")
        self.assertEqual(d["amount"], 5000)
        r = self.api.post(f"/v1/disputes/{d['id']}/accept", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["outcome"]), ("accepted", "lost"))
        self.assertIsNotNone(r.json["closed_at"])
        self.assertEqual(r.json["balance_impact"], -(5000 + FEE + VAT["FR"]))
        # closed: no more evidence, no second accept, no outcome from the scheme
        seq = head_seq()
        self.refused(self.upload(d["id"], ("file", "recu.pdf", "application/pdf", pdf("closed"))), 409, "id")
        self.assertFalse(stored(pdf("closed")))
        self.refused(self.upload(d["id"], ("text", "too late")), 409, "id")
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/accept", {}), 409, "id")
        self.refused(self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {"outcome": "won"}), 409, "id")
        self.assertEqual(head_seq(), seq)
        # the deadline passing later changes nothing
        self.advance(31 * DAY)
        self.assertEqual(self.get(d["id"])["status"], "accepted")
        self.assertEqual([e["type"] for e in self.events(d["id"])], ["dispute.opened", "dispute.accepted"])

    def test_not_contestable_can_only_be_accepted(self):
        p = self.pay(9900)
        d = self.open(p, contestable=False, reason="fraudulent")
        self.assertEqual((d["status"], d["contestable"], d["evidence_due_at"]), ("not_contestable", False, None))
        seq = head_seq()
        self.refused(self.upload(d["id"], ("file", "proof.png", "image/png", png(7))), 409, "id")
        self.assertFalse(stored(png(7)), "evidence refused: not stored")
        self.refused(self.upload(d["id"], ("text", "we shipped it")), 409, "id")
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/submit", {}), 409, "id")
        self.assertEqual(head_seq(), seq)
        self.assertIn("only be accepted", self.upload(d["id"], ("text", "x")).json["error"]["message"])
        self.advance(40 * DAY)
        self.assertEqual(self.get(d["id"])["status"], "not_contestable", "no deadline expires it")
        r = self.api.post(f"/v1/disputes/{d['id']}/accept", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "accepted")

    def test_the_disputing_card_is_disputed_two_days_after_capture(self):
        p = self.pay(7000, number=DISPUTING)
        self.assertEqual(p["status"], "captured")
        self.advance(2 * DAY - 60)
        r = self.api.get(f"/v1/disputes?payment={p['id']}")
        self.assertEqual(r.json["data"], [])
        self.advance(120)
        r = self.api.get(f"/v1/disputes?payment={p['id']}")
        self.assertEqual(len(r.json["data"]), 1, r)
        d = r.json["data"][0]
        self.assertEqual((d["status"], d["amount"], d["reason"], d["opened_via"]), ("open", 7000, "fraudulent",
                                                                                    "test_card"))
        self.assertEqual((d["fee"], d["fee_vat"], d["balance_impact"]), (FEE, VAT["FR"], -(7000 + FEE + VAT["FR"])))
        opened = self.events(d["id"])
        self.assertEqual([(e["type"], e["actor"]) for e in opened], [("dispute.opened", "scheduler")])
        pay = self.api.get(f"/v1/payments/{p['id']}").json
        self.assertEqual((pay["dispute"], pay["amount_disputed"]), (d["id"], 7000))
        # only once, however the clock moves on
        self.advance(3 * DAY)
        self.assertEqual(len(self.api.get(f"/v1/disputes?payment={p['id']}").json["data"]), 1)
        # and the test API cannot open a second one
        seq = head_seq()
        self.refused(self.api.post("/v1/test/disputes", {"payment": p["id"]}), 409, "payment", "state_invalid")
        self.assertEqual(head_seq(), seq)

    def test_an_ordinary_card_is_never_disputed_by_itself(self):
        p = self.pay(7000)
        self.advance(5 * DAY)
        self.assertEqual(self.api.get(f"/v1/disputes?payment={p['id']}").json["data"], [])


class WonWithEvidence(DisputesBase):
    country = "ES"

    def test_won_with_evidence(self):
        p = self.pay(25000, order_reference="CMD-2026-0042")
        d = self.open(p, reason="product_not_received")
        self.assertEqual(d["order_reference"], "CMD-2026-0042")
        self.assertEqual((d["fee"], d["fee_vat"]), (FEE, VAT["ES"]))
        total = 25000 + FEE + VAT["ES"]
        # a PDF and a PNG (declared octet-stream: the type comes from the content), a
        # name with a path in it, and a text with accents
        seq = head_seq()
        r = self.upload(d["id"], ("file", "../../etc/Bon de livraison.pdf", "application/pdf", pdf("BL-42")),
                        ("file", "photo colis.png", "application/octet-stream", png(42)),
                        ("text", "Colis livré le 3 mars, signé par le client.".encode()))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(head_seq(), seq + 1, "one event: dispute.evidence_added")
        self.assertEqual(r.json["status"], "open")
        files = r.json["evidence"]["files"]
        self.assertEqual([(f["filename"], f["content_type"], f["size"], f["sha256"]) for f in files],
                         [("Bon de livraison.pdf", "application/pdf", len(pdf("BL-42")), sha(pdf("BL-42"))),
                          ("photo colis.png", "image/png", len(png(42)), sha(png(42)))])
        self.assertEqual(r.json["evidence"]["text"], "Colis livré le 3 mars, signé par le client.")
        for data in (pdf("BL-42"), png(42)):
            self.assertTrue(stored(data), "kept content-addressed beside the log")
            with open(os.path.join(srv.data, "evidence", sha(data)[:2], sha(data)), "rb") as f:
                self.assertEqual(f.read(), data)
        ev = self.events(d["id"])[-1]
        self.assertEqual(ev["type"], "dispute.evidence_added")
        self.assertEqual([f["sha256"] for f in ev["data"]["files"]], [sha(pdf("BL-42")), sha(png(42))])
        # the files come back as sent
        got = self.api.get(f"/v1/disputes/{d['id']}/evidence/{sha(png(42))}")
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.header("Content-Type"), "image/png")
        self.assertIn('filename="photo colis.png"', got.header("Content-Disposition"))
        raw = srv.client(self.m["test_secret_key"])
        raw.conn.request("GET", f"/v1/disputes/{d['id']}/evidence/{sha(pdf('BL-42'))}",
                         headers={"Authorization": f"Bearer {self.m['test_secret_key']}"})
        resp = raw.conn.getresponse()
        self.assertEqual((resp.status, resp.read()), (200, pdf("BL-42")))
        raw.close()
        # the same content again is refused, the log unchanged
        seq = head_seq()
        self.refused(self.upload(d["id"], ("file", "copie.pdf", "application/pdf", pdf("BL-42"))), 400, "file")
        self.assertEqual(head_seq(), seq)
        # a JPEG, and submit at once: two events, status sending
        r = self.upload(d["id"], ("file", "facture.jpg", "image/jpeg", JPEG), ("submit", "true"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(head_seq(), seq + 2)
        self.assertEqual(r.json["status"], "sending")
        self.assertEqual(len(r.json["evidence"]["files"]), 3)
        self.assertIsNotNone(r.json["evidence_submitted_at"])
        # no more evidence once submitted
        seq = head_seq()
        self.refused(self.upload(d["id"], ("text", "more")), 409, "id")
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/accept", {}), 409, "id")
        self.assertEqual(head_seq(), seq)
        # sending -> evidence_sent after 5 minutes -> under_review a day later
        self.advance(5 * 60)
        self.assertEqual(self.get(d["id"])["status"], "evidence_sent")
        self.advance(DAY)
        d2 = self.get(d["id"])
        self.assertEqual(d2["status"], "under_review")
        self.assertIsNotNone(d2["review_ends_at"])
        # the deadline passing while under review changes nothing
        self.advance(30 * DAY)
        self.assertEqual(self.get(d["id"])["status"], "under_review")
        # the scheme decides: won, the amount and the fee given back
        r = self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {"outcome": "won"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["outcome"], r.json["balance_impact"]), ("won", "won", 0))
        back = r.json["balance_transactions"][-1]
        self.assertEqual((back["type"], back["amount"], back["fee"], back["vat"], back["net"]),
                         ("dispute_reversal", 25000, -FEE, -VAT["ES"], total))
        types = [e["type"] for e in self.events(d["id"])]
        self.assertEqual(types, ["dispute.opened", "dispute.evidence_added", "dispute.evidence_added",
                                 "dispute.submitted", "dispute.evidence_sent", "dispute.under_review", "dispute.won"])
        won = self.events(d["id"])[-1]["data"]
        self.assertEqual(won["balance_impact"], total)
        self.assertEqual(sum(e["data"]["balance_impact"] for e in self.events(d["id"])), 0)
        # closed
        seq = head_seq()
        self.refused(self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {"outcome": "lost"}), 409, "id")
        self.assertEqual(head_seq(), seq)

    def test_lost_after_review_and_separate_submit(self):
        p = self.pay(4000)
        d = self.open(p)
        seq = head_seq()
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/submit", {}), 400, "evidence", "parameter_missing")
        self.assertEqual(head_seq(), seq)
        r = self.upload(d["id"], ("text", "Service rendu le 2 mars."))
        self.assertEqual(r.status, 200, r)
        r = self.api.post(f"/v1/disputes/{d['id']}/submit", {})
        self.assertEqual((r.status, r.json["status"]), (200, "sending"), r)
        self.advance(5 * 60 + 1)
        # the scheme may decide as soon as the evidence was sent
        r = self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {"outcome": "lost"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["outcome"], r.json["balance_impact"]),
                         ("lost", "lost", -(4000 + FEE + VAT["ES"])))
        self.advance(2 * DAY)   # the cancelled advance job does not fire
        self.assertEqual(self.get(d["id"])["status"], "lost")
        self.assertEqual(self.events(d["id"])[-1]["type"], "dispute.lost")

    def test_a_body_built_by_pythons_email_package(self):
        """email.mime writes a part as base64 with Content-Transfer-Encoding, which
        RFC 7578 4.7 deprecates: refused, naming the body."""
        p = self.pay(3000)
        d = self.open(p)
        msg = MIMEMultipart("form-data")
        part = MIMEApplication(pdf("mime"), "pdf")
        part.add_header("Content-Disposition", "form-data", name="file", filename="recu.pdf")
        msg.attach(part)
        text = msg.as_bytes(policy=policy.HTTP)
        head, body = text.split(b"\r\n\r\n", 1)
        ctype = [h for h in head.decode().split("\r\n") if h.lower().startswith("content-type:")][0].split(":", 1)[1]
        seq = head_seq()
        r = self.api.post(f"/v1/disputes/{d['id']}/evidence", raw=body, headers={"Content-Type": ctype.strip()})
        self.refused(r, 400, "body", "parameter_invalid")
        self.assertIn("Content-Transfer-Encoding", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)
        self.assertFalse(stored(pdf("mime")))


class BadInput(DisputesBase):
    country = "PT"

    def test_bad_evidence_uploads(self):
        p = self.pay(15000)
        d = self.open(p)
        self.assertEqual(d["fee_vat"], VAT["PT"])
        url = f"/v1/disputes/{d['id']}/evidence"
        big = pdf("big") + b"0" * (600 * 1024)
        cases = [
            # (what, parts, status, param)
            ("oversized file", [("file", "big.pdf", "application/pdf", big)], 400, "file"),
            ("a text file named .pdf", [("file", "contrat.pdf", "application/pdf", b"just some text, not a PDF\n")],
             400, "file"),
            ("HTML named .png", [("file", "x.png", "image/png", b"<html><body>hi</body></html>")], 400, "file"),
            ("an empty file", [("file", "empty.pdf", "application/pdf", b"")], 400, "file"),
            ("an unknown field", [("file", "a.pdf", "application/pdf", pdf("u")), ("comment", "hi")], 400, "comment"),
            ("submit not a boolean", [("submit", "yes")], 400, "submit"),
            ("text twice", [("text", "a"), ("text", "b")], 400, "text"),
            ("empty text", [("text", "")], 400, "text"),
            ("text too long", [("text", "x" * 20001)], 400, "text"),
            ("text with a control character", [("text", "a\x00b")], 400, "text"),
            ("text not UTF-8", [("text", b"caf\xe9")], 400, "text"),
            ("nothing at all", [], 400, "file"),
            ("six files in one request", [("file", f"p{i}.png", "image/png", png(100 + i)) for i in range(6)], 400,
             "file"),
        ]
        for what, parts, status, param in cases:
            with self.subTest(what):
                seq = head_seq()
                r = self.upload(d["id"], *parts)
                self.refused(r, status, param)
                self.assertEqual(head_seq(), seq)
        self.assertIn("512 KiB", self.upload(d["id"], ("file", "big.pdf", "application/pdf", big)).json["error"]["message"])
        for data in (big, pdf("u"), png(100)):
            self.assertFalse(stored(data), "nothing of a refused request is stored")
        # bodies that are not multipart/form-data at all
        raw_cases = [
            ("JSON", b'{"text": "hi"}', {"Content-Type": "application/json"}, 415, None),
            ("text/plain", b"hi", {"Content-Type": "text/plain"}, 415, None),
            ("no Content-Type", b"hi", {}, 415, None),
            ("multipart/mixed", form(("text", "hi"))[0], {"Content-Type": "multipart/mixed; boundary=x"}, 415, None),
            ("no boundary", form(("text", "hi"))[0], {"Content-Type": "multipart/form-data"}, 400, "Content-Type"),
            ("another boundary", form(("text", "hi"))[0], {"Content-Type": "multipart/form-data; boundary=other"},
             400, "body"),
            ("not closed", form(("text", "hi"))[0][:-25], {"Content-Type": form()[1]}, 400, "body"),
            ("bare LF", form(("text", "hi"))[0].replace(b"\r\n", b"\n"), {"Content-Type": form()[1]}, 400, "body"),
        ]
        for what, body, headers, status, param in raw_cases:
            with self.subTest(what):
                seq = head_seq()
                r = self.api.post(url, raw=body, headers=headers)
                self.assertEqual(r.status, status, (what, r))
                self.assertEqual(r.json["error"].get("param"), param, (what, r))
                if status == 415:
                    self.assertEqual(r.json["error"]["code"], "content_type_unsupported")
                self.assertEqual(head_seq(), seq)
        # a body over 1 MiB (CS_HTTP_BODY_BYTES_MAX) never reaches the handler: 413 from its length
        seq = head_seq()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(f"POST {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.m['test_secret_key']}\r\n"
                      f"Content-Type: {form()[1]}\r\nContent-Length: {1024 * 1024 + 1}\r\n\r\n--".encode())
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 413 "))
        self.assertEqual(head_seq(), seq)
        self.assertEqual(self.get(d["id"])["evidence"], {"files": [], "text": None}, "nothing referenced")
        # unknown disputes
        seq = head_seq()
        self.refused(self.upload("dp_01JPB3K7Q8X4N2M5R6T9V0W1YZ", ("text", "x")), 404, "id")
        self.refused(self.upload("pay_x", ("text", "x")), 404, "id")
        self.assertEqual(head_seq(), seq)

    def test_at_most_five_files(self):
        p = self.pay(15000)
        d = self.open(p)
        for batch in ([png(1), png(2)], [png(3), png(4)], [png(5)]):
            r = self.upload(d["id"], *[("file", f"p{i}.png", "image/png", data) for i, data in enumerate(batch)])
            self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.get(d["id"])["evidence"]["files"]), 5)
        seq = head_seq()
        r = self.upload(d["id"], ("file", "six.png", "image/png", png(6)))
        self.refused(r, 400, "file")
        self.assertIn("at most 5", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)
        self.assertFalse(stored(png(6)), "the sixth file is not even stored")
        self.assertEqual(len(self.get(d["id"])["evidence"]["files"]), 5)
        # a text still fits
        r = self.upload(d["id"], ("text", "Les cinq photos du colis."))
        self.assertEqual(r.status, 200, r)

    def test_evidence_idempotency_key(self):
        p = self.pay(15000)
        d = self.open(p)
        parts = [("file", "recu.pdf", "application/pdf", pdf("idem")), ("submit", "true")]
        r1 = self.upload(d["id"], *parts, headers={"Idempotency-Key": "ev-1"})
        self.assertEqual(r1.status, 200, r1)
        seq = head_seq()
        r2 = self.upload(d["id"], *parts, headers={"Idempotency-Key": "ev-1"})
        self.assertEqual((r2.status, r2.json), (200, r1.json), "the first answer, replayed")
        self.assertEqual(head_seq(), seq)
        r3 = self.upload(d["id"], ("text", "other"), headers={"Idempotency-Key": "ev-1"})
        self.refused(r3, 409, "Idempotency-Key")
        self.assertEqual(head_seq(), seq)

    def test_bad_openings(self):
        p = self.pay(6000)
        seq = head_seq()
        cases = [
            ({}, 400, "payment"),
            ({"payment": "ord_01JPB3K7Q8X4N2M5R6T9V0W1YZ"}, 400, "payment"),
            ({"payment": "pay_01JPB3K7Q8X4N2M5R6T9V0W1YZ"}, 404, "payment"),
            ({"payment": p["id"], "reason": "angry"}, 400, "reason"),
            ({"payment": p["id"], "amount": 6001}, 400, "amount"),
            ({"payment": p["id"], "amount": 0}, 400, "amount"),
            ({"payment": p["id"], "amount": "10"}, 400, "amount"),
            ({"payment": p["id"], "contestable": "no"}, 400, "contestable"),
            ({"payment": p["id"], "evidence": "x"}, 400, "evidence"),
        ]
        for body, status, param in cases:
            with self.subTest(body=body):
                self.refused(self.api.post("/v1/test/disputes", body), status, param)
        self.assertEqual(head_seq(), seq)
        # nothing captured: an authorization only
        auth = self.pay(5000, type="deferred")
        self.assertEqual(auth["status"], "authorized")
        r = self.api.post("/v1/test/disputes", {"payment": auth["id"]})
        self.refused(r, 409, "payment", "state_invalid")
        self.assertIn("nothing captured", r.json["error"]["message"])
        # already disputed
        self.open(p)
        seq = head_seq()
        r = self.api.post("/v1/test/disputes", {"payment": p["id"]})
        self.refused(r, 409, "payment", "state_invalid")
        self.assertIn("already disputed", r.json["error"]["message"])
        # another merchant's payment does not exist
        other = create_merchant(srv.data, "Other", "FR")
        seq = head_seq()
        api2 = srv.client(other["test_secret_key"])
        self.refused(api2.post("/v1/test/disputes", {"payment": auth["id"]}), 404, "payment")
        api2.close()
        # the test API is test mode only
        live = srv.client(self.m["live_secret_key"])
        self.refused(live.post("/v1/test/disputes", {"payment": p["id"]}), 403, None, "forbidden")
        self.refused(live.post("/v1/test/disputes/dp_01JPB3K7Q8X4N2M5R6T9V0W1YZ/resolve", {"outcome": "won"}), 403,
                     None, "forbidden")
        self.refused(live.get(f"/v1/disputes/{self.api.get('/v1/disputes').json['data'][0]['id']}"), 404, "id")
        live.close()
        self.assertEqual(head_seq(), seq)

    def test_thirteen_months_after_capture(self):
        p1 = self.pay(5000)
        p2 = self.pay(5000)
        self.advance(390 * DAY)                  # less than 13 calendar months
        d = self.open(p1)
        self.assertEqual(d["status"], "open")
        self.advance(10 * DAY)                   # 400 days: more than 13 months
        seq = head_seq()
        r = self.api.post("/v1/test/disputes", {"payment": p2["id"]})
        self.refused(r, 409, "payment", "state_invalid")
        self.assertIn("13 months", r.json["error"]["message"])
        self.assertEqual(head_seq(), seq)

    def test_bad_resolutions_and_reads(self):
        p = self.pay(5000)
        d = self.open(p)
        seq = head_seq()
        self.refused(self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {"outcome": "won"}), 409, "id")
        self.refused(self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {"outcome": "maybe"}), 400, "outcome")
        self.refused(self.api.post(f"/v1/test/disputes/{d['id']}/resolve", {}), 400, "outcome")
        self.refused(self.api.post(f"/v1/disputes/{d['id']}/accept", {"now": True}), 400, "now")
        r = self.api.post(f"/v1/disputes/{d['id']}/accept", raw=b"{}", headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r)
        self.refused(self.api.post("/v1/disputes/dp_01JPB3K7Q8X4N2M5R6T9V0W1YZ/accept", {}), 404, "id")
        self.assertEqual(head_seq(), seq)
        self.refused(self.api.get("/v1/disputes/dp_01JPB3K7Q8X4N2M5R6T9V0W1YZ"), 404, "id")
        self.refused(self.api.get("/v1/disputes/nope"), 404, "id")
        self.refused(self.api.get(f"/v1/disputes/{d['id']}/evidence/{'0' * 64}"), 404, "sha256")
        self.refused(self.api.get(f"/v1/disputes/{d['id']}/evidence/..%2f..%2fetc"), 404, "sha256")
        self.refused(self.api.get("/v1/disputes?status=pending"), 400, "status")
        self.refused(self.api.get("/v1/disputes?payment=nope"), 400, "payment")
        self.refused(self.api.get("/v1/disputes?starting_after=nope"), 400, "starting_after")
        self.refused(self.api.get("/v1/disputes?starting_after=dp_01JPB3K7Q8X4N2M5R6T9V0W1YZ"), 400, "starting_after")
        self.refused(self.api.get("/v1/disputes?limit=0"), 400, "limit")
        self.refused(self.api.get("/v1/disputes?sort=asc"), 400, "sort")


class Lists(DisputesBase):
    country = "IT"

    def test_list_newest_first_with_filters_and_pages(self):
        a, b, c = self.pay(1000), self.pay(2000), self.pay(3000)
        da = self.open(a)
        db = self.open(b)
        dc = self.open(c)
        self.assertEqual(dc["fee_vat"], VAT["IT"])
        self.api.post(f"/v1/disputes/{db['id']}/accept", {})
        r = self.api.get("/v1/disputes")
        self.assertEqual([x["id"] for x in r.json["data"]], [dc["id"], db["id"], da["id"]])
        self.assertFalse(r.json["has_more"])
        r = self.api.get("/v1/disputes?limit=2")
        self.assertEqual([x["id"] for x in r.json["data"]], [dc["id"], db["id"]])
        self.assertTrue(r.json["has_more"])
        self.assertEqual(r.json["next_cursor"], db["id"])
        r = self.api.get(f"/v1/disputes?limit=2&starting_after={r.json['next_cursor']}")
        self.assertEqual(([x["id"] for x in r.json["data"]], r.json["has_more"]), ([da["id"]], False))
        r = self.api.get("/v1/disputes?status=open")
        self.assertEqual([x["id"] for x in r.json["data"]], [dc["id"], da["id"]])
        r = self.api.get("/v1/disputes?status=accepted")
        self.assertEqual([x["id"] for x in r.json["data"]], [db["id"]])
        r = self.api.get(f"/v1/disputes?payment={a['id']}")
        self.assertEqual([x["id"] for x in r.json["data"]], [da["id"]])
        # another merchant sees none of them
        other = create_merchant(srv.data, "Other", "IT")
        api2 = srv.client(other["test_secret_key"])
        self.assertEqual(api2.get("/v1/disputes").json["data"], [])
        self.refused(api2.get(f"/v1/disputes/{da['id']}"), 404, "id")
        api2.close()


if __name__ == "__main__":
    unittest.main()
