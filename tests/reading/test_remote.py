"""Reading runs held by a collection service: the same API and commands as
for local runs, against a real ``pushcollector serve`` (SQLite and
PostgreSQL), and against hostile services written byte by byte."""

import json
import os
import subprocess
import sys

import pytest

from pushcollector import (
    Collector,
    LocalCollector,
    NotARunError,
    RemoteRun,
    ServiceReadError,
    list_runs,
    open_run,
)
from pushcollector._impl.reading.remote import split_run_url

from ..http_service import ScriptedService
from ..server.conftest import (  # noqa: F401
    postgres_server,
    run_id,
    service,
)
from ..server.service import ServiceProcess
from ..server.test_app import post_items, send_file

TIMEOUT = 120

ITEMS = [
    {"filename": "a.rpm", "state": "PENDING", "dest": "/repo/1"},
    {"filename": "a.rpm", "state": "PUSHED", "dest": "/repo/1"},
    {"filename": "b.rpm", "state": "NOTFOUND", "dest": None},
    {"filename": "c\u00e9.rpm", "state": "PENDING"},
    {"filename": "d.iso", "state": "EXISTS", "dest": "/repo/2", "extra": [1, 2]},
]

# What a summary of a run says of where it is held, and by what name.
LOCATION_KEYS = ("run", "directory", "items_file", "url", "page", "latest")


def pushcollector(*args, env=None):
    environment = dict(os.environ)
    environment.pop("PUSHCOLLECTOR_HTTP_TOKEN", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pushcollector", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=TIMEOUT,
    )


@pytest.fixture
def local_run(tmp_path):
    """The directory of a local run holding ITEMS and a log."""
    collector = LocalCollector(directory=str(tmp_path / "artifacts"))
    Collector.register_backend("remote-test-local", lambda: collector)
    try:
        recorder = Collector.get("remote-test-local")
        recorder.update_push_items(ITEMS).result()
        recorder.append_file("push.log", "pushed\n").result()
    finally:
        Collector.register_backend("remote-test-local", None)
    return str(tmp_path / "artifacts" / "latest")


@pytest.fixture
def served_run(service, run_id):
    """The URL of a run of the service holding ITEMS and a log."""
    post_items(service.url, run_id, ITEMS)
    send_file(service.url, run_id, "push.log", b"pushed\n")
    return "%s/runs/%s" % (service.url, run_id)


def without_location(document):
    return {key: value for key, value in document.items() if key not in LOCATION_KEYS}


# -- The commands ---------------------------------------------------------------


@pytest.mark.parametrize("options", [[], ["--allow-pending"]])
def test_summary_json_of_a_served_run_is_that_of_the_same_local_run(
    served_run, local_run, options
):
    remote = pushcollector("summary", "--json", *options, served_run)
    local = pushcollector("summary", "--json", *options, local_run)

    assert (remote.returncode, remote.stderr) == (local.returncode, "") == (1, "")
    served = json.loads(remote.stdout)
    assert without_location(served) == without_location(json.loads(local.stdout))
    assert served["url"] == served_run
    assert served["page"] == served_run.replace("/api/runs/", "/runs/")
    assert (served["directory"], served["items_file"]) == (None, None)
    assert served["unsuccessful"] == [
        {"filename": "b.rpm", "dest": None, "state": "NOTFOUND"}
    ]


def test_summary_text_of_a_served_run_is_that_of_the_same_local_run(
    served_run, local_run
):
    remote = pushcollector("summary", served_run)
    local = pushcollector("summary", local_run)

    remote_lines = remote.stdout.splitlines()
    local_lines = local.stdout.splitlines()
    assert remote_lines[1] == "URL:        " + served_run
    assert remote_lines[2] == "Page:       " + served_run.replace(
        "/api/runs/", "/runs/"
    )
    assert local_lines[1].startswith("Path:       ")
    assert remote_lines[3:] == local_lines[2:]
    assert remote_lines[-1] == "FAILED: 1 unsuccessful, 1 unfinished (PENDING)"
    assert remote.returncode == local.returncode == 1


def test_a_passing_served_run_exits_0(service, run_id):
    post_items(service.url, run_id, ITEMS[1:2])

    done = pushcollector("summary", "%s/runs/%s/" % (service.url, run_id))

    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == "PASSED: 1 push item ended successfully"


def test_the_service_url_means_its_newest_run(service, run_id):
    post_items(service.url, run_id + "-old", ITEMS[1:2])
    post_items(service.url, run_id + "-new", ITEMS)

    done = pushcollector("summary", "--json", service.url + "/")

    summary = json.loads(done.stdout)
    assert (summary["run"], summary["latest"], done.returncode) == (
        run_id + "-new",
        True,
        1,
    )


def test_runs_of_a_service_are_listed_like_local_ones(service, run_id):
    post_items(service.url, run_id + "-old", ITEMS[1:2])
    post_items(service.url, run_id + "-new", ITEMS)
    send_file(service.url, run_id + "-new", "push.log", b"x")

    listing = pushcollector("runs", service.url)
    as_json = pushcollector("runs", "--json", service.url)

    assert listing.returncode == as_json.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["RUN", "RECORDS", "PUSH", "ITEMS", "FILES", "RESULT"]
    assert lines[1].split() == [
        "*",
        run_id + "-new",
        "5",
        "4",
        "1",
        "1",
        "unsuccessful,",
        "1",
        "unfinished",
        "(PENDING)",
    ]
    assert lines[2].split() == [run_id + "-old", "1", "1", "0", "passed"]
    document = json.loads(as_json.stdout)
    assert document["base"] == service.url
    newest, older = document["runs"][:2]
    assert newest["url"] == "%s/runs/%s-new" % (service.url, run_id)
    assert (newest["passed"], older["passed"]) == (False, True)
    assert (newest["unsuccessful"], newest["unfinished"]) == (1, 1)


def test_an_unknown_run_exits_2_with_one_line(service, run_id):
    done = pushcollector("summary", "%s/runs/%s" % (service.url, run_id))

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "pushcollector: error: %s/runs/%s: no run %s\n" % (
        service.url,
        run_id,
        run_id,
    )


def test_an_unreachable_service_exits_2_with_one_line(unused_url):
    for command in ("summary", "runs"):
        done = pushcollector(command, unused_url)

        assert done.returncode == 2
        assert done.stderr.count("\n") == 1
        assert done.stderr.startswith("pushcollector: error: %s/runs" % unused_url)
        assert "cannot read the service: [Errno" in done.stderr


@pytest.fixture
def unused_url():
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    # Nothing listens there once the socket is closed.
    return "http://127.0.0.1:%d/api" % port


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """An empty service that wants tokens, and a read token for it."""
    directory = tmp_path_factory.mktemp("guarded")
    tokens = directory / "tokens"
    token = pushcollector(
        "token", "create", "viewer", "--scope", "read", "--tokens", str(tokens)
    ).stdout.strip()
    with ServiceProcess(
        "sqlite:///%s" % (directory / "db"), "--tokens", str(tokens)
    ) as running:
        yield running, token


def test_a_bad_token_exits_2_without_showing_it(guarded):
    running, token = guarded
    wrong = token[::-1]

    done = pushcollector("runs", running.url, env={"PUSHCOLLECTOR_HTTP_TOKEN": wrong})

    assert done.returncode == 2
    assert done.stderr.startswith(
        "pushcollector: error: %s/runs: HTTP 401 Unauthorized: " % running.url
    )
    assert done.stderr.count("\n") == 1
    assert wrong not in done.stderr


def test_a_read_token_reads(guarded):
    running, token = guarded

    done = pushcollector("runs", running.url, env={"PUSHCOLLECTOR_HTTP_TOKEN": token})

    assert (done.returncode, done.stdout) == (0, "No runs in %s\n" % running.url)


def test_a_service_with_no_runs_has_no_newest_run(guarded):
    running, token = guarded

    done = pushcollector(
        "summary", running.url, env={"PUSHCOLLECTOR_HTTP_TOKEN": token}
    )

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s: the service holds no runs\n" % running.url
    )


def test_a_token_that_http_cannot_carry_is_refused(guarded):
    running, _ = guarded

    done = pushcollector(
        "runs", running.url, env={"PUSHCOLLECTOR_HTTP_TOKEN": "two words"}
    )

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: $PUSHCOLLECTOR_HTTP_TOKEN is not a token: token"
        " must be non-empty, without spaces or control characters\n"
    )


def test_credentials_in_the_url_are_sent_and_never_shown(guarded):
    running, _ = guarded
    url = running.url.replace("http://", "http://someone:s3cr3t-pw@")

    done = pushcollector("runs", url)

    # The service wants a Bearer token: Basic credentials are refused.
    assert done.returncode == 2
    assert "HTTP 401" in done.stderr
    assert "s3cr3t-pw" not in done.stderr


# -- The API --------------------------------------------------------------------


def test_open_run_of_a_url_streams_the_records_in_order(served_run, run_id):
    run = open_run(served_run)

    assert isinstance(run, RemoteRun)
    assert (run.name, run.url, run.directory) == (run_id, served_run, None)
    assert run.items_path == served_run + "/push-items"
    assert repr(run) == "RemoteRun(%r)" % served_run
    assert [record["filename"] for record in run.records()] == [
        item["filename"] for item in ITEMS
    ]
    assert list(run.records())[4] == ITEMS[4]
    assert run.files() == ["push.log"]
    assert run.figures["records"] == 5
    assert run.page_url == served_run.replace("/api/runs/", "/runs/")


def test_a_service_not_under_api_has_no_page_url():
    respond = script_by_path({"/svc/runs/r": ok(RUN_FIGURES)})

    with ScriptedService(respond) as scripted:
        run = open_run(scripted.url.replace("/api", "/svc") + "/runs/r")

    assert run.page_url is None


def test_the_summary_of_a_remote_run_is_worked_out_as_for_a_local_one(
    served_run, local_run
):
    remote = open_run(served_run).summary()
    local = open_run(local_run).summary()

    assert remote.final_states == local.final_states
    assert remote.record_count == local.record_count == 5
    assert remote.unsuccessful() == local.unsuccessful()
    assert remote.passed() is local.passed() is False
    assert remote.passed(allow_pending=True) is False


def test_the_service_summary_is_computed_by_the_service(served_run):
    run = open_run(served_run)

    document = run.service_summary(allow_pending=True)

    assert document["run"] == run.name
    assert (document["records"], document["allow_pending"]) == (5, True)


def test_the_report_of_a_served_run_is_that_of_the_same_local_run(
    served_run, local_run
):
    remote = open_run(served_run)
    local = open_run(local_run)

    assert remote.report(allow_pending=True) == local.report(allow_pending=True)
    assert remote.report() == local.report()
    assert remote.report().passed is False
    assert remote.location() == {
        "directory": None,
        "items_file": None,
        "url": served_run,
        "page": served_run.replace("/api/runs/", "/runs/"),
    }
    assert remote.shown_location() == [
        ("URL", served_run),
        ("Page", served_run.replace("/api/runs/", "/runs/")),
    ]


def test_a_served_run_is_listed_with_the_counts_of_the_same_local_run(
    service, run_id, local_run
):
    post_items(service.url, run_id, ITEMS)
    (local,) = list_runs(os.path.dirname(local_run))

    listed = {run.name: run for run in list_runs(service.url)}[run_id]

    figures, report = listed.listing()
    local_figures, local_report = local.listing()
    assert figures["url"] == listed.url
    assert figures["states"] == local_report.state_counts
    for key in ("records", "push_items", "unsuccessful", "unfinished", "passed"):
        assert figures[key] == local_figures[key]
    counts = ("record_count", "push_item_count", "unsuccessful_count", "passed")
    assert [getattr(report, name) for name in counts] == [
        getattr(local_report, name) for name in counts
    ]


def test_list_runs_of_a_url_lists_every_page_newest_first(service, run_id, monkeypatch):
    monkeypatch.setattr("pushcollector._impl.reading.remote._RUNS_PER_PAGE", 2)
    names = ["%s-%d" % (run_id, number) for number in range(5)]
    for name in names:
        post_items(service.url, name, ITEMS[:1])

    runs = list_runs(service.url)

    listed = [run.name for run in runs]
    assert listed[:5] == names[::-1]
    assert len(listed) == len(set(listed))
    assert runs[0].is_latest and not runs[1].is_latest


def test_a_run_url_is_not_a_service_to_list(served_run):
    with pytest.raises(NotARunError, match="names a run, not a service"):
        list_runs(served_run)


def test_a_run_the_service_no_longer_holds_is_not_a_run(service, run_id):
    with pytest.raises(NotARunError, match="no run %s" % run_id):
        open_run("%s/runs/%s" % (service.url, run_id))


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://", "url must name a host"),
        ("https://host:99999/api", "url has an invalid port"),
        ("http://host/api?x=1", "url must not have a query"),
    ],
)
def test_a_bad_url_is_not_a_run(url, message):
    with pytest.raises(NotARunError, match=message):
        open_run(url)


@pytest.mark.parametrize(
    "url, split",
    [
        ("http://h/api", ("http://h/api", None)),
        ("HTTPS://h:8/x/api/runs/a%2Eb/", ("https://h:8/x/api", "a.b")),
        ("http://h/api/runs", ("http://h/api/runs", None)),
        ("http://h/api/runs/r/files", ("http://h/api/runs/r/files", None)),
    ],
)
def test_run_urls_are_told_from_service_urls(url, split):
    assert split_run_url(url) == split


# -- Hostile services -------------------------------------------------------------


def answer(status, body, headers=()):
    """A respond() for ScriptedService: one fixed answer to every request."""
    head = "HTTP/1.1 %s\r\nContent-Length: %d\r\n" % (status, len(body))
    head += "".join("%s: %s\r\n" % header for header in headers)

    def respond(exchange):
        exchange.write(head.encode("latin-1") + b"\r\n" + body)

    return respond


@pytest.mark.parametrize(
    "status, body, message",
    [
        ("200 OK", b"<html>", "not a pushcollector service: the answer is not a JSON"),
        ("200 OK", b"[]", "not a pushcollector service: the answer is not a JSON"),
        ("200 OK", b'{"runs": 3}', "not a pushcollector service: no list of runs"),
        ("200 OK", b'{"runs": [{}]}', "a run without a name"),
        ("500 Oops", b'{"error": "database down"}', "HTTP 500 Oops: database down"),
        ("404 Not Found", b"gone", "HTTP 404 Not Found: not an answer of a"),
        ("400 Bad", b'{"error": 7}', "HTTP 400 Bad: not an answer of a"),
        ("302 Found", b"", "HTTP 302 Found"),
    ],
)
def test_what_no_service_answers_is_an_error(status, body, message):
    with ScriptedService(answer(status, body)) as scripted:
        with pytest.raises(ServiceReadError, match=message) as caught:
            list_runs(scripted.url)

    assert caught.value.url == scripted.url + "/runs"


def test_an_error_answer_is_quoted_in_part():
    endless = json.dumps({"error": "x" * 100_000}).encode()

    with ScriptedService(answer("503 Busy", endless)) as scripted:
        with pytest.raises(ServiceReadError) as caught:
            open_run(scripted.url)

    assert caught.value.status == 503
    # A cut JSON document is no message: the reason is said instead.
    assert str(caught.value).endswith("not an answer of a pushcollector service")


def test_a_listing_without_counts_fails_the_runs_command():
    page = json.dumps({"runs": [{"name": "r"}], "total": 1, "next": None})

    with ScriptedService(answer("200 OK", page.encode())) as scripted:
        done = pushcollector("runs", scripted.url)

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s/runs/r: not a pushcollector service: a run"
        " without its counts\n" % scripted.url
    )


def script_by_path(answers):
    """A respond() answering each path with its own raw answer."""

    def respond(exchange):
        path = exchange.request.path.split("?")[0]
        exchange.write(answers[path])
        exchange.close()

    return respond


def ok(body, length=None):
    length = len(body) if length is None else length
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
        length,
        body,
    )


RUN_FIGURES = json.dumps(
    {
        "name": "r",
        "latest": True,
        "states": {"PUSHED": 1},
        "unsuccessful": 0,
        "unfinished": 0,
        "bad_lines": 0,
    }
).encode()


def test_a_summary_that_is_not_one_fails_the_summary_command():
    respond = script_by_path(
        {"/api/runs/r": ok(RUN_FIGURES), "/api/runs/r/summary": ok(b'{"records": 1}')}
    )

    with ScriptedService(respond) as scripted:
        done = pushcollector("summary", scripted.url + "/runs/r")

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s/runs/r/summary: not a pushcollector service:"
        " not a summary\n" % scripted.url
    )


def test_records_cut_off_mid_line_end_in_a_bad_line_then_an_error():
    line = b'{"filename": "a", "state": "PUSHED"}\n'
    records = ok(line + b'{"filename": "b", "st', length=len(line) + 1000)
    respond = script_by_path(
        {"/api/runs/r": ok(RUN_FIGURES), "/api/runs/r/push-items": records}
    )
    bad_lines = []

    with ScriptedService(respond) as scripted:
        run = open_run(scripted.url + "/runs/r")
        with pytest.raises(ServiceReadError, match="cut off while reading") as caught:
            for record in run.records(on_bad_line=bad_lines.append):
                assert record == {"filename": "a", "state": "PUSHED"}

    assert caught.value.url == run.items_path
    assert bad_lines == []


def test_a_torn_last_record_is_a_bad_line(caplog):
    body = b'{"filename": "a", "state": "PUSHED"}\n{"filename": "b", "st'
    respond = script_by_path(
        {"/api/runs/r": ok(RUN_FIGURES), "/api/runs/r/push-items": ok(body)}
    )

    with ScriptedService(respond) as scripted:
        run = open_run(scripted.url + "/runs/r")
        summary = run.summary()
        records = list(run.records())

    assert [bad.line_number for bad in summary.bad_lines] == [2]
    assert summary.passed() is False
    assert records == [{"filename": "a", "state": "PUSHED"}]
    assert "%s:2: skipped: not valid JSON" % run.items_path in caplog.text
    assert "the last line is incomplete" in caplog.text


def test_a_file_listing_that_is_not_one_is_an_error():
    respond = script_by_path(
        {"/api/runs/r": ok(RUN_FIGURES), "/api/runs/r/files": ok(b'{"files": [1]}')}
    )

    with ScriptedService(respond) as scripted:
        run = open_run(scripted.url + "/runs/r")
        with pytest.raises(ServiceReadError, match="no list of files"):
            run.files()


def test_a_service_that_does_not_answer_times_out(monkeypatch):
    monkeypatch.setattr("pushcollector._impl.reading.remote._TIMEOUT", 0.2)

    def never(exchange):
        exchange.pause(60)

    with ScriptedService(never) as scripted:
        with pytest.raises(
            ServiceReadError, match="cannot read the service: timed out"
        ):
            list_runs(scripted.url)
