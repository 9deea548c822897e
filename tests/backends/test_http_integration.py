"""The http backend against a real HTTP service on 127.0.0.1."""

import logging
import os
import subprocess
import sys
import threading

import pytest

from pushcollector import Collector, HttpCollector, HttpCollectorError
from pushcollector.testing import BackendContract

from ..http_service import FAULTS, FakeService

TOKEN = "integration-token"
WAIT = 60


@pytest.fixture
def quiet_retries(caplog):
    """Retries are expected here; keep their warnings out of the report."""
    caplog.set_level(logging.CRITICAL, logger="pushcollector")


def test_every_record_arrives_once_in_order_through_faults(quiet_retries):
    """Dropped connections, 503s and lost answers lose and repeat nothing."""
    items = [
        {"filename": "pkg-%d.rpm" % index, "state": "PUSHED", "index": index}
        for index in range(10_000)
    ]
    log = [("line %d ✓\n" % index).encode() for index in range(30)]
    with FakeService(token=TOKEN, fault_rate=0.3, seed=2026) as service:
        collector = HttpCollector(
            service.url, token=TOKEN, batch_size=100, max_attempts=10, backoff=0
        )
        futures = []
        for call in range(10):
            futures.append(
                collector.update_push_items(items[call * 1000 : (call + 1) * 1000])
            )
            futures += [
                collector.append_file("logs/push log.txt", line)
                for line in log[call * 3 : (call + 1) * 3]
            ]
            futures.append(collector.attach_file("state/100%.json", b"%d" % call))
        futures.append(collector.attach_file("empty", b""))
        futures.append(collector.attach_file("binary/ü", bytes(range(256)) * 64))
        for future in futures:
            assert future.result(WAIT) is None
        collector.close()

        run = collector.run_id
        assert service.items[run] == items
        assert service.files == {
            (run, "logs/push log.txt"): b"".join(log),
            (run, "state/100%.json"): b"9",
            (run, "empty"): b"",
            (run, "binary/ü"): bytes(range(256)) * 64,
        }
        # The service applied the requests in the order they were made.
        sequence = [int(key.rsplit(".", 1)[1]) for key in service.keys]
        assert sequence == list(range(1, len(sequence) + 1))
        for fault in FAULTS:
            assert service.faults[fault] >= 10, service.faults


def test_a_service_failing_for_good_fails_the_call_and_later_ones(quiet_retries):
    with FakeService(
        fault_rate=1.0, max_faults_per_key=100, kinds=("drop", "unavailable")
    ) as service:
        with HttpCollector(service.url, max_attempts=3, backoff=0) as collector:
            first = collector.update_push_items([{"filename": "a", "state": "PUSHED"}])
            second = collector.append_file("log", b"never sent")
            error = first.exception(WAIT)
            assert isinstance(error, HttpCollectorError)
            assert "(attempt 3 of 3)" in str(error)
            assert second.exception(WAIT).__cause__ is error
        assert sum(service.faults.values()) == 3
        assert service.keys == []


def test_wrong_token_is_not_retried():
    with FakeService(token=TOKEN) as service:
        with HttpCollector(service.url, token="wrong", backoff=0) as collector:
            error = collector.append_file("log", b"x").exception(WAIT)
    assert error.status == 401
    assert "bad token" in str(error)


def test_connection_refused_is_retried_then_reported(quiet_retries):
    with FakeService() as service:
        url = service.url
    # The service is gone: nothing listens on its port any more.
    with HttpCollector(url, max_attempts=2, backoff=0, timeout=5) as collector:
        error = collector.append_file("log", b"x").exception(WAIT)
    assert error.status is None
    assert "(attempt 2 of 2): ConnectionError" in str(error)


class TestHttpContract(BackendContract):
    """The conformance kit, through a reliable loopback service."""

    @pytest.fixture(autouse=True)
    def service(self):
        self.made = []
        threads_before = set(threading.enumerate())
        with FakeService(token=TOKEN) as service:
            self.service = service
            yield service
            for backend in self.made:
                backend.close()
        # Closing a collector ends the threads it started.
        assert not [
            thread.name
            for thread in set(threading.enumerate()) - threads_before
            if "pushcollector-http" in thread.name
        ]

    def make_backend(self):
        backend = HttpCollector(self.service.url, token=TOKEN, backoff=0)
        self.made.append(backend)
        return backend

    def stored_items(self, backend):
        return self.service.items.get(backend.run_id, [])

    def stored_file(self, backend, filename):
        return bytes(self.service.files[backend.run_id, filename])


def test_get_http_against_the_service(monkeypatch):
    with FakeService(token=TOKEN) as service:
        monkeypatch.setenv("PUSHCOLLECTOR_HTTP_URL", service.url)
        monkeypatch.setenv("PUSHCOLLECTOR_HTTP_TOKEN", TOKEN)
        with Collector.get("http") as collector:
            collector.update_push_items([{"filename": "a", "state": "PUSHED"}])
            collector.append_file("log", "text ✓")
        run = collector._backend.run_id
        assert service.items[run] == [{"filename": "a", "state": "PUSHED"}]
        assert service.files[run, "log"] == "text ✓".encode()


EXITING_WITHOUT_WAITING = """
from pushcollector import Collector

collector = Collector.get("http")
for index in range(20):
    collector.update_push_items([{"filename": "f%d" % index, "state": "PUSHED"}])
collector.append_file("push.log", "last words\\n")
"""


def test_records_are_delivered_when_a_process_exits_without_waiting():
    # Tools written for the local backend of 1.3.0 never wait for futures.
    with FakeService(fault_rate=0.3, seed=7, kinds=("unavailable",)) as service:
        done = subprocess.run(
            [sys.executable, "-c", EXITING_WITHOUT_WAITING],
            env=dict(os.environ, PUSHCOLLECTOR_HTTP_URL=service.url),
            capture_output=True,
            text=True,
            timeout=WAIT,
        )

        assert done.returncode == 0, done.stderr
        assert service.faults["unavailable"] > 0
        [(run_id, items)] = service.items.items()
        assert [item["filename"] for item in items] == ["f%d" % n for n in range(20)]
        assert service.files == {(run_id, "push.log"): b"last words\n"}
