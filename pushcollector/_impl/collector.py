"""The Collector interface and the registry of backends."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator

from .backends.dummy import DummyCollector
from .backends.local import LocalCollector
from .environment import BACKEND
from .process_run import start_new_run

BackendFactory = Callable[[], object]

ENTRY_POINT_GROUP = "pushcollector.backends"

LOG = logging.getLogger("pushcollector")


def _memory_collector():
    # Imported when first used: most processes never record into memory.
    from .backends.memory import MemoryCollector

    return MemoryCollector()


def _http_collector_from_environment():
    # Imported when first used: requests and the transport cost start-up
    # time that a push recording locally need not pay.
    from .backends.http import HttpCollector

    return HttpCollector.from_environment()


def _sql_collector_from_environment():
    from .backends.sql import SqlCollector

    return SqlCollector.from_environment()


BUILTIN_BACKENDS: dict[str, BackendFactory] = {
    "local": LocalCollector.from_environment,
    "dummy": DummyCollector,
    "http": _http_collector_from_environment,
    "memory": _memory_collector,
    "sql": _sql_collector_from_environment,
}


class _Registry:
    """Which backend factories exist under which name, and which is default.

    Backends of installed plugins (entry points in the group
    ``pushcollector.backends``) are discovered the first time a name is
    looked up that is not registered, so importing pushcollector stays cheap.
    """

    def __init__(self):
        self.new_locks()
        self.reset()

    def new_locks(self):
        """Make the registry's locks; again in a forked child, where a thread
        of the parent may have been holding them."""
        # Registration and choosing the default must not race: unregistering
        # the default backend also moves the default. Held only for moments,
        # never while plugins are imported.
        self.lock = threading.Lock()
        # Held while plugins are imported, so that they are imported once;
        # reentrant, because a plugin may look up backends as it loads.
        self._discovery_lock = threading.RLock()
        self._discovering = False

    def reset(self):
        with self.lock:
            self.factories = dict(BUILTIN_BACKENDS)
            # None: the initial default, from the environment when first needed.
            self.default = None
            self._initial_default = None
            self._plugins_discovered = False
            self._plugin_errors = {}

    def snapshot(self) -> tuple:
        """Everything reset() or registration may change, to restore later."""
        with self.lock:
            return (
                dict(self.factories),
                self.default,
                self._initial_default,
                self._plugins_discovered,
                dict(self._plugin_errors),
            )

    def restore(self, snapshot: tuple) -> None:
        with self.lock:
            (
                factories,
                self.default,
                self._initial_default,
                self._plugins_discovered,
                plugin_errors,
            ) = snapshot
            self.factories = dict(factories)
            self._plugin_errors = dict(plugin_errors)

    def initial_default(self) -> str:
        if self._initial_default is None:
            self._initial_default = BACKEND.get()
        return self._initial_default

    def factory(self, name: str) -> BackendFactory:
        failure = None
        if isinstance(name, str):
            with self.lock:
                factory = self.factories.get(name)
                discovered = self._plugins_discovered
            if factory is None and not discovered:
                self._discover_plugins()
                with self.lock:
                    factory = self.factories.get(name)
            if factory is not None:
                return factory
            failure = self._plugin_errors.get(name)
        detail = "; its plugin failed to load: %s" % failure if failure else ""
        raise ValueError("No registered pushcollector backend: '%s'%s" % (name, detail))

    def default_factory(self) -> BackendFactory:
        with self.lock:
            default = self.default
            name = self.initial_default() if default is None else None
        if default is not None:
            return self.factory(default)
        try:
            return self.factory(name)
        except ValueError as error:
            if name == BACKEND.default:
                raise
            raise ValueError(
                "%s (named by the environment variable %s)" % (error, BACKEND.name)
            ) from None

    def _discover_plugins(self):
        with self._discovery_lock:
            # Done meanwhile by another thread, or being done by this one (a
            # plugin looking up a backend as it loads).
            if self._plugins_discovered or self._discovering:
                return
            self._discovering = True
            try:
                loaded, errors = _load_plugins()
            finally:
                self._discovering = False
            with self.lock:
                for name, factory in loaded.items():
                    # Explicit registrations (and built-ins) win over plugins.
                    self.factories.setdefault(name, factory)
                self._plugin_errors.update(errors)
                self._plugins_discovered = True


def _load_plugins():
    """The factories of installed plugins by name, and the errors of those
    that failed to load."""
    loaded, errors = {}, {}
    for entry_point in _backend_entry_points():
        try:
            factory = entry_point.load()
            if not callable(factory):
                raise TypeError("%r is not callable" % (factory,))
        # SystemExit too: one plugin exiting must not hide the plugins after
        # it. KeyboardInterrupt ends discovery, to be tried again.
        except (Exception, SystemExit) as error:
            LOG.warning(
                "pushcollector backend %r from %s failed to load: %s",
                entry_point.name,
                entry_point.value,
                error,
            )
            errors[entry_point.name] = "%s: %s" % (type(error).__name__, error)
            continue
        loaded.setdefault(entry_point.name, factory)
    return loaded, errors


def _backend_entry_points():
    # Imported here: importlib.metadata would double the import time of
    # pushcollector, and most processes never look for plugins.
    import importlib.metadata

    entry_points = importlib.metadata.entry_points()
    if hasattr(entry_points, "select"):
        return entry_points.select(group=ENTRY_POINT_GROUP)
    return entry_points.get(ENTRY_POINT_GROUP, [])  # pragma: no cover (3.9)


_REGISTRY = _Registry()
os.register_at_fork(after_in_child=_REGISTRY.new_locks)


@contextlib.contextmanager
def registry_restored() -> Iterator[None]:
    """Undo, on leaving the block, whatever it registered or changed.

    The backends registered and the default backend are restored exactly as
    they were before the block, even if it raised.
    """
    saved = _REGISTRY.snapshot()
    try:
        yield
    finally:
        _REGISTRY.restore(saved)


class Collector:
    """A collector of push item states and log files.

    This class is the interface every backend offers. Do not construct it:
    call :meth:`Collector.get` for a collector of the backend you want (or of
    the default one), and use the three methods below on what it returns.

    A backend is any object with ``update_push_items``, ``attach_file`` and
    ``append_file`` methods taking the arguments documented here; it may
    subclass :class:`Collector` or not. It may also implement ``__enter__``
    and ``__exit__``; the collector returned by :meth:`get` calls them when
    used in a ``with`` statement (possibly more than once, so a backend that
    cannot be re-entered should say so in its own documentation).

    A backend method may return a :class:`~concurrent.futures.Future` for
    work it completes in the background, or anything else when the work is
    already done. Callers always receive a future that resolves to ``None``
    once the work is done, or fails with the error of the backend's future.
    An exception the backend raises directly propagates from the call.
    """

    def __enter__(self) -> "Collector":
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        return None

    def update_push_items(self, items: Iterable):
        """Record the current state of one or more push items.

        Args:
            items: any number of push items (zero to tens of thousands at
                once), each either a ``dict`` conforming to the
                :doc:`push item schema </schema>`, or a pushsource
                ``PushItem`` (or any object with its attributes), which is
                recorded once per destination.

        Returns:
            Future: resolved with ``None`` once the items are recorded.

        Raises:
            jsonschema.ValidationError: if any item does not conform to the
                schema. Nothing from the call is recorded.
            PushItemValueError: if any item holds a value that is not JSON
                that reads back the same, at any depth: a value of another
                type (``set``, ``bytes``...), NaN or an infinity, a string
                with a lone surrogate, a ``dict`` key that is not a ``str``,
                an integer beyond 64 bits, a circular reference or nesting
                deeper than 100. It is a :class:`TypeError` and a
                :class:`ValueError`. Nothing from the call is recorded,
                whatever the backend; see :doc:`/schema`.
            TypeError: if ``items`` is a single ``dict`` or string rather
                than a collection of push items.
            AttributeError: if an item is neither a ``dict`` nor has the
                attributes of a ``PushItem``.
        """
        raise NotImplementedError()

    def attach_file(self, filename: str, content):
        """Store a file, replacing any earlier file of the same name.

        Args:
            filename: the name of the file; it may contain ``/`` to place
                it in a subdirectory.
            content: the file's content as ``bytes`` (or any bytes-like
                object), or ``str``, which is stored encoded as UTF-8.

        Returns:
            Future: resolved with ``None`` once the file is stored.

        Raises:
            ValueError: if ``filename`` is not a relative path every backend
                can store: empty, absolute, with ``.``, ``..`` or empty
                components, a backslash, a control character or a lone
                surrogate, or longer than 1024 bytes (200 for a component)
                in UTF-8; see :ref:`filenames`. Nothing is written.
            TypeError: if ``content`` is neither text nor bytes-like.
        """
        raise NotImplementedError()

    def append_file(self, filename: str, content):
        """Append content to a file, creating the file if needed.

        Useful for log files written a piece at a time.

        Args:
            filename: as for :meth:`attach_file`.
            content: as for :meth:`attach_file`.

        Returns:
            Future: resolved with ``None`` once the content is appended.

        Raises:
            ValueError: as for :meth:`attach_file`.
            TypeError: if ``content`` is neither text nor bytes-like.
        """
        raise NotImplementedError()

    @classmethod
    def get(cls, backend: str | None = None) -> "Collector":
        """Get a collector for a backend.

        Each call makes a new backend instance with the factory registered
        under the name.

        Args:
            backend: the name of a registered backend, or ``None`` (or
                ``""``, as in 1.3.0) for the current default backend. The
                default is initially the backend named by the environment
                variable ``PUSHCOLLECTOR_BACKEND``, or ``"local"`` when that
                is unset.

        Returns:
            Collector: a collector writing to a new instance of the backend.

        Raises:
            ValueError: if no backend is registered under the name (the
                message names ``PUSHCOLLECTOR_BACKEND`` when the name came
                from there).
        """
        from .facade import CollectorFacade

        if backend is None or backend == "":
            factory = _REGISTRY.default_factory()
        else:
            factory = _REGISTRY.factory(backend)
        return CollectorFacade(factory())

    @classmethod
    def register_backend(cls, name: str, factory: BackendFactory | None) -> None:
        """Register, replace or remove a backend.

        Args:
            name: the name under which :meth:`get` finds the backend.
            factory: a callable returning a new backend instance each time
                it is called (a backend class is such a callable), or
                ``None`` to unregister the backend. Unregistering the current
                default backend makes the initial default the default again.

        Raises:
            TypeError: if ``name`` is not a string, or ``factory`` is neither
                callable nor ``None``.
        """
        if not isinstance(name, str):
            raise TypeError("backend name must be a str, got: %r" % (name,))
        if factory is not None and not callable(factory):
            raise TypeError("expected None or callable, got: %r" % (factory,))

        with _REGISTRY.lock:
            if factory is not None:
                _REGISTRY.factories[name] = factory
                return
            _REGISTRY.factories.pop(name, None)
            if _REGISTRY.default == name:
                _REGISTRY.default = None

    @classmethod
    def set_default_backend(cls, name: str | None) -> None:
        """Choose the backend :meth:`get` uses when given no name.

        Args:
            name: the name of a registered backend, or ``None`` (or ``""``,
                as in 1.3.0) to return to the initial default
                (``PUSHCOLLECTOR_BACKEND``, or ``"local"``).

        Raises:
            ValueError: if no backend is registered under the name.
        """
        if name == "":
            name = None
        if name is not None:
            _REGISTRY.factory(name)
        with _REGISTRY.lock:
            _REGISTRY.default = name

    @classmethod
    def reset(cls) -> None:
        """Restore the built-in backends and the initial default backend.

        Backends registered since are forgotten, and ``PUSHCOLLECTOR_BACKEND``
        is read again when next needed. Meant for test suites that must not
        leak one test's backends into the next.

        .. versionadded:: 1.4.0
        """
        _REGISTRY.reset()

    @classmethod
    def new_run(cls) -> None:
        """Start a new run: collectors got from now on record into it.

        A process is one push, so all the collectors it gets record into one
        run (one run directory of the ``local`` backend, one ``run_id`` of
        the ``http`` backend), whichever library got them. A process that
        records several pushes, one after the other, calls this between
        them. Collectors got before keep recording into their run.

        Example::

            for push in pushes:
                Collector.new_run()
                run_push(push)  # everything it records is one run

        .. versionadded:: 1.5.0
        """
        start_new_run()
