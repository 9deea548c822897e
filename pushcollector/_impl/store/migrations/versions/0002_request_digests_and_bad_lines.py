"""What each Idempotency-Key was applied to: the kind of request and a
digest of its body; and the lines of a run its client could not deliver.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: the keys applied before this revision are known by their
    # name alone, and are taken for repeats of whatever request reuses them.
    with op.batch_alter_table("applied_requests") as table:
        table.add_column(sa.Column("kind", sa.Text, nullable=True))
        table.add_column(sa.Column("digest", sa.LargeBinary(32), nullable=True))
    # Runs recorded before were declared no bad lines.
    with op.batch_alter_table("runs") as table:
        table.add_column(
            sa.Column(
                "bad_line_count", sa.BigInteger, nullable=False, server_default="0"
            )
        )
    op.create_table(
        "bad_lines",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("line_number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("reason_json", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("bad_lines")
    with op.batch_alter_table("runs") as table:
        table.drop_column("bad_line_count")
    with op.batch_alter_table("applied_requests") as table:
        table.drop_column("digest")
        table.drop_column("kind")
