"""The ``pushitems.jsonl`` line format, in both directions.

Every store of records shares it: the ``local`` backend writes it, the
service's store keeps each record in it and streams it back, readers parse
it. One record is one JSON object on a line of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

#: One push item as a line of ``pushitems.jsonl`` (without its newline): the
#: format every store of records shares. Strict, though the facade refused
#: values that are not JSON already: NaN and Infinity would be written as
#: they are, and most parsers refuse them.
encode_push_item = json.JSONEncoder(sort_keys=True, allow_nan=False).encode


# json.loads less its checks of the argument's type and of a BOM, which
# decoding rejects anyway: a tenth faster over a million lines.
_decode_json = json.JSONDecoder().decode


class BadLine:
    """A line of ``pushitems.jsonl`` that holds no push item record.

    Such lines are skipped, never fatal, whatever bytes they hold. The usual
    one is a torn last line, left by a push that was killed while writing
    it.

    Attributes:
        line_number (int): where the line is, counting from 1.
        reason (str): what is wrong with it.

    .. versionadded:: 1.4.0
    """

    __slots__ = ("line_number", "reason")

    def __init__(self, line_number: int, reason: str):
        self.line_number = line_number
        self.reason = reason

    def __repr__(self):
        return "BadLine(%d, %r)" % (self.line_number, self.reason)

    def __eq__(self, other):
        if not isinstance(other, BadLine):
            return NotImplemented
        return (self.line_number, self.reason) == (other.line_number, other.reason)


def records_of_lines(
    lines: Iterable[str], report: Callable[[BadLine], object]
) -> Iterator[dict]:
    """The push item records of lines in the format of ``pushitems.jsonl``.

    Each line is a str as read in text mode with ``errors="surrogateescape"``
    (its newline kept or not); a line that is not a record is reported as
    a :class:`BadLine` numbered from 1, and skipped.
    """
    loads = _decode_json
    for line_number, line in enumerate(lines, 1):
        try:
            record = loads(line)
        except (ValueError, RecursionError) as error:
            report(BadLine(line_number, _decoding_problem(error, line)))
            continue
        if not line.isascii() and not _is_utf8(line):
            report(BadLine(line_number, "not UTF-8 text"))
        elif (
            type(record) is dict
            and type(record.get("filename")) is str
            and type(record.get("state")) is str
            and type(record.get("dest")) in (str, type(None))
        ):
            yield record
        else:
            report(BadLine(line_number, _record_problem(record)))


def _is_utf8(line):
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decoding_problem(error, line):
    if isinstance(error, RecursionError):
        problem = "not valid JSON (nested too deeply)"
    elif not line.strip():
        problem = "empty line"
    elif isinstance(error, json.JSONDecodeError):
        problem = "not valid JSON (%s, column %d)" % (error.msg, error.colno)
    else:
        # Valid JSON that the decoder cannot turn into Python: int() refuses
        # numbers of more digits than sys.get_int_max_str_digits(), a limit
        # the writing process may have lifted for itself. The message's
        # advice on lifting it is meant for programmers, not for readers.
        problem = "not readable JSON (%s)" % str(error).partition(":")[0]
    if not line.endswith("\n"):
        problem += " (the last line is incomplete: was the push interrupted?)"
    return problem


def _record_problem(record):
    if type(record) is not dict:
        return "not a push item: a JSON %s, not an object" % _json_type(record)
    for key in ("filename", "state"):
        if type(record.get(key)) is not str:
            return "not a push item: %r is %s, not a string" % (
                key,
                _json_type(record.get(key)) if key in record else "missing",
            )
    return "not a push item: 'dest' is %s, not a string or null" % _json_type(
        record["dest"]
    )


def _json_type(value):
    return {
        dict: "object",
        list: "array",
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        type(None): "null",
    }[type(value)]
