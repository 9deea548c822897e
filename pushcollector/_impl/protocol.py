"""The rules of the collection service's protocol, specified in ``docs/http.rst``.

The ``http`` backend, ``pushcollector upload``, reading from a service, the
store and the service itself all follow these: one copy of each rule, so
that what a client sends is what the service takes. Nothing heavy is
imported here.
"""

from __future__ import annotations

import re
import urllib.parse

from .jsonvalues import PushItemValueError, check_json_values

#: The longest run id the service takes.
MAX_RUN_ID_LENGTH = 128

#: The longest ``Idempotency-Key`` the service takes.
MAX_KEY_LENGTH = 256

#: A run id: URL-safe without quoting, and never ``.`` or ``..``.
RUN_ID_PATTERN = re.compile(
    r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,%d}\Z" % (MAX_RUN_ID_LENGTH - 1)
)

#: A character a run id may not hold.
NOT_IN_RUN_ID = re.compile(r"[^A-Za-z0-9._~-]")

#: What a run id is, as a refusal says it.
RUN_ID_RULE = "1 to %d letters, digits and ._~- (not starting with .)" % (
    MAX_RUN_ID_LENGTH
)

#: An ``Idempotency-Key``: printable ASCII, no spaces.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,%d}\Z" % MAX_KEY_LENGTH)

#: What a key is, as a refusal says it.
KEY_RULE = "1 to %d printable ASCII characters, no spaces" % MAX_KEY_LENGTH

#: The media type of push items sent, and of the service's JSON answers.
JSON_TYPE = "application/json"

#: The media type of file content, both ways.
BYTES_TYPE = "application/octet-stream"

#: The media type of a run's records read back, one JSON object a line.
JSON_LINES_TYPE = "application/x-ndjson"

#: The path of the list of runs, below the service's base URL.
RUNS_PATH = "/runs"


def quoted_filename(filename: str) -> str:
    """The filename as a URL path: each ``/``-separated part percent-encoded."""
    return "/".join(urllib.parse.quote(part, safe="") for part in filename.split("/"))


def run_path(run_id: str) -> str:
    """The path of a run, below the service's base URL."""
    return "%s/%s" % (RUNS_PATH, urllib.parse.quote(run_id, safe=""))


def push_items_path(run_id: str) -> str:
    """The path a run's push items are sent to and read from."""
    return run_path(run_id) + "/push-items"


def files_path(run_id: str) -> str:
    """The path of the list of a run's files."""
    return run_path(run_id) + "/files"


def file_path(run_id: str, filename: str) -> str:
    """The path of one file of a run."""
    return "%s/%s" % (files_path(run_id), quoted_filename(filename))


def bad_lines_path(run_id: str) -> str:
    """The path a client declares the lines of a run it could not deliver to."""
    return run_path(run_id) + "/bad-lines"


#: The longest reason of a bad line the service takes, in characters.
MAX_BAD_LINE_REASON = 4096


def summary_path(run_id: str) -> str:
    """The path of the summary the service makes of a run."""
    return run_path(run_id) + "/summary"


def schema_refusal(validator, item: object) -> str:
    """Why a push item breaks the schema, as the service's 422 says it.

    Args:
        validator: the :class:`~.validation.SchemaValidator` the item failed.
        item: the push item.
    """
    error = validator.detailed_error(item)
    return _at(error.absolute_path, error.message)


def value_refusal(error: PushItemValueError) -> str:
    """Why a push item holds a value that is not JSON, as a refusal says it."""
    return _at(error.path, error.problem)


def record_refusal(validator, record: object) -> str | None:
    """Why the service would refuse one record, or None if it takes it."""
    if not validator.is_valid(record):
        return schema_refusal(validator, record)
    try:
        check_json_values([record])
    except PushItemValueError as error:
        return value_refusal(error)
    return None


def _at(path, problem):
    where = "".join("[%r]" % step for step in path)
    return "%s%s" % (where + ": " if where else "", problem)
