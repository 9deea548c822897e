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

from pushcollector import HttpCollector

from ..http_service import FakeService

WAIT = 60
FORK = multiprocessing.get_context("fork")


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
