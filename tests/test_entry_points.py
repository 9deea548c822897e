"""Backends of installed distributions, found through entry points.

Each test installs a real distribution for importlib.metadata: a
``.dist-info`` directory with ``entry_points.txt`` on ``sys.path``.
"""

import logging
import sys
import textwrap
import threading

import pytest

from pushcollector import Collector
from pushcollector._impl.backends.dummy import DummyCollector

BACKEND_MODULE = """
imports = globals().get("imports", 0) + 1

class PluggedCollector:
    def __init__(self):
        self.items = []
    def update_push_items(self, items):
        self.items.extend(items)
    def attach_file(self, filename, content):
        pass
    def append_file(self, filename, content):
        pass

NOT_CALLABLE = 42
"""


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a distribution with the given backends and modules."""
    installed_modules = []

    def install_distribution(name, backends, modules):
        for module, code in modules.items():
            (tmp_path / (module + ".py")).write_text(textwrap.dedent(code))
            installed_modules.append(module)
        dist_info = tmp_path / ("%s-1.0.dist-info" % name)
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name
        )
        (dist_info / "entry_points.txt").write_text(
            "[pushcollector.backends]\n"
            + "".join("%s = %s\n" % entry for entry in backends.items())
        )

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install_distribution
    for module in installed_modules:
        sys.modules.pop(module, None)


@pytest.fixture
def plugged(install):
    install(
        "pushcollector-plugged",
        {"plugged": "plugged_backend:PluggedCollector"},
        {"plugged_backend": BACKEND_MODULE},
    )


def test_plugin_backend_is_found_lazily(plugged):
    assert "plugged_backend" not in sys.modules
    backend = Collector.get("plugged")._backend
    assert type(backend).__name__ == "PluggedCollector"
    assert type(Collector.get("plugged")._backend) is type(backend)


def test_plugin_can_be_the_default(plugged, monkeypatch):
    Collector.set_default_backend("plugged")
    assert type(Collector.get()._backend).__name__ == "PluggedCollector"

    monkeypatch.setenv("PUSHCOLLECTOR_BACKEND", "plugged")
    Collector.reset()
    assert type(Collector.get()._backend).__name__ == "PluggedCollector"


def test_explicit_registration_wins(plugged):
    Collector.register_backend("plugged", DummyCollector)
    assert isinstance(Collector.get("plugged")._backend, DummyCollector)
    # Discovery that happens later does not override it either.
    with pytest.raises(ValueError):
        Collector.get("unknown-name")
    assert isinstance(Collector.get("plugged")._backend, DummyCollector)


def test_builtins_win_over_plugins(install):
    install(
        "pushcollector-hijack",
        {"dummy": "hijack_backend:PluggedCollector"},
        {"hijack_backend": BACKEND_MODULE},
    )
    with pytest.raises(ValueError):
        Collector.get("unknown-name")
    assert isinstance(Collector.get("dummy")._backend, DummyCollector)


def test_reset_restores_discovered_plugins(plugged):
    Collector.get("plugged")
    Collector.register_backend("plugged", None)
    with pytest.raises(ValueError):
        Collector.get("plugged")
    Collector.reset()
    assert type(Collector.get("plugged")._backend).__name__ == "PluggedCollector"


@pytest.mark.parametrize(
    "target, error",
    [
        ("broken_backend:PluggedCollector", "ImportError: no such library"),
        ("plugged_backend:Missing", "AttributeError"),
        ("plugged_backend:NOT_CALLABLE", "TypeError: 42 is not callable"),
    ],
)
def test_broken_plugin_does_not_break_others(install, caplog, target, error):
    install(
        "pushcollector-mixed",
        {"broken": target, "plugged": "plugged_backend:PluggedCollector"},
        {
            "broken_backend": "raise ImportError('no such library')",
            "plugged_backend": BACKEND_MODULE,
        },
    )
    with pytest.raises(ValueError) as raised:
        Collector.get("broken")
    assert "No registered pushcollector backend: 'broken'" in str(raised.value)
    assert "its plugin failed to load: " + error in str(raised.value)

    assert type(Collector.get("plugged")._backend).__name__ == "PluggedCollector"
    assert isinstance(Collector.get("dummy")._backend, DummyCollector)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'broken'" in warnings[0].getMessage()
    assert target in warnings[0].getMessage()


def test_plugin_registering_backends_while_loading(install):
    install(
        "pushcollector-registers",
        {"outer": "registering_backend:Outer"},
        {"registering_backend": """
            from pushcollector import Collector
            from pushcollector._impl.backends.dummy import DummyCollector

            class Outer(DummyCollector):
                pass

            Collector.register_backend("inner", DummyCollector)
            """},
    )
    assert type(Collector.get("outer")._backend).__name__ == "Outer"
    assert isinstance(Collector.get("inner")._backend, DummyCollector)


def test_concurrent_lookups_load_the_plugin_once(plugged):
    results = []
    barrier = threading.Barrier(8)

    def look_up():
        barrier.wait()
        results.append(type(Collector.get("plugged")._backend))

    threads = [threading.Thread(target=look_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8 and len(set(results)) == 1
    assert sys.modules["plugged_backend"].imports == 1


def test_a_slow_plugin_import_does_not_stall_other_lookups(install):
    # The plugin's import waits until the main thread has looked up built-in
    # backends and registered one: neither may wait for the import.
    install(
        "pushcollector-slow",
        {"slow": "slow_backend:PluggedCollector"},
        {
            "slow_backend": "import threading\n"
            "proceed = threading.Event()\n"
            "import plugin_gate\n"
            "plugin_gate.importing.set()\n"
            "assert plugin_gate.proceed.wait(60)\n" + BACKEND_MODULE,
            "plugin_gate": "import threading\n"
            "importing = threading.Event()\n"
            "proceed = threading.Event()\n",
        },
    )
    import plugin_gate

    found = []
    loader = threading.Thread(target=lambda: found.append(Collector.get("slow")))
    loader.start()
    try:
        assert plugin_gate.importing.wait(60)
        assert isinstance(Collector.get("dummy")._backend, DummyCollector)
        Collector.register_backend("registered-meanwhile", DummyCollector)
        Collector.set_default_backend("dummy")
        assert isinstance(Collector.get()._backend, DummyCollector)
    finally:
        plugin_gate.proceed.set()
        loader.join()
    assert type(found[0]._backend).__name__ == "PluggedCollector"
    assert isinstance(Collector.get("registered-meanwhile")._backend, DummyCollector)


def test_a_plugin_exiting_at_import_does_not_hide_later_plugins(install, caplog):
    install(
        "pushcollector-exiting",
        {
            "exiting": "exiting_backend:Nope",
            "plugged": "plugged_backend:PluggedCollector",
        },
        {"exiting_backend": "raise SystemExit(3)", "plugged_backend": BACKEND_MODULE},
    )
    assert type(Collector.get("plugged")._backend).__name__ == "PluggedCollector"
    with pytest.raises(ValueError, match="its plugin failed to load: SystemExit: 3"):
        Collector.get("exiting")


def test_interrupted_discovery_is_tried_again(install):
    install(
        "pushcollector-interrupted",
        {"interrupting": "interrupting_backend:PluggedCollector"},
        {
            "interrupting_backend": "import interrupt_once\n" + BACKEND_MODULE,
            "interrupt_once": "raise KeyboardInterrupt",
        },
    )
    with pytest.raises(KeyboardInterrupt):
        Collector.get("interrupting")
    sys.modules["interrupt_once"] = "imported"
    assert type(Collector.get("interrupting")._backend).__name__ == "PluggedCollector"


def test_a_plugin_looking_up_backends_while_loading(install):
    install(
        "pushcollector-looks-up",
        {"looking": "looking_backend:PluggedCollector"},
        {
            "looking_backend": "from pushcollector import Collector\n"
            "Collector.get('dummy')\n"
            "try:\n"
            "    Collector.get('not-yet-registered')\n"
            "except ValueError:\n"
            "    pass\n" + BACKEND_MODULE
        },
    )
    assert type(Collector.get("looking")._backend).__name__ == "PluggedCollector"
