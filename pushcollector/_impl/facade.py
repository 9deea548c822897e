"""What Collector.get() returns: the one place that checks and converts input.

Backends receive validated push item dicts and bytes (by the rules of
:mod:`.inputs`), and may return a future or anything else; the facade turns
every outcome into a Future of None.
"""

from __future__ import annotations

from concurrent.futures import Future

from .collector import Collector
from .inputs import checked_filename, content_bytes, push_item_dicts


def as_future(result) -> Future:
    """A Future of None for a backend's result, following a future it returned.

    A result is a future when its type has an ``add_done_callback`` method:
    asking the instance would take any ``unittest.mock.MagicMock`` returned
    by a mocked backend for a future that never completes.

    Plain :class:`concurrent.futures.Future` objects keep more_executors and
    :mod:`concurrent.futures.thread` unimported: the latter registers an exit
    hook, which fails once the interpreter is shutting down, so recording
    from an :mod:`atexit` handler would fail.
    """
    if callable(getattr(type(result), "add_done_callback", None)):
        future = _FollowingFuture(result)
        result.add_done_callback(future.follow)
        return future
    future = Future()
    future.set_result(None)
    return future


class _FollowingFuture(Future):
    """Resolves to None when a backend's future does, or fails with its error.

    Cancelling it cancels the backend's future, and succeeds only if that
    does: only the backend knows whether its work can still be stopped.
    """

    def __init__(self, backend_future):
        super().__init__()
        self._backend_future = backend_future

    def cancel(self) -> bool:
        if not self._backend_future.cancel():
            return False
        return super().cancel()

    def follow(self, backend_future) -> None:
        if backend_future.cancelled():
            super().cancel()
            return
        error = backend_future.exception()
        if error is None:
            self.set_result(None)
        else:
            self.set_exception(error)


class CollectorFacade(Collector):
    """The collector handed to callers, wrapping one backend instance.

    Also known as ``pushcollector._impl.proxy.CollectorProxy``, its name in
    1.3.0, which test suites patch.
    """

    __slots__ = ("_backend", "_record_call")

    def __init__(self, backend):
        self._backend = backend
        # The memory backend also keeps what the caller passed, unconverted,
        # for tests to inspect; other backends see only converted input. Asked
        # of the type, so that a MagicMock posing as a backend has none.
        self._record_call = (
            backend._record_call if hasattr(type(backend), "_record_call") else None
        )

    def __repr__(self):
        return "<pushcollector.Collector for %r>" % (self._backend,)

    def __enter__(self):
        enter = getattr(self._backend, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        exit_ = getattr(self._backend, "__exit__", None)
        if exit_ is not None:
            exit_(exc_type, exc_value, traceback)

    def update_push_items(self, items):
        dicts = push_item_dicts(items)
        result = self._backend.update_push_items(dicts)
        if self._record_call is not None:
            self._record_call("update_push_items", (items,), dicts)
        return as_future(result)

    def attach_file(self, filename, content):
        return self._file_call("attach_file", filename, content)

    def append_file(self, filename, content):
        return self._file_call("append_file", filename, content)

    def _file_call(self, method, filename, content):
        checked = checked_filename(filename)
        data = content_bytes(content, checked)
        result = getattr(self._backend, method)(checked, data)
        if self._record_call is not None:
            self._record_call(method, (filename, content), data)
        return as_future(result)
