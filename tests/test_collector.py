import subprocess
import sys
import threading

import pytest

from pushcollector import Collector, LocalCollector
from pushcollector._impl.backends.dummy import DummyCollector


class RecordingBackend:
    instances = []

    def __init__(self):
        self.items = []
        RecordingBackend.instances.append(self)

    def update_push_items(self, items):
        self.items.extend(items)

    def attach_file(self, filename, content):
        pass

    def append_file(self, filename, content):
        pass


def backend_of(collector):
    return collector._backend


def test_default_backend_is_local(in_tmp_dir):
    assert isinstance(backend_of(Collector.get()), LocalCollector)


def test_get_by_name():
    assert isinstance(backend_of(Collector.get("dummy")), DummyCollector)


def test_get_returns_a_collector_with_a_new_backend_each_call():
    first, second = Collector.get("dummy"), Collector.get("dummy")
    assert isinstance(first, Collector)
    assert backend_of(first) is not backend_of(second)


@pytest.mark.parametrize("name", ["nope", 42, ["x"]])
def test_get_unknown_backend(name):
    with pytest.raises(ValueError) as error:
        Collector.get(name)
    assert "No registered pushcollector backend: '%s'" % (name,) in str(error.value)


def test_register_backend_is_used_by_get():
    Collector.register_backend("recording", RecordingBackend)
    Collector.get("recording").update_push_items(
        [{"filename": "f", "state": "PUSHED"}]
    ).result()
    assert RecordingBackend.instances[-1].items == [
        {"filename": "f", "state": "PUSHED"}
    ]


def test_register_any_callable_factory():
    backend = DummyCollector()
    Collector.register_backend("shared", lambda: backend)
    assert backend_of(Collector.get("shared")) is backend


def test_register_replaces_existing():
    Collector.register_backend("local", DummyCollector)
    assert isinstance(backend_of(Collector.get()), DummyCollector)


@pytest.mark.parametrize("factory", [42, "local", DummyCollector()])
def test_register_non_callable(factory):
    with pytest.raises(TypeError, match="expected None or callable"):
        Collector.register_backend("bad", factory)
    with pytest.raises(ValueError):
        Collector.get("bad")


@pytest.mark.parametrize("name", [None, 1, b"bytes"])
def test_register_non_str_name(name):
    with pytest.raises(TypeError, match="backend name must be a str"):
        Collector.register_backend(name, DummyCollector)


def test_unregister():
    Collector.register_backend("recording", RecordingBackend)
    Collector.register_backend("recording", None)
    with pytest.raises(ValueError, match="No registered pushcollector backend"):
        Collector.get("recording")


def test_unregister_unknown_is_harmless():
    Collector.register_backend("never-registered", None)
    assert isinstance(backend_of(Collector.get("dummy")), DummyCollector)


def test_unregister_default_restores_initial_default(in_tmp_dir):
    Collector.register_backend("recording", RecordingBackend)
    Collector.set_default_backend("recording")
    assert isinstance(backend_of(Collector.get()), RecordingBackend)

    Collector.register_backend("recording", None)
    assert isinstance(backend_of(Collector.get()), LocalCollector)


def test_unregister_non_default_keeps_default():
    Collector.register_backend("recording", RecordingBackend)
    Collector.set_default_backend("dummy")
    Collector.register_backend("recording", None)
    assert isinstance(backend_of(Collector.get()), DummyCollector)


def test_set_default_backend(in_tmp_dir):
    Collector.set_default_backend("dummy")
    assert isinstance(backend_of(Collector.get()), DummyCollector)
    Collector.set_default_backend(None)
    assert isinstance(backend_of(Collector.get()), LocalCollector)


def test_set_default_unknown_backend_keeps_default():
    Collector.set_default_backend("dummy")
    with pytest.raises(ValueError, match="No registered pushcollector backend: 'x'"):
        Collector.set_default_backend("x")
    assert isinstance(backend_of(Collector.get()), DummyCollector)


def test_reset_restores_builtins_and_default(in_tmp_dir):
    Collector.register_backend("recording", RecordingBackend)
    Collector.register_backend("dummy", None)
    Collector.register_backend("local", RecordingBackend)
    Collector.set_default_backend("recording")

    Collector.reset()

    assert isinstance(backend_of(Collector.get()), LocalCollector)
    assert isinstance(backend_of(Collector.get("dummy")), DummyCollector)
    with pytest.raises(ValueError):
        Collector.get("recording")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.update_push_items([]),
        lambda c: c.attach_file("f", b""),
        lambda c: c.append_file("f", b""),
    ],
)
def test_interface_methods_are_abstract(call):
    with pytest.raises(NotImplementedError):
        call(Collector())


def test_interface_context_manager_returns_itself():
    collector = Collector()
    with collector as entered:
        assert entered is collector


def test_initial_default_from_environment(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "dummy")
    Collector.reset()
    assert isinstance(backend_of(Collector.get()), DummyCollector)


def test_environment_is_read_when_first_needed_then_kept(monkeypatch, in_tmp_dir):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "dummy")
    Collector.reset()
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "local")
    assert isinstance(backend_of(Collector.get()), LocalCollector)

    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "dummy")
    assert isinstance(backend_of(Collector.get()), LocalCollector)
    Collector.reset()
    assert isinstance(backend_of(Collector.get()), DummyCollector)


def test_set_default_none_and_unregister_return_to_environment(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "dummy")
    Collector.reset()
    Collector.register_backend("recording", RecordingBackend)
    Collector.set_default_backend("recording")
    Collector.set_default_backend(None)
    assert isinstance(backend_of(Collector.get()), DummyCollector)

    Collector.set_default_backend("recording")
    Collector.register_backend("recording", None)
    assert isinstance(backend_of(Collector.get()), DummyCollector)


def test_environment_backend_registered_later(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "recording")
    Collector.reset()
    Collector.register_backend("recording", RecordingBackend)
    assert isinstance(backend_of(Collector.get()), RecordingBackend)


def test_unknown_backend_from_environment(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "nonesuch")
    Collector.reset()
    with pytest.raises(ValueError) as error:
        Collector.get()
    assert "No registered pushcollector backend: 'nonesuch'" in str(error.value)
    assert "PUSHCOLLECTOR_BACKEND" in str(error.value)
    # Named backends still work.
    assert isinstance(backend_of(Collector.get("dummy")), DummyCollector)


def test_empty_environment_variable_means_local(monkeypatch, in_tmp_dir):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "")
    Collector.reset()
    assert isinstance(backend_of(Collector.get()), LocalCollector)


def test_unregistered_local_default_is_reported_plainly(monkeypatch):
    monkeypatch.delenv("PUSHCOLLECTOR_BACKEND", raising=False)
    Collector.register_backend("local", None)
    with pytest.raises(ValueError) as error:
        Collector.get()
    assert str(error.value) == "No registered pushcollector backend: 'local'"


def test_environment_is_not_read_at_import(monkeypatch):
    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "dummy")
    code = (
        "import os, pushcollector; os.environ['PUSHCOLLECTOR_BACKEND'] = 'local';"
        "print(type(pushcollector.Collector.get()._backend).__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out == "LocalCollector\n"


def test_empty_name_means_the_default_as_in_1_3_0(in_tmp_dir):
    Collector.register_backend("recording", RecordingBackend)
    Collector.set_default_backend("recording")
    assert isinstance(backend_of(Collector.get("")), RecordingBackend)

    Collector.set_default_backend("")
    assert isinstance(backend_of(Collector.get("")), LocalCollector)
    assert isinstance(backend_of(Collector.get()), LocalCollector)


def test_1_3_0_module_paths_still_work():
    import pushcollector._impl.collector
    import pushcollector._impl.dummy
    import pushcollector._impl.local
    import pushcollector._impl.proxy
    from pushcollector._impl import Collector as from_impl

    assert from_impl is Collector
    assert pushcollector._impl.collector.Collector is Collector
    assert pushcollector._impl.local.LocalCollector is LocalCollector
    assert pushcollector._impl.dummy.DummyCollector is DummyCollector
    assert type(Collector.get("dummy")) is pushcollector._impl.proxy.CollectorProxy
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pushcollector._impl.Nope


def test_patching_collector_proxy_affects_collectors_got(monkeypatch):
    # As the test suite of pubtools-marketplacesvm does.
    from unittest import mock

    with mock.patch(
        "pushcollector._impl.proxy.CollectorProxy.update_push_items"
    ) as patched:
        Collector.get("dummy").update_push_items(["not even a push item"])
    assert patched.call_count == 1
    assert patched.call_args[0][0] == ["not even a push item"]


@pytest.mark.parametrize("method", ["update_push_items", "attach_file", "append_file"])
def test_a_mock_backend_resolves_at_once_as_in_1_3_0(method):
    from unittest import mock

    backend = mock.MagicMock()
    Collector.register_backend("mocked", lambda: backend)
    collector = Collector.get("mocked")
    args = (
        ([{"filename": "f", "state": "PUSHED"}],)
        if method == "update_push_items"
        else ("f", b"x")
    )

    assert getattr(collector, method)(*args).result(timeout=0) is None
    assert getattr(backend, method).call_count == 1


def test_run_ids_are_made_in_a_forked_child_whatever_the_parent_held():
    # A thread of the parent may hold the lock when another forks: the child
    # replaces it, as this test does by hand, and must not wait for it.
    from pushcollector._impl import process_run

    held = process_run._lock
    held.acquire()
    try:
        process_run._new_lock_in_child()
        first, second = process_run.new_run_id(), process_run.new_run_id()
    finally:
        held.release()
    assert first < second


def test_a_run_has_one_id_until_a_new_run_starts():
    from pushcollector._impl.process_run import current_run

    run = current_run()
    assert run.run_id == run.run_id
    assert current_run() is run
    Collector.new_run()
    assert current_run() is not run
    assert current_run().run_id > run.run_id


def _get_dummy_in_child(connection):
    connection.send(type(Collector.get("dummy")._backend).__name__)


def test_a_forked_child_gets_collectors_whatever_threads_of_its_parent_held():
    import multiprocessing

    from pushcollector._impl.collector import _REGISTRY

    # A thread of the parent holds the registry's lock while another forks.
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with _REGISTRY.lock:
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    receiving, sending = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_get_dummy_in_child, args=(sending,)
    )
    try:
        assert holding.wait(60)
        child.start()
        assert receiving.poll(60), "the child is stuck on its parent's lock"
        assert receiving.recv() == "DummyCollector"
    finally:
        release.set()
        holder.join()
        if child.is_alive():
            child.kill()
        child.join()


@pytest.mark.parametrize("module", ["local", "dummy", "proxy"])
def test_1_3_0_module_paths_are_thin_re_exports(module):
    import ast
    import os

    import pushcollector._impl

    path = os.path.join(os.path.dirname(pushcollector._impl.__file__), module + ".py")
    with open(path, encoding="utf-8") as source:
        body = ast.parse(source.read()).body

    docstring, *imports, exported = body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert imports and all(isinstance(node, ast.ImportFrom) for node in imports)
    assert all(node.level == 1 for node in imports)
    assert isinstance(exported, ast.Assign)
    assert [target.id for target in exported.targets] == ["__all__"]


def test_1_3_0_module_paths_import_without_a_warning():
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import pushcollector._impl.local, pushcollector._impl.dummy,"
            " pushcollector._impl.proxy",
        ],
        capture_output=True,
        text=True,
    )

    assert (done.returncode, done.stderr) == (0, "")
