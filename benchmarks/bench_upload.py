#!/usr/bin/env python3
"""Benchmark ``pushcollector upload`` against the ``http`` backend.

A run of 1,000,000 push item records (``bench_collect.make_dict_items``:
every schema field, checksums, extra keys), recorded by the ``local``
backend in a run directory, is sent to a ``pushcollector serve`` on a fresh
database in two ways:

* upload: ``pushcollector upload RUN --to URL`` in a subprocess, timed from
  its start to its exit (reading, checking and sending every line, and
  making the run's marker, which is removed before each timed run);
* http: one process holding the same records as dicts in memory (unpickled
  before its clock starts) records them through ``Collector.get("http")``,
  500 per call, as a push tool would, and leaves the ``with`` block, which
  waits until all was delivered. Its own clock times that, from getting the
  collector to the end of the block: neither the start of Python nor the
  unpickling counts against it.

After each timed run the service's records are read back through its API
and compared with the items, decoded, one by one and in order: every record
once, nothing else, and the run's summary counts them all.

The service runs on PostgreSQL (a server this script starts, as
``bench_serve.py`` does, or an existing one named with ``--postgres-url``)
and on SQLite. The target: upload takes at most 2 times as long as the
``http`` backend, on each database. ``--scale`` multiplies the records;
each figure is the median of ``--repeat`` rounds, the cases of a round run
in turn. A table goes to stdout (one JSON object instead with ``--json``),
progress to stderr. The exit status is 0 whether or not the ratios meet
their target, and 1 if a data check fails.

Examples::

    python benchmarks/bench_upload.py
    python benchmarks/bench_upload.py --scale 0.01 --repeat 1 --json
    python benchmarks/bench_upload.py --skip-postgres
"""

import argparse
import contextlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time

from bench_serve import REQUEST_TIMEOUT, Service, fresh_sqlite, postgres_databases
from benchlib import (
    case_figures,
    add_json_option,
    add_repeat_option,
    add_scale_option,
    add_seed_option,
    check,
    print_results,
    progress_printer,
    require_project_pushcollector,
    scaled,
)

SCRIPT_PATH = os.path.abspath(__file__)

RECORDS = 1_000_000
BATCH_SIZE = 500
# Items generated, and recorded by the local backend, at a time.
FILL_BATCH = 10_000

TARGET_UPLOAD_VS_HTTP = 2.0

CASES = {
    "postgresql_upload": "upload, PostgreSQL",
    "postgresql_http": "http backend, PostgreSQL",
    "sqlite_upload": "upload, SQLite",
    "sqlite_http": "http backend, SQLite",
}

# Bounds, so that a broken upload fails the benchmark rather than hangs it.
RUN_TIMEOUT = 3600

progress = progress_printer("bench_upload")


class DataCheckError(SystemExit):
    """What the service holds is not what was sent."""

    def __init__(self, message):
        super().__init__("bench_upload: data check failed: " + message)


# -- The run ----------------------------------------------------------------


def make_run(work, records, seed):
    """Record the items with the local backend; (run directory, pickle path)."""
    from bench_collect import make_dict_items

    from pushcollector import Collector

    pickle_path = os.path.join(work, "items.pickle")
    previous = os.getcwd()
    os.chdir(work)
    try:
        Collector.new_run()
        items = []
        with Collector.get("local") as collector:
            for start in range(0, records, FILL_BATCH):
                batch = make_dict_items(
                    min(FILL_BATCH, records - start), "%s-%d" % (seed, start)
                )
                collector.update_push_items(batch).result()
                items.extend(batch)
                if (start + FILL_BATCH) % 100_000 < FILL_BATCH:
                    progress(
                        "  %s of %s records"
                        % (format(len(items), ","), format(records, ","))
                    )
    finally:
        os.chdir(previous)
    from pushcollector import open_run

    run_dir = open_run(os.path.join(work, "artifacts")).directory
    with open(pickle_path, "wb") as pickled:
        pickle.dump(items, pickled, protocol=pickle.HIGHEST_PROTOCOL)
    return run_dir, pickle_path, items


# -- The cases --------------------------------------------------------------


def time_upload(run_dir, url, cwd):
    """Seconds of ``pushcollector upload``, from its start to its exit; the
    run id it printed."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(run_dir, ".pushcollector-upload"))
    command = [sys.executable, "-m", "pushcollector", "upload", run_dir, "--to", url]
    start = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise DataCheckError("upload exited with status %d" % completed.returncode)
    run_id = completed.stdout.strip().rsplit("/", 1)[1]
    if only_run(url) != run_id:
        raise DataCheckError("upload printed the URL of another run: %s" % run_id)
    return seconds, run_id


def send_through_http(pickle_path):
    """The writer of the http case: prints its seconds."""
    from pushcollector import Collector

    with open(pickle_path, "rb") as pickled:
        items = pickle.load(pickled)
    start = time.perf_counter()
    with Collector.get("http") as collector:
        futures = [
            collector.update_push_items(items[first : first + BATCH_SIZE])
            for first in range(0, len(items), BATCH_SIZE)
        ]
    seconds = time.perf_counter() - start
    for future in futures:
        future.result()
    print(json.dumps({"seconds": seconds}))


def time_http(pickle_path, url, cwd):
    """Seconds the http writer took by its own clock; the run id it sent to."""
    environment = dict(os.environ, PUSHCOLLECTOR_HTTP_URL=url)
    environment.pop("PUSHCOLLECTOR_HTTP_TOKEN", None)
    completed = subprocess.run(
        [sys.executable, SCRIPT_PATH, "--writer", pickle_path],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    if completed.returncode != 0:
        raise DataCheckError("http writer exited with status %d" % completed.returncode)
    return json.loads(completed.stdout)["seconds"], only_run(url)


def only_run(url):
    """The id of the one run the service holds, or a DataCheckError."""
    import requests

    runs = requests.get(url + "/runs", timeout=REQUEST_TIMEOUT).json()["runs"]
    if len(runs) != 1:
        raise DataCheckError("the service holds %d runs, not 1" % len(runs))
    return runs[0]["name"]


def check_run(url, run_id, items, where):
    """Stop unless the service's run holds the items, each once, in order."""
    import requests

    summary = requests.get(
        "%s/runs/%s/summary" % (url, run_id), timeout=REQUEST_TIMEOUT
    ).json()
    if summary.get("records") != len(items):
        raise DataCheckError(
            "%s: run %s has %r records, not %d"
            % (where, run_id, summary.get("records"), len(items))
        )
    count = 0
    with requests.get(
        "%s/runs/%s/push-items" % (url, run_id), stream=True, timeout=REQUEST_TIMEOUT
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if count >= len(items) or json.loads(line) != items[count]:
                raise DataCheckError(
                    "%s: record %d of run %s is not item %d"
                    % (where, count, run_id, count)
                )
            count += 1
    if count != len(items):
        raise DataCheckError(
            "%s: run %s gave back %d records, not %d"
            % (where, run_id, count, len(items))
        )


def measure(args, work):
    records = scaled(RECORDS, args.scale)
    progress("recording %s push items with the local backend" % format(records, ","))
    run_dir, pickle_path, items = make_run(work, records, args.seed)
    timings = {key: [] for key in CASES}
    with postgres_databases(args) as postgres:
        postgresql = None
        if postgres is not None:
            postgresql = {"server": postgres.description, "version": postgres.version()}
        for round_number in range(1, args.repeat + 1):
            for kind in ("postgresql", "sqlite"):
                if kind == "postgresql" and postgres is None:
                    continue
                if kind == "sqlite" and args.skip_sqlite:
                    continue
                for case in ("upload", "http"):
                    progress(
                        "round %d/%d: %s on %s"
                        % (round_number, args.repeat, case, kind)
                    )
                    if kind == "postgresql":
                        database = postgres.fresh(case)
                    else:
                        database = fresh_sqlite(work, case)
                    with database as database_url:
                        with Service(database_url, work) as service:
                            if case == "upload":
                                seconds, run_id = time_upload(
                                    run_dir, service.url, work
                                )
                            else:
                                seconds, run_id = time_http(
                                    pickle_path, service.url, work
                                )
                            check_run(
                                service.url, run_id, items, "%s on %s" % (case, kind)
                            )
                    timings["%s_%s" % (kind, case)].append(seconds)
    checked = (
        "read back through the API after each run: %s records, each the item"
        " sent, once and in order; the summary counts them all" % format(records, ",")
    )
    measurements = {
        key: measurement(key, records, timings[key], checked) for key in CASES
    }
    return postgresql, measurements


def measurement(key, count, timings, checked):
    """The figures of a case of CASES (see benchlib.case_figures)."""
    return case_figures(CASES[key], count, timings, checked)


def ratios(measurements):
    def time_ratio(kind):
        upload = measurements["%s_upload" % kind]
        http = measurements["%s_http" % kind]
        if upload is None or http is None:
            return None
        return upload["median_seconds"] / http["median_seconds"]

    return {
        "%s_upload_vs_http_time" % kind: check(time_ratio(kind), TARGET_UPLOAD_VS_HTTP)
        for kind in ("postgresql", "sqlite")
    }


def run_benchmark(args):
    require_project_pushcollector()
    if args.skip_postgres and args.skip_sqlite:
        raise SystemExit(
            "bench_upload: --skip-postgres and --skip-sqlite: nothing to do"
        )
    if args.skip_postgres and args.postgres_url:
        raise SystemExit("bench_upload: --postgres-url and --skip-postgres conflict")
    work = tempfile.mkdtemp(prefix="bench-upload-")
    try:
        postgresql, measurements = measure(args, work)
    finally:
        shutil.rmtree(work)
    return {
        "settings": {
            "scale": args.scale,
            "repeat": args.repeat,
            "seed": args.seed,
            "records": scaled(RECORDS, args.scale),
            "batch_size": BATCH_SIZE,
            "postgresql": postgresql,
            "sqlite": not args.skip_sqlite,
            "python": sys.version.split()[0],
        },
        "measurements": measurements,
        "ratios": ratios(measurements),
    }


def print_report(results):
    row = "%-26s %10s %10s %12s %10s %7s  %s"
    print(
        row
        % ("case", "records", "median s", "records/s", "vs http", "target", "verdict")
    )
    for kind in ("postgresql", "sqlite"):
        ratio = results["ratios"]["%s_upload_vs_http_time" % kind]
        for case in ("upload", "http"):
            key = "%s_%s" % (kind, case)
            figures = results["measurements"][key]
            if figures is None:
                print(row % (CASES[key], "-", "-", "-", "-", "-", "skipped"))
                continue
            judged = case == "upload" and ratio["value"] is not None
            print(
                row
                % (
                    figures["case"],
                    format(figures["items"], ","),
                    "%.3f" % figures["median_seconds"],
                    format(round(figures["items_per_second"]), ","),
                    "%.2fx" % ratio["value"] if judged else "-",
                    ratio["target"] if judged else "-",
                    ("PASS" if ratio["pass"] else "FAIL") if judged else "baseline",
                )
            )
    print()
    print(
        "upload: pushcollector upload of a local run, start to exit. http: one"
        " process through Collector.get('http'), %d items per call, by its own"
        " clock. Every run was read back and checked." % BATCH_SIZE
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark pushcollector upload of a local run against the"
        " http backend sending the same records, into pushcollector serve on"
        " PostgreSQL and SQLite."
    )
    add_scale_option(parser, "the records (1,000,000)")
    add_repeat_option(parser, 3, "rounds of every case")
    add_seed_option(parser, "push items")
    add_json_option(parser)
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="the maintenance database of a PostgreSQL server to create the"
        " databases in; by default a server is started for the benchmark",
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="measure on SQLite only"
    )
    parser.add_argument(
        "--skip-sqlite", action="store_true", help="measure on PostgreSQL only"
    )
    parser.add_argument("--writer", metavar="PICKLE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.writer:
        send_through_http(args.writer)
        return
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
