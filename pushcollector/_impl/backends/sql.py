"""The ``sql`` backend: records written straight into the service's database."""

from __future__ import annotations

from ..process_run import current_run
from ..environment import DATABASE_URL


class SqlCollector:
    """A backend writing into the database of ``pushcollector serve``.

    Registered as ``sql``, on the database of ``PUSHCOLLECTOR_DATABASE_URL``.
    For hosts that may reach the database: the records land in the same
    tables as those the service receives, and read back the same. Each call
    is one transaction, committed before it returns: a call's push items
    are stored all or none. A call whose transaction fails (the database
    unreachable, say) raises SQLAlchemy's exception from the call, with
    nothing of it stored; it is not retried.

    As with the other backends, the collectors of one process record into
    one run, named like the ``http`` backend's runs (see
    :meth:`Collector.new_run() <pushcollector.Collector.new_run>`).

    Needs ``pip install "pushcollector[server]"``. The schema is created in
    an empty database; a database of an older schema is refused until
    ``pushcollector db upgrade`` migrates it.

    Args:
        url: the database, ``postgresql://user:password@host:port/dbname``
            or ``sqlite:///path/to.db``; by default
            ``PUSHCOLLECTOR_DATABASE_URL``.

    Attributes:
        run_id (str): the run the collector records into.

    Raises:
        ValueError: if no database is named, or the URL is not one of these.
        ImportError: if the server extra is not installed.
        RuntimeError: if the schema of the database is not this version's.

    .. versionadded:: 1.6.0
    """

    def __init__(self, url: str | None = None):
        url = url or DATABASE_URL.get()
        if not url:
            raise ValueError(
                "the sql backend needs a database: set the environment variable"
                " %s to postgresql://user:password@host:port/dbname or"
                " sqlite:///path/to.db" % DATABASE_URL.name
            )
        try:
            from ..store import DatabaseError, Store
        except ImportError as error:
            raise ImportError(
                "the sql backend needs the server extra: pip install"
                " 'pushcollector[server]' (%s)" % error
            ) from error
        self._store = Store(url)
        try:
            self._store.check_schema(create=True)
        except DatabaseError as error:
            raise RuntimeError(str(error)) from None
        self.run_id = current_run().run_id

    @classmethod
    def from_environment(cls) -> "SqlCollector":
        """The collector ``PUSHCOLLECTOR_DATABASE_URL`` configures: the
        ``sql`` backend.

        Raises:
            ValueError, ImportError, RuntimeError: as the constructor does.
        """
        return cls()

    def __repr__(self):
        return "SqlCollector(%r, run_id=%r)" % (
            self._store.url.render_as_string(hide_password=True),
            self.run_id,
        )

    def update_push_items(self, items):
        """Append the push items to the run, in one transaction."""
        self._store.add_push_items(self.run_id, items)

    def attach_file(self, filename, content):
        """Create or replace a file of the run."""
        self._store.put_file(self.run_id, filename, content)

    def append_file(self, filename, content):
        """Append to a file of the run, creating it if needed."""
        self._store.append_file(self.run_id, filename, content)
