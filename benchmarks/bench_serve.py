#!/usr/bin/env python3
"""Benchmark the collection service, ``pushcollector serve``.

On PostgreSQL (a server this script starts, or an existing one named with
``--postgres-url``) and on SQLite (a file in a temporary directory), it
measures:

* throughput: 8 writer processes (``--writers``) started at once, each
  recording 25,000 push items (dicts, unpickled from a file at its start)
  through ``Collector.get("http")`` into one
  ``pushcollector serve`` process, 500 items per call, with a ~1 KB
  ``append_file("push.log", ...)`` after each call. Timed from starting the
  writers until the last has exited (each leaves its ``with`` block, which
  waits for delivery, then exits). Every run is then read back through the
  service's read API: 8 runs of 25,000 records, each record the writer's
  line, once and in order, and each ``push.log`` whole.
  The baseline is the same rows (each item's ``json.dumps(item,
  sort_keys=True)``) written from as many processes by a bare psycopg 3
  ``COPY ... FROM STDIN`` into a plain table of a fresh PostgreSQL
  database, timed the same way (a process each, from start to exit; it
  appends no log) and checked by a count and a digest of each writer's
  rows. Every timed run is on a fresh database, and SQLite's serve is
  compared with PostgreSQL's COPY too;
* the summary of a big run: a run of 1,000,000 records (about 1% of its
  items end NOTFOUND; about 10% are recorded PENDING first, so that it has
  more records than items) is stored once in the service's database with
  ``Store.add_push_items`` and written, the same records, as a local run
  directory. ``GET {base}/runs/bench-summary/summary`` (with requests,
  against a running service) is timed against ``pushcollector summary
  --json DIR`` in a subprocess (from its start to its exit), and the two
  documents must be equal but for where the run is held (``directory``,
  ``items_file``, ``latest``).

``--scale`` multiplies the items per writer and the records of the big
run. Each figure is the median of ``--repeat`` runs; within each round the
cases run in turn (serve on PostgreSQL, COPY, serve on SQLite; then GET on
PostgreSQL, the local command, GET on SQLite), so that the noise of the
machine hits all of them alike.

The ratios on PostgreSQL are checked against their targets: serve at most
3x the time of COPY, and the GET of the summary at most 1.5x the time of the
local command. The same ratios on SQLite are reported without a target
(their ``target`` and ``pass`` are None; a ratio whose ``value`` is None
was not measured). A table goes to stdout (one JSON object instead with
``--json``), progress to stderr. In the JSON, each measurement has its
``items`` (records, for the summary), its median and every timing, and
``checked``: what was verified after each timed run. The exit status is 0
whether or not the ratios meet their targets, and 1 if any data check
fails.

The PostgreSQL server this script starts is the tests' ``PostgresServer``
(Debian's binaries, durability settings on), with PostgreSQL's default
``shared_buffers`` rather than the tests' small one. The database of the
big run is vacuumed and analysed once filled, as autovacuum would do soon
after, so that it does not do so in the middle of the timed runs.

Examples::

    python benchmarks/bench_serve.py
    python benchmarks/bench_serve.py --scale 0.01 --repeat 1 --json
    python benchmarks/bench_serve.py --skip-postgres
    python benchmarks/bench_serve.py --postgres-url postgresql://u:p@host/postgres
"""

import argparse
import contextlib
import hashlib
import json
import os
import pickle
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

from benchlib import (
    case_figures,
    REPO_ROOT,
    add_json_option,
    add_repeat_option,
    add_scale_option,
    add_seed_option,
    check,
    positive_int,
    print_results,
    progress_printer,
    require_project_pushcollector,
    scaled,
)

SCRIPT_PATH = os.path.abspath(__file__)

WRITERS = 8
ITEMS_PER_WRITER = 25_000
BATCH_SIZE = 500
LOG_BYTES = 1024

SUMMARY_RECORDS = 1_000_000
FILL_BATCH = 5_000
SUMMARY_RUN = "bench-summary"
# Of the big run's items: recorded PENDING before their final state; and
# ending NOTFOUND rather than PUSHED.
TWICE_SHARE = 0.1
UNSUCCESSFUL_SHARE = 0.01
# What the summaries of a run may differ in: where the run is held.
LOCATION_KEYS = ("directory", "items_file", "latest")

TARGET_SERVE_VS_COPY = 3.0
TARGET_SUMMARY_GET_VS_LOCAL = 1.5

# PostgreSQL's default, rather than the 16MB the tests give their server.
POSTGRES_SETTINGS = {"shared_buffers": "128MB"}

# The cases, by their keys in the results.
CASES = {
    "postgresql_serve": "serve, PostgreSQL",
    "postgresql_copy": "bare COPY, PostgreSQL",
    "sqlite_serve": "serve, SQLite",
    "local_summary": "summary --json, local run",
    "postgresql_summary_get": "GET summary, PostgreSQL",
    "sqlite_summary_get": "GET summary, SQLite",
}

COPY_TABLE = "bench_rows"
COPY_URL_VARIABLE = "BENCH_SERVE_COPY_URL"

# Bounds, so that a broken service fails the benchmark rather than hangs it.
START_TIMEOUT = 120
STOP_TIMEOUT = 120
WRITERS_TIMEOUT = 3600
REQUEST_TIMEOUT = 600

progress = progress_printer("bench_serve")


class DataCheckError(SystemExit):
    """What the service or the baseline stored is not what was written."""

    def __init__(self, message):
        super().__init__("bench_serve: data check failed: " + message)


# -- The writer processes ---------------------------------------------------


def read_lines(path):
    with open(path, encoding="utf-8") as lines_file:
        return lines_file.read().splitlines()


def log_text(writer, batch_number, batch):
    """What a writer appends to push.log after a batch: one line of
    exactly LOG_BYTES bytes."""
    text = "writer %d batch %d: %d push items: %s" % (
        writer,
        batch_number,
        len(batch),
        " ".join(item["filename"] for item in batch),
    )
    return "%-*s\n" % (LOG_BYTES - 1, text[: LOG_BYTES - 1])


def batches(sequence):
    return [
        sequence[start : start + BATCH_SIZE]
        for start in range(0, len(sequence), BATCH_SIZE)
    ]


def write_through_service(items_path, writer):
    """A writer of the throughput case: the items of a file, through the
    ``http`` backend to the service at $PUSHCOLLECTOR_HTTP_URL."""
    from pushcollector import Collector

    # The items as a push tool has them, dicts in memory: unpickled rather
    # than decoded from JSON, which would cost each writer more than
    # recording them (the COPY writers read their lines as they are).
    with open(items_path, "rb") as items_file:
        items = pickle.load(items_file)
    futures = []
    with Collector.get("http") as collector:
        for number, batch in enumerate(batches(items)):
            futures.append(collector.update_push_items(batch))
            futures.append(
                collector.append_file("push.log", log_text(writer, number, batch))
            )
    for future in futures:
        future.result()


def write_by_copy(items_path, writer):
    """A writer of the baseline: the lines of a file, by COPY into the
    table of the database at $BENCH_SERVE_COPY_URL."""
    import psycopg

    lines = read_lines(items_path)
    with psycopg.connect(os.environ[COPY_URL_VARIABLE]) as connection:
        with connection.cursor() as cursor:
            statement = "COPY %s (writer, seq, record) FROM STDIN" % COPY_TABLE
            with cursor.copy(statement) as copy:
                for seq, line in enumerate(lines, 1):
                    copy.write_row((writer, seq, line))


WRITER_KINDS = {"serve": write_through_service, "copy": write_by_copy}


def run_writers(kind, items_paths, environment):
    """Start a writer process per file at once; seconds until all exited."""
    command = [sys.executable, SCRIPT_PATH, "--writer", kind]
    deadline = time.monotonic() + WRITERS_TIMEOUT
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            command + [path, str(writer)],
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        for writer, path in enumerate(items_paths)
    ]
    try:
        for process in processes:
            process.wait(timeout=max(0, deadline - time.monotonic()))
        seconds = time.perf_counter() - start
    except subprocess.TimeoutExpired:
        raise SystemExit(
            "bench_serve: %s writers still running after %d s" % (kind, WRITERS_TIMEOUT)
        ) from None
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    failed = [
        "writer %d: status %d" % (writer, process.returncode)
        for writer, process in enumerate(processes)
        if process.returncode != 0
    ]
    if failed:
        raise DataCheckError("%s writers failed: %s" % (kind, ", ".join(failed)))
    return seconds


# -- The service ------------------------------------------------------------


class Service:
    """``pushcollector serve`` on a database, in a child process."""

    def __init__(self, database_url, cwd):
        self.database_url = database_url
        self.cwd = cwd
        self.process = None
        self.url = None

    def __enter__(self):
        command = [sys.executable, "-m", "pushcollector", "serve"]
        command += ["--db", self.database_url, "--host", "127.0.0.1", "--port", "0"]
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = self._first_line()
            match = re.match(r"pushcollector serve: serving (http://\S+/api) ", line)
            if match is None:
                raise SystemExit(
                    "bench_serve: pushcollector serve printed %r, not its URL" % line
                )
            self.url = match.group(1)
        except BaseException:
            self.process.kill()
            self.process.wait()
            self.process.stdout.close()
            raise
        return self

    def _first_line(self):
        # Bounded: a service stuck before it listens must fail the benchmark.
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(START_TIMEOUT):
                raise SystemExit(
                    "bench_serve: pushcollector serve printed nothing in %d s"
                    % START_TIMEOUT
                )
        return self.process.stdout.readline()

    def __exit__(self, *exc_info):
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise SystemExit(
                "bench_serve: pushcollector serve did not stop within %d s of"
                " SIGTERM" % STOP_TIMEOUT
            ) from None
        finally:
            self.process.stdout.close()
        # Uvicorn raises the signal again once it has shut down gracefully.
        if status not in (0, -signal.SIGTERM) and exc_info[0] is None:
            raise SystemExit(
                "bench_serve: pushcollector serve exited with status %d" % status
            )


def get(url, **params):
    import requests

    response = requests.get(url, params=params, timeout=REQUEST_TIMEOUT)
    response.raise_for_status()
    return response


# -- Databases --------------------------------------------------------------


class PostgresDatabases:
    """Fresh databases on a PostgreSQL server, created and dropped through
    its maintenance database."""

    def __init__(self, maintenance_url, description):
        self.maintenance_url = maintenance_url
        self.description = description

    def _execute(self, statement):
        """Run a statement in the maintenance database; its rows, if any."""
        import psycopg

        with psycopg.connect(self.maintenance_url, autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description else None

    def version(self):
        return self._execute("SHOW server_version")[0][0]

    @contextlib.contextmanager
    def fresh(self, purpose):
        """The URL of a new, empty database, dropped after the block."""
        from psycopg import sql

        name = "bench_serve_%s_%s" % (purpose, secrets.token_hex(4))
        identifier = sql.Identifier(name)
        self._execute(sql.SQL("CREATE DATABASE {}").format(identifier))
        url = urllib.parse.urlsplit(self.maintenance_url)
        try:
            yield url._replace(path="/" + name).geturl()
        finally:
            self._execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(identifier))


@contextlib.contextmanager
def postgres_databases(args):
    """PostgresDatabases as the options say, or None with --skip-postgres."""
    if args.skip_postgres:
        yield None
        return
    if args.postgres_url:
        shown = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", args.postgres_url)
        yield PostgresDatabases(args.postgres_url, "given: %s" % shown)
        return
    sys.path.insert(0, REPO_ROOT)
    from tests.server.postgres import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        raise SystemExit(
            "bench_serve: cannot start PostgreSQL (%s): name a server with"
            " --postgres-url, or pass --skip-postgres" % reason
        )
    progress("starting a PostgreSQL server")
    server = PostgresServer(settings=POSTGRES_SETTINGS).start()
    try:
        yield PostgresDatabases(server.url, "started by the benchmark")
    finally:
        progress("stopping the PostgreSQL server")
        server.stop()


@contextlib.contextmanager
def fresh_sqlite(directory, purpose):
    """The URL of a new SQLite database file, removed after the block."""
    path = os.path.join(directory, "%s-%s.db" % (purpose, secrets.token_hex(4)))
    try:
        yield "sqlite:///" + path
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)


# -- Throughput -------------------------------------------------------------


class Writers:
    """What the writers write: an items file each, and what to expect back."""

    def __init__(self, directory, count, items_per_writer, seed):
        from bench_collect import make_dict_items

        self.items_per_writer = items_per_writer
        self.paths = []
        self.lines = []
        self.logs = []
        self.push_items = []
        for writer in range(count):
            items = make_dict_items(items_per_writer, "%s-writer-%d" % (seed, writer))
            lines = [json.dumps(item, sort_keys=True) for item in items]
            path = os.path.join(directory, "writer-%d.jsonl" % writer)
            with open(path, "w", encoding="utf-8", newline="\n") as items_file:
                items_file.write("".join(line + "\n" for line in lines))
            self.paths.append(path)
            with open(path + ".pickle", "wb") as pickled:
                pickle.dump(items, pickled)
            self.lines.append(lines)
            self.logs.append(
                "".join(
                    log_text(writer, number, batch)
                    for number, batch in enumerate(batches(items))
                ).encode("ascii")
            )
            self.push_items.append(
                len({(item["filename"], item.get("dest")) for item in items})
            )

    @property
    def total(self):
        return len(self.paths) * self.items_per_writer


def check_service_runs(base_url, writers, where):
    """Stop unless the service holds each writer's run, whole, and no other."""
    listing = get(base_url + "/runs", limit=1000).json()
    runs = listing["runs"]
    if listing["total"] != len(writers.paths) or len(runs) != len(writers.paths):
        raise DataCheckError(
            "%s: %d runs, not %d" % (where, listing["total"], len(writers.paths))
        )
    by_first_line = {lines[0]: writer for writer, lines in enumerate(writers.lines)}
    found = set()
    for run in runs:
        name = run["name"]
        if run["records"] != writers.items_per_writer:
            raise DataCheckError(
                "%s: run %s has %d records, not %d"
                % (where, name, run["records"], writers.items_per_writer)
            )
        lines = get("%s/runs/%s/push-items" % (base_url, name)).text.splitlines()
        writer = by_first_line.get(lines[0]) if lines else None
        if writer is None or writer in found or lines != writers.lines[writer]:
            raise DataCheckError(
                "%s: the records of run %s are not those of a writer, each once"
                " and in order" % (where, name)
            )
        found.add(writer)
        if run["push_items"] != writers.push_items[writer]:
            raise DataCheckError(
                "%s: run %s has %d push items, not %d"
                % (where, name, run["push_items"], writers.push_items[writer])
            )
        log = get("%s/runs/%s/files/push.log" % (base_url, name)).content
        if log != writers.logs[writer]:
            raise DataCheckError(
                "%s: push.log of run %s is not what writer %d appended: %d bytes,"
                " not %d" % (where, name, writer, len(log), len(writers.logs[writer]))
            )


def check_copied_rows(database_url, writers):
    """Stop unless the baseline's table holds each writer's rows, whole."""
    import psycopg

    with psycopg.connect(database_url) as connection:
        found = connection.execute(
            "SELECT writer, count(*), md5(string_agg(record, E'\\n' ORDER BY seq))"
            " FROM %s GROUP BY writer ORDER BY writer" % COPY_TABLE
        ).fetchall()
    expected = [
        (
            writer,
            writers.items_per_writer,
            hashlib.md5("\n".join(lines).encode("utf-8")).hexdigest(),
        )
        for writer, lines in enumerate(writers.lines)
    ]
    if found != expected:
        raise DataCheckError("COPY: the table does not hold every writer's rows")


def time_serve(database_url, writers, cwd, where):
    with Service(database_url, cwd) as service:
        environment = dict(os.environ, PUSHCOLLECTOR_HTTP_URL=service.url)
        seconds = run_writers(
            "serve", [path + ".pickle" for path in writers.paths], environment
        )
        check_service_runs(service.url, writers, where)
    return seconds


def time_copy(database_url, writers):
    import psycopg

    with psycopg.connect(database_url) as connection:
        connection.execute(
            "CREATE TABLE %s (writer int, seq bigint, record text,"
            " PRIMARY KEY (writer, seq))" % COPY_TABLE
        )
    environment = dict(os.environ)
    environment[COPY_URL_VARIABLE] = database_url
    seconds = run_writers("copy", writers.paths, environment)
    check_copied_rows(database_url, writers)
    return seconds


def measure_throughput(args, postgres, work):
    items_per_writer = scaled(ITEMS_PER_WRITER, args.scale)
    progress(
        "generating %d writers' items, %s each"
        % (args.writers, format(items_per_writer, ","))
    )
    writers = Writers(work, args.writers, items_per_writer, args.seed)
    timings = {"postgresql_serve": [], "postgresql_copy": [], "sqlite_serve": []}
    for round_number in range(1, args.repeat + 1):
        prefix = "throughput round %d/%d: " % (round_number, args.repeat)
        if postgres is not None:
            progress(prefix + "serve on PostgreSQL")
            with postgres.fresh("serve") as url:
                timings["postgresql_serve"].append(
                    time_serve(url, writers, work, "serve on PostgreSQL")
                )
            progress(prefix + "COPY on PostgreSQL")
            with postgres.fresh("copy") as url:
                timings["postgresql_copy"].append(time_copy(url, writers))
        if not args.skip_sqlite:
            progress(prefix + "serve on SQLite")
            with fresh_sqlite(work, "serve") as url:
                timings["sqlite_serve"].append(
                    time_serve(url, writers, work, "serve on SQLite")
                )
    served = (
        "read back through the API: %d runs of %s records, each run a writer's"
        " lines once and in order, and its push.log whole"
        % (args.writers, format(items_per_writer, ","))
    )
    copied = "each writer's %s rows: their count and the md5 of their lines" % (
        format(items_per_writer, ",")
    )
    return {
        "postgresql_serve": measurement(
            "postgresql_serve", writers.total, timings["postgresql_serve"], served
        ),
        "postgresql_copy": measurement(
            "postgresql_copy", writers.total, timings["postgresql_copy"], copied
        ),
        "sqlite_serve": measurement(
            "sqlite_serve", writers.total, timings["sqlite_serve"], served
        ),
    }


# -- The summary of a big run -----------------------------------------------


def summary_batches(records, seed):
    """The records of the big run, FILL_BATCH at a time: push item dicts.

    Within a batch, the PENDING records of the items recorded twice come
    before every final record.
    """
    from bench_collect import make_dict_items

    states = random.Random("%s-summary-states" % seed)
    remaining = records
    number = 0
    while remaining:
        size = min(FILL_BATCH, remaining)
        pending, final = [], []
        for item in make_dict_items(size, "%s-summary-%d" % (seed, number)):
            room = size - len(pending) - len(final)
            if not room:
                break
            if room >= 2 and states.random() < TWICE_SHARE:
                pending.append(dict(item, state="PENDING"))
            unsuccessful = states.random() < UNSUCCESSFUL_SHARE
            final.append(dict(item, state="NOTFOUND" if unsuccessful else "PUSHED"))
        yield pending + final
        remaining -= size
        number += 1


@contextlib.contextmanager
def stores_to_fill(database_urls):
    """A Store on each database, its schema created, for the block to fill.

    Once filled, each PostgreSQL database is vacuumed and analysed, as
    autovacuum would do soon after, so that it does not do so in the middle
    of timed runs. The stores are closed after the block.
    """
    from pushcollector._impl.store import Store

    stores = [Store(url) for url in database_urls]
    try:
        for store in stores:
            store.check_schema(create=True)
        yield stores
        for store in stores:
            if not store.is_sqlite:
                with store.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT")
                    connection.exec_driver_sql("VACUUM ANALYZE")
    finally:
        for store in stores:
            store.close()


def add_batches(stores, run_name, batches, records, each=None):
    """Add each batch of push items to the run in every store, saying how
    far it got every 100,000 of ``records``; ``each(batch)`` after each."""
    written = 0
    for batch in batches:
        for store in stores:
            store.add_push_items(run_name, batch)
        if each is not None:
            each(batch)
        written += len(batch)
        if written % 100_000 < FILL_BATCH:
            progress(
                "  %s of %s records" % (format(written, ","), format(records, ","))
            )


def fill_summary_run(database_urls, run_dir, records, seed):
    """Write the big run into each database and into a local run directory."""
    os.makedirs(run_dir)
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    with stores_to_fill(database_urls) as stores, open(
        items_path, "w", encoding="utf-8", newline="\n"
    ) as items_file:

        def write_lines(batch):
            items_file.write(
                "".join(json.dumps(item, sort_keys=True) + "\n" for item in batch)
            )

        add_batches(
            stores, SUMMARY_RUN, summary_batches(records, seed), records, write_lines
        )


def without_location(document):
    return {key: value for key, value in document.items() if key not in LOCATION_KEYS}


def check_summaries(served, local, records, where):
    """Stop unless the service's summary is the local command's, and counts
    every record."""
    served, local = without_location(served), without_location(local)
    if served != local:
        differences = sorted(
            key
            for key in set(served) | set(local)
            if served.get(key, "absent") != local.get(key, "absent")
        )
        raise DataCheckError(
            "%s: GET summary and summary --json differ in %s: %s"
            % (
                where,
                ", ".join(differences),
                "; ".join(
                    "%s: %.200r vs %.200r"
                    % (key, served.get(key, "absent"), local.get(key, "absent"))
                    for key in differences
                ),
            )
        )
    if local["records"] != records:
        raise DataCheckError(
            "%s: the summary counts %d records, not %d"
            % (where, local["records"], records)
        )


def time_get_summary(base_url):
    start = time.perf_counter()
    response = get("%s/runs/%s/summary" % (base_url, SUMMARY_RUN))
    seconds = time.perf_counter() - start
    return seconds, response.json()


def time_local_summary(run_dir, cwd):
    command = [sys.executable, "-m", "pushcollector", "summary", "--json", run_dir]
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE)
    seconds = time.perf_counter() - start
    # Status 1: some items ended unsuccessfully, as some of this run's do.
    if completed.returncode not in (0, 1):
        raise DataCheckError(
            "pushcollector summary exited with status %d" % completed.returncode
        )
    return seconds, json.loads(completed.stdout)


def measure_summary(args, postgres, work):
    records = scaled(SUMMARY_RECORDS, args.scale)
    run_dir = os.path.join(work, "summary-run", SUMMARY_RUN)
    with contextlib.ExitStack() as stack:
        databases = {}
        if postgres is not None:
            databases["postgresql"] = stack.enter_context(postgres.fresh("summary"))
        if not args.skip_sqlite:
            databases["sqlite"] = stack.enter_context(fresh_sqlite(work, "summary"))
        progress(
            "writing a run of %s records into %s and %s"
            % (format(records, ","), " and ".join(databases), run_dir)
        )
        fill_summary_run(list(databases.values()), run_dir, records, args.seed)
        services = {
            kind: stack.enter_context(Service(url, work))
            for kind, url in databases.items()
        }
        progress("summary: one untimed run of each")
        _, local = time_local_summary(run_dir, work)
        for kind, service in services.items():
            _, served = time_get_summary(service.url)
            check_summaries(served, local, records, kind)
        timings = {"postgresql": [], "local": [], "sqlite": []}
        for round_number in range(1, args.repeat + 1):
            progress("summary round %d/%d" % (round_number, args.repeat))
            for kind in ("postgresql", "local", "sqlite"):
                if kind == "local":
                    seconds, local = time_local_summary(run_dir, work)
                elif kind in services:
                    seconds, served = time_get_summary(services[kind].url)
                    check_summaries(served, local, records, kind)
                else:
                    continue
                timings[kind].append(seconds)
    counted = "%s records counted" % format(records, ",")
    served = "equal to summary --json but for %s; %s" % (
        ", ".join(LOCATION_KEYS),
        counted,
    )
    measurements = {
        "local_summary": measurement(
            "local_summary",
            records,
            timings["local"],
            "exit status 0 or 1; " + counted,
        ),
        "postgresql_summary_get": measurement(
            "postgresql_summary_get", records, timings["postgresql"], served
        ),
        "sqlite_summary_get": measurement(
            "sqlite_summary_get", records, timings["sqlite"], served
        ),
    }
    for figures in measurements.values():
        if figures is not None:
            figures["push_items"] = local["push_items"]
            figures["unsuccessful"] = len(local["unsuccessful"])
    return measurements


# -- Results ----------------------------------------------------------------


def measurement(key, count, timings, checked):
    """The figures of a case of CASES (see benchlib.case_figures)."""
    return case_figures(CASES[key], count, timings, checked)


def reported(value):
    """A ratio reported without a target: its ``target`` and ``pass`` are
    None (with :func:`check`, a value of None means not measured)."""
    return {"value": value, "target": None, "pass": None}


def run_benchmark(args):
    require_project_pushcollector()
    if args.skip_postgres and args.skip_sqlite:
        raise SystemExit(
            "bench_serve: --skip-postgres and --skip-sqlite: nothing to do"
        )
    if args.skip_postgres and args.postgres_url:
        raise SystemExit("bench_serve: --postgres-url and --skip-postgres conflict")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        with postgres_databases(args) as postgres:
            postgresql = None
            if postgres is not None:
                postgresql = {
                    "server": postgres.description,
                    "version": postgres.version(),
                }
            measurements = measure_throughput(args, postgres, work)
            measurements.update(measure_summary(args, postgres, work))
    return {
        "settings": {
            "scale": args.scale,
            "repeat": args.repeat,
            "seed": args.seed,
            "writers": args.writers,
            "items_per_writer": scaled(ITEMS_PER_WRITER, args.scale),
            "batch_size": BATCH_SIZE,
            "log_bytes_per_batch": LOG_BYTES,
            "summary_records": scaled(SUMMARY_RECORDS, args.scale),
            "postgresql": postgresql,
            "sqlite": not args.skip_sqlite,
            "python": sys.version.split()[0],
        },
        "measurements": measurements,
        "ratios": ratios(measurements),
    }


def ratios(measurements):
    def time_ratio(key, baseline_key):
        measured, baseline = measurements[key], measurements[baseline_key]
        if measured is None or baseline is None:
            return None
        return measured["median_seconds"] / baseline["median_seconds"]

    return {
        "postgresql_serve_vs_copy_time": check(
            time_ratio("postgresql_serve", "postgresql_copy"), TARGET_SERVE_VS_COPY
        ),
        "sqlite_serve_vs_postgresql_copy_time": reported(
            time_ratio("sqlite_serve", "postgresql_copy")
        ),
        "postgresql_summary_get_vs_local_time": check(
            time_ratio("postgresql_summary_get", "local_summary"),
            TARGET_SUMMARY_GET_VS_LOCAL,
        ),
        "sqlite_summary_get_vs_local_time": reported(
            time_ratio("sqlite_summary_get", "local_summary")
        ),
    }


# Each row of the table: a measurement and the ratio it is judged by, if any.
TABLE_ROWS = (
    ("throughput", "postgresql_serve", "postgresql_serve_vs_copy_time"),
    ("throughput", "postgresql_copy", None),
    ("throughput", "sqlite_serve", "sqlite_serve_vs_postgresql_copy_time"),
    ("summary", "local_summary", None),
    ("summary", "postgresql_summary_get", "postgresql_summary_get_vs_local_time"),
    ("summary", "sqlite_summary_get", "sqlite_summary_get_vs_local_time"),
)


def ratio_verdict(ratio):
    """What the table says of a measured case's ratio."""
    if ratio["value"] is None:
        return "no baseline"
    if ratio["target"] is None:
        return "reported"
    return "PASS" if ratio["pass"] else "FAIL"


def print_report(results):
    settings = results["settings"]
    headings = {
        "throughput": "throughput: %d writers x %s push items, through one service"
        % (settings["writers"], format(settings["items_per_writer"], ",")),
        "summary": "summary of a run of %s records (N: records)"
        % format(settings["summary_records"], ","),
    }
    row = "%-28s %10s %10s %12s %12s %7s  %s"
    print(
        row % ("case", "N", "median s", "items/s", "vs baseline", "target", "verdict")
    )
    section = None
    for part, key, ratio_key in TABLE_ROWS:
        if part != section:
            section = part
            print(headings[part])
        figures = results["measurements"][key]
        if figures is None:
            print(row % ("  " + CASES[key], "-", "-", "-", "-", "-", "skipped"))
            continue
        ratio = results["ratios"][ratio_key] if ratio_key else None
        print(
            row
            % (
                "  " + figures["case"],
                format(figures["items"], ","),
                "%.3f" % figures["median_seconds"],
                format(round(figures["items_per_second"]), ","),
                (
                    "-"
                    if ratio is None or ratio["value"] is None
                    else "%.2fx" % ratio["value"]
                ),
                "-" if ratio is None or ratio["target"] is None else ratio["target"],
                "baseline" if ratio is None else ratio_verdict(ratio),
            )
        )
    print()
    print(
        "Baselines: bare COPY on PostgreSQL for serve (on SQLite too), the local"
        " summary --json for GET summary. What each case wrote or read was"
        " checked after every timed run."
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark pushcollector serve on PostgreSQL and SQLite:"
        " writers through the http backend against a bare COPY, and the"
        " summary of a big run against the local summary command."
    )
    add_scale_option(
        parser, "the items per writer (25,000) and the records of the big run"
    )
    add_repeat_option(parser, 3, "rounds of every case")
    add_seed_option(parser, "push items")
    add_json_option(parser)
    parser.add_argument(
        "--writers",
        type=positive_int,
        default=WRITERS,
        help="writer processes at once (default: %d)" % WRITERS,
    )
    parser.add_argument(
        "--postgres-url",
        metavar="URL",
        help="the maintenance database of a PostgreSQL server to create the"
        " databases in (postgresql://user:password@host:port/postgres);"
        " by default a server is started for the benchmark",
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="measure on SQLite only"
    )
    parser.add_argument(
        "--skip-sqlite", action="store_true", help="measure on PostgreSQL only"
    )
    parser.add_argument(
        "--writer", choices=sorted(WRITER_KINDS), help=argparse.SUPPRESS
    )
    parser.add_argument("writer_args", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.writer:
        items_path, writer = args.writer_args
        WRITER_KINDS[args.writer](items_path, int(writer))
        return
    print_results(run_benchmark(args), args.json, print_report)


if __name__ == "__main__":
    main()
