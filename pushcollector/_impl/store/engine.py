"""The engine of a store: database URLs, drivers and connection set-up.

One engine per database in a process: its pool, the pragmas of each SQLite
connection, what each PostgreSQL connection is given, and a fresh pool in a
forked child.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import math
import os
import threading
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..environment import DATABASE_URL

#: The database ``pushcollector serve`` uses when none is named.
DEFAULT_DATABASE_URL = "sqlite:///pushcollector.db"


def database_url(text: str) -> URL:
    """The SQLAlchemy URL of a database URL as users write it.

    ``postgresql://user:password@host:port/dbname`` (or ``postgres://``)
    is connected to with psycopg 3; ``sqlite:///path/to.db`` is a file,
    relative to the working directory (``sqlite:////abs/path.db`` for an
    absolute path).

    Raises:
        ValueError: for a URL that is not one of these, naming it without
            its password.
    """
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise ValueError(
            "invalid database URL %r: expected postgresql://user:password@host"
            ":port/dbname or sqlite:///path/to.db" % _without_password(text)
        ) from None
    if url.host and "@" in url.host:
        # Taken for part of the host, the rest of the password would be
        # shown wherever the URL is.
        raise ValueError(
            "invalid database URL %r: an '@' in the user or password must be"
            " written %%40" % _without_password(text)
        )
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            "unsupported database %r in %s: use postgresql://... or sqlite:///..."
            % (url.drivername, url.render_as_string(hide_password=True))
        )
    if driver == "sqlite" and (url.username or url.password or url.host or url.port):
        raise ValueError(
            "invalid database URL %r: a SQLite database is a file, named"
            " without user, password or host: write sqlite:///path/to.db"
            % _without_password(text)
        )
    if driver == "sqlite" and url.database in (None, "", ":memory:"):
        raise ValueError(
            "database URL %r names no file: an in-memory SQLite database"
            " would be lost; write sqlite:///path/to.db" % _without_password(text)
        )
    return url.set(drivername=driver)


# The drivers of URLs as users write them, and those the package installs.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}


def _without_password(text):
    """A URL as written, with all that may be its password replaced by
    ``***``: from the first ``:`` of what comes before its last ``@``
    (an unencoded ``@`` may be part of the password), after the scheme if
    there is one."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    credentials, at, host = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    if not colon:
        return text
    return "%s%s%s:***@%s" % (scheme, separator, user, host)


def configured_database_url(default: str | None = None) -> str:
    """``PUSHCOLLECTOR_DATABASE_URL``, else the default.

    Raises:
        ValueError: if the variable is unset or empty and there is no default.
    """
    url = DATABASE_URL.get() or default
    if not url:
        raise ValueError(
            "no database: set %s to postgresql://user:password@host:port/dbname"
            " or sqlite:///path/to.db" % DATABASE_URL.name
        )
    return url


#: How long a call waits for the database by default, in seconds: for a
#: connection (from the pool, or a new one to PostgreSQL) and, on SQLite,
#: for the write lock another process holds (see :class:`Limits`).
DEFAULT_WAIT = 60.0


class Limits(
    collections.namedtuple(
        "Limits", "wait statement_timeout", defaults=(DEFAULT_WAIT, None)
    )
):
    """How long a store's calls wait for their database, in seconds.

    Attributes:
        wait (float): for a connection from the pool, and for a new
            connection to PostgreSQL (rounded up to whole seconds); then
            the call fails.
        statement_timeout (float | None): on PostgreSQL, the longest a
            statement may run, waiting for locks included (set by ``SET``
            on each new connection, which works through a pooler too); on
            SQLite, the longest a write waits for the write lock another
            process holds. None for no limit on PostgreSQL, and ``wait``
            on SQLite.
    """

    __slots__ = ()


#: The two engines of a database: reads never wait for a connection that
#: writes hold (on SQLite, writers waiting for the write lock; on
#: PostgreSQL, for a run's row).
Engines = collections.namedtuple("Engines", "reading writing")

# Engines by URL and limits, so that every Store of a process on one
# database shares its pools.
_engines = {}
_engines_lock = threading.Lock()


def shared_engines(url: URL, limits: Limits = Limits()) -> Engines:
    """The engines of a database, made on first use, then shared by every
    Store of the process with the same limits.

    Args:
        url: the database, as :func:`database_url` returns it.
        limits: how long calls wait for it.
    """
    with _engines_lock:
        engines = _engines.get((url, limits))
        if engines is None:
            engines = _engines[url, limits] = Engines(
                _new_engine(url, limits, writing=False),
                _new_engine(url, limits, writing=True),
            )
        return engines


def _new_engine(url, limits, writing):
    if url.get_backend_name() == "sqlite":
        # No pre-ping: a SQLite connection is a file opened in this process,
        # which no restart of a server can take away. One connection for
        # writing: the writes of a database are one at a time anyway, and
        # those waiting for it wait in the pool, woken as soon as it is
        # free, holding no connection.
        sizes = {"pool_size": 1, "max_overflow": 0} if writing else {}
        engine = sa.create_engine(
            url,
            connect_args={"timeout": limits.statement_timeout or limits.wait},
            pool_timeout=limits.wait,
            **sizes,
        )
        sa.event.listen(engine, "connect", _configure_sqlite)
        sa.event.listen(engine, "begin", _begin_sqlite)
        return engine
    # Pre-ping: a pooled connection is tried (one round trip, a fraction of
    # a millisecond on a local network) each time it leaves the pool, and
    # replaced if the server closed it. After a restart of PostgreSQL every
    # pooled connection is dead; without the ping each would fail the
    # request that drew it, answered 503, which fails a CI gate reading a
    # summary: a database blip must not fail a release.
    # No prepared statements: the plan PostgreSQL makes for any parameters
    # after five executions can be much worse than one for the values given.
    engine = sa.create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_timeout=limits.wait,
        pool_pre_ping=True,
        connect_args={
            "prepare_threshold": None,
            # A server that accepts connections but never answers would
            # otherwise hold the call for ever.
            "connect_timeout": math.ceil(limits.wait),
        },
    )
    sa.event.listen(
        engine,
        "connect",
        functools.partial(_set_up_postgresql, limits.statement_timeout, writing),
    )
    return engine


def _set_up_postgresql(statement_timeout, writing, dbapi_connection, record):
    with dbapi_connection.cursor() as cursor:
        if statement_timeout is not None:
            # Set once connected, not as a startup option: poolers such as
            # PgBouncer refuse those.
            cursor.execute(
                "SET statement_timeout = %d" % math.ceil(statement_timeout * 1000)
            )
        if writing:
            # Where a write stages the states of its batch before upserting
            # them: a temporary table lasts as long as the connection, and
            # is emptied when each transaction commits.
            cursor.execute(
                "CREATE TEMPORARY TABLE staged_states (run_id integer, item_key"
                " bytea, filename_json text, dest_json text, state text,"
                " first_seq bigint, filename_order bytea, dest_order bytea,"
                " filename_folded bytea, dest_folded bytea) ON COMMIT DELETE ROWS"
            )
    dbapi_connection.commit()


def _configure_sqlite(dbapi_connection, connection_record):
    # The driver's own transaction handling is off, so that _begin_sqlite
    # decides how each transaction begins.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers do not wait for the writer, nor the writer for readers.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(connection):
    if connection.get_execution_options().get("pushcollector_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


# How many threads of this process are inside a write to SQLite, and the
# condition a fork waits on until none is.
_sqlite_writes = 0
_no_sqlite_write = threading.Condition(threading.Lock())


@contextlib.contextmanager
def sqlite_write() -> Iterator[None]:
    """Hold off any fork of this process while the block, a write to
    SQLite, runs: a fork waits for the writes in progress to end, and a
    write begun meanwhile waits for the fork.

    SQLite keeps the locks its process holds in its own memory, which
    ``fork()`` copies. A child forked while a thread of its parent holds
    the write lock would believe, as long as it lives, that a connection of
    its own holds it: each of its writes would wait the busy timeout and
    fail with "database is locked". Nothing in the child can clear that
    belief safely: closing the copy of the parent's connection would undo
    the parent's write in the memory the two processes share. A fork waits
    at most as long as the writes in progress last, the busy timeout
    included.
    """
    global _sqlite_writes
    with _no_sqlite_write:
        _sqlite_writes += 1
    try:
        yield
    finally:
        with _no_sqlite_write:
            _sqlite_writes -= 1
            _no_sqlite_write.notify_all()


def _wait_for_sqlite_writes():
    # Returns holding the condition's lock, so that no write begins until
    # the fork is done; both processes release it after.
    _no_sqlite_write.acquire()
    _no_sqlite_write.wait_for(lambda: _sqlite_writes == 0)


def _forget_pools_in_child():
    # Connections of the parent must not be used by a forked child, nor
    # closed by it: they are the parent's. The child opens its own.
    _no_sqlite_write.release()
    for engines in list(_engines.values()):
        for engine in engines:
            engine.dispose(close=False)


os.register_at_fork(
    before=_wait_for_sqlite_writes,
    after_in_parent=_no_sqlite_write.release,
    after_in_child=_forget_pools_in_child,
)
