"""The records core and storage exchange: threads, requests, people, events, outbox and inbox rows,
and the step that writes them. The stores' protocols are in core/store.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from core.channels import InboundMessage
from core.events import Event
from core.state import ExecutionState
from core.text import Name

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


class GivenApproval(BaseModel):
    """One person's approval of a request that needs several: who, where and when."""

    by: str
    via: str
    at: datetime
    counted_as: str | None = None  # with distinct roles: the recipients' entry it stands for
    acting: str | None = None  # who gave it for `by` ("operator"), if not they


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
    acted_by: str | None = Field(
        None, description='Who decided for `decided_by` ("operator"), when they did not themselves.'
    )
    # An approval's policy (events.HumanRequested) and the approvals given so far.
    required: int = Field(1, description="How many distinct people must approve (an approval).")
    distinct_roles: bool = Field(
        False, description="Each approval must stand for another entry of `recipients`."
    )
    requester: str | None = Field(
        None, description="Who asked for it: they may not decide it, unless `self_approval`."
    )
    self_approval: bool = Field(False, description="The policy lets the requester approve.")
    approvals: list[GivenApproval] = Field(
        [], description="The approvals given so far, the last one's too once it settled it."
    )
    caller: str | None = Field(
        None, description="The outside caller that asked for it; None: an agent's request."
    )
    context: str = Field("", description="What the caller tells the decider, beside the question.")
    reference: str = Field("", description="The caller's own reference for it.")
    callback_url: str | None = Field(
        None, description="Where the settled request is posted, signed with the caller's secret."
    )

    @computed_field(description="How many more approvals it needs.")  # type: ignore[prop-decorator]
    @property
    def waiting_for(self) -> int:
        return max(0, self.required - len(self.approvals)) if self.kind == "approval" else 0


class Caller(BaseModel):
    """An agent outside that asks people through Switchboard, with a key of its own
    (core/callers.py)."""

    name: str = Field(description="Its name, in the timeline and the Inbox.", examples=["ci-bot"])
    scope: list[str] = Field(
        description="Whom it may ask: person ids, and `role:NAME` for the people with a role.",
        examples=[["role:deploy-approver"]],
    )
    created_at: datetime
    revoked_at: datetime | None = None
    # Signs the decisions sent to its callback; shown once, when the key is made.
    secret: str = Field("", exclude=True, repr=False)


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
    private_reply: str | None = None  # a notice: the sender's private way back (InboundMessage)

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
            private_reply=message.private_reply or None,
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
    private_reply: str | None = None
    parent_id: int | None
    payload: dict[str, Any] | None
    message_id: str | None
    next_attempt_at: float
    last_error: str | None
    sent_at: datetime | None
    delivery: str | None = None  # the platform's furthest word on it: sent, delivered, read, failed


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
