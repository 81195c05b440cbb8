#!/usr/bin/env python3
"""Merges the OpenAPI fragments of web/openapi.d/*.json into web/openapi.json.

A fragment is {"paths": {...}, "components": {"schemas"|"parameters"|"responses": {...}},
"tags": [...]}; its entries replace the document's entries of the same name. Used
while several people write new parts of the API at once: each keeps its own
fragment and runs this before testing; the fragments are folded into
web/openapi.json for good once the work lands. Idempotent."""
import glob
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DOC = os.path.join(ROOT, "web", "openapi.json")


def main():
    with open(DOC) as f:
        doc = json.load(f)
    for path in sorted(glob.glob(os.path.join(ROOT, "web", "openapi.d", "*.json"))):
        with open(path) as f:
            frag = json.load(f)
        # Per operation: two fragments may each bring a method of one path
        # (POST /v1/payments and GET /v1/payments).
        for route, item in frag.get("paths", {}).items():
            doc.setdefault("paths", {}).setdefault(route, {}).update(item)
        for part, entries in frag.get("components", {}).items():
            doc.setdefault("components", {}).setdefault(part, {}).update(entries)
        names = {t["name"] for t in doc.get("tags", [])}
        for t in frag.get("tags", []):
            if t["name"] not in names:
                doc.setdefault("tags", []).append(t)
    tmp = DOC + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
