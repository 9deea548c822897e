"""The checks of a request that the API and the pages share.

Each gives a value of the request or raises :class:`Refused` naming what
was wrong; each surface renders the refusal its own way (JSON for the API,
a page for the web view).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Collection

import sqlalchemy.exc
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from ..inputs import checked_filename
from ..protocol import RUN_ID_PATTERN, RUN_ID_RULE
from ..store import error_summary

LOG = logging.getLogger("pushcollector.serve")


class _AnythingConvertor(PathConvertor):
    """A path parameter matching any characters, line breaks included, so
    that a filename holding one is refused by the filename rules, not
    reported missing."""

    regex = "(?s:.*)"


#: The name of that convertor in a route's path, as in
#: ``{filename:anything}``.
ANY_PATH = "anything"

register_url_convertor(ANY_PATH, _AnythingConvertor())


class Refused(Exception):
    """A request answered with a client error status and a message."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


async def call_store(function: Callable, *args, unavailable: str):
    """Run a store call in a worker thread, off the event loop.

    A database that cannot be used, or not within the store's limits (no
    connection free in the pool, a lock or a statement that takes too
    long), is logged, and raised as a :class:`Refused` with status 503, the
    message ``unavailable`` and a ``Retry-After``.
    """
    try:
        return await run_in_threadpool(function, *args)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as error:
        LOG.warning("database unavailable: %s", error_summary(error))
    except sqlalchemy.exc.TimeoutError:
        LOG.warning("database busy: no connection free in the pool in time")
    raise Refused(503, unavailable, {"Retry-After": "1"})


def path_run_id(request: Request) -> str:
    """The run id of the path, checked against the protocol's rule."""
    run_id = request.path_params["run_id"]
    if not RUN_ID_PATTERN.match(run_id):
        raise Refused(400, "invalid run id %r: %s" % (run_id, RUN_ID_RULE))
    return run_id


def raw_path(scope: dict) -> bytes:
    """The path of a request as it was sent, still percent-encoded (uvicorn
    gives it, without the query; ASGI leaves it to the server)."""
    return scope["raw_path"].split(b"?", 1)[0]


class SegmentPaths:
    """ASGI middleware routing on the path as the service reads one: split
    at its ``/``, then each segment percent-decoded once.

    An encoded ``/`` (``%2F``) is a character of its segment, never a
    separator: it is kept as ``%2F`` in the path the routes see, so that
    ``R%2Ffiles/N`` is one segment ``R/files`` followed by ``N`` (no route
    of the service), not the run ``R``'s file ``N``. Any other encoded
    character is the character (``%66iles`` is ``files``, as RFC 3986
    has it). The path routed and the raw path thus have the same segments,
    one for one, which :func:`path_filename` relies on.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            segments = raw_path(scope).decode("latin-1").split("/")
            path = "/".join(
                urllib.parse.unquote(segment).replace("/", "%2F")
                for segment in segments
            )
            scope = dict(scope, path=path)
        await self.app(scope, receive, send)


def slash_location(request: Request) -> str | None:
    """Where a request whose path ends in ``/`` is sent when the path
    without it is one of its surface's: that path as the request gave it,
    with its query, relative to the service (the service cannot know the
    scheme and name its clients reach it by, behind a proxy least of all);
    None for any other request."""
    path = request.scope["path"]
    if path == "/" or not path.endswith("/"):
        return None
    without = dict(request.scope, path=path.rstrip("/"))
    if not any(
        route.matches(without)[0] != Match.NONE for route in request.app.router.routes
    ):
        return None
    # Every route starts with a segment of its own ("/runs", "/static"): a
    # path matching one never starts with "//", which a browser would take
    # for another host's.
    location = raw_path(request.scope).rstrip(b"/").decode("ascii")
    query = request.scope["query_string"].decode("ascii")
    return location + ("?" + query if query else "")


#: The names a service without tokens answers for, whatever it listens on.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def host_name(host: str) -> str:
    """The name of a ``Host`` header, or of a name given for one: without
    its port, in lower case (an IPv6 address keeps its brackets)."""
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.split(":", 1)[0].lower()


class HostCheck:
    """ASGI middleware refusing, with ``421 Misdirected Request``, a request
    whose ``Host`` names none of the service's names.

    A page of another site may make a browser send requests to a service on
    the browser's own machine, under that site's name once its DNS answers
    with a loopback address (DNS rebinding); such requests name the other
    site as their Host. A request without a Host (HTTP/1.0) is no browser's
    and is let through.

    Args:
        app: the surface's application.
        names: the names taken (see :func:`host_name`); None to take any.
        refuse: the surface's answer to a :class:`Refused`.
    """

    def __init__(
        self,
        app,
        names: Collection[str] | None,
        refuse: Callable[[Request, Refused], Awaitable[Response]],
    ):
        self.app = app
        self.names = None if names is None else frozenset(names)
        self.refuse = refuse

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.names is not None:
            host = Headers(scope=scope).get("host")
            if host is not None and host_name(host) not in self.names:
                refusal = Refused(
                    421,
                    "unknown Host %r: not a name of this service (serve"
                    " --allowed-host adds one)" % host,
                )
                response = await self.refuse(Request(scope), refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def require_media_type(request: Request, media_type: str) -> None:
    """Refuse, with ``415``, a request body of another media type than
    ``media_type`` (its parameters, such as ``charset``, aside).

    What browsers send from another site's forms without asking the service
    first (``text/plain``, form data, or no type at all) is never a media
    type of the protocol, so no page of another site can write.
    """
    given = request.headers.get("content-type")
    if given is None or given.partition(";")[0].strip().lower() != media_type:
        raise Refused(
            415,
            "invalid Content-Type %s: this body must be %s"
            % ("(none)" if given is None else repr(given), media_type),
        )


def path_filename(request: Request) -> str:
    """The filename of the path, decoded from the raw path component by
    component (a ``%2F`` must not make two components of one), and checked
    by the filename rules."""
    # The route's last segments are the filename's (see SegmentPaths).
    count = request.path_params["filename"].count("/") + 1
    encoded = raw_path(request.scope).split(b"/")[-count:]
    try:
        components = [
            urllib.parse.unquote_to_bytes(component).decode("utf-8")
            for component in encoded
        ]
    except UnicodeDecodeError:
        raise Refused(400, "invalid filename: not UTF-8 once percent-decoded") from None
    if any("/" in component for component in components):
        raise Refused(400, "invalid filename: a component holds an encoded '/'")
    try:
        return checked_filename("/".join(components))
    except ValueError as error:
        raise Refused(400, str(error)) from None


#: The largest offset into a listing: the databases count rows in signed
#: 64 bits, and refuse a larger offset with an error of their own.
MAX_OFFSET = 2**63 - 1


def integer_in(text: str, low: int, high: int) -> int | None:
    """The integer ``text`` writes in ASCII digits, if it is from ``low`` to
    ``high``; None for any other text.

    The digits are counted before ``int()`` sees them: it raises for more
    than 4,300 of them, and so many are never a number meant here.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        return None
    value = int(digits)
    return value if low <= value <= high else None


def int_parameter(
    request: Request, name: str, default: int, low: int, high: int
) -> int:
    """The query parameter ``name``: an integer from ``low`` to ``high``,
    ``default`` when absent."""
    text = request.query_params.get(name)
    if text is None:
        return default
    value = integer_in(text, low, high)
    if value is None:
        raise Refused(
            400, "invalid %s %r: an integer from %d to %d" % (name, text, low, high)
        )
    return value


def bool_parameter(request: Request, name: str) -> bool:
    """The query parameter ``name``: true or false (also 1 or 0, yes or no,
    in any case), false when absent."""
    text = request.query_params.get(name, "false").lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Refused(400, "invalid %s %r: true or false" % (name, text))
