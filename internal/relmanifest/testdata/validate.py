"""Validate JSON documents against a JSON Schema (Draft 2020-12), with
format checking, using the python jsonschema package.

usage: validate.py SCHEMA DOCUMENT...
"""
import json
import sys

import jsonschema

with open(sys.argv[1]) as f:
    schema = json.load(f)
cls = jsonschema.Draft202012Validator
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
failed = False
for path in sys.argv[2:]:
    with open(path) as f:
        doc = json.load(f)
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        failed = True
        print("%s: %s: %s" % (path, "/".join(str(p) for p in err.path) or "(root)", err.message))
sys.exit(1 if failed else 0)
