"""The checks of a request that the API and the pages share.

Each gives a value of the request or raises :class:`Refused` naming what
was wrong; each surface renders the refusal its own way (JSON for the API,
a page for the web view).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable

import sqlalchemy.exc
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request

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


def path_filename(request: Request) -> str:
    """The filename of the path, decoded from the raw path component by
    component (a ``%2F`` must not make two components of one), and checked
    by the filename rules."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode("ascii")
    raw_path = raw_path.split(b"?", 1)[0]
    encoded = raw_path.split(b"/files/", 1)[1]
    try:
        components = [
            urllib.parse.unquote_to_bytes(component).decode("utf-8")
            for component in encoded.split(b"/")
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
