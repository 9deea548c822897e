"""The ``http`` backend: records sent to a web service, in order, with retries.

The wire protocol is specified in ``docs/http.rst``. requests is imported
when first needed, never at package import.

Nothing here registers an exit hook or imports a module that does (such as
concurrent.futures.thread): once the interpreter has begun to exit, that
raises, and a collector may well be made or first used then, in an atexit
handler or in a thread that outlives the main one.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Mapping

from ..process_run import current_run
from ..protocol import BYTES_TYPE, JSON_TYPE, file_path, push_items_path
from ..transport.attempt import (
    DRAIN_BYTES,
    AttemptRunner,
    Exchange,
    Request,
    body_excerpt,
    read_at_most,
)
from ..transport.auth import (
    Authorization,
    basic_credentials,
    check_token,
    checked_url,
    is_latin1,
)
from ..transport.redaction import Redactor
from ..transport.retry import RetryPolicy, retry_after_seconds

LOG = logging.getLogger("pushcollector")

# How much of a response's reason phrase an exception quotes.
_REASON_CHARS = 100

# A header name as RFC 9110 defines it (a "token").
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Compact, and strict: NaN and Infinity are not JSON, and a service would
# reject them only after earlier batches were sent.
_encode_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode

# Every collector, for what a forked child must change in each.
_collectors = weakref.WeakSet()


def _after_fork_in_child():
    for collector in list(_collectors):
        collector._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _exiting():
    """Whether this is the main thread after it has finished: at exit.

    atexit handlers run there. A thread started now would not be waited
    for (and Python 3.12 refuses to start one), so what is recorded now is
    sent by the recording thread itself.
    """
    main = threading.main_thread()
    return threading.current_thread() is main and not main.is_alive()


class HttpCollectorError(OSError):
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
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.method = method
        self.url = url
        self.status = status
        # Read by the retry policy only.
        self._retryable = False
        self._retry_after = None


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
        self._url, credentials = checked_url(url)
        if token is not None:
            check_token(token)
        self._batch_size = _checked_int("batch_size", batch_size)
        self._timeout = _checked_seconds("timeout", timeout, zero_allowed=False)
        max_attempts = _checked_int("max_attempts", max_attempts)
        backoff = _checked_seconds("backoff", backoff, zero_allowed=True)
        max_backoff = _checked_seconds("max_backoff", max_backoff, zero_allowed=True)
        if not (verify is None or isinstance(verify, (bool, str))):
            raise TypeError(
                "verify must be None, a bool or the path of a CA bundle, not %s"
                % type(verify).__name__
            )
        self._verify = verify
        self._headers = _checked_headers(headers)
        # Secrets are blanked out of errors and logs, should a service echo
        # them back.
        if token is not None:
            self._auth = Authorization("Bearer", token)
            secrets = [token]
        elif credentials is not None:
            basic = basic_credentials(*credentials)
            self._auth = Authorization("Basic", basic)
            secrets = [credentials[1], basic] if credentials[1] else []
        else:
            self._auth = None
            secrets = []
        self._redact = Redactor(secrets)

        self.run_id = current_run().run_id
        self._session = session
        self._owns_session = session is None
        # Set in a forked child: the session's pool holds the parent's
        # connections.
        self._session_inherited = False
        self._policy = RetryPolicy(max_attempts, backoff, max_backoff)
        self._closed = False
        self._new_sender()
        _collectors.add(self)

    def _new_sender(self):
        """Start as a sender of its own: new keys, nothing queued, no thread.

        Run when the collector is made, and again in a forked child, where
        the parent's threads do not exist and its lock may be held for ever.
        Forked children record in the parent's run; with a sender id of
        their own they repeat neither its Idempotency-Keys nor each other's,
        which a service applying each key once would drop. What the parent
        had queued or in flight is the parent's to send.
        """
        self._sender_id = os.urandom(8).hex()
        self._keys = 0
        self._lock = threading.Lock()
        # Notified when the sender has sent everything queued.
        self._idle = threading.Condition(self._lock)
        self._queue = collections.deque()
        # Whether a thread is sending what is queued; the thread that does
        # (or did last); and the last thread started for it, which close()
        # waits for.
        self._sending = False
        self._sender = None
        self._thread = None
        self._failure = None

    def _after_fork(self):
        self._new_sender()
        if self._owns_session:
            # Made again when the child first sends; the parent's is left
            # alone, its sockets still in use there.
            self._session = None
        else:
            self._session_inherited = True

    def __repr__(self):
        return "HttpCollector(url=%r, run_id=%r%s)" % (
            self._url,
            self.run_id,
            ", closed" if self._closed else "",
        )

    @property
    def url(self) -> str:
        """The base URL of the service, without any user information."""
        return self._url

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
        current = threading.current_thread()
        with self._lock:
            if self._sending and self._sender is current:
                raise RuntimeError(
                    "HttpCollector.close() called from a callback of one of its "
                    "futures would wait for itself"
                )
            self._closed = True
            while self._sending:
                self._idle.wait()
            thread = self._thread
            session = self._session if self._owns_session else None
        # It has sent everything and is ending.
        if thread is not None and thread is not current:
            thread.join()
        if session is not None:
            session.close()

    def update_push_items(self, items):
        """Send push items in batches of at most ``batch_size``.

        Raises:
            TypeError: if an item holds a value that cannot be encoded as
                JSON. Nothing from the call is sent.
            ValueError: if an item holds NaN or an infinite number, which
                JSON cannot represent. Nothing from the call is sent.
            RuntimeError: if the collector is closed.
        """
        self._raise_if_closed()
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
        return self._enqueue([("POST", path, body, JSON_TYPE) for body in bodies])

    def attach_file(self, filename, content):
        """Send a file to replace any of the same name (``PUT``).

        Raises:
            RuntimeError: if the collector is closed.
        """
        return self._enqueue(
            [("PUT", file_path(self.run_id, filename), content, BYTES_TYPE)]
        )

    def append_file(self, filename, content):
        """Send content to append to a file (``POST``).

        Raises:
            RuntimeError: if the collector is closed.
        """
        return self._enqueue(
            [("POST", file_path(self.run_id, filename), content, BYTES_TYPE)]
        )

    def _raise_if_closed(self):
        if self._closed:
            raise RuntimeError(
                "HttpCollector of run %s to %s is closed" % (self.run_id, self._url)
            )

    def _request_headers(self, content_type, key):
        """The headers of a request. Called with the lock held."""
        headers = dict(self._headers)
        headers["Content-Type"] = content_type
        # Error bodies are read only in part, success bodies not at all:
        # compressing them is of no use.
        headers["Accept-Encoding"] = "identity"
        headers["Idempotency-Key"] = key
        return headers

    def _enqueue(self, specs, keys=None):
        """Queue one call's requests; the call's future.

        Args:
            specs: ``(method, path, body, content_type)`` of each request.
            keys: the Idempotency-Key of each request, for a sender whose
                keys must be the same in every process sending the same
                request (``pushcollector upload``); by default the
                collector's own, ``{run_id}.{sender}.{n}``.
        """
        from concurrent.futures import Future

        call = Future()
        start = False
        with self._lock:
            self._raise_if_closed()
            requests = []
            for index, (method, path, body, content_type) in enumerate(specs):
                self._keys += 1
                if keys is None:
                    key = "%s.%s.%d" % (self.run_id, self._sender_id, self._keys)
                else:
                    key = keys[index]
                headers = self._request_headers(content_type, key)
                requests.append(Request(method, path, body, headers, call))
            requests[0].first = requests[-1].last = True

            failure = self._failure
            if failure is None:
                self._queue.extend(requests)
                start = not self._sending
                self._sending = True
        if failure is not None:
            call.set_exception(self._not_sent_error(requests[0], failure))
        elif start:
            self._start_sending()
        return call

    def _start_sending(self):
        """Send what is queued from a new thread, or from this one at exit.

        The thread is not a daemon, so the interpreter waits for it when it
        exits: what was recorded is delivered even if nobody waited for the
        futures or closed the collector. It ends when nothing is left to
        send, so an idle collector keeps no thread and never holds up exit.
        """
        if not _exiting():
            thread = threading.Thread(
                target=self._send_queued, args=(True,), name="pushcollector-http"
            )
            try:
                thread.start()
                return
            except RuntimeError:
                # No new thread once the interpreter is finalizing.
                pass
        self._send_queued(False)

    def _send_queued(self, own_thread):
        """Send the queued requests one at a time, in order, until none is left.

        A request is only sent once the one before it is done, retries
        included, which is what keeps the order.

        Args:
            own_thread: whether this runs in a thread started for it.
        """
        with self._lock:
            # Before anything is sent, so before close() can stop waiting.
            self._sender = threading.current_thread()
            if own_thread:
                self._thread = self._sender
        runner = AttemptRunner()
        try:
            self._send_each(runner)
        finally:
            # Before close() returns, which waits for this thread.
            runner.stop()

    def _send_each(self, runner):
        while True:
            with self._lock:
                request = self._next_request()
            if request is None:
                return
            error = self._deliver(request, runner)
            settled = []
            with self._lock:
                if error is None:
                    if request.last:
                        settled.append((request.call, None))
                else:
                    self._failure = error
                    settled.append((request.call, error))
                    settled.extend(self._fail_queue(error))
            if error is not None:
                LOG.error(
                    "%s; later calls of this collector fail without sending", error
                )
            # Outside the lock: callbacks of the futures may call the collector.
            for call, call_error in settled:
                if call_error is None:
                    call.set_result(None)
                else:
                    call.set_exception(call_error)

    def _next_request(self):
        """Pop the next request to send, or None and become idle.

        Requests of a call cancelled before any of them was sent are
        dropped. Called with the lock held.
        """
        while self._queue:
            request = self._queue.popleft()
            if not request.first or request.call.set_running_or_notify_cancel():
                return request
            while not request.last:
                request = self._queue.popleft()
        self._sending = False
        self._idle.notify_all()
        return None

    def _deliver(self, request, runner):
        """Send a request until it succeeds or the policy gives up.

        Returns:
            None, or the HttpCollectorError of the last attempt.
        """
        policy = self._policy
        while True:
            failure = self._attempt(request, runner)
            if failure is None or not policy.should_retry(request.attempts, failure):
                return failure
            delay = policy.sleep_time(request.attempts, failure)
            LOG.warning("%s; retrying in %.2f s", failure, delay)
            time.sleep(delay)

    def _session_to_send_with(self):
        """The session, made if needed; run by the sending thread only."""
        if self._session is None:
            import requests

            self._session = requests.Session()
        elif self._session_inherited:
            # Drop the pooled connections of the parent process, still in
            # use there; the session makes new ones.
            self._session_inherited = False
            self._session.close()
        return self._session

    def _fail_queue(self, failure):
        """Empty the queue; each call in it with its not-sent error."""
        failed = []
        for request in self._queue:
            # Claiming the call makes a later cancel() of it fail, so that
            # the error can be set; a call cancelled already is skipped.
            if request.first and request.call.set_running_or_notify_cancel():
                failed.append((request.call, self._not_sent_error(request, failure)))
        self._queue.clear()
        return failed

    def _not_sent_error(self, request, failure):
        url = self._url + request.path
        error = HttpCollectorError(
            "%s %s was not sent: an earlier request of this collector failed: %s"
            % (request.method, url, failure),
            method=request.method,
            url=url,
        )
        error.__cause__ = failure
        return error

    def _attempt(self, request, runner):
        """Send a request once: None if it succeeded, else its HttpCollectorError.

        The attempt runs in a thread of its own, which is given up on once
        it has taken ``timeout`` seconds in all: a socket timeout bounds each
        read, not a service that answers a byte at a time.
        """
        request.attempts += 1
        url = self._url + request.path
        try:
            session = self._session_to_send_with()
        except Exception as error:
            return self._unexpected(request, url, error)
        exchange = Exchange()
        job = functools.partial(exchange.run, self._exchange, session, request, url)
        if not runner.run(job):
            # This thread makes the attempt, each read bounded by the socket
            # timeout alone.
            job()
        if exchange.done.wait(self._timeout) or not exchange.give_up():
            exchange.done.wait()
            return exchange.outcome
        runner.abandon()
        if exchange.succeeded:
            # The service said success; only the rest of its body was late.
            return None
        failure = self._error(
            request,
            url,
            None,
            "timed out: no complete answer within the timeout of %g s" % self._timeout,
        )
        failure._retryable = True
        return failure

    def _exchange(self, exchange, session, request, url):
        """Make one attempt, in the attempt's thread; its outcome."""
        try:
            return self._send_once(exchange, session, request, url)
        except Exception as error:
            # Whatever a session or its adapter may raise fails the request;
            # and a failure is never mistaken for a success.
            return self._unexpected(request, url, error)

    def _send_once(self, exchange, session, request, url):
        """The attempt proper: the request, and as much of the answer as needed."""
        import requests

        try:
            response = session.request(
                request.method,
                url,
                data=request.body,
                headers=request.headers,
                auth=self._auth,
                timeout=self._timeout,
                verify=self._verify,
                # A redirected POST would be resent as a GET without its
                # body; the service must be configured at its final URL.
                allow_redirects=False,
                # Bodies are read only as far as needed, if at all.
                stream=True,
            )
        except requests.RequestException as error:
            # Not chained: requests' exceptions hold the prepared request,
            # Authorization header included.
            failure = self._error(
                request,
                url,
                None,
                "%s: %s" % (type(error).__name__, error),
            )
            failure._retryable = isinstance(
                error,
                (
                    requests.ConnectionError,
                    requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                ),
            ) and not isinstance(error, requests.exceptions.SSLError)
            return failure

        try:
            if not exchange.answered(response):
                return None
            status = response.status_code
            if 200 <= status < 300:
                if request.answer_limit:
                    request.answer = read_at_most(response, request.answer_limit + 1)
                else:
                    # Read only so that the connection can be used again.
                    read_at_most(response, DRAIN_BYTES)
                LOG.debug(
                    "%s %s: HTTP %d (%d bytes, attempt %d)",
                    request.method,
                    url,
                    status,
                    len(request.body),
                    request.attempts,
                )
                return None
            failure = self._error(
                request,
                url,
                status,
                "HTTP %d %s: %s"
                % (
                    status,
                    self._redact(str(response.reason))[:_REASON_CHARS],
                    body_excerpt(response, self._redact),
                ),
            )
            # Exactly what the protocol names: 429 and the 5xx class, not
            # any three digits a service makes up above it.
            failure._retryable = status == 429 or 500 <= status <= 599
            failure._retry_after = retry_after_seconds(
                response.headers.get("Retry-After")
            )
            return failure
        finally:
            # Before the connection goes back to the pool (or is closed),
            # so that a late give_up() cannot shut it down under the next
            # request.
            exchange.finish()
            response.close()

    def _unexpected(self, request, url, error):
        return self._error(request, url, None, "%s: %s" % (type(error).__name__, error))

    def _error(self, request, url, status, detail):
        message = "%s %s failed (attempt %d of %d): %s" % (
            request.method,
            url,
            request.attempts,
            self._policy.max_attempts,
            detail,
        )
        # Last, on the whole: quoting with repr() may have made a piece of a
        # secret out of text that was not one.
        message = self._redact(message)
        return HttpCollectorError(
            message, method=request.method, url=url, status=status
        )


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
