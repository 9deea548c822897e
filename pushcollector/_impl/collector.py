"""The Collector interface and the registry of backends."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable

from .backends.dummy import DummyCollector
from .backends.local import LocalCollector

BackendFactory = Callable[[], object]

BACKEND_VARIABLE = "PUSHCOLLECTOR_BACKEND"
ARTIFACTS_DIR_VARIABLE = "PUSHCOLLECTOR_ARTIFACTS_DIR"
BUILTIN_DEFAULT_BACKEND = "local"


def _local_collector_from_environment():
    return LocalCollector(directory=os.environ.get(ARTIFACTS_DIR_VARIABLE) or None)


BUILTIN_BACKENDS: dict[str, BackendFactory] = {
    "local": _local_collector_from_environment,
    "dummy": DummyCollector,
}


class _Registry:
    """Which backend factories exist under which name, and which is default."""

    def __init__(self):
        # Registration and choosing the default must not race: unregistering
        # the default backend also moves the default.
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.factories = dict(BUILTIN_BACKENDS)
            # None: the initial default, from the environment when first needed.
            self.default = None
            self._initial_default = None

    def initial_default(self) -> str:
        if self._initial_default is None:
            self._initial_default = (
                os.environ.get(BACKEND_VARIABLE) or BUILTIN_DEFAULT_BACKEND
            )
        return self._initial_default

    def factory(self, name: str) -> BackendFactory:
        try:
            return self.factories[name]
        except (KeyError, TypeError):
            raise ValueError(
                "No registered pushcollector backend: '%s'" % (name,)
            ) from None

    def default_factory(self) -> BackendFactory:
        if self.default is not None:
            return self.factory(self.default)
        name = self.initial_default()
        if name in self.factories or name == BUILTIN_DEFAULT_BACKEND:
            return self.factory(name)
        raise ValueError(
            "No registered pushcollector backend: '%s' (named by the environment "
            "variable %s)" % (name, BACKEND_VARIABLE)
        )


_REGISTRY = _Registry()


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
            TypeError: if ``content`` is neither text nor bytes-like.
        """
        raise NotImplementedError()

    @classmethod
    def get(cls, backend: str | None = None) -> "Collector":
        """Get a collector for a backend.

        Each call makes a new backend instance with the factory registered
        under the name.

        Args:
            backend: the name of a registered backend, or ``None`` for the
                current default backend. The default is initially the backend
                named by the environment variable ``PUSHCOLLECTOR_BACKEND``,
                or ``"local"`` when that is unset.

        Returns:
            Collector: a collector writing to a new instance of the backend.

        Raises:
            ValueError: if no backend is registered under the name (the
                message names ``PUSHCOLLECTOR_BACKEND`` when the name came
                from there).
        """
        from .facade import CollectorFacade

        with _REGISTRY.lock:
            if backend is None:
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
            name: the name of a registered backend, or ``None`` to return to
                the initial default (``PUSHCOLLECTOR_BACKEND``, or
                ``"local"``).

        Raises:
            ValueError: if no backend is registered under the name.
        """
        with _REGISTRY.lock:
            if name is not None:
                _REGISTRY.factory(name)
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
