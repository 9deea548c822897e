import pytest

from pushcollector import Collector

# The plugin is loaded here rather than through its pytest11 entry point
# (disabled in setup.cfg), so that coverage is already measuring when it
# imports pushcollector.
pytest_plugins = ["pushcollector.testing.pytest_plugin", "pytester"]


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
