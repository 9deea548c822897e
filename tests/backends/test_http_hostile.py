"""The http backend against loopback services that misbehave.

Each service here is a ScriptedService: the test writes every byte of its
answers, so they can be anything a broken or hostile service might send.
"""

import base64
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


# Credentials and headers that cannot be sent


@pytest.mark.parametrize(
    "url, kwargs",
    [
        ("http://127.0.0.1/api", {"token": "tok-€-hunter2-secret"}),
        ("http://alice:hunter2-€-secret@127.0.0.1/api", {}),
        ("http://alice:hunter2-%E2%82%AC-secret@127.0.0.1/api", {}),
        ("http://hunter2-€-secret:pw@127.0.0.1/api", {}),
        ("http://127.0.0.1/api", {"headers": {"X-Api-Key": "hunter2-€-secret"}}),
        ("http://127.0.0.1/api", {"headers": {"X-Api-Key": "hunter2-secret\r\nX: 1"}}),
        ("http://127.0.0.1/api", {"headers": {"X-Api-Key": "hunter2-secret\x00"}}),
        ("http://127.0.0.1/api", {"headers": {"X-Api-Key": " hunter2-secret"}}),
    ],
)
def test_what_cannot_be_sent_is_refused_without_showing_it(url, kwargs):
    with pytest.raises(ValueError) as raised:
        HttpCollector(url, **kwargs)
    error = raised.value
    for shown in (str(error), repr(error)):
        assert "hunter2" not in shown
        assert "€" not in shown and "%E2" not in shown
    # Nothing chained either, such as a UnicodeEncodeError holding the text.
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.parametrize(
    "name", ["", "X Push", "X-Push:", "X-Püsh", "X\r\nInjected", "X(Push)"]
)
def test_invalid_header_names_are_refused(name):
    with pytest.raises(ValueError, match="header name"):
        HttpCollector("http://127.0.0.1/api", headers={name: "value"})


def test_latin1_credentials_and_headers_are_sent_as_latin1():
    token = "tok-é-ÿ-\\-'-\"-secret"
    with ScriptedService(answer(201)) as service:
        with HttpCollector(
            service.url, token=token, headers={"X-Note": "café\tcrème"}
        ) as collector:
            collector.append_file("log", b"x").result(WAIT)
        url = service.url.replace("http://", "http://àlice:pâss%20wörd@")
        with HttpCollector(url) as collector:
            collector.append_file("log", b"x").result(WAIT)
    bearer, basic = [request.headers for request in service.requests]
    assert bearer["Authorization"].encode("latin-1") == b"Bearer " + token.encode(
        "latin-1"
    )
    assert bearer["X-Note"].encode("latin-1") == "café\tcrème".encode("latin-1")
    assert basic["Authorization"] == "Basic " + base64.b64encode(
        "àlice:pâss wörd".encode("latin-1")
    ).decode("ascii")
