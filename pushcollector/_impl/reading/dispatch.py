"""Where a run is read from: :func:`open_run` and :func:`list_runs` hand
the URL of a collection service to :mod:`.remote`, anything else to
:mod:`.local`.

The dispatch sits above both readers, which never import it; above it,
nothing asks where a run lives.
"""

from __future__ import annotations

import os

from .local import list_local_runs, open_local_run, path_or_artifacts_directory
from .run import Run


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
        # Imported for a URL only: reading a local run loads nothing of the
        # service's client.
        from .remote import open_remote_run

        return open_remote_run(path)
    return open_local_run(path)


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
    return list_local_runs(base)


def listed_base(base: str | os.PathLike | None = None) -> str:
    """What :func:`list_runs` lists given ``base``: the URL of the service as
    given, or the absolute path of the artifacts directory."""
    if is_service_url(base):
        return base
    return path_or_artifacts_directory(base)


def is_service_url(path: object) -> bool:
    """Whether a path given to the reading API is the URL of a service."""
    return isinstance(path, str) and path[:8].lower().startswith(
        ("http://", "https://")
    )
