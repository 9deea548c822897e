"""``pushcollector upload``, against the real service (SQLite, PostgreSQL)."""

import errno
import fcntl
import hashlib
import http.server
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import urllib.parse

import pytest
import requests

from pushcollector import BadLine, Collector, open_run
from pushcollector._impl import upload
from pushcollector._impl.protocol import quoted_filename
from pushcollector._impl.reading.run import item_lines

from .server.conftest import postgres_server, service, tokens  # noqa: F401
from .server.service import ServiceProcess
from .special_files import make_special

# A bound, not a measurement: an upload of these small runs that has not
# ended in two minutes is hung.
TIMEOUT = 120

# What may differ between the summary of a run in the service and of the
# same run on disk: its name, and where it is held.
LOCATION_KEYS = ("run", "directory", "items_file", "latest")

# More than one piece of the upload (4 MiB), and not a whole number of them.
BIG_FILE_SIZE = 2 * upload.FILE_PIECE_BYTES + 1


def items(count, first=0, state="PUSHED"):
    return [
        {
            "filename": "pkg-%d.rpm" % number,
            "state": state if number % 7 else "NOTFOUND",
            "dest": "repo-%d" % (number % 3),
            "checksums": {"sha256": "%064x" % number},
            "build": "pkg-1.%d" % number,
            "extra": {"note": "ü %d" % number, "list": [1, None, True]},
        }
        for number in range(first, first + count)
    ]


FILES = {
    "push.log": b"".join(b"line %d\n" % number for number in range(1000)),
    "logs/nested/deeper/binary.bin": bytes(range(256)) * 40 + b"\0\r\n\xff",
    "logs/empty": b"",
    "logs/ünïcode name %.txt": "ü€\n".encode("utf-8"),
}


def record_run(base, batches=(), files=FILES, new_run=True):
    """A run recorded by the local backend in base/artifacts; its directory.

    With new_run=False, the records go on in the run recorded last.
    """
    if new_run:
        Collector.new_run()
    previous = os.getcwd()
    os.makedirs(base, exist_ok=True)
    os.chdir(base)
    try:
        with Collector.get("local") as collector:
            for batch in batches:
                collector.update_push_items(batch).result()
            for name, content in files.items():
                collector.attach_file(name, content).result()
        return str(open_run(os.path.join(base, "artifacts")).directory)
    finally:
        os.chdir(previous)


def run_upload(*args, env=None, prefix=(), stderr=subprocess.PIPE, cwd=None):
    """Run ``pushcollector upload`` with these arguments, without the
    environment's token or URL unless given in env."""
    environment = dict(os.environ)
    environment.pop("PUSHCOLLECTOR_HTTP_TOKEN", None)
    environment.pop("PUSHCOLLECTOR_HTTP_URL", None)
    environment.update(env or {})
    return subprocess.run(
        [*prefix, sys.executable, "-m", "pushcollector", "upload", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environment,
        timeout=TIMEOUT,
        cwd=cwd,
    )


def run_id_of(url):
    return urllib.parse.unquote(url.rsplit("/", 1)[1])


def stored_lines(service, run_id):
    response = service.get("/runs/%s/push-items" % run_id)
    assert response.status_code == 200, response.text
    return response.text.splitlines()


def stored_files(service, run_id):
    listing = service.get("/runs/%s/files" % run_id).json()["files"]
    return {
        entry["name"]: service.get(
            "/runs/%s/files/%s" % (run_id, quoted_filename(entry["name"]))
        ).content
        for entry in listing
    }


def local_records(run_dir):
    return list(open_run(run_dir).records())


def local_files(run_dir):
    run = open_run(run_dir)
    contents = {}
    for name in run.files():
        with open(os.path.join(run_dir, name), "rb") as content:
            contents[name] = content.read()
    return contents


def summary_json(path):
    done = subprocess.run(
        [sys.executable, "-m", "pushcollector", "summary", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def without_location(document):
    return {key: value for key, value in document.items() if key not in LOCATION_KEYS}


def assert_uploaded_whole(service, run_dir, url):
    """The service holds the run exactly: summary, records in order, files."""
    run_id = run_id_of(url)
    assert url == "%s/runs/%s" % (service.url, run_id)
    served = service.get("/runs/%s/summary" % run_id).json()
    local = summary_json(run_dir)
    assert served["run"] == run_id
    assert without_location(served) == without_location(local)
    assert [json.loads(line) for line in stored_lines(service, run_id)] == (
        local_records(run_dir)
    )
    assert stored_files(service, run_id) == local_files(run_dir)


# A run, sent whole ----------------------------------------------------------


def test_upload_sends_the_records_and_files_of_a_local_run(service, tmp_path):
    files = dict(FILES, big=os.urandom(BIG_FILE_SIZE))
    run_dir = record_run(
        tmp_path, [items(700), items(300, first=650, state="PENDING")], files
    )

    # By default the latest run of ./artifacts, as for summary.
    done = run_upload("--to", service.url + "/", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    # No progress bar, and nothing else, when stderr is not a terminal.
    assert done.stderr == ""
    (url,) = done.stdout.splitlines()
    assert re.fullmatch(
        re.escape(service.url)
        + "/runs/"
        + re.escape(os.path.basename(run_dir))
        + "-[0-9a-f]{16}",
        url,
    )
    assert_uploaded_whole(service, run_dir, url)
    assert len(stored_lines(service, run_id_of(url))) == 1000
    # The marker holds the id first, and is not a file of the run.
    with open(os.path.join(run_dir, ".pushcollector-upload")) as marker:
        assert marker.readline() == run_id_of(url) + "\n"
    assert ".pushcollector-upload" not in stored_files(service, run_id_of(url))


def test_uploading_again_stores_nothing_new(service, tmp_path):
    run_dir = record_run(tmp_path, [items(1200)])
    first = run_upload(run_dir, "--to", service.url)
    run_id = run_id_of(first.stdout.strip())
    files_before = service.get("/runs/%s/files" % run_id).json()
    summary_before = service.get("/runs/%s/summary" % run_id).json()

    again = run_upload(os.path.dirname(run_dir), "--to", service.url)

    assert (first.returncode, again.returncode) == (0, 0)
    assert again.stdout == first.stdout
    # Not a record or a piece of a file stored again: no file even touched.
    assert service.get("/runs/%s/summary" % run_id).json() == summary_before
    assert service.get("/runs/%s/files" % run_id).json() == files_before
    assert_uploaded_whole(service, run_dir, first.stdout.strip())


def test_uploading_a_run_that_went_on_sends_what_it_recorded_since(service, tmp_path):
    run_dir = record_run(tmp_path, [items(450)], files={"push.log": b"first\n"})
    first = run_upload(run_dir, "--to", service.url)
    # The push went on after the first upload.
    assert (
        record_run(
            tmp_path,
            [items(300, first=450), items(5, state="PENDING")],
            files={"push.log": b"first\nsecond\n", "report.txt": b"done\n"},
            new_run=False,
        )
        == run_dir
    )

    again = run_upload(run_dir, "--to", service.url)

    assert (first.returncode, again.returncode) == (0, 0)
    assert again.stdout == first.stdout
    assert len(local_records(run_dir)) == 755
    assert_uploaded_whole(service, run_dir, again.stdout.strip())


def test_a_push_items_file_alone_is_uploaded_with_its_marker_beside_it(
    service, tmp_path
):
    items_file = tmp_path / "copy of items!.jsonl"
    items_file.write_text("".join(json.dumps(item) + "\n" for item in items(10)))

    done = run_upload(items_file, "--to", service.url, "--batch-size", "3")

    assert done.returncode == 0, done.stderr
    run_id = run_id_of(done.stdout.strip())
    assert re.fullmatch(r"copy_of_items_\.jsonl-[0-9a-f]{16}", run_id)
    marker = tmp_path / ".copy of items!.jsonl.pushcollector-upload"
    assert marker.read_text().startswith(run_id + "\nitems ")
    assert [json.loads(line) for line in stored_lines(service, run_id)] == items(10)
    assert stored_files(service, run_id) == {}
    # Nothing else is left beside it.
    assert sorted(os.listdir(tmp_path)) == sorted([items_file.name, marker.name])


def test_runs_of_the_same_name_on_two_machines_get_different_ids(service, tmp_path):
    run_dir = record_run(tmp_path / "machine-a", [items(3)])
    # The same run directory name, in the artifacts of another machine.
    other = tmp_path / "machine-b" / "artifacts" / os.path.basename(run_dir)
    os.makedirs(other.parent)
    other.mkdir()
    (other / "pushitems.jsonl").write_text(
        "".join(json.dumps(item) + "\n" for item in items(4, first=10))
    )

    urls = [
        run_upload(path, "--to", service.url).stdout.strip()
        for path in (run_dir, other)
    ]

    assert urls[0] != urls[1]
    assert [len(stored_lines(service, run_id_of(url))) for url in urls] == [3, 4]


# Lines that are not sent ----------------------------------------------------


def test_unreadable_lines_and_refused_items_are_reported_and_not_sent(
    service, tmp_path
):
    run_dir = record_run(tmp_path, [items(20)], files={})
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    with open(items_path, "ab") as items_file:
        items_file.write(b"not json\n")
        items_file.write(b'{"filename": "x", "state": "DONE"}\n')
        items_file.write(b'{"filename": "y", "state": "PUSHED", "n": NaN}\n')
        items_file.write(b'{"filename": "z", "state": "PUSHED", "n": 1e999}\n')
        items_file.write(b'["an array"]\n')
        items_file.write(json.dumps(items(3, first=100)[0]).encode() + b"\n")
        items_file.write(b'{"filename": "torn", "sta')
    summary = subprocess.run(
        [sys.executable, "-m", "pushcollector", "summary", run_dir],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 1
    assert done.stdout.startswith(service.url)
    warnings = done.stderr.splitlines()
    skipped = [line for line in warnings if ": skipped: " in line]
    # Exactly as summary reports them.
    assert skipped == summary.stderr.splitlines()
    assert len(skipped) == 3
    assert [line for line in warnings if ": not sent: " in line] == [
        "pushcollector: warning: %s:22: not sent: ['state']: 'DONE' is not one of %r"
        % (items_path, _states()),
        "pushcollector: warning: %s:23: not sent: ['n']: NaN is not JSON" % items_path,
        "pushcollector: warning: %s:24: not sent: ['n']: Infinity is not JSON"
        % items_path,
    ]
    assert len(warnings) == 6
    run_id = run_id_of(done.stdout.strip())
    assert [json.loads(line) for line in stored_lines(service, run_id)] == (
        items(20) + items(1, first=100)
    )


def _states():
    from pushcollector._impl.schema import push_item_schema

    return push_item_schema()["properties"]["state"]["enum"]


def test_many_lines_not_sent_are_counted_past_the_first_ten(service, tmp_path):
    run_dir = tmp_path / "artifacts" / "20261126000000"
    run_dir.mkdir(parents=True)
    lines = [json.dumps(item) for item in items(5)]
    lines += ['{"filename": "f%d", "state": "DONE"}' % n for n in range(12)]
    lines += ["bad %d" % n for n in range(13)]
    (run_dir / "pushitems.jsonl").write_text("\n".join(lines) + "\n")

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 1
    warnings = done.stderr.splitlines()
    assert len(warnings) == 22
    assert warnings[10].endswith("pushitems.jsonl: 3 more lines skipped")
    assert warnings[21].endswith("pushitems.jsonl: 2 more lines not sent")
    run_id = run_id_of(done.stdout.strip())
    assert len(stored_lines(service, run_id)) == 5


def test_the_lines_read_are_those_run_records_reads(tmp_path):
    content = b"".join(
        [
            b'{"filename": "a", "state": "PUSHED"}\n',
            b"\n",
            b"[1]\n",
            b'{"filename": 1, "state": "PUSHED"}\n',
            b'{"filename": "a", "state": "PUSHED", "dest": 3}\n',
            b'{"filename": "\xff", "state": "PUSHED"}\n',
            b'{"filename": "\xc3\xbc", "state": "PUSHED", "dest": null}\r\n',
            b"[" * 100000 + b"\n",
            b'{"filename": "b", "state": "PUSHED", "n": 1' + b"0" * 5000 + b"}\n",
            b'{"filename": "c", "state": "X"}',
        ]
    )
    path = tmp_path / "items.jsonl"
    path.write_bytes(content)
    run = open_run(path)
    bad_by_records, bad_by_upload = [], []

    records = list(run.records(bad_by_records.append))
    lines = upload._Lines(item_lines(run))
    read = list(upload._readable_lines(lines, bad_by_upload.append))

    assert [record for _, _, record in read] == records
    assert [json.loads(line) for _, line, _ in read] == records
    assert [number for number, _, _ in read] == [1, 7, 10]
    assert bad_by_upload == bad_by_records
    # What was read, as the marker keeps it: the file's bytes, exactly.
    assert lines.read() == (
        len(content),
        hashlib.blake2b(content, digest_size=32).hexdigest(),
    )
    # A file given alone must be there (a run directory may have none).
    path.unlink()
    with pytest.raises(FileNotFoundError):
        list(upload._readable_lines(upload._Lines(item_lines(run)), print))


def test_upload_run_says_what_it_sent_and_did_not(service, tmp_path):
    path = tmp_path / "items.jsonl"
    lines = [json.dumps(item) for item in items(5)]
    lines.insert(1, '{"filename": "nan", "state": "PUSHED", "n": NaN}')
    lines.insert(4, "torn")
    path.write_text("\n".join(lines) + "\n")

    result = upload.upload_run(path, service.url, batch_size=2, progress=False)

    assert (result.records_held, result.records_sent, result.files) == (0, 5, 0)
    assert result.bad_lines == [
        BadLine(5, "not valid JSON (Expecting value, column 1)")
    ]
    assert repr(result.not_sent) == "[NotSentLine(2, \"['n']: NaN is not JSON\")]"
    assert result.not_sent_count == 1
    assert result.url == "%s/runs/%s" % (service.url, result.run_id)
    assert [json.loads(line) for line in stored_lines(service, result.run_id)] == (
        items(5)
    )


def all_pushed(count):
    return [{"filename": "f%d" % n, "state": "PUSHED"} for n in range(count)]


def summary_of(path, *options):
    done = subprocess.run(
        [sys.executable, "-m", "pushcollector", "summary", "--json", *options, path],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return done.returncode, json.loads(done.stdout)


def test_a_run_uploaded_with_lines_not_sent_fails_on_the_service_as_here(
    service, tmp_path
):
    run_dir = record_run(tmp_path, [all_pushed(20)], files={})
    with open(os.path.join(run_dir, "pushitems.jsonl"), "ab") as items_file:
        items_file.write(b"not json\n")
        # Read here as a PUSHED item; refused by the service (its checksum).
        items_file.write(
            b'{"filename": "x", "state": "PUSHED", "checksums": {"md5": "no"}}\n'
        )
        items_file.write(json.dumps(all_pushed(21)[20]).encode() + b"\n")
    local_status, local = summary_of(run_dir)

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 1
    url = done.stdout.strip()
    served_status, served = summary_of(url)
    assert (local_status, served_status) == (1, 1)
    assert (local["passed"], served["passed"]) == (False, False)
    # The lines it could not read, as here; and the record not sent.
    assert local["bad_lines"] == [
        {"line": 21, "reason": "not valid JSON (Expecting value, column 1)"}
    ]
    assert served["bad_lines"] == local["bad_lines"] + [
        {"line": 22, "reason": "not sent: the service refuses this record"}
    ]
    assert (local["records"], served["records"]) == (22, 21)
    assert local["states"] == {"PUSHED": 22}
    assert served["states"] == {"PUSHED": 21}
    figures = service.get("/runs/%s" % run_id_of(url)).json()
    assert (figures["bad_lines"], figures["passed"]) == (2, False)
    text = subprocess.run(
        [sys.executable, "-m", "pushcollector", "summary", url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert text.returncode == 1
    assert "2 skipped lines" in text.stdout
    assert len(text.stderr.splitlines()) == 2, text.stderr
    # Allowed bad lines, both pass.
    assert summary_of(run_dir, "--allow-bad-lines")[0] == 0
    assert summary_of(url, "--allow-bad-lines")[0] == 0
    # Uploaded again: the same lines, declared once.
    assert run_upload(run_dir, "--to", service.url).returncode == 1
    assert summary_of(url)[1]["bad_lines"] == served["bad_lines"]


def test_a_failure_to_declare_the_lines_not_sent_fails_the_upload(tmp_path):
    """Any other answer than 404 or 405 fails the upload, status 2."""
    run_dir = record_run(tmp_path, [all_pushed(1)], files={})
    with open(os.path.join(run_dir, "pushitems.jsonl"), "ab") as items_file:
        items_file.write(b"not json\n")

    class Refusing(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.answer(404, b'{"error": "no run"}')

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer(200, b'{"applied": true}')

        def do_PUT(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.answer(403, b'{"error": "this token may read, not write"}')

        def answer(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = run_upload(
            run_dir, "--to", "http://127.0.0.1:%d/api" % server.server_address[1]
        )
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 2
    assert "/bad-lines failed (attempt 1 of 5): HTTP 403 " in done.stderr
    assert done.stderr.endswith(
        " (the token is taken from $PUSHCOLLECTOR_HTTP_TOKEN); run the command"
        " again to complete it\n"
    )


# Interrupted uploads --------------------------------------------------------


class Proxy(http.server.ThreadingHTTPServer):
    """A loopback proxy to the service that kills the upload (kill -9) when
    write request number ``kill_at`` (from 1) arrives: before forwarding it,
    or once the service has answered it, before relaying the answer."""

    daemon_threads = True

    def __init__(self, target, kill_at, after_answer, busy_at=None, handler=None):
        super().__init__(("127.0.0.1", 0), handler or ProxyHandler)
        self.target = target
        self.kill_at = kill_at
        self.after_answer = after_answer
        # The write request answered 503 once, rather than forwarded.
        self.busy_at = busy_at
        self.writes = []
        self.victim = None
        self.lock = threading.Lock()
        self.url = "http://127.0.0.1:%d/api" % self.server_address[1]

    def kill_victim(self):
        self.victim.send_signal(signal.SIGKILL)
        self.victim.wait()


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def relay(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        number = None
        if self.command != "GET":
            with server.lock:
                server.writes.append((self.command, self.path))
                number = len(server.writes)
        killing = number is not None and number == server.kill_at
        if killing and not server.after_answer:
            server.kill_victim()
            return
        if number is not None and number == server.busy_at:
            server.busy_at = None
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"busy")
            return
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in ("host", "content-length", "connection")
        }
        answer = requests.request(
            self.command,
            server.target + self.path[len("/api") :],
            data=body,
            headers=headers,
            timeout=60,
        )
        if killing:
            assert answer.status_code == 200
            assert answer.json()["applied"] is True
            server.kill_victim()
            return
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers["Content-Type"])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = relay


def test_a_file_of_bad_lines_alone_replaced_by_another_is_a_new_run(service, tmp_path):
    """The lines declared to the service come from the file too: a file in
    its place does not resume the run that has them."""
    fixed = tmp_path / "pushitems.jsonl"
    fixed.write_bytes(b"not json\n")
    first = run_upload(fixed, "--to", service.url)
    fixed.write_text(json.dumps(all_pushed(1)[0]) + "\n")

    second = run_upload(fixed, "--to", service.url)

    assert (first.returncode, second.returncode) == (1, 0)
    assert "uploaded as a new run" in second.stderr
    assert summary_of(second.stdout.strip())[0] == 0
    assert summary_of(first.stdout.strip())[0] == 1


class OlderServiceHandler(ProxyHandler):
    """A service that knows no PUT .../bad-lines, as one before 1.6.0."""

    def relay(self):
        if not self.path.endswith("/bad-lines"):
            return super().relay()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"error": "no such resource: %s" % self.path}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = relay


def test_a_service_that_cannot_record_lines_not_sent_is_warned_of(service, tmp_path):
    run_dir = record_run(tmp_path, [all_pushed(3)], files={})
    with open(os.path.join(run_dir, "pushitems.jsonl"), "ab") as items_file:
        items_file.write(b"not json\n")
    older = Proxy(service.url, None, False, handler=OlderServiceHandler)
    threading.Thread(target=older.serve_forever, daemon=True).start()
    try:
        done = run_upload(run_dir, "--to", older.url)
    finally:
        older.shutdown()
        older.server_close()

    assert done.returncode == 1
    assert done.stderr.splitlines()[1:] == [
        "pushcollector: warning: the service cannot record the 1 lines not sent"
        " (it knows no PUT %s/bad-lines: a pushcollector serve older than"
        " 1.6.0?): its run there does not fail for them, as this one does"
        % done.stdout.strip()
    ]
    assert len(stored_lines(service, run_id_of(done.stdout.strip()))) == 3


# The requests of the interrupted run's upload, in order: 560 records in
# batches of 100, then its files, sorted, each in pieces of 4 MiB.
INTERRUPTED_FILES = {
    "a.log": b"a log\n",
    "big.bin": bytes(range(256)) * (BIG_FILE_SIZE // 256) + b"!",
    "empty": b"",
}
INTERRUPTED_REQUESTS = (
    [
        "records %d-%d" % (start, min(start + 100, 560) - 1)
        for start in range(0, 560, 100)
    ]
    + ["a.log"]
    + ["big.bin piece %d" % piece for piece in range(3)]
    + ["empty"]
)


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("interrupted")
    return record_run(
        base, [items(300), items(260, first=200)], files=INTERRUPTED_FILES
    )


@pytest.mark.parametrize("after_answer", [False, True], ids=["before", "after"])
@pytest.mark.parametrize(
    "kill_at",
    range(1, len(INTERRUPTED_REQUESTS) + 1),
    ids=[
        "killed-at-request-%d-%s" % (number, name.replace(" ", "-"))
        for number, name in enumerate(INTERRUPTED_REQUESTS, 1)
    ],
)
def test_an_upload_killed_at_any_request_completes_when_run_again(
    service, interrupted_run, tmp_path, kill_at, after_answer
):
    # "before": killed before the request reaches the service; "after": the
    # service applied it, and the answer was lost.
    run_dir = tmp_path / "run"
    shutil.copytree(interrupted_run, run_dir, symlinks=True)
    proxy = Proxy(service.url, kill_at, after_answer)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        environment = dict(os.environ)
        environment.pop("PUSHCOLLECTOR_HTTP_TOKEN", None)
        proxy.victim = subprocess.Popen(
            [sys.executable, "-m", "pushcollector", "upload", str(run_dir)]
            + ["--to", proxy.url, "--batch-size", "100"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=environment,
        )
        proxy.victim.communicate(timeout=TIMEOUT)
        assert proxy.victim.returncode == -signal.SIGKILL
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert len(proxy.writes) == kill_at
    run_id = (run_dir / ".pushcollector-upload").read_text().split("\n")[0]
    held = service.get("/runs/%s/push-items" % run_id)
    held_after_kill = len(held.text.splitlines()) if held.status_code == 200 else 0

    done = run_upload(run_dir, "--to", service.url, "--batch-size", "100")

    assert done.returncode == 0, done.stderr
    assert run_id_of(done.stdout.strip()) == run_id
    # 0 lost, 0 duplicated: the records in order, each once; files whole.
    assert [json.loads(line) for line in stored_lines(service, run_id)] == (
        local_records(run_dir)
    )
    assert stored_files(service, run_id) == INTERRUPTED_FILES
    expected_held = min(kill_at - (0 if after_answer else 1), 6) * 100
    assert held_after_kill == min(expected_held, 560)


def test_retries_are_shown_as_warnings(service, tmp_path):
    run_dir = record_run(tmp_path, [items(30)], files={"a.log": b"a\n"})
    proxy = Proxy(service.url, kill_at=None, after_answer=False, busy_at=2)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        done = run_upload(run_dir, "--to", proxy.url, "--batch-size", "20")
    finally:
        proxy.shutdown()
        proxy.server_close()

    assert done.returncode == 0
    run_id = run_id_of(done.stdout.strip())
    assert done.stderr == (
        "pushcollector: warning: POST %s/runs/%s/push-items failed (attempt 1 of"
        " 5): HTTP 503 Service Unavailable: 'busy'; retrying in 0.00 s\n"
        % (proxy.url, run_id)
    )
    assert [json.loads(line) for line in stored_lines(service, run_id)] == items(30)
    assert stored_files(service, run_id) == {"a.log": b"a\n"}


# Hostile files --------------------------------------------------------------


def test_only_regular_files_are_sent_none_followed_none_waited_for(service, tmp_path):
    # A run of files only: it recorded no push items.
    run_dir = record_run(tmp_path, [], files={"kept.txt": b"kept\n"})
    make_special(os.path.join(run_dir, "fifo"), "fifo")
    make_special(os.path.join(run_dir, "socket"), "socket")
    os.symlink("/etc/passwd", os.path.join(run_dir, "passwd"))
    os.mkdir(os.path.join(run_dir, "logs"))
    os.symlink("/etc", os.path.join(run_dir, "logs", "etc"))
    os.mkfifo(os.path.join(run_dir, "logs", "pipe"))
    # Not written by the local backend, and refused by the service.
    with open(os.path.join(run_dir, "logs", "back\\slash"), "w") as planted:
        planted.write("planted\n")

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 1
    assert done.stderr == (
        "pushcollector: warning: %s/logs/back\\slash: not sent: invalid filename"
        " 'logs/back\\\\slash': must not contain a backslash\n" % run_dir
    )
    run_id = run_id_of(done.stdout.strip())
    assert stored_files(service, run_id) == {"kept.txt": b"kept\n"}
    assert stored_lines(service, run_id) == []


@pytest.mark.parametrize(
    "kind, refusal",
    [
        ("fifo", "a FIFO, not a regular file"),
        ("socket", "a socket, not a regular file"),
        ("symlink", "a symbolic link, which is not followed"),
        ("directory", "Is a directory"),
        ("gone", "No such file or directory"),
        ("folder link", "Not a directory"),
    ],
)
def test_a_file_replaced_after_it_was_listed_is_refused_without_waiting(
    tmp_path, kind, refusal, no_hang
):
    run_dir = record_run(tmp_path, [], files={"logs/a.log": b"a\n"})
    run = open_run(run_dir)
    path = os.path.join(run_dir, "logs", "a.log")
    os.remove(path)
    if kind == "directory":
        os.mkdir(path)
    elif kind == "folder link":
        os.rmdir(os.path.dirname(path))
        os.symlink(str(tmp_path), os.path.dirname(path))
    elif kind != "gone":
        make_special(path, kind)

    with pytest.raises(OSError) as raised:
        sending(Recorder(), run).send_file(run, "logs/a.log")

    assert (raised.value.filename, raised.value.strerror) == (path, refusal)


def test_a_push_items_file_that_is_a_fifo_is_refused_without_waiting(service, tmp_path):
    run_dir = tmp_path / "artifacts" / "20261126000000"
    run_dir.mkdir(parents=True)
    os.mkfifo(run_dir / "pushitems.jsonl")

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s: a FIFO, not a regular file\n"
        % (run_dir / "pushitems.jsonl")
    )


# The marker -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"\n", b"has space-0123\n", b".dot\n", b"x" * 129 + b"\n", b"\nid\n"],
)
def test_a_marker_without_a_run_id_is_refused(tmp_path, content):
    run_dir = record_run(tmp_path, [items(1)], files={})
    marker = os.path.join(run_dir, ".pushcollector-upload")
    with open(marker, "wb") as marker_file:
        marker_file.write(content)

    done = run_upload(run_dir, "--to", "http://127.0.0.1:1/api")

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s holds no run id: it should hold the id this"
        " run was uploaded under; remove it to upload the run under a new id\n" % marker
    )


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_marker_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    run_dir = record_run(tmp_path, [items(1)], files={})
    marker = os.path.join(run_dir, ".pushcollector-upload")
    make_special(marker, kind)

    done = run_upload(run_dir, "--to", "http://127.0.0.1:1/api")

    assert done.returncode == 2
    assert done.stderr.startswith("pushcollector: error: %s: a " % marker)
    assert done.stderr.count("\n") == 1


def test_uploads_at_once_agree_on_the_marker_made_first(tmp_path, monkeypatch):
    run_dir = record_run(tmp_path, [items(1)], files={})
    run = open_run(run_dir)
    real_read = upload._read_marker
    reads = []

    def read_before_the_other_made_it(marker):
        reads.append(marker)
        if len(reads) == 1:
            # The other upload makes its marker now, after this one looked.
            with open(marker, "w") as marker_file:
                marker_file.write("made-by-the-other-0123456789abcdef\n")
            return None
        return real_read(marker)

    monkeypatch.setattr(upload, "_read_marker", read_before_the_other_made_it)

    assert upload.upload_run_id(run) == "made-by-the-other-0123456789abcdef"
    # Its own was not kept, nor anything else.
    assert sorted(os.listdir(run_dir)) == [".pushcollector-upload", "pushitems.jsonl"]


@pytest.mark.parametrize(
    "name, stem",
    [
        ("20261126120000", "20261126120000"),
        ("..hidden", "hidden"),
        ("...", "run"),
        ("a b/c\u00fc\n", "a_b_c__"),
        ("x" * 300, "x" * 111),
    ],
)
def test_new_run_ids_are_what_the_service_takes(name, stem):
    from pushcollector._impl.protocol import RUN_ID_PATTERN

    made = {upload._new_run_id(name) for _ in range(3)}

    assert len(made) == 3
    for run_id in made:
        assert re.fullmatch(re.escape(stem) + "-[0-9a-f]{16}", run_id)
        # The rule the service checks run ids with.
        assert RUN_ID_PATTERN.match(run_id)


# Files, piece by piece ------------------------------------------------------


def sending(recorder, run):
    """The sending of an upload of the run, to a recorder, with its marker."""
    return upload._Sending(recorder, upload._NoBar(), upload._open_marker(run))


class Recorder:
    """Takes the place of the uploader: keeps what would be sent."""

    def __init__(self, on_send=None):
        self.run_id = "run-0123456789abcdef"
        self.sent = []
        self.on_send = on_send

    def send(self, method, path, body, content_type, key):
        from concurrent.futures import Future

        self.sent.append((method, path, body, key))
        if self.on_send:
            self.on_send()
        future = Future()
        future.set_result(None)
        return future


@pytest.mark.parametrize("size", [0, 1, 8, 9, 12])
def test_a_file_is_sent_in_pieces_each_keyed_by_its_content(
    tmp_path, monkeypatch, size
):
    from pushcollector._impl.protocol import MAX_KEY_LENGTH

    monkeypatch.setattr(upload, "FILE_PIECE_BYTES", 4)
    run_dir = record_run(tmp_path, [], files={"logs/a": bytes(range(size))})
    recorder = Recorder()

    sending(recorder, open_run(run_dir)).send_file(open_run(run_dir), "logs/a")

    methods = [method for method, _, _, _ in recorder.sent]
    assert methods == ["PUT"] + ["POST"] * (len(methods) - 1)
    assert len(methods) == max(1, -(-size // 4))
    assert b"".join(body for _, _, body, _ in recorder.sent) == bytes(range(size))
    assert {path for _, path, _, _ in recorder.sent} == {
        "/runs/run-0123456789abcdef/files/logs/a"
    }
    keys = [key for _, _, _, key in recorder.sent]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch("file:[0-9a-f]{64}", key) for key in keys)
    assert all(len(key) <= MAX_KEY_LENGTH for key in keys)

    # The same content gives the same keys; other content, other keys; and
    # the first content again, other keys again: this is another write.
    def keys_sent(content=None):
        if content is not None:
            with open(os.path.join(run_dir, "logs/a"), "wb") as changed:
                changed.write(content)
        again = Recorder()
        sending(again, open_run(run_dir)).send_file(open_run(run_dir), "logs/a")
        return [key for *_, key in again.sent]

    assert keys_sent() == keys
    changed = keys_sent(bytes(range(size)) + b"more")
    assert not set(changed) & set(keys)
    restored = keys_sent(bytes(range(size)))
    assert not set(restored) & (set(keys) | set(changed))
    assert keys_sent() == restored


def test_a_file_changing_while_it_is_sent_stops_the_upload(tmp_path, monkeypatch):
    monkeypatch.setattr(upload, "FILE_PIECE_BYTES", 4)
    run_dir = record_run(tmp_path, [], files={"grows.log": b"0123456789"})
    path = os.path.join(run_dir, "grows.log")

    def append():
        # Once, after the first piece was read.
        if not os.path.exists(path + ".grown"):
            open(path + ".grown", "w").close()
            with open(path, "ab") as log:
                log.write(b"more")

    with pytest.raises(upload.UploadError) as raised:
        sending(Recorder(append), open_run(run_dir)).send_file(
            open_run(run_dir), "grows.log"
        )

    assert str(raised.value) == (
        "%s changed while it was uploaded: upload the run again once it no"
        " longer changes" % path
    )


# Errors ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded_service(tmp_path_factory, tokens):
    db = tmp_path_factory.mktemp("guarded") / "guarded.db"
    with ServiceProcess("sqlite:///%s" % db, "--tokens", tokens["path"]) as running:
        yield running


def test_a_write_token_uploads(guarded_service, tokens, tmp_path):
    run_dir = record_run(tmp_path, [items(3)], files={"a": b"a"})

    done = run_upload(
        run_dir,
        "--to",
        guarded_service.url,
        env={"PUSHCOLLECTOR_HTTP_TOKEN": tokens["write"]},
    )

    assert done.returncode == 0, done.stderr
    run_id = run_id_of(done.stdout.strip())
    headers = {"Authorization": "Bearer " + tokens["read"]}
    assert (
        guarded_service.get("/runs/%s/summary" % run_id, headers=headers).json()[
            "records"
        ]
        == 3
    )


@pytest.mark.parametrize(
    "token, status",
    [
        (None, 401),
        ("pct_not-a-token-of-this-service", 401),
        ("read", 403),
    ],
)
def test_a_token_that_may_not_write_is_one_line_and_status_2(
    guarded_service, tokens, tmp_path, token, status
):
    run_dir = record_run(tmp_path, [items(3)], files={})
    token = tokens.get(token, token)

    done = run_upload(
        run_dir,
        "--to",
        guarded_service.url,
        env={"PUSHCOLLECTOR_HTTP_TOKEN": token} if token else {},
    )

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("pushcollector: error: upload incomplete: ")
    assert "HTTP %d" % status in line
    assert line.endswith(
        " (the token is taken from $PUSHCOLLECTOR_HTTP_TOKEN); run the command"
        " again to complete it"
    )
    if token:
        assert token[4:12] not in done.stderr


def unused_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_service_is_one_line_and_status_2(tmp_path):
    run_dir = record_run(tmp_path, [items(3)], files={})
    url = "http://127.0.0.1:%d/api" % unused_port()

    done = run_upload(run_dir, "--to", url, "--max-attempts", "1")

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "pushcollector: error: upload incomplete: GET %s/runs/" % url
    )
    assert "/summary" not in line
    assert "ConnectionError" in line


def test_the_url_comes_from_the_environment_else_it_is_an_error(service, tmp_path):
    run_dir = record_run(tmp_path, [items(3)], files={})

    missing = run_upload(run_dir)
    from_environment = run_upload(run_dir, env={"PUSHCOLLECTOR_HTTP_URL": service.url})

    assert missing.returncode == 2
    assert missing.stderr == (
        "pushcollector: error: no service to upload to: give --to URL, or set"
        " $PUSHCOLLECTOR_HTTP_URL\n"
    )
    assert from_environment.returncode == 0
    assert from_environment.stdout.startswith(service.url + "/runs/")


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://host/api", "url must start with http:// or https://, not ftp:"),
        ("http:///api", "url must name a host"),
    ],
)
def test_a_url_that_is_not_http_is_refused(tmp_path, url, message):
    run_dir = record_run(tmp_path, [items(1)], files={})

    done = run_upload(run_dir, "--to", url)

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: cannot upload to that URL: %s\n" % message
    )


def test_something_else_than_the_service_is_refused(tmp_path):
    class NotTheService(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotTheService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    run_dir = record_run(tmp_path, [items(1)], files={})
    url = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        done = run_upload(run_dir, "--to", url)
    finally:
        server.shutdown()
        server.server_close()

    assert done.returncode == 2
    run_id = open(os.path.join(run_dir, ".pushcollector-upload")).read().strip()
    assert done.stderr == (
        "pushcollector: error: GET %s/runs/%s answered something else"
        " than a run's figures: is %s the base URL of a pushcollector service?\n"
        % (url, run_id, url)
    )


def test_a_run_the_service_holds_more_of_is_refused(service, tmp_path):
    run_dir = record_run(tmp_path, [items(10)], files={})
    assert run_upload(run_dir, "--to", service.url).returncode == 0
    run_id = open(os.path.join(run_dir, ".pushcollector-upload")).readline().strip()
    # Another writer added to the run in the service.
    requests.post(
        "%s/runs/%s/push-items" % (service.url, run_id),
        json=items(1, first=99),
        timeout=TIMEOUT,
    ).raise_for_status()

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 2
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    assert done.stderr == (
        "pushcollector: error: the service holds 11 records of run %s, more than"
        " the 10 of %s: was the run changed since it was uploaded?\n"
        % (run_id, items_path)
    )


def test_a_batch_overlapping_one_the_service_applied_fails_the_upload(
    service, tmp_path
):
    """Records sent from an index the service applied another body at (a
    request of another upload of the run, made with other batches) are
    refused, 422, not retried and not stored twice."""
    run_dir = record_run(tmp_path, [items(10)], files={})
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    with open(items_path, "rb") as items_file:
        content = items_file.read()
    run_id = "overlapped-0123456789abcdef"
    with open(os.path.join(run_dir, ".pushcollector-upload"), "w") as marker:
        marker.write(
            "%s\nitems %d %s\n"
            % (
                run_id,
                len(content),
                hashlib.blake2b(content, digest_size=32).hexdigest(),
            )
        )
    # The other upload's batch of records 5 and 6.
    requests.post(
        "%s/runs/%s/push-items" % (service.url, run_id),
        json=items(2, first=5),
        headers={"Idempotency-Key": "records:5"},
        timeout=TIMEOUT,
    ).raise_for_status()

    # Records 2 to 4, then 5 to 7.
    done = run_upload(run_dir, "--to", service.url, "--batch-size", "3")

    assert done.returncode == 2
    assert done.stderr.startswith(
        "pushcollector: error: upload incomplete: POST %s/runs/%s/push-items failed"
        " (attempt 1 of 5): HTTP 422 " % (service.url, run_id)
    )
    assert (
        "Idempotency-Key records:5 of run %s was applied to a POST of push items"
        " with another body" % run_id
    ) in done.stderr
    assert done.stderr.count("\n") == 1
    assert [json.loads(line) for line in stored_lines(service, run_id)] == (
        items(2, first=5) + items(3, first=2)
    )


# A file that is not the one a run was uploaded from --------------------------


@pytest.mark.parametrize("second_count", [20, 50], ids=["shorter", "longer"])
def test_a_push_items_file_copied_over_an_uploaded_one_is_a_new_run(
    service, tmp_path, second_count
):
    """A CI job copies each push's pushitems.jsonl to one path of a reused
    workspace, and uploads it: each push is a run of its own, whole."""
    push_a = record_run(tmp_path / "a", [items(30)], files={})
    push_b = record_run(
        tmp_path / "b", [items(second_count, first=1000, state="EXISTS")], files={}
    )
    fixed = tmp_path / "workspace" / "pushitems.jsonl"
    fixed.parent.mkdir()
    uploads = []
    for push in (push_a, push_b, push_a):
        shutil.copyfile(os.path.join(push, "pushitems.jsonl"), fixed)
        uploads.append(run_upload(fixed, "--to", service.url))
        assert uploads[-1].returncode == 0, uploads[-1].stderr
        run_id = run_id_of(uploads[-1].stdout.strip())
        # The run in the service is the file uploaded, all of it.
        assert without_location(
            service.get("/runs/%s/summary" % run_id).json()
        ) == without_location(summary_json(fixed))
        assert [json.loads(line) for line in stored_lines(service, run_id)] == (
            local_records(push)
        )

    first, second, third = [run_id_of(done.stdout.strip()) for done in uploads]
    assert len({first, second, third}) == 3
    assert uploads[0].stderr == ""
    size_a = os.path.getsize(os.path.join(push_a, "pushitems.jsonl"))
    assert uploads[1].stderr == (
        "pushcollector: warning: %s is not the file run %s was uploaded from (its"
        " first %d bytes %s): uploaded as a new run, not appended to that one\n"
        % (
            fixed,
            first,
            size_a,
            (
                "differ"
                if os.path.getsize(os.path.join(push_b, "pushitems.jsonl")) >= size_a
                else "are not there"
            ),
        )
    )
    assert "is not the file run %s was uploaded from" % second in uploads[2].stderr
    # Nothing was added to the first push's run.
    assert [json.loads(line) for line in stored_lines(service, first)] == items(30)


def test_a_push_items_file_cut_short_since_its_upload_is_a_new_run(service, tmp_path):
    run_dir = record_run(tmp_path, [items(10)], files={"push.log": b"log\n"})
    first = run_upload(run_dir, "--to", service.url)
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    size = os.path.getsize(items_path)
    with open(items_path) as items_file:
        lines = items_file.readlines()
    with open(items_path, "w") as items_file:
        items_file.writelines(lines[:4])

    done = run_upload(run_dir, "--to", service.url)

    assert (first.returncode, done.returncode) == (0, 0)
    assert done.stderr == (
        "pushcollector: warning: %s is not the file run %s was uploaded from (its"
        " first %d bytes are not there): uploaded as a new run, not appended to"
        " that one\n" % (items_path, run_id_of(first.stdout.strip()), size)
    )
    assert_uploaded_whole(service, run_dir, done.stdout.strip())
    assert len(stored_lines(service, run_id_of(first.stdout.strip()))) == 10


def test_a_run_whose_push_items_file_is_gone_since_its_upload_is_a_new_run(
    service, tmp_path
):
    run_dir = record_run(tmp_path, [items(10)], files={"push.log": b"log\n"})
    first = run_upload(run_dir, "--to", service.url)
    items_path = os.path.join(run_dir, "pushitems.jsonl")
    size = os.path.getsize(items_path)
    os.remove(items_path)

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 0
    assert "first %d bytes are not there): uploaded as a new run" % size in (
        done.stderr
    )
    new_run = run_id_of(done.stdout.strip())
    assert stored_files(service, new_run) == {"push.log": b"log\n"}
    assert service.get("/runs/%s/push-items" % new_run).text == ""


def test_a_marker_without_digests_of_what_the_service_holds_is_a_new_run(
    service, tmp_path
):
    run_dir = record_run(tmp_path, [items(10)], files={})
    first = run_upload(run_dir, "--to", service.url)
    marker = os.path.join(run_dir, ".pushcollector-upload")
    run_id = run_id_of(first.stdout.strip())
    with open(marker, "w") as marker_file:
        marker_file.write(run_id + "\n")

    done = run_upload(run_dir, "--to", service.url)

    assert done.returncode == 0
    assert done.stderr == (
        "pushcollector: warning: the service holds 10 records of run %s, but %s"
        " keeps no digest of the file they were sent from: uploaded as a new"
        " run, not appended to that one\n" % (run_id, marker)
    )
    assert_uploaded_whole(service, run_dir, done.stdout.strip())


def test_a_file_back_to_an_earlier_content_is_sent_again(service, tmp_path):
    """A, then B, then A again, restored as cp -p does (its time too): the
    service ends with A, byte for byte."""
    content_a = b"first content\n" * 1000
    run_dir = record_run(tmp_path, [items(3)], files={"push.log": content_a})
    log = os.path.join(run_dir, "push.log")
    saved = tmp_path / "saved.log"
    shutil.copy2(log, saved)
    first = run_upload(run_dir, "--to", service.url)
    run_id = run_id_of(first.stdout.strip())
    with open(log, "wb") as changed:
        changed.write(b"second content\n")
    second = run_upload(run_dir, "--to", service.url)
    assert stored_files(service, run_id)["push.log"] == b"second content\n"

    shutil.copy2(saved, log)
    third = run_upload(run_dir, "--to", service.url)

    assert [done.returncode for done in (first, second, third)] == [0, 0, 0]
    assert first.stdout == second.stdout == third.stdout
    assert stored_files(service, run_id)["push.log"] == content_a
    assert_uploaded_whole(service, run_dir, third.stdout.strip())
    # Unchanged since: not stored again.
    listed = service.get("/runs/%s/files" % run_id).json()
    assert run_upload(run_dir, "--to", service.url).returncode == 0
    assert service.get("/runs/%s/files" % run_id).json() == listed


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"r-0\nitems 1\n", "line 2 is not one the upload writes"),
        (b"r-0\nitems 1 %s\nfile 1 %s x\n" % (b"0" * 64, b"0" * 64), "line 3"),
        (b"r-0\nfile 1 %s 1\n" % (b"0" * 64), "line 2"),
        (b'r-0\nfile 1 %s "a\n' % (b"0" * 64), "line 2"),
        (b'r-0\nfile 1 %s "\\x"\n' % (b"0" * 64), "line 2"),
        (b"r-0\nitems 1 %s" % (b"0" * 64), "ends with a line cut short"),
        (b"r-0\n\xff\n", "line 2"),
    ],
)
def test_a_marker_holding_what_the_upload_does_not_write_is_refused(
    tmp_path, content, problem
):
    run_dir = record_run(tmp_path, [items(1)], files={})
    marker = os.path.join(run_dir, ".pushcollector-upload")
    with open(marker, "wb") as marker_file:
        marker_file.write(content)

    done = run_upload(run_dir, "--to", "http://127.0.0.1:1/api")

    assert done.returncode == 2
    assert done.stderr.startswith("pushcollector: error: %s " % marker)
    assert problem in done.stderr
    assert done.stderr.endswith(": remove it to upload the run under a new id\n")


def test_a_marker_larger_than_any_upload_writes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(upload, "_MARKER_LIMIT", 10)
    run_dir = record_run(tmp_path, [items(1)], files={})
    marker = os.path.join(run_dir, ".pushcollector-upload")
    with open(marker, "w") as marker_file:
        marker_file.write("r-0123456789\n")

    with pytest.raises(upload.UploadError) as raised:
        upload.upload_run_id(open_run(run_dir))

    assert str(raised.value) == (
        "%s is larger than 10 bytes: remove it to upload the run under a new id"
        % marker
    )


def test_a_marker_that_cannot_be_written_leaves_nothing_behind(tmp_path, monkeypatch):
    run_dir = record_run(tmp_path, [items(1)], files={})
    # A write that fails part-way, as on a full disk.
    monkeypatch.setattr(upload, "_new_run_id", lambda name: "not ascii: \u00fc")

    with pytest.raises(UnicodeEncodeError):
        upload.upload_run_id(open_run(run_dir))

    assert os.listdir(run_dir) == ["pushitems.jsonl"]


def test_a_marker_run_id_without_its_newline_is_taken(tmp_path):
    run_dir = record_run(tmp_path, [items(1)], files={})
    with open(os.path.join(run_dir, ".pushcollector-upload"), "w") as marker_file:
        marker_file.write("typed-by-hand")

    assert upload.upload_run_id(open_run(run_dir)) == "typed-by-hand"


def test_what_the_marker_cannot_record_stops_the_upload(tmp_path, monkeypatch):
    run_dir = record_run(tmp_path, [items(1)], files={})
    run = open_run(run_dir)
    marker = upload._open_marker(run)
    os.remove(marker.path)
    make_special(marker.path, "fifo")

    with pytest.raises(upload.UploadError) as raised:
        marker.note_items(10, "0" * 64)

    assert str(raised.value).startswith(
        "cannot record in %s what the upload sends: " % marker.path
    )
    # A new run id that cannot replace the marker: nothing is left behind.
    os.remove(marker.path)
    os.mkdir(marker.path)
    with pytest.raises(upload.UploadError, match="cannot record in "):
        marker.renewed(run)
    assert sorted(os.listdir(run_dir)) == [".pushcollector-upload", "pushitems.jsonl"]


def without_write_permission():
    """A command prefix under which writing obeys the permission bits,
    root's included."""
    if os.getuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores permissions, and there is no setpriv to drop that")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")


def test_a_run_directory_that_is_not_writable_is_one_line_and_status_2(tmp_path):
    run_dir = record_run(tmp_path, [items(1)], files={})
    os.chmod(run_dir, 0o555)
    try:
        done = run_upload(
            run_dir,
            "--to",
            "http://127.0.0.1:1/api",
            prefix=without_write_permission(),
        )
    finally:
        os.chmod(run_dir, 0o755)

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: cannot record the run id of the upload in %s:"
        " Permission denied (the upload keeps it there, so that uploading the"
        " run again resumes it)\n" % run_dir
    )
    assert os.listdir(run_dir) == ["pushitems.jsonl"]


def test_a_file_that_cannot_be_read_is_one_line_and_status_2(service, tmp_path):
    run_dir = record_run(tmp_path, [items(1)], files={"secret": b"x"})
    os.chmod(os.path.join(run_dir, "secret"), 0)

    done = run_upload(run_dir, "--to", service.url, prefix=without_write_permission())

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s/secret: Permission denied\n" % run_dir
    )


def test_a_url_is_not_a_run_to_upload(service):
    done = run_upload(service.url, "--to", service.url)

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s is a URL: upload sends a run held here (a run"
        " directory, an artifacts directory or a push items file) to a service\n"
        % service.url
    )


def test_a_path_without_a_run_is_status_2(tmp_path):
    done = run_upload(tmp_path / "missing", "--to", "http://127.0.0.1:1/api")

    assert done.returncode == 2
    assert done.stderr == (
        "pushcollector: error: %s: No such file or directory\n" % (tmp_path / "missing")
    )


@pytest.mark.parametrize("option", ["--batch-size", "--max-attempts"])
@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_counts_must_be_positive(tmp_path, option, value):
    done = run_upload("--to", "http://127.0.0.1:1/api", option, value)

    assert done.returncode == 2
    assert "invalid number %r: 1 or more" % value in done.stderr


# Progress -------------------------------------------------------------------


def test_a_progress_bar_shows_on_a_terminal(service, tmp_path):
    run_dir = record_run(tmp_path, [items(2000)], files={"big": b"x" * 300_000})
    main, terminal = pty.openpty()
    # A terminal of 24 lines of 100 columns: a new pty has none.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    output = []

    def read_terminal():
        while True:
            try:
                data = os.read(main, 65536)
            except OSError as error:
                # The terminal's other side is closed: all was read.
                assert error.errno == errno.EIO
                return
            if not data:
                return
            output.append(data)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        done = run_upload(run_dir, "--to", service.url, stderr=terminal)
    finally:
        os.close(terminal)
        reader.join()
        os.close(main)

    assert done.returncode == 0
    shown = b"".join(output).decode("utf-8")
    import tqdm

    total = os.path.getsize(os.path.join(run_dir, "pushitems.jsonl")) + 300_000
    size = tqdm.tqdm.format_sizeof(total, divisor=1024)
    # tqdm redraws the line: its last state is the whole run, sent.
    last = shown.replace("\r\n", "\n").split("\r")[-1]
    assert last.startswith("uploading: 100%|")
    assert " %s/%s [" % (size, size) in last
    assert last.endswith("\n")
    # Nothing but the bar.
    assert "error" not in shown and "warning" not in shown
