"""Escalation timers: an unanswered request is re-sent, widened, then timed out.

The times live on the request (stored with its HumanRequested event), so they survive restarts;
`tick(now)` does whatever is due at `now`, which is how tests drive them without sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from core.alarm import Alarm
from core.errors import AlreadyDecided, InvalidTransition
from core.events import Event, RequestEscalated, RequestTimedOut, utcnow
from core.humans import append
from core.records import OutboxMessage, RequestInfo
from core.routing import expand
from core.state import Status
from core.store import Directory, Steps, Timing

log = logging.getLogger("switchboard.timers")


class TimerStore(Timing, Steps, Directory, Protocol):
    """The due requests, the threads their timeouts step, and who to widen them to."""


class Timers:
    def __init__(
        self,
        store: TimerStore,
        *,
        wake_thread: Callable[[str], None] = lambda _: None,
        wake_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.wake_thread = wake_thread
        self.wake_outbox = wake_outbox
        self.clock = clock
        self._alarm = Alarm()

    def wake(self) -> None:
        """A new request may be due sooner than the one the loop is waiting for."""
        self._alarm.ring()

    async def run(self) -> None:
        while True:
            self._alarm.reset()
            await self.tick()
            next_at = await self.store.next_request_timer()
            await self._alarm.wait(
                None if next_at is None else (next_at - self.clock()).total_seconds()
            )

    async def tick(self, now: datetime | None = None) -> int:
        """Take every escalation step due at `now`; returns how many it took."""
        now = now or self.clock()
        taken = 0
        for request in await self.store.due_requests(now):
            try:
                taken += await self.escalate(request, now)
            except (InvalidTransition, AlreadyDecided):
                log.info("request %s: settled, or this step taken by another timer", request.id)
        return taken

    async def escalate(self, request: RequestInfo, now: datetime) -> int:
        events: list[Event]
        outbox: list[OutboxMessage] = []
        if request.deadline is not None and now >= request.deadline:
            events = [RequestTimedOut(request_id=request.id, kind=request.kind, at=now)]
            outbox = [OutboxMessage.outcome_of(request.id)]
            log.warning("request %s timed out", request.id)
        elif request.level < 1 and request.resend_at is not None and now >= request.resend_at:
            events = [RequestEscalated(request_id=request.id, step="resend", at=now)]
            firsts = request.recipients if request.distinct_roles else request.recipients[:1]
            outbox = [self._copy(request, r, rank=1) for r in firsts]
        elif request.level < 2 and request.widen_at is not None and now >= request.widen_at:
            added = await self._escalation_contacts(request)
            events = [RequestEscalated(request_id=request.id, step="widen", added=added, at=now)]
            outbox = [self._copy(request, r) for r in (*request.recipients[1:], *added)]
        else:
            return 0
        state = await append(self.store, request.thread_id, events, outbox=outbox)
        if outbox:
            self.wake_outbox()
        if state.status in (Status.INTAKE, Status.RUNNING):
            self.wake_thread(request.thread_id)
        return 1

    async def _escalation_contacts(self, request: RequestInfo) -> tuple[str, ...]:
        """Who a question goes to next: the first recipients' escalation contacts.

        An approval is never widened beyond the approvers its policy names: only they may decide.
        """
        if request.kind == "approval":
            return ()
        people = await self.store.people()
        contacts = {p.escalate_to for p in expand(request.recipients[0], people) if p.escalate_to}
        return tuple(sorted(contacts - set(request.recipients)))

    @staticmethod
    def _copy(request: RequestInfo, recipient: str, rank: int = 0) -> OutboxMessage:
        return OutboxMessage.request(request.id, request.question, to=recipient, rank=rank)
