#!/usr/bin/env node
// The OpenAPI contract check of caisse.
//
//   node tests/openapi/validate.mjs [--exchanges FILE.ndjson] [--doc openapi.json] [--routes routes.c]
//
// 1. validates web/openapi.json against the OpenAPI 3.1 schema
//    (@seriousme/openapi-schema-validator);
// 2. compiles every schema of the document with Ajv (JSON Schema 2020-12, strict) and
//    checks every example (parameters, request bodies, responses) against its schema;
//    every operation must have a request example (parameters, body or x-codeSamples)
//    and an example for each 2xx response;
// 3. checks that the document's (method, path, operationId) set equals the route
//    table of core/routes.c, both ways;
// 4. with --exchanges: validates each recorded response (NDJSON lines
//    {method, path, status, content_type, body}, written by tests/e2e/harness.py)
//    against the response the document gives for that operation and status.
//    A request that matches no operation (unknown path: 404 route_unknown; known path,
//    other method: 405) is checked against the error responses of the HTTP layer.
//
// Exit status: 0 if everything holds, 1 on any failure (each one is printed), 2 on usage errors.

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
// Responses the HTTP layer and the router give to requests that reach no operation.
const UNMATCHED = { 400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 408: "RequestTimeout",
                    413: "ContentTooLarge", 414: "UriTooLong", 431: "HeadersTooLarge", 500: "InternalError" };

function usage(msg) {
  if (msg) console.error(`validate.mjs: ${msg}`);
  console.error("usage: node tests/openapi/validate.mjs [--exchanges FILE.ndjson] [--doc FILE] [--routes FILE]");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { doc: resolve(ROOT, "web", "openapi.json"), routes: resolve(ROOT, "core", "routes.c"),
                 exchanges: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => (i + 1 < argv.length ? resolve(process.cwd(), argv[++i]) : usage(`${a} needs a value`));
    if (a === "--exchanges") opts.exchanges = take();
    else if (a === "--doc") opts.doc = take();
    else if (a === "--routes") opts.routes = take();
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

const failures = [];
const fail = (msg) => failures.push(msg);

function excerpt(s, n = 300) {
  const t = typeof s === "string" ? s : JSON.stringify(s);
  return t.length > n ? `${t.slice(0, n)}… (${t.length} chars)` : t;
}

function ajvErrors(errors) {
  return (errors || []).slice(0, 8)
    .map((e) => `${e.instancePath || "/"} ${e.message}${e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : ""} [${e.schemaPath}]`)
    .join("; ");
}

// ---- the document --------------------------------------------------------------

function deref(doc, obj) {
  let seen = 0;
  while (obj && typeof obj.$ref === "string" && obj.$ref.startsWith("#/")) {
    if (++seen > 20) throw new Error(`$ref loop at ${obj.$ref}`);
    const ptr = obj.$ref.slice(2).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    let cur = doc;
    for (const p of ptr) cur = cur?.[p];
    if (cur === undefined) throw new Error(`unresolved $ref ${obj.$ref}`);
    obj = cur;
  }
  return obj;
}

// Schemas of the document compiled by Ajv: "#/components/schemas/X" is rewritten
// to point into one registered schema that holds all of components.schemas.
const COMPONENTS_ID = "urn:caisse:openapi:components";
function rewriteRefs(v) {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string" && x.startsWith("#/components/schemas/"))
        out[k] = `${COMPONENTS_ID}#/$defs/${x.slice("#/components/schemas/".length)}`;
      else out[k] = rewriteRefs(x);
    }
    return out;
  }
  return v;
}

function makeAjv(doc) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: "x-internal" });  // tolerated annotation
  const defs = rewriteRefs(doc.components?.schemas || {});
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: defs });
  const cache = new Map();
  return {
    ajv,
    compile(schema, where) {
      const key = JSON.stringify(schema);
      if (!cache.has(key)) {
        try {
          cache.set(key, ajv.compile(rewriteRefs(schema)));
        } catch (e) {
          fail(`${where}: the schema does not compile: ${e.message}`);
          cache.set(key, null);
        }
      }
      return cache.get(key);
    },
  };
}

function operations(doc) {
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {}))
    for (const m of METHODS)
      if (item[m]) ops.push({ path, method: m.toUpperCase(), op: item[m], params: [...(item.parameters || []), ...(item[m].parameters || [])] });
  return ops;
}

function mediaExamples(media) {
  const out = [];
  if (media.example !== undefined) out.push(["example", media.example]);
  for (const [name, ex] of Object.entries(media.examples || {})) {
    if (ex.value !== undefined) out.push([name, ex.value]);
  }
  return out;
}

function checkExamples(doc, A) {
  let n = 0;
  const check = (schema, value, where) => {
    const v = A.compile(schema, where);
    n++;
    if (v && !v(value)) fail(`example ${where} does not match its schema: ${ajvErrors(v.errors)}`);
  };
  // every component schema compiles (even unused ones)
  for (const name of Object.keys(doc.components?.schemas || {}))
    A.compile({ $ref: `#/components/schemas/${name}` }, `components.schemas.${name}`);
  for (const { path, method, op, params } of operations(doc)) {
    const id = `${method} ${path} (${op.operationId})`;
    let requestExample = Array.isArray(op["x-codeSamples"]) && op["x-codeSamples"].length > 0;
    for (const p0 of params) {
      const p = deref(doc, p0);
      const exs = [];
      if (p.example !== undefined) exs.push(["example", p.example]);
      for (const [k, e] of Object.entries(p.examples || {})) if (e.value !== undefined) exs.push([k, e.value]);
      for (const [k, v] of exs) check(p.schema || {}, v, `${id} parameter ${p.in}:${p.name} ${k}`);
      if (exs.length) requestExample = true;
    }
    if (op.requestBody) {
      const rb = deref(doc, op.requestBody);
      for (const [mt, media] of Object.entries(rb.content || {})) {
        const exs = mediaExamples(media);
        if (!exs.length) fail(`${id}: request body ${mt} has no example`);
        for (const [k, v] of exs) check(media.schema || {}, v, `${id} request ${mt} ${k}`);
        if (exs.length) requestExample = true;
      }
    }
    if (!requestExample) fail(`${id}: no request example (parameter examples, request body example or x-codeSamples)`);
    for (const [status, r0] of Object.entries(op.responses || {})) {
      const r = deref(doc, r0);
      for (const [mt, media] of Object.entries(r.content || {})) {
        const exs = mediaExamples(media);
        if (!exs.length && /^2/.test(status)) fail(`${id}: response ${status} ${mt} has no example`);
        for (const [k, v] of exs) check(media.schema || {}, v, `${id} response ${status} ${mt} ${k}`);
      }
    }
  }
  return n;
}

// ---- the route table -------------------------------------------------------------

function routeTable(file) {
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
  const rows = [];
  const re = /\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,[^{}]*?"([A-Za-z0-9_]+)"\s*\}/g;
  for (let m; (m = re.exec(text));) rows.push({ method: m[1], path: m[2], operationId: m[3] });
  return rows;
}

function checkRoutes(doc, file) {
  const rows = routeTable(file);
  if (rows.length === 0) {
    fail(`${file}: no route rows found`);
    return 0;
  }
  const key = (r) => `${r.method} ${r.path} ${r.operationId}`;
  const inCode = new Set(rows.map(key));
  const inDoc = new Set(operations(doc).map(({ method, path, op }) => key({ method, path, operationId: op.operationId })));
  for (const k of inCode) if (!inDoc.has(k)) fail(`route ${k} of core/routes.c is not in the OpenAPI document`);
  for (const k of inDoc) if (!inCode.has(k)) fail(`operation ${k} of the OpenAPI document is not in core/routes.c`);
  const ids = operations(doc).map(({ op }) => op.operationId);
  for (const id of ids) if (ids.indexOf(id) !== ids.lastIndexOf(id)) fail(`operationId ${id} is used twice`);
  return rows.length;
}

// ---- exchanges -------------------------------------------------------------------

function templateRegex(path) {
  const src = path.split(/(\{[^}]+\})/).map((s) => (s.startsWith("{") ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${src}$`);
}

// < 0 if template a is more specific than b: at the first segment where one is literal
// and the other a parameter, the literal one wins.
function specificity(a, b) {
  const sa = a.split("/"), sb = b.split("/");
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const pa = sa[i].startsWith("{"), pb = sb[i].startsWith("{");
    if (pa !== pb) return pa ? 1 : -1;
  }
  return 0;
}

function mediaType(ct) {
  return (ct || "").split(";")[0].trim().toLowerCase();
}

function checkExchanges(doc, A, file) {
  const ops = operations(doc).map((o) => ({ ...o, re: templateRegex(o.path) }));
  const lines = readFileSync(file, "utf8").split("\n");
  let checked = 0, failed = 0;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let ex;
    try {
      ex = JSON.parse(line);
    } catch (e) {
      failed++;
      fail(`${file}:${i + 1}: not JSON: ${e.message}`);
      return;
    }
    checked++;
    const method = String(ex.method || "").toUpperCase();
    const path = String(ex.path || "").split("?")[0];
    // Plugin routes are merchant-defined (docs/plugins.md), not part of the document.
    if (path.startsWith("/plugins/")) return;
    const status = String(ex.status);
    const where = `${method} ${path} -> ${status}`;
    const bad = (msg) => {
      failed++;
      fail(`${where}: ${msg}\n    body: ${excerpt(ex.body ?? "")}`);
    };
    // The most specific template first (a literal segment beats a parameter: /v1/orders/export
    // before /v1/orders/{id}), as the router matches, whatever the document's path order.
    const samePath = ops.filter((o) => o.re.test(path)).sort((a, b) => specificity(a.path, b.path));
    const match = samePath.find((o) => o.method === method);
    let response;
    if (match) {
      response = match.op.responses?.[status] ?? match.op.responses?.[`${status[0]}XX`] ?? match.op.responses?.default;
      if (!response) return bad(`status ${status} is not documented for ${match.op.operationId} (documented: ${Object.keys(match.op.responses || {}).join(", ")})`);
    } else {
      const name = UNMATCHED[status];
      if (status === "405" && samePath.length === 0) return bad("405 for a path that has no operation (expected 404)");
      if (status === "404" && samePath.length > 0) return bad(`404 for a path whose methods are ${samePath.map((o) => o.method).join(", ")} (expected 405)`);
      if (!name || !doc.components?.responses?.[name]) return bad("no operation matches and the status is not one of the HTTP layer's errors");
      response = { $ref: `#/components/responses/${name}` };
    }
    response = deref(doc, response);
    const content = response.content || {};
    const body = ex.body ?? "";
    // HEAD responses, 204 and 304 carry no body on the wire (RFC 9110).
    if (method === "HEAD" || status === "204" || status === "304") {
      if (body !== "") return bad("a body on a response that cannot have one");
      return;
    }
    if (Object.keys(content).length === 0) {
      if (body !== "") return bad("the documented response has no body");
      return;
    }
    const mt = mediaType(ex.content_type);
    const media = content[mt];
    if (!media) return bad(`content type ${ex.content_type || "(none)"} is not documented (documented: ${Object.keys(content).join(", ")})`);
    let value = body;
    if (mt === "application/json" || mt.endsWith("+json")) {
      try {
        value = JSON.parse(body);
      } catch (e) {
        return bad(`the body is not JSON: ${e.message}`);
      }
    }
    const v = A.compile(media.schema || {}, `${where} schema`);
    if (v && !v(value)) return bad(`the body does not match the schema: ${ajvErrors(v.errors)}`);
  });
  return { checked, failed };
}

// ---- main ------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let doc;
  try {
    doc = JSON.parse(readFileSync(opts.doc, "utf8"));
  } catch (e) {
    console.error(`openapi: cannot read ${opts.doc}: ${e.message}`);
    process.exit(1);
  }
  const validator = new Validator();
  const res = await validator.validate(doc);
  if (!res.valid) {
    console.error(`openapi: ${opts.doc} is not a valid OpenAPI ${validator.version || "3.1"} document:`);
    console.error(JSON.stringify(res.errors, null, 2));
    process.exit(1);
  }
  if (!String(doc.openapi).startsWith("3.1.")) fail(`openapi is ${doc.openapi}, expected 3.1.x`);

  const A = makeAjv(doc);
  const nExamples = checkExamples(doc, A);
  const nRoutes = checkRoutes(doc, opts.routes);
  const docFailures = failures.length;
  let summary = `openapi: document valid, ${nRoutes} routes, ${nExamples} examples checked`;
  if (opts.exchanges) {
    const { checked, failed } = checkExchanges(doc, A, opts.exchanges);
    summary = `openapi: ${checked} exchanges checked, ${failed} failed`;
  }
  if (failures.length) {
    for (const f of failures) console.error(`FAIL ${f}`);
    console.error(summary + (docFailures ? `; ${docFailures} problems in the document` : ""));
    process.exit(1);
  }
  console.log(summary);
}

main().catch((e) => {
  console.error(`openapi: ${e.stack || e}`);
  process.exit(1);
});
