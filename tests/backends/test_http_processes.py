"""The http backend across fork() and interpreter exit, in real processes.

Children are forked with multiprocessing (its "fork" start method) or with
os.fork() in a script run by a fresh interpreter; the service they send to
is a FakeService on 127.0.0.1 in this process, which applies each
Idempotency-Key once, as the protocol asks of a service.
"""

import multiprocessing
import os
import subprocess
import sys

import pytest

from pushcollector import HttpCollector

from ..http_service import FakeService

WAIT = 60
FORK = multiprocessing.get_context("fork")

# Forking a process that has threads is what these tests do on purpose;
# Python 3.12 and later warn about it.
FORK_WITH_THREADS = "This process .* is multi-threaded"
pytestmark = pytest.mark.filterwarnings(
    "ignore:%s:DeprecationWarning" % FORK_WITH_THREADS
)


def record_in_child(collector, child):
    """A forked worker's job; any failure makes its exit code non-zero."""
    futures = [
        collector.update_push_items(
            [{"filename": "child-%d/item-%d" % (child, index), "state": "PUSHED"}]
        )
        for index in range(5)
    ]
    futures.append(collector.append_file("child-%d.log" % child, b"done\n"))
    for future in futures:
        assert future.result(WAIT) is None
    collector.close()


def run_children(collector, count):
    children = [
        FORK.Process(target=record_in_child, args=(collector, child))
        for child in range(count)
    ]
    for child in children:
        child.start()
    for child in children:
        # A safety net: a child that hangs fails the test instead.
        child.join(WAIT)
        if child.is_alive():
            child.kill()
        assert child.exitcode == 0


def child_filenames(children):
    return {
        "child-%d/item-%d" % (child, index)
        for child in range(children)
        for index in range(5)
    }


def test_forked_workers_sharing_a_collector_all_deliver_in_one_run():
    with FakeService() as service:
        # Made before fork() and first used in the children.
        collector = HttpCollector(service.url, backoff=0)
        run_children(collector, 3)
        collector.close()

    run = collector.run_id
    assert list(service.items) == [run]
    assert {item["filename"] for item in service.items[run]} == child_filenames(3)
    assert len(service.items[run]) == 15
    assert {filename for _, filename in service.files} == {
        "child-0.log",
        "child-1.log",
        "child-2.log",
    }
    # One sender per child: keys unique, each child counting its own.
    senders = {key.rsplit(".", 1)[0] for key in service.keys}
    assert len(senders) == 3
    assert all(sender.startswith(run + ".") for sender in senders)
    assert len(set(service.keys)) == len(service.keys) == 18


def test_a_child_forked_while_its_parent_sends_sends_only_its_own_records():
    with FakeService() as service:
        held = service.hold("parent.log")
        collector = HttpCollector(service.url, backoff=0)
        in_flight = collector.append_file("parent.log", b"1\n")
        assert held.arrived.wait(WAIT)
        queued = [collector.append_file("parent.log", b"%d\n" % n) for n in (2, 3)]

        # The parent's requests, in flight and queued, are the parent's:
        # the child neither waits for them nor sends them again.
        run_children(collector, 1)
        held.release.set()
        for future in [in_flight] + queued:
            assert future.result(WAIT) is None
        collector.close()

    run = collector.run_id
    assert service.files[run, "parent.log"] == b"1\n2\n3\n"
    assert service.files[run, "child-0.log"] == b"done\n"
    assert {item["filename"] for item in service.items[run]} == child_filenames(1)
    parent = {key.rsplit(".", 1)[0] for key in service.keys[-3:]}
    child = {key.rsplit(".", 1)[0] for key in service.keys[:-3]}
    assert len(parent) == len(child) == 1 and parent != child


def run_script(script, service, **env):
    """Run a script in a fresh interpreter; its exit status, stdout, stderr."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, PUSHCOLLECTOR_HTTP_URL=service.url, **env),
        capture_output=True,
        text=True,
        # A safety net: a script that hangs fails the test instead.
        timeout=WAIT,
    )
    return done.returncode, done.stdout, done.stderr


FORKED_CHILD_EXITS_WITHOUT_WAITING = """
import os, sys, warnings
from pushcollector import HttpCollector

warnings.filterwarnings("ignore", "%s", DeprecationWarning)

collector = HttpCollector(os.environ["PUSHCOLLECTOR_HTTP_URL"], backoff=0)
collector.append_file("parent.log", b"before fork\\n").result(30)
pid = os.fork()
if pid == 0:
    collector.append_file("child.log", b"from the child\\n")
    # Exits as a script does, without waiting: the interpreter's exit delivers.
    sys.exit(0)
collector.append_file("parent.log", b"after fork\\n").result(30)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
""" % (FORK_WITH_THREADS)


def test_a_forked_child_records_then_exits_without_hanging():
    with FakeService() as service:
        status, _, stderr = run_script(FORKED_CHILD_EXITS_WITHOUT_WAITING, service)
    assert status == 0, stderr
    assert stderr == ""
    [run] = {run for run, _ in service.files}
    assert service.files == {
        (run, "parent.log"): b"before fork\nafter fork\n",
        (run, "child.log"): b"from the child\n",
    }


RECORDING_AT_EXIT = """
import atexit, os
from pushcollector import HttpCollector

URL = os.environ["PUSHCOLLECTOR_HTTP_URL"]

def record_in_a_with_block():
    with HttpCollector(URL, backoff=0) as collector:
        collector.update_push_items([{"filename": "with", "state": "PUSHED"}])
        collector.append_file("push.log", b"from a with block\\n")

def record_without_waiting():
    collector = HttpCollector(URL, backoff=0)
    collector.update_push_items([{"filename": "unwaited", "state": "PUSHED"}])
    collector.append_file("push.log", b"without waiting\\n")

atexit.register(record_without_waiting)
atexit.register(record_in_a_with_block)
"""


def test_records_made_in_atexit_handlers_are_delivered():
    with FakeService() as service:
        status, _, stderr = run_script(RECORDING_AT_EXIT, service)
    assert status == 0, stderr
    assert stderr == ""
    # One process, one run; atexit handlers run last registered first.
    [(run, items)] = service.items.items()
    assert [item["filename"] for item in items] == ["with", "unwaited"]
    assert service.files == {
        (run, "push.log"): b"from a with block\nwithout waiting\n",
    }


RECORDING_AFTER_MAIN_RETURNED = """
import os, threading
from pushcollector import HttpCollector

URL = os.environ["PUSHCOLLECTOR_HTTP_URL"]
collector = HttpCollector(URL, backoff=0)
collector.append_file("push.log", b"main\\n")

def record_after_main():
    # Returns once the main thread has finished and the interpreter exits.
    threading.main_thread().join()
    for index in range(10):
        collector.update_push_items([{"filename": "late-%d" % index, "state": "PUSHED"}])
    collector.append_file("push.log", b"late\\n")
    with HttpCollector(URL, backoff=0) as other:
        other.append_file("other.log", b"late, in a with block\\n")

threading.Thread(target=record_after_main).start()
"""


def test_records_of_a_thread_outliving_main_are_delivered():
    with FakeService() as service:
        status, _, stderr = run_script(RECORDING_AFTER_MAIN_RETURNED, service)
    assert status == 0, stderr
    assert stderr == ""
    [(run, items)] = service.items.items()
    assert [item["filename"] for item in items] == ["late-%d" % n for n in range(10)]
    assert service.files[run, "push.log"] == b"main\nlate\n"
    assert service.files[run, "other.log"] == b"late, in a with block\n"
    assert len(service.files) == 2
