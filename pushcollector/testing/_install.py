"""Installing a MemoryCollector as the default backend, and undoing it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._impl.backends.memory import MemoryCollector
from .._impl.collector import Collector, registry_restored


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

    In pytest, the ``memory_collector`` fixture does the same for a test;
    see also :func:`memory_collector_fixture`, and the ini option
    ``pushcollector_memory``, which does it for every test of a project.

    .. versionadded:: 1.4.0
    """
    collector = MemoryCollector()
    with registry_restored():
        Collector.register_backend("memory", lambda: collector)
        Collector.set_default_backend("memory")
        yield collector


def memory_collector_fixture(*, autouse: bool = False):
    """A pytest fixture yielding the test's :class:`MemoryCollector`.

    It is the ``memory_collector`` fixture under the name you assign it to,
    so that a hand-written fake can be replaced in ``conftest.py`` without
    touching a single test. With ``autouse=True`` every test records into
    memory, whether it asks for the fixture or not, and nothing ever writes
    ``./artifacts``.

    Example, in ``conftest.py``::

        from pushcollector.testing import memory_collector_fixture

        fake_collector = memory_collector_fixture(autouse=True)

    Tests then keep using ``fake_collector.items`` and
    ``fake_collector.file_content`` as they did.

    Args:
        autouse: whether the fixture applies to every test in its scope.

    Returns:
        a pytest fixture function; pytest names it after the variable it
        is assigned to.

    .. versionadded:: 1.5.0
    """
    import pytest

    @pytest.fixture(autouse=autouse)
    def fixture(memory_collector):
        return memory_collector

    return fixture
