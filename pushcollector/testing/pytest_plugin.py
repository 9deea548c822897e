"""The pytest plugin of pushcollector, registered through ``pytest11``.

pytest loads it in every project where pushcollector is installed, so it
imports nothing more until a test asks for one of its fixtures.
"""

import pytest

MEMORY_INI_OPTION = "pushcollector_memory"


def pytest_addoption(parser):
    parser.addini(
        MEMORY_INI_OPTION,
        type="bool",
        default=False,
        help="pushcollector: make a fresh memory backend the default backend "
        "for every test (the memory_collector fixture yields it)",
    )


def pytest_configure(config):
    if config.getini(MEMORY_INI_OPTION):
        config.pluginmanager.register(_MemoryForEveryTest(), "pushcollector-memory")


@pytest.fixture
def memory_collector():
    """A fresh :class:`~pushcollector.testing.MemoryCollector`, installed as
    the default backend for the duration of the test.

    Code under test calling ``Collector.get()`` records into it; afterwards
    the registry and default backend are restored exactly, even if the test
    failed.
    """
    from ._install import memory_collector as installed

    with installed() as collector:
        yield collector


class _MemoryForEveryTest:
    """Registered when ``pushcollector_memory = true`` is set in the ini file."""

    @pytest.fixture(autouse=True)
    def _pushcollector_memory_for_every_test(self, memory_collector):
        return memory_collector
