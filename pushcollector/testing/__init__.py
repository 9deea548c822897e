"""Helpers for testing code that records through pushcollector.

* :class:`MemoryCollector`, a backend keeping everything in memory;
* :func:`memory_collector`, a context manager making a fresh
  :class:`MemoryCollector` the default backend (the pytest fixture of the
  same name does the same for a test);
* :class:`BackendContract`, a pytest test class that checks a backend
  behaves as pushcollector promises (imports pytest when first used).
"""

from .._impl.backends.memory import MemoryCollector
from ._install import memory_collector

__all__ = ["BackendContract", "MemoryCollector", "memory_collector"]


def __getattr__(name):
    # The contract needs pytest, which unittest users may not have.
    if name == "BackendContract":
        from ._contract import BackendContract

        return BackendContract
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
