"""Escalation timers, driven by an explicit clock: re-send on the next channel, widen, time out."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.agent import Agent
from core.app import build_channels
from core.channels import Channel
from core.errors import AlreadyDecided, NotAllowed
from core.escalation import Escalation
from core.events import RequestEscalated
from core.humans import Answer, respond
from core.models.scripted import Call, ScriptedModel
from core.outbox import Dispatcher
from core.runtime import Limits, Runtime
from core.service import open_service
from core.state import Status
from core.timers import Timers
from storage import SqlStore, open_store
from tests.fixtures import PEOPLE, RuntimeFactory, service_settings

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
DEPLOY_PROD = Call("deploy", {"service": "api", "version": "2.4.1", "environment": "production"})
ASK_BOB = Call("contact_human", {"question": "Which region first?", "to": "bob"})
GIVE_UP = Call("reply", {"message": "Not deployed: no approval.", "outcome": "failure"})

Copy = tuple[str | None, str, int]  # recipient, channel, rank of a request copy that was sent


class Woken:
    """Records what the timers woke: the threads that can run again, and the outbox."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.outbox = 0

    def thread(self, thread_id: str) -> None:
        self.threads.append(thread_id)

    def dispatcher(self) -> None:
        self.outbox += 1


def sandbox() -> dict[str, Channel]:
    return build_channels(service_settings("sqlite://"))  # the installed ones: sandboxes


async def deliver_all(dispatcher: Dispatcher) -> None:
    """Route and send until nothing is due (the sandbox never fails, so this ends)."""
    while await dispatcher.deliver_due():
        pass


async def sent_copies(store: SqlStore, request_id: str) -> list[Copy]:
    rows = await store.outbox(request_id=request_id)
    return sorted(
        (r.recipient, r.channel, r.rank) for r in rows if r.kind == "request" and r.status == "sent"
    )


async def pending(store: SqlStore, request_id: str) -> list[Copy]:
    rows = await store.outbox(request_id=request_id, status="pending")
    return [(r.recipient, r.channel, r.rank) for r in rows]


async def open_request(
    make_runtime: RuntimeFactory,
    store: SqlStore,
    model: ScriptedModel,
    *,
    agents: dict[str, Agent] | None = None,
    limits: Limits | None = None,
) -> tuple[str, str]:
    """A deploy thread started at T0 that now waits for one human request."""
    runtime = make_runtime(model, agents=agents, limits=limits, clock=lambda: T0)
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [request] = await store.requests()
    return thread, request.id


def deploy_with(shipped: dict[str, Agent], **changes: Any) -> dict[str, Agent]:
    """The shipped deploy agent with some fields changed (its escalation, its approvers)."""
    return {"deploy": dataclasses.replace(shipped["deploy"], **changes)}


def approvers(shipped: dict[str, Agent], *who: str, **changes: Any) -> dict[str, Agent]:
    """The deploy agent whose production deploys `who` approve, in that order."""
    policy = shipped["deploy"].approvals["deploy"]
    return deploy_with(
        shipped, approvals={"deploy": dataclasses.replace(policy, approvers=who, **changes)}
    )


# --- re-send on the next channel --------------------------------------------------------------


async def test_an_unanswered_approval_is_resent_on_each_approvers_next_channel(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    thread, request_id = await open_request(
        make_runtime, store, ScriptedModel([CHECK, DEPLOY_PROD])
    )
    dispatcher = Dispatcher(store, sandbox())
    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [("alice", "discord", 0), ("erin", "discord", 0)]

    woken = Woken()
    timers = Timers(store, wake_thread=woken.thread, wake_outbox=woken.dispatcher)
    assert await timers.tick(T0 + timedelta(minutes=29, seconds=59)) == 0
    assert await pending(store, request_id) == []
    assert woken.outbox == 0

    assert await timers.tick(T0 + timedelta(minutes=30)) == 1
    assert await pending(store, request_id) == [("role:deploy-approver", None, 1)]
    assert woken.outbox == 1
    assert woken.threads == []  # still waiting for an approver: nothing for the model to do
    assert await timers.tick(T0 + timedelta(minutes=30)) == 0  # the same time again: done already
    assert len(await pending(store, request_id)) == 1

    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [
        ("alice", "discord", 0),
        ("alice", "slack", 1),
        ("erin", "discord", 0),
        ("erin", "sms", 1),
    ]
    escalated = [
        s.event for s in await store.events(thread) if isinstance(s.event, RequestEscalated)
    ]
    assert [(e.request_id, e.step, e.added) for e in escalated] == [(request_id, "resend", ())]
    request = await store.request(request_id)
    assert request is not None and (request.status, request.level) == ("open", 1)


async def test_two_timers_ticking_at_once_resend_once(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """Two processes' timers (each holding its own view of what is due) take a step once."""
    thread, request_id = await open_request(
        make_runtime, store, ScriptedModel([CHECK, DEPLOY_PROD])
    )
    await deliver_all(Dispatcher(store, sandbox()))
    due = T0 + timedelta(minutes=30)
    taken = await asyncio.gather(Timers(store).tick(due), Timers(store).tick(due))
    assert sorted(taken) == [0, 1]
    assert await pending(store, request_id) == [("role:deploy-approver", None, 1)]
    events = [s.event for s in await store.events(thread)]
    assert len([e for e in events if isinstance(e, RequestEscalated)]) == 1


# --- widen to the next people ------------------------------------------------------------------


async def test_an_approval_goes_to_the_first_approver_then_at_widening_to_the_next(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    _, request_id = await open_request(
        make_runtime,
        store,
        ScriptedModel([CHECK, DEPLOY_PROD]),
        agents=approvers(shipped_agents, "alice", "erin"),
    )
    dispatcher = Dispatcher(store, sandbox())
    timers = Timers(store)
    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [("alice", "discord", 0)]

    assert await timers.tick(T0 + timedelta(minutes=30)) == 1  # the re-send: alice only, on slack
    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [("alice", "discord", 0), ("alice", "slack", 1)]

    assert await timers.tick(T0 + timedelta(hours=2) - timedelta(seconds=1)) == 0
    assert await timers.tick(T0 + timedelta(hours=2)) == 1
    assert await timers.tick(T0 + timedelta(hours=2)) == 0
    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [
        ("alice", "discord", 0),
        ("alice", "slack", 1),
        ("erin", "discord", 0),
    ]
    request = await store.request(request_id)
    assert request is not None
    assert (request.level, request.recipients) == (2, ["alice", "erin"])  # no one beyond the policy


async def test_a_question_widens_to_the_recipients_escalation_contact_who_can_then_answer(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    _, request_id = await open_request(make_runtime, store, ScriptedModel([ASK_BOB]))
    dispatcher = Dispatcher(store, sandbox())
    timers = Timers(store)
    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [("bob", "slack", 0)]
    with pytest.raises(NotAllowed, match="alice may not answer"):
        await respond(store, request_id, "alice", Answer("eu-west"))

    assert await timers.tick(T0 + timedelta(minutes=30)) == 1
    with pytest.raises(NotAllowed, match="alice may not answer"):
        await respond(store, request_id, "alice", Answer("eu-west"))
    assert await timers.tick(T0 + timedelta(hours=2)) == 1
    await deliver_all(dispatcher)
    assert await sent_copies(store, request_id) == [
        ("alice", "discord", 0),
        ("bob", "slack", 0),
        ("bob", "sms", 1),
    ]

    answered = await respond(store, request_id, "alice", Answer("eu-west"), via="discord")
    assert (answered.status, answered.decided_by, answered.answer) == (
        "answered",
        "alice",
        "eu-west",
    )


# --- time out ----------------------------------------------------------------------------------


async def test_an_approval_past_its_deadline_is_denied_and_the_model_is_told(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK, DEPLOY_PROD, GIVE_UP])
    thread, request_id = await open_request(make_runtime, store, model)
    dispatcher = Dispatcher(store, sandbox())
    woken = Woken()
    timers = Timers(store, wake_thread=woken.thread, wake_outbox=woken.dispatcher)
    await deliver_all(dispatcher)
    await timers.tick(T0 + timedelta(minutes=30))
    await deliver_all(dispatcher)
    copies = [r for r in await store.outbox(request_id=request_id, status="sent")]
    assert len(copies) == 4

    assert await timers.tick(T0 + timedelta(hours=24) - timedelta(seconds=1)) == 1  # the widening
    assert await timers.tick(T0 + timedelta(hours=24)) == 1
    assert await timers.tick(T0 + timedelta(hours=24)) == 0
    request = await store.request(request_id)
    assert request is not None and (request.status, request.decided_via) == ("timed_out", "timer")
    assert woken.threads == [thread]

    await deliver_all(dispatcher)
    outcomes = [r for r in await store.outbox(request_id=request_id, status="sent")]
    # Every copy is told: edited in place, or (a text) followed by a new one.
    updated = {(r.recipient, r.channel): r.text for r in outcomes if r.kind == "outcome"}
    assert set(updated) == {(c.recipient, c.channel) for c in copies}
    assert all(text.startswith("Timed out: denied") for text in updated.values()), updated

    state = await make_runtime(model).advance(thread)
    assert state.status is Status.FAILED
    assert 'decision="timed out"' in model.requests[-1].context
    assert "must not be retried" in model.requests[-1].context
    assert "No decision before the deadline" in model.requests[-1].context


async def test_a_question_past_its_deadline_gets_no_answer(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([ASK_BOB, Call("reply", {"message": "Bob did not say; stopping."})])
    thread, request_id = await open_request(make_runtime, store, model)
    dispatcher = Dispatcher(store, sandbox())
    timers = Timers(store)
    await deliver_all(dispatcher)

    assert await timers.tick(T0 + timedelta(days=2)) == 1  # late: straight to the deadline
    request = await store.request(request_id)
    assert request is not None and request.status == "timed_out"
    with pytest.raises(AlreadyDecided, match="already timed out"):
        await respond(store, request_id, "bob", Answer("eu-west"))

    await deliver_all(dispatcher)
    sent = await store.outbox(request_id=request_id, status="sent")
    [outcome] = [r for r in sent if r.kind == "outcome"]
    assert (outcome.recipient, outcome.channel) == ("bob", "slack")
    assert outcome.text.startswith("Timed out: no answer")

    assert (await make_runtime(model).advance(thread)).status is Status.DONE
    assert "(no answer before the deadline)" in model.requests[-1].context


# --- where the times come from -----------------------------------------------------------------


async def request_times(store: SqlStore, request_id: str) -> list[timedelta | None]:
    """When the request re-sends, widens and times out, counted from its creation at T0."""
    request = await store.request(request_id)
    assert request is not None
    times = (request.resend_at, request.widen_at, request.deadline)
    return [None if t is None else t.replace(tzinfo=UTC) - T0 for t in times]


async def test_the_default_escalation_comes_from_the_limits(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    quick = Escalation(timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=3))
    _, request_id = await open_request(
        make_runtime, store, ScriptedModel([ASK_BOB]), limits=Limits(escalation=quick)
    )
    assert await request_times(store, request_id) == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=3),
    ]
    timers = Timers(store)
    steps = [await timers.tick(T0 + timedelta(minutes=m)) for m in (1, 1, 2, 2, 3)]
    assert steps == [1, 0, 1, 0, 1]
    request = await store.request(request_id)
    assert request is not None and request.status == "timed_out"


async def test_the_settings_make_the_default(database_url: str) -> None:
    settings = service_settings(
        database_url,
        switchboard_resend_minutes=0,
        switchboard_widen_minutes=45,
        switchboard_request_timeout_hours=8,
    )
    async with open_service(settings) as service:
        assert service.app.runtime.limits.escalation == Escalation(
            resend_after=None, widen_after=timedelta(minutes=45), timeout_after=timedelta(hours=8)
        )


async def test_an_agents_escalation_overrides_the_default_and_skips_what_it_leaves_out(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    only_timeout = Escalation(resend_after=None, widen_after=None, timeout_after=timedelta(hours=1))
    _, request_id = await open_request(
        make_runtime,
        store,
        ScriptedModel([ASK_BOB]),
        agents=deploy_with(shipped_agents, escalation=only_timeout),
    )
    assert await request_times(store, request_id) == [None, None, timedelta(hours=1)]
    timers = Timers(store)
    assert await timers.tick(T0 + timedelta(minutes=59)) == 0
    assert await store.outbox(request_id=request_id, status="pending") != []  # never delivered
    assert await timers.tick(T0 + timedelta(hours=1)) == 1
    request = await store.request(request_id)
    assert request is not None and (request.status, request.level) == ("timed_out", 0)


async def test_a_tools_escalation_overrides_the_agents_for_its_approvals(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    agents = approvers(
        shipped_agents,
        "role:deploy-approver",
        escalation=Escalation(timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=15)),
    )
    agents["deploy"] = dataclasses.replace(
        agents["deploy"],
        escalation=Escalation(timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)),
    )
    _, approval = await open_request(
        make_runtime, store, ScriptedModel([CHECK, DEPLOY_PROD]), agents=agents
    )
    assert await request_times(store, approval) == [
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=15),
    ]
    assert await Timers(store).tick(T0 + timedelta(minutes=5)) == 1

    # A question from the same agent is no call of that tool: the agent's own times apply.
    runtime = make_runtime(ScriptedModel([ASK_BOB]), agents=agents, clock=lambda: T0)
    thread = await runtime.start("deploy", "which region?", requester="bob")
    await runtime.advance(thread)
    [question] = [r.id for r in await store.requests() if r.kind == "question"]
    assert await request_times(store, question) == [
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=3),
    ]


# --- restarts ----------------------------------------------------------------------------------


async def test_the_timers_survive_a_restart(
    database_url: str, shipped_agents: dict[str, Agent]
) -> None:
    before = open_store(database_url)
    try:
        await before.save_people(PEOPLE)
        model = ScriptedModel([CHECK, DEPLOY_PROD])
        runtime = Runtime(before, shipped_agents, lambda _agent: model, clock=lambda: T0)
        thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
        await runtime.advance(thread)
        [request] = await before.requests()
    finally:
        await before.close()

    after = open_store(database_url)
    try:
        timers = Timers(after)
        next_at = await after.next_request_timer()
        assert next_at is not None and next_at.replace(tzinfo=UTC) == T0 + timedelta(minutes=30)
        assert await timers.tick(T0 + timedelta(minutes=30)) == 1
        await deliver_all(Dispatcher(after, sandbox()))
        assert await sent_copies(after, request.id) == [
            ("alice", "discord", 0),
            ("alice", "slack", 1),
            ("erin", "discord", 0),
            ("erin", "sms", 1),
        ]
    finally:
        await after.close()
