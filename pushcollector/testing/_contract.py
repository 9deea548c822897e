"""A pytest test class checking that a backend keeps pushcollector's promises."""

from __future__ import annotations

import copy
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import pytest

from .._impl.collector import Collector
from .._impl.schema import push_item_schema

# Seconds to wait for any one future returned by a collector.
RESULT_TIMEOUT = 60

_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

_THREADS = 8
_CALLS_PER_THREAD = 50
_ITEMS_PER_CALL = 20
_CHUNK_SIZE = 256


class _PushItem(NamedTuple):
    """Shaped like pushsource's ``PushItem``, which the kit must not need."""

    name: str
    state: str = "PENDING"
    src: str | None = None
    dest: tuple = ()
    md5sum: str | None = None
    sha256sum: str | None = None
    origin: str | None = None
    build: str | None = None
    signing_key: str | None = None


def _schema_states() -> list[str]:
    return push_item_schema()["properties"]["state"]["enum"]


def _assert_resolved(*futures):
    """Assert that every future succeeds with ``None``."""
    for future in futures:
        assert future.result(timeout=RESULT_TIMEOUT) is None


def _concurrent_batch(thread: int, call: int) -> list[dict]:
    return [
        {
            "filename": "thread-%d/call-%d/item-%d" % (thread, call, position),
            "state": "PENDING",
            "thread": thread,
            "call": call,
            "position": position,
        }
        for position in range(_ITEMS_PER_CALL)
    ]


def _concurrent_chunk(thread: int, call: int) -> bytes:
    return ("thread %d, call %d;" % (thread, call)).encode().ljust(_CHUNK_SIZE, b".")


class BackendContract:
    """The tests every pushcollector backend should pass.

    Subclass it in your backend's test suite under a name pytest collects,
    and implement :meth:`make_backend`::

        from pushcollector.testing import BackendContract

        class TestMyBackendContract(BackendContract):
            def make_backend(self):
                return MyBackend(url="http://localhost:8080")

            def stored_items(self, backend):
                return backend.fetch_all_items()

    Each test registers a new backend instance under a unique temporary
    name, records through ``Collector.get(name)`` exactly as a push tool
    would (so input reaches the backend validated and converted, as in
    production), checks that every returned future resolves to ``None``,
    and unregisters the backend again. Tests run with a fresh temporary
    directory as the working directory.

    The read-back hooks :meth:`stored_items` and :meth:`stored_file` let the
    tests check what the backend kept. A backend that cannot be read back
    need not implement them: the tests then still check that every write
    succeeds, and skip only the comparisons of what was stored.

    Attributes:
        large_batch_size (int): how many push items the large batch test
            records in one call. Lower it for a backend too slow for the
            default of 20,000 in a test suite; ``update_push_items`` is
            documented to accept tens of thousands at once.
    """

    large_batch_size = 20_000

    def make_backend(self):
        """Make the backend under test.

        Must be implemented by subclasses.

        Returns:
            A new backend instance each call, in the same state as the
            instances a push tool would get from its registered factory. It
            is created with the temporary working directory of the test as
            the current directory.

        Raises:
            NotImplementedError: unless a subclass implements it.
        """
        raise NotImplementedError("implement make_backend() to return a backend")

    def stored_items(self, backend):
        """Read back the push items a backend holds.

        Override this if the backend can be read back. The default returns
        ``None``: push items cannot be read back.

        Args:
            backend: an instance returned by :meth:`make_backend`, after the
                test recorded into it and waited for every future.

        Returns:
            list[dict] | None: every push item dict the backend holds, in the
            order recorded (an empty list when it holds none), or ``None`` if
            they cannot be read back.
        """
        return None

    def stored_file(self, backend, filename):
        """Read back the content of a file a backend holds.

        Override this if the backend can be read back. The default returns
        ``None``: files cannot be read back.

        Args:
            backend: an instance returned by :meth:`make_backend`, after the
                test recorded into it and waited for every future.
            filename: the name the file was recorded under, possibly
                containing ``/``.

        Returns:
            bytes | None: the file's content, or ``None`` if files cannot be
            read back. If files can be read back but this one does not
            exist, raise an exception (``KeyError``, ``FileNotFoundError``…)
            so the test fails.
        """
        return None

    @pytest.fixture
    def registered(self, tmp_path, monkeypatch):
        """A new backend registered under a unique name, as ``(name, backend)``."""
        monkeypatch.chdir(tmp_path)
        backend = self.make_backend()
        name = "backend-contract-%s" % uuid.uuid4().hex
        Collector.register_backend(name, lambda: backend)
        try:
            yield name, backend
        finally:
            Collector.register_backend(name, None)

    @pytest.fixture
    def collector(self, registered):
        """A collector of a new registered backend, as ``(collector, backend)``."""
        name, backend = registered
        return Collector.get(name), backend

    def _assert_items_stored(self, backend, expected):
        """Assert the backend holds exactly the expected items, if readable."""
        stored = self.stored_items(backend)
        if stored is not None:
            assert stored == expected

    def _assert_file_stored(self, backend, filename, expected):
        """Assert the backend holds the expected file content, if readable."""
        stored = self.stored_file(backend, filename)
        if stored is not None:
            assert stored == expected

    def test_empty_batch(self, collector):
        """Recording no push items succeeds and stores none."""
        collector, backend = collector
        _assert_resolved(collector.update_push_items([]))
        self._assert_items_stored(backend, [])

    def test_large_batch(self, collector):
        """A batch of ``large_batch_size`` items is stored whole, in order."""
        collector, backend = collector
        items = [
            {"filename": "large/file-%d" % index, "state": "PUSHED", "index": index}
            for index in range(self.large_batch_size)
        ]
        _assert_resolved(collector.update_push_items(items))
        self._assert_items_stored(backend, items)

    def test_all_field_types(self, collector):
        """Every schema field, every state and extra nested fields survive."""
        collector, backend = collector
        items = [
            {
                "filename": "dir/fïlé-%s.rpm" % state,
                "state": state,
                "src": "/srv/source/fïlé.rpm",
                "dest": "destination-repo",
                "checksums": {"md5": _MD5, "sha256": _SHA256},
                "origin": "RHBA-2024:0001",
                "build": "fïlé-1.0-1.el9",
                "signing_key": "FD431D51",
                "tool-specific": {
                    "nested": [1, 2.5, True, None, {"deeper": ["ü", "日本語"]}],
                    "empty": {},
                },
                "note ✓": "ünïcödé ✓ 日本語",
            }
            for state in _schema_states()
        ]
        _assert_resolved(collector.update_push_items(items))
        self._assert_items_stored(backend, items)

    def test_push_item_objects(self, collector):
        """A ``PushItem`` is stored as one dict per destination."""
        collector, backend = collector
        items = [
            _PushItem(
                name="file.rpm",
                state="PUSHED",
                src="/srv/file.rpm",
                dest=("repo-1", "repo-2"),
                md5sum=_MD5,
                sha256sum=_SHA256,
                origin="RHBA-2024:0001",
                build="file-1.0-1",
                signing_key="FD431D51",
            ),
            _PushItem(name="manifest"),
        ]
        pushed = {
            "filename": "file.rpm",
            "state": "PUSHED",
            "src": "/srv/file.rpm",
            "checksums": {"md5": _MD5, "sha256": _SHA256},
            "origin": "RHBA-2024:0001",
            "build": "file-1.0-1",
            "signing_key": "FD431D51",
        }
        expected = [
            dict(pushed, dest="repo-1"),
            dict(pushed, dest="repo-2"),
            {
                "filename": "manifest",
                "state": "PENDING",
                "src": None,
                "dest": None,
                "checksums": None,
                "origin": None,
                "build": None,
                "signing_key": None,
            },
        ]
        _assert_resolved(collector.update_push_items(items))
        self._assert_items_stored(backend, expected)

    def test_attach_text(self, collector):
        """Attached text is stored encoded as UTF-8."""
        collector, backend = collector
        text = "Pushed fïlé.rpm ✓ 日本語\n"
        _assert_resolved(collector.attach_file("text.log", text))
        self._assert_file_stored(backend, "text.log", text.encode("utf-8"))

    def test_attach_binary(self, collector):
        """Attached bytes are stored unchanged, whatever their values."""
        collector, backend = collector
        content = bytes(range(256))
        _assert_resolved(collector.attach_file("binary.dat", content))
        self._assert_file_stored(backend, "binary.dat", content)

    def test_append_ordering(self, collector):
        """Appended text and bytes are stored in the order appended."""
        collector, backend = collector
        pieces = ["first line\n", b"second \xff\x00 bytes\n", "thïrd ✓\n", b"fourth"]
        futures = [collector.append_file("ordered.log", piece) for piece in pieces]
        _assert_resolved(*futures)
        self._assert_file_stored(
            backend,
            "ordered.log",
            b"first line\nsecond \xff\x00 bytes\nth\xc3\xafrd \xe2\x9c\x93\nfourth",
        )

    def test_attach_overwrites(self, collector):
        """Attaching replaces a longer file's content entirely."""
        collector, backend = collector
        _assert_resolved(collector.attach_file("replaced.txt", b"long content " * 100))
        _assert_resolved(collector.attach_file("replaced.txt", "short"))
        self._assert_file_stored(backend, "replaced.txt", b"short")

    def test_attach_then_append(self, collector):
        """Appending extends an attached file."""
        collector, backend = collector
        _assert_resolved(collector.attach_file("grown.log", b"attached\n"))
        _assert_resolved(collector.append_file("grown.log", "appended\n"))
        self._assert_file_stored(backend, "grown.log", b"attached\nappended\n")

    def test_subdirectories(self, collector):
        """Filenames with ``/`` are stored under their full names."""
        collector, backend = collector
        _assert_resolved(
            collector.attach_file("a/b/c.txt", b"attached"),
            collector.append_file("a/b/d/e.log", b"appended"),
            collector.attach_file("a/top.txt", b"top"),
        )
        self._assert_file_stored(backend, "a/b/c.txt", b"attached")
        self._assert_file_stored(backend, "a/b/d/e.log", b"appended")
        self._assert_file_stored(backend, "a/top.txt", b"top")

    def test_context_manager(self, registered):
        """A collector used in ``with`` records and exits cleanly."""
        name, backend = registered
        item = {"filename": "in-with.rpm", "state": "PUSHED"}
        collector = Collector.get(name)
        with collector as entered:
            assert entered is collector
            _assert_resolved(
                entered.update_push_items([item]),
                entered.attach_file("in-with.log", b"recorded in with"),
            )
        self._assert_items_stored(backend, [item])
        self._assert_file_stored(backend, "in-with.log", b"recorded in with")

    def test_concurrent_calls(self, collector):
        """Calls from many threads at once are each stored whole, once."""
        collector, backend = collector
        start = threading.Barrier(_THREADS)

        def record(thread):
            start.wait(timeout=RESULT_TIMEOUT)
            futures = []
            for call in range(_CALLS_PER_THREAD):
                batch = _concurrent_batch(thread, call)
                chunk = _concurrent_chunk(thread, call)
                futures.append(collector.update_push_items(batch))
                futures.append(collector.append_file("concurrent.log", chunk))
            return futures

        with ThreadPoolExecutor(_THREADS) as executor:
            per_thread = list(executor.map(record, range(_THREADS)))
        for futures in per_thread:
            _assert_resolved(*futures)

        calls = [
            (thread, call)
            for thread in range(_THREADS)
            for call in range(_CALLS_PER_THREAD)
        ]
        self._assert_batches_stored_whole(backend, calls)
        self._assert_chunks_stored_whole(backend, calls)

    def _assert_batches_stored_whole(self, backend, calls):
        """Assert each call's items are stored once, together, if readable."""
        stored = self.stored_items(backend)
        if stored is None:
            return
        assert len(stored) == len(calls) * _ITEMS_PER_CALL
        stored_calls = []
        for start in range(0, len(stored), _ITEMS_PER_CALL):
            first = stored[start]
            call = (first["thread"], first["call"])
            assert stored[start : start + _ITEMS_PER_CALL] == _concurrent_batch(*call)
            stored_calls.append(call)
        assert sorted(stored_calls) == calls

    def _assert_chunks_stored_whole(self, backend, calls):
        """Assert each call's chunk is appended once and unbroken, if readable."""
        stored = self.stored_file(backend, "concurrent.log")
        if stored is None:
            return
        assert len(stored) == len(calls) * _CHUNK_SIZE
        chunks = [
            stored[start : start + _CHUNK_SIZE]
            for start in range(0, len(stored), _CHUNK_SIZE)
        ]
        assert sorted(chunks) == sorted(_concurrent_chunk(*call) for call in calls)

    def test_futures_resolve_to_none(self, collector):
        """Every method returns a future resolving to ``None``."""
        collector, _ = collector
        futures = [
            collector.update_push_items([{"filename": "f", "state": "PENDING"}]),
            collector.attach_file("attached.txt", "text"),
            collector.append_file("appended.txt", b"bytes"),
        ]
        for future in futures:
            assert isinstance(future, Future)
        _assert_resolved(*futures)

    def test_data_captured_at_call_time(self, collector):
        """Changing recorded data afterwards changes nothing stored."""
        collector, backend = collector
        items = [
            {
                "filename": "captured.rpm",
                "state": "PENDING",
                "checksums": {"md5": _MD5},
                "extra": {"list": [1, 2]},
            }
        ]
        expected = copy.deepcopy(items)
        content = bytearray(b"as attached")
        _assert_resolved(
            collector.update_push_items(items),
            collector.attach_file("captured.txt", content),
        )

        items[0]["state"] = "PUSHED"
        items[0]["checksums"]["sha256"] = _SHA256
        items[0]["extra"]["list"].append(3)
        items.append({"filename": "later.rpm", "state": "PUSHED"})
        content[:] = b"changed afterwards"

        self._assert_items_stored(backend, expected)
        self._assert_file_stored(backend, "captured.txt", b"as attached")
