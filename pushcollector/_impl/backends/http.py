"""The ``http`` backend: records sent to a web service, in order, with retries.

The wire protocol is specified in ``docs/http.rst``. requests is imported
when first needed, never at package import.

Nothing here registers an exit hook or imports a module that does (such as
concurrent.futures.thread): once the interpreter has begun to exit, that
raises, and a collector may well be made or first used then, in an atexit
handler or in a thread that outlives the main one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from ..environment import HTTP_TOKEN, HTTP_URL
from ..process_run import current_run
from ..protocol import BYTES_TYPE, JSON_TYPE, file_path, push_items_path
from ..transport.attempt import Transport
from ..transport.auth import is_latin1
from ..transport.errors import ServiceError
from ..transport.retry import RetryPolicy
from ..transport.sender import OrderedSender

# A header name as RFC 9110 defines it (a "token").
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Compact, and strict: NaN and Infinity are not JSON, and a service would
# reject them only after earlier batches were sent.
_encode_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode


class HttpCollectorError(ServiceError):
    """A request of an :class:`HttpCollector` failed, or was never sent.

    The message names the method and URL (without any credentials), the
    HTTP status if there was a response and the start of its body. Every
    piece of the collector's token or password that a service echoes back,
    however encoded, is blanked out. When a request was not sent because an
    earlier one failed, the message says so and ``__cause__`` is the
    earlier failure.

    Attributes:
        method (str): the HTTP method of the request, such as ``"POST"``.
        url (str): the URL of the request, without any user information.
        status (int | None): the HTTP status of the response, or ``None``
            if there was none (connection failure, timeout, not sent).

    .. versionadded:: 1.4.0

    .. versionchanged:: 1.6.0
        A subclass of the errors of every client of the service, still an
        :class:`OSError`.
    """


class HttpCollector:
    """A backend sending every record to a web service over HTTP(S).

    Registered as ``http``, configured by the environment variables
    ``PUSHCOLLECTOR_HTTP_URL`` (required) and ``PUSHCOLLECTOR_HTTP_TOKEN``.
    The requests it sends, and what the service must answer, are specified
    in :doc:`/http`.

    Every call returns at once with a future; requests are sent from a
    background thread, one at a time and in call order, each retried on
    connection errors, timeouts, 429 and 500-599 responses (after the delay
    of a ``Retry-After`` header, or an exponential backoff with jitter) up
    to ``max_attempts`` times. Once a request has failed for good, its call's
    future fails with :class:`HttpCollectorError`, and so does the future of
    every later call, without sending anything: a later record never
    reaches the service when an earlier one did not.

    Push items are split into requests of at most ``batch_size`` items. A
    call with no push items sends nothing and its future is already
    resolved.

    The background thread runs while there is something to send. It is not
    a daemon: the interpreter waits for it at exit, so what was recorded is
    delivered even if nobody waits for the futures or closes the collector.
    In an :mod:`atexit` handler, where no thread would be waited for, calls
    send before they return. A collector inherited by a forked child sends
    from the child as a sender of its own, in the same run, leaving what the
    parent had queued to the parent.

    :meth:`close`, or leaving a ``with`` block, waits for every request and
    then for the background thread to end, and closes the session if the
    collector created it. A closed collector cannot be used again.

    Record through :meth:`Collector.get` (registering the collector under
    a name when it is made in code): like every backend, it relies on the
    collector returned there to check filenames and push items, convert
    PushItems and encode text.

    Args:
        url: the base URL of the service, ``http://`` or ``https://``.
            Credentials in it (``https://user:password@host/``) are taken
            out of it and sent as HTTP basic authentication, unless
            ``token`` is given; no piece of them appears in errors, logs or
            reprs. Percent-decoded, they must be latin-1 text.
        token: sent as ``Authorization: Bearer <token>`` with every request:
            latin-1 text without spaces or control characters.
        session: a ``requests.Session`` to send with, for example one with
            a client certificate or proxies configured. It is not closed
            by the collector. By default the collector makes its own.
        batch_size: the most push items in one request.
        timeout: seconds an attempt may take in all, from connecting to the
            last byte read of the answer (the request's upload included);
            an attempt not answered by then fails, and is retried. Raise it
            to send large files over slow links.
        max_attempts: attempts per request, the first included.
        verify: TLS verification: ``True`` to verify against the default CA
            bundle, the path of a CA bundle, or ``False`` to not verify (not
            recommended). ``None`` (the default) keeps the session's
            setting, which verifies for a session the collector made.
        headers: extra headers sent with every request. The headers of the
            protocol (``Content-Type``, ``Idempotency-Key``,
            ``Accept-Encoding``) and the token's ``Authorization`` take
            precedence. Names must be HTTP tokens,
            values latin-1 text without control characters or surrounding
            spaces.
        backoff: seconds before the second attempt when the response named
            no delay; each later delay is up to twice the one before, and
            jittered down by up to half.
        max_backoff: the longest delay between attempts in seconds, also
            when ``Retry-After`` asks for longer.

    Attributes:
        run_id (str): identifies the run in every URL: the run of the
            process, shared by every collector it makes until
            :meth:`Collector.new_run() <pushcollector.Collector.new_run>`,
            and by forked children. Ids are unique, URL-safe, and sort in
            the order runs began, such as
            ``20261125T143000.123456Z-3f9a1c2b7d4e`` (UTC time, then random
            hex digits).

    Raises:
        ValueError: if an argument is out of range, naming it; for example
            a URL that is not ``http`` or ``https``, or a token that HTTP
            cannot carry. A credential or header value is never quoted.
        TypeError: if an argument is of the wrong type, naming it.

    .. versionadded:: 1.4.0
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        session=None,
        batch_size: int = 500,
        timeout: float = 30,
        max_attempts: int = 5,
        *,
        verify: bool | str | None = None,
        headers: Mapping[str, str] | None = None,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
    ):
        self._batch_size = _checked_int("batch_size", batch_size)
        timeout = _checked_seconds("timeout", timeout, zero_allowed=False)
        max_attempts = _checked_int("max_attempts", max_attempts)
        backoff = _checked_seconds("backoff", backoff, zero_allowed=True)
        max_backoff = _checked_seconds("max_backoff", max_backoff, zero_allowed=True)
        if not (verify is None or isinstance(verify, (bool, str))):
            raise TypeError(
                "verify must be None, a bool or the path of a CA bundle, not %s"
                % type(verify).__name__
            )
        self._transport = Transport(
            url,
            token=token,
            session=session,
            timeout=timeout,
            policy=RetryPolicy(max_attempts, backoff, max_backoff),
            verify=verify,
            headers=_checked_headers(headers),
            error_type=HttpCollectorError,
        )
        self.run_id = current_run().run_id
        self._sender = OrderedSender(
            self._transport,
            key_prefix=self.run_id,
            name="HttpCollector of run %s to %s" % (self.run_id, self.url),
        )

    @classmethod
    def from_environment(cls) -> "HttpCollector":
        """The collector ``PUSHCOLLECTOR_HTTP_URL`` and
        ``PUSHCOLLECTOR_HTTP_TOKEN`` configure: the ``http`` backend.

        Raises:
            ValueError: if the URL is unset or empty, or the URL or token
                cannot be used, naming the variables.

        .. versionadded:: 1.6.0
        """
        url = HTTP_URL.get()
        if not url:
            raise ValueError(
                "the http backend needs the environment variable %s, "
                "the base URL of the service" % HTTP_URL.name
            )
        try:
            return cls(url, token=HTTP_TOKEN.get())
        except ValueError as error:
            raise ValueError(
                "%s (from the environment variables %s and %s)"
                % (error, HTTP_URL.name, HTTP_TOKEN.name)
            ) from None

    def __repr__(self):
        return "HttpCollector(url=%r, run_id=%r%s)" % (
            self.url,
            self.run_id,
            ", closed" if self._sender.closed else "",
        )

    @property
    def url(self) -> str:
        """The base URL of the service, without any user information."""
        return self._transport.url

    def __enter__(self) -> "HttpCollector":
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.close()

    def close(self) -> None:
        """Wait for every request, then release the thread and session.

        Failed requests are not raised here: their calls' futures hold the
        errors. Closing again does nothing.

        Raises:
            RuntimeError: if called from a callback of one of the
                collector's futures, which would wait for itself.
        """
        self._sender.close()

    def update_push_items(self, items):
        """Send push items in batches of at most ``batch_size``.

        Raises:
            TypeError: if an item holds a value that cannot be encoded as
                JSON. Nothing from the call is sent.
            ValueError: if an item holds NaN or an infinite number, which
                JSON cannot represent. Nothing from the call is sent.
            RuntimeError: if the collector is closed.
        """
        self._sender.raise_if_closed()
        if not items:
            return None
        size = self._batch_size
        # Encoded now, in full: the caller may change the items as soon as
        # we return, and an item that cannot be encoded must stop the call
        # before any of it is sent.
        bodies = [
            _encode_json(items[start : start + size]).encode("utf-8")
            for start in range(0, len(items), size)
        ]
        path = push_items_path(self.run_id)
        return self._sender.enqueue(
            [("POST", path, body, JSON_TYPE) for body in bodies]
        )

    def attach_file(self, filename, content):
        """Send a file to replace any of the same name (``PUT``).

        Raises:
            RuntimeError: if the collector is closed.
        """
        path = file_path(self.run_id, filename)
        return self._sender.enqueue([("PUT", path, content, BYTES_TYPE)])

    def append_file(self, filename, content):
        """Send content to append to a file (``POST``).

        Raises:
            RuntimeError: if the collector is closed.
        """
        path = file_path(self.run_id, filename)
        return self._sender.enqueue([("POST", path, content, BYTES_TYPE)])


def _checked_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if value < 1:
        raise ValueError("%s must be at least 1, got %d" % (name, value))
    return value


def _checked_seconds(name, value, zero_allowed):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            "%s must be a number of seconds, not %s" % (name, type(value).__name__)
        )
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed):
        raise ValueError(
            "%s must be a finite number of seconds %s, got %r"
            % (name, ">= 0" if zero_allowed else "> 0", value)
        )
    return value


def _checked_headers(headers):
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError("headers must be a mapping, not %s" % type(headers).__name__)
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("headers must map str to str; got a value for %r" % name)
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(
                "invalid header name %r: it must be letters, digits and "
                "!#$%%&'*+-.^_`|~" % name
            )
        # The value is never quoted: it may be a credential.
        if (
            not is_latin1(value)
            or value != value.strip(" \t")
            or any(char < " " and char != "\t" or char == "\x7f" for char in value)
        ):
            raise ValueError(
                "the value of header %r must be latin-1 text without control "
                "characters or surrounding spaces" % name
            )
    return dict(headers)
