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


def test_calls_keep_the_objects_the_caller_passed():
    backend = MemoryCollector()
    Collector.register_backend("mem", lambda: backend)
    collector = Collector.get("mem")
    push_items = [
        FakePushItem(name="x", dest=["a", "b"]),
        {"filename": "y", "state": "PUSHED"},
    ]
    text = "log line ✓\n"
    collector.update_push_items(push_items).result()
    collector.append_file("log", text).result()
    collector.attach_file("report", b"bytes").result()

    assert [call.method for call in backend.calls] == [
        "update_push_items",
        "append_file",
        "attach_file",
    ]
    first = backend.calls[0]
    assert first.args[0] is push_items
    assert isinstance(first.args[0][0], FakePushItem)
    assert [(i["filename"], i.get("dest")) for i in first.items] == [
        ("x", "a"),
        ("x", "b"),
        ("y", None),
    ]
    assert first.content is None
    assert backend.calls[1].args == ("log", text)
    assert backend.calls[1].args[1] is text
    assert backend.calls[1].content == text.encode("utf-8")
    assert backend.calls[1].items is None
    assert backend.calls_to("attach_file") == [backend.calls[2]]


def test_call_items_are_copies_taken_at_call_time():
    backend = MemoryCollector()
    Collector.register_backend("mem", lambda: backend)
    item = {"filename": "a", "state": "PENDING"}
    Collector.get("mem").update_push_items([item]).result()
    item["state"] = "PUSHED"
    assert backend.calls[0].items == [{"filename": "a", "state": "PENDING"}]
    assert backend.calls[0].args[0][0] is item


def test_refused_calls_are_not_recorded():
    backend = MemoryCollector()
    Collector.register_backend("mem", lambda: backend)
    with pytest.raises(Exception):
        Collector.get("mem").update_push_items([{"filename": "a"}])
    with pytest.raises(ValueError):
        Collector.get("mem").attach_file("../escape", b"")
    assert backend.calls == [] and backend.items == [] and backend.files == {}


def test_file_content_is_the_name_hand_written_fakes_used():
    backend = MemoryCollector()
    backend.append_file("log", b"one")
    backend.append_file("log", b"two")
    assert backend.file_content == backend.files == {"log": b"onetwo"}


def test_many_appends_cost_what_they_append():
    # Each append copying the file so far would copy 20 GB here.
    backend = MemoryCollector()
    chunk = b"x" * 1023 + b"\n"
    for _ in range(200_000):
        backend.append_file("big.log", chunk)
    assert backend.files["big.log"] == chunk * 200_000
    assert backend.files["big.log"] is backend.files["big.log"]
