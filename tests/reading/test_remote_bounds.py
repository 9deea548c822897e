"""Reading a service is bounded and resilient: a service trickling its
answers cannot hold a reader past its timeout, and a database restart
behind the service does not change a CI gate's verdict."""

import concurrent.futures
import json
import subprocess
import sys

import pytest

from pushcollector import ServiceReadError, list_runs, open_run
from pushcollector._impl import cli

from ..http_service import ScriptedService
from ..server.conftest import postgres_server, postgres_url  # noqa: F401
from ..server.service import ServiceProcess
from ..server.test_app import post_items

# The reader's timeout in these tests, in seconds. A trickled answer below
# takes minutes to arrive whole: a read it did not bound would end with the
# whole answer, and succeed, rather than fail as the tests expect.
TIMEOUT = 0.5

RUN_FIGURES = {
    "name": "r",
    "latest": True,
    "records": 1,
    "push_items": 1,
    "files": 0,
    "states": {"PUSHED": 1},
    "unsuccessful": 0,
    "unfinished": 0,
    "bad_lines": 0,
}


@pytest.fixture
def short_timeout(monkeypatch):
    monkeypatch.setattr("pushcollector._impl.reading.remote._TIMEOUT", TIMEOUT)


def respond_trickling(trickled_path, answers):
    """A respond() answering each path at once, but trickled_path a byte at
    a time, one byte every 50 ms."""

    def respond(exchange):
        path = exchange.request.path.split("?")[0]
        body = answers[path]
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        if path != trickled_path:
            exchange.write(head + body)
            return
        exchange.write(head)
        for index in range(len(body)):
            if exchange.stopping:
                return
            exchange.write(body[index : index + 1])
            exchange.pause(0.05)

    return respond


def answers_of_a_run():
    page = {"runs": [RUN_FIGURES], "total": 1, "next": None}
    summary = {
        "run": "r",
        "records": 1,
        "push_items": 1,
        "states": {"PUSHED": 1},
        "unsuccessful": [],
        "unfinished": [],
        "bad_lines": [],
        "passed": True,
    }
    # Long enough to take minutes at a byte every 50 ms.
    padding = {"padding": "x" * 4000}
    return {
        "/api/runs": json.dumps({**page, **padding}).encode(),
        "/api/runs/r": json.dumps({**RUN_FIGURES, **padding}).encode(),
        "/api/runs/r/summary": json.dumps({**summary, **padding}).encode(),
        "/api/runs/r/files": json.dumps({"files": [], **padding}).encode(),
        "/api/runs/r/push-items": b'{"filename": "a", "state": "PUSHED"}\n' * 4000,
    }


@pytest.mark.parametrize(
    "command, where, trickled",
    [
        ("runs", "", "/api/runs"),
        ("summary", "", "/api/runs"),
        ("summary", "/runs/r", "/api/runs/r"),
        ("summary", "/runs/r", "/api/runs/r/summary"),
    ],
)
def test_a_trickled_answer_cannot_hold_a_command_past_its_timeout(
    short_timeout, capsys, command, where, trickled
):
    answers = answers_of_a_run()
    with ScriptedService(respond_trickling(trickled, answers)) as scripted:
        status = cli.main([command, scripted.url + where])

    assert status == 2
    error = capsys.readouterr().err
    assert error == "pushcollector: error: %s%s: cannot read the service: %s\n" % (
        scripted.url[: -len("/api")],
        trickled,
        "timed out",
    )


def test_a_trickled_list_of_files_cannot_hold_a_reader(short_timeout):
    answers = answers_of_a_run()
    with ScriptedService(respond_trickling("/api/runs/r/files", answers)) as scripted:
        run = open_run(scripted.url + "/runs/r")
        with pytest.raises(ServiceReadError, match="cannot read the service: timed"):
            run.files()


def test_trickled_records_cannot_hold_a_reader(short_timeout):
    answers = answers_of_a_run()
    trickled = "/api/runs/r/push-items"
    with ScriptedService(respond_trickling(trickled, answers)) as scripted:
        run = open_run(scripted.url + "/runs/r")
        with pytest.raises(ServiceReadError) as caught:
            list(run.records())

    assert caught.value.url == run.items_path
    assert str(caught.value) == (
        "%s: cut off while reading: timed out: no 65536 bytes within the"
        " timeout of %g s" % (run.items_path, TIMEOUT)
    )


def test_an_answer_beyond_the_largest_document_is_refused(monkeypatch):
    monkeypatch.setattr("pushcollector._impl.reading.remote._DOCUMENT_BYTES", 100)
    body = json.dumps({"runs": [], "padding": "x" * 100}).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)

    with ScriptedService(lambda exchange: exchange.write(head + body)) as scripted:
        with pytest.raises(ServiceReadError) as caught:
            open_run(scripted.url)

    assert str(caught.value) == (
        "%s/runs: not a pushcollector service: an answer longer than 100 bytes"
        % scripted.url
    )


def summary_exit_status(url):
    return subprocess.run(
        [sys.executable, "-m", "pushcollector", "summary", url],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.postgres
def test_after_a_database_restart_the_gate_gives_the_verdict_every_time(
    postgres_server, postgres_url  # noqa: F811
):
    with ServiceProcess(postgres_url) as running:
        post_items(running.url, "failed", [{"filename": "a", "state": "NOTFOUND"}])
        post_items(running.url, "passed", [{"filename": "a", "state": "PUSHED"}])
        failed = open_run(running.url + "/runs/failed")
        passed = open_run(running.url + "/runs/passed")
        # Reads at once, so that the service's pool holds several
        # connections, each of them stale once the database restarts.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            summaries = list(
                pool.map(lambda run: run.service_summary(), [failed, passed] * 8)
            )
        assert [summary["passed"] for summary in summaries] == [False, True] * 8

        postgres_server.restart_fast()

        statuses = []
        for _ in range(10):
            statuses.append(summary_exit_status(failed.url).returncode)
            statuses.append(summary_exit_status(passed.url).returncode)

    assert statuses == [1, 0] * 10


def test_a_busy_service_is_asked_again(short_timeout):
    page = json.dumps({"runs": [RUN_FIGURES], "total": 1, "next": None}).encode()
    answers = [
        b"HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 502 Bad Gateway\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page),
    ]

    with ScriptedService(lambda exchange: exchange.write(answers.pop(0))) as scripted:
        run = open_run(scripted.url)

    assert run.name == "r"
    assert answers == []


def test_a_broken_service_is_not_asked_again(short_timeout):
    answer = b'HTTP/1.1 500 Oops\r\nContent-Length: 15\r\n\r\n{"error": "db"}'

    with ScriptedService(lambda exchange: exchange.write(answer)) as scripted:
        with pytest.raises(ServiceReadError, match="HTTP 500 Oops: db"):
            open_run(scripted.url)

    assert len(scripted.requests) == 1


def test_a_reader_reads_in_its_own_thread_when_no_thread_can_start(monkeypatch):
    # As at the interpreter's exit, where no thread can be started.
    from pushcollector._impl.transport.attempt import AttemptRunner

    monkeypatch.setattr(AttemptRunner, "run", lambda runner, job: False)
    answers = answers_of_a_run()

    with ScriptedService(respond_trickling(None, answers)) as scripted:
        records = list(open_run(scripted.url + "/runs/r").records())

    assert records == [{"filename": "a", "state": "PUSHED"}] * 4000


# What a hostile service answers cannot make a reader grow without bound.


def gzipped(document, padding_bytes):
    """A gzip body that inflates to a JSON object of about padding_bytes."""
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head, tail = json.dumps({**document, "padding": ""}).encode().split(b'""}')
    parts = [compressor.compress(head + b'"')]
    block = b"x" * (1024 * 1024)
    for _ in range(padding_bytes // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(b'"}' + tail))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_a_compressed_answer_is_refused_not_inflated():
    # 100 MiB once inflated, which a reader inflating answers would accept.
    body = gzipped({"runs": [], "total": 0, "next": None}, 100 * 1024 * 1024)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"

    with ScriptedService(
        lambda exchange: exchange.write(head % len(body) + body)
    ) as scripted:
        with pytest.raises(ServiceReadError) as caught:
            open_run(scripted.url)

    assert str(caught.value) == (
        "%s/runs: not a pushcollector service: an answer in the content coding"
        " 'gzip', which was not asked for" % scripted.url
    )
    assert scripted.requests[0].headers["Accept-Encoding"] == "identity"


def test_compressed_records_are_refused_not_inflated():
    answers = answers_of_a_run()
    records = gzipped({"filename": "a", "state": "PUSHED"}, 100 * 1024 * 1024)

    def respond(exchange):
        if exchange.request.path == "/api/runs/r/push-items":
            exchange.write(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(records), records)
            )
        else:
            respond_trickling(None, answers)(exchange)

    with ScriptedService(respond) as scripted:
        run = open_run(scripted.url + "/runs/r")
        with pytest.raises(ServiceReadError, match="content coding 'gzip'"):
            list(run.records())


def test_an_endless_line_is_not_a_record(monkeypatch):
    monkeypatch.setattr("pushcollector._impl.reading.remote._DOCUMENT_BYTES", 100_000)
    answers = answers_of_a_run()

    def respond(exchange):
        if exchange.request.path != "/api/runs/r/push-items":
            return respond_trickling(None, answers)(exchange)
        exchange.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        while not exchange.stopping:
            exchange.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    with ScriptedService(respond) as scripted:
        run = open_run(scripted.url + "/runs/r")
        with pytest.raises(ServiceReadError) as caught:
            list(run.records())

    assert str(caught.value) == (
        "%s: not a pushcollector service: a line longer than 100000 bytes"
        % run.items_path
    )


def test_a_service_repeating_its_pages_is_not_asked_for_ever():
    page = json.dumps({"runs": [RUN_FIGURES], "total": 5000, "next": 1}).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(page)

    with ScriptedService(lambda exchange: exchange.write(head + page)) as scripted:
        with pytest.raises(ServiceReadError) as caught:
            list_runs(scripted.url)

    assert str(caught.value) == (
        "%s/runs: not a pushcollector service: it answers a page of runs listed"
        " already, at offset 1" % scripted.url
    )
    assert len(scripted.requests) == 2
