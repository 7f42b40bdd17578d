"""requests from outside callers: who asked, the context for the decider, the caller's reference,
where the settled request is posted

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("caller", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("context", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("reference", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("callback_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("human_requests", schema=None) as batch_op:
        batch_op.drop_column("callback_url")
        batch_op.drop_column("reference")
        batch_op.drop_column("context")
        batch_op.drop_column("caller")
