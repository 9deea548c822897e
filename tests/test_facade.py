import array
import json
import subprocess
import sys
import threading
import unicodedata
from concurrent.futures import Future
from unittest import mock

import jsonschema
import pytest

from pushcollector import Collector
from pushcollector._impl.inputs import (
    MAX_COMPONENT_BYTES,
    MAX_FILENAME_BYTES,
    checked_filename,
)

from .fakes import FakePushItem
from .imports import modules_after

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class Recorder:
    """A backend remembering every call, returning whatever it is told to."""

    def __init__(self, result=None):
        self.calls = []
        self.result = result

    def update_push_items(self, items):
        self.calls.append(("update_push_items", items))
        return self.result

    def attach_file(self, filename, content):
        self.calls.append(("attach_file", filename, content))
        return self.result

    def append_file(self, filename, content):
        self.calls.append(("append_file", filename, content))
        return self.result


@pytest.fixture
def recorder():
    backend = Recorder()
    Collector.register_backend("recorder", lambda: backend)
    return backend


def test_dict_items_pass_through(recorder):
    items = [
        {"filename": "a", "state": "PENDING"},
        {"filename": "b", "state": "PUSHED", "dest": "d", "custom": [1, 2]},
    ]
    assert Collector.get("recorder").update_push_items(items).result() is None
    assert recorder.calls == [("update_push_items", items)]


def test_generator_of_items(recorder):
    items = ({"filename": str(i), "state": "PUSHED"} for i in range(3))
    Collector.get("recorder").update_push_items(items).result()
    assert [item["filename"] for item in recorder.calls[0][1]] == ["0", "1", "2"]


def test_empty_batch_reaches_backend(recorder):
    Collector.get("recorder").update_push_items([]).result()
    assert recorder.calls == [("update_push_items", [])]


def test_push_item_one_dict_per_dest(recorder):
    item = FakePushItem(
        name="file.rpm",
        state="PUSHED",
        src="/src/file.rpm",
        dest=["repo-a", "repo-b"],
        md5sum=MD5,
        sha256sum=SHA256,
        origin="RHBA-1",
        build="file-1.0-1",
        signing_key="abc123",
    )
    Collector.get("recorder").update_push_items([item]).result()
    common = {
        "filename": "file.rpm",
        "state": "PUSHED",
        "src": "/src/file.rpm",
        "checksums": {"md5": MD5, "sha256": SHA256},
        "origin": "RHBA-1",
        "build": "file-1.0-1",
        "signing_key": "abc123",
    }
    items = recorder.calls[0][1]
    assert items == [dict(common, dest="repo-a"), dict(common, dest="repo-b")]
    assert items[0]["checksums"] is not items[1]["checksums"]


@pytest.mark.parametrize("dest", [[], None, ()])
def test_push_item_without_dest(recorder, dest):
    Collector.get("recorder").update_push_items([FakePushItem(name="x", dest=dest)])
    assert recorder.calls[0][1] == [
        {
            "filename": "x",
            "state": "PENDING",
            "src": None,
            "dest": None,
            "checksums": None,
            "origin": None,
            "build": None,
            "signing_key": None,
        }
    ]


def test_push_item_single_string_dest(recorder):
    Collector.get("recorder").update_push_items([FakePushItem(name="x", dest="d")])
    assert [item["dest"] for item in recorder.calls[0][1]] == ["d"]


@pytest.mark.parametrize(
    "md5sum, sha256sum, checksums",
    [
        (MD5, None, {"md5": MD5}),
        (None, SHA256, {"sha256": SHA256}),
        ("", "", None),
    ],
)
def test_push_item_partial_checksums(recorder, md5sum, sha256sum, checksums):
    item = FakePushItem(name="x", md5sum=md5sum, sha256sum=sha256sum)
    Collector.get("recorder").update_push_items([item])
    assert recorder.calls[0][1][0]["checksums"] == checksums


def test_mixed_dicts_and_push_items_keep_order(recorder):
    items = [
        {"filename": "1", "state": "PUSHED"},
        FakePushItem(name="2", dest=["a", "b"]),
        {"filename": "3", "state": "PUSHED"},
    ]
    Collector.get("recorder").update_push_items(items)
    recorded = [(i["filename"], i.get("dest")) for i in recorder.calls[0][1]]
    assert recorded == [("1", None), ("2", "a"), ("2", "b"), ("3", None)]


@pytest.mark.parametrize(
    "bad_item, path",
    [
        ({"state": "PUSHED"}, []),
        ({"filename": "x", "state": "DONE"}, ["state"]),
        ({"filename": "x", "state": "PUSHED", "src": 1}, ["src"]),
        (
            {"filename": "x", "state": "PUSHED", "checksums": {"md5": "ABC"}},
            ["checksums", "md5"],
        ),
        (FakePushItem(name="x", md5sum="not-hex"), ["checksums", "md5"]),
        (FakePushItem(name="x", md5sum=MD5 + "\n"), ["checksums", "md5"]),
        (
            {
                "filename": "x",
                "state": "PUSHED",
                "checksums": {"sha256": SHA256 + "\n"},
            },
            ["checksums", "sha256"],
        ),
        (FakePushItem(name=None), ["filename"]),
    ],
)
def test_invalid_item_fails_whole_batch(recorder, bad_item, path):
    items = [{"filename": "ok", "state": "PUSHED"}, bad_item]
    with pytest.raises(jsonschema.ValidationError) as error:
        Collector.get("recorder").update_push_items(items)
    assert list(error.value.absolute_path) == path
    assert recorder.calls == []


def test_validation_error_matches_jsonschema(recorder):
    item = {"filename": "x", "state": "DONE"}
    with pytest.raises(jsonschema.ValidationError) as ours:
        Collector.get("recorder").update_push_items([item])
    from pushcollector._impl.schema import push_item_schema

    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(item, push_item_schema())
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("items", [{"filename": "x", "state": "PUSHED"}, "abc", b"abc"])
def test_single_item_instead_of_iterable(recorder, items):
    with pytest.raises(TypeError, match="expects an iterable of push items"):
        Collector.get("recorder").update_push_items(items)
    assert recorder.calls == []


@pytest.mark.parametrize("bad_item", ["a string", 42, None, object()])
def test_item_neither_dict_nor_push_item(recorder, bad_item):
    items = [{"filename": "ok", "state": "PUSHED"}, bad_item]
    with pytest.raises(
        AttributeError, match="push item 1 is neither a dict nor a PushItem"
    ):
        Collector.get("recorder").update_push_items(items)
    assert recorder.calls == []


@pytest.mark.parametrize(
    "content, expected",
    [
        ("text é", "text é".encode("utf-8")),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"abc"), b"abc"),
        (memoryview(b"xyz"), b"xyz"),
        (array.array("B", [1, 2]), b"\x01\x02"),
        ("", b""),
    ],
)
@pytest.mark.parametrize("method", ["attach_file", "append_file"])
def test_content_reaches_backend_as_bytes(recorder, method, content, expected):
    future = getattr(Collector.get("recorder"), method)("f.txt", content)
    assert future.result() is None
    assert recorder.calls == [(method, "f.txt", expected)]
    assert type(recorder.calls[0][2]) is bytes


def test_bytearray_content_is_snapshotted(recorder):
    content = bytearray(b"before")
    Collector.get("recorder").attach_file("f", content)
    content[:] = b"after!"
    assert recorder.calls[0][2] == b"before"


@pytest.mark.parametrize("content", [None, 42, ["a"], {"a": 1}])
@pytest.mark.parametrize("method", ["attach_file", "append_file"])
def test_content_of_wrong_type(recorder, method, content):
    with pytest.raises(TypeError, match="content of 'f' must be str or bytes-like"):
        getattr(Collector.get("recorder"), method)("f", content)
    assert recorder.calls == []


@pytest.mark.parametrize("method", ["attach_file", "append_file"])
def test_text_with_a_lone_surrogate_is_refused_naming_the_file(
    recorder, method, in_tmp_dir
):
    with pytest.raises(
        ValueError, match=r"content of 'f\.log': a lone surrogate at index 3"
    ):
        getattr(Collector.get("recorder"), method)("f.log", "abc\udc80")
    with pytest.raises(ValueError, match="lone surrogate"):
        getattr(Collector.get("local"), method)("f.log", "abc\udc80")
    assert recorder.calls == []
    assert not (in_tmp_dir / "artifacts").exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.update_push_items([]),
        lambda c: c.attach_file("f", "x"),
        lambda c: c.append_file("f", "x"),
    ],
)
class TestFutures:
    def test_backend_future_is_mapped_to_none(self, recorder, call):
        backend_future = Future()
        recorder.result = backend_future
        future = call(Collector.get("recorder"))
        assert not future.done()

        backend_future.set_result("backend detail")
        assert future.result(timeout=10) is None

    def test_backend_future_failure_propagates(self, recorder, call):
        backend_future = Future()
        recorder.result = backend_future
        future = call(Collector.get("recorder"))
        backend_future.set_exception(OSError("disk on fire"))
        assert str(future.exception(timeout=10)) == "disk on fire"

    def test_non_future_result_gives_resolved_future(self, recorder, call):
        recorder.result = "anything at all"
        future = call(Collector.get("recorder"))
        assert future.done() and future.result() is None

    def test_synchronous_error_propagates(self, call):
        class Failing:
            def update_push_items(self, items):
                raise RuntimeError("sync failure")

            attach_file = append_file = lambda self, *args: self.update_push_items([])

        Collector.register_backend("failing", Failing)
        with pytest.raises(RuntimeError, match="sync failure"):
            call(Collector.get("failing"))


def test_a_mock_result_is_not_a_future(recorder):
    # A MagicMock has every attribute, add_done_callback included, but its
    # type has none: as in 1.3.0, it is a result, not a future.
    recorder.result = mock.MagicMock()
    future = Collector.get("recorder").update_push_items([])
    assert future.done() and future.result() is None
    assert recorder.result.add_done_callback.call_count == 0


def test_cancelling_the_future_cancels_the_backends(recorder):
    backend_future = Future()
    recorder.result = backend_future
    future = Collector.get("recorder").append_file("log", "line")
    assert future.cancel()
    assert backend_future.cancelled() and future.cancelled()


def test_a_future_the_backend_cannot_cancel_is_not_cancelled(recorder):
    backend_future = Future()
    backend_future.set_running_or_notify_cancel()
    recorder.result = backend_future
    future = Collector.get("recorder").append_file("log", "line")
    assert not future.cancel()
    backend_future.set_result(None)
    assert future.result(timeout=10) is None


def test_a_future_the_backend_cancels_is_cancelled(recorder):
    backend_future = Future()
    recorder.result = backend_future
    future = Collector.get("recorder").append_file("log", "line")
    assert backend_future.cancel()
    assert future.cancelled()


# What the first call of a process imports, run in a fresh interpreter.
FIRST_CALL = """
import pushcollector
collector = pushcollector.Collector.get("local")
collector.update_push_items([{"filename": "a", "state": "PUSHED"}]).result()
collector.append_file("log", "line").result()
"""


def test_the_first_call_imports_only_what_it_needs(tmp_path):
    modules = modules_after(FIRST_CALL, cwd=tmp_path)
    for heavy in (
        "more_executors",
        "concurrent.futures.thread",
        "yaml",
        "jsonschema",
        "requests",
    ):
        assert heavy not in modules


RECORD_AT_EXIT = """
import atexit
import pushcollector

def record():
    collector = pushcollector.Collector.get("local")
    collector.update_push_items([{"filename": "a", "state": "PUSHED"}]).result()
    collector.append_file("log", "at exit").result()
    try:
        collector.update_push_items([{"filename": "a", "state": "DONE"}])
    except Exception as error:
        print(type(error).__name__)

atexit.register(record)
"""


def test_recording_from_an_atexit_handler(tmp_path):
    # Importing concurrent.futures.thread once the interpreter is shutting
    # down raises RuntimeError: the facade must not need it.
    done = subprocess.run(
        [sys.executable, "-c", RECORD_AT_EXIT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "ValidationError\n"
    (run,) = (tmp_path / "artifacts").glob("2*")
    assert (run / "log").read_text() == "at exit"
    assert json.loads((run / "pushitems.jsonl").read_text())["filename"] == "a"


def test_future_completed_from_another_thread(recorder):
    backend_future = Future()
    recorder.result = backend_future
    future = Collector.get("recorder").append_file("log", "line")
    threading.Thread(target=backend_future.set_result, args=(None,)).start()
    assert future.result(timeout=10) is None


class ContextBackend(Recorder):
    def __init__(self):
        super().__init__()
        self.events = []

    def __enter__(self):
        self.events.append("enter")
        return "not the collector"

    def __exit__(self, *exc_info):
        self.events.append(("exit", exc_info[0]))
        return True  # must not swallow the caller's exception


def test_context_manager_calls_backend():
    backend = ContextBackend()
    Collector.register_backend("ctx", lambda: backend)
    collector = Collector.get("ctx")
    with collector as entered:
        assert entered is collector
        entered.update_push_items([]).result()
    assert backend.events == ["enter", ("exit", None)]


def test_context_manager_does_not_swallow_errors():
    backend = ContextBackend()
    Collector.register_backend("ctx", lambda: backend)
    with pytest.raises(KeyError):
        with Collector.get("ctx"):
            raise KeyError("boom")
    assert backend.events == ["enter", ("exit", KeyError)]


def test_context_manager_without_backend_support(recorder):
    collector = Collector.get("recorder")
    with collector as entered:
        assert entered is collector
    with collector:  # reusable
        pass


def test_repr_names_backend(recorder):
    assert "Recorder" in repr(Collector.get("recorder"))


HOSTILE_FILENAMES = [
    "",
    "/etc/passwd",
    "/",
    "//x",
    "..",
    ".",
    "../x",
    "../../x",
    "a/../b",
    "a/..",
    "a/./b",
    "./a",
    "a/.",
    "a//b",
    "a/",
    "a/b/",
    "/a/b",
    "a\0b",
    "\0",
    "a\\b",
    "..\\x",
    "C:\\x",
    "a/b/../../../x",
    ".../../x",
    "a/\0",
    # Lone surrogates: not Unicode text, no backend can encode them.
    "a\udc80",
    "dir/sub/\ud800.log",
    "\udcff/x",
    # Control characters forge log lines and rewrite terminals.
    "a\nb",
    "log\r",
    "\tx",
    "\x1b[31mred",
    "a\x7f",
    "a\x85b",
    "a\x9b2J",
    # Too long for every backend to store.
    "x" * (MAX_COMPONENT_BYTES + 1),
    "é" * (MAX_COMPONENT_BYTES // 2 + 1),
    "a/" + "x" * (MAX_COMPONENT_BYTES + 1) + "/b",
    "/".join(["x" * 99] * 11),
    None,
    42,
    b"bytes",
    ["a"],
    object(),
]


@pytest.mark.parametrize("filename", HOSTILE_FILENAMES)
@pytest.mark.parametrize("method", ["attach_file", "append_file"])
def test_hostile_filenames_are_refused(recorder, method, filename):
    with pytest.raises(ValueError) as error:
        getattr(Collector.get("recorder"), method)(filename, "x")
    assert str(error.value).startswith("invalid filename %r: " % (filename,))
    assert recorder.calls == []


@pytest.mark.parametrize(
    "filename",
    [
        "a",
        ".hidden",
        "a/b/c.txt",
        "...",
        "a b/ü.log",
        "x..y",
        "-",
        "😀 \u00a0\u2028",
        "x" * MAX_COMPONENT_BYTES,
        "é" * (MAX_COMPONENT_BYTES // 2),
        "/".join(["x" * MAX_COMPONENT_BYTES] * 4),
        "/".join(["x"] * (MAX_FILENAME_BYTES // 2)) + "x",
    ],
)
def test_acceptable_filenames(recorder, filename):
    Collector.get("recorder").attach_file(filename, "x").result()
    assert recorder.calls == [("attach_file", filename, b"x")]


@pytest.mark.parametrize(
    "filename, problem",
    [
        ("a\udc80", "must not contain a lone surrogate"),
        ("a\nb", "must not contain a control character: '\\n' at index 1"),
        ("x" * 256, "component 'xxx"),
        ("/".join(["x" * 99] * 11), "must be at most 1024 bytes in UTF-8, not 1099"),
    ],
)
def test_filename_errors_say_what_is_wrong(recorder, filename, problem):
    with pytest.raises(ValueError) as error:
        Collector.get("recorder").attach_file(filename, "x")
    assert str(error.value).startswith("invalid filename %r: %s" % (filename, problem))


def test_exactly_control_characters_and_lone_surrogates_are_refused():
    # Each character of the BMP in a name: those of the categories Cc and
    # Cs are refused, and the backslash; every other one is accepted.
    refused = set()
    for code_point in range(0x10000):
        try:
            checked_filename("a%cb" % code_point)
        except ValueError:
            refused.add(chr(code_point))
    unsafe = {
        chr(code_point)
        for code_point in range(0x10000)
        if unicodedata.category(chr(code_point)) in ("Cc", "Cs")
    }
    assert refused == unsafe | {"\\"}


def test_acceptable_filenames_are_stored_locally(in_tmp_dir):
    # The longest names the facade lets through, attached (through the
    # hidden staging file) and appended, in a directory of the longest.
    collector = Collector.get("local")
    longest = "é" * (MAX_COMPONENT_BYTES // 2)
    filenames = ["x" * MAX_COMPONENT_BYTES, longest + "/" + longest]
    for filename in filenames:
        collector.attach_file(filename, "attached").result()
        collector.append_file(filename, "+").result()
    run = in_tmp_dir / "artifacts" / "latest"
    for filename in filenames:
        assert (run / filename).read_text() == "attached+"


@pytest.mark.parametrize("filename", HOSTILE_FILENAMES)
def test_hostile_filenames_write_nothing_locally(in_tmp_dir, filename):
    collector = Collector.get("local")
    for method in (collector.attach_file, collector.append_file):
        with pytest.raises(ValueError):
            method(filename, "x")
    assert list(in_tmp_dir.iterdir()) == []
