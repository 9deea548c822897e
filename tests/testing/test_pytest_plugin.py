import textwrap

import pytest

from pushcollector import Collector, LocalCollector
from pushcollector.testing import MemoryCollector, memory_collector

from ..imports import modules_after

ITEM = {"filename": "f.rpm", "state": "PUSHED"}


def code_under_test():
    collector = Collector.get()
    collector.update_push_items([ITEM]).result()
    collector.append_file("log", "pushed\n").result()


def test_fixture_is_the_default_backend(memory_collector):
    code_under_test()
    Collector.get("memory").append_file("log", b"more\n").result()

    assert isinstance(memory_collector, MemoryCollector)
    assert memory_collector.items == [ITEM]
    assert memory_collector.files == {"log": b"pushed\nmore\n"}


def test_context_manager_installs_and_restores(in_tmp_dir):
    Collector.register_backend("mine", MemoryCollector)
    Collector.set_default_backend("mine")

    with memory_collector() as collector:
        code_under_test()
        Collector.register_backend("added-inside", MemoryCollector)
        Collector.register_backend("mine", None)

    assert collector.items == [ITEM]
    assert isinstance(Collector.get()._backend, MemoryCollector)
    assert Collector.get()._backend is not collector
    assert Collector.get("memory")._backend is not collector
    with pytest.raises(ValueError):
        Collector.get("added-inside")


def test_context_manager_restores_after_an_error(in_tmp_dir):
    with pytest.raises(RuntimeError):
        with memory_collector():
            Collector.set_default_backend("dummy")
            raise RuntimeError("test failed")
    assert isinstance(Collector.get()._backend, LocalCollector)


def test_nested_context_managers():
    with memory_collector() as outer:
        with memory_collector() as inner:
            code_under_test()
        code_under_test()
    assert len(inner.items) == len(outer.items) == 1


def test_plugin_works_for_other_projects_through_its_entry_point(pytester):
    # A project that merely installed pushcollector: no conftest, no imports
    # of pushcollector's test helpers; the fixture comes from the entry point.
    pytester.makepyfile(test_other_project=textwrap.dedent("""
            import pytest
            from pushcollector import Collector

            class Theirs:
                def update_push_items(self, items): pass
                def attach_file(self, filename, content): pass
                def append_file(self, filename, content): pass

            Collector.register_backend("theirs", Theirs)
            Collector.set_default_backend("theirs")

            def test_records(memory_collector):
                Collector.get().update_push_items(
                    [{"filename": "a", "state": "PUSHED"}]
                ).result()
                assert [i["filename"] for i in memory_collector.items] == ["a"]

            def test_fails_midway(memory_collector):
                Collector.register_backend("leaked", Theirs)
                Collector.set_default_backend("dummy")
                assert False, "deliberately"

            def test_state_is_restored_afterwards():
                assert type(Collector.get()._backend).__name__ == "Theirs"
                with pytest.raises(ValueError):
                    Collector.get("leaked")
            """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_fails_midway*deliberately*"])


def test_ini_option_gives_every_test_a_memory_collector(pytester):
    pytester.makeini("[pytest]\npushcollector_memory = true\n")
    pytester.makepyfile(test_every=textwrap.dedent("""
            import os
            from pushcollector import Collector, LocalCollector

            def test_records_without_asking():
                Collector.get().update_push_items(
                    [{"filename": "a", "state": "PUSHED"}]
                ).result()
                assert not os.path.exists("artifacts")

            def test_fixture_is_what_the_code_records_into(memory_collector):
                Collector.get().attach_file("f", "x").result()
                assert memory_collector.file_content == {"f": b"x"}

            def test_each_test_starts_afresh(memory_collector):
                assert memory_collector.items == []
            """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert not (pytester.path / "artifacts").exists()


def test_without_the_ini_option_nothing_changes(pytester):
    pytester.makepyfile(test_plain=textwrap.dedent("""
            from pushcollector import Collector, LocalCollector

            def test_default_is_local():
                assert isinstance(Collector.get()._backend, LocalCollector)
            """))
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_fixture_factory_replaces_a_fake_under_its_own_name(pytester):
    # The conftest of a client, with its hand-written FakeCollector gone;
    # its tests are unchanged.
    pytester.makeconftest(textwrap.dedent("""
            from pushcollector.testing import memory_collector_fixture

            fake_collector = memory_collector_fixture(autouse=True)
            """))
    pytester.makepyfile(test_client=textwrap.dedent("""
            import json
            import os
            from pushcollector import Collector

            def push():
                collector = Collector.get()
                collector.update_push_items([{"filename": "a", "state": "PUSHED"}])
                collector.attach_file("images.json", json.dumps([1]))

            def test_uses_the_fake(fake_collector):
                push()
                assert fake_collector.items == [{"filename": "a", "state": "PUSHED"}]
                assert json.loads(fake_collector.file_content["images.json"]) == [1]
                assert fake_collector.file_content.get("other") is None

            def test_does_not_ask_for_it():
                push()
                assert not os.path.exists("artifacts")
            """))
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_plugin_imports_nothing_until_a_fixture_is_used():
    modules = modules_after("import pushcollector.testing.pytest_plugin")
    assert sorted(m for m in modules if m.startswith("pushcollector.testing")) == [
        "pushcollector.testing",
        "pushcollector.testing.pytest_plugin",
    ]
    assert "pushcollector._impl.backends.memory" not in modules
