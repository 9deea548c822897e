"""Opening and walking files without following what an attacker planted.

A run directory, and any file a reader is pointed at, may hold symbolic
links, FIFOs, sockets or devices where files are expected. Readers open
nothing through a link, never wait on a FIFO, and read regular files only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def with_path(error, path):
    """The same kind of OSError, naming the full path of the file."""
    return type(error)(error.errno, error.strerror, path)


# How readers open a file. O_NONBLOCK, so that a FIFO cannot keep open()
# waiting for a writer: it is refused once open. O_NOFOLLOW, so that a link
# planted in its place is not followed. O_NOCTTY, so that a terminal planted
# there cannot become the controlling terminal of the process.
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


# What readers say of a file they refuse, by its type, with the errno.
_REFUSALS = {
    stat.S_IFLNK: (errno.ELOOP, "a symbolic link, which is not followed"),
    stat.S_IFIFO: (errno.EINVAL, "a FIFO, not a regular file"),
    stat.S_IFSOCK: (errno.EINVAL, "a socket, not a regular file"),
    stat.S_IFCHR: (errno.EINVAL, "a device, not a regular file"),
    stat.S_IFBLK: (errno.EINVAL, "a device, not a regular file"),
}


def open_regular_file(path):
    """A descriptor of path open for reading, if it is a regular file.

    Raises:
        OSError: naming path, if it cannot be opened or is anything else.
    """
    try:
        fd = os.open(path, READ_FLAGS)
    except OSError as error:
        # A link (with O_NOFOLLOW) and a socket cannot be opened at all: say
        # what they are rather than "Too many levels of symbolic links" or
        # "No such device or address".
        refusal = refusal_of(path, _lstat_mode(path))
        if refusal is None:
            raise
        raise refusal from error
    return regular_file_opened(fd, path)


def regular_file_opened(fd: int, path: str) -> int:
    """The descriptor of a file opened with ``READ_FLAGS``, made blocking,
    if it is a regular file; else it is closed and the refusal naming path
    raised."""
    try:
        refusal = refusal_of(path, os.fstat(fd).st_mode)
        if refusal is not None:
            raise refusal
        # Only open() had to return at once; reads of a file never wait.
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refusal_of(path, mode):
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


def regular_files_under(
    directory: str, is_wanted: Callable[[str, str], bool]
) -> list[str]:
    """The names of the regular files under directory, relative to it.

    Args:
        directory: the directory to walk.
        is_wanted: told the prefix of a file's directory (``""`` at the top,
            else ending in ``/``) and the file's name; whether to list it.

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
                fd = os.open(name, DIRECTORY_FLAGS, dir_fd=parent_fd)
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
                        elif entry.is_file(follow_symlinks=False) and is_wanted(
                            prefix, entry.name
                        ):
                            names.append(prefix + entry.name)
            except OSError as error:
                path = os.path.join(directory, prefix[:-1]) if prefix else directory
                raise with_path(error, path) from error
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


def open_file_under(directory, name):
    """A descriptor of a file of the run open for reading, if it is a
    regular file.

    Opened as the run's files are listed: one directory at a time, each
    relative to its parent, none of them through a link, and the file
    without following a link or waiting on a FIFO.

    Raises:
        OSError: naming the file's path, if it cannot be opened or is not a
            regular file.
    """
    path = os.path.join(directory, name)
    *folders, base = name.split("/")
    try:
        parent = os.open(directory, DIRECTORY_FLAGS)
        try:
            for folder in folders:
                child = os.open(folder, DIRECTORY_FLAGS, dir_fd=parent)
                os.close(parent)
                parent = child
            try:
                fd = os.open(base, READ_FLAGS, dir_fd=parent)
            except OSError as error:
                # Say what a link or a socket is rather than "Too many
                # levels of symbolic links" or "No such device or address".
                try:
                    mode = os.stat(base, dir_fd=parent, follow_symlinks=False)
                except OSError:
                    raise error from None
                refusal = refusal_of(path, mode.st_mode)
                if refusal is None:
                    raise
                raise refusal from None
        finally:
            os.close(parent)
    except OSError as error:
        if error.filename == path:
            raise
        raise with_path(error, path) from None
    return regular_file_opened(fd, path)
