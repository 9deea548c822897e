"""The push item schema: the commented YAML file beside this module.

The YAML file is the source, shown in the documentation. Its JSON copy,
``pushitem.json``, is generated from it by ``scripts/generate_schema_json.py``
(a test checks that the two agree), and is what the package loads: json is
imported already, and a YAML parser would more than double the cost of the
first call of a process.
"""

import functools
import json
import os

#: The source of the schema, with comments.
SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "pushitem.yaml")
#: The copy of the schema that the package loads.
SCHEMA_JSON_PATH = os.path.join(os.path.dirname(__file__), "pushitem.json")

#: The push item states that mean all went well for the item. Every other
#: state, including one the schema does not know, is unsuccessful. The schema
#: lists its states in these two groups too; a test keeps them in step.
SUCCESSFUL_STATES = frozenset(
    {
        "PUSHED",
        "PENDING",
        "EXISTS",
        "DELETED",
        "MISSING",
        "SKIPPED",
        # Legacy
        "PUBLISHED",
        "EXPORTED",
    }
)


@functools.lru_cache(maxsize=None)
def push_item_schema() -> dict:
    """The push item schema as a dict, read once on first use."""
    with open(SCHEMA_JSON_PATH, encoding="utf-8") as schema_file:
        return json.load(schema_file)
