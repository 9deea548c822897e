"""The pytest plugin of pushcollector, registered through ``pytest11``."""

import pytest


@pytest.fixture
def memory_collector():
    """A fresh :class:`~pushcollector.testing.MemoryCollector`, installed as
    the default backend for the duration of the test.

    Code under test calling ``Collector.get()`` records into it; afterwards
    the registry and default backend are restored exactly, even if the test
    failed.
    """
    from pushcollector.testing import memory_collector as installed

    with installed() as collector:
        yield collector
