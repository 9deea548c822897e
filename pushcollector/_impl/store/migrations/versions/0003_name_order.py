"""The names of push items as bytes, to sort and search them by.

The final states kept the filename and dest only as JSON text, and were
sorted and searched by it, escapes and quotes included: "foo bar" came
before "foo", and a search for ``u000`` found a control character. The
UTF-8 bytes of a name sort by code point on both databases; with ASCII
letters lowered, they are searched for the case-insensitive filter, where
a match of bytes is a match of characters, UTF-8 being self-synchronising.
Each is kept only where it differs from what the store has already: the
bytes where the JSON text escapes a character (else they are those of the
JSON text within its quotes), the lowered bytes where lowering changes
them.

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = ("filename_order", "dest_order", "filename_folded", "dest_folded")

# Rows of item_states filled per statement.
_ROWS_PER_BATCH = 5000


def upgrade():
    for name in _COLUMNS:
        op.add_column("item_states", sa.Column(name, sa.LargeBinary, nullable=True))
    _fill()


def _fill():
    """Fill the new columns from the JSON text of every row, a batch at a
    time by the primary key."""
    table = sa.table(
        "item_states",
        sa.column("run_id", sa.Integer),
        sa.column("item_key", sa.LargeBinary),
        sa.column("filename_json", sa.Text),
        sa.column("dest_json", sa.Text),
        *(sa.column(name, sa.LargeBinary) for name in _COLUMNS),
    )
    connection = op.get_bind()
    update = (
        table.update()
        .where(
            table.c.run_id == sa.bindparam("b_run_id"),
            table.c.item_key == sa.bindparam("b_item_key"),
        )
        .values({name: sa.bindparam("b_" + name) for name in _COLUMNS})
    )
    after = None
    while True:
        query = sa.select(
            table.c.run_id, table.c.item_key, table.c.filename_json, table.c.dest_json
        ).order_by(table.c.run_id, table.c.item_key)
        if after is not None:
            query = query.where(sa.tuple_(table.c.run_id, table.c.item_key) > after)
        rows = connection.execute(query.limit(_ROWS_PER_BATCH)).all()
        if not rows:
            return
        connection.execute(update, [_filled(*row) for row in rows])
        after = tuple(rows[-1][:2])


def _filled(run_id, item_key, filename_json, dest_json):
    filename = json.loads(filename_json).encode("utf-8")
    dest = None if dest_json is None else json.loads(dest_json).encode("utf-8")
    return {
        "b_run_id": run_id,
        "b_item_key": item_key,
        "b_filename_order": _unlike_json(filename_json, filename),
        "b_dest_order": None if dest is None else _unlike_json(dest_json, dest),
        "b_filename_folded": _folded(filename),
        "b_dest_folded": None if dest is None else _folded(dest),
    }


def _unlike_json(json_text, name):
    # As the store writes them: only where the JSON text holds an escape,
    # else the bytes are those of the JSON text within its quotes.
    return name if "\\" in json_text else None


def _folded(name):
    # As the store writes them: NULL where lowering changes nothing. (A
    # migration keeps its own code: the store's may change after it.)
    lowered = name.lower()
    return None if lowered == name else lowered


def downgrade():
    for name in reversed(_COLUMNS):
        op.drop_column("item_states", name)
