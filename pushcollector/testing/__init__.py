"""Helpers for testing code that records through pushcollector.

* :class:`MemoryCollector`, a backend keeping everything in memory, and
  :class:`RecordedCall`, one call it received;
* :func:`memory_collector`, a context manager making a fresh
  :class:`MemoryCollector` the default backend (the pytest fixture of the
  same name does the same for a test);
* :func:`memory_collector_fixture`, a pytest fixture of that under a name of
  your choosing, to replace a hand-written fake without touching its tests;
* :class:`BackendContract`, a pytest test class that checks a backend
  behaves as pushcollector promises.

Each is imported when first used: pytest loads this package's plugin in
every project where pushcollector is installed.
"""

from .._impl.lazy import lazy_attributes

_LAZY_NAMES = {
    "BackendContract": "._contract",
    "MemoryCollector": ".._impl.backends.memory",
    "RecordedCall": ".._impl.backends.memory",
    "memory_collector": "._install",
    "memory_collector_fixture": "._install",
}

__all__ = sorted(_LAZY_NAMES)

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY_NAMES)
