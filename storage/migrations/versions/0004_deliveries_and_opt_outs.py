"""deliveries and opt-outs: the platform's furthest report on each message sent, and the
addresses whose owners asked for no more messages (an SMS STOP)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 19:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery", sa.String(), nullable=True))
    op.create_table(
        "opt_outs",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "address"),
    )


def downgrade() -> None:
    op.drop_table("opt_outs")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("delivery")
