import json
import os
import textwrap

import pytest

from pushcollector import LocalCollector
from pushcollector._impl.backends.dummy import DummyCollector
from pushcollector.testing import BackendContract, MemoryCollector

pytest_plugins = ["pytester"]

CONTRACT_TEST_COUNT = len(
    [name for name in dir(BackendContract) if name.startswith("test_")]
)


class TestLocalContract(BackendContract):
    def make_backend(self):
        return LocalCollector()

    def stored_items(self, backend):
        with open(os.path.join(backend.run_dir, "pushitems.jsonl"), "rb") as items:
            return [json.loads(line) for line in items]

    def stored_file(self, backend, filename):
        with open(os.path.join(backend.run_dir, filename), "rb") as stored:
            return stored.read()


class TestDummyContract(BackendContract):
    def make_backend(self):
        return DummyCollector()


class TestMemoryContract(BackendContract):
    def make_backend(self):
        return MemoryCollector()

    def stored_items(self, backend):
        return backend.items

    def stored_file(self, backend, filename):
        return backend.files[filename]


def test_make_backend_is_required():
    with pytest.raises(NotImplementedError):
        BackendContract().make_backend()


def run_contract(pytester, backend_class_source):
    """Run the contract in a fresh pytest on MemoryCollector subclass Backend.

    Returns:
        The names of the contract tests that failed.
    """
    pytester.makepyfile(textwrap.dedent(backend_class_source) + textwrap.dedent("""
            from pushcollector.testing import BackendContract


            class TestBackend(BackendContract):
                large_batch_size = 100

                def make_backend(self):
                    return Backend()

                def stored_items(self, backend):
                    return backend.items

                def stored_file(self, backend, filename):
                    return backend.files[filename]
            """))
    recorder = pytester.inline_run("-p", "no:cacheprovider", "-p", "no:cov")
    passed, skipped, failed = recorder.listoutcomes()
    assert not skipped
    assert len(passed) + len(failed) == CONTRACT_TEST_COUNT
    return sorted(report.nodeid.rsplit("::", 1)[1] for report in failed)


def test_correct_backend_passes(pytester):
    failed = run_contract(
        pytester,
        """
        from pushcollector.testing import MemoryCollector


        class Backend(MemoryCollector):
            pass
        """,
    )
    assert failed == []


def test_backend_dropping_items_fails(pytester):
    failed = run_contract(
        pytester,
        """
        from pushcollector.testing import MemoryCollector


        class Backend(MemoryCollector):
            def update_push_items(self, items):
                return super().update_push_items(items[:-1])
        """,
    )
    assert failed == [
        "test_all_field_types",
        "test_concurrent_calls",
        "test_context_manager",
        "test_data_captured_at_call_time",
        "test_large_batch",
        "test_push_item_objects",
    ]


def test_backend_corrupting_appends_fails(pytester):
    failed = run_contract(
        pytester,
        """
        from pushcollector.testing import MemoryCollector


        class Backend(MemoryCollector):
            def append_file(self, filename, content):
                return super().append_file(filename, content[::-1])
        """,
    )
    assert failed == [
        "test_append_ordering",
        "test_attach_then_append",
        "test_concurrent_calls",
        "test_subdirectories",
    ]
