"""The platform's tables. Threads and events hold execution state; the rest are projections of events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, Index, Integer, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel


class ThreadRow(SQLModel, table=True):
    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_conversation", "channel", "conversation"),)

    id: str = Field(primary_key=True)
    agent: str = Field(index=True)
    status: str = Field(index=True)
    requester: str | None = None
    channel: str
    conversation: str | None = None  # where on the channel it was started: replies go there
    parent_id: str | None = Field(default=None, index=True)
    created_at: datetime
    updated_at: datetime
    steps: int = 0
    tokens: int = 0
    cost: float = 0.0
    last_seq: int = 0
    state: str = Field(sa_column=Column(Text, nullable=False))  # ExecutionState, folded from events
    lease_owner: str | None = None
    lease_until: float = 0.0


class EventRow(SQLModel, table=True):
    __tablename__ = "events"

    thread_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    type: str
    tokens: int
    data: str = Field(sa_column=Column(Text, nullable=False))


class HumanRequestRow(SQLModel, table=True):
    __tablename__ = "human_requests"
    __table_args__ = (Index("ix_human_requests_status", "status"),)

    id: str = Field(primary_key=True)
    thread_id: str = Field(index=True)
    kind: str
    purpose: str
    status: str
    question: str = Field(sa_column=Column(Text, nullable=False))
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    options: list[str] = Field(sa_column=Column(JSON, nullable=False))
    tool: str | None = None
    arguments: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    arguments_hash: str | None = None
    created_at: datetime
    resend_at: datetime | None = None
    widen_at: datetime | None = None
    deadline: datetime | None = None
    level: int = 0  # escalation steps taken: 1 re-sent, 2 widened
    next_at: datetime | None = Field(default=None, index=True)  # the next timer, while open
    decided_by: str | None = None
    decided_via: str | None = None
    decided_at: datetime | None = None
    answer: str | None = Field(default=None, sa_column=Column(Text))
    required: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    distinct_roles: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    requester: str | None = None
    acted_by: str | None = None
    self_approval: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    approvals: list[dict[str, object]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    caller: str | None = None
    context: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    reference: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    callback_url: str | None = Field(default=None, sa_column=Column(Text))


class ModelCallRow(SQLModel, table=True):
    __tablename__ = "model_calls"
    # Small rows: on SQLite they live in the primary key's b-tree, with no rowid and no 2nd index.
    __table_args__ = {"sqlite_with_rowid": False}

    thread_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    model: str
    purpose: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    latency_ms: float
    at: datetime


class PersonRow(SQLModel, table=True):
    __tablename__ = "people"

    id: str = Field(primary_key=True)
    name: str
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    escalate_to: str | None = None
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    identities: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IdentityRow(SQLModel, table=True):
    """Who a sender is: one address per person per channel, unique across people."""

    __tablename__ = "identities"

    channel: str = Field(primary_key=True)
    address: str = Field(primary_key=True)
    person_id: str = Field(index=True)


class OptOutRow(SQLModel, table=True):
    """An address whose owner asked for no more messages there (an SMS STOP), until they opt in."""

    __tablename__ = "opt_outs"

    channel: str = Field(primary_key=True)
    address: str = Field(primary_key=True)
    at: datetime


class InboxRow(SQLModel, table=True):
    """Every message that arrived, once: (channel, external id) is the deduplication key."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_inbox_external"),
        Index("ix_inbox_conversation", "channel", "conversation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    sender: str
    person_id: str | None = None
    conversation: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    action: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    attachments: list[dict[str, object]] = Field(sa_column=Column(JSON, nullable=False))
    raw: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime
    outcome: str  # started, continued, answered, refused
    thread_id: str | None = None
    request_id: str | None = None
    detail: str = Field(sa_column=Column(Text, nullable=False))


class SettingRow(SQLModel, table=True):
    """Values the service keeps for itself, such as the API token it generated."""

    __tablename__ = "service_settings"

    key: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


class CallerRow(SQLModel, table=True):
    """An outside caller's API key (core/callers.py): kept as its hash, with whom it may ask and
    the secret that signs the decisions sent to its callback."""

    __tablename__ = "callers"

    name: str = Field(primary_key=True)
    key_hash: str = Field(unique=True)
    scope: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    revoked_at: datetime | None = None


class OutboxRow(SQLModel, table=True):
    """Every outgoing message, written in the transaction that caused it; the dispatcher sends it.

    A row for channel `auto` names a person or role; routing replaces it by one row per delivery
    (the person's preferred channel and address), each with its `parent_id`.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status", "status", "next_attempt_at"),
        Index("ix_outbox_request", "request_id"),
        Index("ix_outbox_conversation", "channel", "conversation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    thread_id: str | None = None
    seq: int
    recipient: str | None = None  # a person id or role:NAME
    channel: str
    kind: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    request_id: str | None = None
    status: str = "pending"  # pending, sending, sent, routed, dead, skipped
    attempts: int = 0
    idempotency_key: str = Field(unique=True)
    created_at: datetime
    rank: int = 0  # which of the recipient's preferred channels: 1 after an escalation re-send
    address: str | None = None  # the recipient's address on `channel`
    conversation: str | None = None
    private_reply: str | None = None  # a notice: the platform's handle to answer its sender alone
    parent_id: int | None = None
    payload: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    message_id: str | None = None  # the platform's id for the sent message, to update it later
    delivery: str | None = (
        None  # the platform's furthest report on it (core.channels.DeliveryStatus)
    )
    next_attempt_at: float = 0.0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = None


# The tables as SQLAlchemy Core sees them: every statement in storage/ is written against these.
threads = ThreadRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
requests = HumanRequestRow.__table__  # type: ignore[attr-defined]
model_calls = ModelCallRow.__table__  # type: ignore[attr-defined]
outbox = OutboxRow.__table__  # type: ignore[attr-defined]
people = PersonRow.__table__  # type: ignore[attr-defined]
identities = IdentityRow.__table__  # type: ignore[attr-defined]
opt_outs = OptOutRow.__table__  # type: ignore[attr-defined]
inbox = InboxRow.__table__  # type: ignore[attr-defined]
service_settings = SettingRow.__table__  # type: ignore[attr-defined]
callers = CallerRow.__table__  # type: ignore[attr-defined]
