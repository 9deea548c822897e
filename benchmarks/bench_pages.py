#!/usr/bin/env python3
"""Benchmark the web view of ``pushcollector serve`` on a big run.

A run of 1,000,000 records is stored once, with ``Store.add_push_items``
5,000 records at a time, in PostgreSQL (a server this script starts, or an
existing one named with ``--postgres-url``) and in SQLite (a file in a
temporary directory): 909,091 push items, every tenth recorded ``PENDING``
before its final state, 10,000 of them ending unsuccessfully (``NOTFOUND``
and ``UPLOADFAILED`` in turn) and the others ``PUSHED``; and a
``push.log`` of 2,000 appends of 1 KiB. A ``pushcollector serve`` on each
database then answers, with requests, timed until the whole page is
received:

* the run's page, ``GET /runs/bench-pages``: its counts, chart, the first
  page (100 rows) of its unsuccessful items and its files;
* a filtered, sorted second page,
  ``GET /runs/bench-pages?state=NOTFOUND&sort=filename&order=desc&page=2``;
* the page of its log, ``GET /runs/bench-pages/files/push.log``, which
  shows the last 256 KiB.

After each timed request the page is checked: the counts of records, items,
unsuccessful and unfinished items it shows, and the filenames of the rows
of its table, against what was written (the log page: the end of the log).

``--scale`` multiplies the records, items, failures and log appends. Each
figure is the median of ``--repeat`` requests, the cases taken in turn
within each round. The target is at most 1 s for each page of the run on
PostgreSQL; SQLite's figures are reported without a target (their
``target`` and ``pass`` are None), as is the log page. A table goes to
stdout (one JSON object instead with ``--json``), progress to stderr. The
exit status is 0 whether or not the targets are met, and 1 if a data check
fails.

The database on PostgreSQL is vacuumed and analysed once filled, as
autovacuum would do soon after (see bench_serve.py, whose server, services
and databases this script uses).

Examples::

    python benchmarks/bench_pages.py
    python benchmarks/bench_pages.py --scale 0.01 --repeat 1 --json
    python benchmarks/bench_pages.py --skip-postgres
"""

import argparse
import contextlib
import html
import random
import re
import statistics
import sys
import tempfile
import time

from bench_serve import (
    Service,
    add_batches,
    fresh_sqlite,
    postgres_databases,
    stores_to_fill,
)
from benchlib import (
    add_json_option,
    add_repeat_option,
    add_scale_option,
    add_seed_option,
    check,
    print_results,
    progress_printer,
    random_rpm,
    require_project_pushcollector,
    scaled,
)

RUN = "bench-pages"
ITEMS = 909_091
# Every TWICE_EVERY-th item is recorded PENDING first: 1,000,000 records.
TWICE_EVERY = 10
FAILURES = 10_000
FILL_BATCH = 5_000
LOG_APPENDS = 2_000
LOG_LINE_BYTES = 1024
ROWS_PER_PAGE = 100

TARGET_SECONDS = 1.0
REQUEST_TIMEOUT = 600

FILTERED_QUERY = "state=NOTFOUND&sort=filename&order=desc&page=2"

CASES = {
    "run_page": "run page",
    "filtered_page": "filtered, sorted page 2",
    "log_page": "log page (tailed)",
}
DATABASES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}

progress = progress_printer("bench_pages")


class DataCheckError(SystemExit):
    """A page does not show what the run holds."""

    def __init__(self, message):
        super().__init__("bench_pages: data check failed: " + message)


# -- The run ----------------------------------------------------------------


class BigRun:
    """The push items of the big run, and what its pages must show.

    Item ``i`` is a realistic RPM of a unique filename; it fails when it is
    one of the first ``failures`` items of number ``stride - 1`` modulo
    ``stride``, every other failure ``NOTFOUND``.
    """

    def __init__(self, items, failures, log_appends, seed):
        self.items = items
        self.failures = failures
        self.log_appends = log_appends
        self.seed = seed
        self.stride = max(1, items // failures)
        self.records = items + items // TWICE_EVERY
        self.not_found = []
        self.failed = []
        failed = 0
        for number in range(items):
            state = self.final_state(number, failed)
            if state != "PUSHED":
                failed += 1
                self.failed.append(self.filename(number))
                if state == "NOTFOUND":
                    self.not_found.append(self.filename(number))

    def final_state(self, number, failed_before):
        if number % self.stride != self.stride - 1 or failed_before >= self.failures:
            return "PUSHED"
        return "NOTFOUND" if failed_before % 2 == 0 else "UPLOADFAILED"

    @staticmethod
    def filename(number):
        return "pkg-%07d.rpm" % number

    def batches(self):
        """The records, FILL_BATCH at a time: push item dicts."""
        rng = random.Random("%s-pages" % self.seed)
        batch = []
        failed = 0
        for number in range(self.items):
            rpm = random_rpm(rng)
            state = self.final_state(number, failed)
            failed += state != "PUSHED"
            item = {
                "filename": self.filename(number),
                "dest": rpm.dest(rng.choice(("baseos", "appstream"))),
                "src": rpm.src,
                "build": rpm.build,
                "state": state,
            }
            if number % TWICE_EVERY == TWICE_EVERY - 1:
                batch.append(dict(item, state="PENDING"))
            batch.append(item)
            if len(batch) >= FILL_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def log_line(self, number):
        text = "%07d push item batch done" % number
        return ("%-*s\n" % (LOG_LINE_BYTES - 1, text)).encode("ascii")

    @property
    def log(self):
        return b"".join(self.log_line(number) for number in range(self.log_appends))

    def expected_filtered_rows(self):
        """The filenames of page 2 of the NOTFOUND items, by filename, down."""
        ordered = sorted(self.not_found, reverse=True)
        return ordered[ROWS_PER_PAGE : 2 * ROWS_PER_PAGE]


def fill(database_urls, run):
    with stores_to_fill(database_urls) as stores:
        add_batches(stores, RUN, run.batches(), run.records)
        for number in range(run.log_appends):
            for store in stores:
                store.append_file(RUN, "push.log", run.log_line(number))


# -- Pages ------------------------------------------------------------------


def fetch(url):
    """The page at ``url``, whole, and the seconds until it was received."""
    import requests

    start = time.perf_counter()
    response = requests.get(url, timeout=REQUEST_TIMEOUT)
    text = response.text
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise DataCheckError("%s answered %d" % (url, response.status_code))
    return seconds, text


def shown(page, element_id):
    match = re.search(r'<dd id="%s">(\d+)</dd>' % element_id, page)
    return int(match.group(1)) if match else None


def table_rows(page):
    """The filenames of the rows of the table of unsuccessful items."""
    section = page.split('id="unsuccessful"', 1)[1].split('id="unfinished"', 1)[0]
    return [
        html.unescape(name)
        for name in re.findall(r'<td class="filename">([^<]*)</td>', section)
    ]


def check_run_page(page, run, where):
    figures = {
        "records": shown(page, "records"),
        "push-items": shown(page, "push-items"),
        "unsuccessful-count": shown(page, "unsuccessful-count"),
        "unfinished-count": shown(page, "unfinished-count"),
    }
    expected = {
        "records": run.records,
        "push-items": run.items,
        "unsuccessful-count": len(run.failed),
        "unfinished-count": 0,
    }
    if figures != expected:
        raise DataCheckError(
            "%s: the run page shows %s, not %s" % (where, figures, expected)
        )
    if table_rows(page) != run.failed[:ROWS_PER_PAGE]:
        raise DataCheckError(
            "%s: the run page's table is not the first %d failed items"
            % (where, ROWS_PER_PAGE)
        )
    if 'class="chart"' not in page:
        raise DataCheckError("%s: the run page has no chart" % where)


def check_filtered_page(page, run, where):
    if table_rows(page) != run.expected_filtered_rows():
        raise DataCheckError(
            "%s: the filtered page's rows are not items %d to %d of the NOTFOUND"
            " items by filename, descending"
            % (where, ROWS_PER_PAGE + 1, 2 * ROWS_PER_PAGE)
        )
    heading = 'Unsuccessful items <span class="muted">(%d matching)' % len(
        run.not_found
    )
    if heading not in page:
        raise DataCheckError(
            "%s: the filtered page does not count %d NOTFOUND items"
            % (where, len(run.not_found))
        )


def check_log_page(page, run, where):
    text = html.unescape(page.split('id="log">', 1)[1].split("</pre>", 1)[0])
    log = run.log
    if not text or not log.endswith(text.encode("ascii")):
        raise DataCheckError(
            "%s: the log page does not show the end of the log" % where
        )
    if len(log) > 256 * 1024 and 'id="tailed"' not in page:
        raise DataCheckError("%s: the log page does not say it is tailed" % where)


PATHS = {
    "run_page": ("/runs/%s" % RUN, check_run_page),
    "filtered_page": ("/runs/%s?%s" % (RUN, FILTERED_QUERY), check_filtered_page),
    "log_page": ("/runs/%s/files/push.log" % RUN, check_log_page),
}


def measure(args, postgres, work):
    run = BigRun(
        scaled(ITEMS, args.scale),
        scaled(FAILURES, args.scale),
        scaled(LOG_APPENDS, args.scale),
        args.seed,
    )
    timings = {"%s_%s" % (kind, case): [] for kind in DATABASES for case in CASES}
    with contextlib.ExitStack() as stack:
        databases = {}
        if postgres is not None:
            databases["postgresql"] = stack.enter_context(postgres.fresh("pages"))
        if not args.skip_sqlite:
            databases["sqlite"] = stack.enter_context(fresh_sqlite(work, "pages"))
        progress(
            "writing a run of %s records (%s failures) into %s"
            % (
                format(run.records, ","),
                format(len(run.failed), ","),
                " and ".join(databases),
            )
        )
        fill(list(databases.values()), run)
        bases = {
            kind: stack.enter_context(Service(url, work)).url[: -len("/api")]
            for kind, url in databases.items()
        }
        progress("one untimed request of each page")
        for kind, base in bases.items():
            for case, (path, checker) in PATHS.items():
                checker(fetch(base + path)[1], run, DATABASES[kind])
        for round_number in range(1, args.repeat + 1):
            progress("round %d/%d" % (round_number, args.repeat))
            for kind, base in bases.items():
                for case, (path, checker) in PATHS.items():
                    seconds, page = fetch(base + path)
                    checker(page, run, "%s, %s" % (DATABASES[kind], CASES[case]))
                    timings["%s_%s" % (kind, case)].append(seconds)
    measurements = {}
    for key, seconds in timings.items():
        kind, case = key.split("_", 1)
        measurements[key] = (
            {
                "case": "%s, %s" % (CASES[case], DATABASES[kind]),
                "median_seconds": statistics.median(seconds),
                "seconds": seconds,
                "checked": CHECKED[case],
            }
            if seconds
            else None
        )
    return run, measurements


CHECKED = {
    "run_page": "the counts of records, items, unsuccessful and unfinished"
    " items shown, the chart, and the filenames of the table's 100 rows",
    "filtered_page": "the filenames of its rows (items 101 to 200 of the"
    " NOTFOUND items by filename, descending) and the count of NOTFOUND items",
    "log_page": "the text shown is the end of the log, and said to be tailed",
}


def targets(measurements):
    def median(key):
        figures = measurements[key]
        return None if figures is None else figures["median_seconds"]

    results = {}
    for kind in DATABASES:
        for case in CASES:
            key = "%s_%s" % (kind, case)
            if kind == "postgresql" and case != "log_page":
                results[key + "_seconds"] = check(median(key), TARGET_SECONDS)
            else:
                results[key + "_seconds"] = {
                    "value": median(key),
                    "target": None,
                    "pass": None,
                }
    return results


def run_benchmark(args):
    require_project_pushcollector()
    if args.skip_postgres and args.skip_sqlite:
        raise SystemExit(
            "bench_pages: --skip-postgres and --skip-sqlite: nothing to do"
        )
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as work:
        with postgres_databases(args) as postgres:
            postgresql = None
            if postgres is not None:
                postgresql = {
                    "server": postgres.description,
                    "version": postgres.version(),
                }
            run, measurements = measure(args, postgres, work)
    return {
        "settings": {
            "scale": args.scale,
            "repeat": args.repeat,
            "seed": args.seed,
            "records": run.records,
            "push_items": run.items,
            "failures": len(run.failed),
            "log_bytes": run.log_appends * LOG_LINE_BYTES,
            "postgresql": postgresql,
            "sqlite": not args.skip_sqlite,
            "python": sys.version.split()[0],
        },
        "measurements": measurements,
        "targets": targets(measurements),
    }


def print_report(results):
    settings = results["settings"]
    print(
        "pages of a run of %s records, %s push items, %s failures"
        % (
            format(settings["records"], ","),
            format(settings["push_items"], ","),
            format(settings["failures"], ","),
        )
    )
    row = "%-42s %10s %8s  %s"
    print(row % ("case", "median s", "target", "verdict"))
    for key, figures in results["measurements"].items():
        target = results["targets"][key + "_seconds"]
        if figures is None:
            print(row % ("  " + key, "-", "-", "skipped"))
            continue
        print(
            row
            % (
                "  " + figures["case"],
                "%.3f" % figures["median_seconds"],
                target["target"] or "-",
                (
                    "reported"
                    if target["pass"] is None
                    else ("PASS" if target["pass"] else "FAIL")
                ),
            )
        )
    print()
    print("Each page was received whole, and checked after every timed request.")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark the pages of pushcollector serve on a big run,"
        " on PostgreSQL and SQLite."
    )
    add_scale_option(
        parser, "the records (1,000,000), failures (10,000) and log appends (2,000)"
    )
    add_repeat_option(parser, 5, "timed requests of each page")
    add_seed_option(parser, "push items")
    add_json_option(parser)
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="the maintenance database of a PostgreSQL server to create the"
        " database in (postgresql://user:password@host:port/postgres);"
        " by default a server is started for the benchmark",
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="measure on SQLite only"
    )
    parser.add_argument(
        "--skip-sqlite", action="store_true", help="measure on PostgreSQL only"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
