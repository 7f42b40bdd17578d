"""support: its tables (orders and refunds) join the support branch

They were made, and seeded with the demo's reference data, by the platform's revision 0001, from
before agents owned their tables; every database has them once it is at 0002. This revision
adopts them as they are, and the support branch makes every later change to them.

Revision ID: support_0001
Revises:
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

revision: str = "support_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("support",)
depends_on: str | Sequence[str] | None = "0002"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
