"""Directory trees deeper than the recursion limit, and removing them."""

import os
import shutil


def remove_deep_tree(top):
    """Remove top and everything under it, however deep.

    shutil.rmtree, and so pytest's removal of old temporary directories,
    recurses once per level (before Python 3.12 or so) and fails on such a
    tree: every directory is first renamed to be a child of top.
    """
    to_flatten = [os.fspath(top)]
    lifted = 0
    while to_flatten:
        directory = to_flatten.pop()
        with os.scandir(directory) as scan:
            subdirectories = [e.path for e in scan if e.is_dir(follow_symlinks=False)]
        for path in subdirectories:
            lifted += 1
            new_path = os.path.join(top, ".lifted-%d" % lifted)
            os.rename(path, new_path)
            to_flatten.append(new_path)
    shutil.rmtree(top)


def write_file(directory, name, data):
    """Write data to name under directory, making directories as needed.

    One component at a time, relative to its parent's descriptor, so that
    names longer than the kernel takes as a path can be written: as a writer
    other than this version of pushcollector might have.
    """
    *parents, leaf = name.split("/")
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for parent in parents:
            try:
                os.mkdir(parent, dir_fd=fd)
            except FileExistsError:
                pass
            child = os.open(parent, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        file_fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, dir_fd=fd)
        with open(file_fd, "wb") as stream:
            stream.write(data)
    finally:
        os.close(fd)
