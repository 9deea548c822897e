import signal

import pytest

from pushcollector import Collector

# The plugin is loaded here rather than through its pytest11 entry point
# (disabled in setup.cfg), so that coverage is already measuring when it
# imports pushcollector. tests.prerequisites skips the tests that need
# PostgreSQL or Chromium where they are missing, and turns the coverage
# gate off when it does.
pytest_plugins = [
    "pushcollector.testing.pytest_plugin",
    "pytester",
    "tests.prerequisites",
]


@pytest.fixture(autouse=True)
def clean_registry():
    """Every test starts and ends with only the built-in backends."""
    Collector.reset()
    yield
    Collector.reset()


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run the test with a fresh temporary directory as the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Hung(Exception):
    """A test blocked for longer than it could ever need."""


@pytest.fixture
def no_hang():
    """Fail the test, rather than hang the suite, if it blocks for a minute.

    For tests of code that used to block forever (opening a FIFO that has no
    writer): a bound, not a measurement. Works in the main thread, where
    pytest runs tests; the blocked system call is interrupted by SIGALRM.
    """

    def hung(signum, frame):
        raise Hung("blocked for 60 s: would have hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
