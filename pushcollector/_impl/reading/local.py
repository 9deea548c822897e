"""Finding the runs of the ``local`` backend: in an artifacts directory,
a run directory or a push items file.

:func:`open_run` and :func:`list_runs` hand URLs to :mod:`.remote`, which
reads runs held by a collection service through the same API.
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
