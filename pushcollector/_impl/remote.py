"""Reading runs held by a collection service (``pushcollector serve``).

:func:`~pushcollector.open_run` and :func:`~pushcollector.list_runs` hand
URLs here. A run comes back as a :class:`RemoteRun`: the :class:`Run` API,
its records streamed from the service's ``GET .../push-items``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator

from .transport.auth import Authorization, basic_credentials, check_token, checked_url
from .transport.redaction import Redactor
from .collector import HTTP_TOKEN_VARIABLE
from .runs import BadLine, NotARunError, Run, records_of_lines

# The path of a run's URL below the service's base URL.
_RUN_PATH = re.compile(r"(?P<base>.*)/runs/(?P<name>[^/]+)/?")

_RUNS_PER_PAGE = 1000

# Seconds to connect, and between two reads of an answer: a service that
# stops answering fails the read rather than hangs it.
_TIMEOUT = 60

_CHUNK_BYTES = 64 * 1024

# Of an error answer, what is read and what is quoted at most.
_ERROR_BYTES = 64 * 1024
_DETAIL_CHARS = 300


class ServiceReadError(OSError):
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

    def __init__(self, message: str, url: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class _Service:
    """The base URL of a service, and how to ask it."""

    def __init__(self, base_url):
        try:
            self.url, credentials = checked_url(base_url)
        except ValueError as error:
            # Not quoted: the URL may hold a password.
            raise NotARunError("not a service URL: %s" % error) from None
        token = os.environ.get(HTTP_TOKEN_VARIABLE) or None
        if token is not None:
            try:
                check_token(token)
            except ValueError as error:
                raise ServiceReadError(
                    "$%s is not a token: %s" % (HTTP_TOKEN_VARIABLE, error), self.url
                ) from None
            self.auth = Authorization("Bearer", token)
            secrets = [token]
        elif credentials is not None:
            basic = basic_credentials(*credentials)
            self.auth = Authorization("Basic", basic)
            secrets = [credentials[1], basic] if credentials[1] else []
        else:
            self.auth = None
            secrets = []
        self.redact = Redactor(secrets)
        import requests

        self.session = requests.Session()

    def get(self, path, params=None, stream=False):
        """The answer to ``GET base + path``, if it is a success.

        Raises:
            NotARunError: if the service holds no such run.
            ServiceReadError: for any other failure.
        """
        import requests

        url = self.url + path
        try:
            answer = self.session.get(
                url,
                params=params,
                auth=self.auth,
                timeout=_TIMEOUT,
                stream=stream,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise self.error(url, "cannot read the service: %s" % _reason(error))
        if answer.status_code == 200:
            return answer
        with answer:
            detail = _error_detail(answer)
        if answer.status_code == 404 and detail.startswith("no run "):
            raise NotARunError("%s: %s" % (url, detail))
        raise self.error(
            url,
            "HTTP %d %s: %s" % (answer.status_code, answer.reason or "", detail),
            answer.status_code,
        )

    def document(self, path, params=None):
        """The JSON object ``GET base + path`` answers."""
        url = self.url + path
        answer = self.get(path, params)
        try:
            document = answer.json()
        except ValueError:
            document = None
        if type(document) is not dict:
            raise self.error(
                url, "not a pushcollector service: the answer is not a JSON object"
            )
        return document

    def error(self, url, reason, status=None):
        return ServiceReadError(self.redact("%s: %s" % (url, reason)), url, status)


def _reason(error):
    """What went wrong with a request, in a few words: the system's own
    message when there is one, not the chain of wrappers around it."""
    text = str(error)
    found = re.findall(r"\[Errno -?\d+\] [^'\"\)]*", text)
    if found:
        return found[-1].strip()
    if "timed out" in text.lower():
        return "timed out"
    return "%s: %s" % (type(error).__name__, text[:_DETAIL_CHARS])


def _error_detail(answer):
    """The service's ``error`` message of an error answer, else its reason."""
    try:
        # At most so much of it: an error answer may be endless.
        body = next(answer.iter_content(_ERROR_BYTES), b"")
        message = json.loads(body)["error"]
    except Exception:
        return "not an answer of a pushcollector service"
    if not isinstance(message, str):
        return "not an answer of a pushcollector service"
    return message[:_DETAIL_CHARS]


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
        self.url = "%s/runs/%s" % (service.url, urllib.parse.quote(name, safe=""))
        super().__init__(name, None, self.url + "/push-items")
        self.figures = figures
        self._service = service
        self._path = self.url[len(service.url) :]
        # The service serves its pages beside its API, under the same root.
        root, api, _ = service.url.rpartition("/api")
        self.page_url = (
            "%s/runs/%s" % (root, urllib.parse.quote(name, safe="")) if api else None
        )

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
        answer = self._service.get(self._path + "/push-items", stream=True)
        with answer:
            yield from records_of_lines(self._lines(answer), report)

    def _lines(self, answer):
        import requests

        pending = b""
        try:
            for chunk in answer.iter_content(_CHUNK_BYTES):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    yield line.decode("utf-8", "surrogateescape")
        except requests.RequestException as error:
            raise self._service.error(
                self.items_path, "cut off while reading: %s" % _reason(error)
            ) from None
        if pending:
            yield pending.decode("utf-8", "surrogateescape")

    def files(self) -> list[str]:
        """The names of the run's files, sorted.

        Raises:
            ServiceReadError: if the service cannot be read.
        """
        document = self._service.document(self._path + "/files")
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
            self._path + "/summary",
            {
                "allow_pending": str(allow_pending).lower(),
                "allow_bad_lines": str(allow_bad_lines).lower(),
            },
        )


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
        page = service.document("/runs", {"limit": 1})
        runs = _runs_of(service, page)
        if not runs:
            raise NotARunError("%s: the service holds no runs" % service.url)
        figures = runs[0]
    else:
        figures = service.document("/runs/%s" % urllib.parse.quote(name, safe=""))
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
        page = service.document("/runs", {"limit": _RUNS_PER_PAGE, "offset": offset})
        found = _runs_of(service, page)
        offset += len(found)
        # A run created meanwhile moves the pages by one: none is listed twice.
        runs.extend(figures for figures in found if figures["name"] not in seen)
        seen.update(figures["name"] for figures in found)
        if not found or page.get("next") is None:
            break
    return [RemoteRun(service, figures) for figures in runs]


def _runs_of(service, page):
    runs = page.get("runs")
    if type(runs) is not list:
        raise service.error(
            service.url + "/runs", "not a pushcollector service: no list of runs"
        )
    for figures in runs:
        _check_figures(service, figures)
    return runs


def _check_figures(service, figures):
    if not (type(figures) is dict and type(figures.get("name")) is str):
        raise service.error(
            service.url + "/runs", "not a pushcollector service: a run without a name"
        )
