"""The store: the database of runs, on PostgreSQL or SQLite.

The service, the ``sql`` backend and the service's reading go through it
alone; no SQL lives anywhere else. It is not part of the server: a host
writing with the ``sql`` backend runs no server. Needs the ``server`` extra
(SQLAlchemy Core, Alembic, psycopg 3).

- ``tables``: the tables, as the latest migration leaves them.
- ``engine``: database URLs, and the engine of each, with its pool and the
  set-up of its connections.
- ``queries``: :class:`Store`, every read and write of runs.
- ``migrations/``: the Alembic scripts that create and migrate the tables.

This module imports none of them until one of its names is used.
"""

from ..lazy import lazy_attributes

_LAZY_NAMES = {
    "DEFAULT_DATABASE_URL": ".engine",
    "Limits": ".engine",
    "configured_database_url": ".engine",
    "database_url": ".engine",
    "ITEM_SORT_KEYS": ".queries",
    "DatabaseError": ".queries",
    "KeyReused": ".queries",
    "Store": ".queries",
    "error_summary": ".queries",
}

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY_NAMES)
