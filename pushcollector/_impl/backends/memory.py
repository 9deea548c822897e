"""The ``memory`` backend: everything recorded, kept in memory for tests."""

from __future__ import annotations

import collections
import json
import threading

# A named tuple without typing, which costs every import of pushcollector.
RecordedCall = collections.namedtuple("RecordedCall", "method args items content")
RecordedCall.__doc__ = """One call a :class:`MemoryCollector` received, as the caller made it.

.. versionadded:: 1.5.0
"""
RecordedCall.method.__doc__ = (
    '``"update_push_items"``, ``"attach_file"`` or ``"append_file"``.'
)
RecordedCall.args.__doc__ = """The positional arguments exactly as the code under
test passed them to the collector: the very objects (its list of ``PushItem``
objects, its ``str`` content), not copies."""
RecordedCall.items.__doc__ = """For ``update_push_items``, the push item dicts the
call was converted to (one per destination of a ``PushItem``), copied at call
time; otherwise ``None``."""
RecordedCall.content.__doc__ = """For the file methods, the content as bytes
(``str`` encoded as UTF-8); otherwise ``None``."""

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
        calls (list[RecordedCall]): every call made through
            :meth:`Collector.get() <pushcollector.Collector.get>`, in order,
            with the arguments exactly as the code under test passed them
            and what they were converted to. Calls refused before reaching
            the backend (an invalid push item, say) are not in it.

    One instance may be used from many threads at once.

    .. versionadded:: 1.4.0

    .. versionchanged:: 1.5.0
        Added :attr:`calls` and :attr:`file_content`; appending is linear
        in the size of the file.
    """

    def __init__(self):
        self.items: list[dict] = []
        self.calls: list[RecordedCall] = []
        # The pieces of each file, joined when the file is read: appending
        # must not copy the whole file every time.
        self._pieces: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()

    def __repr__(self):
        return "MemoryCollector(<%d items, %d files>)" % (
            len(self.items),
            len(self._pieces),
        )

    @property
    def files(self) -> dict[str, bytes]:
        """The content of every file by name, in the order first written.

        ``attach_file`` replaces a file's content, ``append_file`` extends
        it. Each access returns a new dict.
        """
        with self._lock:
            for pieces in self._pieces.values():
                if len(pieces) > 1:
                    pieces[:] = [b"".join(pieces)]
            return {name: pieces[0] for name, pieces in self._pieces.items()}

    @property
    def file_content(self) -> dict[str, bytes]:
        """The same as :attr:`files`, under the name hand-written fakes of
        1.3.0 clients used.

        .. versionadded:: 1.5.0
        """
        return self.files

    def calls_to(self, method: str) -> list[RecordedCall]:
        """The calls of one method, in order.

        Args:
            method: ``"update_push_items"``, ``"attach_file"`` or
                ``"append_file"``.

        Example::

            (call,) = memory_collector.calls_to("update_push_items")
            assert all(isinstance(item, PushItem) for item in call.args[0])

        .. versionadded:: 1.5.0
        """
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def update_push_items(self, items):
        """Keep copies of the push items, as JSON reads them back."""
        copies = _decode(_encode(items))
        with self._lock:
            self.items.extend(copies)

    def attach_file(self, filename, content):
        """Keep the file's content, replacing any earlier content."""
        content = bytes(content)
        with self._lock:
            self._pieces[filename] = [content]

    def append_file(self, filename, content):
        """Append to the file's content, creating it if needed."""
        content = bytes(content)
        with self._lock:
            self._pieces.setdefault(filename, []).append(content)

    def _record_call(self, method, args, converted):
        """Keep a call the collector facade passed on to this backend.

        Args:
            method: the name of the method called.
            args: the arguments as the caller passed them to the facade.
            converted: the push item dicts, or the file's content as bytes,
                that the facade passed to the method.
        """
        if method == "update_push_items":
            call = RecordedCall(method, args, _decode(_encode(converted)), None)
        else:
            call = RecordedCall(method, args, None, converted)
        with self._lock:
            self.calls.append(call)
