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
import os
import tempfile
from collections.abc import Collection

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ..inputs import push_item_validator
from ..jsonvalues import PushItemValueError, check_json_values
from ..protocol import (
    BYTES_TYPE,
    JSON_LINES_TYPE,
    JSON_TYPE,
    KEY_PATTERN,
    KEY_RULE,
    MAX_BAD_LINE_REASON,
    schema_refusal,
)
from ..records import BadLine
from ..reading.report import RunReport
from ..store import KeyReused, Store
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
    HostCheck,
    Refused,
    bool_parameter,
    call_store,
    int_parameter,
    path_filename,
    path_run_id,
    require_media_type,
    slash_location,
)
from .tokens import Tokens

#: How much of a file write's body a request holds in memory: a larger body
#: goes to a temporary file as it arrives, this much at a time.
SPOOL_BYTES = 1024 * 1024

# Answers that must never be cached or sniffed as something else.
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def api_app(
    store: Store,
    tokens: Tokens | None,
    max_body: int,
    body_timeout: float,
    hosts: Collection[str] | None = None,
) -> Starlette:
    """The API as an application of its own, to mount under ``/api``: its
    routes, and its answers to errors in JSON.

    Args:
        store: where runs are kept.
        tokens: the tokens accepted; None to accept every request.
        max_body: the largest request body accepted, in bytes.
        body_timeout: the seconds a request's body may take to arrive.
        hosts: the names a request's Host may give (see
            :class:`~.checks.HostCheck`); None for any.
    """
    service = _Service(store, max_body, body_timeout)
    application = Starlette(
        routes=[
            Route("/runs", service.list_runs, methods=["GET"]),
            Route("/runs/{run_id}", service.run_figures, methods=["GET"]),
            Route("/runs/{run_id}/summary", service.summary, methods=["GET"]),
            Route(
                "/runs/{run_id}/push-items",
                service.push_items,
                methods=["GET", "POST"],
            ),
            Route("/runs/{run_id}/bad-lines", service.put_bad_lines, methods=["PUT"]),
            Route("/runs/{run_id}/files", service.list_files, methods=["GET"]),
            Route(
                "/runs/{run_id}/files/{filename:anything}",
                service.file,
                methods=["GET", "PUT", "POST"],
            ),
        ],
        # The API's clients send their token as Bearer.
        middleware=[
            Middleware(HostCheck, names=hosts, refuse=_refused),
            Middleware(
                AuthenticationMiddleware,
                backend=TokenBackend(tokens, [BEARER]),
                on_error=_tokens_not_answering,
            ),
        ],
        exception_handlers={
            Refused: _refused,
            NotPermitted: _not_permitted,
            404: _not_found,
            405: _method_not_allowed,
        },
    )
    # Starlette's redirects name the Host the request gave, over http:
    # _not_found redirects with a relative location instead.
    application.router.redirect_slashes = False
    return application


def _tokens_not_answering(connection, error):
    return JSONResponse(
        {"error": str(error)},
        status_code=503,
        headers={**_HEADERS, "Retry-After": "1"},
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
    location = slash_location(request)
    if location is not None:
        return RedirectResponse(location, 307, headers=_HEADERS)
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

    async def _receive(self, request, keep):
        """Give each chunk of the request's body to ``keep`` (a coroutine
        function) as it arrives, within the limits of its size and time."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise Refused(413, _too_large(self.max_body))
        size = 0
        # A client sending its body a byte at a time, or not at all, would
        # otherwise hold its connection and what it sent for ever.
        with anyio.move_on_after(self.body_timeout) as deadline:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise Refused(413, _too_large(self.max_body))
                await keep(chunk)
        if deadline.cancelled_caught:
            raise Refused(408, "body not received within %g s" % self.body_timeout)

    async def _body(self, request):
        """The request's body, whole: push items are decoded all at once."""
        chunks = []

        async def keep(chunk):
            chunks.append(chunk)

        await self._receive(request, keep)
        return b"".join(chunks)

    async def _file_body(self, request):
        """The body of a file write: bytes if it is small, else a temporary
        file holding it, written :data:`SPOOL_BYTES` at a time in a worker
        thread, so that a request holds no more than that of its body in
        memory (the store reads the file a piece at a time)."""
        body = _SpooledBody()
        try:
            await self._receive(request, body.keep)
            return await body.finish()
        except BaseException:
            body.close()
            raise

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
        return await self._write_json(
            request, _push_items, self.store.add_push_items, "push_items"
        )

    @requires(WRITE)
    async def put_bad_lines(self, request: Request) -> Response:
        return await self._write_json(
            request, _bad_lines, self.store.set_bad_lines, "bad_lines"
        )

    async def _write_json(self, request, decode, write, counted):
        """A write whose body is JSON: ``decode`` makes the values that
        ``write`` stores from it, and the answer counts them as ``counted``."""
        run_id = path_run_id(request)
        key = _idempotency_key(request)
        require_media_type(request, JSON_TYPE)
        body = await self._body(request)
        applied, count = await self._call(
            self._decode_and_store, decode, write, run_id, body, key
        )
        return _written(applied, **{counted: count})

    @staticmethod
    def _decode_and_store(decode, write, run_id, body, key):
        # In the worker thread, with the store's call: decoding and checking
        # a large body would otherwise hold up the event loop.
        values = decode(body)
        return _stored(write, run_id, values, key), len(values)

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
        require_media_type(request, BYTES_TYPE)
        data = await self._file_body(request)
        write = (
            self.store.put_file if request.method == "PUT" else self.store.append_file
        )
        if isinstance(data, bytes):
            applied = await self._call(_stored, write, run_id, filename, data, key)
            return _written(applied, bytes=len(data))
        with data:
            size = data.seek(0, os.SEEK_END)
            data.seek(0)
            applied = await self._call(_stored, write, run_id, filename, data, key)
        return _written(applied, bytes=size)

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
        return StreamingResponse(
            _chunks_of(document), media_type="application/json", headers=_HEADERS
        )

    def _summary_document(self, run, allow_pending, allow_bad_lines):
        """The summary's JSON text, in a temporary file from its start.

        Written whole from one snapshot, so that the counts and the items
        listed fit together; into a file, so that a run of a million
        unsuccessful items is never held in memory, and its snapshot's
        transaction lasts as long as the database takes, not the client.
        """
        document = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            with self.store.snapshot() as store:
                (counts,) = store.counts([run])
                newest = store.newest_run()
                report = RunReport.of_counts(
                    counts,
                    allow_pending=allow_pending,
                    allow_bad_lines=allow_bad_lines,
                    bad_lines=[BadLine(*line) for line in store.bad_lines(run)],
                )
                text = report.document_text(
                    run.name,
                    {"directory": None, "items_file": None},
                    newest is not None and newest.id == run.id,
                    unsuccessful=store.items_in_states(run, report.unsuccessful_states),
                    unfinished=store.items_in_states(run, ["PENDING"]),
                )
                for piece in text:
                    document.write(piece.encode("utf-8"))
        except BaseException:
            document.close()
            raise
        document.seek(0)
        return document

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
        # Streamed as the files are read, a page at a time: a run of any
        # number of files is never held whole.
        return StreamingResponse(
            _files_text(self.store.iter_files(run)),
            media_type="application/json",
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


def _stored(write, *args):
    """A store's write; a key it applied to another request is a 422, as the
    IETF's draft on the Idempotency-Key header has it."""
    try:
        return write(*args)
    except KeyReused as error:
        raise Refused(422, str(error)) from None


# The pieces in which an answer spooled to a file is sent.
_ANSWER_CHUNK_BYTES = 64 * 1024


def _chunks_of(spooled):
    """The content of a spooled answer, a chunk at a time, closing it after
    (Starlette reads a plain iterator in a worker thread)."""
    with spooled:
        yield from iter(lambda: spooled.read(_ANSWER_CHUNK_BYTES), b"")


class _SpooledBody:
    """A body as it arrives: in memory until it reaches SPOOL_BYTES, then
    in a temporary file, which the holder closes."""

    def __init__(self):
        self.held = []
        self.held_size = 0
        self.spool = None

    async def keep(self, chunk):
        self.held.append(chunk)
        self.held_size += len(chunk)
        if self.held_size >= SPOOL_BYTES:
            await self._spill()

    async def _spill(self):
        if self.spool is None:
            self.spool = tempfile.TemporaryFile()
        await anyio.to_thread.run_sync(self.spool.writelines, self.held)
        self.held, self.held_size = [], 0

    async def finish(self):
        """The body: bytes, or the temporary file from its start."""
        if self.spool is None:
            return b"".join(self.held)
        await self._spill()
        self.spool.seek(0)
        return self.spool

    def close(self):
        if self.spool is not None:
            self.spool.close()


# Files listed per piece of the answer's text.
_FILES_PER_PIECE = 500


def _files_text(rows):
    """The document ``{"files": [...]}`` of ``GET /runs/R/files``, as the
    pieces of its JSON text."""
    yield b'{"files":['
    separator = b""
    batch = []
    for row in rows:
        batch.append(
            {
                "name": row.name,
                "size": row.size,
                "updated_at": _timestamp(row.updated_at),
            }
        )
        if len(batch) == _FILES_PER_PIECE:
            yield separator + _encode_list(batch)
            separator = b","
            batch = []
    if batch:
        yield separator + _encode_list(batch)
    yield b"]}"


def _encode_list(values):
    # The items of a list, as JSONResponse would encode them.
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))[1:-1].encode(
        "utf-8"
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


def _json_body(body):
    """The JSON value of a request body, or a refusal saying why it is none."""
    try:
        return _decode_json(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Refused(400, "body is not UTF-8: byte %d" % error.start) from None
    except RecursionError:
        raise Refused(400, "body is not JSON: nested too deeply") from None
    except ValueError as error:
        raise Refused(400, "body is not JSON: %s" % error) from None


def _bad_lines(body):
    """The ``(line_number, reason)`` of each bad line a request body
    declares, or a refusal naming the first thing wrong."""
    lines = _json_body(body)
    if type(lines) is not list:
        raise Refused(
            400,
            'body must be a JSON array of bad lines, {"line": N, "reason": "..."}',
        )
    declared = []
    previous = 0
    for index, line in enumerate(lines):
        if type(line) is not dict or set(line) != {"line", "reason"}:
            raise Refused(
                422, 'bad line %d: not an object {"line": N, "reason": "..."}' % index
            )
        number, reason = line["line"], line["reason"]
        if type(number) is not int or not previous < number <= MAX_OFFSET:
            raise Refused(
                422,
                "bad line %d: line must be a line number above the one before"
                " (%d) and at most %d" % (index, previous, MAX_OFFSET),
            )
        if (
            type(reason) is not str
            or len(reason) > MAX_BAD_LINE_REASON
            or not _is_text(reason)
        ):
            raise Refused(
                422,
                "bad line %d: reason must be a string of at most %d characters,"
                " without lone surrogates" % (index, MAX_BAD_LINE_REASON),
            )
        declared.append((number, reason))
        previous = number
    return declared


def _is_text(string):
    """Whether a str is text UTF-8 can encode: JSON may escape a lone
    surrogate, which no answer could hold."""
    try:
        string.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _push_items(body):
    """The validated push items of a request body, or a refusal naming the
    first thing wrong."""
    items = _json_body(body)
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
