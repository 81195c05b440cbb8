"""With --smtp-relay the shoppers' e-mails go through an SMTP relay (here a
small server of the test, on 127.0.0.1) instead of the spool; a relay that is
down keeps them in the outbox until it is back."""
import email
import email.policy
import socket
import socketserver
import threading
import time
import unittest

import harness
from harness import Server, create_merchant, order_body


class Relay(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321) to take messages: EHLO/HELO, MAIL, RCPT, DATA, QUIT."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port=0):
        self.messages = []
        super().__init__(("127.0.0.1", port), Handler)


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 relay ready")
        rcpt, mail_from = [], None
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 relay")
            elif verb == "MAIL":
                mail_from = cmd
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpt.append(cmd.split(":", 1)[1].strip())
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.server.messages.append((mail_from, rcpt, data))
                rcpt = []
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


def wait_for(pred, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


class SmtpRelay(unittest.TestCase):
    def test_relay_delivers_and_retries(self):
        # a port with nothing on it first: the relay is "down"
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        srv = Server(args=["--smtp-relay", f"smtp://127.0.0.1:{port}"]).start()
        try:
            api = srv.client(create_merchant(srv.data, "Relay", "FR")["test_secret_key"])
            o = api.post("/v1/orders", order_body(email="relay@example.com")).json
            self.assertEqual(api.post(f"/v1/orders/{o['id']}/confirm", {}).status, 200)
            time.sleep(0.6)   # a few spool ticks against the dead relay
            relay = None
            for _ in range(20):   # bind the relay's port now (bounded retries if it is busy)
                try:
                    relay = Relay(port)
                    break
                except OSError:
                    time.sleep(0.1)
            self.assertIsNotNone(relay, "could not bind the relay's port again")
            t = threading.Thread(target=relay.serve_forever, daemon=True)
            t.start()
            self.assertTrue(wait_for(lambda: len(relay.messages) >= 1), "delivered once the relay is up")
            mail_from, rcpt, data = relay.messages[0]
            self.assertEqual(rcpt, ["<relay@example.com>"])
            msg = email.message_from_bytes(data, policy=email.policy.default)
            self.assertEqual(msg["Subject"], f"Your purchase {o['reference']} is confirmed")
            time.sleep(0.6)
            self.assertEqual(len(relay.messages), 1, "sent once, then removed from the outbox")
            api.close()
            relay.shutdown()
            relay.server_close()
        finally:
            srv.cleanup()
        harness.validate_exchanges()

    def test_bad_relay_option(self):
        p = harness.subprocess.run([harness.BIN, "serve", "--smtp-relay", "mail.example.com"],
                                   capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--smtp-relay", p.stderr)


if __name__ == "__main__":
    unittest.main()
