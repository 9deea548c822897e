"""One attempt at a request, bounded in time and in what it reads."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import zlib

# How much of an error response's body an exception quotes.
_BODY_EXCERPT_CHARS = 200


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


def body_excerpt(response, redact):
    """The start of an error response's body, quoted, read and decoded bounded.

    Secrets are blanked out of all that was decoded, before it is cut to the
    excerpt: one straddling the cut must not show its first characters.
    """
    data = read_at_most(response, _ERROR_BODY_BYTES + 1)
    more = len(data) > _ERROR_BODY_BYTES
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            # 47: a gzip or zlib header, told apart by the decompressor.
            decompressor = zlib.decompressobj(47)
            data = decompressor.decompress(data, _ERROR_BODY_BYTES)
        except zlib.error:
            return "[a body that is not the %s data it claims to be]" % encoding
        more = more or bool(decompressor.unconsumed_tail)
    elif encoding != "identity":
        return "[a body in a content coding not shown]"
    text = redact(data.decode("utf-8", "replace"))
    if more or len(text) > _BODY_EXCERPT_CHARS:
        text = text[:_BODY_EXCERPT_CHARS] + "..."
    return repr(text)


class Request:
    """One HTTP request of a call; the body and headers are final."""

    __slots__ = (
        "method",
        "path",
        "body",
        "headers",
        "call",
        "first",
        "last",
        "attempts",
        "answer_limit",
        "answer",
    )

    def __init__(self, method, path, body, headers, call):
        self.method = method
        self.path = path
        self.body = body
        self.headers = headers
        self.call = call
        # Whether this is the first or last request of its call.
        self.first = self.last = False
        # Counted by the sending thread, the only one sending it.
        self.attempts = 0
        # For a request whose answer is wanted (pushcollector upload's
        # reads): the most of a success body kept, read up to one byte
        # more, so that a longer one can be told; the body is in answer.
        self.answer_limit = 0
        self.answer = None
