"""The HTTP API of ``pushcollector serve``, mounted under ``/api``: the
protocol in, store calls, the protocol out.

Every database call runs in a worker thread, never in the event loop.
Client mistakes get a 4xx answer with a JSON body ``{"error": "..."}``
that says what was wrong in its first words, unknown paths and methods
too; a database that cannot be reached gets a 503, which the ``http``
backend retries.
"""

from __future__ import annotations

import json

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..inputs import push_item_validator
from ..jsonvalues import PushItemValueError, check_json_values
from ..protocol import JSON_LINES_TYPE, KEY_PATTERN, KEY_RULE, schema_refusal
from ..reading.report import RunReport
from ..store import Store
from .auth import (
    BEARER,
    READ,
    WRITE,
    NotPermitted,
    TokenBackend,
    UnknownTokenUser,
    requires,
)
from .checks import (
    MAX_OFFSET,
    Refused,
    bool_parameter,
    call_store,
    int_parameter,
    path_filename,
    path_run_id,
)
from .tokens import Tokens

# Answers that must never be cached or sniffed as something else.
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def api_app(
    store: Store, tokens: Tokens | None, max_body: int, body_timeout: float
) -> Starlette:
    """The API as an application of its own, to mount under ``/api``: its
    routes, and its answers to errors in JSON.

    Args:
        store: where runs are kept.
        tokens: the tokens accepted; None to accept every request.
        max_body: the largest request body accepted, in bytes.
        body_timeout: the seconds a request's body may take to arrive.
    """
    service = _Service(store, max_body, body_timeout)
    return Starlette(
        routes=[
            Route("/runs", service.list_runs, methods=["GET"]),
            Route("/runs/{run_id}", service.run_figures, methods=["GET"]),
            Route("/runs/{run_id}/summary", service.summary, methods=["GET"]),
            Route(
                "/runs/{run_id}/push-items",
                service.push_items,
                methods=["GET", "POST"],
            ),
            Route("/runs/{run_id}/files", service.list_files, methods=["GET"]),
            Route(
                "/runs/{run_id}/files/{filename:anything}",
                service.file,
                methods=["GET", "PUT", "POST"],
            ),
        ],
        # The API's clients send their token as Bearer.
        middleware=[
            Middleware(AuthenticationMiddleware, backend=TokenBackend(tokens, [BEARER]))
        ],
        exception_handlers={
            Refused: _refused,
            NotPermitted: _not_permitted,
            404: _not_found,
            405: _method_not_allowed,
        },
    )


async def _not_permitted(request, error):
    if request.user.is_authenticated:
        # Every token the service knows may read: this one may not write.
        refusal = Refused(403, "this token may read, not write")
    elif isinstance(request.user, UnknownTokenUser):
        refusal = Refused(
            401,
            "unknown token",
            {"WWW-Authenticate": 'Bearer realm="pushcollector", error="invalid_token"'},
        )
    else:
        refusal = Refused(
            401,
            "a Bearer token is required",
            {"WWW-Authenticate": 'Bearer realm="pushcollector"'},
        )
    return await _refused(request, refusal)


async def _refused(request, error):
    return JSONResponse(
        {"error": error.message},
        status_code=error.status,
        headers={**_HEADERS, **error.headers},
    )


async def _not_found(request, error):
    return JSONResponse(
        {"error": "no such resource: %s" % request.url.path},
        status_code=404,
        headers=_HEADERS,
    )


async def _method_not_allowed(request, error):
    return JSONResponse(
        {"error": "method %s not allowed here" % request.method},
        status_code=405,
        headers={**_HEADERS, **(error.headers or {})},
    )


class _Service:
    """The endpoints, around one store: each requires its scope, then
    checks the request, before anything reaches the store."""

    def __init__(self, store, max_body, body_timeout):
        self.store = store
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def _call(self, function, *args):
        """Run a store call in a worker thread; a database that cannot be
        used answers 503, for the client to retry."""
        return await call_store(
            function, *args, unavailable="database unavailable, try again"
        )

    async def _body(self, request):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise Refused(413, _too_large(self.max_body))
        chunks = []
        size = 0
        # A client sending its body a byte at a time, or not at all, would
        # otherwise hold its connection and what it sent for ever.
        with anyio.move_on_after(self.body_timeout) as deadline:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise Refused(413, _too_large(self.max_body))
                chunks.append(chunk)
        if deadline.cancelled_caught:
            raise Refused(408, "body not received within %g s" % self.body_timeout)
        return b"".join(chunks)

    async def _run(self, request):
        """The run the path names; 404 if the store has none of that name."""
        run = await self._call(self.store.run, path_run_id(request))
        if run is None:
            raise Refused(404, "no run %s" % request.path_params["run_id"])
        return run

    # -- Writing ----------------------------------------------------------

    async def push_items(self, request: Request) -> Response:
        # HEAD is the GET it stands for, never a write.
        if request.method in ("GET", "HEAD"):
            return await self.read_push_items(request)
        return await self.write_push_items(request)

    @requires(WRITE)
    async def write_push_items(self, request: Request) -> Response:
        run_id = path_run_id(request)
        key = _idempotency_key(request)
        body = await self._body(request)
        applied, count = await self._call(self._add_push_items, run_id, body, key)
        return _written(applied, push_items=count)

    def _add_push_items(self, run_id, body, key):
        # In the worker thread, with the store's call: decoding and checking
        # a large body would otherwise hold up the event loop.
        items = _push_items(body)
        return self.store.add_push_items(run_id, items, key), len(items)

    async def file(self, request: Request) -> Response:
        # HEAD is the GET it stands for, never a write.
        if request.method in ("GET", "HEAD"):
            return await self.read_file(request)
        return await self.write_file(request)

    @requires(WRITE)
    async def write_file(self, request: Request) -> Response:
        run_id = path_run_id(request)
        filename = path_filename(request)
        key = _idempotency_key(request)
        data = await self._body(request)
        write = (
            self.store.put_file if request.method == "PUT" else self.store.append_file
        )
        applied = await self._call(write, run_id, filename, data, key)
        return _written(applied, bytes=len(data))

    # -- Reading ----------------------------------------------------------

    @requires(READ)
    async def list_runs(self, request: Request) -> Response:
        limit = int_parameter(request, "limit", 100, 1, 1000)
        offset = int_parameter(request, "offset", 0, 0, MAX_OFFSET)
        page, total, newest = await self._call(self._runs_page, limit, offset)
        next_page = None
        if offset + len(page) < total:
            next_page = "%s?limit=%d&offset=%d" % (
                request.url.path,
                limit,
                offset + len(page),
            )
        return JSONResponse(
            {
                "runs": [_run_figures(counts, newest) for counts in page],
                "total": total,
                "next": next_page,
            },
            headers=_HEADERS,
        )

    @requires(READ)
    async def run_figures(self, request: Request) -> Response:
        run = await self._run(request)
        counts, newest = await self._call(self._counts_of, run)
        return JSONResponse(_run_figures(counts, newest), headers=_HEADERS)

    def _counts_of(self, run):
        with self.store.snapshot() as store:
            (counts,) = store.counts([run])
            newest = store.newest_run()
        return counts, newest.id

    def _runs_page(self, limit, offset):
        with self.store.snapshot() as store:
            rows = store.list_runs(limit, offset)
            newest = store.newest_run()
            return (
                store.counts(rows),
                store.run_count(),
                newest.id if newest else None,
            )

    @requires(READ)
    async def summary(self, request: Request) -> Response:
        allow_pending = bool_parameter(request, "allow_pending")
        allow_bad_lines = bool_parameter(request, "allow_bad_lines")
        run = await self._run(request)
        document = await self._call(
            self._summary_document, run, allow_pending, allow_bad_lines
        )
        return JSONResponse(document, headers=_HEADERS)

    def _summary_document(self, run, allow_pending, allow_bad_lines):
        # One moment: the counts and the items listed fit together.
        with self.store.snapshot() as store:
            (counts,) = store.counts([run])
            unsuccessful_states = RunReport.of_counts(counts).unsuccessful_states
            report = RunReport.of_counts(
                counts,
                unsuccessful=store.items_in_states(run, unsuccessful_states),
                unfinished=store.items_in_states(run, ["PENDING"]),
                allow_pending=allow_pending,
                allow_bad_lines=allow_bad_lines,
            )
            newest = store.newest_run()
        return report.document(
            run.name,
            {"directory": None, "items_file": None},
            newest is not None and newest.id == run.id,
        )

    @requires(READ)
    async def read_push_items(self, request: Request) -> Response:
        run = await self._run(request)
        pages = self.store.record_lines(run)
        return StreamingResponse(
            ("".join(line + "\n" for line in page).encode("ascii") for page in pages),
            media_type=JSON_LINES_TYPE,
            headers=_HEADERS,
        )

    @requires(READ)
    async def list_files(self, request: Request) -> Response:
        run = await self._run(request)
        rows = await self._call(self.store.files, run)
        return JSONResponse(
            {
                "files": [
                    {
                        "name": row.name,
                        "size": row.size,
                        "updated_at": _timestamp(row.updated_at),
                    }
                    for row in rows
                ]
            },
            headers=_HEADERS,
        )

    @requires(READ)
    async def read_file(self, request: Request) -> Response:
        filename = path_filename(request)
        run = await self._run(request)
        file_id = await self._call(self.store.file_id, run, filename)
        if file_id is None:
            raise Refused(404, "no file %r in run %s" % (filename, run.name))
        return StreamingResponse(
            self.store.file_pieces(file_id),
            media_type="application/octet-stream",
            headers=_HEADERS,
        )


def _written(applied, **counts):
    return JSONResponse({"applied": applied, **counts}, headers=_HEADERS)


def _idempotency_key(request):
    key = request.headers.get("idempotency-key")
    if key is not None and not KEY_PATTERN.match(key):
        raise Refused(400, "invalid Idempotency-Key: %s" % KEY_RULE)
    return key


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


_decode_json = json.JSONDecoder(parse_constant=_reject_constant).decode


def _push_items(body):
    """The validated push items of a request body, or a refusal naming the
    first thing wrong."""
    try:
        items = _decode_json(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Refused(400, "body is not UTF-8: byte %d" % error.start) from None
    except RecursionError:
        raise Refused(400, "body is not JSON: nested too deeply") from None
    except ValueError as error:
        raise Refused(400, "body is not JSON: %s" % error) from None
    if type(items) is not list or not items:
        raise Refused(400, "body must be a JSON array of 1 or more push items")
    validator = push_item_validator()
    is_valid = validator.is_valid
    if not all(map(is_valid, items)):
        for index, item in enumerate(items):
            if not is_valid(item):
                raise Refused(
                    422, "push item %d: %s" % (index, schema_refusal(validator, item))
                )
    try:
        check_json_values(items, None)
    except PushItemValueError as error:
        raise Refused(422, str(error)) from None
    return items


def _too_large(max_body):
    return "body larger than the service accepts (%d bytes)" % max_body


def _run_figures(counts, newest_id):
    """A run as ``GET /api/runs`` lists it: the keys of ``runs --json``."""
    run = counts.run
    report = RunReport.of_counts(counts)
    return {
        "name": run.name,
        "directory": None,
        "latest": run.id == newest_id,
        "created_at": _timestamp(run.created_at),
        "updated_at": _timestamp(run.updated_at),
        "records": run.record_count,
        "push_items": report.push_item_count,
        "files": counts.file_count,
        "states": report.state_counts,
        "unsuccessful": report.unsuccessful_count,
        "unfinished": report.unfinished_count,
        "bad_lines": report.bad_line_count,
        "passed": report.passed,
        "error": None,
    }


def _timestamp(moment):
    # The store gives moments back in UTC.
    return moment.isoformat().replace("+00:00", "Z")
