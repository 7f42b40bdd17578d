"""Requests from outside callers: Switchboard as the human layer of agents that run elsewhere.

A caller's request is a thread of its own, on the agent `caller:NAME`, holding one HumanRequested:
it goes through the same routing, outbox, escalation, timers, previews and channels as an agent's
request, and is decided the same way. No model runs on it: once the request is settled (decided,
answered or timed out), the thread ends, and the request's record is the answer the caller reads.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.escalation import Escalation
from core.events import Event, HumanRequested, MessageReceived, ThreadFinished, Urgency
from core.humans import append
from core.routing import request_out
from core.state import ExecutionState, Status
from core.store import Steps
from core.tools import arguments_hash

PREFIX = "caller:"


def thread_agent(caller: str) -> str:
    """The agent name of a caller's threads: how the timeline and the Inbox name the caller."""
    return PREFIX + caller


def is_relay(agent: str) -> bool:
    return agent.startswith(PREFIX)


@dataclass(frozen=True, slots=True)
class Ask:
    """A caller's request: a question (with `options`, or free text), or with `action` an approval
    of exactly `action(arguments)`, for `to` (person ids or `role:NAME`)."""

    caller: str
    question: str
    to: tuple[str, ...]
    options: tuple[str, ...] = ()
    action: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    urgency: Urgency = "normal"
    required: int = 1
    context: str = ""
    reference: str = ""
    deadline: datetime | None = None  # else the escalation's timeout
    callback_url: str | None = None
    escalation: Escalation = field(default_factory=Escalation)


def new_request_id() -> str:
    return f"req-{uuid.uuid4().hex[:10]}"


def request(ask: Ask, now: datetime, request_id: str | None = None) -> HumanRequested:
    """The event an `ask` becomes, its timers set from `now`."""
    esc = ask.escalation
    approval = ask.action is not None
    deadline = ask.deadline or now + esc.timeout_after
    # An escalation step due at or after the deadline would never come: the timeout comes first.
    resend_at = now + esc.resend_after if esc.resend_after else None
    widen_at = now + esc.widen_after if esc.widen_after else None
    return HumanRequested(
        request_id=request_id or new_request_id(),
        kind="approval" if approval else "question",
        purpose="approval" if approval else "question",
        question=ask.question,
        recipients=ask.to,
        options=() if approval else ask.options,
        urgency=ask.urgency,
        tool=ask.action,
        arguments=ask.arguments if approval else None,
        arguments_hash=arguments_hash(ask.action, ask.arguments) if ask.action else None,
        resend_at=resend_at if resend_at and resend_at < deadline else None,
        widen_at=widen_at if widen_at and widen_at < deadline else None,
        deadline=deadline,
        required=ask.required if approval else 1,
        caller=ask.caller,
        context=ask.context,
        reference=ask.reference,
        callback_url=ask.callback_url,
        at=now,
    )


async def open_request(
    store: Steps, ask: Ask, now: datetime, request_id: str | None = None
) -> HumanRequested:
    """A thread for the caller with the request in it, and the request on its way."""
    first = MessageReceived(text=ask.question, sender=None, channel="api", at=now)
    thread_id = await store.create_thread(
        agent=thread_agent(ask.caller), first=first, requester=None, channel="api"
    )
    asked = request(ask, now, request_id)
    await append(store, thread_id, [asked], outbox=request_out(asked))
    return asked


def closing(state: ExecutionState) -> list[Event]:
    """What a caller's thread does when a worker takes it: ends, once its request is settled."""
    if state.status is not Status.RUNNING or state.open_requests:
        return []  # still being asked (or not yet): nothing to do
    return [ThreadFinished(outcome="success", message="settled: the request's record says how")]
