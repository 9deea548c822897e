"""Files that are not regular files, planted where readers look."""

import contextlib
import os
import socket
import stat

import pytest

# The kinds make_special makes, and how readers describe each.
REFUSALS = {
    "fifo": "a FIFO, not a regular file",
    "socket": "a socket, not a regular file",
    "device": "a device, not a regular file",
    "symlink": "a symbolic link, which is not followed",
    "symlink to a fifo": "a symbolic link, which is not followed",
}


def make_special(path, kind):
    """Make path a file of one of the kinds of REFUSALS.

    A symlink points at a regular file holding a valid record, so that a
    reader following it would not notice.
    """
    path = os.fspath(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        # A socket's path is limited to about 100 bytes: bind a relative one.
        cwd = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            with contextlib.closing(socket.socket(socket.AF_UNIX)) as sock:
                sock.bind(os.path.basename(path))
        finally:
            os.chdir(cwd)
    elif kind == "device":
        try:
            # The same device as /dev/null.
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device file takes privileges")
    elif kind == "symlink":
        target = path + ".target"
        with open(target, "w") as file:
            file.write('{"filename": "elsewhere", "state": "PUSHED"}\n')
        os.symlink(target, path)
    else:
        assert kind == "symlink to a fifo"
        os.mkfifo(path + ".target")
        os.symlink(path + ".target", path)
