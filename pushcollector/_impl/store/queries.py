"""The store's queries: every read and write of runs, push items and files.

On PostgreSQL (through psycopg 3) or SQLite, with SQLAlchemy Core, on the
tables of :mod:`.tables`; the schema is checked, created and migrated with
the Alembic scripts in ``migrations/``.

Writes of one run are serialised by its row in ``runs``, which each write
updates first: the records of a run are numbered without gaps in the order
their transactions commit, and the final state of every push item, and the
count of items in each state, are kept up to date in the same transaction,
so that summaries never read the records.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import datetime
import functools
import hashlib
import json
import os
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..records import encode_push_item
from .engine import Limits, database_url, shared_engines, sqlite_write
from .tables import (
    applied_requests,
    file_pieces,
    files,
    item_states,
    push_items,
    runs,
)

# Records read per round trip when streaming a run.
_RECORDS_PER_FETCH = 5000

# Pieces of a file read per round trip: at most so many, and no more bytes
# than this unless a single piece is larger.
_PIECES_PER_FETCH = 1000
_BYTES_PER_FETCH = 4 * 1024 * 1024

#: The orders in which :meth:`Store.item_page` sorts items.
ITEM_SORT_KEYS = ("seq", "filename", "dest", "state")

_SORT_COLUMNS = {"filename": "filename_json", "dest": "dest_json", "state": "state"}


class DatabaseError(Exception):
    """The database cannot be used as it is: what is wrong, and what to do."""


def error_summary(error: BaseException) -> str:
    """The first line of what a database error says, from the driver's own
    error when SQLAlchemy wraps one, for one-line messages."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def item_key(filename: str, dest: str | None) -> bytes:
    """What identifies a push item within a run: a digest of (filename, dest).

    The filename's length comes first, so that no two pairs give the same
    bytes to digest; a dest of None gives none at all, an empty dest an
    empty one after a separator.
    """
    encoded = filename.encode("utf-8")
    if dest is not None:
        encoded = b"%d:%s\0%s" % (len(encoded), encoded, dest.encode("utf-8"))
    return hashlib.blake2b(encoded, digest_size=_KEY_SIZE).digest()


_KEY_SIZE = 16


# A str as JSON text, escaping only what JSON requires (C-accelerated).
_encode_text = json.encoder.encode_basestring
_decode_text = json.JSONDecoder().decode


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


RunRow = collections.namedtuple("RunRow", "id name created_at updated_at record_count")
RunRow.__doc__ = "A run as the store holds it."

FileRow = collections.namedtuple("FileRow", "name size updated_at")
FileRow.__doc__ = "A file of a run: its name, size in bytes and last change."


class RunCounts:
    """The final states of a run's push items, counted, as the store holds
    them; the run report (``RunReport.of_counts``) makes the rest of them.

    Attributes:
        run (RunRow): the run.
        states (dict[str, int]): how many push items ended in each state.
        file_count (int): how many files the run holds.
    """

    def __init__(self, run: RunRow, states: dict, file_count: int):
        self.run = run
        self.states = states
        self.file_count = file_count


class Store:
    """A database of runs.

    Args:
        url: the database, as :func:`database_url` takes it.
        limits: how long its calls wait for the database.

    The engine is shared by the threads of the process; a forked child
    opens connections of its own (see :mod:`.engine`).
    """

    def __init__(self, url: str, limits: Limits = Limits()):
        self.url = database_url(url)
        self.limits = limits
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # Writes and reads each have a pool of their own: a read never
        # waits behind writes waiting for a lock.
        self.read_engine, self.engine = shared_engines(self.url, limits)
        self._insert = sqlite.insert if self.is_sqlite else postgresql.insert

    def __repr__(self):
        return "Store(%r)" % self.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close the connections of the pools."""
        self.read_engine.dispose()
        self.engine.dispose()

    # The connection of the snapshot this Store reads in, if it is one
    # that snapshot() yields.
    _snapshot_connection = None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Store]:
        """Read several things as they were at one moment.

        Yields a Store whose reads all share one read transaction, so that
        what they give fits together whatever is written meanwhile: a run's
        record count, its state counts, its items in some states and its
        files, all of one moment. Within a snapshot, ``snapshot()`` gives
        the same one again. Writes through it are not part of it.

        On PostgreSQL the transaction is REPEATABLE READ and READ ONLY: it
        sees what was committed before its first query, and nothing after.
        On SQLite, a read transaction in WAL mode sees the same.
        """
        with self._reading() as connection:
            reader = copy.copy(self)
            reader._snapshot_connection = connection
            yield reader

    @contextlib.contextmanager
    def _reading(self):
        """A connection in a read transaction of one moment: the snapshot's
        within one, else one of its own until the block ends."""
        if self._snapshot_connection is not None:
            yield self._snapshot_connection
            return
        with self._read_transaction() as connection:
            yield connection

    @contextlib.contextmanager
    def _read_transaction(self):
        """A connection in a read transaction of one moment, of its own even
        within a snapshot: for the generators, read after the snapshot that
        made them may have ended."""
        with self.read_engine.connect() as connection:
            if not self.is_sqlite:
                # Given to the BEGIN psycopg sends: no round trip of its own.
                # READ COMMITTED, the default, would let each query of the
                # transaction see what was committed since the one before.
                connection = connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            with connection.begin():
                yield connection

    @contextlib.contextmanager
    def _writing(self):
        """A connection for a write transaction.

        On SQLite it takes the write lock when it begins, not at its first
        write: two transactions that both read first and then write would
        otherwise fail one another rather than wait. No fork of the process
        happens while it is used (see :func:`.engine.sqlite_write`).
        """
        driver_error = self.engine.dialect.loaded_dbapi.Error
        with sqlite_write() if self.is_sqlite else contextlib.nullcontext():
            with self.engine.connect() as connection:
                try:
                    yield connection.execution_options(pushcollector_write=True)
                except driver_error as error:
                    # From the driver's own cursors, which writes use where
                    # SQLAlchemy's cost too much: raised as SQLAlchemy
                    # raises the driver's errors, so that callers tell a
                    # database that cannot be used (a lock not granted in
                    # time, a connection lost) from any other error.
                    raise sa.exc.DBAPIError.instance(
                        None, None, error, driver_error
                    ) from None

    # -- Schema -----------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The Alembic revision of the database's schema; None if it has none."""
        from alembic.runtime.migration import MigrationContext

        with self._reading() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def check_schema(self, create: bool = False) -> None:
        """Make sure the schema is the one this version uses.

        Safe to run from several processes and hosts at once, as
        :meth:`upgrade` is: unless the schema is this version's, it is read
        again under the lock of upgrades, where no other process is
        creating it meanwhile.

        Args:
            create: create the schema if the database is empty.

        Raises:
            DatabaseError: if the schema is older (naming ``pushcollector db
                upgrade``), newer, or not pushcollector's; or if the database
                is empty and ``create`` is false.
        """
        head = _migrations().get_current_head()
        if self.schema_revision() == head:
            return
        where = self.url.render_as_string(hide_password=True)
        with self._upgrading() as connection:
            revision = self._known_revision(connection)
            if revision is None and create:
                self._migrate(connection)
                revision = head
        if revision == head:
            return
        if revision is None:
            raise DatabaseError(
                "%s has no pushcollector schema: run 'pushcollector db"
                " upgrade --db URL' to create it" % where
            )
        raise DatabaseError(
            "the schema of %s is outdated (revision %s, this version uses %s):"
            " run 'pushcollector db upgrade --db URL'" % (where, revision, head)
        )

    def upgrade(self) -> tuple[str | None, str]:
        """Create the schema, or migrate it to this version's.

        Safe to run from several processes and hosts at once: on PostgreSQL
        an advisory lock, on SQLite the write lock, is held by the
        transaction that migrates, and the revision is read under it.

        Returns:
            the revisions before and after.

        Raises:
            DatabaseError: if the schema is newer than this version's, or
                the database holds tables but no pushcollector schema.
        """
        with self._upgrading() as connection:
            before = self._known_revision(connection)
            self._migrate(connection)
        return before, _migrations().get_current_head()

    @contextlib.contextmanager
    def _upgrading(self):
        """A transaction holding the lock of upgrades: on PostgreSQL an
        advisory lock, on SQLite the write lock."""
        with self._writing() as connection, connection.begin():
            if not self.is_sqlite:
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _UPGRADE_LOCK_KEY},
                )
            yield connection

    def _known_revision(self, connection):
        """The revision of the schema, None if the database is empty.

        Raises:
            DatabaseError: if the database holds tables but no schema, or a
                schema newer than this version knows.
        """
        from alembic.runtime.migration import MigrationContext

        revision = MigrationContext.configure(connection).get_current_revision()
        where = self.url.render_as_string(hide_password=True)
        if revision is None:
            # Alembic's own table is left, empty, when every migration
            # was undone.
            tables = set(sa.inspect(connection).get_table_names())
            tables.discard("alembic_version")
            if tables:
                raise DatabaseError(
                    "%s holds tables (%s) but no pushcollector schema: use an"
                    " empty database" % (where, ", ".join(sorted(tables)))
                )
        elif not _is_known_revision(revision):
            raise DatabaseError(
                "the schema of %s (revision %s) is newer than this version of"
                " pushcollector knows (%s): upgrade pushcollector"
                % (where, revision, _migrations().get_current_head())
            )
        return revision

    @staticmethod
    def _migrate(connection):
        from alembic import command

        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    # -- Writing ----------------------------------------------------------

    def _begin_write(self, connection, run_name, new_records, key):
        """Create the run if needed, lock its row, and claim the request's key.

        Returns:
            ``(run_id, record_count)``, the count after adding
            ``new_records``; or None if the key was applied before, when
            the caller must roll back.
        """
        now = _now()
        if not self.is_sqlite:
            # One statement, one round trip: this begins every write.
            cursor = connection.connection.driver_connection.cursor()
            cursor.execute(
                _POSTGRESQL_BEGIN_WRITE,
                {"name": run_name, "now": now, "records": new_records, "key": key},
            )
            run_id, record_count, claimed = cursor.fetchone()
            return (run_id, record_count) if claimed or key is None else None
        statement = sqlite.insert(runs).values(
            name=run_name, created_at=now, updated_at=now, record_count=new_records
        )
        run_id, record_count = connection.execute(
            statement.on_conflict_do_update(
                index_elements=[runs.c.name],
                set_={
                    "record_count": runs.c.record_count + new_records,
                    "updated_at": now,
                },
            ).returning(runs.c.id, runs.c.record_count)
        ).one()
        if key is not None:
            claimed = connection.execute(
                sqlite.insert(applied_requests)
                .values(run_id=run_id, key=key, applied_at=now)
                .on_conflict_do_nothing()
                .returning(applied_requests.c.key)
            ).first()
            if claimed is None:
                return None
        return run_id, record_count

    def add_push_items(
        self, run_name: str, items: list[dict], key: str | None = None
    ) -> bool:
        """Append validated push items to a run, in order, atomically.

        Args:
            run_name: the run; created if new.
            items: push item dicts, valid against the schema.
            key: the request's Idempotency-Key, if any.

        Returns:
            False if a request with the same key was applied before, in
            which case nothing is stored; True otherwise.
        """
        lines = list(map(encode_push_item, items))
        with self._writing() as connection, connection.begin() as transaction:
            begun = self._begin_write(connection, run_name, len(items), key)
            if begun is None:
                transaction.rollback()
                return False
            run_id, record_count = begun
            first_seq = record_count - len(items) + 1
            if not items:
                return True
            if self.is_sqlite:
                connection.execute(
                    push_items.insert(),
                    [
                        {"run_id": run_id, "seq": seq, "record": line}
                        for seq, line in enumerate(lines, first_seq)
                    ],
                )
            else:
                # COPY: several times faster than INSERT for hundreds of rows.
                self._copy(
                    connection,
                    "push_items",
                    "".join(
                        [
                            "%d\t%d\t%s\n" % (run_id, seq, _copy_text(line))
                            for seq, line in enumerate(lines, first_seq)
                        ]
                    ),
                )
            self._update_states(connection, run_id, items, first_seq)
        return True

    def _update_states(self, connection, run_id, items, first_seq):
        """Set the final state of each item of the batch: its last here.

        An item met for the first time is inserted with the sequence number
        of its first record; an item the run has had its state replaced.
        Each item is looked up in the primary key once, by the upsert.
        """
        final = {}
        for seq, item in enumerate(items, first_seq):
            filename = item["filename"]
            dest = item.get("dest")
            key = item_key(filename, dest)
            known = final.get(key)
            if known is None:
                final[key] = [
                    run_id,
                    key,
                    _encode_text(filename),
                    None if dest is None else _encode_text(dest),
                    item["state"],
                    seq,
                ]
            else:
                known[_STATE_COLUMN] = item["state"]
        rows = final.values()
        if self.is_sqlite:
            statement = sqlite.insert(item_states)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[item_states.c.run_id, item_states.c.item_key],
                    set_={"state": statement.excluded.state},
                ),
                [dict(zip(_ITEM_STATES_COLUMNS, row)) for row in rows],
            )
        else:
            # COPY into a table of this connection's, then one upsert: COPY
            # is several times faster than INSERT, but cannot upsert.
            text = "".join(
                [
                    "%d\t\\\\x%s\t%s\t%s\t%s\t%d\n"
                    % (
                        run_id,
                        key.hex(),
                        _copy_text(filename),
                        "\\N" if dest is None else _copy_text(dest),
                        state,
                        seq,
                    )
                    for run_id, key, filename, dest, state, seq in rows
                ]
            )
            self._copy(connection, "staged_states", text)
            connection.execute(_UPSERT_STAGED_STATES)

    @staticmethod
    def _copy(connection, table_name, text):
        """COPY rows into a table, from lines of COPY's text format.

        The text is made by the caller: psycopg's write_row() adapts the
        rows value by value, which cost more than the rest of a write.
        """
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy("COPY %s FROM STDIN" % table_name) as copy:
            copy.write(text)

    def put_file(
        self, run_name: str, name: str, data: bytes, key: str | None = None
    ) -> bool:
        """Create or replace a file of a run; False if the key was applied."""
        return self._write_file(run_name, name, data, key, replace=True)

    def append_file(
        self, run_name: str, name: str, data: bytes, key: str | None = None
    ) -> bool:
        """Append to a file of a run, creating it if needed; False if the key
        was applied."""
        return self._write_file(run_name, name, data, key, replace=False)

    def _write_file(self, run_name, name, data, key, replace):
        with self._writing() as connection, connection.begin() as transaction:
            if not (replace or self.is_sqlite):
                cursor = connection.connection.driver_connection.cursor()
                cursor.execute(
                    _POSTGRESQL_APPEND,
                    {
                        "name": run_name,
                        "now": _now(),
                        "records": 0,
                        "key": key,
                        "filename": name,
                        "size": len(data),
                        "data": data,
                    },
                )
                if not cursor.fetchone()[0]:
                    # The key was applied before: not even the run is touched.
                    transaction.rollback()
                    return False
                return True
            begun = self._begin_write(connection, run_name, 0, key)
            if begun is None:
                transaction.rollback()
                return False
            run_id, _ = begun
            now = _now()
            statement = self._insert(files).values(
                run_id=run_id, name=name, size=len(data), piece_count=1, updated_at=now
            )
            if replace:
                changes = {"size": len(data), "piece_count": 1, "updated_at": now}
            else:
                changes = {
                    "size": files.c.size + len(data),
                    "piece_count": files.c.piece_count + 1,
                    "updated_at": now,
                }
            file_id, piece = connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[files.c.run_id, files.c.name], set_=changes
                ).returning(files.c.id, files.c.piece_count)
            ).one()
            if replace:
                connection.execute(
                    file_pieces.delete().where(file_pieces.c.file_id == file_id)
                )
            # An empty append changes nothing but must still create the file,
            # which its row does.
            if data or piece == 1:
                connection.execute(
                    file_pieces.insert().values(file_id=file_id, piece=piece, data=data)
                )
        return True

    # -- Reading ----------------------------------------------------------

    def run(self, run_name: str) -> RunRow | None:
        """The run of that name, or None."""
        with self._reading() as connection:
            row = connection.execute(
                sa.select(*_RUN_COLUMNS).where(runs.c.name == run_name)
            ).one_or_none()
        return None if row is None else RunRow(*row)

    def newest_run(self) -> RunRow | None:
        """The run created last, or None if there is none."""
        runs_found = self.list_runs(limit=1)
        return runs_found[0] if runs_found else None

    def list_runs(self, limit: int = 100, offset: int = 0) -> list[RunRow]:
        """Runs, newest first."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(*_RUN_COLUMNS)
                .order_by(runs.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [RunRow(*row) for row in rows]

    def run_count(self) -> int:
        """How many runs the store holds."""
        with self._reading() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(runs)
            ).scalar_one()

    def counts(self, run_rows: Iterable[RunRow]) -> list[RunCounts]:
        """The state counts and file count of each run, in the same order,
        with each run as it is read with them (its record count may have
        grown since ``run_rows`` were read)."""
        ids = [run.id for run in run_rows]
        states = collections.defaultdict(dict)
        file_counts = {}
        with self._reading() as connection:
            read = {
                row.id: RunRow(*row)
                for row in connection.execute(
                    sa.select(*_RUN_COLUMNS).where(runs.c.id.in_(ids))
                )
            }
            # Runs are never deleted: each is there still.
            run_rows = [read[run_id] for run_id in ids]
            for run_id, state, count in connection.execute(
                sa.select(item_states.c.run_id, item_states.c.state, sa.func.count())
                .where(item_states.c.run_id.in_(ids))
                .group_by(item_states.c.run_id, item_states.c.state)
            ):
                states[run_id][state] = count
            file_counts.update(
                connection.execute(
                    sa.select(files.c.run_id, sa.func.count())
                    .where(files.c.run_id.in_(ids))
                    .group_by(files.c.run_id)
                ).all()
            )
        return [
            RunCounts(run, states[run.id], file_counts.get(run.id, 0))
            for run in run_rows
        ]

    def items_in_states(
        self, run: RunRow, wanted_states: Iterable[str]
    ) -> list[tuple[str, str | None, str]]:
        """The (filename, dest, state) of the run's items now in these
        states, in the order they were first recorded."""
        wanted_states = list(wanted_states)
        if not wanted_states:
            return []
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(
                    item_states.c.filename_json,
                    item_states.c.dest_json,
                    item_states.c.state,
                )
                .where(
                    item_states.c.run_id == run.id,
                    item_states.c.state.in_(wanted_states),
                )
                .order_by(item_states.c.first_seq)
            ).all()
        decode = _decode_text
        return [
            (decode(filename), None if dest is None else decode(dest), state)
            for filename, dest, state in rows
        ]

    def item_page(
        self,
        run: RunRow,
        wanted_states: Iterable[str],
        sort: str = "seq",
        descending: bool = False,
        contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[tuple[str, str | None, str]], int]:
        """A page of the run's items now in these states, and how many there
        are in all, from the final states alone (never the records).

        Args:
            run: the run.
            wanted_states: the states of the items wanted.
            sort: one of :data:`ITEM_SORT_KEYS`: ``seq`` (the order the items
                were first recorded), ``filename``, ``dest`` or ``state``.
                Names are compared by code point; a dest of None sorts
                before every other. Ties go by first record.
            descending: reverse the order.
            contains: only the items whose filename or dest holds this text,
                ignoring the case of ASCII letters.
            limit, offset: which of the sorted items.

        Returns:
            ``([(filename, dest, state), ...], total)``.
        """
        if sort not in ITEM_SORT_KEYS:
            raise ValueError("unknown sort key %r" % sort)
        wanted_states = list(wanted_states)
        if not wanted_states:
            return [], 0
        conditions = [
            item_states.c.run_id == run.id,
            item_states.c.state.in_(wanted_states),
        ]
        if contains:
            # The names are kept as JSON text: look for the text as JSON
            # writes it, which escapes the same characters the same way.
            needle = _encode_text(contains)[1:-1]
            conditions.append(
                sa.or_(
                    item_states.c.filename_json.icontains(needle, autoescape=True),
                    item_states.c.dest_json.icontains(needle, autoescape=True),
                )
            )
        order = []
        if sort == "dest":
            # NULL first, as SQLite does and PostgreSQL does only descending.
            order.append(item_states.c.dest_json.is_not(None))
        if sort != "seq":
            column = item_states.c[_SORT_COLUMNS[sort]]
            # By code point, as SQLite compares: PostgreSQL's "C" collation
            # compares UTF-8 bytes, which is the same order.
            order.append(column if self.is_sqlite else column.collate("C"))
        order.append(item_states.c.first_seq)
        if descending:
            order = [sa.desc(key) for key in order]
        with self._reading() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(item_states).where(*conditions)
            ).scalar_one()
            rows = connection.execute(
                sa.select(
                    item_states.c.filename_json,
                    item_states.c.dest_json,
                    item_states.c.state,
                )
                .where(*conditions)
                .order_by(*order)
                .limit(limit)
                .offset(offset)
            ).all()
        decode = _decode_text
        page = [
            (decode(filename), None if dest is None else decode(dest), state)
            for filename, dest, state in rows
        ]
        return page, total

    def record_lines(self, run: RunRow) -> Iterator[list[str]]:
        """The run's records as ``pushitems.jsonl`` lines (without newlines),
        in recorded order, a list of lines at a time.

        Read in pages by sequence number, each in its own short query, so
        that a slow reader holds no transaction open.
        """
        after = 0
        while True:
            with self._read_transaction() as connection:
                rows = connection.execute(
                    sa.select(push_items.c.seq, push_items.c.record)
                    .where(push_items.c.run_id == run.id, push_items.c.seq > after)
                    .order_by(push_items.c.seq)
                    .limit(_RECORDS_PER_FETCH)
                ).all()
            if not rows:
                return
            after = rows[-1][0]
            yield [row[1] for row in rows]

    def files(self, run: RunRow) -> list[FileRow]:
        """The run's files, sorted by name."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(files.c.name, files.c.size, files.c.updated_at)
                .where(files.c.run_id == run.id)
                .order_by(files.c.name)
            ).all()
        return [FileRow(*row) for row in rows]

    def file_id(self, run: RunRow, name: str) -> int | None:
        """The id of the run's file of that name, or None."""
        with self._reading() as connection:
            return connection.execute(
                sa.select(files.c.id).where(
                    files.c.run_id == run.id, files.c.name == name
                )
            ).scalar_one_or_none()

    def file_tail(self, run: RunRow, name: str, max_bytes: int) -> tuple | None:
        """The run's file of that name and its last ``max_bytes`` bytes (all
        of it if it is no longer), or None if the run has no such file.

        Only the last pieces are read, however long the file.

        Returns:
            ``(FileRow, data)``.
        """
        with self._reading() as connection:
            found = connection.execute(
                sa.select(
                    files.c.id, files.c.name, files.c.size, files.c.updated_at
                ).where(files.c.run_id == run.id, files.c.name == name)
            ).one_or_none()
            if found is None:
                return None
            file_id, row = found[0], FileRow(*found[1:])
            # The pieces from the end that hold the tail: by their lengths,
            # a batch at a time, newest first. Pieces are numbered from 1.
            first = 1
            total = 0
            before = None
            while total < max_bytes:
                condition = [file_pieces.c.file_id == file_id]
                if before is not None:
                    condition.append(file_pieces.c.piece < before)
                sizes = connection.execute(
                    sa.select(file_pieces.c.piece, sa.func.length(file_pieces.c.data))
                    .where(*condition)
                    .order_by(file_pieces.c.piece.desc())
                    .limit(_PIECES_PER_FETCH)
                ).all()
                for piece, size in sizes:
                    first = piece
                    total += size
                    if total >= max_bytes:
                        break
                if len(sizes) < _PIECES_PER_FETCH:
                    break
                before = first
            pieces = connection.execute(
                sa.select(file_pieces.c.data)
                .where(file_pieces.c.file_id == file_id, file_pieces.c.piece >= first)
                .order_by(file_pieces.c.piece)
            ).scalars()
            data = b"".join(bytes(piece) for piece in pieces)
        return row, data[-max_bytes:] if len(data) > max_bytes else data

    def file_pieces(self, file_id: int) -> Iterator[bytes]:
        """The content of a file, piece by piece.

        Pieces are read a few megabytes at a time, each batch in its own
        short query: a log of many small appends takes few queries, and a
        file of large pieces is never held in memory whole.
        """
        after = 0
        while True:
            with self._read_transaction() as connection:
                sizes = connection.execute(
                    sa.select(file_pieces.c.piece, sa.func.length(file_pieces.c.data))
                    .where(
                        file_pieces.c.file_id == file_id, file_pieces.c.piece > after
                    )
                    .order_by(file_pieces.c.piece)
                    .limit(_PIECES_PER_FETCH)
                ).all()
                if not sizes:
                    return
                last, total = sizes[0]
                for piece, size in sizes[1:]:
                    if total + size > _BYTES_PER_FETCH:
                        break
                    last, total = piece, total + size
                pieces = (
                    connection.execute(
                        sa.select(file_pieces.c.data)
                        .where(
                            file_pieces.c.file_id == file_id,
                            file_pieces.c.piece > after,
                            file_pieces.c.piece <= last,
                        )
                        .order_by(file_pieces.c.piece)
                    )
                    .scalars()
                    .all()
                )
            after = last
            for data in pieces:
                yield bytes(data)


# The columns of item_states, in the order of the rows made for it.
_ITEM_STATES_COLUMNS = [column.name for column in item_states.columns]
_STATE_COLUMN = _ITEM_STATES_COLUMNS.index("state")

_UPSERT_STAGED_STATES = sa.text(
    "INSERT INTO item_states SELECT * FROM staged_states"
    " ON CONFLICT (run_id, item_key) DO UPDATE SET state = excluded.state"
)


def _copy_text(text):
    """Text of JSON as a field of COPY's text format.

    JSON text holds no raw tab, newline or carriage return; it may hold
    backslashes, COPY's escape character.
    """
    return text.replace("\\", "\\\\")


# Create or lock the run, then claim the key: both in one statement, and in
# this order, so that repeats of a key wait for the run's lock, then find
# the key applied. Runs are numbered by a sequence and never deleted.
# How each write begins on PostgreSQL: create or update the run, locking its
# row, and claim the request's key.
_POSTGRESQL_RUN_AND_KEY = """
WITH run AS (
    INSERT INTO runs (name, created_at, updated_at, record_count)
    VALUES (%(name)s, %(now)s, %(now)s, %(records)s)
    ON CONFLICT (name) DO UPDATE SET
        record_count = runs.record_count + excluded.record_count,
        updated_at = excluded.updated_at
    RETURNING id, record_count
), claimed AS (
    INSERT INTO applied_requests (run_id, key, applied_at)
    SELECT id, %(key)s::text, %(now)s FROM run WHERE %(key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING key
)"""

_POSTGRESQL_BEGIN_WRITE = _POSTGRESQL_RUN_AND_KEY + """
SELECT id, record_count, EXISTS (SELECT FROM claimed) FROM run
"""

# An append to a file on PostgreSQL, in one round trip: appending logs piece
# by piece is the commonest write after push items. The file and its piece
# are written only if the key was claimed (or there is none).
_POSTGRESQL_APPEND = _POSTGRESQL_RUN_AND_KEY + """, file AS (
    INSERT INTO files (run_id, name, size, piece_count, updated_at)
    SELECT id, %(filename)s, %(size)s, 1, %(now)s FROM run
    WHERE %(key)s::text IS NULL OR EXISTS (SELECT FROM claimed)
    ON CONFLICT (run_id, name) DO UPDATE SET
        size = files.size + excluded.size,
        piece_count = files.piece_count + 1,
        updated_at = excluded.updated_at
    RETURNING id, piece_count
), piece AS (
    INSERT INTO file_pieces (file_id, piece, data)
    SELECT id, piece_count, %(data)s FROM file
    WHERE %(size)s > 0 OR piece_count = 1
)
SELECT EXISTS (SELECT FROM file) FROM run
"""

# Any constant would do: it names pushcollector's upgrade among the advisory
# locks of a PostgreSQL server. These are the bytes of "pcollect".
_UPGRADE_LOCK_KEY = 0x70636F6C6C656374

_MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS_DIR)
    return config


@functools.lru_cache(maxsize=None)
def _migrations():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def _is_known_revision(revision):
    from alembic.util import CommandError

    try:
        _migrations().get_revision(revision)
    except CommandError:
        return False
    return True


_RUN_COLUMNS = (
    runs.c.id,
    runs.c.name,
    runs.c.created_at,
    runs.c.updated_at,
    runs.c.record_count,
)
