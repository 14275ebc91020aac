"""Validate a CycloneDX JSON document against the official 1.6 schema.

usage: validate.py SCHEMA_DIR DOCUMENT
The schemas come from the cyclonedx-go module (bom-1.6, spdx, jsf); they are
registered by their $id so that the relative $refs resolve offline.
"""
import json
import os
import sys

import jsonschema

schema_dir, doc_path = sys.argv[1], sys.argv[2]
store = {}
for name in ("bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schemax.json"):
    with open(os.path.join(schema_dir, name)) as f:
        s = json.load(f)
    store[s["$id"]] = s
bom = store["http://cyclonedx.org/schema/bom-1.6.schema.json"]
with open(doc_path) as f:
    doc = json.load(f)

cls = jsonschema.Draft7Validator
try:
    from referencing import Registry, Resource

    registry = Registry().with_resources((k, Resource.from_contents(v)) for k, v in store.items())
    validator = cls(bom, registry=registry, format_checker=cls.FORMAT_CHECKER)
except (ImportError, TypeError):  # jsonschema < 4.18 (Debian 12) has no registry
    resolver = jsonschema.RefResolver.from_schema(bom, store=store)
    validator = cls(bom, resolver=resolver, format_checker=cls.FORMAT_CHECKER)

errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
for e in errors:
    print("/".join(str(p) for p in e.absolute_path) + ": " + e.message)
sys.exit(1 if errors else 0)
