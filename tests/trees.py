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
