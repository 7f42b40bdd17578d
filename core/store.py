"""What the core needs from storage. `storage.SqlStore` implements it; core never imports storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from core.events import Event, MessageReceived
from core.state import ExecutionState
from core.tools import BusinessData

RequestStatus = Literal["open", "approved", "rejected", "answered", "timed_out", "cancelled"]


class ThreadInfo(BaseModel):
    id: str
    agent: str
    status: str
    requester: str | None
    channel: str
    parent_id: str | None
    created_at: datetime
    updated_at: datetime
    steps: int
    tokens: int
    cost: float


class RequestInfo(BaseModel):
    id: str
    thread_id: str
    kind: Literal["question", "approval"]
    purpose: str
    status: RequestStatus
    question: str
    recipients: list[str]
    options: list[str]
    tool: str | None
    arguments: dict[str, Any] | None
    arguments_hash: str | None
    created_at: datetime
    deadline: datetime | None
    decided_by: str | None
    decided_via: str | None
    decided_at: datetime | None
    answer: str | None


class Person(BaseModel):
    id: str
    name: str
    roles: list[str] = []
    escalate_to: str | None = None


class StoredEvent(BaseModel):
    seq: int
    tokens: int
    event: Event


@dataclass(frozen=True, slots=True)
class LoadedThread:
    agent: str
    requester: str | None
    state: ExecutionState
    last_seq: int
    context: list[StoredEvent]  # the events since the last context compaction, and that one


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    recipient: str | None
    channel: str
    kind: Literal["reply", "request", "notice"]
    text: str
    request_id: str | None = None


@dataclass(slots=True)
class Step:
    """One unit of work: everything one step of a thread changes, committed together or not at all."""

    thread_id: str
    after_seq: int  # the last event this step saw; a concurrent writer makes the commit fail
    events: list[tuple[Event, int]]  # with each event's token count
    state: ExecutionState
    business: list[Any] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    owner: str | None = None  # the lease holder: the commit fails if it lost the lease
    lease_seconds: float = 0.0  # and extends the lease by this much
    release: bool = False  # or gives it up, when the step leaves nothing to do


class Conflict(Exception):
    """Another writer appended to the thread first; reload and decide again."""


class AlreadyDecided(Exception):
    def __init__(self, request: RequestInfo) -> None:
        when = (
            request.decided_at.strftime("%Y-%m-%d %H:%M UTC") if request.decided_at else "earlier"
        )
        super().__init__(
            f"request {request.id} was already {request.status} by {request.decided_by}"
            f" via {request.decided_via}, {when}"
        )
        self.request = request


class Store(Protocol):
    async def create_thread(
        self,
        *,
        agent: str,
        first: MessageReceived,
        requester: str | None,
        channel: str,
        parent_id: str | None = None,
    ) -> str: ...

    async def state(self, thread_id: str) -> tuple[ExecutionState, int]:
        """The thread's execution state and last seq, without its events."""
        ...

    async def events(self, thread_id: str) -> list[StoredEvent]: ...

    async def claim(self, thread_id: str, owner: str, *, seconds: float) -> LoadedThread | None:
        """Take the lease (free, expired, or ours) and load the thread; None if another holds it."""
        ...

    async def release(self, thread_id: str, owner: str) -> None: ...

    async def commit(self, step: Step) -> int:
        """Write the step; returns the new last seq. Raises Conflict or AlreadyDecided."""
        ...

    def data(self, pending: list[Any]) -> BusinessData: ...

    async def thread(self, thread_id: str) -> ThreadInfo | None: ...

    async def threads(self, *, status: str | None = None, limit: int = 100) -> list[ThreadInfo]: ...

    async def request(self, request_id: str) -> RequestInfo | None: ...

    async def requests(self, *, status: str | None = "open") -> list[RequestInfo]: ...

    async def person(self, person_id: str) -> Person | None: ...

    async def people(self) -> list[Person]: ...

    async def save_people(self, people: list[Person]) -> None: ...

    async def close(self) -> None: ...
