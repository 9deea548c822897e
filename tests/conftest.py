import pytest

from pushcollector import Collector


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
