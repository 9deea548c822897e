"""Bounds on the connections of ``pushcollector serve``: how many may be open,
how long each may wait for a request, and that one whose request's body was
not read is closed after its answer.

uvicorn bounds the wait between two requests of a kept-alive connection (its
keep-alive timeout), but not a new connection's wait for its first request,
and it stops counting at the first byte of a request: a client that sends
nothing, or its headers a byte at a time, held its connection for ever. And
after an answer sent before the request's body arrived (a ``408``, a
``413``, any refusal), uvicorn goes on reading the rest of the body, as
slowly as it comes, again for ever.
"""

from __future__ import annotations

import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

LOG = logging.getLogger("pushcollector.serve")

_TOO_MANY_BODY = b'{"error":"too many connections to the service, try again"}'

#: What a connection beyond the most allowed is answered before it is closed.
_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"retry-after: 1\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n"
    b"\r\n"
    b"%s" % (len(_TOO_MANY_BODY), _TOO_MANY_BODY)
)

_CLOSE = (b"connection", b"close")


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with every wait for a request bounded and
    the connections counted.

    The keep-alive timeout (uvicorn's ``timeout_keep_alive``) runs from the
    moment a connection is made, and again after each answer, until a
    request's headers have all arrived: bytes of them do not stop it. A
    connection made while ``max_connections`` others are open is answered
    ``503`` and closed, before anything of it is read; that is logged once,
    until connections are taken again.

    Args:
        max_connections: the most connections kept open at once.
    """

    # Whether connections are being refused (per process: each worker of
    # serve --workers counts its own).
    refusing = False

    def __init__(self, *args, max_connections: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # This connection is one of those counted.
        if len(self.connections) > self.max_connections:
            if not BoundedH11Protocol.refusing:
                LOG.warning(
                    "%d connections open, the most --max-connections allows:"
                    " refusing new ones (503) until some close",
                    self.max_connections,
                )
                BoundedH11Protocol.refusing = True
            transport.write(_TOO_MANY)
            transport.close()
            return
        if BoundedH11Protocol.refusing:
            LOG.warning("taking new connections again")
            BoundedH11Protocol.refusing = False
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        # Not H11Protocol's, which stops the keep-alive timer at any byte:
        # only a request whose headers have all arrived stops it.
        self.conn.receive_data(data)
        self.handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._unset_keepalive_if_required()


class CloseUnreadBodies:
    """ASGI middleware: an answer sent before the request's body was all
    received says ``Connection: close``, so that the server closes the
    connection after it instead of reading the rest of the body, however
    slowly it comes (uvicorn then closes it at once)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        # Only the messages of HTTP are looked at: any other passes as it is.
        headers = dict(scope.get("headers", ()))
        received = (
            b"transfer-encoding" not in headers
            and int(headers.get(b"content-length", b"0")) == 0
        )

        async def receive_counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                received = True
            return message

        async def send_closing(message):
            if message["type"] == "http.response.start" and not received:
                message = dict(message, headers=[*message.get("headers", ()), _CLOSE])
            await send(message)

        await self.app(scope, receive_counted, send_closing)
