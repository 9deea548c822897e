"""Finding the runs of the ``local`` backend: in an artifacts directory,
a run directory or a push items file.

:mod:`.dispatch` hands here whatever is not the URL of a service.
"""

from __future__ import annotations

import errno
import os
import re

from ..backends.local import (
    LATEST_LINK,
    PUSH_ITEMS_FILE,
    RUN_NAME_PATTERN,
    configured_directory,
)
from .run import NotARunError, Run

_RUN_NAME = re.compile(RUN_NAME_PATTERN)


def open_local_run(path: str | os.PathLike | None = None) -> Run:
    """The run of the ``local`` backend that a path names.

    See :func:`~.dispatch.open_run` for what the path may be, what is
    opened and what is raised.
    """
    path = path_or_artifacts_directory(path)
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


def list_local_runs(base: str | os.PathLike | None = None) -> list[Run]:
    """The runs of the ``local`` backend in an artifacts directory, newest
    first: see :func:`~.dispatch.list_runs`."""
    base = path_or_artifacts_directory(base)
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


def path_or_artifacts_directory(path: str | os.PathLike | None = None) -> str:
    """The absolute path of a path given, or by default of the artifacts
    directory the ``local`` backend would use."""
    return os.path.abspath(configured_directory() if path is None else path)


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
