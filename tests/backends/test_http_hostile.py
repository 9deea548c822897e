"""The http backend against loopback services that misbehave.

Each service here is a ScriptedService: the test writes every byte of its
answers, so they can be anything a broken or hostile service might send.
"""

import logging

import pytest

from pushcollector import HttpCollector, HttpCollectorError

from ..http_service import ScriptedService

WAIT = 60


@pytest.fixture
def quiet_retries(caplog):
    """Retries are expected here; keep their warnings out of the report."""
    caplog.set_level(logging.CRITICAL, logger="pushcollector")


def answer(status, body=b"", headers=()):
    """A respond function giving every request the same answer."""
    head = "HTTP/1.1 %d Status %d\r\nContent-Length: %d\r\n" % (
        status,
        status,
        len(body),
    )
    head += "".join("%s: %s\r\n" % header for header in headers)

    def respond(exchange):
        exchange.write(head.encode("latin-1") + b"\r\n" + body)

    return respond


# Statuses


@pytest.mark.parametrize(
    "status, attempts",
    [(429, 3), (500, 3), (503, 3), (599, 3), (428, 1), (600, 1), (999, 1)],
)
def test_exactly_429_and_5xx_are_retried(quiet_retries, status, attempts):
    with ScriptedService(answer(status)) as service:
        with HttpCollector(service.url, max_attempts=3, backoff=0) as collector:
            error = collector.append_file("log", b"x").exception(WAIT)
    assert isinstance(error, HttpCollectorError)
    assert error.status == status
    assert "(attempt %d of 3)" % attempts in str(error)
    assert len(service.requests) == attempts
