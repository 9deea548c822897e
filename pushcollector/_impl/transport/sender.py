"""Requests sent in order from a background thread, each call's future
resolved when its requests are done.

Nothing here registers an exit hook or imports a module that does (such as
concurrent.futures.thread): once the interpreter has begun to exit, that
raises, and a sender may well be made or first used then, in an atexit
handler or in a thread that outlives the main one.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import Future

from .attempt import AttemptRunner, Request, Transport

LOG = logging.getLogger("pushcollector")

# Every sender, for what a forked child must change in each.
_senders = weakref.WeakSet()


def after_fork_in_child() -> None:
    """Make every sender of the process a sender of its own (in a forked child)."""
    for sender in list(_senders):
        sender.after_fork()


os.register_at_fork(after_in_child=after_fork_in_child)


def exiting() -> bool:
    """Whether this is the main thread after it has finished: at exit.

    atexit handlers run there. A thread started now would not be waited
    for (and Python 3.12 refuses to start one), so what is recorded now is
    sent by the recording thread itself.
    """
    main = threading.main_thread()
    return threading.current_thread() is main and not main.is_alive()


class OrderedSender:
    """Sends calls' requests one at a time, in call order, through a transport.

    A request is only sent once the one before it is done, retries
    included, which is what keeps the order. Once a request has failed for
    good, its call's future fails with the error, and so does the future of
    every later call, without sending anything: a later record never
    reaches the service when an earlier one did not.

    The background thread runs while there is something to send. It is not
    a daemon: the interpreter waits for it at exit, so what was queued is
    delivered even if nobody waits for the futures or closes the sender. In
    an :mod:`atexit` handler, where no thread would be waited for, calls send
    before they return. A sender inherited by a forked child sends from the
    child as a sender of its own, leaving what the parent had queued to the
    parent.

    Args:
        transport: what sends each request.
        key_prefix: the start of the ``Idempotency-Key`` of each request that
            is given none: ``{key_prefix}.{sender}.{n}``.
        name: how the sender's owner is named in its errors, such as
            ``"HttpCollector of run R to URL"``.
    """

    def __init__(self, transport: Transport, key_prefix: str, name: str):
        self.transport = transport
        self.key_prefix = key_prefix
        self.name = name
        self.closed = False
        self._new_sender()
        _senders.add(self)

    def _new_sender(self):
        """Start as a sender of its own: new keys, nothing queued, no thread.

        Run when the sender is made, and again in a forked child, where the
        parent's threads do not exist and its lock may be held for ever.
        With a sender id of their own, forked children repeat neither the
        parent's Idempotency-Keys nor each other's, which a service applying
        each key once would drop. What the parent had queued or in flight
        is the parent's to send.
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

    def after_fork(self) -> None:
        """Become a sender of its own, in a forked child."""
        self._new_sender()
        self.transport.after_fork()

    def close(self) -> None:
        """Wait for every request, then release the thread and the transport.

        Failed requests are not raised here: their calls' futures hold the
        errors. Closing again does nothing.

        Raises:
            RuntimeError: if called from a callback of one of the sender's
                futures, which would wait for itself.
        """
        current = threading.current_thread()
        with self._lock:
            if self._sending and self._sender is current:
                raise RuntimeError(
                    "%s: close() called from a callback of one of its futures"
                    " would wait for itself" % self.name
                )
            self.closed = True
            while self._sending:
                self._idle.wait()
            thread = self._thread
        # It has sent everything and is ending.
        if thread is not None and thread is not current:
            thread.join()
        self.transport.close()

    def raise_if_closed(self) -> None:
        """Raise RuntimeError if the sender is closed."""
        if self.closed:
            raise RuntimeError("%s is closed" % self.name)

    def enqueue(
        self,
        specs: Sequence[tuple[str, str, bytes, str]],
        keys: Sequence[str] | None = None,
    ) -> Future:
        """Queue one call's requests; the call's future.

        Args:
            specs: ``(method, path, body, content_type)`` of each request.
            keys: the Idempotency-Key of each request, for a sender whose
                keys must be the same in every process sending the same
                request (``pushcollector upload``); by default the sender's
                own.

        Raises:
            RuntimeError: if the sender is closed.
        """
        call = Future()
        start = False
        with self._lock:
            self.raise_if_closed()
            requests = []
            for index, (method, path, body, content_type) in enumerate(specs):
                self._keys += 1
                if keys is None:
                    key = "%s.%s.%d" % (self.key_prefix, self._sender_id, self._keys)
                else:
                    key = keys[index]
                headers = self.transport.request_headers(content_type, key)
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
        exits. It ends when nothing is left to send, so an idle sender keeps
        no thread and never holds up exit.
        """
        if not exiting():
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
        """Send the queued requests one at a time, until none is left.

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
            failure = self.transport.deliver(request, runner)
            error = None if failure is None else failure.error
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
            # Outside the lock: callbacks of the futures may call the sender.
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
        url = self.transport.url + request.path
        error = self.transport.error_type(
            "%s %s was not sent: an earlier request of this collector failed: %s"
            % (request.method, url, failure),
            method=request.method,
            url=url,
        )
        error.__cause__ = failure
        return error
