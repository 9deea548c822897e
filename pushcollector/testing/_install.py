"""Installing a MemoryCollector as the default backend, and undoing it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._impl.backends.memory import MemoryCollector
from .._impl.collector import _REGISTRY, Collector


@contextlib.contextmanager
def memory_collector() -> Iterator[MemoryCollector]:
    """Record into a fresh :class:`MemoryCollector` for the duration of a block.

    Inside the block, ``Collector.get()`` and ``Collector.get("memory")``
    return collectors writing into the yielded instance. Afterwards the
    registry and the default backend are exactly as they were before, even
    if the block raised, whatever it registered or changed meanwhile.

    Example::

        from pushcollector.testing import memory_collector

        class TestPush(unittest.TestCase):
            def test_push_records_items(self):
                with memory_collector() as collector:
                    run_push()
                self.assertEqual(
                    [item["state"] for item in collector.items], ["PUSHED"]
                )

    In pytest, the ``memory_collector`` fixture does the same for a test.

    .. versionadded:: 1.4.0
    """
    collector = MemoryCollector()
    saved = _REGISTRY.snapshot()
    try:
        Collector.register_backend("memory", lambda: collector)
        Collector.set_default_backend("memory")
        yield collector
    finally:
        _REGISTRY.restore(saved)
