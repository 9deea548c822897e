#!/usr/bin/env python3
"""Benchmark what requests of ``pushcollector serve`` hold in memory.

On PostgreSQL (a server this script starts, or an existing one named with
``--postgres-url``) and on SQLite (a file in a temporary directory), one
``pushcollector serve`` process each, it measures the growth of the
service's resident memory at its peak (``VmHWM`` of ``/proc/PID/status``,
reset through ``/proc/PID/clear_refs`` before each case) over what it held
before the case (``VmRSS``), for:

* ``file_page``: 6 views at once of the page of a 64 MiB log attached in
  one ``PUT`` (the page shows its last 256 KiB);
* ``appends``: 8 appends at once of 64 MiB each to one log;
* ``summary``: 4 summaries at once of a run of 1,000,000 unsuccessful
  items (``GET /api/runs/R/summary``).

Each answer is checked: the page is the file's, tailed; the log holds
every append; each summary lists every unsuccessful item. ``--scale``
multiplies the sizes and the items.

Usage::

    python benchmarks/bench_memory.py
    python benchmarks/bench_memory.py --scale 0.01 --skip-postgres --json
"""

import argparse
import concurrent.futures
import contextlib
import os
import sys
import tempfile

from bench_serve import Service, add_batches, fresh_sqlite, postgres_databases
from bench_serve import stores_to_fill
from benchlib import (
    add_json_option,
    add_scale_option,
    print_results,
    progress_printer,
    require_project_pushcollector,
    scaled,
)

MIB = 1024 * 1024
FILE_BYTES = 64 * MIB
PAGE_VIEWS = 6
APPENDS = 8
SUMMARY_ITEMS = 1_000_000
SUMMARIES = 4
FILL_BATCH = 5_000
# The media type the service requires of a file's body.
FILE_HEADERS = {"Content-Type": "application/octet-stream"}

REQUEST_TIMEOUT = 600
TAIL_BYTES = 256 * 1024

CASES = {
    "file_page": "6 views of the page of a file attached whole",
    "appends": "8 appends at once to one file",
    "summary": "4 summaries at once of a run of unsuccessful items",
}
DATABASES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}

progress = progress_printer("bench_memory")


def kib_of(pid, field):
    """A figure of /proc/PID/status, in KiB."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit("bench_memory: no %s in /proc/%d/status" % (field, pid))


def peak_growth(pid, case):
    """The growth of a process's resident memory at its peak during
    ``case()``, in MiB, over what it held before."""
    # Writing 5 resets the peak (VmHWM) to what is resident now.
    with open("/proc/%d/clear_refs" % pid, "w") as clear_refs:
        clear_refs.write("5")
    before = kib_of(pid, "VmRSS")
    case()
    return (kib_of(pid, "VmHWM") - before) / 1024


def at_once(count, call):
    """Make ``count`` calls at once, each in a thread of its own."""
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return [future.result() for future in [pool.submit(call) for _ in range(count)]]


def log_bytes(size):
    line = b"%s\n" % (b"log line " * 11)[:99]
    return (line * (size // len(line) + 1))[:size]


def check_file_page(page, size):
    # A file larger than the tail says so; a smaller one is shown whole.
    if size > TAIL_BYTES and 'id="tailed"' not in page:
        raise SystemExit(
            "bench_memory: the page of a %d-byte file is not tailed" % size
        )
    if "log line" not in page:
        raise SystemExit("bench_memory: the page does not show the file")


def fill_summary(database_url, items):
    with stores_to_fill([database_url]) as stores:
        add_batches(
            stores,
            "bench-memory-summary",
            (
                [
                    {"filename": "pkg-%07d.rpm" % number, "state": "NOTFOUND"}
                    for number in range(start, min(start + FILL_BATCH, items))
                ]
                for start in range(0, items, FILL_BATCH)
            ),
            items,
        )


def measure_database(database_url, work, file_bytes, items):
    """The peak growth of each case, each in a service of its own: memory
    a case freed stays resident, and would hide the growth of the next."""
    import requests

    fill_summary(database_url, items)
    content = log_bytes(file_bytes)
    figures = {}
    with Service(database_url, work) as service:
        base = service.url
        answer = requests.put(
            base + "/runs/bench-memory/files/attached.log",
            data=content,
            headers=FILE_HEADERS,
            timeout=REQUEST_TIMEOUT,
        )
        answer.raise_for_status()
        page_url = base[: -len("/api")] + "/runs/bench-memory/files/attached.log"

        def view():
            page = requests.get(page_url, timeout=REQUEST_TIMEOUT)
            page.raise_for_status()
            check_file_page(page.text, file_bytes)

        # One small request of each case first: what any request loads once
        # (modules, the pool's connections) is not the case's.
        requests.put(
            base + "/runs/bench-memory/files/small.log",
            data=b"small\n",
            headers=FILE_HEADERS,
            timeout=60,
        ).raise_for_status()
        requests.get(page_url.replace("attached", "small"), timeout=60)
        figures["file_page"] = peak_growth(
            service.process.pid, lambda: at_once(PAGE_VIEWS, view)
        )

    with Service(database_url, work) as service:
        base = service.url

        def append():
            requests.post(
                base + "/runs/bench-memory/files/appended.log",
                data=content,
                headers=FILE_HEADERS,
                timeout=REQUEST_TIMEOUT,
            ).raise_for_status()

        requests.post(
            base + "/runs/bench-memory/files/appended.log",
            data=b"",
            headers=FILE_HEADERS,
            timeout=60,
        ).raise_for_status()
        figures["appends"] = peak_growth(
            service.process.pid, lambda: at_once(APPENDS, append)
        )
        listed = requests.get(base + "/runs/bench-memory/files", timeout=60).json()
        sizes = {entry["name"]: entry["size"] for entry in listed["files"]}
        if sizes.get("appended.log") != APPENDS * file_bytes:
            raise SystemExit("bench_memory: the log does not hold every append")

    with Service(database_url, work) as service:
        base = service.url

        def summary():
            document = requests.get(
                base + "/runs/bench-memory-summary/summary", timeout=REQUEST_TIMEOUT
            ).json()
            if len(document["unsuccessful"]) != items:
                raise SystemExit("bench_memory: a summary lacks unsuccessful items")

        requests.get(base + "/runs/bench-memory-summary", timeout=60)
        figures["summary"] = peak_growth(
            service.process.pid, lambda: at_once(SUMMARIES, summary)
        )
    return figures


def run_benchmark(args):
    require_project_pushcollector()
    file_bytes = scaled(FILE_BYTES, args.scale)
    items = scaled(SUMMARY_ITEMS, args.scale)
    measurements = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as work:
        with postgres_databases(args) as postgres, contextlib.ExitStack() as stack:
            databases = {}
            if postgres is not None:
                databases["postgresql"] = stack.enter_context(postgres.fresh("memory"))
            databases["sqlite"] = stack.enter_context(fresh_sqlite(work, "memory"))
            for kind, url in databases.items():
                progress("measuring on %s" % DATABASES[kind])
                for case, mib in measure_database(url, work, file_bytes, items).items():
                    measurements["%s_%s" % (kind, case)] = {
                        "case": "%s, %s" % (CASES[case], DATABASES[kind]),
                        "peak_growth_mib": round(mib, 1),
                    }
    return {
        "settings": {
            "scale": args.scale,
            "file_bytes": file_bytes,
            "summary_items": items,
            "postgresql": not args.skip_postgres,
            "python": sys.version.split()[0],
        },
        "measurements": measurements,
    }


def print_report(results):
    settings = results["settings"]
    print(
        "peak memory of pushcollector serve: files of %.1f MiB, a summary of %s"
        " unsuccessful items"
        % (settings["file_bytes"] / MIB, format(settings["summary_items"], ","))
    )
    row = "%-62s %12s"
    print(row % ("case", "growth MiB"))
    for figures in results["measurements"].values():
        print(row % ("  " + figures["case"], "%.1f" % figures["peak_growth_mib"]))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark the peak memory of pushcollector serve's"
        " requests, on PostgreSQL and SQLite."
    )
    add_scale_option(parser, "the file size (64 MiB) and summary items (1,000,000)")
    add_json_option(parser)
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="the maintenance database of a PostgreSQL server to create the"
        " database in; by default a server is started for the benchmark",
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="measure on SQLite only"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.exists("/proc/self/clear_refs"):
        raise SystemExit("bench_memory: needs Linux's /proc/PID/clear_refs")
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
