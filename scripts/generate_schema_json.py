#!/usr/bin/env python3
"""Generate ``pushitem.json`` from ``pushitem.yaml``, the push item schema.

The YAML file, with its comments, is the source of the schema and what the
documentation shows. The package loads the JSON copy beside it, so that the
first push items of a process are validated without importing a YAML parser.
Run this after every change to the YAML file, and commit both::

    python scripts/generate_schema_json.py

With ``--check`` nothing is written; the exit status is 1, with a message,
if the JSON copy does not match the YAML file. The test suite checks the
same. Needs PyYAML (installed with the ``test`` extra).
"""

import argparse
import json
import os
import sys

import yaml

SCHEMA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "pushcollector",
    "_impl",
    "schema",
)
YAML_PATH = os.path.join(SCHEMA_DIR, "pushitem.yaml")
JSON_PATH = os.path.join(SCHEMA_DIR, "pushitem.json")

# An annotation, ignored by validators: JSON has no comments.
GENERATED_COMMENT = (
    "Generated from pushitem.yaml by scripts/generate_schema_json.py: "
    "edit the YAML file, not this one."
)


def generated_json(yaml_text):
    """The text of pushitem.json for the text of pushitem.yaml."""
    schema = {"$comment": GENERATED_COMMENT}
    schema.update(yaml.safe_load(yaml_text))
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if pushitem.json is out of date",
    )
    args = parser.parse_args(argv)

    with open(YAML_PATH, encoding="utf-8") as yaml_file:
        expected = generated_json(yaml_file.read())
    if args.check:
        with open(JSON_PATH, encoding="utf-8") as json_file:
            if json_file.read() != expected:
                sys.exit(
                    "%s does not match %s: run %s" % (JSON_PATH, YAML_PATH, __file__)
                )
        return
    with open(JSON_PATH, "w", encoding="utf-8") as json_file:
        json_file.write(expected)


if __name__ == "__main__":
    main()
