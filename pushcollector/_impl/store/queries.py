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
import heapq
import json
import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..records import encode_push_item
from .engine import Limits, database_url, shared_engines, sqlite_write
from .tables import (
    applied_requests,
    bad_lines,
    file_pieces,
    files,
    item_states,
    push_items,
    runs,
)

# Records read per round trip when streaming a run.
_RECORDS_PER_FETCH = 5000

# Pieces of a file read per round trip: at most so many, and no more bytes
# than this; a larger piece is read in slices of this size.
_PIECES_PER_FETCH = 1000
_BYTES_PER_FETCH = 4 * 1024 * 1024

# The largest piece a write stores: a larger write is stored as several, in
# one transaction, so that no reader or writer holds more than a piece.
MAX_PIECE_BYTES = 4 * 1024 * 1024

# Items, and files, read per round trip when streaming a list of them.
_ITEMS_PER_FETCH = 1000
_FILES_PER_FETCH = 1000

#: The orders in which :meth:`Store.item_page` sorts items.
ITEM_SORT_KEYS = ("seq", "filename", "dest", "state")


class DatabaseError(Exception):
    """The database cannot be used as it is: what is wrong, and what to do."""


class KeyReused(ValueError):
    """An Idempotency-Key the run applied to another request: another kind of
    request, another file, or another body. Nothing of the request is stored.
    """


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


def _bytes_unlike_json(json_text, name):
    """The UTF-8 bytes of a name, where they are not those of its JSON
    text within its quotes (which holds an escape then); else None."""
    return name if "\\" in json_text else None


def folded_name(name: bytes) -> bytes | None:
    """The UTF-8 bytes of a name with its ASCII letters lowered, as the
    store keeps them to search in; None if that changes nothing, when the
    name's own bytes are searched."""
    lowered = name.lower()
    return None if lowered == name else lowered


# A str as JSON text, escaping only what JSON requires (C-accelerated).
_encode_text = json.encoder.encode_basestring
_decode_text = json.JSONDecoder().decode


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


# What a key is applied to: the kind of request (with the file it writes),
# and a digest of its body, kept with the key so that a repeat is told from
# another request reusing it.
_PUSH_ITEMS = "push-items"
_BAD_LINES = "bad-lines"
_PUT_FILE = "put-file:"
_APPEND_FILE = "append-file:"

_KIND_WORDS = {
    _PUSH_ITEMS: "a POST of push items",
    _BAD_LINES: "a PUT of bad lines",
    _PUT_FILE: "a PUT of file %r",
    _APPEND_FILE: "a POST to file %r",
}


_BODY_DIGEST_SIZE = 32


def _body_digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_BODY_DIGEST_SIZE).digest()


def _request_words(kind):
    """A kind of request as an error says it."""
    if kind in (_PUSH_ITEMS, _BAD_LINES):
        return _KIND_WORDS[kind]
    prefix, name = kind.split(":", 1)
    return _KIND_WORDS[prefix + ":"] % name


RunRow = collections.namedtuple(
    "RunRow", "id name created_at updated_at record_count bad_line_count"
)
RunRow.__doc__ = """A run as the store holds it; ``bad_line_count`` is how many
lines its client declared it could not deliver (see ``Store.set_bad_lines``)."""

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

    def _name_bytes(self, name):
        """SQL: the UTF-8 bytes of an item's filename or dest (``name``).

        They are kept only where the JSON text escapes a character: else
        they are the bytes of the JSON text within its quotes.
        """
        kept = item_states.c[name + "_order"]
        text = item_states.c[name + "_json"]
        if self.is_sqlite:
            quoted = sa.cast(text, sa.LargeBinary)
        else:
            quoted = sa.func.convert_to(text, "UTF8", type_=sa.LargeBinary)
        unquoted = sa.func.substr(
            quoted, 2, sa.func.length(quoted) - 2, type_=sa.LargeBinary
        )
        return sa.func.coalesce(kept, unquoted, type_=sa.LargeBinary)

    def _folded_bytes(self, name):
        """SQL: those bytes with their ASCII letters lowered."""
        folded = item_states.c[name + "_folded"]
        return sa.func.coalesce(folded, self._name_bytes(name), type_=sa.LargeBinary)

    def _holds(self, column, needle):
        """SQL: whether a column of bytes holds these bytes."""
        needle = sa.literal(needle, sa.LargeBinary)
        if self.is_sqlite:
            return sa.func.instr(column, needle) > 0
        return sa.func.position(needle.op("IN")(column)) > 0

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

    def _begin_write(self, connection, run_name, new_records, key, kind, digest):
        """Create the run if needed, lock its row, and claim the request's key
        for this kind of request and digest of its body.

        Returns:
            ``(run_id, record_count)``, the count after adding
            ``new_records``; or None if the key was applied before to the
            same request, when the caller must roll back.

        Raises:
            KeyReused: if the key was applied to another request.
        """
        now = _now()
        if not self.is_sqlite:
            # One statement, one round trip: this begins every write.
            cursor = connection.connection.driver_connection.cursor()
            cursor.execute(
                _POSTGRESQL_BEGIN_WRITE,
                {
                    "name": run_name,
                    "now": now,
                    "records": new_records,
                    "key": key,
                    "kind": kind,
                    "digest": digest,
                },
            )
            run_id, record_count, claimed = cursor.fetchone()
            if claimed or key is None:
                return run_id, record_count
            self._check_repeat(connection, run_id, run_name, key, kind, digest)
            return None
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
                .values(
                    run_id=run_id, key=key, applied_at=now, kind=kind, digest=digest
                )
                .on_conflict_do_nothing()
                .returning(applied_requests.c.key)
            ).first()
            if claimed is None:
                self._check_repeat(connection, run_id, run_name, key, kind, digest)
                return None
        return run_id, record_count

    @staticmethod
    def _check_repeat(connection, run_id, run_name, key, kind, digest):
        """Make sure the request the key was applied to is this one.

        Read in a statement of its own, under the run's lock: on PostgreSQL
        it sees the key of a transaction that committed while this one
        waited for the lock, which the statement that claimed it did not.

        Raises:
            KeyReused: if it was another kind of request, or another body.
        """
        applied_kind, applied_digest = connection.execute(
            sa.select(applied_requests.c.kind, applied_requests.c.digest).where(
                applied_requests.c.run_id == run_id, applied_requests.c.key == key
            )
        ).one()
        if applied_kind is None:
            return  # Applied before the store kept what a key was for.
        if applied_kind != kind:
            raise KeyReused(
                "Idempotency-Key %s of run %s was applied to another request (%s),"
                " not %s: nothing stored; a key names one request"
                % (key, run_name, _request_words(applied_kind), _request_words(kind))
            )
        if bytes(applied_digest) != digest:
            raise KeyReused(
                "Idempotency-Key %s of run %s was applied to %s with another body:"
                " nothing stored; a key names one request"
                % (key, run_name, _request_words(kind))
            )

    def add_push_items(
        self, run_name: str, items: list[dict], key: str | None = None
    ) -> bool:
        """Append validated push items to a run, in order, atomically.

        Args:
            run_name: the run; created if new.
            items: push item dicts, valid against the schema.
            key: the request's Idempotency-Key, if any.

        Returns:
            False if the same request, with the same key, was applied
            before, in which case nothing is stored; True otherwise. The same
            request is the same push items: their records, as stored, are
            the body the key's digest is of.

        Raises:
            KeyReused: if the key was applied to another request of the run,
                with nothing stored.
        """
        lines = list(map(encode_push_item, items))
        digest = None if key is None else _body_digest("\n".join(lines).encode())
        with self._writing() as connection, connection.begin() as transaction:
            begun = self._begin_write(
                connection, run_name, len(items), key, _PUSH_ITEMS, digest
            )
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
        folded = folded_name
        unlike_json = _bytes_unlike_json
        for seq, item in enumerate(items, first_seq):
            filename = item["filename"]
            dest = item.get("dest")
            key = item_key(filename, dest)
            known = final.get(key)
            if known is None:
                filename_json = _encode_text(filename)
                filename_bytes = filename.encode("utf-8")
                if dest is None:
                    dest_json = dest_bytes = None
                else:
                    dest_json = _encode_text(dest)
                    dest_bytes = dest.encode("utf-8")
                final[key] = [
                    run_id,
                    key,
                    filename_json,
                    dest_json,
                    item["state"],
                    seq,
                    unlike_json(filename_json, filename_bytes),
                    None if dest is None else unlike_json(dest_json, dest_bytes),
                    folded(filename_bytes),
                    None if dest is None else folded(dest_bytes),
                ]
            else:
                known[_STATE_COLUMN] = item["state"]
        rows = final.values()
        if self.is_sqlite:
            # The driver's own executemany: SQLAlchemy's processing of each
            # value cost more than the rest of the upsert.
            connection.exec_driver_sql(_SQLITE_UPSERT_STATES, list(map(tuple, rows)))
        else:
            # COPY into a table of this connection's, then one upsert: COPY
            # is several times faster than INSERT, but cannot upsert.
            text = "".join(
                [
                    "%d\t\\\\x%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n"
                    % (
                        run_id,
                        key.hex(),
                        _copy_text(filename),
                        "\\N" if dest is None else _copy_text(dest),
                        state,
                        seq,
                        _copy_bytes(filename_order),
                        _copy_bytes(dest_order),
                        _copy_bytes(filename_folded),
                        _copy_bytes(dest_folded),
                    )
                    for (
                        run_id,
                        key,
                        filename,
                        dest,
                        state,
                        seq,
                        filename_order,
                        dest_order,
                        filename_folded,
                        dest_folded,
                    ) in rows
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
        self, run_name: str, name: str, data: bytes | BinaryIO, key: str | None = None
    ) -> bool:
        """Create or replace a file of a run; False if the key was applied
        to the same request (a PUT of this file, of this content) before.

        ``data`` is the content, or a binary file whose content is read from
        where it stands to its end. Either is stored, and read, in pieces of
        at most :data:`MAX_PIECE_BYTES`.

        Raises:
            KeyReused: if the key was applied to another request of the run,
                with nothing stored.
        """
        return self._write_file(run_name, name, data, key, replace=True)

    def append_file(
        self, run_name: str, name: str, data: bytes | BinaryIO, key: str | None = None
    ) -> bool:
        """Append to a file of a run, creating it if needed; False if the key
        was applied to the same request (an append to this file, of this
        content) before. ``data`` is as :meth:`put_file` takes it.

        Raises:
            KeyReused: if the key was applied to another request of the run,
                with nothing stored.
        """
        return self._write_file(run_name, name, data, key, replace=False)

    def _write_file(self, run_name, name, data, key, replace):
        kind = (_PUT_FILE if replace else _APPEND_FILE) + name
        digest = None if key is None else _content_digest(data)
        size, pieces = _pieces_of(data)
        # Every write stores one piece at least: an empty append changes
        # nothing but must still create the file, which its first piece does.
        count = max(1, -(-size // MAX_PIECE_BYTES))
        with self._writing() as connection, connection.begin() as transaction:
            if not (replace or self.is_sqlite):
                written = _fetch_one(
                    connection,
                    _POSTGRESQL_APPEND,
                    {
                        "name": run_name,
                        "now": _now(),
                        "records": 0,
                        "key": key,
                        "kind": kind,
                        "digest": digest,
                        "filename": name,
                        "size": size,
                        "pieces": count,
                        "data": next(pieces),
                    },
                )
                run_id, file_id, last = written
                if file_id is None:
                    # The key was applied before: not even the run is touched.
                    self._check_repeat(connection, run_id, run_name, key, kind, digest)
                    transaction.rollback()
                    return False
                self._add_pieces(connection, file_id, last - count + 2, pieces)
                return True
            begun = self._begin_write(connection, run_name, 0, key, kind, digest)
            if begun is None:
                transaction.rollback()
                return False
            run_id, _ = begun
            now = _now()
            statement = self._insert(files).values(
                run_id=run_id, name=name, size=size, piece_count=count, updated_at=now
            )
            if replace:
                changes = {"size": size, "piece_count": count, "updated_at": now}
            else:
                changes = {
                    "size": files.c.size + size,
                    "piece_count": files.c.piece_count + count,
                    "updated_at": now,
                }
            file_id, last = connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[files.c.run_id, files.c.name], set_=changes
                ).returning(files.c.id, files.c.piece_count)
            ).one()
            if replace:
                connection.execute(
                    file_pieces.delete().where(file_pieces.c.file_id == file_id)
                )
            first = last - count + 1
            if size or first == 1:
                self._add_pieces(connection, file_id, first, pieces)
        return True

    def set_bad_lines(
        self,
        run_name: str,
        lines: list[tuple[int, str]],
        key: str | None = None,
    ) -> bool:
        """Declare the lines of a run its client could not deliver, in place
        of those declared before: they count as the run's bad lines, and
        fail its verdict as bad lines of a run on disk do.

        Args:
            run_name: the run; created if new.
            lines: ``(line_number, reason)`` of each, in increasing order of
                line number.
            key: the request's Idempotency-Key, if any.

        Returns:
            False if the same request, with the same key, was applied
            before, in which case nothing is stored; True otherwise.

        Raises:
            KeyReused: if the key was applied to another request of the run,
                with nothing stored.
        """
        # As ASCII: a reason may hold any str, lone surrogates included.
        encode = json.encoder.encode_basestring_ascii
        rows = [(number, encode(reason)) for number, reason in lines]
        digest = None
        if key is not None:
            digest = _body_digest(json.dumps(rows).encode())
        with self._writing() as connection, connection.begin() as transaction:
            begun = self._begin_write(connection, run_name, 0, key, _BAD_LINES, digest)
            if begun is None:
                transaction.rollback()
                return False
            run_id, _ = begun
            connection.execute(bad_lines.delete().where(bad_lines.c.run_id == run_id))
            if rows:
                connection.execute(
                    bad_lines.insert(),
                    [
                        {"run_id": run_id, "line_number": number, "reason_json": text}
                        for number, text in rows
                    ],
                )
            connection.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(bad_line_count=len(rows))
            )
        return True

    @staticmethod
    def _add_pieces(connection, file_id, first, pieces):
        """Insert the pieces of a write, one statement each, numbered from
        ``first``: one piece is held at a time."""
        for number, data in enumerate(pieces, first):
            connection.execute(
                file_pieces.insert().values(file_id=file_id, piece=number, data=data)
            )

    # -- Reading ----------------------------------------------------------

    def bad_lines(self, run: RunRow) -> list[tuple[int, str]]:
        """The ``(line_number, reason)`` of each line the run's client
        declared it could not deliver, in order."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(bad_lines.c.line_number, bad_lines.c.reason_json)
                .where(bad_lines.c.run_id == run.id)
                .order_by(bad_lines.c.line_number)
            ).all()
        return [(number, _decode_text(text)) for number, text in rows]

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
    ) -> Iterator[tuple[str, str | None, str]]:
        """The (filename, dest, state) of the run's items now in these
        states, in the order they were first recorded.

        Read as they are iterated, in pages, each in its own short query:
        a run of any number of such items is never held whole.
        """
        # A page of each state, by the index of (run, state, first record),
        # merged here: one query for all the states could not use the
        # index's order, and would sort all the rest of them for each page.
        by_state = [self._items_in_state(run, state) for state in set(wanted_states)]
        decode = _decode_text
        for _, filename, dest, state in heapq.merge(*by_state):
            yield decode(filename), None if dest is None else decode(dest), state

    def _items_in_state(self, run, state):
        """The (first_seq, filename_json, dest_json, state) of the run's items
        in one state, by first_seq, a page per query."""
        after = 0
        while True:
            with self._reading() as connection:
                rows = connection.execute(
                    sa.select(
                        item_states.c.first_seq,
                        item_states.c.filename_json,
                        item_states.c.dest_json,
                        item_states.c.state,
                    )
                    .where(
                        item_states.c.run_id == run.id,
                        item_states.c.state == state,
                        item_states.c.first_seq > after,
                    )
                    .order_by(item_states.c.first_seq)
                    .limit(_ITEMS_PER_FETCH)
                ).all()
            yield from map(tuple, rows)
            if len(rows) < _ITEMS_PER_FETCH:
                return
            after = rows[-1][0]

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
            # In the UTF-8 bytes of the names, ASCII letters lowered: bytes
            # match where characters do, since no character's encoding
            # begins inside another's.
            needle = contains.encode("utf-8").lower()
            conditions.append(
                sa.or_(
                    self._holds(self._folded_bytes("filename"), needle),
                    self._holds(self._folded_bytes("dest"), needle),
                )
            )
        order = []
        if sort == "dest":
            # NULL first, as SQLite does and PostgreSQL does only descending.
            order.append(item_states.c.dest_json.is_not(None))
        if sort == "state":
            # By code point: PostgreSQL's "C" collation compares bytes.
            state = item_states.c.state
            order.append(state if self.is_sqlite else state.collate("C"))
        elif sort != "seq":
            # UTF-8 bytes, compared as bytes on both databases: by code point.
            order.append(self._name_bytes(sort))
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

    def files(
        self, run: RunRow, limit: int | None = None, offset: int = 0
    ) -> list[FileRow]:
        """The run's files, sorted by name: all of them, or ``limit`` from
        ``offset``."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(files.c.name, files.c.size, files.c.updated_at)
                .where(files.c.run_id == run.id)
                .order_by(files.c.name)
                .limit(limit)
                .offset(offset)
            ).all()
        return [FileRow(*row) for row in rows]

    def iter_files(self, run: RunRow) -> Iterator[FileRow]:
        """The run's files, sorted by name, read as they are iterated: a
        page by name at a time, each in its own short query."""
        condition = []
        while True:
            with self._reading() as connection:
                rows = connection.execute(
                    sa.select(files.c.name, files.c.size, files.c.updated_at)
                    .where(files.c.run_id == run.id, *condition)
                    .order_by(files.c.name)
                    .limit(_FILES_PER_FETCH)
                ).all()
            yield from (FileRow(*row) for row in rows)
            if len(rows) < _FILES_PER_FETCH:
                return
            condition = [files.c.name > rows[-1][0]]

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
            # Of the first of them, only its end: no more than the tail is
            # read, even of a piece larger than the tail (an attached file).
            skip = max(0, total - max_bytes)
            content = file_pieces.c.data
            pieces = connection.execute(
                sa.select(
                    sa.case(
                        (
                            file_pieces.c.piece == first,
                            _slice(content, skip, max_bytes),
                        ),
                        else_=content,
                    )
                )
                .where(file_pieces.c.file_id == file_id, file_pieces.c.piece >= first)
                .order_by(file_pieces.c.piece)
            ).scalars()
            data = b"".join(bytes(piece) for piece in pieces)
        return row, data[-max_bytes:] if len(data) > max_bytes else data

    def file_pieces(self, file_id: int) -> Iterator[bytes]:
        """The content of a file, a chunk at a time.

        Pieces are read a few megabytes at a time, each batch in its own
        short query: a log of many small appends takes few queries, and a
        piece larger than a batch (stored by an earlier version, which kept
        each write as one piece) is read in slices of a batch's size.
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
                if total > _BYTES_PER_FETCH:
                    pieces = None
                else:
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
            if pieces is None:
                yield from self._piece_slices(file_id, last, total)
            else:
                for data in pieces:
                    yield bytes(data)

    def _piece_slices(self, file_id, piece, size):
        """A large piece, a batch's size at a time, each in its own query."""
        for start in range(0, size, _BYTES_PER_FETCH):
            with self._read_transaction() as connection:
                data = connection.execute(
                    sa.select(
                        _slice(file_pieces.c.data, start, _BYTES_PER_FETCH)
                    ).where(
                        file_pieces.c.file_id == file_id, file_pieces.c.piece == piece
                    )
                ).scalar_one_or_none()
            if not data:
                # Replaced by a shorter file meanwhile: what there was is sent.
                return
            yield bytes(data)


# The columns of item_states, in the order of the rows made for it.
_ITEM_STATES_COLUMNS = [column.name for column in item_states.columns]
_STATE_COLUMN = _ITEM_STATES_COLUMNS.index("state")

_SQLITE_UPSERT_STATES = (
    "INSERT INTO item_states (%s) VALUES (%s)"
    " ON CONFLICT (run_id, item_key) DO UPDATE SET state = excluded.state"
    % (", ".join(_ITEM_STATES_COLUMNS), ", ".join("?" * len(_ITEM_STATES_COLUMNS)))
)

_UPSERT_STAGED_STATES = sa.text(
    "INSERT INTO item_states (%(columns)s) SELECT %(columns)s FROM staged_states"
    " ON CONFLICT (run_id, item_key) DO UPDATE SET state = excluded.state"
    % {"columns": ", ".join(_ITEM_STATES_COLUMNS)}
)


def _fetch_one(connection, statement, parameters):
    """The first row of a statement run by the driver itself: its cursor,
    which keeps what it was given, is gone when this returns."""
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(statement, parameters)
        return cursor.fetchone()


def _slice(data, start, length):
    """SQL for ``length`` bytes of a binary column from ``start`` (from 0):
    the database reads the slice, the store receives no more."""
    return sa.func.substr(
        data,
        sa.literal(start + 1, sa.Integer),
        sa.literal(length, sa.Integer),
        type_=sa.LargeBinary,
    )


def _content_digest(data):
    """The digest of a write's content, bytes or a binary file read from
    where it stands, which is left there."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _body_digest(data)
    start = data.tell()
    digest = hashlib.blake2b(digest_size=_BODY_DIGEST_SIZE)
    for piece in iter(lambda: data.read(MAX_PIECE_BYTES), b""):
        digest.update(piece)
    data.seek(start)
    return digest.digest()


def _pieces_of(data):
    """The size of a write's content, and an iterator of its pieces of at
    most MAX_PIECE_BYTES: one, empty, for no content."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        size = len(data)
        if size <= MAX_PIECE_BYTES:
            return size, iter([data])
        return size, (
            data[start : start + MAX_PIECE_BYTES]
            for start in range(0, size, MAX_PIECE_BYTES)
        )
    start = data.tell()
    size = data.seek(0, os.SEEK_END) - start
    data.seek(start)
    pieces = iter(lambda: data.read(MAX_PIECE_BYTES), b"")
    return size, pieces if size else iter([b""])


def _copy_bytes(data):
    """Bytes, or None, as a bytea field of COPY's text format."""
    return "\\N" if data is None else "\\\\x" + data.hex()


def _copy_text(text):
    """Text of JSON as a field of COPY's text format.

    JSON text holds no raw tab, newline or carriage return; it may hold
    backslashes, COPY's escape character.
    """
    return text.replace("\\", "\\\\")


# Create or lock the run, then claim the key: both in one statement, and in
# this order, so that repeats of a key wait for the run's lock, then find
# the key applied (and what it was applied to, in a statement of their own). Runs are numbered by a sequence and never deleted.
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
    INSERT INTO applied_requests (run_id, key, applied_at, kind, digest)
    SELECT id, %(key)s::text, %(now)s, %(kind)s::text, %(digest)s::bytea
    FROM run WHERE %(key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING key
)"""

_POSTGRESQL_BEGIN_WRITE = _POSTGRESQL_RUN_AND_KEY + """
SELECT id, record_count, EXISTS (SELECT FROM claimed) FROM run
"""

# An append to a file on PostgreSQL, in one round trip: appending logs piece
# by piece is the commonest write after push items. The file and its first
# piece are written only if the key was claimed (or there is none); it gives
# the run's id, and the file's id and last piece number, NULL if the key was
# applied before.
_POSTGRESQL_APPEND = _POSTGRESQL_RUN_AND_KEY + """, file AS (
    INSERT INTO files (run_id, name, size, piece_count, updated_at)
    SELECT id, %(filename)s, %(size)s, %(pieces)s, %(now)s FROM run
    WHERE %(key)s::text IS NULL OR EXISTS (SELECT FROM claimed)
    ON CONFLICT (run_id, name) DO UPDATE SET
        size = files.size + excluded.size,
        piece_count = files.piece_count + excluded.piece_count,
        updated_at = excluded.updated_at
    RETURNING id, piece_count
), piece AS (
    INSERT INTO file_pieces (file_id, piece, data)
    SELECT id, piece_count - %(pieces)s + 1, %(data)b FROM file
    WHERE %(size)s > 0 OR piece_count = 1
)
SELECT run.id, file.id, file.piece_count FROM run LEFT JOIN file ON TRUE
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
    runs.c.bad_line_count,
)
