"""The ``local`` backend: one directory per run under an artifacts directory."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import logging
import os
import re
import stat
import threading
import time

from ..environment import ARTIFACTS_DIR
from ..process_run import current_run
from ..records import encode_push_item
from ..safefs import DIRECTORY_FLAGS, with_path

LOG = logging.getLogger("pushcollector")

PUSH_ITEMS_FILE = "pushitems.jsonl"
LATEST_LINK = "latest"
LOCK_FILE = ".pushcollector.lock"

# How run directories are named (see _make_run_dir); 1.3.0 used the same
# timestamps, without the suffix.
RUN_NAME_PATTERN = r"[0-9]{14}(-[0-9]{6})?"
_RUN_NAME = re.compile(RUN_NAME_PATTERN)

# Files being attached are written under such a name beside their final
# name, then renamed; readers skip them. Fixed length, whatever the final
# name's length, so any name that fits the filesystem can be attached.
STAGING_PREFIX = ".pushcollector-tmp-"
STAGING_NAME_PATTERN = re.escape(STAGING_PREFIX) + r"[0-9a-f]{32}"
_STAGING_NAME = re.compile(STAGING_NAME_PATTERN)

# Where ``pushcollector upload`` keeps, at the top of a run directory, the
# run id the run was uploaded under: not a file the run recorded.
UPLOAD_MARKER = ".pushcollector-upload"


# About a megabyte of typical push items per write.
_LINES_PER_CHUNK = 2048

# Non-blocking, so that opening a FIFO planted under a file's name fails or
# returns at once instead of waiting for a reader; what was opened is then
# checked to be a regular file.
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | _OPEN_FLAGS
# Push items are read too: the last byte tells whether the file ends with a
# partial line.
_APPEND_ITEMS_FLAGS = os.O_RDWR | os.O_APPEND | _OPEN_FLAGS
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS

# Held while any file of this module is open, and taken before fork(): a
# child process must never inherit an open file holding a lock, which would
# keep the lock held for as long as the child lives.
_files_open = threading.Lock()
os.register_at_fork(
    before=_files_open.acquire,
    after_in_parent=_files_open.release,
    after_in_child=_files_open.release,
)


def configured_directory() -> str:
    """The artifacts directory the environment asks for, else the default."""
    return ARTIFACTS_DIR.get()


class LocalCollector:
    """A backend writing each run to its own directory on the local disk.

    Registered as ``local``, the initial default backend, with ``directory``
    taken from the ``PUSHCOLLECTOR_ARTIFACTS_DIR`` environment variable when
    it is set.

    All collectors that one process makes for the same ``directory`` record
    into one run directory, created at the first write of any of them: a
    push is one run, however many times its libraries call
    :meth:`Collector.get`. Another process gets a run of its own; a child
    forked after the run began records into it. Call
    :meth:`Collector.new_run` to start a new run in the same process.

    A run directory is named after the local time it was created at,
    ``YYYYmmddHHMMSS`` (see :meth:`timestamp`); should that name be taken,
    it is ``YYYYmmddHHMMSS-000001``, ``-000002`` and so on, and never sorts
    before an existing run, even after the clock was set back. The
    ``latest`` symlink in ``directory`` is then pointed at the new run.

    * Push items are appended to ``pushitems.jsonl`` in the run directory,
      one JSON object per line with sorted keys. Each call's lines are
      written together, never mixed with another call's, also across
      processes; a partial line left by a write that failed (a full disk, a
      killed process) is ended first, so later records stay readable.
    * Attached files replace earlier content atomically; appended files are
      extended. Filenames may contain ``/``; missing subdirectories are
      created. Symbolic links inside the run directory are never followed,
      and nothing but a regular file with a single link is ever written to.

    The first time it creates each file it logs ``Logging to <path>`` at INFO
    level on the ``pushcollector`` logger.

    Args:
        directory: the directory holding the run directories and ``latest``
            (created if needed). Defaults to ``artifacts`` in the current
            working directory; a relative path is taken relative to the
            current working directory at construction.

    .. versionchanged:: 1.4.0
        Added ``directory``.

    .. versionchanged:: 1.5.0
        One run per process and directory, rather than per collector.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self._base_dir = os.path.abspath(
            ARTIFACTS_DIR.default if directory is None else os.fspath(directory)
        )
        self._run = current_run()
        self._run_dir = None

    @classmethod
    def from_environment(cls) -> "LocalCollector":
        """The collector ``PUSHCOLLECTOR_ARTIFACTS_DIR`` configures: the
        ``local`` backend.

        .. versionadded:: 1.6.0
        """
        return cls(directory=configured_directory())

    def __repr__(self):
        return "LocalCollector(directory=%r, run_dir=%r)" % (
            self._base_dir,
            self._run_dir,
        )

    @property
    def directory(self) -> str:
        """The absolute path of the directory holding the runs."""
        return self._base_dir

    @property
    def run_dir(self) -> str | None:
        """The absolute path of this collector's run, or None before any write."""
        return self._run_dir

    @classmethod
    def timestamp(cls) -> str:
        """The name of a run directory created now: the local time.

        Called when a run directory is created. Override it (or patch it, as
        tests of 1.3.0 did) to name runs differently; a name that is not 14
        digits is used as it is, with a suffix if it is taken.

        Returns:
            str: ``YYYYmmddHHMMSS``.
        """
        return time.strftime("%Y%m%d%H%M%S")

    def update_push_items(self, items):
        """Append push items to ``pushitems.jsonl``, one JSON line each.

        Items holding values that are not JSON are refused before this, by
        the collector :meth:`Collector.get` returns.

        Raises:
            TypeError, ValueError: if an item holds a value that cannot be
                encoded as JSON, NaN or Infinity included, when called
                directly. Nothing from the call is written.
        """
        # Encode everything before writing anything: an item that cannot be
        # encoded must leave the file untouched.
        lines = list(map(encode_push_item, items))
        self._append(PUSH_ITEMS_FILE, _joined_in_chunks(lines), whole_lines=True)

    def attach_file(self, filename, content):
        """Replace a file in the run directory atomically."""
        _refuse_reserved(filename)
        with self._writing(filename) as (dir_fd, name):
            existing = _lstat_mode(name, dir_fd)
            if existing is None:
                LOG.info("Logging to %s", self._path(filename))
            elif stat.S_ISLNK(existing):
                raise _refused(filename, name, "is a symbolic link")
            # Write a hidden sibling and rename it over the file: readers and
            # a crash see the old content or the new, never a mix.
            staging = STAGING_PREFIX + os.urandom(16).hex()
            fd = os.open(staging, _NEW_FILE_FLAGS, 0o666, dir_fd=dir_fd)
            try:
                with open(fd, "wb") as file:
                    file.write(content)
                os.rename(staging, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(staging, dir_fd=dir_fd)
                raise

    def append_file(self, filename, content):
        """Append to a file in the run directory, creating it if needed."""
        _refuse_reserved(filename)
        self._append(filename, [content], whole_lines=False)

    def _append(self, filename, chunks, whole_lines):
        flags = _APPEND_ITEMS_FLAGS if whole_lines else _APPEND_FLAGS
        with self._writing(filename) as (dir_fd, name):
            try:
                fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=dir_fd)
                LOG.info("Logging to %s", self._path(filename))
            except FileExistsError:
                fd = _open_existing(filename, name, flags, dir_fd)
            with open(fd, "wb") as file:
                # Other processes may append to the same file: a forked child
                # sharing the run, or sharing this collector.
                fcntl.flock(fd, fcntl.LOCK_EX)
                if whole_lines:
                    _end_partial_line(fd)
                for chunk in chunks:
                    file.write(chunk)

    def _path(self, filename):
        return os.path.join(self._run_dir or self._base_dir, filename)

    @contextlib.contextmanager
    def _writing(self, filename):
        """Yield an fd of the file's directory and its basename.

        Directories are walked one component at a time without following
        symlinks, so nothing planted in the run directory can redirect a
        write outside it. OSErrors leave with the file's full path.
        """
        *subdirs, name = filename.split("/")
        with _files_open:
            # Failing to claim a run names the path that failed itself.
            dir_fd = self._open_run_dir()
            try:
                for subdir in subdirs:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(subdir, dir_fd=dir_fd)
                    parent_fd = dir_fd
                    dir_fd = _open_existing(
                        filename, subdir, DIRECTORY_FLAGS, parent_fd
                    )
                    os.close(parent_fd)
                yield dir_fd, name
            except OSError as error:
                raise with_path(error, self._path(filename)) from error
            finally:
                os.close(dir_fd)

    def _open_run_dir(self):
        """An fd of the run directory, claimed on the first write of the run.

        A run directory removed meanwhile (say, by a test cleaning up between
        two pushes) is replaced by a new run rather than failing every write.
        """
        if self._run_dir is None:
            self._run_dir = self._join_run()
        try:
            return os.open(self._run_dir, DIRECTORY_FLAGS)
        except FileNotFoundError:
            self._run.forget_local_run_dir(self._run_key(), self._run_dir)
            self._run_dir = self._join_run()
            return os.open(self._run_dir, DIRECTORY_FLAGS)

    def _join_run(self):
        os.makedirs(self._base_dir, exist_ok=True)
        return self._run.local_run_dir(self._run_key(), self._claim_run_dir)

    def _run_key(self):
        # Collectors naming one directory differently still share a run.
        return os.path.realpath(self._base_dir)

    def _claim_run_dir(self):
        """Create a run directory and point ``latest`` at it."""
        lock_fd = _open_lock_file(os.path.join(self._base_dir, LOCK_FILE))
        try:
            # Collectors of all processes claim names and move "latest" one
            # at a time, so "latest" always ends on the newest run.
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            run_name = self._make_run_dir()
            try:
                self._point_latest_at(run_name)
            except OSError:
                # No run that "latest" cannot point at is left behind.
                os.rmdir(os.path.join(self._base_dir, run_name))
                raise
        finally:
            os.close(lock_fd)
        return os.path.join(self._base_dir, run_name)

    def _make_run_dir(self):
        stamp, first_suffix = self.timestamp(), 0
        newest = self._newest_run_name()
        if newest is not None and _RUN_NAME.fullmatch(stamp) and stamp <= newest[:14]:
            # The clock is behind the newest run (set back, or a run started
            # this second already): continue after it, so that names keep
            # sorting in the order runs were created.
            stamp, first_suffix = newest[:14], int(newest[15:] or 0) + 1
        for suffix in itertools.count(first_suffix):
            run_name = "%s-%06d" % (stamp, suffix) if suffix else stamp
            try:
                os.mkdir(os.path.join(self._base_dir, run_name))
                return run_name
            except FileExistsError:
                continue

    def _newest_run_name(self):
        """The run ``latest`` points at, if named like a run; runs are claimed
        one at a time, so it is the newest."""
        try:
            target = os.readlink(os.path.join(self._base_dir, LATEST_LINK))
        except OSError:
            return None
        return target if _RUN_NAME.fullmatch(target) else None

    def _point_latest_at(self, run_name):
        # Make the new link beside the old one and rename it over: readers
        # always find a "latest", old or new, never none.
        latest = os.path.join(self._base_dir, LATEST_LINK)
        staging = "%s.tmp-%s" % (latest, os.urandom(8).hex())
        os.symlink(run_name, staging)
        try:
            os.replace(staging, latest)
        except OSError:
            os.unlink(staging)
            raise


def _refuse_reserved(filename):
    # In any case: on a case-insensitive filesystem (macOS, Windows)
    # "PUSHITEMS.JSONL" is the same file; casefold() also maps the long s
    # (U+017F) to "s". As a directory too: "pushitems.jsonl/x" would make
    # one, and every later update_push_items() fail.
    top = filename.split("/", 1)[0]
    if top.casefold() == PUSH_ITEMS_FILE:
        raise ValueError(
            "refusing filename %r: %r is reserved for push items, "
            "use update_push_items()" % (filename, top)
        )
    if top.casefold() == UPLOAD_MARKER:
        raise ValueError(
            "refusing filename %r: %r is reserved for pushcollector upload"
            % (filename, top)
        )
    if _STAGING_NAME.fullmatch(filename.rpartition("/")[2]):
        raise ValueError(
            "refusing filename %r: names like %s<32 hex digits> are reserved "
            "for files being attached" % (filename, STAGING_PREFIX)
        )


def _open_lock_file(path):
    """The lock file, opened for reading: flock needs no more, and another
    user may share the artifacts directory without write access to it."""
    flags = os.O_RDONLY | os.O_CREAT | _OPEN_FLAGS
    fd = os.open(path, flags, 0o666)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError("refusing to use %s as a lock: not a regular file" % path)
    return fd


def _open_existing(filename, component, flags, dir_fd):
    """Open a file or directory that exists, refusing anything unexpected.

    A symbolic link could lead outside the run; a FIFO or device is not a
    file the backend wrote; a file with another hard link would be written
    through to wherever that link is.
    """
    try:
        fd = os.open(component, flags, dir_fd=dir_fd)
    except OSError as error:
        mode = _lstat_mode(component, dir_fd) or 0
        if stat.S_ISLNK(mode):
            raise _refused(filename, component, "is a symbolic link") from None
        if error.errno == errno.ENXIO or stat.S_ISFIFO(mode):
            raise _refused(filename, component, "is not a regular file") from None
        raise
    if flags & os.O_DIRECTORY:
        return fd
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        problem = "is not a regular file"
    elif status.st_nlink != 1:
        problem = "has other hard links, which could lead outside it"
    else:
        return fd
    os.close(fd)
    raise _refused(filename, component, problem)


def _refused(filename, component, problem):
    return ValueError(
        "refusing filename %r: %r in the run directory %s"
        % (filename, component, problem)
    )


def _end_partial_line(fd):
    """End a partial last line, left by a write that stopped part-way, so the
    next record starts on a line of its own."""
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.write(fd, b"\n")


def _lstat_mode(name, dir_fd):
    """The file mode of name, not following a symlink; None if absent."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None


def _joined_in_chunks(lines):
    """Newline-terminated ASCII bytes of the lines, a bounded chunk at a time.

    Joining a whole batch at once would hold a second full copy of it in
    memory; chunks keep that copy small whatever the batch size.
    """
    for start in range(0, len(lines), _LINES_PER_CHUNK):
        chunk = lines[start : start + _LINES_PER_CHUNK]
        chunk.append("")
        yield "\n".join(chunk).encode("ascii")
