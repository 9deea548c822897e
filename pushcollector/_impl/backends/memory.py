"""The ``memory`` backend: everything recorded, kept in memory for tests."""

from __future__ import annotations

import copy
import threading


class MemoryCollector:
    """A backend that keeps everything it is given, for tests to inspect.

    Registered as ``memory``. Replaces the ``FakeCollector`` that test suites
    of push tools used to write by hand; see :doc:`/testing`.

    Attributes:
        items (list[dict]): every push item recorded, in call order. Each is
            a deep copy taken at call time, so a caller mutating its dict or
            PushItem afterwards does not change what was recorded.
        files (dict[str, bytes]): the content of every file by name;
            ``attach_file`` replaces it, ``append_file`` extends it.

    One instance may be used from many threads at once.

    .. versionadded:: 1.4.0
    """

    def __init__(self):
        self.items: list[dict] = []
        self.files: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self):
        return "MemoryCollector(<%d items, %d files>)" % (
            len(self.items),
            len(self.files),
        )

    def update_push_items(self, items):
        """Keep deep copies of the push items."""
        copies = copy.deepcopy(items)
        with self._lock:
            self.items.extend(copies)

    def attach_file(self, filename, content):
        """Keep the file's content, replacing any earlier content."""
        with self._lock:
            self.files[filename] = bytes(content)

    def append_file(self, filename, content):
        """Append to the file's content, creating it if needed."""
        with self._lock:
            self.files[filename] = self.files.get(filename, b"") + content
