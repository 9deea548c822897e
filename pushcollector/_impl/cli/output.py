"""What the commands print: text safe on any terminal and in any encoding,
tables, counts, JSON, and the warnings about skipped lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Sequence

from ..reading.run import Run
from ..records import BadLine

# Bad lines warned about one by one; the rest are counted.
_BAD_LINES_SHOWN = 10


def warn_about_bad_lines(run: Run, bad_lines: Sequence[BadLine]) -> None:
    """Warn on standard error about the lines of a run's file that were
    skipped: the first few one by one, then how many more."""
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


def aligned_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    right_aligned: Collection[int] = frozenset(),
) -> list[str]:
    """Lines of a table with aligned columns, its cells :func:`shown`.

    Args:
        header: the title of each column.
        rows: the cells of each row.
        right_aligned: the indexes of the columns aligned right, such as
            those of numbers; the others are aligned left.
    """
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


def shown(text: str) -> str:
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


def format_count(number: int) -> str:
    """A count with its thousands separated: ``1,234,567``."""
    return format(number, ",")


def plural(number: int, noun: str) -> str:
    """A count and its noun, plural unless one: ``1 line``, ``2 lines``."""
    return "%s %s%s" % (format_count(number), noun, "" if number == 1 else "s")


def print_json(document: object) -> None:
    """Print a JSON document, indented, on standard output: ASCII only."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def print_lines(lines: Iterable[str]) -> None:
    """Print lines on standard output, in one write."""
    sys.stdout.write("".join(line + "\n" for line in lines))
