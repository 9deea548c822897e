"""The http backend against loopback services that misbehave.

Each service here is a ScriptedService: the test writes every byte of its
answers, so they can be anything a broken or hostile service might send.
"""

import base64
import binascii
import gzip
import html
import json
import logging
import re
import threading
import urllib.parse
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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


# Secrets


def header_value_echoes(value):
    """What a service might echo of a header value (str, decoded latin-1)."""
    raw = value.encode("latin-1")
    texts = [
        value,
        repr(value),
        ascii(value),
        repr(raw),
        json.dumps(value),
        json.dumps(value, ensure_ascii=False),
        json.dumps(value).replace("/", "\\/"),
        urllib.parse.quote(value),
        urllib.parse.quote(value, safe="", encoding="latin-1"),
        urllib.parse.quote_plus(value),
        html.escape(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
        raw.hex(),
        value.upper(),
    ]
    # Text goes out as UTF-8; the raw header bytes as they came, latin-1.
    return [text.encode("utf-8") for text in texts] + [raw]


def echoes_of(request, part):
    """The echoes of an Authorization header's value, or of a part of it."""
    value = request.headers["Authorization"]
    scheme, _, credentials = value.partition(" ")
    if part == "header":
        return header_value_echoes(value)
    if part == "credentials":
        return header_value_echoes(credentials)
    # The token, or the password of basic credentials, alone.
    if scheme == "Basic":
        credentials = base64.b64decode(credentials).decode("latin-1")
        credentials = credentials.partition(":")[2]
    return header_value_echoes(credentials)


class Echo:
    """A service echoing the Authorization header back, as set per example."""

    def __init__(self):
        self.status = 401
        self.part = "header"
        self.echo = 0
        self.padding = 0
        self.where = "body"

    def __call__(self, exchange):
        echo = echoes_of(exchange.request, self.part)[self.echo]
        reason = b"Denied"
        body = b"x" * self.padding + b"you sent: " + echo + b" (rejected)"
        if self.where == "reason":
            reason, body = (
                b"Denied " + echo.replace(b"\r", b"").replace(b"\n", b""),
                b"",
            )
        exchange.write(
            b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s"
            % (self.status, reason, len(body), body)
        )


def decoded_views(text):
    """The text, and every way of decoding it a reader might try."""
    views = [text, html.unescape(text)]
    for unquote in (urllib.parse.unquote, urllib.parse.unquote_plus):
        views.append(unquote(text))
        views.append(unquote(text, encoding="latin-1"))
    with warnings.catch_warnings():
        # Backslashes that escape nothing are kept, with a warning.
        warnings.simplefilter("ignore", DeprecationWarning)
        # Python's escapes, and JSON's (\uXXXX, \", \/).
        views.append(
            text.encode("latin-1", "backslashreplace").decode(
                "unicode_escape", "replace"
            )
        )
    for run in re.findall(r"[A-Za-z0-9+/_=-]{8,}", text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 4 * 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    views.append(decode(chunk).decode("latin-1"))
                except (binascii.Error, ValueError):
                    pass
    for run in re.findall(r"[0-9a-fA-F]{16,}", text):
        for start in range(2):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 2 * 2]
            views.append(bytes.fromhex(chunk).decode("latin-1"))
    return views


def pieces(secret, size=8):
    return {secret[start : start + size] for start in range(len(secret) - size + 1)}


def assert_no_piece_shown(secrets, shown):
    for text in shown:
        for view in decoded_views(text):
            folded = view.casefold()
            for secret in secrets:
                for piece in pieces(secret.casefold()):
                    assert piece not in folded, (piece, view)


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def echo_service():
    echo = Echo()
    with ScriptedService(echo) as service:
        yield echo, service


# Printable latin-1 without spaces, with the characters that escaped the old
# blanking out (backslash, quotes, non-ASCII) drawn often.
CREDENTIAL_CHARS = st.one_of(
    st.sampled_from("\\'\"é/+%&<"),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    st.characters(min_codepoint=0xA1, max_codepoint=0xFF).filter(str.isprintable),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@example(
    # "ß" is shown upper-cased as "SS": found by hypothesis in CI.
    secret="\\" * 8 + "ß" + "\\" * 2,
    kind="token",
    part="header",
    echo=14,
    padding=0,
    where="body",
    status=401,
)
@given(
    secret=st.text(CREDENTIAL_CHARS, min_size=8, max_size=40),
    kind=st.sampled_from(["token", "password"]),
    part=st.sampled_from(["header", "credentials", "secret"]),
    echo=st.integers(0, len(header_value_echoes("x")) - 1),
    padding=st.integers(0, 240),
    where=st.sampled_from(["body", "reason"]),
    status=st.sampled_from([401, 503]),
)
def test_no_piece_of_a_secret_is_shown_whatever_the_service_echoes(
    echo_service, secret, kind, part, echo, padding, where, status
):
    echo_settings, service = echo_service
    echo_settings.status, echo_settings.part, echo_settings.echo = status, part, echo
    echo_settings.padding, echo_settings.where = padding, where
    if kind == "token":
        url, kwargs = service.url, {"token": secret}
        secrets = [secret]
    else:
        quoted = urllib.parse.quote(secret, safe="")
        url = service.url.replace("http://", "http://alice:%s@" % quoted)
        kwargs = {}
        basic = base64.b64encode(b"alice:" + secret.encode("latin-1")).decode()
        secrets = [secret, basic]
    logger = logging.getLogger("pushcollector")
    records = Records()
    logger.addHandler(records)
    try:
        collector = HttpCollector(url, max_attempts=2, backoff=0, **kwargs)
        error = collector.append_file("log", b"x").exception(WAIT)
        collector.close()
    finally:
        logger.removeHandler(records)
    assert isinstance(error, HttpCollectorError)
    assert error.status == status
    shown = [str(error), repr(error), error.url, repr(collector)] + records.messages
    assert records.messages
    assert_no_piece_shown(secrets, shown)
