"""What the commands print: text safe on any terminal and in any encoding,
tables, counts, JSON, and the warnings about skipped lines."""

from __future__ import annotations

import json
import sys

# Bad lines warned about one by one; the rest are counted.
_BAD_LINES_SHOWN = 10


def describe_error(error):
    if isinstance(error, OSError) and error.filename and error.strerror:
        return "%s: %s" % (error.filename, error.strerror)
    return str(error)


def warn_about_bad_lines(run, bad_lines):
    for bad in bad_lines[:_BAD_LINES_SHOWN]:
        print(
            "pushcollector: warning: %s:%d: skipped: %s"
            % (shown(run.items_path), bad.line_number, bad.reason),
            file=sys.stderr,
        )
    if len(bad_lines) > _BAD_LINES_SHOWN:
        print(
            "pushcollector: warning: %s: %s more lines skipped"
            % (shown(run.items_path), format_count(len(bad_lines) - _BAD_LINES_SHOWN)),
            file=sys.stderr,
        )


def aligned_table(header, rows, right_aligned=frozenset()):
    """Lines of a table with aligned columns."""
    rows = [header] + [[shown(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def shown(text):
    """Text safe to print on a terminal: control characters escaped.

    So are the characters standard output cannot encode, as the stream
    itself would (``\\u65e5``), but here, where columns are aligned.
    """
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    if text.isprintable() and _can_encode(text, encoding):
        return text
    return "".join(
        (
            char.encode(encoding, "backslashreplace").decode(encoding)
            if char.isprintable()
            else repr(char)[1:-1]
        )
        for char in text
    )


def _can_encode(text, encoding):
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def format_count(number):
    return format(number, ",")


def plural(number, noun):
    return "%s %s%s" % (format_count(number), noun, "" if number == 1 else "s")


def print_json(document):
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def print_lines(lines):
    sys.stdout.write("".join(line + "\n" for line in lines))
