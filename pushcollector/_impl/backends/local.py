"""The ``local`` backend: one directory per run under an artifacts directory."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import logging
import os
import stat
import threading
import time

LOG = logging.getLogger("pushcollector")

ARTIFACTS_DIR_VARIABLE = "PUSHCOLLECTOR_ARTIFACTS_DIR"
DEFAULT_DIRECTORY = "artifacts"
PUSH_ITEMS_FILE = "pushitems.jsonl"
LATEST_LINK = "latest"
LOCK_FILE = ".pushcollector.lock"

# How run directories are named (see _make_unique_run_dir); 1.3.0 used the
# same timestamps, without the suffix.
RUN_NAME_PATTERN = r"[0-9]{14}(-[0-9]{6})?"

# Strict, though the facade refused values that are not JSON already: NaN
# and Infinity would be written as they are, and most parsers refuse them.
_encode_item = json.JSONEncoder(sort_keys=True, allow_nan=False).encode

# About a megabyte of typical push items per write.
_LINES_PER_CHUNK = 2048

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def configured_directory() -> str:
    """The artifacts directory the environment asks for, else the default."""
    return os.environ.get(ARTIFACTS_DIR_VARIABLE) or DEFAULT_DIRECTORY


class LocalCollector:
    """A backend writing each run to its own directory on the local disk.

    Registered as ``local``, the initial default backend, with ``directory``
    taken from the ``PUSHCOLLECTOR_ARTIFACTS_DIR`` environment variable when
    it is set.

    On its first write, the collector creates a run directory under
    ``directory`` named after the current local time, ``YYYYmmddHHMMSS``;
    should that name be taken (several collectors starting in the same
    second, in one process or many), it takes ``YYYYmmddHHMMSS-000001``,
    ``-000002`` and so on, so names always sort in creation order. It then
    points the ``latest`` symlink in ``directory`` at the new run.

    * Push items are appended to ``pushitems.jsonl`` in the run directory,
      one JSON object per line with sorted keys.
    * Attached files replace earlier content atomically; appended files are
      extended. Filenames may contain ``/``; missing subdirectories are
      created. Symbolic links inside the run directory are never followed.

    The first time it creates each file it logs ``Logging to <path>`` at INFO
    level on the ``pushcollector`` logger.

    Args:
        directory: the directory holding the run directories and ``latest``
            (created if needed). Defaults to ``artifacts`` in the current
            working directory; a relative path is taken relative to the
            current working directory at construction.

    .. versionchanged:: 1.4.0
        Added ``directory``; run directories are distinct for every
        collector and named at the first write, not at construction.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self._base_dir = os.path.abspath(
            DEFAULT_DIRECTORY if directory is None else os.fspath(directory)
        )
        self._run_dir = None
        # One call's writes must never interleave with another's.
        self._lock = threading.Lock()

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
        lines = list(map(_encode_item, items))
        self._append(PUSH_ITEMS_FILE, _joined_in_chunks(lines))

    def attach_file(self, filename, content):
        """Replace a file in the run directory atomically."""
        _refuse_reserved(filename)
        with self._writing(filename) as (dir_fd, name):
            existing = _lstat_mode(name, dir_fd)
            if existing is None:
                LOG.info("Logging to %s", self._path(filename))
            elif stat.S_ISLNK(existing):
                raise _symlink_refused(filename, name)
            # Write a hidden sibling and rename it over the file: readers and
            # a crash see the old content or the new, never a mix.
            staging = ".%s.tmp-%s" % (name, os.urandom(8).hex())
            fd = os.open(staging, _NEW_FILE_FLAGS, 0o666, dir_fd=dir_fd)
            try:
                _write_all(fd, [content])
                os.rename(staging, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(staging, dir_fd=dir_fd)
                raise

    def append_file(self, filename, content):
        """Append to a file in the run directory, creating it if needed."""
        _refuse_reserved(filename)
        self._append(filename, [content])

    def _append(self, filename, chunks):
        with self._writing(filename) as (dir_fd, name):
            try:
                fd = os.open(
                    name, _APPEND_FLAGS | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=dir_fd
                )
                LOG.info("Logging to %s", self._path(filename))
            except FileExistsError:
                fd = _open_no_follow(filename, name, _APPEND_FLAGS, dir_fd)
            _write_all(fd, chunks)

    def _path(self, filename):
        return os.path.join(self._run_dir, filename)

    @contextlib.contextmanager
    def _writing(self, filename):
        """Hold the lock; yield an fd of the file's directory and its basename.

        Directories are walked one component at a time without following
        symlinks, so nothing planted in the run directory can redirect a
        write outside it. OSErrors leave with the file's full path.
        """
        with self._lock:
            if self._run_dir is None:
                self._run_dir = self._claim_run_dir()
            *subdirs, name = filename.split("/")
            try:
                dir_fd = os.open(self._run_dir, _DIRECTORY_FLAGS)
                try:
                    for subdir in subdirs:
                        with contextlib.suppress(FileExistsError):
                            os.mkdir(subdir, dir_fd=dir_fd)
                        parent_fd = dir_fd
                        dir_fd = _open_no_follow(
                            filename, subdir, _DIRECTORY_FLAGS, parent_fd
                        )
                        os.close(parent_fd)
                    yield dir_fd, name
                finally:
                    os.close(dir_fd)
            except OSError as error:
                raise _with_path(error, self._path(filename)) from error

    def _claim_run_dir(self):
        """Create this collector's run directory and point ``latest`` at it."""
        os.makedirs(self._base_dir, exist_ok=True)
        lock_fd = os.open(
            os.path.join(self._base_dir, LOCK_FILE),
            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
            0o666,
        )
        try:
            # Collectors of all processes claim names and move "latest" one
            # at a time, so "latest" always ends on the newest run.
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            run_name = self._make_unique_run_dir()
            try:
                self._point_latest_at(run_name)
            except OSError:
                # No run that "latest" cannot point at is left behind.
                os.rmdir(os.path.join(self._base_dir, run_name))
                raise
        finally:
            os.close(lock_fd)
        return os.path.join(self._base_dir, run_name)

    def _make_unique_run_dir(self):
        stamp = time.strftime("%Y%m%d%H%M%S")
        for suffix in itertools.count():
            run_name = "%s-%06d" % (stamp, suffix) if suffix else stamp
            try:
                os.mkdir(os.path.join(self._base_dir, run_name))
                return run_name
            except FileExistsError:
                continue

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


def _open_no_follow(filename, component, flags, dir_fd):
    try:
        return os.open(component, flags, dir_fd=dir_fd)
    except OSError:
        if stat.S_ISLNK(_lstat_mode(component, dir_fd) or 0):
            raise _symlink_refused(filename, component) from None
        raise


def _symlink_refused(filename, component):
    return ValueError(
        "refusing filename %r: %r in the run directory is a symbolic link, "
        "which could lead outside it" % (filename, component)
    )


def _lstat_mode(name, dir_fd):
    """The file mode of name, not following a symlink; None if absent."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None


def _write_all(fd, chunks):
    """Write every chunk to fd, hand it to the OS and close fd."""
    with open(fd, "wb", closefd=True) as file:
        for chunk in chunks:
            file.write(chunk)


def _with_path(error, path):
    """The same kind of OSError, naming the full path of the file."""
    return type(error)(error.errno, error.strerror, path)


def _joined_in_chunks(lines):
    """Newline-terminated ASCII bytes of the lines, a bounded chunk at a time.

    Joining a whole batch at once would hold a second full copy of it in
    memory; chunks keep that copy small whatever the batch size.
    """
    for start in range(0, len(lines), _LINES_PER_CHUNK):
        chunk = lines[start : start + _LINES_PER_CHUNK]
        chunk.append("")
        yield "\n".join(chunk).encode("ascii")
