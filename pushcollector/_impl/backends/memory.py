"""The ``memory`` backend: everything recorded, kept in memory for tests."""

from __future__ import annotations

import json
import threading

# Strict, like the other backends' encoders, though the facade refused
# values that are not JSON already.
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_decode = json.JSONDecoder().decode


class MemoryCollector:
    """A backend that keeps everything it is given, for tests to inspect.

    Registered as ``memory``. Replaces the ``FakeCollector`` that test suites
    of push tools used to write by hand; see :doc:`/testing`.

    Attributes:
        items (list[dict]): every push item recorded, in call order. Each is
            the item as JSON reads it back, made at call time: what the
            ``local`` and ``http`` backends store (a tuple becomes a list, a
            ``str`` or ``int`` subclass a plain one), and a caller mutating
            its dict or PushItem afterwards does not change it.
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
        """Keep copies of the push items, as JSON reads them back."""
        copies = _decode(_encode(items))
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
