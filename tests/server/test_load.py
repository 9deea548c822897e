"""Load and faults: writer processes pushing through the ``http`` backend to a
real ``pushcollector serve``, on SQLite and PostgreSQL, while the service is
killed and PostgreSQL restarted under them.

Each writer is its own process and its own run (tests/server/writer.py),
recording what writer.records() says and appending what writer.log_bytes()
says; once they are done, every run must hold exactly that: no record lost,
none twice, each writer's order kept, its log byte for byte.

What each test saw (kills, restarts, retries, lost and duplicated records)
is printed: ``pytest -s`` or ``-rP`` shows it.
"""

import collections
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from . import writer
from .service import ServiceProcess

# The issue asks for 8 writers of 25,000 items each, at once.
WRITERS = 8
ITEMS_PER_WRITER = 25000
# The same load for the tests that inject faults.
FAULT_ITEMS_PER_WRITER = 25000

# Kills of the service, and restarts of PostgreSQL, during one load.
KILLS = 2
POSTGRES_RESTARTS = 2

# Deliveries of one Idempotency-Key at once, and how many keys in a row.
CONCURRENT_DELIVERIES = 10
CONCURRENT_ROUNDS = 5

ROOT = Path(__file__).resolve().parents[2]

# Bounds, not measurements: a load that has not finished (or made progress)
# in that long is stuck, and fails rather than hangs the tests.
WRITER_TIMEOUT = 900
PROGRESS_TIMEOUT = 300
REQUEST_TIMEOUT = 60

# How often the read API is asked how far the writers are.
POLL_INTERVAL = 0.05


class Writers:
    """Writer processes, each writing its output to files of its own."""

    def __init__(self, directory):
        self.directory = directory
        self.processes = []

    def start(self, url, count, number=WRITERS):
        for index in range(number):
            stdout = open(self.directory / ("writer-%d.out" % index), "w+")
            stderr = open(self.directory / ("writer-%d.err" % index), "w+")
            with stdout, stderr:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "tests.server.writer",
                            url,
                            str(index),
                            str(count),
                        ],
                        cwd=ROOT,
                        stdin=subprocess.DEVNULL,
                        stdout=stdout,
                        stderr=stderr,
                    )
                )
        return self

    def running(self):
        return any(process.poll() is None for process in self.processes)

    def finish(self):
        """Wait for every writer; what each printed, in index order.

        Fails if a writer did not deliver everything it recorded.
        """
        results = []
        for index, process in enumerate(self.processes):
            try:
                process.wait(timeout=WRITER_TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(
                    "writer %d still runs after %d s:\n%s"
                    % (index, WRITER_TIMEOUT, self._output(index, "err"))
                )
            assert process.returncode == 0, "writer %d failed (%d):\n%s\n%s" % (
                index,
                process.returncode,
                self._output(index, "out"),
                self._tail(self._output(index, "err")),
            )
            results.append(json.loads(self._output(index, "out")))
        return results

    def _output(self, index, stream):
        return (self.directory / ("writer-%d.%s" % (index, stream))).read_text()

    @staticmethod
    def _tail(text, lines=20):
        return "\n".join(text.splitlines()[-lines:])

    def kill(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def writers(tmp_path):
    group = Writers(tmp_path)
    yield group
    group.kill()


def read(service, path, **kwargs):
    """GET from the read API, asking again while it answers 503.

    Right after PostgreSQL restarted, the first statement on a connection
    the service had pooled before fails, and that request is answered 503,
    for the client to retry: readers as well as writers.
    """
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while True:
        answer = service.get(path, **kwargs)
        if answer.status_code != 503 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return answer
        time.sleep(POLL_INTERVAL)


def runs_by_name(service):
    answer = read(service, "/runs", params={"limit": 1000})
    return {run["name"]: run for run in answer.json()["runs"]}


def stored_records(service):
    return sum(run["records"] for run in runs_by_name(service).values())


def wait_for_records(service, at_least, writers):
    """Poll the read API until the service holds at least that many records,
    while the writers run; how many it holds then."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while True:
        stored = stored_records(service)
        if stored >= at_least:
            return stored
        assert writers.running(), "the writers ended with %d records stored" % stored
        assert time.monotonic() < deadline, "%d records stored, not %d, after %d s" % (
            stored,
            at_least,
            PROGRESS_TIMEOUT,
        )
        time.sleep(POLL_INTERVAL)


def expected_records(count, number=WRITERS):
    return number * len(writer.records(0, count))


def check_runs(service, results, count):
    """Compare each writer's run with what the writer recorded: every record
    once, in order; its log byte for byte; the run's figures.

    Returns the records lost and duplicated, in all, and what is wrong.
    """
    runs = runs_by_name(service)
    problems = []
    run_ids = [result["run_id"] for result in results]
    if sorted(runs) != sorted(run_ids):
        problems.append("runs %s, not the writers' %s" % (sorted(runs), run_ids))
    lost = duplicated = 0
    for index, result in enumerate(results):
        run_id = result["run_id"]
        expected = [
            json.dumps(record, sort_keys=True)
            for record in writer.records(index, count)
        ]
        lines = read(service, "/runs/%s/push-items" % run_id).text.splitlines()
        stored = [json.dumps(json.loads(line), sort_keys=True) for line in lines]
        counted_stored = collections.Counter(stored)
        counted_expected = collections.Counter(expected)
        missing = sum((counted_expected - counted_stored).values())
        extra = sum((counted_stored - counted_expected).values())
        lost += missing
        duplicated += extra
        if missing or extra:
            problems.append(
                "writer %d: %d records lost, %d stored more often than recorded"
                % (index, missing, extra)
            )
        elif stored != expected:
            problems.append(
                "writer %d: records out of order from record %d"
                % (index, [a == b for a, b in zip(stored, expected)].index(False))
            )
        log = read(service, "/runs/%s/files/%s" % (run_id, writer.LOG_FILE)).content
        appended = writer.log_bytes(index, count)
        if log != appended:
            problems.append(
                "writer %d: %s is not what it appended (%d bytes, not %d)"
                % (index, writer.LOG_FILE, len(log), len(appended))
            )
        run = runs.get(run_id, {})
        figures = {name: run.get(name) for name in ("records", "push_items", "files")}
        figures["states"] = run.get("states")
        wanted = {
            "records": len(expected),
            "push_items": count,
            "files": 1,
            "states": {"PUSHED": count},
        }
        if figures != wanted:
            problems.append(
                "writer %d: the run has %s, not %s" % (index, figures, wanted)
            )
    return lost, duplicated, problems


def report(what, **figures):
    print("\n%s: %s" % (what, ", ".join("%s %s" % pair for pair in figures.items())))


# -- Load -------------------------------------------------------------------


def test_eight_writers_store_every_item_once_in_order(database_url, writers):
    with ServiceProcess(database_url) as service:
        writers.start(service.url, ITEMS_PER_WRITER)
        results = writers.finish()

        lost, duplicated, problems = check_runs(service, results, ITEMS_PER_WRITER)

    report(
        "load",
        writers=WRITERS,
        records=expected_records(ITEMS_PER_WRITER),
        retries=sum(result["retries"] for result in results),
        lost=lost,
        duplicated=duplicated,
    )
    assert problems == []


# -- Faults during the load -------------------------------------------------


def load_with_faults(service, writers, what, faults, inject):
    """Run the writers, calling ``inject`` ``faults`` times while they write,
    each once the service holds a further share of the records; check what
    the service holds then, and say what happened."""
    total = expected_records(FAULT_ITEMS_PER_WRITER)
    writers.start(service.url, FAULT_ITEMS_PER_WRITER)
    stored_at_faults = []
    for fault in range(faults):
        stored = wait_for_records(service, total * (fault + 1) // (faults + 2), writers)
        # Requests of some writer are still to be applied: the writers are
        # still writing.
        assert stored < total
        inject()
        stored_at_faults.append(stored)
    results = writers.finish()

    lost, duplicated, problems = check_runs(service, results, FAULT_ITEMS_PER_WRITER)

    retries = sum(result["retries"] for result in results)
    refused = sum(result["refused"] for result in results)
    report(
        what,
        faults=faults,
        stored_at_faults="/".join(map(str, stored_at_faults)),
        records=total,
        retries=retries,
        refused=refused,
        cut_off=retries - refused,
        lost=lost,
        duplicated=duplicated,
    )
    assert problems == []
    # A request was cut off by a fault, and retried: some came while a
    # request was in the service, not all between requests.
    assert retries - refused > 0, "%d retries, all after a refused connection" % (
        retries
    )


def test_writers_survive_kill_9_of_the_service(database_url, writers):
    with ServiceProcess(database_url) as service:

        def kill_9_and_start_again():
            service.kill()
            service.start()

        load_with_faults(service, writers, "kill -9", KILLS, kill_9_and_start_again)


def test_writers_survive_a_postgresql_restart(postgres_server, postgres_url, writers):
    with ServiceProcess(postgres_url) as service:
        load_with_faults(
            service,
            writers,
            "PostgreSQL restart",
            POSTGRES_RESTARTS,
            postgres_server.restart_fast,
        )


# -- One key delivered many times at once ----------------------------------


def deliver_at_once(service, path, body, headers):
    """POST the same request from CONCURRENT_DELIVERIES threads at once; the
    answers.

    Each thread connects first (asking for a page of runs), so that the
    requests leave together once the barrier lets them go.
    """
    barrier = threading.Barrier(CONCURRENT_DELIVERIES)

    def deliver(_):
        with requests.Session() as session:
            session.get(
                service.url + "/runs", params={"limit": 1}, timeout=REQUEST_TIMEOUT
            ).raise_for_status()
            barrier.wait(timeout=REQUEST_TIMEOUT)
            return session.post(
                service.url + path, data=body, headers=headers, timeout=REQUEST_TIMEOUT
            )

    with ThreadPoolExecutor(CONCURRENT_DELIVERIES) as pool:
        return list(pool.map(deliver, range(CONCURRENT_DELIVERIES)))


@pytest.mark.parametrize("target", ["push-items", "file-append"])
def test_ten_concurrent_deliveries_of_one_key_apply_once(database_url, run_id, target):
    """Round after round, a new key is delivered 10 times at once: the first
    round creates the run (and the file), the others add to them."""
    if target == "push-items":
        path = "/runs/%s/push-items" % run_id
        content_type = "application/json"
    else:
        path = "/runs/%s/files/x" % run_id
        content_type = "application/octet-stream"
    bodies = []
    with ServiceProcess(database_url) as service:
        for round_number in range(1, CONCURRENT_ROUNDS + 1):
            if target == "push-items":
                items = [
                    {"filename": "r%d-%d" % (round_number, n), "state": "PUSHED"}
                    for n in range(3)
                ]
                body = json.dumps(items).encode()
            else:
                body = b"round %d\n" % round_number
            bodies.append(body)
            headers = {
                "Content-Type": content_type,
                "Idempotency-Key": "%s.0123456789abcdef.%d" % (run_id, round_number),
            }

            answers = deliver_at_once(service, path, body, headers)

            statuses = [answer.status_code for answer in answers]
            assert all(200 <= status < 300 for status in statuses), [
                (status, answer.text) for status, answer in zip(statuses, answers)
            ]
            # The service says which delivery it applied: one.
            assert [answer.json()["applied"] for answer in answers].count(True) == 1

        run = runs_by_name(service)[run_id]
        stored = read(service, path).content
    if target == "push-items":
        expected = [item for body in bodies for item in json.loads(body)]
        assert [json.loads(line) for line in stored.splitlines()] == expected
        assert run["records"] == len(expected)
    else:
        assert stored == b"".join(bodies)
        assert (run["records"], run["files"]) == (0, 1)
