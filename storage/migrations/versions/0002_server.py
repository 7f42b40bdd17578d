"""server: inbox, identities, routing, escalation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:14:37.581560
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "identities",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "address"),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_person_id"), ["person_id"], unique=False)

    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("person_id", sa.String(), nullable=True),
        sa.Column("conversation", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id", name="uq_inbox_external"),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_conversation", ["channel", "conversation"], unique=False)

    op.create_table(
        "service_settings",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("human_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resend_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("widen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("level", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_human_requests_next_at"), ["next_at"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("address", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("conversation", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("next_attempt_at", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("thread_id", existing_type=sa.VARCHAR(), nullable=True)
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.create_index("ix_outbox_status", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_conversation", ["channel", "conversation"], unique=False)
        batch_op.create_index("ix_outbox_request", ["request_id"], unique=False)

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("identities", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation", sa.String(), nullable=True))
        batch_op.create_index("ix_threads_conversation", ["channel", "conversation"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_index("ix_threads_conversation")
        batch_op.drop_column("conversation")

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("identities")
        batch_op.drop_column("channels")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_request")
        batch_op.drop_index("ix_outbox_conversation")
        batch_op.drop_index("ix_outbox_status")
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)
        batch_op.alter_column("thread_id", existing_type=sa.VARCHAR(), nullable=False)
        batch_op.drop_column("sent_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("message_id")
        batch_op.drop_column("payload")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("conversation")
        batch_op.drop_column("address")
        batch_op.drop_column("rank")

    with op.batch_alter_table("human_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_requests_next_at"))
        batch_op.drop_column("next_at")
        batch_op.drop_column("level")
        batch_op.drop_column("widen_at")
        batch_op.drop_column("resend_at")

    op.drop_table("service_settings")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_conversation")

    op.drop_table("inbox")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_person_id"))

    op.drop_table("identities")
