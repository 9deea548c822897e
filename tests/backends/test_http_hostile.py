"""The http backend against loopback services that misbehave.

Each service here is a ScriptedService: the test writes every byte of its
answers, so they can be anything a broken or hostile service might send.
"""

import base64
import gzip
import logging
import threading
import zlib

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


# Answers that trickle, never end, or explode


def trickle(head, pause=0.02):
    """Write head at once, then one more byte per pause until stopped."""

    def respond(exchange):
        exchange.write(head)
        while not exchange.stopping:
            exchange.write(b"a")
            exchange.pause(pause)

    return respond


@pytest.mark.parametrize(
    "head",
    [
        # Headers that never end, a byte at a time.
        b"HTTP/1.1 201 Created\r\nX-Slow: ",
        # An error's body, a byte at a time.
        b"HTTP/1.1 503 Unavailable\r\nContent-Length: 100000\r\n\r\n",
    ],
)
def test_an_answer_trickling_in_times_out_and_is_retried(quiet_retries, head):
    with ScriptedService(trickle(head)) as service:
        # Each byte comes well within the timeout; the answer never does.
        with HttpCollector(
            service.url, timeout=0.3, max_attempts=2, backoff=0
        ) as collector:
            error = collector.append_file("log", b"x").exception(WAIT)
    assert isinstance(error, HttpCollectorError)
    assert error.status is None
    assert str(error).endswith(
        "(attempt 2 of 2): timed out: no complete answer within the timeout of 0.3 s"
    )
    assert len(service.requests) == 2


def test_a_success_whose_body_trickles_in_is_a_success(quiet_retries):
    head = b"HTTP/1.1 201 Created\r\nContent-Length: 1000\r\n\r\n"
    with ScriptedService(trickle(head)) as service:
        with HttpCollector(
            service.url, timeout=0.3, max_attempts=2, backoff=0
        ) as collector:
            assert collector.append_file("log", b"x").result(WAIT) is None
        # Not waited for to the end: the status was all it needed.
        assert service.disconnected.wait(WAIT)
    assert len(service.requests) == 1


ENDLESS_LIMIT = 64 * 1024 * 1024


def endless_body(status):
    """A chunked body that goes on until the client leaves (or 64 MB)."""
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)

    def respond(exchange):
        exchange.write(
            b"HTTP/1.1 %d Endless\r\nTransfer-Encoding: chunked\r\n\r\n" % status
        )
        written = 0
        while written < ENDLESS_LIMIT and not exchange.stopping:
            exchange.write(chunk)
            written += 65536
        exchange.write(b"0\r\n\r\n")

    return respond


@pytest.mark.parametrize("status", [200, 400])
def test_an_endless_body_is_not_read(quiet_retries, status):
    with ScriptedService(endless_body(status)) as service:
        with HttpCollector(service.url, max_attempts=1) as collector:
            future = collector.append_file("log", b"x")
            future.exception(WAIT)
        # The collector hung up long before the 64 MB were written (socket
        # buffers hold a few MB at most): it did not read them.
        assert service.disconnected.wait(WAIT)
    if status == 200:
        assert future.result() is None
    else:
        assert future.exception().status == 400
        assert str(future.exception()).endswith(": '%s...'" % ("x" * 200))


class DecompressionSpy:
    """Counts the bytes every zlib decompressor of the process puts out."""

    def __init__(self, monkeypatch):
        self.output = 0
        real = zlib.decompressobj
        spy = self

        class Counting:
            def __init__(self, *args, **kwargs):
                self._real = real(*args, **kwargs)

            def decompress(self, *args, **kwargs):
                data = self._real.decompress(*args, **kwargs)
                spy.output += len(data)
                return data

            def flush(self, *args):
                data = self._real.flush(*args)
                spy.output += len(data)
                return data

            def __getattr__(self, name):
                return getattr(self._real, name)

        monkeypatch.setattr(zlib, "decompressobj", Counting)


BOMB = gzip.compress(b"A" * (32 * 1024 * 1024), compresslevel=9)


@pytest.mark.parametrize("status", [201, 400])
def test_a_gzip_bomb_is_decompressed_only_as_far_as_shown(monkeypatch, status):
    spy = DecompressionSpy(monkeypatch)
    bomb = answer(status, BOMB, [("Content-Encoding", "gzip")])
    with ScriptedService(bomb) as service:
        with HttpCollector(service.url, max_attempts=1) as collector:
            future = collector.append_file("log", b"x")
            future.exception(WAIT)
    assert len(BOMB) < 64 * 1024
    if status == 201:
        # A success's body is not even decompressed.
        assert future.result() is None
        assert spy.output == 0
    else:
        assert str(future.exception()).endswith(": '%s...'" % ("A" * 200))
        assert spy.output <= 8192
    # And the service was asked not to compress in the first place.
    assert service.requests[0].headers["Accept-Encoding"] == "identity"


def test_an_answer_coming_after_its_attempt_was_given_up_on_is_dropped(
    quiet_retries,
):
    retried = threading.Event()

    def respond(exchange):
        if len(exchange.service.requests) > 1:
            retried.set()
            exchange.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
            return
        # The first attempt's answer trickles in until the retry has come,
        # and then ends: after the collector gave up on it.
        exchange.write(b"HTTP/1.1 500 Late\r\nX-Slow: ")
        while not retried.is_set() and not exchange.stopping:
            exchange.write(b"a")
            exchange.pause(0.02)
        exchange.write(b"\r\nContent-Length: 0\r\n\r\n")

    with ScriptedService(respond) as service:
        with HttpCollector(service.url, timeout=0.3, backoff=0) as collector:
            assert collector.append_file("log", b"x").result(WAIT) is None
        # Both connections ended: the late answer's too, closed, not reused.
        assert service.wait_for_ended(2, WAIT)
    assert len(service.requests) == 2


def test_an_error_body_cut_short_is_shown_empty():
    def respond(exchange):
        exchange.write(
            b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab"
        )
        exchange.close()

    with ScriptedService(respond) as service:
        with HttpCollector(service.url) as collector:
            error = collector.append_file("log", b"x").exception(WAIT)
    assert error.status == 400
    assert str(error).endswith("HTTP 400 Bad: ''")


@pytest.mark.parametrize(
    "coding, body, shown",
    [
        ("gzip", gzip.compress(b"no such run"), "'no such run'"),
        ("deflate", zlib.compress(b"no such run"), "'no such run'"),
        ("x-gzip", b"not gzip at all", "[a body that is not the x-gzip data"),
        ("br", b"\x8b\x05\x80no such run\x03", "[a body in a content coding not"),
    ],
)
def test_error_bodies_are_decoded_when_they_can_be(coding, body, shown):
    with ScriptedService(answer(422, body, [("Content-Encoding", coding)])) as service:
        with HttpCollector(service.url) as collector:
            error = collector.append_file("log", b"x").exception(WAIT)
    assert str(error).split("HTTP 422 Status 422: ")[1].startswith(shown)
