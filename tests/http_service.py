"""Loopback services for the tests of the http backend.

FakeService speaks the protocol of the http backend. It keeps what it is
sent in memory and, like a real service, applies each Idempotency-Key once.
It can be made unreliable: with ``fault_rate`` it drops connections before
reading a request, answers 503, or applies a request and then closes the
connection without answering (the ``kinds`` of fault, chosen at random with
a seed), at most ``max_faults_per_key`` times for the same request; and it
can hold the requests for a file until the test releases them.

ScriptedService answers whatever the test writes, byte by byte: answers
that trickle, never end, explode when decompressed or echo credentials.
"""

import json
import random
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("drop", "unavailable", "lost answer")


class _LoopbackServer:
    """A threading HTTP server on a free loopback port, serving while in a
    with block."""

    def _listen(self, handler_class):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}
        )

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return "http://%s:%d/api" % (host, port)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)


class FakeService(_LoopbackServer):
    """Use as a context manager; ``url`` is its base URL while it runs.

    Attributes:
        items: run id -> every push item applied, in order.
        files: (run id, filename) -> content.
        faults: how many of each kind of fault were injected.
        keys: every Idempotency-Key in the order first applied.
    """

    def __init__(
        self, token=None, fault_rate=0.0, seed=0, max_faults_per_key=3, kinds=FAULTS
    ):
        self.token = token
        self.fault_rate = fault_rate
        self.kinds = kinds
        self.max_faults_per_key = max_faults_per_key
        self.items = {}
        self.files = {}
        self.faults = Counter()
        self.keys = []
        self.holds = {}
        self._applied = set()
        self._faults_by_key = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._listen(_handler_for(self))

    def hold(self, filename):
        """Hold every request for a file until the test says so.

        Returns a Hold whose ``arrived`` is set when such a request has come
        in, and which is answered (and applied) once ``release`` is set.
        """
        hold = self.holds[filename] = Hold()
        return hold

    def choose_fault(self, key):
        """The fault to inject for a request, or None; at most a few per key."""
        with self._lock:
            if self._faults_by_key[key] >= self.max_faults_per_key:
                return None
            if self._random.random() >= self.fault_rate:
                return None
            fault = self._random.choice(self.kinds)
            self._faults_by_key[key] += 1
            self.faults[fault] += 1
            return fault

    def apply(self, key, method, run_id, resource, body):
        """Apply a request unless its key was applied before."""
        with self._lock:
            if key in self._applied:
                return
            self._applied.add(key)
            self.keys.append(key)
            if resource is None:
                self.items.setdefault(run_id, []).extend(json.loads(body))
            elif method == "PUT":
                self.files[run_id, resource] = bytearray(body)
            else:
                self.files.setdefault((run_id, resource), bytearray()).extend(body)


class Hold:
    def __init__(self):
        self.arrived = threading.Event()
        self.release = threading.Event()


class _QuietHandler(BaseHTTPRequestHandler):
    """Answers GET, POST and PUT with ``_handle``, keeps connections open,
    logs nothing."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()


def _handler_for(service):
    class Handler(_QuietHandler):

        def _handle(self):
            key = self.headers.get("Idempotency-Key")
            fault = service.choose_fault(key)
            if fault == "drop":
                self.close_connection = True
                return
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if fault == "unavailable":
                self._answer(503, b"try again", {"Retry-After": "0"})
                return
            target = self._target()
            if target is None:
                self._answer(404, b"no such resource")
                return
            if not key:
                self._answer(400, b"Idempotency-Key missing")
                return
            hold = service.holds.get(target[1])
            if hold is not None:
                hold.arrived.set()
                hold.release.wait(60)
            if service.token and self.headers.get("Authorization") != (
                "Bearer " + service.token
            ):
                self._answer(401, b"bad token")
                return
            service.apply(key, self.command, *target, body)
            if fault == "lost answer":
                self.close_connection = True
                return
            self._answer(201 if target[1] is None else 204, b"")

        def _target(self):
            """(run id, filename or None for push items) of the path, or None."""
            parts = self.path.split("/")
            if parts[:3] != ["", "api", "runs"] or len(parts) < 5:
                return None
            run_id, kind, rest = parts[3], parts[4], parts[5:]
            if kind == "push-items" and not rest and self.command == "POST":
                return run_id, None
            if kind == "files" and rest:
                return run_id, "/".join(urllib.parse.unquote(p) for p in rest)
            return None

        def _answer(self, status, body, headers=()):
            self.send_response(status)
            for name, value in dict(headers).items():
                self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 204:
                self.wfile.write(body)

    return Handler


class ScriptedService(_LoopbackServer):
    """A loopback server whose every answer a test writes itself, byte by byte.

    ``respond(exchange)`` is called for each request once its body is read;
    it writes the raw answer (status line, headers, body: anything at all)
    with ``exchange.write``. Answers that trickle or never end should go on
    only ``while not exchange.stopping``, which turns true when the service
    stops, so that no thread of it outlives the test.

    Attributes:
        requests: every request received, as ``Received`` tuples.
        disconnects: how many times a client closed the connection while an
            answer was being written.
        ended: how many connections have ended, closed by either side.
    """

    def __init__(self, respond):
        self.respond = respond
        self.requests = []
        self.disconnects = 0
        self.disconnected = threading.Event()
        self.ended = 0
        self.connection_ended = threading.Condition()
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._listen(_scripted_handler(self))

    def __exit__(self, *exc_info):
        self.stopped.set()
        super().__exit__(*exc_info)

    def wait_for_ended(self, count, timeout):
        """Wait until count connections have ended; whether they have."""
        with self.connection_ended:
            return self.connection_ended.wait_for(lambda: self.ended >= count, timeout)


class Received:
    """One request as a ScriptedService received it."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        # Values decoded as latin-1: .encode("latin-1") gives the bytes sent.
        self.headers = headers
        self.body = body


class _Exchange:
    def __init__(self, service, handler, request):
        self.service = service
        self.request = request
        self._handler = handler

    @property
    def stopping(self):
        return self.service.stopped.is_set()

    def write(self, data):
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def pause(self, seconds):
        """Wait between two bytes of a trickle; cut short when the service stops."""
        self.service.stopped.wait(seconds)

    def close(self):
        """Close the connection once the answer written so far is sent."""
        self._handler.close_connection = True


def _scripted_handler(service):
    class Handler(_QuietHandler):

        def finish(self):
            super().finish()
            with service.connection_ended:
                service.ended += 1
                service.connection_ended.notify_all()

        def _handle(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Received(self.command, self.path, self.headers, body)
            with service._lock:
                service.requests.append(request)
            try:
                service.respond(_Exchange(service, self, request))
            except (BrokenPipeError, ConnectionResetError):
                with service._lock:
                    service.disconnects += 1
                service.disconnected.set()
                self.close_connection = True

    return Handler
