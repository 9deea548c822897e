"""The web application of ``pushcollector serve``: the protocol in, store calls,
the protocol out.

An ASGI application (Starlette). Every database call runs in a worker
thread, never in the event loop. Client mistakes get a 4xx answer with a
JSON body ``{"error": "..."}`` that says what was wrong in its first words;
a database that cannot be reached gets a 503, which the ``http`` backend
retries.
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..store import Store
from .api import _HEADERS, _Service
from .checks import Refused
from .tokens import Tokens

#: The largest request body accepted by default: 64 MiB.
DEFAULT_MAX_BODY = 64 * 1024 * 1024

#: How long a request's body may take to arrive by default, in seconds.
DEFAULT_BODY_TIMEOUT = 60.0

# A run id as collectors make them, or as any client may choose: URL-safe,
# so that it is the same in every URL whether or not it is encoded.


def create_app(
    store: Store,
    tokens: Tokens | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Starlette:
    """The service's ASGI application.

    Args:
        store: where runs are kept.
        tokens: the tokens accepted; None to accept every request.
        max_body: the largest request body accepted, in bytes.
        body_timeout: the seconds a request's body may take to arrive.
    """
    from .pages import PageError, page_error, page_routes

    service = _Service(store, tokens, max_body, body_timeout)
    routes = [
        Route("/api/runs", service.list_runs, methods=["GET"]),
        Route("/api/runs/{run_id}", service.run_figures, methods=["GET"]),
        Route("/api/runs/{run_id}/summary", service.summary, methods=["GET"]),
        Route(
            "/api/runs/{run_id}/push-items",
            service.push_items,
            methods=["GET", "POST"],
        ),
        Route("/api/runs/{run_id}/files", service.list_files, methods=["GET"]),
        Route(
            "/api/runs/{run_id}/files/{filename:anything}",
            service.file,
            methods=["GET", "PUT", "POST"],
        ),
    ]
    # The web view: HTML pages of the runs, beside the API.
    routes += page_routes(store, tokens)
    return Starlette(
        routes=routes,
        exception_handlers={
            Refused: _refused,
            PageError: page_error,
            404: _not_found,
            405: _method_not_allowed,
        },
    )


async def _refused(request, error):
    return JSONResponse(
        {"error": error.message},
        status_code=error.status,
        headers={**_HEADERS, **error.headers},
    )


async def _not_found(request, error):
    from .pages import error_page, is_page_path

    if is_page_path(request.url.path):
        return error_page(404, "There is no page %s." % request.url.path)
    return JSONResponse(
        {"error": "no such resource: %s" % request.url.path},
        status_code=404,
        headers=_HEADERS,
    )


async def _method_not_allowed(request, error):
    from .pages import error_page, is_page_path

    if is_page_path(request.url.path):
        return error_page(
            405,
            "Method %s is not allowed here." % request.method,
            error.headers,
        )
    return JSONResponse(
        {"error": "method %s not allowed here" % request.method},
        status_code=405,
        headers={**_HEADERS, **(error.headers or {})},
    )


#: The environment variable through which ``serve`` hands its settings to
#: worker processes, which import the application afresh.
SETTINGS_VARIABLE = "PUSHCOLLECTOR_SERVE_SETTINGS"


def app_from_environment() -> Starlette:
    """The application of a worker process of ``serve --workers``."""
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    tokens = Tokens.load(settings["tokens"]) if settings["tokens"] else None
    return create_app(
        Store(settings["db"]), tokens, settings["max_body"], settings["body_timeout"]
    )
