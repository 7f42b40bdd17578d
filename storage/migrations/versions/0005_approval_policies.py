"""approval policies: how many distinct people must approve, from distinct entries or not, the
requester who may not decide (unless the policy allows it), and the approvals given so far

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("required", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("distinct_roles", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("requester", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("self_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("approvals", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("human_requests", schema=None) as batch_op:
        for name in ("approvals", "self_approval", "requester", "distinct_roles", "required"):
            batch_op.drop_column(name)
