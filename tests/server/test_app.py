"""The service's HTTP API, spoken to a real ``pushcollector serve`` process."""

import json
import os
import signal
import socket
import contextlib
import sqlite3
import subprocess
import sys
import threading
import urllib.parse

import pytest
import requests

from pushcollector import Collector, HttpCollector, LocalCollector
from pushcollector._impl.server.pages import CONTENT_SECURITY_POLICY
from pushcollector._impl.store.queries import Store
from pushcollector.testing import BackendContract

from .relay import Relay
from .service import ServiceProcess

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "docs")

ITEMS = [
    {"filename": "a.rpm", "state": "PENDING", "dest": "repo"},
    {"filename": "a.rpm", "state": "PUSHED", "dest": "repo"},
    {"filename": "b.rpm", "state": "NOTFOUND"},
]


def post_items(url, run_id, items, key=None, headers=None, **kwargs):
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        all_headers["Idempotency-Key"] = key
    body = json.dumps(items) if isinstance(items, list) else items
    return requests.post(
        "%s/runs/%s/push-items" % (url, run_id),
        data=body,
        headers=all_headers,
        timeout=60,
        **kwargs,
    )


def send_file(url, run_id, path, data, method="POST", key=None, headers=None):
    headers = {**BYTES, **(headers or {})}
    if key:
        headers["Idempotency-Key"] = key
    return requests.request(
        method,
        "%s/runs/%s/files/%s" % (url, run_id, path),
        data=data,
        headers=headers,
        timeout=60,
    )


#: The media type of file content, as the protocol has it.
BYTES = {"Content-Type": "application/octet-stream"}


def stored_lines(service, run_id):
    answer = service.get("/runs/%s/push-items" % run_id)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200
    return answer.text.splitlines()


def error_of(answer):
    return answer.json()["error"]


# -- Writing push items -------------------------------------------------------


def test_push_items_are_stored_in_order_and_read_back_as_lines(service, run_id):
    answer = post_items(service.url, run_id, ITEMS, key="%s.s.1" % run_id)

    assert answer.status_code == 200
    assert answer.json() == {"applied": True, "push_items": 3}
    lines = stored_lines(service, run_id)
    assert [json.loads(line) for line in lines] == ITEMS
    # The line format of pushitems.jsonl.
    assert lines[0] == '{"dest": "repo", "filename": "a.rpm", "state": "PENDING"}'
    answer = service.get("/runs/%s/push-items" % run_id)
    assert answer.headers["content-type"] == "application/x-ndjson"


def test_a_key_is_applied_once(service, run_id):
    key = "%s.sender.1" % run_id
    first = post_items(service.url, run_id, ITEMS, key=key)
    again = post_items(service.url, run_id, ITEMS, key=key)
    other = post_items(service.url, run_id, ITEMS[:1], key="%s.sender.2" % run_id)

    assert (first.status_code, again.status_code, other.status_code) == (200,) * 3
    assert again.json() == {"applied": False, "push_items": 3}
    assert [json.loads(line) for line in stored_lines(service, run_id)] == (
        ITEMS + ITEMS[:1]
    )


def test_requests_without_a_key_are_each_applied(service, run_id):
    post_items(service.url, run_id, ITEMS[:1])
    post_items(service.url, run_id, ITEMS[:1])

    assert len(stored_lines(service, run_id)) == 2


@pytest.mark.parametrize(
    "item, message",
    [
        (
            {"filename": "a", "state": "DONE"},
            "push item 1: ['state']: 'DONE' is not one of",
        ),
        ({"state": "PUSHED"}, "push item 1: 'filename' is a required property"),
        ({"filename": 7, "state": "PUSHED"}, "push item 1: ['filename']: 7 is not"),
        ("a string", "push item 1: 'a string' is not of type 'object'"),
        (
            {"filename": "a", "state": "PUSHED", "extra": 2**64},
            "push item 1: ['extra']: an int of 65 bits is out of range",
        ),
        (
            {"filename": "a", "state": "PUSHED", "extra": "\ud800"},
            "push item 1: ['extra']: str holds a lone surrogate",
        ),
    ],
)
def test_an_invalid_item_is_refused_with_nothing_stored(service, run_id, item, message):
    answer = post_items(service.url, run_id, [ITEMS[0], item])

    assert answer.status_code == 422
    assert error_of(answer).startswith(message)
    assert stored_lines(service, run_id) is None


@pytest.mark.parametrize(
    "body, message",
    [
        (b"[{", "body is not JSON: "),
        (b'[{"filename": "a", "state": "PUSHED", "x": NaN}]', "NaN is not JSON"),
        (b'[{"filename": "a", "state": "PUSHED", "x": -Infinity}]', "-Infinity"),
        (b'["\xff"]', "body is not UTF-8: byte 2"),
        (b"[]", "body must be a JSON array of 1 or more push items"),
        (b'{"filename": "a", "state": "PUSHED"}', "body must be a JSON array"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not JSON: nested too deeply"),
    ],
)
def test_a_body_that_is_not_a_json_array_is_refused(service, run_id, body, message):
    answer = post_items(service.url, run_id, body)

    assert answer.status_code == 400
    assert message in error_of(answer)
    assert stored_lines(service, run_id) is None


def test_items_nested_too_deeply_are_refused(service, run_id):
    deep = {"filename": "a", "state": "PUSHED", "extra": []}
    value = deep["extra"]
    for _ in range(200):
        value.append([])
        value = value[0]

    answer = post_items(service.url, run_id, [deep])

    assert answer.status_code == 422
    assert error_of(answer).endswith(": nested deeper than 100 levels")


@pytest.mark.parametrize(
    "run_id, key",
    [
        ("run with space", None),
        (".hidden", None),
        ("x" * 129, None),
        ("good", "a key"),
        ("good", "k" * 257),
        ("good", "caf\u00e9"),
    ],
)
def test_bad_run_ids_and_keys_are_refused(service, run_id, key):
    headers = {"Idempotency-Key": key.encode("utf-8")} if key else {}

    answer = post_items(service.url, run_id.replace(" ", "%20"), ITEMS, headers=headers)

    assert answer.status_code == 400
    assert error_of(answer).startswith(
        "invalid run id" if key is None else "invalid Idempotency-Key"
    )


# -- Files --------------------------------------------------------------------


def test_files_are_created_appended_replaced_and_read_back(service, run_id):
    assert send_file(service.url, run_id, "logs/push.log", b"one\n").status_code == 200
    send_file(service.url, run_id, "logs/push.log", b"two\n")
    send_file(service.url, run_id, "report.json", b"{}", method="PUT")
    send_file(service.url, run_id, "report.json", b'{"ok": 1}', method="PUT")
    send_file(service.url, run_id, "empty", b"", method="PUT")
    send_file(service.url, run_id, "appended-empty", b"")

    files = service.get("/runs/%s/files" % run_id).json()["files"]
    assert [(file["name"], file["size"]) for file in files] == [
        ("appended-empty", 0),
        ("empty", 0),
        ("logs/push.log", 8),
        ("report.json", 9),
    ]
    assert all(file["updated_at"].endswith("Z") for file in files)
    read = service.get("/runs/%s/files/logs/push.log" % run_id)
    assert read.content == b"one\ntwo\n"
    assert read.headers["content-type"] == "application/octet-stream"
    assert service.get("/runs/%s/files/report.json" % run_id).content == b'{"ok": 1}'
    assert service.get("/runs/%s/files/empty" % run_id).content == b""


def test_file_names_are_decoded_component_by_component(service, run_id):
    data = bytes(range(256))
    answer = send_file(service.url, run_id, "logs/push%20100%25/%C3%BC.txt", data)

    assert answer.json() == {"applied": True, "bytes": 256}
    files = service.get("/runs/%s/files" % run_id).json()["files"]
    assert [file["name"] for file in files] == ["logs/push 100%/ü.txt"]
    read = service.get("/runs/%s/files/logs/push%%20100%%25/%%C3%%BC.txt" % run_id)
    assert read.content == data


@pytest.mark.parametrize(
    "path, message",
    [
        ("a/../b", "must not have empty, '.' or '..' components"),
        ("a/%2E%2E/b", "must not have empty, '.' or '..' components"),
        ("a%2Fb", "a component holds an encoded '/'"),
        ("a%0Ab", "must not contain a control character"),
        ("%FF", "not UTF-8 once percent-decoded"),
        ("%5C", "must not contain a backslash"),
        ("x" * 256, "is 256 bytes in UTF-8, more than 255"),
    ],
)
def test_bad_file_names_are_refused_with_nothing_stored(service, run_id, path, message):
    url = "%s/runs/%s/files/%s" % (service.url, run_id, path)
    # A prepared request, so that requests does not resolve the dot segments.
    session = requests.Session()
    prepared = session.prepare_request(requests.Request("PUT", url, data=b"x"))
    prepared.url = url

    answer = session.send(prepared, timeout=60)

    assert answer.status_code == 400
    assert message in error_of(answer)
    assert service.get("/runs/%s/files" % run_id).status_code == 404


def send_raw_path(method, url, data=None, headers=None):
    """A request to exactly this URL: requests neither re-encodes nor
    resolves what it holds."""
    session = requests.Session()
    prepared = session.prepare_request(
        requests.Request(method, url, data=data, headers=headers)
    )
    prepared.url = url
    return session.send(prepared, timeout=60, allow_redirects=False)


# A path is split at its "/", then each segment decoded once: an encoded
# character is that character, an encoded "/" never separates segments.
# Each is a path below /runs, and what it is: the run's file "log", no
# route at all, or a run id that is not one.
ENCODED_PATHS = [
    ("{run}/%66iles/log", "the log"),
    ("{run}/file%73/log", "the log"),
    ("{run}/%66%69%6C%65%73/log", "the log"),
    ("{encoded_run}/files/log", "the log"),
    ("{run}%2Ffiles/log", "no route"),
    ("{run}/files%2Flog", "no route"),
    ("{run}%2F/files/log", "a bad run id"),
]


def expected_answer(surface, method, names):
    """The status, and the log's content after, of a request."""
    if names == "no route":
        return 404, b"before"
    if surface == "pages" and method != "GET":
        return 405, b"before"
    if names == "a bad run id":
        return 400, b"before"
    return 200, {"GET": b"before", "PUT": b"after", "POST": b"beforeafter"}[method]


@pytest.mark.parametrize("surface", ["api", "pages"])
@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
@pytest.mark.parametrize("path, names", ENCODED_PATHS)
def test_encoded_paths_are_decoded_segment_by_segment(
    service, run_id, surface, method, path, names
):
    send_file(service.url, run_id, "log", b"before", method="PUT", headers=BYTES)
    base = service.url if surface == "api" else service.url[: -len("/api")]
    encoded_run = "".join("%%%02X" % ord(character) for character in run_id)
    url = "%s/runs/%s" % (base, path.format(run=run_id, encoded_run=encoded_run))

    answer = send_raw_path(method, url, data=b"after", headers=BYTES)

    status, log = expected_answer(surface, method, names)
    assert answer.status_code == status
    assert service.get("/runs/%s/files/log" % run_id).content == log
    if surface == "pages":
        assert answer.headers["content-type"].startswith("text/html")
    elif status != 200:
        assert error_of(answer)
    elif method == "GET":
        assert answer.content == b"before"


def test_an_applied_file_key_is_not_applied_again(service, run_id):
    key = "%s.s.9" % run_id
    send_file(service.url, run_id, "log", b"once\n", key=key)
    again = send_file(service.url, run_id, "log", b"once\n", key=key)

    assert again.json() == {"applied": False, "bytes": 5}
    assert service.get("/runs/%s/files/log" % run_id).content == b"once\n"


def test_a_key_reused_for_other_push_items_or_a_file_is_refused(service, run_id):
    key = "%s.s.7" % run_id
    post_items(service.url, run_id, ITEMS, key=key)
    files_before = service.get("/runs/%s/files" % run_id).json()

    other_items = post_items(service.url, run_id, ITEMS[:1], key=key)
    put = send_file(service.url, run_id, "log", b"x", method="PUT", key=key)
    appended = send_file(service.url, run_id, "log", b"x", key=key)

    assert [other_items.status_code, put.status_code, appended.status_code] == [422] * 3
    assert error_of(other_items) == (
        "Idempotency-Key %s of run %s was applied to a POST of push items with"
        " another body: nothing stored; a key names one request" % (key, run_id)
    )
    assert error_of(put) == (
        "Idempotency-Key %s of run %s was applied to another request (a POST of"
        " push items), not a PUT of file 'log': nothing stored; a key names one"
        " request" % (key, run_id)
    )
    assert "not a POST to file 'log'" in error_of(appended)
    assert [json.loads(line) for line in stored_lines(service, run_id)] == ITEMS
    assert (
        service.get("/runs/%s/files" % run_id).json() == files_before == {"files": []}
    )
    # The request the key was applied to is still a repeat.
    assert post_items(service.url, run_id, ITEMS, key=key).json() == {
        "applied": False,
        "push_items": 3,
    }


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_file_key_reused_for_another_body_or_file_is_refused(service, run_id, method):
    key = "%s.s.8" % run_id
    send_file(service.url, run_id, "log", b"first\n", method=method, key=key)

    other_body = send_file(service.url, run_id, "log", b"other\n", method, key)
    other_file = send_file(service.url, run_id, "log2", b"first\n", method, key)
    other_kind = send_file(
        service.url,
        run_id,
        "log",
        b"first\n",
        "POST" if method == "PUT" else "PUT",
        key,
    )
    as_items = post_items(service.url, run_id, ITEMS, key=key)

    answers = [other_body, other_file, other_kind, as_items]
    assert [answer.status_code for answer in answers] == [422] * 4
    assert "with another body: nothing stored" in error_of(other_body)
    assert "file 'log'), not a " in error_of(other_file)
    assert "file 'log2'" in error_of(other_file)
    assert stored_lines(service, run_id) == []
    assert [
        file["name"] for file in service.get("/runs/%s/files" % run_id).json()["files"]
    ] == ["log"]
    assert service.get("/runs/%s/files/log" % run_id).content == b"first\n"


def put_bad_lines(url, run_id, lines, key=None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    body = json.dumps(lines) if isinstance(lines, list) else lines
    return requests.put(
        "%s/runs/%s/bad-lines" % (url, run_id), data=body, headers=headers, timeout=60
    )


def test_bad_lines_declared_fail_the_run_and_are_replaced(service, run_id):
    post_items(service.url, run_id, ITEMS[1:2])
    assert service.get("/runs/%s" % run_id).json()["passed"] is True
    declared = [
        {"line": 2, "reason": "not valid JSON (Expecting value, column 1)"},
        {"line": 9, "reason": "not sent: the service refuses this record \u0000 ü"},
    ]

    answer = put_bad_lines(service.url, run_id, declared)

    assert answer.status_code == 200
    assert answer.json() == {"applied": True, "bad_lines": 2}
    figures = service.get("/runs/%s" % run_id).json()
    assert (figures["bad_lines"], figures["passed"]) == (2, False)
    summary = service.get("/runs/%s/summary" % run_id).json()
    assert (summary["bad_lines"], summary["passed"]) == (declared, False)
    allowed = service.get(
        "/runs/%s/summary" % run_id, params={"allow_bad_lines": "true"}
    ).json()
    assert allowed["passed"] is True
    listed = service.get("/runs", params={"limit": 1000}).json()["runs"]
    assert [run["bad_lines"] for run in listed if run["name"] == run_id] == [2]
    # Declared again, in place of those before; none, none.
    put_bad_lines(service.url, run_id, declared[1:])
    assert service.get("/runs/%s/summary" % run_id).json()["bad_lines"] == (
        declared[1:]
    )
    put_bad_lines(service.url, run_id, [])
    assert service.get("/runs/%s" % run_id).json()["passed"] is True


@pytest.mark.parametrize(
    "body, status, message",
    [
        ("{}", 400, "body must be a JSON array of bad lines"),
        ("[1", 400, "body is not JSON"),
        ([1], 422, 'bad line 0: not an object {"line": N, "reason": "..."}'),
        ([{"line": 1}], 422, "bad line 0: not an object"),
        ([{"line": 1, "reason": "r", "x": 1}], 422, "bad line 0: not an object"),
        ([{"line": 0, "reason": "r"}], 422, "bad line 0: line must be a line number"),
        ([{"line": True, "reason": "r"}], 422, "bad line 0: line must be"),
        ([{"line": "1", "reason": "r"}], 422, "bad line 0: line must be"),
        ([{"line": 2**63, "reason": "r"}], 422, "bad line 0: line must be"),
        (
            [{"line": 3, "reason": "r"}, {"line": 3, "reason": "r"}],
            422,
            "bad line 1: line must be a line number above the one before (3)",
        ),
        ([{"line": 1, "reason": 1}], 422, "bad line 0: reason must be a string"),
        ('[{"line": 1, "reason": "\\udcff"}]', 422, "without lone surrogates"),
        (
            [{"line": 1, "reason": "r" * 4097}],
            422,
            "reason must be a string of at most 4096 characters",
        ),
    ],
)
def test_bad_lines_that_are_not_lines_are_refused_with_nothing_stored(
    service, run_id, body, status, message
):
    answer = put_bad_lines(service.url, run_id, body)

    assert answer.status_code == status
    assert message in error_of(answer)
    assert service.get("/runs/%s" % run_id).status_code == 404


def test_a_key_of_bad_lines_is_one_request_too(service, run_id):
    key = "%s.s.3" % run_id
    lines = [{"line": 1, "reason": "r"}]
    put_bad_lines(service.url, run_id, lines, key)

    again = put_bad_lines(service.url, run_id, lines, key)
    other = put_bad_lines(service.url, run_id, [], key)
    as_items = post_items(service.url, run_id, ITEMS, key=key)

    assert again.json() == {"applied": False, "bad_lines": 1}
    assert (other.status_code, as_items.status_code) == (422, 422)
    assert "applied to a PUT of bad lines with another body" in error_of(other)
    assert "(a PUT of bad lines), not a POST of push items" in error_of(as_items)
    assert service.get("/runs/%s" % run_id).json()["bad_lines"] == 1


# What a page of another site can make a browser send without asking the
# service first: a form's types, or none at all (fetch of raw bytes).
BROWSER_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    None,
]


@pytest.mark.parametrize(
    "method, path, media_type",
    [("POST", "push-items", media_type) for media_type in BROWSER_TYPES]
    + [("POST", "files/log", media_type) for media_type in BROWSER_TYPES]
    + [
        ("PUT", "files/log", "text/plain"),
        ("PUT", "files/log", None),
        ("POST", "push-items", "application/octet-stream"),
        ("POST", "push-items", "application/jsonp"),
        ("PUT", "files/log", "application/json"),
        ("PUT", "bad-lines", "text/plain"),
        ("PUT", "bad-lines", None),
    ],
)
def test_a_body_of_another_media_type_is_refused_with_nothing_stored(
    service, run_id, method, path, media_type
):
    # What <form enctype="text/plain"> makes of an input named '[{"filename":
    # "x", "state": "PUSHED", "a": "' holding '"}]': a JSON array of one item.
    body = b'[{"filename": "x", "state": "PUSHED", "a": "="}]'
    headers = {} if media_type is None else {"Content-Type": media_type}

    answer = requests.request(
        method,
        "%s/runs/%s/%s" % (service.url, run_id, path),
        data=body,
        headers=headers,
        timeout=60,
    )

    assert answer.status_code == 415
    expected = "application/octet-stream" if path == "files/log" else "application/json"
    assert error_of(answer) == "invalid Content-Type %s: this body must be %s" % (
        "(none)" if media_type is None else repr(media_type),
        expected,
    )
    assert service.get("/runs/%s" % run_id).status_code == 404


def test_media_types_are_taken_with_parameters_and_in_any_case(service, run_id):
    items = post_items(
        service.url,
        run_id,
        ITEMS,
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    log = send_file(
        service.url,
        run_id,
        "log",
        b"x",
        headers={"Content-Type": "application/octet-stream; x=y"},
    )

    assert (items.status_code, log.status_code) == (200, 200)


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}", "["],
)
def test_a_request_naming_another_host_is_refused(service, run_id, host):
    host = host.format(port=service.port)
    foreign = {"Host": host}
    base = service.url[: -len("/api")]

    written = post_items(service.url, run_id, ITEMS, headers=foreign)
    read = requests.get(service.url + "/runs", headers=foreign, timeout=60)
    pages = [
        requests.get(base + path, headers=foreign, timeout=60)
        for path in ("/", "/runs/" + run_id, "/static/pushcollector.css")
    ]

    assert [answer.status_code for answer in [written, read, *pages]] == [421] * 5
    assert error_of(written) == (
        "unknown Host %r: not a name of this service (serve --allowed-host adds one)"
        % host
    )
    assert pages[0].headers["content-type"].startswith("text/html")
    assert "Unknown host" in pages[0].text
    assert service.get("/runs/%s" % run_id).status_code == 404


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:{port}", "127.0.0.1:{port}", "[::1]:{port}"]
)
def test_loopback_names_are_a_service_s_own(service, run_id, host):
    headers = {"Host": host.format(port=service.port)}

    written = post_items(service.url, run_id, ITEMS, headers=headers)
    page = requests.get(service.url[: -len("/api")] + "/", headers=headers, timeout=60)

    assert (written.status_code, page.status_code) == (200, 200)


def test_allowed_hosts_are_taken_and_others_refused(tmp_path, run_id):
    with ServiceProcess(
        "sqlite:///%s" % (tmp_path / "named.db"),
        "--allowed-host",
        "pushes.example.com",
        "--allowed-host",
        "[2001:db8::1]",
    ) as running:
        answers = {
            host: post_items(running.url, run_id, ITEMS[:1], headers={"Host": host})
            for host in (
                "pushes.example.com",
                "Pushes.Example.Com:443",
                "[2001:db8::1]:8080",
                "localhost:%d" % running.port,
                "other.example.com",
            )
        }

    assert {host: answer.status_code for host, answer in answers.items()} == {
        "pushes.example.com": 200,
        "Pushes.Example.Com:443": 200,
        "[2001:db8::1]:8080": 200,
        "localhost:%d" % running.port: 200,
        "other.example.com": 421,
    }


# -- Reading ------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_their_counts(service, run_id):
    older, newer = run_id + "-1", run_id + "-2"
    post_items(service.url, older, [{"filename": "x", "state": "PUSHED"}])
    post_items(service.url, newer, ITEMS)
    send_file(service.url, newer, "log", b"x")

    listing = service.get("/runs").json()

    first, second = listing["runs"][:2]
    assert (first["name"], second["name"]) == (newer, older)
    assert first["latest"] and not second["latest"]
    assert {key: first[key] for key in first if not key.endswith("_at")} == {
        "name": newer,
        "directory": None,
        "latest": True,
        "records": 3,
        "push_items": 2,
        "files": 1,
        "states": {"NOTFOUND": 1, "PUSHED": 1},
        "unsuccessful": 1,
        "unfinished": 0,
        "bad_lines": 0,
        "passed": False,
        "error": None,
    }
    assert second["passed"] is True
    assert first["created_at"] <= first["updated_at"]


def test_a_run_is_read_alone_as_the_listing_shows_it(service, run_id):
    older, newer = run_id + "-1", run_id + "-2"
    post_items(service.url, older, ITEMS)
    post_items(service.url, newer, ITEMS[:1])
    listed = {run["name"]: run for run in service.get("/runs").json()["runs"]}

    alone = service.get("/runs/%s" % older).json()

    assert alone == listed[older]
    assert alone["records"] == 3 and alone["latest"] is False
    assert service.get("/runs/%s" % newer).json()["latest"] is True


def test_runs_are_listed_a_page_at_a_time(service, run_id):
    for number in range(3):
        post_items(service.url, "%s-%d" % (run_id, number), ITEMS[:1])

    first = service.get("/runs?limit=2").json()
    second = requests.get(service.url.rsplit("/api", 1)[0] + first["next"]).json()

    assert [run["name"] for run in first["runs"]] == [run_id + "-2", run_id + "-1"]
    assert second["runs"][0]["name"] == run_id + "-0"
    assert first["total"] == second["total"] >= 3


@pytest.mark.parametrize(
    "query",
    # Digits other than ASCII's: int() of the superscript two fails, and
    # the Arabic-Indic three is no number a client means.
    [
        "limit=0",
        "limit=1001",
        "limit=x",
        "offset=-1",
        "limit=%C2%B2",
        "offset=%D9%A3",
        # Beyond the databases' 64-bit counts, and beyond what int() reads.
        "offset=9223372036854775808",
        "offset=" + "9" * 5000,
        "limit=" + "1" * 5000,
    ],
)
def test_bad_paging_is_refused(service, query):
    answer = service.get("/runs?" + query)

    assert answer.status_code == 400
    assert error_of(answer).startswith("invalid ")


def test_the_largest_offset_is_a_page_past_the_end(service):
    answer = service.get("/runs?offset=9223372036854775807")

    assert answer.status_code == 200
    assert answer.json()["runs"] == []
    assert service.get("/runs?offset=" + "0" * 5000 + "1").status_code == 200


def test_the_summary_is_the_one_summary_prints_of_the_same_local_run(
    service, run_id, tmp_path, monkeypatch
):
    items = ITEMS + [
        {"filename": "c.rpm", "state": "PENDING", "dest": "x\ny"},
        {"filename": "d\u0000.rpm", "state": "UPLOADFAILED", "dest": None},
        {"filename": "e.rpm", "state": "EXISTS"},
    ]
    post_items(service.url, run_id, items)
    Collector.register_backend("here", lambda: LocalCollector(directory=str(tmp_path)))
    Collector.get("here").update_push_items(items).result()

    for options in ([], ["--allow-pending"]):
        local = subprocess.run(
            [sys.executable, "-m", "pushcollector", "summary", "--json", *options],
            cwd=tmp_path,
            env=dict(os.environ, PUSHCOLLECTOR_ARTIFACTS_DIR=str(tmp_path)),
            stdout=subprocess.PIPE,
            text=True,
        )
        query = "?allow_pending=true" if options else ""
        remote = service.get("/runs/%s/summary%s" % (run_id, query)).json()
        expected = json.loads(local.stdout)
        assert remote.pop("run") == run_id
        for key in ("run", "directory", "items_file"):
            expected.pop(key)
        assert (remote.pop("directory"), remote.pop("items_file")) == (None, None)
        assert remote == expected
        assert remote["passed"] is False


class Writer:
    """A thread adding new items to a run straight into the service's
    database until stopped: each write adds BATCH items never seen before,
    half NOTFOUND and half PENDING. At any moment, then, the run's records
    are its items, and its unsuccessful and unfinished items are as many as
    those states count."""

    BATCH = 20

    def __init__(self, db, run_id):
        self.store = Store(db)
        self.run_id = run_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._write)

    def _write(self):
        batch = 0
        while not self.stop.is_set():
            self.store.add_push_items(
                self.run_id,
                [
                    {"filename": "%d-%d" % (batch, i), "state": "NOTFOUND"}
                    for i in range(self.BATCH // 2)
                ]
                + [
                    {"filename": "%d-%d" % (batch, i), "state": "PENDING"}
                    for i in range(self.BATCH // 2, self.BATCH)
                ],
            )
            batch += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join()


def figures_misfit(figures):
    """What does not fit together in a run's figures (as the listing and
    /runs/R give them, or a summary) while Writer writes it."""
    states = figures["states"]
    misfits = []
    if not figures["records"] == figures["push_items"] == sum(states.values()):
        misfits.append("records %(records)s, push items %(push_items)s" % figures)
    for key, state in (("unsuccessful", "NOTFOUND"), ("unfinished", "PENDING")):
        value = figures[key]
        counted = len(value) if isinstance(value, list) else value
        if counted != states.get(state, 0):
            misfits.append("%s %d, %s %d" % (key, counted, state, states.get(state, 0)))
    return misfits


def test_summaries_and_figures_are_each_of_one_moment(service, run_id):
    # Before the writer starts: its writes follow one another so closely that
    # another thread of the process may not get the write connection between them.
    Store(service.db).add_push_items(run_id, [{"filename": "first", "state": "PUSHED"}])
    with Writer(service.db, run_id):
        read = []
        for _ in range(30):
            read.append(service.get("/runs/%s/summary" % run_id).json())
            read.append(service.get("/runs/%s" % run_id).json())
            listed = service.get("/runs?limit=1000").json()["runs"]
            read.extend(run for run in listed if run["name"] == run_id)

    misfits = [misfit for figures in read for misfit in figures_misfit(figures)]
    assert misfits == []
    # The run was written while it was read.
    assert read[-1]["records"] > read[0]["records"]


def test_a_bad_flag_of_the_summary_is_refused(service, run_id):
    post_items(service.url, run_id, ITEMS)

    answer = service.get("/runs/%s/summary?allow_pending=maybe" % run_id)

    assert answer.status_code == 400
    assert error_of(answer) == "invalid allow_pending 'maybe': true or false"


@pytest.mark.parametrize(
    "path", ["", "/summary", "/push-items", "/files", "/files/log"]
)
def test_what_a_run_does_not_hold_is_not_found(service, run_id, path):
    answer = service.get("/runs/%s%s" % (run_id, path))

    assert answer.status_code == 404
    assert error_of(answer) == "no run %s" % run_id


def test_a_file_a_run_does_not_hold_is_not_found(service, run_id):
    post_items(service.url, run_id, ITEMS)

    answer = service.get("/runs/%s/files/missing.log" % run_id)

    assert answer.status_code == 404
    assert error_of(answer) == "no file 'missing.log' in run %s" % run_id


def test_head_reads_and_never_writes(service, run_id):
    post_items(service.url, run_id, ITEMS)
    send_file(service.url, run_id, "log", b"x")
    base = "%s/runs/%s" % (service.url, run_id)

    items = requests.head(base + "/push-items", timeout=60)
    log = requests.head(base + "/files/log", timeout=60)
    other = requests.head(base + "-other/files/log", timeout=60)

    assert (items.status_code, log.status_code) == (200, 200)
    assert items.headers["content-type"] == "application/x-ndjson"
    assert log.headers["content-type"] == "application/octet-stream"
    assert other.status_code == 404
    assert len(stored_lines(service, run_id)) == 3
    assert service.get("/runs/%s-other" % run_id).status_code == 404


def test_unknown_paths_and_methods_answer_in_json(service):
    unknown = service.get("/nothing-here")
    wrong = requests.delete(service.url + "/runs", timeout=60)

    assert (unknown.status_code, error_of(unknown)) == (
        404,
        "no such resource: /api/nothing-here",
    )
    assert (wrong.status_code, error_of(wrong)) == (
        405,
        "method DELETE not allowed here",
    )
    assert "GET" in wrong.headers["allow"]


# -- The http backend, sending to the service -------------------------------


class TestServeContract(BackendContract):
    """The conformance kit, through the http backend into the real service."""

    @pytest.fixture(autouse=True)
    def with_service(self, service):
        self.service = service
        self.made = []
        yield
        for backend in self.made:
            backend.close()

    def make_backend(self):
        Collector.new_run()
        backend = HttpCollector(self.service.url, backoff=0)
        self.made.append(backend)
        return backend

    def stored_items(self, backend):
        backend.close()
        lines = stored_lines(self.service, backend.run_id)
        return [json.loads(line) for line in lines or []]

    def stored_file(self, backend, filename):
        backend.close()
        path = "/".join(
            requests.utils.quote(part, safe="") for part in filename.split("/")
        )
        return self.service.get("/runs/%s/files/%s" % (backend.run_id, path)).content


# -- Limits, tokens, the database, stopping --------------------------------


@pytest.fixture(scope="module")
def small_service(tmp_path_factory):
    db = tmp_path_factory.mktemp("small") / "small.db"
    with ServiceProcess("sqlite:///%s" % db, "--max-body", "1K") as running:
        yield running


def test_a_body_over_the_limit_is_refused(small_service, run_id):
    too_big = [{"filename": "x" * 600, "state": "PUSHED"}] * 2

    declared = post_items(small_service.url, run_id, too_big)
    chunked = post_items(
        small_service.url, run_id, iter([json.dumps(too_big).encode()])
    )
    fits = post_items(small_service.url, run_id, too_big[:1])

    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert error_of(declared) == "body larger than the service accepts (1024 bytes)"
    assert fits.status_code == 200
    assert len(stored_lines(small_service, run_id)) == 1


def test_a_body_that_does_not_arrive_in_time_is_refused(tmp_path, run_id):
    running = ServiceProcess(
        "sqlite:///%s" % (tmp_path / "slow.db"), "--body-timeout", "0.5"
    ).start()
    try:
        with socket.create_connection(("127.0.0.1", running.port)) as connection:
            connection.sendall(
                b"POST /api/runs/%s/push-items HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"
                % run_id.encode()
            )
            # The rest never comes: the service answers without it.
            answer = connection.makefile("rb").read()
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert answer.endswith(b'{"error":"body not received within 0.5 s"}')
        assert stored_lines(running, run_id) is None
    finally:
        running.stop()


# A bound of the tests, not a measurement: a connection the service should
# close that is still open after this long is held for ever.
CLOSE_TIMEOUT = 30


def read_answer(stream):
    """The head and body of one answer of a raw connection."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        assert line, "the connection ended within the head: %r" % head
        head += line
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n")[0])
    return head, stream.read(length)


def closed_by_the_service(connection):
    """Whether the service closes the connection: its end of file, or a
    reset of a connection it closed with bytes unread, within the bound."""
    connection.settimeout(CLOSE_TIMEOUT)
    try:
        while connection.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


@pytest.fixture(scope="module")
def bounded_service(tmp_path_factory):
    """A service with small bounds on bodies, and an idle timeout longer than
    CLOSE_TIMEOUT: what closes its connections within CLOSE_TIMEOUT is not
    that timeout."""
    db = tmp_path_factory.mktemp("bounded") / "bounded.db"
    with ServiceProcess(
        "sqlite:///%s" % db,
        "--body-timeout",
        "0.5",
        "--max-body",
        "1K",
        "--idle-timeout",
        str(CLOSE_TIMEOUT * 4),
    ) as running:
        yield running


@pytest.mark.parametrize(
    "headers, status",
    [
        (b"Content-Type: application/json\r\nContent-Length: 1000", 408),
        (b"Content-Type: application/json\r\nContent-Length: 5000", 413),
        (b"Content-Type: text/plain\r\nContent-Length: 1000", 415),
        (b"Content-Type: application/json\r\nTransfer-Encoding: chunked", 408),
    ],
)
def test_an_answer_before_the_whole_body_closes_the_connection(
    bounded_service, run_id, headers, status
):
    with socket.create_connection(("127.0.0.1", bounded_service.port)) as connection:
        connection.sendall(
            b"POST /api/runs/%s/push-items HTTP/1.1\r\nHost: localhost\r\n%s\r\n\r\n"
            % (run_id.encode(), headers)
        )
        head, _ = read_answer(connection.makefile("rb"))
        # More of the body, which the service must not wait for.
        try:
            connection.sendall(b"2")
        except (BrokenPipeError, ConnectionResetError):
            pass

        assert head.startswith(b"HTTP/1.1 %d " % status)
        assert b"\r\nconnection: close\r\n" in head
        assert closed_by_the_service(connection)
    assert stored_lines(bounded_service, run_id) is None


def test_a_whole_body_keeps_the_connection(bounded_service, run_id):
    body = json.dumps(ITEMS).encode()
    with socket.create_connection(("127.0.0.1", bounded_service.port)) as connection:
        stream = connection.makefile("rb")
        for _ in range(2):
            connection.sendall(
                b"POST /api/runs/%s/push-items HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (run_id.encode(), len(body), body)
            )
            head, _ = read_answer(stream)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b"connection: close" not in head

    assert len(stored_lines(bounded_service, run_id)) == 6


@pytest.fixture(scope="module")
def idle_service(tmp_path_factory):
    """A service whose connections wait 1 s at most for a request."""
    db = tmp_path_factory.mktemp("idle") / "idle.db"
    with ServiceProcess("sqlite:///%s" % db, "--idle-timeout", "1") as running:
        yield running


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"G",
        b"GET /api/runs HTTP/1.1\r\nHost: localhost\r\n",
        b"GET /api/runs HTTP/1.1\r\nHost: localhost\r\n\r\nGET /api/runs HT",
    ],
)
def test_a_connection_waiting_for_a_request_is_closed_after_the_idle_timeout(
    idle_service, sent
):
    with socket.create_connection(("127.0.0.1", idle_service.port)) as connection:
        # Headers arriving a byte at a time do not restart the timeout.
        for byte in range(len(sent)):
            connection.sendall(sent[byte : byte + 1])

        assert closed_by_the_service(connection)


def test_connections_beyond_the_most_are_refused_then_taken_again(tmp_path):
    running = ServiceProcess(
        "sqlite:///%s" % (tmp_path / "cap.db"),
        "--max-connections",
        "5",
        "--idle-timeout",
        "1",
    ).start()
    address = ("127.0.0.1", running.port)
    try:
        # Accepted in the order they were made: these five fill the service.
        held = [socket.create_connection(address) for _ in range(5)]
        refused = []
        for _ in range(3):
            with socket.create_connection(address) as connection:
                refused.append(connection.makefile("rb").read())
        # The service closes the five once idle, then takes new ones.
        assert all(closed_by_the_service(connection) for connection in held)
        answer = running.get("/runs")
    finally:
        for connection in held:
            connection.close()
        running.stop()

    for each in refused:
        assert each.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"\r\nretry-after: 1\r\n" in each
        assert each.endswith(
            b'{"error":"too many connections to the service, try again"}'
        )
    assert answer.status_code == 200
    # Logged once, not once a connection.
    assert running.output.count("refusing new ones") == 1
    assert running.output.count("taking new connections again") == 1


@pytest.fixture(scope="module")
def guarded_service(tmp_path_factory, tokens):
    db = tmp_path_factory.mktemp("guarded") / "guarded.db"
    running = ServiceProcess(
        "sqlite:///%s" % db, "--tokens", tokens["path"], "--access-log"
    ).start()
    yield running
    running.stop()
    # The access log names each request, never its token.
    assert "POST /api/runs/" in running.output
    for token in (tokens["write"], tokens["read"]):
        assert token not in running.output
        assert token[4:12] not in running.output


def bearer(token):
    return {"Authorization": "Bearer " + token}


def test_a_write_token_writes_and_reads(guarded_service, tokens, run_id):
    written = post_items(
        guarded_service.url, run_id, ITEMS, headers=bearer(tokens["write"])
    )
    read = guarded_service.get(
        "/runs/%s/push-items" % run_id, headers=bearer(tokens["write"])
    )

    assert written.status_code == 200
    assert len(read.text.splitlines()) == 3


def test_tokens_are_added_and_revoked_without_a_restart(
    guarded_service, tokens, run_id
):
    name = "temp-" + run_id[-8:]
    token = subprocess.run(
        [sys.executable, "-m", "pushcollector", "token", "create", name]
        + ["--scope", "write", "--tokens", tokens["path"]],
        stdout=subprocess.PIPE,
        check=True,
        text=True,
    ).stdout.strip()

    added = post_items(guarded_service.url, run_id, ITEMS, headers=bearer(token))
    with open(tokens["path"]) as stream:
        kept = [line for line in stream if not line.startswith(name + " ")]
    with open(tokens["path"], "w") as stream:
        stream.writelines(kept)
    revoked = post_items(guarded_service.url, run_id, ITEMS, headers=bearer(token))

    assert added.status_code == 200
    assert revoked.status_code == 401
    assert error_of(revoked) == "unknown token"


def test_head_with_a_read_token_reads_and_never_writes(guarded_service, tokens, run_id):
    post_items(guarded_service.url, run_id, ITEMS, headers=bearer(tokens["write"]))
    send_file(guarded_service.url, run_id, "log", b"x", headers=bearer(tokens["write"]))
    base = "%s/runs/%s" % (guarded_service.url, run_id)

    answers = [
        requests.head(base + path, headers=bearer(tokens[scope]), timeout=60)
        for scope in ("read", "write")
        for path in ("/push-items", "/files/log", "-other/files/log")
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 404] * 2
    listed = guarded_service.get("/runs", headers=bearer(tokens["read"])).json()
    assert [run["name"] for run in listed["runs"]].count(run_id + "-other") == 0


def test_a_read_token_reads_but_may_not_write(guarded_service, tokens, run_id):
    post_items(guarded_service.url, run_id, ITEMS, headers=bearer(tokens["write"]))

    written = post_items(
        guarded_service.url, run_id, ITEMS, headers=bearer(tokens["read"])
    )
    appended = send_file(
        guarded_service.url, run_id, "log", b"x", headers=bearer(tokens["read"])
    )
    read = guarded_service.get("/runs", headers=bearer(tokens["read"]))

    assert (written.status_code, appended.status_code) == (403, 403)
    assert error_of(written) == "this token may read, not write"
    assert read.status_code == 200
    assert len(stored_lines_with(guarded_service, run_id, tokens["read"])) == 3


def stored_lines_with(service, run_id, token):
    return service.get(
        "/runs/%s/push-items" % run_id, headers=bearer(token)
    ).text.splitlines()


@pytest.mark.parametrize(
    "headers, message",
    [
        ({}, "a Bearer token is required"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "a Bearer token is required"),
        ({"Authorization": "Bearer "}, "a Bearer token is required"),
        ({"Authorization": "Bearer pct_not-a-token"}, "unknown token"),
    ],
)
def test_requests_without_a_known_token_are_refused(
    guarded_service, run_id, headers, message
):
    written = post_items(guarded_service.url, run_id, ITEMS, headers=headers)
    read = guarded_service.get("/runs", headers=headers)

    for answer in (written, read):
        assert answer.status_code == 401
        assert error_of(answer) == message
        assert answer.headers["www-authenticate"].startswith("Bearer ")


def test_with_tokens_any_host_is_taken(guarded_service, tokens, run_id):
    # A page of another site cannot make a browser send this service's
    # token: the Host is only checked when names are given.
    headers = {"Host": "pushes.example.com", **bearer(tokens["write"])}

    answer = post_items(guarded_service.url, run_id, ITEMS, headers=headers)

    assert answer.status_code == 200


@pytest.mark.parametrize(
    "path, location",
    [
        ("/api/runs/{run}/", "/api/runs/{run}"),
        ("/api/runs/{run}//", "/api/runs/{run}"),
        (
            "/api/runs/{run}/summary/?allow_pending=true",
            "/api/runs/{run}/summary?allow_pending=true",
        ),
        ("/api/runs/%41{run}/", "/api/runs/%41{run}"),
        ("/runs/{run}/", "/runs/{run}"),
        ("/runs/{run}/?page=2&q=%20", "/runs/{run}?page=2&q=%20"),
    ],
)
@pytest.mark.parametrize("host", ["evil.example", "localhost:{port}"])
def test_a_trailing_slash_is_redirected_within_the_service(
    guarded_service, run_id, path, location, host
):
    # The Host is not checked with tokens: the redirect must not name it.
    headers = {"Host": host.format(port=guarded_service.port)}
    base = guarded_service.url[: -len("/api")]

    answer = send_raw_path("GET", base + path.format(run=run_id), headers=headers)

    assert answer.status_code == 307
    assert answer.headers["location"] == location.format(run=run_id)
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    if not path.startswith("/api"):
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["//evil.example/", "/runs/", "/api/nothing/"])
def test_paths_naming_no_route_without_their_slash_are_not_redirected(
    guarded_service, path
):
    answer = send_raw_path("GET", guarded_service.url[: -len("/api")] + path)

    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_the_http_backend_sends_its_token(guarded_service, tokens, run_id):
    Collector.new_run()
    with HttpCollector(guarded_service.url, token=tokens["write"]) as collector:
        done = collector.update_push_items(ITEMS)
    done.result()

    assert (
        len(stored_lines_with(guarded_service, collector.run_id, tokens["read"])) == 3
    )


def test_an_unreachable_database_is_answered_503_then_recovers(postgres_server, run_id):
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[1]
    with ServiceProcess(url) as running:
        post_items(running.url, run_id, ITEMS[:1])
        admin(postgres_server, "ALTER DATABASE %s ALLOW_CONNECTIONS false" % name)
        admin(
            postgres_server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = '%s'" % name,
        )
        refused = [post_items(running.url, run_id, ITEMS[:1]) for _ in range(2)]
        admin(postgres_server, "ALTER DATABASE %s ALLOW_CONNECTIONS true" % name)
        accepted = post_items(running.url, run_id, ITEMS[:1])

    assert [answer.status_code for answer in refused] == [503, 503]
    assert error_of(refused[0]) == "database unavailable, try again"
    assert refused[0].headers["retry-after"] == "1"
    assert accepted.status_code == 200
    assert "database unavailable" in running.output


@contextlib.contextmanager
def lock_held(db, run_id):
    """The lock a write to the run waits for, held from a connection of
    our own until the block ends: on SQLite the database's write lock, on
    PostgreSQL the run's row."""
    if db.startswith("sqlite:///"):
        connection = sqlite3.connect(db[len("sqlite:///") :], isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.rollback()
            connection.close()
    else:
        import psycopg

        with psycopg.connect(db) as connection:
            connection.execute(
                "SELECT id FROM runs WHERE name = %s FOR UPDATE", [run_id]
            ).fetchone()
            yield
            connection.rollback()


# Small limits, so that the waits of the tests are short. Requests waiting
# for a connection give up before those holding one, waiting for a lock.
SHORT_WAITS = ("--db-wait", "1", "--db-statement-timeout", "4")


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_writes_waiting_too_long_are_answered_503_and_reads_still_answer(
    request, database, tmp_path, run_id
):
    if database == "sqlite":
        db = "sqlite:///%s" % (tmp_path / "waits.db")
    else:
        db = request.getfixturevalue("postgres_url")
    with ServiceProcess(db, *SHORT_WAITS) as running:
        assert post_items(running.url, run_id, ITEMS).status_code == 200
        # More writes at once than the pool of writes holds connections
        # (15 on PostgreSQL, 1 on SQLite): some wait for the lock, the
        # others for a connection.
        writes = [None] * 20

        def write(number):
            writes[number] = post_items(running.url, run_id, ITEMS)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
        with lock_held(db, run_id):
            for thread in threads:
                thread.start()
            summary = running.get("/runs/%s/summary" % run_id)
            page = requests.get(running.url[: -len("/api")] + "/", timeout=60)
            for thread in threads:
                thread.join()
        after = post_items(running.url, run_id, ITEMS)

    assert (summary.status_code, summary.json()["records"]) == (200, 3)
    assert page.status_code == 200
    assert {answer.status_code for answer in writes} == {503}
    assert {answer.headers["retry-after"] for answer in writes} == {"1"}
    assert {error_of(answer) for answer in writes} == {
        "database unavailable, try again"
    }
    assert after.status_code == 200
    assert "Traceback" not in running.output


def silent_database_url(port):
    return "postgresql://me:s3cret@127.0.0.1:%d/pushes" % port


def test_serve_against_a_database_that_never_answers_fails_in_one_line():
    with Relay() as silent:
        done = subprocess.run(
            [sys.executable, "-m", "pushcollector", "serve", "--port", "0"]
            + ["--db", silent_database_url(silent.port), *SHORT_WAITS],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "pushcollector: error: cannot use the database"
        " postgresql+psycopg://me:***@127.0.0.1:%d/pushes: " % silent.port
    )
    assert "timeout" in line and "s3cret" not in line


def test_a_request_needing_a_connection_a_database_never_answers_gets_503(
    postgres_server, run_id
):
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[1]
    parts = urllib.parse.urlsplit(url)
    with Relay((parts.hostname, parts.port)) as relay:
        relayed = parts._replace(
            netloc=parts.netloc.replace(str(parts.port), str(relay.port))
        )
        with ServiceProcess(urllib.parse.urlunsplit(relayed), *SHORT_WAITS) as running:
            assert post_items(running.url, run_id, ITEMS).status_code == 200
            # Every connection the service holds is closed by the server:
            # the next request needs a new one, which is never answered.
            relay.go_silent()
            admin(
                postgres_server,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = '%s'" % name,
            )
            written = post_items(running.url, run_id, ITEMS)
            read = running.get("/runs/%s/summary" % run_id)

    assert (written.status_code, read.status_code) == (503, 503)
    assert written.headers["retry-after"] == read.headers["retry-after"] == "1"
    assert "database unavailable" in running.output


def admin(postgres_server, statement):
    import psycopg

    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        connection.execute(statement)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_finishes_the_requests_in_flight(tmp_path, run_id, sig):
    running = ServiceProcess("sqlite:///%s" % (tmp_path / "stop.db")).start()
    body = json.dumps(ITEMS).encode()
    with socket.create_connection(("127.0.0.1", running.port)) as connection:
        answers = connection.makefile("rb")
        connection.sendall(
            b"POST /api/runs/%s/push-items HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n"
            b"Expect: 100-continue\r\n\r\n" % (run_id.encode(), len(body))
        )
        # The service asks for the body once the application reads it: the
        # request is in flight when the signal comes.
        assert answers.readline() == b"HTTP/1.1 100 Continue\r\n"
        connection.sendall(body[:10])
        running.process.send_signal(sig)
        connection.sendall(body[10:])
        while answers.readline() not in (b"\r\n", b""):
            pass
        answer = answers.readline()
    status = running.wait()

    assert answer.startswith(b"HTTP/1.1 200")
    assert status == 0
    reopened = ServiceProcess("sqlite:///%s" % (tmp_path / "stop.db")).start()
    try:
        assert len(stored_lines(reopened, run_id)) == 3
    finally:
        reopened.stop()


def test_the_openapi_description_names_exactly_the_routes_served(tmp_path):
    import yaml
    from openapi_spec_validator import validate
    from starlette.routing import Mount

    from pushcollector._impl.server.app import create_app
    from pushcollector._impl.store import Store

    with open(os.path.join(DOCS, "http-openapi.yaml"), encoding="utf-8") as stream:
        description = yaml.safe_load(stream)
    validate(description)
    described = {
        (path, method.upper())
        for path, operations in description["paths"].items()
        for method in operations
        if method != "parameters"
    }
    application = create_app(Store("sqlite:///%s" % (tmp_path / "x.db")))
    # The routes of the API's mount: the web view's pages are not part of it.
    (api,) = [
        route
        for route in application.routes
        if isinstance(route, Mount) and route.path == "/api"
    ]
    served = {
        (route.path.replace(":anything", ""), method)
        for route in api.routes
        for method in route.methods - {"HEAD"}
    }

    assert described == served
