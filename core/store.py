"""What the core needs from storage, one protocol per concern; `storage.SqlStore` implements them
all (the SQL side is split the same way, storage/), and core never imports storage.

Each consumer names only what it uses: the runtime `Steps` and `Directory`, the inbox `Receiving`,
the dispatcher `Sending`, the timers `Timing`, the console and the API `Queries`. `Store` is all of
them: what the start-up (core/service.py `open_service`) opens and hands out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from core.channels import Consent, DeliveryStatus, InboundMessage
from core.events import MessageReceived
from core.records import (
    Caller,
    InboxItem,
    LoadedThread,
    OutboxItem,
    OutboxMessage,
    Person,
    RequestInfo,
    Step,
    StoredEvent,
    ThreadInfo,
)
from core.situation import Received, Routing, Situation
from core.state import ExecutionState
from core.tools import BusinessData


class Steps(Protocol):
    """A thread's life: created, leased by one worker at a time, moved on by whole steps."""

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

    async def runnable(self, *, limit: int = 100) -> list[str]:
        """Threads a worker should advance now: work to do and no live lease."""
        ...


class Directory(Protocol):
    """The people, their roles and their addresses on each channel."""

    async def person(self, person_id: str) -> Person | None: ...

    async def people(self) -> list[Person]: ...

    async def person_by_identity(self, channel: str, address: str) -> Person | None: ...

    async def save_people(self, people: list[Person]) -> None: ...

    async def consent(self, consent: Consent) -> None:
        """Record an opt-out, or remove it: the latest word counts."""
        ...

    async def opted_out(self, addresses: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of these (channel, address) pairs whose owner opted out."""
        ...


class Queries(Protocol):
    """What the console, the API and the CLI read."""

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

    async def events(self, thread_id: str) -> list[StoredEvent]: ...

    async def request(self, request_id: str) -> RequestInfo | None: ...

    async def requests(
        self, *, status: str | None = "open", thread_id: str | None = None
    ) -> list[RequestInfo]: ...

    async def outbox(
        self,
        *,
        request_id: str | None = None,
        channel: str | None = None,
        conversation: str | None = None,
        status: str | None = None,
        limit: int = 500,
    ) -> list[OutboxItem]: ...

    async def inbox(
        self, *, channel: str | None = None, conversation: str | None = None, limit: int = 500
    ) -> list[InboxItem]:
        """The newest `limit` messages that arrived, oldest first."""
        ...

    async def counts(self) -> dict[str, dict[str, int]]:
        """Rows per status for threads, requests, outbox: what /metrics shows."""
        ...


class Receiving(Protocol):
    """The inbox's one transaction (core/situation.py)."""

    async def receive(
        self, message: InboundMessage, route: Callable[[Situation], Routing]
    ) -> Received:
        """Deduplicate, find the situation, route it and apply the routing: one transaction."""
        ...


class Sending(Protocol):
    """The outbox's rows, as the dispatcher takes, routes and settles them."""

    async def outbox_due(
        self, now: float, *, limit: int = 50, lease: float = 60.0
    ) -> list[OutboxItem]:
        """Take due rows (pending, or sending with an expired lease) for delivery."""
        ...

    async def outbox_next_at(self) -> float | None: ...

    async def outbox_add(self, message: OutboxMessage, key: str) -> None:
        """A message of no thread's (a sign-in link), to route and send; `key` keeps it once."""
        ...

    async def outbox_route(
        self, item_id: int, deliveries: list[OutboxMessage], skip: str = ""
    ) -> None:
        """Replace a row to route by concrete deliveries; none at all marks it skipped, saying why."""
        ...

    async def outbox_sent(
        self, item_id: int, *, message_id: str, conversation: str, payload: dict[str, Any]
    ) -> None: ...

    async def outbox_failed(
        self,
        item_id: int,
        *,
        error: str,
        retry_at: float | None,
        then: OutboxMessage | None = None,
        attempted: bool = True,
    ) -> None:
        """Record a failed attempt (`attempted` False: a send counted already, reported failed
        later); retry_at None moves the row to the dead letters, and `then` is written in the
        same transaction to be sent in its place (to route, pending)."""
        ...

    async def outbox_delivery(self, status: DeliveryStatus) -> tuple[OutboxItem, bool] | None:
        """Record the platform's report on the row that sent its message, if it says more than
        the row knew: that row and whether it did (not: a repeat, `sent` after `delivered`), or
        None when no row has sent that message (yet)."""
        ...


class Timing(Protocol):
    """The requests' escalation timers."""

    async def due_requests(self, now: datetime) -> list[RequestInfo]:
        """Open requests whose next escalation step is due."""
        ...

    async def next_request_timer(self) -> datetime | None: ...


class Coordination(Protocol):
    """What processes sharing one database tell each other, and the settings they share."""

    async def listen(self, wake: Callable[[str], None]) -> None:
        """Until cancelled, call `wake` with the work other processes made: "thread:<id>",
        "outbox", "timers". Returns at once on a database that cannot tell (SQLite)."""
        ...

    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        """Wait until this process holds the lock `name` (one process at a time), and hold it
        for the block; a lost hold cancels the block (core/ingress.py runs listeners in one)."""
        ...

    async def service_setting(self, key: str) -> str | None: ...

    async def save_service_setting(self, key: str, value: str) -> None: ...

    async def claim_service_setting(self, key: str, value: str) -> str:
        """Set `key` to `value` unless it is set: the value it has now, ours or the first
        claimer's (of callers racing for one key, one wins)."""
        ...

    async def take_service_setting(self, key: str) -> str | None:
        """Remove `key` and return its value, in one step: of callers racing for one key, only
        one gets the value."""
        ...


class Callers(Protocol):
    """The agents outside that ask people, each by a key of its own (kept as its hash)."""

    async def add_caller(self, caller: Caller, key_hash: str) -> bool:
        """Keep a new caller; False when one of that name exists (revoked or not)."""
        ...

    async def callers(self) -> list[Caller]: ...

    async def caller(self, name: str) -> Caller | None: ...

    async def caller_with_key(self, key_hash: str) -> Caller | None:
        """The caller whose key has this hash, unless it was revoked."""
        ...

    async def revoke_caller(self, name: str, at: datetime) -> Caller | None:
        """Revoke the caller's key (at once, for every process); None when there is no such."""
        ...


class Store(Steps, Directory, Queries, Receiving, Sending, Timing, Coordination, Callers, Protocol):
    async def close(self) -> None: ...
