"""One attempt at a request, bounded in time and in what it reads, and the
transport that makes attempts until the retry policy gives up.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping

from .auth import Authorization, basic_credentials, check_token, checked_url
from .errors import ServiceError
from .redaction import Redactor
from .retry import Failure, RetryPolicy, retry_after_seconds

LOG = logging.getLogger("pushcollector")

# How much of an error answer's body, and of its reason phrase, the error
# of a write quotes.
_BODY_EXCERPT_CHARS = 200
_REASON_CHARS = 100

# How much of a library's message of a failure the error of a read quotes.
_CAUSE_CHARS = 300

# The most of an error response's body read, as sent, and the most it is
# decompressed to: enough for the excerpt, whatever a service sends.
_ERROR_BODY_BYTES = 4096


# The most of a success response's body read: a short one is read to its
# end so that the connection can be used again; a longer one is not, and
# its connection is closed.
DRAIN_BYTES = 4096


class AttemptRunner:
    """Runs attempts in a thread of its own, one at a time.

    One thread serves a sending thread's attempts until one of them is
    given up on; that one may never end, so the next gets a new thread.
    """

    __slots__ = ("_thread", "_jobs")

    def __init__(self):
        self._thread = None
        self._jobs = None

    def run(self, job):
        """Start job in the thread; False if no thread can be started."""
        if self._thread is None:
            jobs = queue.SimpleQueue()
            thread = threading.Thread(
                target=_run_jobs,
                args=(jobs,),
                name="pushcollector-http-attempt",
                # Given up on, it must not hold up the interpreter's exit.
                daemon=True,
            )
            try:
                thread.start()
            except RuntimeError:
                # No new thread once the interpreter is finalizing.
                return False
            self._thread, self._jobs = thread, jobs
        self._jobs.put(job)
        return True

    def abandon(self):
        """Leave the thread to its job, and to end once that ends."""
        self._jobs.put(None)
        self._thread = self._jobs = None

    def stop(self):
        """End the thread; its job, if any, is done."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = self._jobs = None


def _run_jobs(jobs):
    for job in iter(jobs.get, None):
        job()


class Exchange:
    """One attempt at a request, in a thread that can be given up on.

    The sending thread waits for the attempt up to the timeout, then gives
    up on it. If the answer has begun to arrive, its connection is shut
    down, which ends the attempt's thread at once; otherwise the thread is
    left to end by itself, and closes the connection as soon as the answer
    comes, if it ever does.
    """

    __slots__ = ("done", "outcome", "succeeded", "_lock", "_response", "_state")

    def __init__(self):
        self.done = threading.Event()
        self.outcome = None
        # Whether the answer's status was a success.
        self.succeeded = False
        self._lock = threading.Lock()
        self._response = None
        self._state = "sending"

    def run(self, exchange, *args):
        try:
            self.outcome = exchange(self, *args)
        finally:
            self.done.set()

    def answered(self, response):
        """Note the answer; False if the attempt was given up on already."""
        with self._lock:
            if self._state == "given up":
                return False
            self._response = response
            self.succeeded = 200 <= response.status_code < 300
            return True

    def finish(self):
        """Keep give_up() off the connection, about to be released."""
        with self._lock:
            if self._state != "given up":
                self._state = "finished"

    def give_up(self):
        """Abandon the attempt; False if it finished in the meantime."""
        with self._lock:
            if self._state == "finished":
                return False
            self._state = "given up"
            if self._response is not None:
                shut_down(self._response)
        return True


def shut_down(response):
    """Shut a response's connection down, waking the thread reading it.

    Shut down, not closed: a socket closed under a thread using it may be
    reused for another connection before that thread notices.
    """
    # urllib3's responses name their connection, when they have one; it
    # wraps a TLS connection through a TLS proxy in an object whose socket
    # is its "socket".
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    sock = getattr(sock, "socket", sock)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            # The plain socket's shutdown: ssl.SSLSocket's would also drop
            # its TLS state from under the thread reading with it.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def read_at_most(response, limit):
    """Up to limit bytes of a body as sent (not decompressed); b"" if unreadable."""
    try:
        return response.raw.read(limit, decode_content=False)
    except Exception:
        # A body that cannot be read, or was shut down, changes nothing
        # about the answer's status, which is what counts.
        return b""


def content_coding(headers: Mapping[str, str]) -> str:
    """The content coding of an answer, lower case: ``identity`` if none."""
    return headers.get("Content-Encoding", "identity").strip().lower()


def error_body(response, redact) -> tuple[str, bool, str | None]:
    """The start of an error answer's body, decoded and redacted, read and
    decompressed bounded; whether the body went on beyond it; and why it is
    not shown, if it cannot be.

    Secrets are blanked out of all that was decoded, before anyone cuts it
    shorter: one straddling the cut must not show its first characters.
    """
    data = read_at_most(response, _ERROR_BODY_BYTES + 1)
    more = len(data) > _ERROR_BODY_BYTES
    encoding = content_coding(response.headers)
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            # 47: a gzip or zlib header, told apart by the decompressor.
            decompressor = zlib.decompressobj(47)
            data = decompressor.decompress(data, _ERROR_BODY_BYTES)
        except zlib.error:
            return (
                "",
                False,
                "a body that is not the %s data it claims to be" % (encoding),
            )
        more = more or bool(decompressor.unconsumed_tail)
    elif encoding != "identity":
        return "", False, "a body in a content coding not shown"
    return redact(data.decode("utf-8", "replace")), more, None


class Request:
    """One HTTP request; the body and headers are final.

    Attributes:
        method, path, body, headers, params: what is sent; ``path`` is below
            the transport's base URL, ``params`` its query (or None).
        call: the future of the call the request belongs to, for a sender.
        first, last: whether it is the first or last request of its call.
        attempts: attempts made so far, counted by the one thread sending it.
        answer_limit: for a request whose answer is wanted, the most of a
            success body kept; it is read up to one byte more, so that a
            longer one can be told. The body is then in ``answer``, as sent
            (never decompressed), and the answer's headers in
            ``answer_headers``.
        stream: whether a success answer is left open for its body to be
            read in chunks (see :meth:`Transport.chunks`); it is then in
            ``response``.
    """

    __slots__ = (
        "method",
        "path",
        "body",
        "headers",
        "params",
        "call",
        "first",
        "last",
        "attempts",
        "answer_limit",
        "answer",
        "answer_headers",
        "stream",
        "response",
    )

    def __init__(self, method, path, body, headers, call=None, params=None):
        self.method = method
        self.path = path
        self.body = body
        self.headers = headers
        self.params = params
        self.call = call
        self.first = self.last = False
        self.attempts = 0
        self.answer_limit = 0
        self.answer = None
        self.answer_headers = None
        self.stream = False
        self.response = None


def describe_attempt(request: Request, url: str, failure: Failure, policy) -> str:
    """What the error of a failed attempt of a write says: the request, the
    attempt, and the answer or the failure."""
    if failure.time_limit is not None:
        detail = "timed out: no complete answer within the timeout of %g s" % (
            failure.time_limit
        )
    elif failure.status is not None:
        if failure.body_note is not None:
            excerpt = "[%s]" % failure.body_note
        else:
            excerpt = failure.body
            if failure.body_cut or len(excerpt) > _BODY_EXCERPT_CHARS:
                excerpt = excerpt[:_BODY_EXCERPT_CHARS] + "..."
            excerpt = repr(excerpt)
        detail = "HTTP %d %s: %s" % (
            failure.status,
            str(failure.reason)[:_REASON_CHARS],
            excerpt,
        )
    else:
        detail = "%s: %s" % (type(failure.cause).__name__, failure.cause)
    return "%s %s failed (attempt %d of %d): %s" % (
        request.method,
        url,
        request.attempts,
        policy.max_attempts,
        detail,
    )


def credentials_of(
    token: str | None, url_credentials: tuple[str, str] | None
) -> tuple[Authorization | None, list[str]]:
    """What authorizes requests, and the secrets errors must never show.

    A token is sent as a Bearer token; otherwise credentials taken out of
    the URL are sent as HTTP basic authentication.
    """
    if token is not None:
        return Authorization("Bearer", token), [token]
    if url_credentials is not None:
        basic = basic_credentials(*url_credentials)
        password = url_credentials[1]
        return Authorization("Basic", basic), [password, basic] if password else []
    return None, []


class Transport:
    """How one client talks to one service: its base URL, session,
    credentials, timeout and retry policy.

    Attempts are made in a thread of an :class:`AttemptRunner` of the
    calling thread, so that each can be given up on at its time limit,
    whatever the service does: a socket timeout bounds each read, not a
    service that answers a byte at a time.

    Args:
        url: the service's base URL; credentials in it are taken out of it.
        token: a Bearer token, sent instead of any credentials in the URL.
        session: a ``requests.Session`` to send with, not closed here; by
            default one is made when first needed.
        timeout: seconds an attempt may take in all.
        policy: the retry policy.
        verify: TLS verification, as requests takes it; None keeps the
            session's.
        headers: extra headers of every request.
        error_type: the :class:`ServiceError` subclass of the errors made.
        describe: what an error says, from the request, its URL, the
            failure and the policy; by default :func:`describe_attempt`.
        retry_log_level: the level retries are logged at.

    Raises:
        ValueError, TypeError: for a URL or token that cannot be used; the
            message never quotes them.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        session=None,
        timeout: float,
        policy: RetryPolicy,
        verify: bool | str | None = None,
        headers: Mapping[str, str] | None = None,
        error_type: type = ServiceError,
        describe: Callable = describe_attempt,
        retry_log_level: int = logging.WARNING,
    ):
        self.url, url_credentials = checked_url(url)
        if token is not None:
            check_token(token)
        self.auth, secrets = credentials_of(token, url_credentials)
        # Secrets are blanked out of errors and logs, should a service echo
        # them back.
        self.redact = Redactor(secrets)
        self.timeout = timeout
        self.policy = policy
        self.verify = verify
        self.headers = dict(headers or {})
        self.error_type = error_type
        self.describe = describe
        self.retry_log_level = retry_log_level
        self.session = session
        self.owns_session = session is None
        # Set in a forked child: the session's pool holds the parent's
        # connections.
        self.session_inherited = False

    def after_fork(self) -> None:
        """Leave the parent's connections to the parent (in a forked child)."""
        if self.owns_session:
            # Made again when the child first sends; the parent's is left
            # alone, its sockets still in use there.
            self.session = None
        else:
            self.session_inherited = True

    def close(self) -> None:
        """Close the session, if this transport made it."""
        if self.owns_session and self.session is not None:
            self.session.close()

    def request_headers(
        self, content_type: str | None = None, key: str | None = None
    ) -> dict:
        """The headers of a request: the extra ones, then the protocol's."""
        headers = dict(self.headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        # Error bodies are read only in part, success bodies bounded:
        # compressed ones could not be bounded by what is read.
        headers["Accept-Encoding"] = "identity"
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def fetch(self, request: Request, deadline: float | None = None) -> Failure | None:
        """Deliver a request outside any sender: as :meth:`deliver`, with an
        attempt runner of its own, stopped once the request is done with."""
        runner = AttemptRunner()
        try:
            return self.deliver(request, runner, deadline)
        finally:
            runner.stop()

    def deliver(
        self, request: Request, runner: AttemptRunner, deadline: float | None = None
    ) -> Failure | None:
        """Make attempts until one succeeds or the policy gives up.

        Args:
            deadline: a :func:`time.monotonic` time by which the request is
                done with, retries included: each attempt's time limit is
                cut to it, and no attempt is made after it.

        Returns:
            None, or the failure of the last attempt, with its ``error``.
        """
        policy = self.policy
        while True:
            limit = self.timeout
            if deadline is not None:
                limit = max(0.001, min(limit, deadline - time.monotonic()))
            failure = self.attempt(request, runner, limit)
            if failure is None:
                return None
            if not policy.should_retry(request.attempts, failure):
                return failure
            delay = policy.sleep_time(request.attempts, failure)
            if deadline is not None and time.monotonic() + delay >= deadline:
                return failure
            LOG.log(
                self.retry_log_level, "%s; retrying in %.2f s", failure.error, delay
            )
            time.sleep(delay)

    def attempt(
        self, request: Request, runner: AttemptRunner, limit: float
    ) -> Failure | None:
        """Send a request once: None if it succeeded, else its failure.

        The attempt is given up on once it has taken ``limit`` seconds in
        all.
        """
        request.attempts += 1
        url = self.url + request.path
        exchange = Exchange()
        job = functools.partial(exchange.run, self._exchange, request, url)
        if not runner.run(job):
            # This thread makes the attempt, each read bounded by the socket
            # timeout alone.
            job()
        if exchange.done.wait(limit) or not exchange.give_up():
            exchange.done.wait()
            failure = exchange.outcome
        else:
            runner.abandon()
            if exchange.succeeded and not request.answer_limit:
                # The service said success; only the rest of its body was late.
                return None
            failure = Failure(time_limit=limit)
        if failure is not None:
            failure.error = self.error_of(request, url, failure)
        return failure

    def error_of(self, request: Request, url: str, failure: Failure) -> ServiceError:
        """The error a failure of a request is told by."""
        # Redacted last, on the whole: quoting with repr() may have made a
        # piece of a secret out of text that was not one.
        message = self.redact(self.describe(request, url, failure, self.policy))
        return self.error_type(
            message, method=request.method, url=url, status=failure.status
        )

    def _session(self):
        """The session, made if needed; used by one sending thread at a time."""
        if self.session is None:
            import requests

            self.session = requests.Session()
        elif self.session_inherited:
            # Drop the pooled connections of the parent process, still in
            # use there; the session makes new ones.
            self.session_inherited = False
            self.session.close()
        return self.session

    def _exchange(self, exchange, request, url):
        """Make one attempt, in the attempt's thread; its failure or None."""
        try:
            return self._send_once(exchange, request, url)
        except Exception as error:
            # Whatever a session or its adapter may raise fails the request;
            # and a failure is never mistaken for a success.
            return Failure(cause=error)

    def _send_once(self, exchange, request, url):
        """The attempt proper: the request, and as much of the answer as needed."""
        import requests

        try:
            response = self._session().request(
                request.method,
                url,
                params=request.params,
                data=request.body,
                headers=request.headers,
                auth=self.auth,
                timeout=self.timeout,
                verify=self.verify,
                # A redirected POST would be resent as a GET without its
                # body; the service must be configured at its final URL.
                allow_redirects=False,
                # Bodies are read only as far as needed, if at all.
                stream=True,
            )
        except requests.RequestException as error:
            # Its message only: requests' exceptions hold the prepared
            # request, Authorization header included.
            return Failure(cause=error)

        keep_open = False
        try:
            if not exchange.answered(response):
                return None
            status = response.status_code
            if 200 <= status < 300:
                if request.stream:
                    request.response = response
                    keep_open = True
                elif request.answer_limit:
                    request.answer_headers = response.headers
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
            body, body_cut, body_note = error_body(response, self.redact)
            return Failure(
                status=status,
                reason=(
                    None
                    if response.reason is None
                    else self.redact(str(response.reason))
                ),
                body=body,
                body_cut=body_cut,
                body_note=body_note,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        finally:
            # Before the connection goes back to the pool (or is closed),
            # so that a late give_up() cannot shut it down under the next
            # request.
            exchange.finish()
            if not keep_open:
                response.close()

    def chunks(
        self, request: Request, size: int, on_error: Callable[[str], ServiceError]
    ) -> Iterator[bytes]:
        """The body of a streamed answer, ``size`` bytes at a time, as sent
        (never decompressed: a small body must not inflate into a huge one).

        Each chunk must arrive within the timeout, or the connection is shut
        down; the answer is closed once read, or when the caller stops.

        Args:
            request: a request with ``stream`` set, delivered.
            on_error: makes the error raised from why the body could not be
                read.
        """
        response = request.response
        runner = AttemptRunner()
        try:
            while True:
                read = _ChunkRead(response, size)
                if not runner.run(read.run):
                    read.run()
                if not read.done.wait(self.timeout):
                    shut_down(response)
                    runner.abandon()
                    raise on_error(
                        "timed out: no %d bytes within the timeout of %g s"
                        % (size, self.timeout)
                    )
                if read.error is not None:
                    raise on_error(self.redact(describe_cause(read.error)))
                if not read.data:
                    return
                yield read.data
        finally:
            runner.stop()
            response.close()


class _ChunkRead:
    """One read of a streamed body, in a thread that can be given up on."""

    __slots__ = ("response", "size", "done", "data", "error")

    def __init__(self, response, size):
        self.response = response
        self.size = size
        self.done = threading.Event()
        self.data = b""
        self.error = None

    def run(self):
        try:
            self.data = self.response.raw.read(self.size, decode_content=False)
        except Exception as error:
            self.error = error
        finally:
            self.done.set()


def describe_cause(error: BaseException) -> str:
    """What went wrong with a request, in a few words: the system's own
    message when there is one, not the chain of wrappers around it."""
    text = str(error)
    found = re.findall(r"\[Errno -?\d+\] [^'\"\)]*", text)
    if found:
        return found[-1].strip()
    if "timed out" in text.lower():
        return "timed out"
    return "%s: %s" % (type(error).__name__, text[:_CAUSE_CHARS])
