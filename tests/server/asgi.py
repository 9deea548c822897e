"""Requests to the service's application in this process, without a server:
for the tests that measure what a request allocates (tracemalloc sees only
this process)."""

import tracemalloc
import urllib.parse

import anyio


class Answer:
    """What the application answered: its status, headers, and its body's
    size, and the body itself if it was asked to be kept."""

    def __init__(self):
        self.status = None
        self.headers = {}
        self.size = 0
        self.chunks = []

    @property
    def body(self):
        return b"".join(self.chunks)


def request(app, method, target, body=(), headers=(), keep_body=True):
    """Send one request to an ASGI application and wait for its answer.

    Args:
        app: the application.
        method: the HTTP method.
        target: the path and query.
        body: the body, as an iterable of byte strings sent one at a time.
        headers: more headers, as (name, value) pairs of str.
        keep_body: whether to keep the body answered, or only count it.
    """
    return anyio.run(_request, app, method, target, body, headers, keep_body)


async def _request(app, method, target, body, headers, keep_body):
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": urllib.parse.unquote(path),
        "raw_path": path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000")]
        + [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    chunks = iter(body)
    ended = False
    answered = anyio.Event()
    answer = Answer()

    async def receive():
        nonlocal ended
        chunk = None if ended else next(chunks, None)
        if chunk is not None:
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not ended:
            ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Then nothing until the answer is sent: a client that stays.
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {
                name.decode(): value.decode() for name, value in message["headers"]
            }
        elif message["type"] == "http.response.body":
            data = message.get("body", b"")
            answer.size += len(data)
            if keep_body:
                answer.chunks.append(data)
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    return answer


def peak_allocation(call):
    """The most that ``call()`` had allocated at once, in bytes, above what
    was allocated when it began; and what it returned."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before, result
