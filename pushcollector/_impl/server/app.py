"""The application of ``pushcollector serve``: two surfaces mounted side by
side.

The API (:mod:`.api`) answers under ``/api``, in JSON, errors included;
the web view (:mod:`.pages`) answers everywhere else, in HTML. Each is a
Starlette application of its own, with its own error answers and its own
authentication (:mod:`.auth`): nothing here asks which surface a path
belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, compile_path
from starlette.types import ASGIApp

from ..environment import SERVE_SETTINGS
from ..store import Limits, Store
from .api import api_app
from .checks import ANY_PATH, SegmentPaths
from .connections import CloseUnreadBodies
from .pages import pages_app
from .tokens import Tokens

#: The largest request body accepted by default: 64 MiB.
DEFAULT_MAX_BODY = 64 * 1024 * 1024

#: How long a request's body may take to arrive by default, in seconds.
DEFAULT_BODY_TIMEOUT = 60.0


def create_app(
    store: Store,
    tokens: Tokens | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    hosts: Collection[str] | None = None,
) -> Starlette:
    """The service's ASGI application.

    Args:
        store: where runs are kept.
        tokens: the tokens accepted; None to accept every request.
        max_body: the largest request body accepted, in bytes.
        body_timeout: the seconds a request's body may take to arrive.
        hosts: the names a request's Host may give, without a port (see
            :class:`~.checks.HostCheck`); None for any.
    """
    api = api_app(store, tokens, max_body, body_timeout, hosts)
    return Starlette(
        routes=[
            _Surface("/api", api),
            # A mount takes only the paths below it: /api itself is the
            # API's too, answered in JSON as everything under it.
            Route("/api", api),
            _Surface("/", pages_app(store, tokens, hosts)),
        ],
        middleware=[Middleware(CloseUnreadBodies), Middleware(SegmentPaths)],
    )


class _Surface(Mount):
    """A mounted application that takes every path below its own, line
    breaks included (a Mount's path parameter stops at one): a filename
    holding one is refused by the filename rules, not reported missing."""

    def __init__(self, path: str, app: ASGIApp):
        super().__init__(path, app)
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:%s}" % ANY_PATH
        )


def app_from_environment() -> Starlette:
    """The application of a worker process of ``serve --workers``."""
    # Worker processes import the application afresh: serve hands them
    # its settings through the environment.
    settings = json.loads(SERVE_SETTINGS.get())
    tokens = Tokens.load(settings["tokens"]) if settings["tokens"] else None
    return create_app(
        Store(settings["db"], Limits(*settings["limits"])),
        tokens,
        settings["max_body"],
        settings["body_timeout"],
        settings["hosts"],
    )
