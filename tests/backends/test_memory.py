import pytest

from pushcollector import Collector
from pushcollector.testing import MemoryCollector

from ..fakes import FakePushItem


def test_memory_is_a_builtin_backend():
    backend = Collector.get("memory")._backend
    assert isinstance(backend, MemoryCollector)
    assert backend is not Collector.get("memory")._backend


def test_items_are_deep_copies_taken_at_call_time():
    backend = MemoryCollector()
    Collector.register_backend("mem", lambda: backend)
    item = {"filename": "a", "state": "PENDING", "extra": {"nested": [1]}}
    Collector.get("mem").update_push_items([item]).result()

    item["state"] = "PUSHED"
    item["extra"]["nested"].append(2)
    assert backend.items == [
        {"filename": "a", "state": "PENDING", "extra": {"nested": [1]}}
    ]


def test_push_items_objects_are_recorded_per_dest():
    backend = MemoryCollector()
    Collector.register_backend("mem", lambda: backend)
    Collector.get("mem").update_push_items([FakePushItem(name="x", dest=["a", "b"])])
    assert [item["dest"] for item in backend.items] == ["a", "b"]


def test_files_attach_replaces_and_append_concatenates():
    backend = MemoryCollector()
    Collector.register_backend("mem", lambda: backend)
    collector = Collector.get("mem")
    collector.append_file("log", "one\n").result()
    collector.append_file("log", b"two\n").result()
    collector.attach_file("report", "long report").result()
    collector.attach_file("report", "short").result()
    assert backend.files == {"log": b"one\ntwo\n", "report": b"short"}


def test_repr_counts_what_it_holds():
    backend = MemoryCollector()
    backend.update_push_items([{"filename": "a", "state": "PUSHED"}])
    backend.attach_file("f", b"")
    assert repr(backend) == "MemoryCollector(<1 items, 1 files>)"


def test_testing_module_has_no_other_lazy_names():
    import pushcollector.testing

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pushcollector.testing.Nope
