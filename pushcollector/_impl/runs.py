"""Reading runs back: records, final states, summaries.

Runs of the ``local`` backend are read here; runs held by a collection
service, named by URL, by :mod:`.remote` through the same API.
"""

from __future__ import annotations

import collections
import errno
import json
import logging
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from .backends.local import (
    _DIRECTORY_FLAGS,
    LATEST_LINK,
    PUSH_ITEMS_FILE,
    RUN_NAME_PATTERN,
    STAGING_NAME_PATTERN,
    UPLOAD_MARKER,
    _with_path,
    configured_directory,
)
from .schema import SUCCESSFUL_STATES

LOG = logging.getLogger("pushcollector")

_RUN_NAME = re.compile(RUN_NAME_PATTERN)

# The one kind of file the local backend keeps in a run that nobody
# attached: the staging file of an attach, in the directory of the file
# attached, left if the process died before renaming it over that file.
# Its name is fixed apart from 32 random hex digits and holds no part of a
# name given by the caller, so no attachment is taken for one unless named
# exactly like one.
_STAGING_FILE = re.compile(STAGING_NAME_PATTERN)

# How readers open a file. O_NONBLOCK, so that a FIFO cannot keep open()
# waiting for a writer: it is refused once open. O_NOFOLLOW, so that a link
# planted in its place is not followed. O_NOCTTY, so that a terminal planted
# there cannot become the controlling terminal of the process.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC

# What readers say of a file they refuse, by its type, with the errno.
_REFUSALS = {
    stat.S_IFLNK: (errno.ELOOP, "a symbolic link, which is not followed"),
    stat.S_IFIFO: (errno.EINVAL, "a FIFO, not a regular file"),
    stat.S_IFSOCK: (errno.EINVAL, "a socket, not a regular file"),
    stat.S_IFCHR: (errno.EINVAL, "a device, not a regular file"),
    stat.S_IFBLK: (errno.EINVAL, "a device, not a regular file"),
}

# json.loads less its checks of the argument's type and of a BOM, which
# decoding rejects anyway: a tenth faster over a million lines.
_decode_json = json.JSONDecoder().decode

FinalState = collections.namedtuple("FinalState", "filename dest state")
FinalState.__doc__ = """The state a push item ended in: ``(filename, dest, state)``.

``dest`` is None for an item recorded without a destination.

.. versionadded:: 1.4.0
"""


class NotARunError(ValueError):
    """A path that exists but holds no run of the ``local`` backend.

    .. versionadded:: 1.4.0
    """


class BadLine:
    """A line of ``pushitems.jsonl`` that holds no push item record.

    Such lines are skipped, never fatal, whatever bytes they hold. The usual
    one is a torn last line, left by a push that was killed while writing
    it.

    Attributes:
        line_number (int): where the line is, counting from 1.
        reason (str): what is wrong with it.

    .. versionadded:: 1.4.0
    """

    __slots__ = ("line_number", "reason")

    def __init__(self, line_number: int, reason: str):
        self.line_number = line_number
        self.reason = reason

    def __repr__(self):
        return "BadLine(%d, %r)" % (self.line_number, self.reason)

    def __eq__(self, other):
        if not isinstance(other, BadLine):
            return NotImplemented
        return (self.line_number, self.reason) == (other.line_number, other.reason)


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
            fd = _open_regular_file(self.items_path)
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
        return sorted(_regular_files_under(self.directory))

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


class RunSummary:
    """What a run recorded, reduced to the final state of each push item.

    Attributes:
        run (Run): the run summarised.
        record_count (int): how many push item records were read.
        final_states (dict[tuple[str, str | None], str]): the final state of
            each push item by ``(filename, dest)``, in the order the items
            were first recorded.
        bad_lines (list[BadLine]): the lines skipped, in file order.

    .. versionadded:: 1.4.0
    """

    def __init__(self, run, record_count, final_states, bad_lines):
        self.run = run
        self.record_count = record_count
        self.final_states = final_states
        self.bad_lines = bad_lines

    def __repr__(self):
        return "<RunSummary of %r: %d records, %d push items>" % (
            self.run,
            self.record_count,
            len(self.final_states),
        )

    def state_counts(self) -> dict[str, int]:
        """How many push items ended in each state, most frequent first."""
        counts = collections.Counter(self.final_states.values())
        return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))

    def unsuccessful(self) -> list[FinalState]:
        """The push items whose final state is not a successful state."""
        return self._items_where(lambda state: state not in SUCCESSFUL_STATES)

    def unfinished(self) -> list[FinalState]:
        """The push items left ``PENDING`` when the run ended."""
        return self._items_where(lambda state: state == "PENDING")

    def _items_where(self, wanted):
        return [
            FinalState(filename, dest, state)
            for (filename, dest), state in self.final_states.items()
            if wanted(state)
        ]

    def passed(
        self, allow_pending: bool = False, allow_bad_lines: bool = False
    ) -> bool:
        """Whether every push item is known to have ended successfully.

        This is the verdict of ``pushcollector summary``, whose options
        ``--allow-pending`` and ``--allow-bad-lines`` are these arguments.

        Args:
            allow_pending: whether an item still ``PENDING`` counts as
                successful. By default it does not: the push did not finish
                with it.
            allow_bad_lines: whether the run may pass with lines skipped
                (see :attr:`bad_lines`). By default it may not: a skipped
                line may have held the last record of an item, so that
                item's final state is unknown.

        A run with no push items and no bad lines passes.

        .. versionchanged:: 1.5.0
            Added ``allow_bad_lines``: bad lines fail the run by default.
        """
        return verdict(
            self.state_counts(), len(self.bad_lines), allow_pending, allow_bad_lines
        )


def records_of_lines(
    lines: Iterable[str], report: Callable[[BadLine], object]
) -> Iterator[dict]:
    """The push item records of lines in the format of ``pushitems.jsonl``.

    Each line is a str as read in text mode with ``errors="surrogateescape"``
    (its newline kept or not); a line that is not a record is reported as
    a :class:`BadLine` numbered from 1, and skipped.
    """
    loads = _decode_json
    for line_number, line in enumerate(lines, 1):
        try:
            record = loads(line)
        except (ValueError, RecursionError) as error:
            report(BadLine(line_number, _decoding_problem(error, line)))
            continue
        if not line.isascii() and not _is_utf8(line):
            report(BadLine(line_number, "not UTF-8 text"))
        elif (
            type(record) is dict
            and type(record.get("filename")) is str
            and type(record.get("state")) is str
            and type(record.get("dest")) in (str, type(None))
        ):
            yield record
        else:
            report(BadLine(line_number, _record_problem(record)))


def verdict(
    state_counts: Mapping[str, int],
    bad_line_count: int = 0,
    allow_pending: bool = False,
    allow_bad_lines: bool = False,
) -> bool:
    """Whether a run passes, from how many of its items ended in each state.

    The one definition of the verdict, whatever holds the run: see
    :meth:`RunSummary.passed` for what the arguments mean.
    """
    if bad_line_count and not allow_bad_lines:
        return False
    for state, count in state_counts.items():
        if count and (
            state not in SUCCESSFUL_STATES or (state == "PENDING" and not allow_pending)
        ):
            return False
    return True


def summary_document(
    run_name: str,
    location: Mapping[str, object],
    latest: bool,
    record_count: int,
    state_counts: Mapping[str, int],
    unsuccessful: Sequence[FinalState],
    unfinished: Sequence[FinalState],
    bad_lines: Sequence[BadLine],
    allow_pending: bool,
    allow_bad_lines: bool,
) -> dict:
    """What ``pushcollector summary --json`` prints of a run.

    Args:
        location: where the run is held, as the document names it: for a
            local run ``directory`` and ``items_file``.
    """
    document = {"run": run_name}
    document.update(location)
    document.update(
        {
            "latest": latest,
            "records": record_count,
            "push_items": sum(state_counts.values()),
            "states": dict(state_counts),
            "unsuccessful": [FinalState(*item)._asdict() for item in unsuccessful],
            "unfinished": [FinalState(*item)._asdict() for item in unfinished],
            "bad_lines": [
                {"line": bad.line_number, "reason": bad.reason} for bad in bad_lines
            ],
            "allow_pending": allow_pending,
            "allow_bad_lines": allow_bad_lines,
            # Deprecated: what --strict used to mean, now the default.
            "strict": not allow_bad_lines,
            "passed": verdict(
                state_counts, len(bad_lines), allow_pending, allow_bad_lines
            ),
        }
    )
    return document


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


def _open_regular_file(path):
    """A descriptor of path open for reading, if it is a regular file.

    Raises:
        OSError: naming path, if it cannot be opened or is anything else.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as error:
        # A link (with O_NOFOLLOW) and a socket cannot be opened at all: say
        # what they are rather than "Too many levels of symbolic links" or
        # "No such device or address".
        refusal = _refusal(path, _lstat_mode(path))
        if refusal is None:
            raise
        raise refusal from error
    return regular_file_opened(fd, path)


def regular_file_opened(fd: int, path: str) -> int:
    """The descriptor of a file opened with ``_READ_FLAGS``, made blocking,
    if it is a regular file; else it is closed and the refusal naming path
    raised."""
    try:
        refusal = _refusal(path, os.fstat(fd).st_mode)
        if refusal is not None:
            raise refusal
        # Only open() had to return at once; reads of a file never wait.
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refusal(path, mode):
    """The error for reading path of this mode; None for a regular file."""
    if mode is None or stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    number, description = _REFUSALS.get(
        stat.S_IFMT(mode), (errno.EINVAL, "not a regular file")
    )
    return OSError(number, description, path)


def _lstat_mode(path):
    """The file mode of path, not following a link; None if it has none."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def _regular_files_under(directory):
    """The names of the regular files under directory, relative to it.

    Each directory is opened relative to its parent's descriptor, never by
    a path: the local backend writes one name at a time too, so a run may
    hold paths longer than the kernel takes whole. The walk is a loop over a
    stack, not a recursion, so depth does not meet the recursion limit; and
    a directory's descriptor is closed as soon as its last subdirectory is
    open, so a chain of directories holds two at a time, not one per level.
    """
    names = []
    # Directories to read: the descriptor of the parent (None for the top),
    # the name in it, and the prefix of the names below it.
    to_read = [(None, directory, "")]
    # Each open descriptor, with its uses left: its own listing, and opening
    # each of its subdirectories still to read.
    uses = {}
    try:
        while to_read:
            parent_fd, name, prefix = to_read.pop()
            try:
                fd = os.open(name, _DIRECTORY_FLAGS, dir_fd=parent_fd)
                uses[fd] = 1
                if parent_fd is not None:
                    _release(uses, parent_fd)
                with os.scandir(fd) as entries:
                    for entry in entries:
                        # Types as the directory records them: nothing is
                        # followed or opened to learn them.
                        if entry.is_dir(follow_symlinks=False):
                            to_read.append((fd, entry.name, prefix + entry.name + "/"))
                            uses[fd] += 1
                        elif (
                            entry.is_file(follow_symlinks=False)
                            and (
                                prefix
                                or entry.name not in (PUSH_ITEMS_FILE, UPLOAD_MARKER)
                            )
                            and not _STAGING_FILE.fullmatch(entry.name)
                        ):
                            names.append(prefix + entry.name)
            except OSError as error:
                path = os.path.join(directory, prefix[:-1]) if prefix else directory
                raise _with_path(error, path) from error
            _release(uses, fd)
    finally:
        for fd in uses:
            os.close(fd)
    return names


def _release(uses, fd):
    """One use of fd fewer; close it after its last."""
    uses[fd] -= 1
    if not uses[fd]:
        del uses[fd]
        os.close(fd)


def _is_utf8(line):
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decoding_problem(error, line):
    if isinstance(error, RecursionError):
        problem = "not valid JSON (nested too deeply)"
    elif not line.strip():
        problem = "empty line"
    elif isinstance(error, json.JSONDecodeError):
        problem = "not valid JSON (%s, column %d)" % (error.msg, error.colno)
    else:
        # Valid JSON that the decoder cannot turn into Python: int() refuses
        # numbers of more digits than sys.get_int_max_str_digits(), a limit
        # the writing process may have lifted for itself. The message's
        # advice on lifting it is meant for programmers, not for readers.
        problem = "not readable JSON (%s)" % str(error).partition(":")[0]
    if not line.endswith("\n"):
        problem += " (the last line is incomplete: was the push interrupted?)"
    return problem


def _record_problem(record):
    if type(record) is not dict:
        return "not a push item: a JSON %s, not an object" % _json_type(record)
    for key in ("filename", "state"):
        if type(record.get(key)) is not str:
            return "not a push item: %r is %s, not a string" % (
                key,
                _json_type(record.get(key)) if key in record else "missing",
            )
    return "not a push item: 'dest' is %s, not a string or null" % _json_type(
        record["dest"]
    )


def _json_type(value):
    return {
        dict: "object",
        list: "array",
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        type(None): "null",
    }[type(value)]
