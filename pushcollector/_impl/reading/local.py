"""Reading runs back: records, final states, summaries.

Runs of the ``local`` backend are read here; runs held by a collection
service, named by URL, by :mod:`.remote` through the same API.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator

from ..backends.local import (
    LATEST_LINK,
    PUSH_ITEMS_FILE,
    RUN_NAME_PATTERN,
    STAGING_NAME_PATTERN,
    UPLOAD_MARKER,
    configured_directory,
)
from ..records import BadLine, records_of_lines
from ..safefs import open_regular_file, regular_files_under
from .report import RunSummary

LOG = logging.getLogger("pushcollector")

_RUN_NAME = re.compile(RUN_NAME_PATTERN)

# The one kind of file the local backend keeps in a run that nobody
# attached: the staging file of an attach, in the directory of the file
# attached, left if the process died before renaming it over that file.
# Its name is fixed apart from 32 random hex digits and holds no part of a
# name given by the caller, so no attachment is taken for one unless named
# exactly like one.
_STAGING_FILE = re.compile(STAGING_NAME_PATTERN)


class NotARunError(ValueError):
    """A path that exists but holds no run of the ``local`` backend.

    .. versionadded:: 1.4.0
    """


class Run:
    """One run recorded by the ``local`` backend.

    Get one from :func:`open_run` or :func:`list_runs` rather than
    constructing it.

    Attributes:
        name (str): the run's name: its directory's name, such as
            ``20261125143000``.
        directory (str | None): the absolute path of the run directory, or
            None for a push items file opened on its own.
        items_path (str): the absolute path of its push items file, which
            need not exist: a run may have attached files only.

    .. versionadded:: 1.4.0
    """

    def __init__(self, name: str, directory: str | None, items_path: str):
        self.name = name
        self.directory = directory
        self.items_path = items_path

    def __repr__(self):
        return "Run(%r)" % (self.directory or self.items_path)

    @property
    def is_latest(self) -> bool:
        """Whether the ``latest`` link beside the run directory points at it."""
        if self.directory is None:
            return False
        latest = os.path.join(os.path.dirname(self.directory), LATEST_LINK)
        try:
            return os.path.samefile(latest, self.directory)
        except OSError:
            return False

    def records(
        self, on_bad_line: Callable[[BadLine], object] | None = None
    ) -> Iterator[dict]:
        """Stream the push item records of the run, in the order recorded.

        The file is read line by line, so memory use does not grow with its
        size. Each record is a dict with at least a str ``filename`` and
        ``state``, and a ``dest`` that is a str or absent or None.

        Args:
            on_bad_line: called with a :class:`BadLine` for every line that
                is not such a record; the line is then skipped. By default
                a warning naming the file and line is logged on the
                ``pushcollector`` logger.

        Only a regular file is read: the file, and not a symbolic link to it,
        since the ``local`` backend writes nothing else. Anything else is
        refused without waiting, a FIFO included.

        Raises:
            OSError: if the file cannot be read, or is not a regular file;
                its ``filename`` is :attr:`items_path`.
        """
        report = on_bad_line or self._log_bad_line
        try:
            fd = open_regular_file(self.items_path)
        except FileNotFoundError:
            if self.directory is None:
                raise
            return  # No push items recorded in this run.
        # Undecodable bytes are kept as surrogates rather than ending the
        # read, so that only the lines holding them are skipped.
        stream = open(fd, encoding="utf-8", errors="surrogateescape", newline="\n")
        with stream:
            yield from records_of_lines(stream, report)

    def _log_bad_line(self, bad_line):
        LOG.warning(
            "%s:%d: skipped: %s", self.items_path, bad_line.line_number, bad_line.reason
        )

    def files(self) -> list[str]:
        """The names of the files attached or appended in the run, sorted.

        Names are relative to the run directory, with ``/`` between
        directories. Only regular files are listed, since the ``local``
        backend writes nothing else: symbolic links (to anything), FIFOs,
        sockets and devices are not, and no link is followed. Nothing but
        directories is opened. The backend's own staging files, named
        ``.pushcollector-tmp-`` and 32 lowercase hex digits, are left out,
        and so is the marker of ``pushcollector upload``,
        ``.pushcollector-upload`` at the top of the run directory; every other
        name is listed. A run opened from its push items file
        alone has none.

        Names may be longer than the system lets a path be, and the tree
        any depth: the ``local`` backend can write them.

        Raises:
            OSError: if a directory of the run cannot be read; its
                ``filename`` is that directory.

        .. versionchanged:: 1.6.0
            The marker of ``pushcollector upload`` is left out.
        """
        if self.directory is None:
            return []
        return sorted(regular_files_under(self.directory, _is_file_of_run))

    def summary(self) -> RunSummary:
        """Read the whole run and work out the final state of every push item.

        A push item is identified by its ``filename`` and ``dest``; the last
        record of each wins. Memory use grows with the number of distinct
        push items, not with the number of records.

        Raises:
            OSError: if the push items file cannot be read.
        """
        final_states = {}
        bad_lines = []
        record_count = 0
        # One str object per distinct state rather than one per record.
        intern = sys.intern
        for record in self.records(on_bad_line=bad_lines.append):
            record_count += 1
            final_states[(record["filename"], record.get("dest"))] = intern(
                record["state"]
            )
        return RunSummary(self, record_count, final_states, bad_lines)


def open_run(path: str | os.PathLike | None = None) -> Run:
    """Open a run of the ``local`` backend for reading.

    Args:
        path: one of

            * a run directory;
            * an artifacts directory, meaning the run its ``latest`` link
              points at;
            * a push items file (``pushitems.jsonl``, or a copy of one under
              any name).

            By default, the artifacts directory the ``local`` backend would
            use: ``$PUSHCOLLECTOR_ARTIFACTS_DIR`` if set, else ``artifacts``
            in the current working directory.

    A file given as ``path`` is read wherever its symbolic links lead, as
    the caller chose it; the ``pushitems.jsonl`` found in a run directory
    is read only if it is a regular file (see :meth:`Run.records`). Nothing
    is opened here.

    Raises:
        FileNotFoundError: if the path does not exist.
        NotARunError: if it exists but is none of the above.
        OSError: if it cannot be examined.

    .. versionadded:: 1.4.0

    .. versionchanged:: 1.6.0
        ``path`` may be the URL of a run held by a collection service,
        ``http(s)://HOST/api/runs/RUN_ID``, or of the service,
        ``http(s)://HOST/api``, meaning its newest run: the run is then a
        :class:`~pushcollector.RemoteRun`, read over HTTP with the token in
        ``$PUSHCOLLECTOR_HTTP_TOKEN``, if set. An unknown run, or a service
        holding none, raises :class:`NotARunError`; a service that cannot
        be reached or refuses the token raises
        :class:`~pushcollector.ServiceReadError`.
    """
    if is_service_url(path):
        from .remote import open_remote_run

        return open_remote_run(path)
    path = os.path.abspath(configured_directory() if path is None else path)
    # A run reached through a symlink, such as "latest", goes by its own name.
    resolved = os.path.realpath(path)
    if os.path.isfile(path):
        # The caller named this file: read it wherever links lead. Only the
        # items file found in a run directory must not be a link.
        if os.path.basename(resolved) == PUSH_ITEMS_FILE:
            return _run_in(os.path.dirname(resolved))
        return Run(os.path.basename(path), None, resolved)
    if not os.path.isdir(path):
        if not os.path.lexists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        raise NotARunError("%s: not a run: neither a directory nor a file" % path)
    # Whatever the items file is: reading it then says what is wrong with it.
    if os.path.lexists(os.path.join(path, PUSH_ITEMS_FILE)):
        return _run_in(resolved)
    latest = os.path.join(path, LATEST_LINK)
    if os.path.lexists(latest):
        if not os.path.isdir(latest):
            raise _broken_latest_error(path, latest)
        return _run_in(os.path.realpath(latest))
    if _RUN_NAME.fullmatch(os.path.basename(resolved)):
        return _run_in(resolved)
    raise NotARunError(
        "%s: not a run: it has no %s, no 'latest' link, and is not named like"
        " a run directory" % (path, PUSH_ITEMS_FILE)
    )


def list_runs(base: str | os.PathLike | None = None) -> list[Run]:
    """The runs in an artifacts directory, newest first.

    A run is a subdirectory named like the ``local`` backend names runs, or
    holding anything named ``pushitems.jsonl``. Other entries, such as the
    backend's lock file and symbolic links, are not runs. Runs are ordered by name, which for the
    backend's names is the order they were created in. ``latest`` itself is
    not listed; see :attr:`Run.is_latest`.

    Args:
        base: the artifacts directory; by default the one the ``local``
            backend would use (see :func:`open_run`).

    Raises:
        FileNotFoundError: if ``base`` does not exist.
        NotADirectoryError: if it is not a directory.
        OSError: if it cannot be read.

    .. versionadded:: 1.4.0

    .. versionchanged:: 1.6.0
        ``base`` may be the URL of a collection service,
        ``http(s)://HOST/api``: its runs are listed as
        :class:`~pushcollector.RemoteRun`, every page of them, with the
        errors of :func:`open_run` for a URL.
    """
    if is_service_url(base):
        from .remote import list_remote_runs

        return list_remote_runs(base)
    base = os.path.abspath(configured_directory() if base is None else base)
    runs = []
    with os.scandir(base) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if _RUN_NAME.fullmatch(entry.name) or os.path.lexists(
                os.path.join(entry.path, PUSH_ITEMS_FILE)
            ):
                runs.append(_run_in(entry.path))
    runs.sort(key=lambda run: run.name, reverse=True)
    return runs


def is_service_url(path: object) -> bool:
    """Whether a path given to the reading API is the URL of a service."""
    return isinstance(path, str) and path[:8].lower().startswith(
        ("http://", "https://")
    )


def _is_file_of_run(prefix, name):
    """Whether a file of a run directory is one the run recorded: not its
    records or upload marker at the top, nor a staging file anywhere."""
    if not prefix and name in (PUSH_ITEMS_FILE, UPLOAD_MARKER):
        return False
    return not _STAGING_FILE.fullmatch(name)


def _run_in(directory):
    return Run(
        os.path.basename(directory),
        directory,
        os.path.join(directory, PUSH_ITEMS_FILE),
    )


def _broken_latest_error(base, latest):
    if os.path.islink(latest):
        return NotARunError(
            "%s: 'latest' points at %r, which is not a directory"
            % (base, os.readlink(latest))
        )
    return NotARunError("%s: 'latest' is not a link to a run directory" % base)
