"""What the API answers with, beyond the store's own records: timelines and where requests went."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.records import AUTO, OutboxItem, OutboxStatus, RequestInfo, StoredEvent, ThreadInfo
from core.store import Queries
from core.timeline import describe, event_json


class EventOut(BaseModel):
    """One event of a thread: its own fields (by `type`), and a line for people to read."""

    model_config = ConfigDict(extra="allow")

    seq: int
    tokens: int
    type: str
    at: datetime
    summary: str = Field(description="The event as one human-readable line.")

    @classmethod
    def of(cls, stored: StoredEvent) -> EventOut:
        return cls.model_validate({**event_json(stored), "summary": describe(stored.event)})


class Delivery(BaseModel):
    """One copy of a request (or of its outcome): where it was sent, and what became of it."""

    id: int
    kind: Literal["reply", "request", "notice", "outcome"]
    recipient: str | None
    channel: str = Field(description=f"Where it went; `{AUTO}` until the dispatcher chooses.")
    address: str | None
    conversation: str | None
    status: OutboxStatus
    attempts: int
    message_id: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivery: str | None = Field(
        None,
        description="The platform's furthest report on the message: sent, delivered, read or"
        " failed (a failure's reason is in last_error); null before any report.",
    )

    @classmethod
    def of(cls, item: OutboxItem) -> Delivery:
        return cls.model_validate({**item.model_dump(), "channel": item.channel or AUTO})


class RequestDetail(RequestInfo):
    """A human request, with every delivery of it; `decided_*` say who answered, where, when."""

    deliveries: list[Delivery]


class ThreadDetail(BaseModel):
    thread: ThreadInfo
    events: list[EventOut]
    requests: list[RequestDetail]


async def request_detail(store: Queries, request: RequestInfo) -> RequestDetail:
    rows = await store.outbox(request_id=request.id)
    # A `routed` row only stood for "work out where this goes": its deliveries are the rows after.
    deliveries = [Delivery.of(r) for r in rows if r.status != "routed"]
    return RequestDetail(**request.model_dump(), deliveries=deliveries)


async def thread_detail(store: Queries, thread: ThreadInfo) -> ThreadDetail:
    events = [EventOut.of(e) for e in await store.events(thread.id)]
    requests = await store.requests(status=None, thread_id=thread.id)
    details = [await request_detail(store, r) for r in requests]
    return ThreadDetail(thread=thread, events=events, requests=details)
