#!/usr/bin/env node
// A webhook receiver for the end-to-end tests (tests/e2e/test_webhooks.py).
//
//   node receiver.mjs serve [--tls KEY.pem CERT.pem]
//                               listens on 127.0.0.1, port 0 (HTTPS with --tls); prints {"port":N} on stdout, then one
//                               JSON line per request received: {"kind":"delivery","path","headers",
//                               "body","verified":[bool per configured secret],"errors":[...],"status"}
//   node receiver.mjs verify    reads {"secret","body","headers"} on stdin and verifies it with
//                               standardwebhooks' Webhook.verify: prints "ok" (exit 0) or the error (exit 1)
//
// Each delivery is verified with the npm `standardwebhooks` library (not our code) against every
// secret configured for its path. The behaviour of a path is set by POST /_control with
// {"path":"/a","mode":"ok"|"500"|"410"|"302"|"hang"|"slow","secrets":["whsec_…"]}:
// ok answers 200, 500/410/302 answer that status (302 with a Location to /redirected, which must
// never be requested), hang never answers (a blackholed endpoint), slow answers 200 after 3 s.
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const mode = process.argv[2] || "serve";

function verify(secret, body, headers) {
  return new Webhook(secret).verify(body, headers);
}

if (mode === "verify") {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (c) => { input += c; });
  process.stdin.on("end", () => {
    const { secret, body, headers } = JSON.parse(input);
    try {
      verify(secret, body, headers);
      console.log("ok");
      process.exit(0);
    } catch (e) {
      console.log(`rejected: ${e.message}`);
      process.exit(1);
    }
  });
} else if (mode === "serve") {
  const paths = new Map();   // path -> {mode, secrets}
  const hung = [];
  const tls = process.argv[3] === "--tls"
    ? { key: readFileSync(process.argv[4]), cert: readFileSync(process.argv[5]) } : null;
  const handler = (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = req.url.split("?")[0];
      if (req.method === "POST" && path === "/_control") {
        const c = JSON.parse(body);
        paths.set(c.path, { mode: c.mode || "ok", secrets: c.secrets || [] });
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
        return;
      }
      const cfg = paths.get(path) || { mode: "ok", secrets: [] };
      const headers = {
        "webhook-id": req.headers["webhook-id"] || "",
        "webhook-timestamp": req.headers["webhook-timestamp"] || "",
        "webhook-signature": req.headers["webhook-signature"] || "",
      };
      const verified = [];
      const errors = [];
      for (const s of cfg.secrets) {
        try {
          verify(s, body, headers);
          verified.push(true);
          errors.push(null);
        } catch (e) {
          verified.push(false);
          errors.push(e.message);
        }
      }
      const status = { ok: 200, slow: 200, hang: 0, 500: 500, 410: 410, 302: 302 }[cfg.mode] ?? 200;
      process.stdout.write(JSON.stringify({
        kind: "delivery", path, method: req.method, headers,
        content_type: req.headers["content-type"] || null, body, verified, errors, status,
        received_ms: Date.now(),
      }) + "\n");
      if (cfg.mode === "hang") {
        hung.push(res);   // never answered: the sender must time out on its own
        return;
      }
      const answer = () => {
        if (status === 302) res.writeHead(302, { location: "/redirected", "content-type": "text/plain" });
        else res.writeHead(status, { "content-type": "text/plain" });
        res.end(status >= 200 && status < 300 ? "thanks" : `answering ${status}`);
      };
      if (cfg.mode === "slow") setTimeout(answer, 3000);
      else answer();
    });
  };
  const server = tls ? createTlsServer(tls, handler) : createServer(handler);
  server.keepAliveTimeout = 1000;
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
  });
  process.on("SIGTERM", () => process.exit(0));
} else {
  console.error(`usage: receiver.mjs serve | verify`);
  process.exit(2);
}
