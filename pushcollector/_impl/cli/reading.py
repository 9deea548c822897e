"""``pushcollector summary`` and ``pushcollector runs``: read runs back and
gate CI on their outcome."""

from __future__ import annotations

import argparse

from ..environment import ARTIFACTS_DIR, HTTP_TOKEN
from ..reading.dispatch import list_runs, listed_base, open_run
from .errors import EXIT_FAILED, EXIT_PASSED
from .output import (
    aligned_table,
    format_count,
    plural,
    print_json,
    print_lines,
    shown,
    warn_about_bad_lines,
)

_EXIT_CODES_HELP = """\
exit status:
  0  every push item ended in a successful state (or there were none), and
     every line of the file could be read
  1  some push item ended unsuccessful or was left PENDING, or a line of the
     file could not be read, so that some item's state is unknown
  2  the path could not be read or holds no run, the service could not be
     read or holds no such run, or the command was misused
"""

_PATH_HELP = (
    "a run directory, an artifacts directory (its 'latest' run is used) or a"
    " pushitems.jsonl file; or the URL of a run held by a collection"
    " service, http(s)://HOST/api/runs/RUN_ID, or of the service,"
    " http(s)://HOST/api, for its newest run (the token is read from $%s);"
    " default: the latest run under $%s, else under ./artifacts"
    % (HTTP_TOKEN.name, ARTIFACTS_DIR.name)
)


def add_commands(commands):
    summary = commands.add_parser(
        "summary",
        help="summarise a run; the exit status says whether it passed",
        description="Print how many push items ended in each state and list"
        " those that did not end successfully. The last record of each"
        " (filename, dest) pair is its final state. Lines that cannot be read,"
        " such as a torn last line, are skipped with a warning, and fail the"
        " run: the state of some item is unknown.",
        epilog=_EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    summary.add_argument("path", nargs="?", metavar="PATH", help=_PATH_HELP)
    summary.add_argument(
        "--json", action="store_true", help="print one JSON object instead"
    )
    summary.add_argument(
        "--allow-pending",
        action="store_true",
        help="pass even if push items were left PENDING",
    )
    bad_lines = summary.add_mutually_exclusive_group()
    bad_lines.add_argument(
        "--allow-bad-lines",
        action="store_true",
        help="pass even if lines of the file had to be skipped",
    )
    # Kept for the CI scripts written when skipped lines passed by default.
    bad_lines.add_argument(
        "--strict",
        action="store_true",
        help="deprecated, no effect: skipped lines fail the run by default",
    )
    summary.set_defaults(handler=_summary)

    runs = commands.add_parser(
        "runs",
        help="list the runs in an artifacts directory or a service",
        description="List the runs in an artifacts directory or a collection"
        " service, newest first,"
        " with their counts and whether they passed (as 'summary' without"
        " options judges). '*' marks the latest. A run that cannot be read is"
        " listed with its error: the exit status is 0 whenever the directory"
        " could be listed.",
    )
    runs.add_argument(
        "path",
        nargs="?",
        metavar="BASE",
        help="the artifacts directory, or the URL of a collection service,"
        " http(s)://HOST/api; default: $%s, else ./artifacts" % ARTIFACTS_DIR.name,
    )
    runs.add_argument(
        "--json", action="store_true", help="print one JSON object instead"
    )
    runs.set_defaults(handler=_runs)


def _reasons(report):
    """What made a run fail, as phrases for people."""
    reasons = []
    if report.unsuccessful_count:
        reasons.append("%s unsuccessful" % format_count(report.unsuccessful_count))
    if report.unfinished_count and not report.allow_pending:
        reasons.append(
            "%s unfinished (PENDING)" % format_count(report.unfinished_count)
        )
    if report.bad_line_count and not report.allow_bad_lines:
        reasons.append(plural(report.bad_line_count, "skipped line"))
    return reasons


def _summary(args):
    run = open_run(args.path)
    report = run.report(args.allow_pending, args.allow_bad_lines)
    warn_about_bad_lines(run, report.bad_lines)
    if args.json:
        print_json(report.document(run.name, run.location(), run.is_latest))
    else:
        _print_summary(run, report)
    return EXIT_PASSED if report.passed else EXIT_FAILED


def _print_summary(run, report):
    out = []
    out.append("Run:        %s%s" % (shown(run.name), " (latest)" * run.is_latest))
    out.extend(
        "%-11s %s" % (label + ":", shown(place))
        for label, place in run.shown_location()
    )
    out.append("Records:    %s" % format_count(report.record_count))
    out.append("Push items: %s" % format_count(report.push_item_count))
    if report.bad_line_count:
        out.append("Skipped:    %s" % plural(report.bad_line_count, "line"))
    if report.state_counts:
        out.append("")
        out.extend(
            aligned_table(
                ["STATE", "PUSH ITEMS"],
                [
                    [state, format_count(count)]
                    for state, count in report.state_counts.items()
                ],
                right_aligned={1},
            )
        )
    for title, items in (
        ("Unsuccessful", report.unsuccessful),
        (
            (
                "Left PENDING (allowed)"
                if report.allow_pending
                else "Unfinished, left PENDING"
            ),
            report.unfinished,
        ),
    ):
        if items:
            out.append("")
            out.append("%s (%s):" % (title, format_count(len(items))))
            out.extend(
                "  " + line
                for line in aligned_table(
                    ["FILENAME", "DEST", "STATE"],
                    [[item.filename, item.dest or "-", item.state] for item in items],
                )
            )
    out.append("")
    if not report.passed:
        out.append("FAILED: %s" % ", ".join(_reasons(report)))
    else:
        count = report.push_item_count
        if count:
            verdict_line = "PASSED: %s%s ended successfully" % (
                "all " if count > 1 else "",
                plural(count, "push item"),
            )
        else:
            verdict_line = "PASSED: no push items were recorded"
        if report.bad_line_count:
            verdict_line += " (%s allowed)" % plural(
                report.bad_line_count, "skipped line"
            )
        out.append(verdict_line)
    print_lines(out)


def _runs(args):
    base = listed_base(args.path)
    # Only the figures of each run and its result are kept, not its report,
    # so that listing many large runs takes the memory of one.
    runs = [_listed(run) for run in list_runs(args.path)]
    if args.json:
        print_json({"base": base, "runs": [figures for figures, _ in runs]})
        return EXIT_PASSED
    if not runs:
        print_lines(["No runs in %s" % shown(base)])
        return EXIT_PASSED
    table = aligned_table(
        ["RUN", "RECORDS", "PUSH ITEMS", "FILES", "RESULT"],
        [
            [
                figures["name"],
                _figure(figures["records"]),
                _figure(figures["push_items"]),
                _figure(figures["files"]),
                result,
            ]
            for figures, result in runs
        ],
        right_aligned={1, 2, 3},
    )
    marks = ["  "] + ["* " if figures["latest"] else "  " for figures, _ in runs]
    print_lines(mark + line for mark, line in zip(marks, table))
    return EXIT_PASSED


def _listed(run):
    """What ``runs --json`` prints of a run, and its result in words."""
    figures, report = run.listing()
    if report is None:
        return figures, "error: " + figures["error"]
    return figures, ", ".join(_reasons(report) or ["passed"])


def _figure(number):
    return "-" if number is None else format_count(number)
