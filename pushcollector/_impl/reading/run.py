"""A run and how it is read: its records, its files, its summary.

A run of the ``local`` backend is read from its directory here; a run held
by a collection service is a :class:`~.remote.RemoteRun`, read over HTTP
through the same API.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterator

from ..backends.local import (
    LATEST_LINK,
    PUSH_ITEMS_FILE,
    STAGING_NAME_PATTERN,
    UPLOAD_MARKER,
)
from ..records import BadLine, records_of_lines
from ..safefs import open_regular_file, regular_files_under
from .report import RunReport, RunSummary

LOG = logging.getLogger("pushcollector")

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
        yield from records_of_lines(item_lines(self), report)

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

    def report(
        self, allow_pending: bool = False, allow_bad_lines: bool = False
    ) -> RunReport:
        """The run's outcome, judged with these options: what
        ``pushcollector summary`` prints of it.

        Read from the whole run, as :meth:`summary` is. The arguments are
        those of :meth:`RunSummary.passed`.

        Raises:
            OSError: if the push items file cannot be read.

        .. versionadded:: 1.6.0
        """
        return RunReport.of_summary(self.summary(), allow_pending, allow_bad_lines)

    def location(self) -> dict[str, str | None]:
        """Where the run is held, under the keys of ``summary --json``:
        ``directory`` and ``items_file``.

        .. versionadded:: 1.6.0
        """
        return {"directory": self.directory, "items_file": self.items_path}

    def shown_location(self) -> list[tuple[str, str]]:
        """Where the run is held, as the text of ``summary`` says it: its
        ``Path``, as ``(label, path)`` pairs.

        .. versionadded:: 1.6.0
        """
        return [("Path", self.directory or self.items_path)]

    def listing(self) -> tuple[dict, RunReport | None]:
        """The run as ``pushcollector runs`` lists it: its figures (what
        ``runs --json`` prints of it) and its report.

        A run that cannot be read has its error in its figures, ``error``,
        and no report: it is listed rather than hiding the other runs.

        .. versionadded:: 1.6.0
        """
        figures = {
            "name": self.name,
            "directory": self.directory,
            "latest": self.is_latest,
        }
        try:
            summary = self.summary()
            files = self.files()
        except OSError as error:
            figures.update(
                dict.fromkeys(_LISTED_COUNTS), passed=False, error=describe_error(error)
            )
            return figures, None
        report = RunReport.of_summary(summary)
        figures.update(
            records=report.record_count,
            push_items=report.push_item_count,
            files=len(files),
            unsuccessful=report.unsuccessful_count,
            unfinished=report.unfinished_count,
            bad_lines=report.bad_line_count,
            passed=report.passed,
            error=None,
        )
        return figures, report


# The counts of a run that 'runs' lists, None for a run it cannot read.
_LISTED_COUNTS = (
    "records",
    "push_items",
    "files",
    "unsuccessful",
    "unfinished",
    "bad_lines",
)


def describe_error(error: Exception) -> str:
    """What an error of reading says, in one line: ``FILE: reason`` for an
    OSError naming its file, else its message."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        return "%s: %s" % (error.filename, error.strerror)
    return str(error)


def _is_file_of_run(prefix, name):
    """Whether a file of a run directory is one the run recorded: not its
    records or upload marker at the top, nor a staging file anywhere."""
    if not prefix and name in (PUSH_ITEMS_FILE, UPLOAD_MARKER):
        return False
    return not _STAGING_FILE.fullmatch(name)


def item_lines(run: Run) -> Iterator[str]:
    """The lines of a run's push items file, as :meth:`Run.records` reads
    them; none for a run directory without one.

    Undecodable bytes are kept as surrogates rather than ending the read,
    so that only the lines holding them are skipped.

    Raises:
        OSError: as :meth:`Run.records` does.
    """
    try:
        fd = open_regular_file(run.items_path)
    except FileNotFoundError:
        if run.directory is None:
            raise
        return  # No push items recorded in this run.
    with open(fd, encoding="utf-8", errors="surrogateescape", newline="\n") as stream:
        yield from stream
