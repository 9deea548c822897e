"""The web view of ``pushcollector serve``: HTML pages of the runs it holds.

The pages are made on the server from Jinja2 templates, every one with
autoescaping on: each name from a push item or a file is text, never markup.
They hold no JavaScript and load nothing from elsewhere: filtering, sorting
and paging are links and GET forms, charts are SVG drawn here, and a page
of a run still receiving records reloads itself with
``<meta http-equiv="refresh">``. Every answer carries a strict
Content-Security-Policy.

The pages:

``/``
    The runs, newest first, :data:`RUNS_PER_PAGE` at a time (``?page=``).
``/runs/{run_id}``
    One run: its verdict, its state counts as a chart, its unsuccessful and
    unfinished items as tables (see :class:`_Table` for their parameters),
    and its files, :data:`FILES_PER_PAGE` at a time (``?files_page=``).
``/runs/{run_id}/files/{filename}``
    A file, as text (its last :data:`TAIL_BYTES` bytes if it is longer);
    ``?raw=1`` gives its bytes as a download.

When the service has tokens, every page wants one, read or write: as the
password of HTTP Basic (any user name), which browsers ask for, or as a
Bearer token (see :mod:`.auth`). Errors, a missing token among them, are
answered as pages too.
"""

from __future__ import annotations

import datetime
import importlib.resources
import urllib.parse
from collections.abc import Collection

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ..reading.report import RunReport
from ..schema import SUCCESSFUL_STATES, push_item_schema
from ..store import ITEM_SORT_KEYS, Store
from .auth import BASIC, BEARER, READ, NotPermitted, TokenBackend, requires
from .checks import (
    HostCheck,
    Refused,
    call_store,
    integer_in,
    path_filename,
    path_run_id,
    slash_location,
)
from .tokens import Tokens

#: Runs per page of the list, items per page of a table of a run, and
#: files per page of the files of a run.
RUNS_PER_PAGE = 50
ITEMS_PER_PAGE = 100
FILES_PER_PAGE = 100

#: A run is *receiving* while its last write (of push items or a file) is
#: less than this many seconds old; its pages then reload themselves every
#: :data:`REFRESH_SECONDS` seconds, and so does the list while it shows one.
RECEIVING_SECONDS = 60
REFRESH_SECONDS = 10

#: How much of the end of a file its page shows: 256 KiB.
TAIL_BYTES = 256 * 1024

#: The policy of every page: nothing but the service's own stylesheet and
#: images, no scripts at all, no framing, forms sent only to the service.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_STYLESHEET = "pushcollector.css"
_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="pushcollector"'}
# A page number or a filter longer than this is a mistake.
_MAX_PAGE = 10**6
_MAX_FILTER = 200

_STATUS_TITLES = {
    400: "Bad request",
    401: "Log in",
    404: "Not found",
    405: "Method not allowed",
    421: "Unknown host",
    503: "Database unavailable",
}

# The states of the schema that are not successful, in its order.
_UNSUCCESSFUL_STATES = [
    state
    for state in push_item_schema()["properties"]["state"]["enum"]
    if state not in SUCCESSFUL_STATES
]


def pages_app(
    store: Store, tokens: Tokens | None, hosts: Collection[str] | None = None
) -> Starlette:
    """The web view as an application of its own, to mount at ``/``: the
    pages, their stylesheet, and its answers to errors as pages.

    Args:
        store: where runs are kept.
        tokens: the tokens accepted; None to accept every request.
        hosts: the names a request's Host may give (see
            :class:`~.checks.HostCheck`); None for any.
    """
    pages = _Pages(store)
    application = Starlette(
        routes=[
            Route("/", pages.runs_page, methods=["GET"]),
            Route("/runs/{run_id}", pages.run_page, methods=["GET"]),
            Route(
                "/runs/{run_id}/files/{filename:anything}",
                pages.file_page,
                methods=["GET"],
            ),
            Route("/static/" + _STYLESHEET, pages.stylesheet, methods=["GET"]),
        ],
        # Browsers send a token as the password of HTTP Basic.
        middleware=[
            Middleware(HostCheck, names=hosts, refuse=_refused),
            Middleware(
                AuthenticationMiddleware,
                backend=TokenBackend(tokens, [BASIC, BEARER]),
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


def _error_page(status, message, headers=None, title=None):
    """An error as a page: its status, what was wrong, the page headers."""
    html = (
        _templates()
        .get_template("error.html")
        .render(
            title=title or _STATUS_TITLES.get(status, "Error %d" % status),
            status=status,
            message=message,
            refresh=None,
        )
    )
    return HTMLResponse(
        html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})}
    )


def _tokens_not_answering(connection, error):
    return _error_page(
        503, "%s." % str(error).capitalize(), {"Retry-After": "1"}, "Unavailable"
    )


async def _refused(request, error):
    return _error_page(error.status, error.message, error.headers)


async def _not_permitted(request, error):
    # Every token the service knows may read, all that a page requires:
    # the caller has none. The challenge makes browsers ask for one.
    return _error_page(
        401,
        "Log in with a token of this service as the password (any user name).",
        _BASIC_CHALLENGE,
    )


async def _not_found(request, error):
    location = slash_location(request)
    if location is not None:
        return RedirectResponse(location, 307, headers=PAGE_HEADERS)
    return _error_page(404, "There is no page %s." % request.url.path)


async def _method_not_allowed(request, error):
    return _error_page(
        405, "Method %s is not allowed here." % request.method, error.headers
    )


_environment = None


def _templates():
    global _environment
    if _environment is None:
        _environment = jinja2.Environment(
            loader=jinja2.PackageLoader("pushcollector._impl.server", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _environment


class _Pages:
    """The page endpoints, around one store."""

    def __init__(self, store):
        self.store = store
        self.stylesheet_bytes = (
            importlib.resources.files("pushcollector._impl.server")
            .joinpath("static", _STYLESHEET)
            .read_bytes()
        )

    async def _call(self, function, *args):
        """Run store calls and rendering in a worker thread; a database that
        cannot be used answers 503."""
        return await call_store(
            function, *args, unavailable="The database is unavailable; try again."
        )

    async def _run(self, request):
        run_id = path_run_id(request)
        run = await self._call(self.store.run, run_id)
        if run is None:
            raise Refused(404, "There is no run %s." % run_id)
        return run

    @staticmethod
    def _page(html):
        return HTMLResponse(html, headers=PAGE_HEADERS)

    # -- The pages --------------------------------------------------------

    async def stylesheet(self, request: Request) -> Response:
        return Response(
            self.stylesheet_bytes,
            media_type="text/css",
            headers={**PAGE_HEADERS, "Cache-Control": "max-age=300"},
        )

    @requires(READ)
    async def runs_page(self, request: Request) -> Response:
        page = _page_number(request, "page")
        return self._page(await self._call(self._render_runs, page))

    def _render_runs(self, page):
        with self.store.snapshot() as store:
            runs = store.list_runs(RUNS_PER_PAGE, (page - 1) * RUNS_PER_PAGE)
            total = store.run_count()
            now = _now()
            shown = [_RunView(counts, now) for counts in store.counts(runs)]
        return _render(
            "runs.html",
            title="Runs",
            runs=shown,
            total=total,
            pager=_Pager("/", {}, "page", page, total, RUNS_PER_PAGE, ""),
            refresh=_refresh(any(run.receiving for run in shown)),
        )

    @requires(READ)
    async def run_page(self, request: Request) -> Response:
        run = await self._run(request)
        tables = [
            _Table(request, "unsuccessful", "", "Unsuccessful items", True),
            _Table(request, "unfinished", "pending_", "Unfinished items", False),
        ]
        files_page = _page_number(request, _FILES_PAGE)
        # The links of the files' pages keep the tables as they are.
        kept = {
            name: value
            for name, value in request.query_params.multi_items()
            if name in _TABLE_PARAMETERS
        }
        return self._page(
            await self._call(self._render_run, run, tables, files_page, kept)
        )

    def _render_run(self, run, tables, files_page, kept):
        # One moment: the counts, the tables and the files fit together.
        with self.store.snapshot() as store:
            (counts,) = store.counts([run])
            shown = _RunView(counts, _now())
            for table in tables:
                table.fill(store, run, shown.report)
            rows = store.files(run, FILES_PER_PAGE, (files_page - 1) * FILES_PER_PAGE)
        return _render(
            "run.html",
            title="Run %s" % run.name,
            run=shown,
            chart=_chart(shown.report.state_counts),
            tables=tables,
            files=[_FileView(run.name, row) for row in rows],
            files_pager=_Pager(
                _run_url(run.name),
                kept,
                _FILES_PAGE,
                files_page,
                counts.file_count,
                FILES_PER_PAGE,
                "#files",
            ),
            refresh=_refresh(shown.receiving),
        )

    @requires(READ)
    async def file_page(self, request: Request) -> Response:
        filename = path_filename(request)
        raw = _choice(request, "raw", ("1",), None)
        run = await self._run(request)
        if raw:
            return await self._raw_file(run, filename)
        return self._page(await self._call(self._render_file, run, filename))

    def _render_file(self, run, filename):
        found = self.store.file_tail(run, filename, TAIL_BYTES)
        if found is None:
            raise Refused(404, "Run %s has no file %s." % (run.name, filename))
        row, data = found
        tailed = row.size > len(data)
        text = data.decode("utf-8", errors="replace")
        if tailed and "\n" in text:
            # From the first whole line.
            text = text[text.index("\n") + 1 :]
        receiving = _is_receiving(run.updated_at, _now())
        return _render(
            "file.html",
            title="%s of run %s" % (filename, run.name),
            run_name=run.name,
            run_url=_run_url(run.name),
            file=_FileView(run.name, row),
            text=text,
            tailed=tailed,
            tail_size=_size(TAIL_BYTES),
            refresh=_refresh(receiving),
        )

    async def _raw_file(self, run, filename):
        file_id = await self._call(self.store.file_id, run, filename)
        if file_id is None:
            raise Refused(404, "Run %s has no file %s." % (run.name, filename))
        basename = filename.rsplit("/", 1)[-1]
        return StreamingResponse(
            self.store.file_pieces(file_id),
            media_type="application/octet-stream",
            headers={
                **PAGE_HEADERS,
                "Content-Disposition": "attachment; filename*=UTF-8''%s"
                % urllib.parse.quote(basename, safe=""),
            },
        )


def _render(template, **values):
    return _templates().get_template(template).render(**values)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _is_receiving(updated_at, now):
    return (now - updated_at).total_seconds() < RECEIVING_SECONDS


def _refresh(receiving):
    return REFRESH_SECONDS if receiving else None


def _when(moment):
    # The store gives moments back in UTC.
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds):
    """A duration as people read it: ``0.4 s``, ``12 s``, ``3 min 05 s``,
    ``2 h 01 min``."""
    if seconds < 10:
        return "%.1f s" % seconds
    seconds = int(seconds)
    if seconds < 60:
        return "%d s" % seconds
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return "%d min %02d s" % (minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return "%d h %02d min" % (hours, minutes)


def _size(size):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            break
        size /= 1024
    return "%d %s" % (size, unit) if unit == "bytes" else "%.1f %s" % (size, unit)


def _state_class(state):
    if state == "PENDING":
        return "pending"
    return "ok" if state in SUCCESSFUL_STATES else "bad"


def _run_url(run_name):
    return "/runs/" + run_name


def _file_url(run_name, filename):
    return "%s/files/%s" % (
        _run_url(run_name),
        "/".join(urllib.parse.quote(part, safe="") for part in filename.split("/")),
    )


class _RunView:
    """A run as the pages show it."""

    def __init__(self, counts, now):
        run = counts.run
        self.report = report = RunReport.of_counts(counts)
        self.name = run.name
        self.url = _run_url(run.name)
        self.passed = report.passed
        self.states = [
            (state, count, _state_class(state))
            for state, count in report.state_counts.items()
        ]
        self.records = run.record_count
        self.push_items = report.push_item_count
        self.file_count = counts.file_count
        self.unsuccessful = report.unsuccessful_count
        self.unfinished = report.unfinished_count
        # Lines its client declared it could not deliver: they fail the run.
        self.bad_lines = report.bad_line_count
        self.started = _when(run.created_at)
        self.last_write = _when(run.updated_at)
        self.took = _duration((run.updated_at - run.created_at).total_seconds())
        self.receiving = _is_receiving(run.updated_at, now)


class _FileView:
    """A file of a run as the pages show it."""

    def __init__(self, run_name, row):
        self.name = row.name
        self.url = _file_url(run_name, row.name)
        self.raw_url = self.url + "?raw=1"
        self.size = _size(row.size)
        self.bytes = row.size
        self.updated = _when(row.updated_at)


# The chart's geometry, in SVG user units.
_CHART_LABEL_WIDTH = 150
_CHART_BAR_WIDTH = 480
_CHART_ROW_HEIGHT = 26


def _chart(states):
    """The state counts as horizontal bars: what the template draws."""
    largest = max(states.values(), default=0)
    bars = []
    for row, (state, count) in enumerate(states.items()):
        width = round(_CHART_BAR_WIDTH * count / largest)
        bars.append(
            {
                "state": state,
                "count": count,
                "css_class": _state_class(state),
                "y": row * _CHART_ROW_HEIGHT,
                "text_y": row * _CHART_ROW_HEIGHT + 17,
                "width": max(width, 1),
                "count_x": _CHART_LABEL_WIDTH + max(width, 1) + 6,
            }
        )
    return {
        "bars": bars,
        "label_width": _CHART_LABEL_WIDTH,
        "width": _CHART_LABEL_WIDTH + _CHART_BAR_WIDTH + 80,
        "height": max(len(bars), 1) * _CHART_ROW_HEIGHT,
        "bar_height": _CHART_ROW_HEIGHT - 6,
    }


class _Pager:
    """The links to the pages of a list: first, previous, next, last."""

    def __init__(self, path, kept, name, page, total, per_page, anchor):
        self.page = page
        self.pages = max(1, -(-total // per_page))
        self.first_shown = min(total, (page - 1) * per_page + 1)
        self.last_shown = min(total, page * per_page)
        self.total = total

        def link(number):
            query = dict(kept)
            if number > 1:
                query[name] = str(number)
            return _url(path, query) + anchor

        self.first = link(1) if page > 1 else None
        self.previous = link(min(page - 1, self.pages)) if page > 1 else None
        self.next = link(page + 1) if page < self.pages else None
        self.last = link(self.pages) if page < self.pages else None


def _url(path, query):
    return path + ("?" + urllib.parse.urlencode(query) if query else "")


_SORT_NAMES = {
    "seq": "recorded order",
    "filename": "filename",
    "dest": "dest",
    "state": "state",
}


class _Table:
    """A table of a run's items, with its query parameters.

    The table of unsuccessful items takes ``state`` (one unsuccessful
    state; all of them by default), ``q`` (text the filename or dest
    holds), ``sort`` (``seq``, the order items were first recorded, by
    default; ``filename``, ``dest`` or ``state``), ``order`` (``asc`` or
    ``desc``) and ``page``. The table of unfinished (``PENDING``) items
    takes the same but ``state``, prefixed with ``pending_``.
    """

    def __init__(self, request, key, prefix, title, by_state):
        self.key = key
        self.prefix = prefix
        self.title = title
        self.by_state = by_state
        self.path = request.url.path
        self.state = (
            _choice(request, "state", _UNSUCCESSFUL_STATES, None) if by_state else None
        )
        self.contains = _text(request, prefix + "q")
        self.sort = _choice(request, prefix + "sort", ITEM_SORT_KEYS, "seq")
        self.order = _choice(request, prefix + "order", ("asc", "desc"), "asc")
        self.page = _page_number(request, prefix + "page")
        # The parameters of the other tables, kept by every link of this one.
        self.others = {
            name: value
            for name, value in request.query_params.multi_items()
            if not self._owns(name) and name in _KEPT_PARAMETERS
        }

    def _owns(self, name):
        return name.startswith(self.prefix) and name[len(self.prefix) :] in (
            "state",
            "q",
            "sort",
            "order",
            "page",
        )

    def _query(self, **changes):
        """This table's parameters that differ from the defaults, changed."""
        values = {
            "state": self.state,
            "q": self.contains,
            "sort": self.sort,
            "order": self.order,
        }
        values.update(changes)
        query = dict(self.others)
        defaults = {"state": None, "q": "", "sort": "seq", "order": "asc"}
        for name, value in values.items():
            if value != defaults[name]:
                query[self.prefix + name] = value
        return query

    def fill(self, store, run, report):
        """Read this table's page of items, and make its links."""
        if self.by_state:
            present = report.unsuccessful_states
            states = [self.state] if self.state else present
            self.state_choices = present
        else:
            states = ["PENDING"] if report.unfinished_count else []
            self.state_choices = []
        rows, total = store.item_page(
            run,
            states,
            sort=self.sort,
            descending=self.order == "desc",
            contains=self.contains or None,
            limit=ITEMS_PER_PAGE,
            offset=(self.page - 1) * ITEMS_PER_PAGE,
        )
        self.rows = [
            (filename, dest, state, _state_class(state))
            for filename, dest, state in rows
        ]
        self.total = total
        self.filtered = bool(self.state or self.contains)
        anchor = "#" + self.key
        self.pager = _Pager(
            self.path,
            self._query(),
            self.prefix + "page",
            self.page,
            total,
            ITEMS_PER_PAGE,
            anchor,
        )
        self.headings = []
        for sort in ("filename", "dest", "state"):
            current = self.sort == sort
            order = "desc" if current and self.order == "asc" else "asc"
            self.headings.append(
                {
                    "label": sort.capitalize(),
                    "url": _url(self.path, self._query(sort=sort, order=order))
                    + anchor,
                    "current": self.order if current else None,
                }
            )
        self.reset_url = _url(self.path, dict(self.others)) + anchor
        self.action = self.path + anchor
        self.hidden = sorted(self.others.items())
        self.sort_choices = [(sort, _SORT_NAMES[sort]) for sort in ITEM_SORT_KEYS]


_TABLE_PREFIXES = ("", "pending_")
_TABLE_PARAMETERS = {
    prefix + name
    for prefix in _TABLE_PREFIXES
    for name in ("state", "q", "sort", "order", "page")
    if not (prefix and name == "state")
}
# The page of the files of a run, which the links of every table keep.
_FILES_PAGE = "files_page"
_KEPT_PARAMETERS = _TABLE_PARAMETERS | {_FILES_PAGE}


def _choice(request, name, choices, default):
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if text not in choices:
        raise Refused(
            400,
            "Invalid %s %r: one of %s." % (name, text, ", ".join(choices)),
        )
    return text


def _page_number(request, name):
    text = request.query_params.get(name)
    if text is None or text == "":
        return 1
    number = integer_in(text, 1, _MAX_PAGE)
    if number is None:
        raise Refused(
            400, "Invalid %s %r: a page number from 1 to %d." % (name, text, _MAX_PAGE)
        )
    return number


def _text(request, name):
    text = request.query_params.get(name, "")
    if len(text) > _MAX_FILTER:
        raise Refused(
            400, "Invalid %s: longer than %d characters." % (name, _MAX_FILTER)
        )
    return text
