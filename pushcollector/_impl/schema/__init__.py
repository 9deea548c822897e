"""The push item schema, loaded from the commented YAML file beside this module."""

import functools
import os

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "pushitem.yaml")

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
    """The push item schema as a dict, read once on first use.

    YAML is imported here rather than at module level because most imports of
    pushcollector never need the schema.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SCHEMA_PATH, encoding="utf-8") as schema_file:
        return yaml.load(schema_file, Loader=loader)
