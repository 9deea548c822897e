"""The first schema: runs, their push items and final states, files.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "push_items",
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_table(
        "item_states",
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("item_key", sa.LargeBinary(16), primary_key=True),
        sa.Column("filename_json", sa.Text, nullable=False),
        sa.Column("dest_json", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "item_states_by_state", "item_states", ["run_id", "state", "first_seq"]
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("piece_count", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "name", name="files_run_id_name_key"),
    )
    op.create_table(
        "file_pieces",
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id"), primary_key=True),
        sa.Column("piece", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "applied_requests",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(256), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    for table in (
        "applied_requests",
        "file_pieces",
        "files",
        "item_states",
        "push_items",
        "runs",
    ):
        op.drop_table(table)
