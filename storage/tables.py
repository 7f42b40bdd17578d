"""The platform's tables. Threads and events hold execution state; the rest are projections of events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel


class ThreadRow(SQLModel, table=True):
    __tablename__ = "threads"

    id: str = Field(primary_key=True)
    agent: str = Field(index=True)
    status: str = Field(index=True)
    requester: str | None = None
    channel: str
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
    deadline: datetime | None = None
    decided_by: str | None = None
    decided_via: str | None = None
    decided_at: datetime | None = None
    answer: str | None = Field(default=None, sa_column=Column(Text))


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


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    thread_id: str
    seq: int
    recipient: str | None = None
    channel: str
    kind: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    request_id: str | None = None
    status: str = "pending"
    attempts: int = 0
    idempotency_key: str = Field(unique=True)
    created_at: datetime
