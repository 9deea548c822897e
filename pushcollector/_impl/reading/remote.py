"""Reading runs held by a collection service (``pushcollector serve``).

:func:`~pushcollector.open_run` and :func:`~pushcollector.list_runs` hand
URLs here. A run comes back as a :class:`RemoteRun`: the :class:`Run` API,
its records streamed from the service's ``GET .../push-items``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator

from ..environment import HTTP_TOKEN
from ..protocol import (
    RUNS_PATH,
    files_path,
    push_items_path,
    run_path,
    summary_path,
)
from ..records import BadLine, records_of_lines
from .report import RunReport
from .run import NotARunError, Run
from ..transport.attempt import (
    Request,
    Transport,
    content_coding,
    describe_cause,
)
from ..transport.auth import check_token
from ..transport.errors import ServiceError
from ..transport.retry import READ_RETRY_STATUSES, RetryPolicy

# The path of a run's URL below the service's base URL.
_RUN_PATH = re.compile(r"(?P<base>.*)/runs/(?P<name>[^/]+)/?")

_RUNS_PER_PAGE = 1000

# Seconds a read may take: each GET, its retries included, and each chunk
# of a streamed answer. A service that stops answering, or trickles its
# answer a byte at a time, fails the read rather than hangs it.
_TIMEOUT = 60

# A read is retried while the service or a proxy in front of it is busy or
# restarting (its database restarted, say): a CI gate must not fail on a
# blip. Attempts and delays are bounded by _TIMEOUT too.
_READ_POLICY = RetryPolicy(
    max_attempts=6, backoff=0.5, max_backoff=10.0, statuses=READ_RETRY_STATUSES
)

_CHUNK_BYTES = 64 * 1024

# The most of a JSON answer read: a page of runs, a run's files.
_DOCUMENT_BYTES = 64 * 1024 * 1024

# Of an error answer, what is quoted at most.
_DETAIL_CHARS = 300


class ServiceReadError(ServiceError):
    """A collection service could not be read.

    It could not be reached, refused the token, or answered what no
    pushcollector service answers. The message names the URL (without
    credentials) and the reason, on one line; no piece of the token or
    password is ever shown.

    Attributes:
        url (str): the URL read, without credentials.
        status (int | None): the HTTP status of the answer, None if there
            was none.

    .. versionadded:: 1.6.0
    """


def _describe_read(request, url, failure, policy):
    """What the error of a failed read says: the URL, then why."""
    if failure.time_limit is not None:
        reason = "cannot read the service: timed out"
    elif failure.status is not None:
        reason = "HTTP %d %s: %s" % (
            failure.status,
            failure.reason or "",
            _detail(failure),
        )
    else:
        reason = "cannot read the service: %s" % describe_cause(failure.cause)
    return "%s: %s" % (url, reason)


def _detail(failure):
    """The service's ``error`` message of an error answer, else a note."""
    try:
        message = json.loads(failure.body)["error"]
    except Exception:
        return "not an answer of a pushcollector service"
    if failure.body_cut or not isinstance(message, str):
        return "not an answer of a pushcollector service"
    return message[:_DETAIL_CHARS]


class _Service:
    """The base URL of a service, and how to ask it."""

    def __init__(self, base_url):
        token = HTTP_TOKEN.get()
        if token is not None:
            try:
                check_token(token)
            except ValueError as error:
                raise ServiceReadError(
                    "$%s is not a token: %s" % (HTTP_TOKEN.name, error)
                ) from None
        try:
            self.transport = Transport(
                base_url,
                token=token,
                timeout=_TIMEOUT,
                policy=_READ_POLICY,
                error_type=ServiceReadError,
                describe=_describe_read,
                # Shown by nothing by default: the command says what failed
                # in the end, in one line.
                retry_log_level=logging.INFO,
            )
        except ValueError as error:
            # Not quoted: the URL may hold a password.
            raise NotARunError("not a service URL: %s" % error) from None
        self.url = self.transport.url

    def get(self, path, params=None, stream=False):
        """The delivered request ``GET base + path``, if it succeeded.

        Raises:
            NotARunError: if the service holds no such run.
            ServiceReadError: for any other failure.
        """
        request = Request(
            "GET", path, b"", self.transport.request_headers(), params=params
        )
        request.answer_limit = 0 if stream else _DOCUMENT_BYTES
        request.stream = stream
        failure = self.transport.fetch(request, deadline=time.monotonic() + _TIMEOUT)
        if failure is None:
            return request
        detail = _detail(failure)
        if failure.status == 404 and detail.startswith("no run "):
            raise NotARunError("%s%s: %s" % (self.url, path, detail))
        raise failure.error

    def document(self, path, params=None):
        """The JSON object ``GET base + path`` answers."""
        url = self.url + path
        request = self.get(path, params)
        self.check_coding(url, request.answer_headers)
        answer = request.answer
        if len(answer) > _DOCUMENT_BYTES:
            raise self.error(
                url,
                "not a pushcollector service: an answer longer than %d bytes"
                % _DOCUMENT_BYTES,
            )
        try:
            document = json.loads(answer)
        except ValueError:
            document = None
        if type(document) is not dict:
            raise self.error(
                url, "not a pushcollector service: the answer is not a JSON object"
            )
        return document

    def lines(self, path, url):
        """The lines of the streamed answer to ``GET base + path``.

        Raises:
            ServiceReadError: naming url, if the answer is cut off or stalls.
        """
        request = self.get(path, stream=True)
        try:
            self.check_coding(url, request.response.headers)
        except ServiceReadError:
            request.response.close()
            raise
        chunks = self.transport.chunks(
            request,
            _CHUNK_BYTES,
            lambda reason: self.error(url, "cut off while reading: %s" % reason),
        )
        # The pieces of the line not ended yet, kept apart rather than joined
        # at every chunk, and bounded: an endless line is not a record.
        pending, pending_bytes = [], 0
        for chunk in chunks:
            lines = chunk.split(b"\n")
            if len(lines) > 1:
                pending.append(lines[0])
                lines[0] = b"".join(pending)
                pending, pending_bytes = [], 0
                for line in lines[:-1]:
                    yield line.decode("utf-8", "surrogateescape")
            if lines[-1]:
                pending.append(lines[-1])
                pending_bytes += len(lines[-1])
                if pending_bytes > _DOCUMENT_BYTES:
                    raise self.error(
                        url,
                        "not a pushcollector service: a line longer than %d bytes"
                        % _DOCUMENT_BYTES,
                    )
        if pending:
            yield b"".join(pending).decode("utf-8", "surrogateescape")

    def check_coding(self, url, headers):
        """Refuse an answer in a content coding: none was asked for, and a
        small body may inflate into a huge one."""
        coding = content_coding(headers)
        if coding != "identity":
            raise self.error(
                url,
                "not a pushcollector service: an answer in the content coding"
                " %r, which was not asked for" % coding[:_DETAIL_CHARS],
            )

    def error(self, url, reason):
        """The error of a read whose answer is not one a service gives."""
        return ServiceReadError(
            self.transport.redact("%s: %s" % (url, reason)), method="GET", url=url
        )


class RemoteRun(Run):
    """A run held by a collection service, read over HTTP.

    :func:`~pushcollector.open_run` and :func:`~pushcollector.list_runs`
    return these for URLs. It is a :class:`~pushcollector.Run`:
    :meth:`records` streams the run's records from the service, one page
    of the answer at a time, and :meth:`summary` works out the final states
    from them as for a local run. ``directory`` is None; ``items_path`` is
    the URL of the run's records, which bad lines are reported against.

    Attributes:
        url (str): the run's URL, ``BASE/runs/RUN_ID``, without credentials.
        page_url (str | None): the URL of the run's page in the service's
            web view: ``ROOT/runs/RUN_ID`` for a ``BASE`` of ``ROOT/api``;
            None for a base URL not ending in ``/api``.
        figures (dict): the run as the service lists it (``GET BASE/runs``):
            ``records``, ``push_items``, ``files``, ``states``,
            ``unsuccessful``, ``unfinished``, ``passed``, ``latest`` and
            its ``created_at`` and ``updated_at``, when it was opened.

    .. versionadded:: 1.6.0
    """

    def __init__(self, service: _Service, figures: dict):
        name = figures["name"]
        self.url = service.url + run_path(name)
        super().__init__(name, None, self.url + "/push-items")
        self.figures = figures
        self._service = service
        # The service serves its pages beside its API, under the same root.
        root, api, _ = service.url.rpartition("/api")
        self.page_url = root + run_path(name) if api else None

    def __repr__(self):
        return "RemoteRun(%r)" % self.url

    @property
    def is_latest(self) -> bool:
        """Whether it was the service's newest run when it was opened."""
        return self.figures.get("latest") is True

    def records(
        self, on_bad_line: Callable[[BadLine], object] | None = None
    ) -> Iterator[dict]:
        """Stream the run's records from the service, in the order recorded.

        As :meth:`Run.records`; the service stores nothing but records, so
        a bad line means the answer was cut short or not the service's.

        Raises:
            ServiceReadError: if the service cannot be read, also part-way.
            NotARunError: if the service no longer holds the run.
        """
        report = on_bad_line or self._log_bad_line
        lines = self._service.lines(push_items_path(self.name), self.items_path)
        yield from records_of_lines(lines, report)

    def files(self) -> list[str]:
        """The names of the run's files, sorted.

        Raises:
            ServiceReadError: if the service cannot be read.
        """
        document = self._service.document(files_path(self.name))
        try:
            return sorted(entry["name"] for entry in document["files"])
        except (KeyError, TypeError):
            raise self._service.error(
                self.url + "/files", "not a pushcollector service: no list of files"
            ) from None

    def service_summary(
        self, allow_pending: bool = False, allow_bad_lines: bool = False
    ) -> dict:
        """The summary the service computes in its database.

        The document of ``pushcollector summary --json`` (see
        :doc:`/reading`), with ``directory`` and ``items_file`` null:
        quicker than :meth:`summary` for a large run, since no record
        crosses the network.

        Raises:
            ServiceReadError: if the service cannot be read.
            NotARunError: if the service no longer holds the run.
        """
        return self._service.document(
            summary_path(self.name),
            {
                "allow_pending": str(allow_pending).lower(),
                "allow_bad_lines": str(allow_bad_lines).lower(),
            },
        )

    def report(
        self, allow_pending: bool = False, allow_bad_lines: bool = False
    ) -> RunReport:
        """The run's outcome, from the summary the service computes
        (:meth:`service_summary`): no record crosses the network. The
        verdict is judged here, as for a local run.

        Raises:
            ServiceReadError: if the service cannot be read, or answers what
                is no summary.
            NotARunError: if the service no longer holds the run.
        """
        document = self.service_summary(allow_pending, allow_bad_lines)
        try:
            return RunReport.of_document(document, allow_pending, allow_bad_lines)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise self._service.error(
                self.url + "/summary", "not a pushcollector service: not a summary"
            ) from None

    def location(self) -> dict[str, str | None]:
        """Where the run is held, under the keys of ``summary --json``:
        ``directory`` and ``items_file`` null, its ``url`` and ``page``."""
        return {
            "directory": None,
            "items_file": None,
            "url": self.url,
            "page": self.page_url,
        }

    def shown_location(self) -> list[tuple[str, str]]:
        """Where the run is held, as the text of ``summary`` says it: its
        ``URL``, and its ``Page`` if it has one."""
        shown = [("URL", self.url)]
        if self.page_url:
            shown.append(("Page", self.page_url))
        return shown

    def listing(self) -> tuple[dict, RunReport]:
        """The run as ``pushcollector runs`` lists it: its :attr:`figures`
        with its ``url``, judged here as a local run is, and its report (of
        counts only).

        Raises:
            ServiceReadError: if the service listed the run without its
                counts.
        """
        try:
            report = RunReport.of_figures(self.figures)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise self._service.error(
                self.url, "not a pushcollector service: a run without its counts"
            ) from None
        return dict(self.figures, url=self.url, passed=report.passed), report


def split_run_url(url: str) -> tuple[str, str | None]:
    """The service's base URL and the run's id of a URL; None for a base URL."""
    parts = urllib.parse.urlsplit(url)
    match = _RUN_PATH.fullmatch(parts.path)
    if match is None:
        return url, None
    base = urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, match["base"], parts.query, parts.fragment)
    )
    return base, urllib.parse.unquote(match["name"])


def open_remote_run(url: str) -> RemoteRun:
    """The run a URL names: ``BASE/runs/RUN_ID``, or ``BASE``'s newest run."""
    base, name = split_run_url(url)
    service = _Service(base)
    if name is None:
        page = service.document(RUNS_PATH, {"limit": 1})
        runs = _runs_of(service, page)
        if not runs:
            raise NotARunError("%s: the service holds no runs" % service.url)
        figures = runs[0]
    else:
        figures = service.document(run_path(name))
        _check_figures(service, figures)
    return RemoteRun(service, figures)


def list_remote_runs(url: str) -> list[RemoteRun]:
    """Every run of the service at a base URL, newest first."""
    base, name = split_run_url(url)
    if name is not None:
        raise NotARunError(
            "%s names a run, not a service: list the runs of %s" % (url, base)
        )
    service = _Service(base)
    runs = []
    seen = set()
    offset = 0
    while True:
        page = service.document(RUNS_PATH, {"limit": _RUNS_PER_PAGE, "offset": offset})
        found = _runs_of(service, page)
        offset += len(found)
        # A run created meanwhile moves the pages by one: none is listed twice.
        new = [figures for figures in found if figures["name"] not in seen]
        runs.extend(new)
        seen.update(figures["name"] for figures in new)
        if not found or page.get("next") is None:
            break
        if not new:
            # A page of runs listed already, and more said to follow: a
            # service (or a cache in front of it) repeating itself, which
            # would be asked for ever.
            raise service.error(
                service.url + RUNS_PATH,
                "not a pushcollector service: it answers a page of runs"
                " listed already, at offset %d" % (offset - len(found)),
            )
    return [RemoteRun(service, figures) for figures in runs]


def _runs_of(service, page):
    runs = page.get("runs")
    if type(runs) is not list:
        raise service.error(
            service.url + RUNS_PATH, "not a pushcollector service: no list of runs"
        )
    for figures in runs:
        _check_figures(service, figures)
    return runs


def _check_figures(service, figures):
    if not (type(figures) is dict and type(figures.get("name")) is str):
        raise service.error(
            service.url + RUNS_PATH, "not a pushcollector service: a run without a name"
        )
