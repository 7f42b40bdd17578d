"""What the core needs from storage. `storage.SqlStore` implements it; core never imports storage."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from core.channels import DeliveryStatus, InboundMessage
from core.events import Event, MessageReceived
from core.state import ExecutionState
from core.text import Name
from core.tools import BusinessData

RequestStatus = Literal["open", "approved", "rejected", "answered", "timed_out", "cancelled"]
OutboxStatus = Literal["pending", "sending", "sent", "routed", "dead", "skipped"]


class ThreadInfo(BaseModel):
    id: str
    agent: str
    status: str
    requester: str | None
    channel: str
    conversation: str | None = None
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
    resend_at: datetime | None = None
    widen_at: datetime | None = None
    deadline: datetime | None
    level: int = 0
    next_at: datetime | None = None
    decided_by: str | None
    decided_via: str | None
    decided_at: datetime | None
    answer: str | None


class Person(BaseModel):
    id: Name
    name: Name
    roles: list[Name] = []
    escalate_to: Name | None = None
    channels: list[Name] = []  # preferred order; where requests go first
    # channel → this person's address there, in the channel's one form (its codec's `normalize`:
    # applied where people are saved, by the service and the API, which have the channels)
    identities: dict[Name, Name] = {}

    def preferred(self) -> list[str]:
        """The channels to reach this person on, best first: the stated order, then the rest."""
        listed = [c for c in self.channels if c in self.identities]
        return listed + [c for c in self.identities if c not in listed]


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


OutboxKind = Literal["reply", "request", "notice", "outcome"]

# How "the dispatcher routes it" (`channel` None) is written where a string must stand for it:
# the outbox table's channel column, and the API's deliveries.
AUTO = "auto"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """A message to send, written with the step that caused it.

    `channel` None leaves the route to the dispatcher: a reply goes back into the thread's
    conversation, a request to each recipient's preferred channel (from `rank` on), an outcome to
    every copy of its request. The named constructors build those; a concrete delivery names its
    channel and address.
    """

    kind: OutboxKind
    text: str = ""
    recipient: str | None = None
    channel: str | None = None
    request_id: str | None = None
    address: str | None = None
    conversation: str | None = None
    rank: int = 0
    edit_of: str | None = None  # an outcome updates the platform message with this id

    @classmethod
    def reply(cls, text: str, *, to: str | None) -> OutboxMessage:
        """The agent's answer to its requester, in the thread's conversation."""
        return cls(kind="reply", text=text, recipient=to)

    @classmethod
    def request(
        cls, request_id: str, question: str, *, to: str | None, rank: int = 0
    ) -> OutboxMessage:
        """A human request for `to` (a person or `role:NAME`), on their channel number `rank`."""
        return cls(kind="request", text=question, recipient=to, request_id=request_id, rank=rank)

    @classmethod
    def outcome_of(cls, request_id: str) -> OutboxMessage:
        """How the request was settled, shown on every copy of it: other channels, other people."""
        return cls(kind="outcome", request_id=request_id)

    @classmethod
    def notice_to(cls, message: InboundMessage, text: str, *, person: str | None) -> OutboxMessage:
        """A notice to whoever sent `message`, where they sent it (why it was refused, say)."""
        return cls(
            kind="notice",
            text=text,
            recipient=person,
            channel=message.channel,
            address=message.sender,
            conversation=message.conversation,
        )


class OutboxItem(BaseModel):
    """An outbox row, as the dispatcher and the console see it."""

    id: int
    thread_id: str | None
    recipient: str | None
    channel: str | None  # None until the dispatcher routes it
    kind: OutboxKind
    text: str
    request_id: str | None
    status: OutboxStatus
    attempts: int
    idempotency_key: str
    created_at: datetime
    rank: int
    address: str | None
    conversation: str | None
    parent_id: int | None
    payload: dict[str, Any] | None
    message_id: str | None
    next_attempt_at: float
    last_error: str | None
    sent_at: datetime | None


class InboxItem(BaseModel):
    """A message that arrived, and what the inbox made of it."""

    id: int
    channel: str
    external_id: str
    sender: str
    person_id: str | None
    conversation: str
    text: str
    action: dict[str, Any] | None
    received_at: datetime
    outcome: str
    thread_id: str | None
    request_id: str | None
    detail: str


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

    async def renew(self, thread_id: str, owner: str, *, seconds: float) -> bool:
        """Extend `owner`'s lease to `seconds` from now; False if it is no longer `owner`'s."""
        ...

    async def release(self, thread_id: str, owner: str) -> None: ...

    async def commit(self, step: Step) -> int:
        """Write the step; returns the new last seq. Raises Conflict or AlreadyDecided."""
        ...

    def data(self, pending: list[Any]) -> BusinessData: ...

    async def thread(self, thread_id: str) -> ThreadInfo | None: ...

    async def threads(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        limit: int = 100,
    ) -> list[ThreadInfo]:
        """The most recently active first."""
        ...

    async def request(self, request_id: str) -> RequestInfo | None: ...

    async def requests(
        self, *, status: str | None = "open", thread_id: str | None = None
    ) -> list[RequestInfo]: ...

    async def person(self, person_id: str) -> Person | None: ...

    async def people(self) -> list[Person]: ...

    async def save_people(self, people: list[Person]) -> None: ...

    async def close(self) -> None: ...

    # --- the server: inbox, outbox, timers -------------------------------------------------------

    async def receive(
        self, message: InboundMessage, route: Callable[[Situation], Routing]
    ) -> Received:
        """Deduplicate, find the situation, route it and apply the routing: one transaction."""
        ...

    async def listen(self, wake: Callable[[str], None]) -> None:
        """Until cancelled, call `wake` with the work other processes made: "thread:<id>",
        "outbox", "timers". Returns at once on a database that cannot tell (SQLite)."""
        ...

    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        """Wait until this process holds the lock `name` (one process at a time), and hold it
        for the block; a lost hold cancels the block (core/ingress.py runs listeners in one)."""
        ...

    async def outbox_delivery(self, status: DeliveryStatus) -> int | None:
        """Record the platform's delivery status on the row it sent; the row's id, or None."""
        ...

    async def person_by_identity(self, channel: str, address: str) -> Person | None: ...

    async def runnable(self, *, limit: int = 100) -> list[str]:
        """Threads a worker should advance now: work to do and no live lease."""
        ...

    async def outbox_due(
        self, now: float, *, limit: int = 50, lease: float = 60.0
    ) -> list[OutboxItem]:
        """Take due rows (pending, or sending with an expired lease) for delivery."""
        ...

    async def outbox_next_at(self) -> float | None: ...

    async def outbox_route(
        self, item_id: int, deliveries: list[OutboxMessage], skip: str = ""
    ) -> None:
        """Replace a row to route by concrete deliveries; none at all marks it skipped, saying why."""
        ...

    async def outbox_sent(
        self, item_id: int, *, message_id: str, conversation: str, payload: dict[str, Any]
    ) -> None: ...

    async def outbox_failed(self, item_id: int, *, error: str, retry_at: float | None) -> None:
        """Record a failed attempt; retry_at None moves the row to the dead letters."""
        ...

    async def outbox(
        self,
        *,
        request_id: str | None = None,
        channel: str | None = None,
        status: str | None = None,
        limit: int = 500,
    ) -> list[OutboxItem]: ...

    async def inbox(
        self, *, channel: str | None = None, conversation: str | None = None, limit: int = 500
    ) -> list[InboxItem]:
        """The newest `limit` messages that arrived, oldest first."""
        ...

    async def due_requests(self, now: datetime) -> list[RequestInfo]:
        """Open requests whose next escalation step is due."""
        ...

    async def next_request_timer(self) -> datetime | None: ...

    async def service_setting(self, key: str) -> str | None: ...

    async def save_service_setting(self, key: str, value: str) -> None: ...

    async def counts(self) -> dict[str, dict[str, int]]:
        """Rows per status for threads, requests, outbox: what /metrics shows."""
        ...


# --- the inbox's contract: the store finds the situation, core decides, the store applies ----------


@dataclass(frozen=True, slots=True)
class Situation:
    """What the store found for one inbound message, inside the transaction that will route it."""

    message: InboundMessage
    person: Person | None
    thread: ThreadInfo | None  # the conversation's latest thread
    requests: list[RequestInfo]  # the one referenced, or the sender's open ones here
    deciders: dict[str, Person]  # who decided the requests above, for "already approved by"


@dataclass(frozen=True, slots=True)
class Start:
    agent: str
    event: MessageReceived
    requester: str | None


@dataclass(frozen=True, slots=True)
class Append:
    thread_id: str
    events: list[Event]
    outcome: Literal["continued", "answered"]
    request_id: str | None = None
    outbox: list[OutboxMessage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refuse:
    detail: str
    notice: OutboxMessage | None = None


Routing = Start | Append | Refuse


@dataclass(frozen=True, slots=True)
class Received:
    outcome: Literal["started", "continued", "answered", "refused", "duplicate"]
    detail: str = ""
    thread_id: str | None = None
    request_id: str | None = None
    runnable: bool = False  # a worker has something to do on the thread now
