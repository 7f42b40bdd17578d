"""The inbox's contract with its store: the store finds the situation of an inbound message, core
decides its routing (core/inbox.py `route`), the store applies it, all in one transaction, and
answers with a receipt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.channels import InboundMessage
from core.events import Event, MessageReceived
from core.records import OutboxMessage, Person, RequestInfo, ThreadInfo


@dataclass(frozen=True, slots=True)
class Situation:
    """What the store found for one inbound message, inside the transaction that will route it."""

    message: InboundMessage
    person: Person | None
    thread: ThreadInfo | None  # the conversation's latest thread
    requests: list[RequestInfo]  # the one referenced, or the sender's open ones here
    deciders: dict[str, Person]  # who decided the requests above, for "already approved by"
    edited: Edited | None = None  # the message this one edits, where it is in which thread


@dataclass(frozen=True, slots=True)
class Edited:
    """A message that was received before, as its thread holds it."""

    thread_id: str
    seq: int
    event: MessageReceived
    read: bool  # the agent has been called since it arrived


@dataclass(frozen=True, slots=True)
class Start:
    agent: str
    event: MessageReceived
    requester: str | None


@dataclass(frozen=True, slots=True)
class Append:
    thread_id: str
    events: list[Event]
    outcome: Literal["continued", "answered", "refused"]
    request_id: str | None = None
    outbox: list[OutboxMessage] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Refuse:
    detail: str
    notice: OutboxMessage | None = None


@dataclass(frozen=True, slots=True)
class Ignore:
    """A message that is not for the agent (overheard in a conversation it is not in): answered,
    and neither kept nor noticed: Switchboard stores no one else's conversations."""

    detail: str


Routing = Start | Append | Refuse | Ignore


@dataclass(frozen=True, slots=True)
class Received:
    outcome: Literal["started", "continued", "answered", "refused", "ignored", "duplicate"]
    detail: str = ""
    thread_id: str | None = None
    request_id: str | None = None
    runnable: bool = False  # a worker has something to do on the thread now
