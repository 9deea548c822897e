"""The tables of the store, as its latest migration leaves them.

The Alembic scripts in ``migrations/`` create and migrate the tables;
:data:`metadata` describes their latest revision for the queries.
"""

import datetime

import sqlalchemy as sa

from ..protocol import MAX_KEY_LENGTH, MAX_RUN_ID_LENGTH


class UtcDateTime(sa.types.TypeDecorator):
    """A moment, given back aware and in UTC on every database; for columns
    that are never NULL.

    SQLite keeps no time zone and gives moments back naive: the store
    writes them in UTC. PostgreSQL gives them back in the session's time
    zone, which the server or the database may set to any.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(
        self, value: datetime.datetime, dialect: sa.engine.Dialect
    ) -> datetime.datetime:
        """The moment read, in UTC."""
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc)


metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(MAX_RUN_ID_LENGTH), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("record_count", sa.BigInteger, nullable=False),
    # The lines of the run's records its client declared it could not
    # deliver (see bad_lines): they fail the run's verdict.
    sa.Column("bad_line_count", sa.BigInteger, nullable=False, server_default="0"),
)

# The two tables of a row per record or item have no foreign key: checking
# one costs a lookup in runs per row, and only the store's queries write them, always
# after creating the run.
push_items = sa.Table(
    "push_items",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record", sa.Text, nullable=False),
)

# The final state of each push item of a run, keyed by a digest of its
# (filename, dest): either may be longer than an index entry can be. They are
# kept as JSON strings, since a push item's may hold NUL, which PostgreSQL's
# text cannot. The queries sort names by their UTF-8 bytes, which sort by
# code point on both databases, and search the bytes with ASCII letters
# lowered (a match of UTF-8 bytes is a match of characters): the *_order
# columns keep the bytes where the JSON text escapes a character (else they
# are those of the JSON text within its quotes), the *_folded columns the
# lowered bytes where lowering changes them; NULL otherwise.
item_states = sa.Table(
    "item_states",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("item_key", sa.LargeBinary(16), primary_key=True),
    sa.Column("filename_json", sa.Text, nullable=False),
    sa.Column("dest_json", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("filename_order", sa.LargeBinary, nullable=True),
    sa.Column("dest_order", sa.LargeBinary, nullable=True),
    sa.Column("filename_folded", sa.LargeBinary, nullable=True),
    sa.Column("dest_folded", sa.LargeBinary, nullable=True),
    sa.Index("item_states_by_state", "run_id", "state", "first_seq"),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("piece_count", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("run_id", "name", name="files_run_id_name_key"),
)

# Appends are kept as pieces, so that appending costs the piece, not the file.
file_pieces = sa.Table(
    "file_pieces",
    metadata,
    sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id"), primary_key=True),
    sa.Column("piece", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# The keys each run applied, and what to: the kind of request (with the file
# it writes) and a digest of its body, so that another request reusing a key
# is refused rather than taken for a repeat. Keys applied before revision
# 0002 have neither, and are taken for repeats of any request.
applied_requests = sa.Table(
    "applied_requests",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(MAX_KEY_LENGTH), primary_key=True),
    sa.Column("applied_at", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.Text, nullable=True),
    sa.Column("digest", sa.LargeBinary(32), nullable=True),
)

# The lines a client could not deliver, as it declared them (PUT .../bad-lines):
# lines of its run on disk it could not read, or records the service would
# refuse. Their reasons are kept as JSON strings, which may hold any text.
bad_lines = sa.Table(
    "bad_lines",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("line_number", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("reason_json", sa.Text, nullable=False),
)
