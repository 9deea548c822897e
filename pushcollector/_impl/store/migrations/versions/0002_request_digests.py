"""What each Idempotency-Key was applied to: the kind of request and a
digest of its body.

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


def downgrade():
    with op.batch_alter_table("applied_requests") as table:
        table.drop_column("digest")
        table.drop_column("kind")
