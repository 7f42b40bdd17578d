"""Approvals people can trust: a decision is final, the requester does not approve their own
request (four eyes), and some actions need two people (a quorum), on both databases."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlmodel import select

from agents.deploy.tables import Deployment
from core.agent import Agent
from core.errors import AlreadyDecided, NotAllowed
from core.events import (
    ApprovalDecided,
    HumanRequested,
    MessageReceived,
    ModelFailed,
    ReplySent,
    ToolCalled,
)
from core.humans import Approve, Reject, append, respond
from core.models.demo import OfflineDemoModel
from core.models.scripted import Call, ScriptedModel
from core.outbox import Dispatcher
from core.state import Status
from core.timeline import describe
from core.timers import Timers
from storage import SqlStore, open_store
from tests.fixtures import RuntimeFactory
from tests.test_timers import T0, Woken, deliver_all, sandbox

CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
DEPLOY_PROD = Call("deploy", {"service": "api", "version": "2.4.1", "environment": "production"})
CHECK_BACK = Call("check_release", {"service": "api", "version": "2.4.0"})
ROLLBACK = Call("rollback", {"service": "api", "environment": "production", "to_version": "2.4.0"})
DONE = Call("reply", {"message": "Done."})


async def started(
    make_runtime: RuntimeFactory,
    store: SqlStore,
    model: object,
    text: str = "deploy api 2.4.1 to production",
    *,
    requester: str = "bob",
    **kw: object,
) -> tuple[str, str]:
    runtime = make_runtime(model, **kw)  # type: ignore[arg-type]
    thread = await runtime.start("deploy", text, requester=requester)
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [request] = await store.requests()
    return thread, request.id


async def events_of(store: SqlStore, thread: str) -> list[object]:
    return [s.event for s in await store.events(thread)]


async def timed_out(store: SqlStore) -> Woken:
    """The timers, a day after T0: the re-send, the widening, then the deadline, one a tick."""
    woken = Woken()
    timers = Timers(store, wake_thread=woken.thread, wake_outbox=woken.dispatcher)
    while await timers.tick(T0 + timedelta(hours=24)):
        pass
    return woken


async def deployments(store: SqlStore) -> list[Deployment]:
    return await store.data([]).all(select(Deployment))


# --- a decision is final ----------------------------------------------------------------------


async def test_after_a_rejection_the_same_action_is_refused_and_the_requester_told(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """The model asks again for what Alice rejected: refused, and Bob hears why; once Bob
    writes again, it may ask anew."""
    model = ScriptedModel([CHECK, DEPLOY_PROD, DEPLOY_PROD, DEPLOY_PROD])
    thread, request_id = await started(make_runtime, store, model)
    await respond(store, request_id, "alice", Reject("not during the freeze"))

    state = await make_runtime(model).advance(thread)
    assert state.status is Status.FAILED
    assert "rejected by alice: not during the freeze" in state.outcome_message
    events = await events_of(store, thread)
    assert len([e for e in events if isinstance(e, HumanRequested)]) == 1  # not asked again
    [refused] = [e for e in events if isinstance(e, ModelFailed)]
    assert refused.reason == "not_approved" and "not asked for again" in refused.error
    [told] = [e for e in events if isinstance(e, ReplySent)]
    assert told.to == "bob" and told.text.startswith("Not done: deploy (service api, version 2.4.1")
    replies = [r for r in await store.outbox(status=None) if r.kind == "reply"]
    assert [r.recipient for r in replies] == ["bob"]
    assert "must not be retried" in model.requests[-1].context  # what the model was told

    # Bob writes again: a new word from a person, so the action may be asked for anew.
    await append(store, thread, [MessageReceived(text="Alice agreed now, go", sender="bob")])
    assert (await make_runtime(model).advance(thread)).status is Status.WAITING_HUMAN
    assert len(await store.requests()) == 1


async def test_after_a_timeout_the_demo_model_says_not_approved_and_never_asks_again(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    model = OfflineDemoModel.playing(list(shipped_agents.values()))
    thread, _ = await started(make_runtime, store, model, clock=lambda: T0)
    woken = await timed_out(store)
    assert woken.threads == [thread]

    state = await make_runtime(model).advance(thread)
    assert state.status is Status.FAILED
    assert state.outcome_message.endswith("Not deployed: no one approved it before the deadline.")
    assert len(await store.requests(status=None)) == 1


async def test_after_a_timeout_a_model_that_asks_again_is_refused(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK, DEPLOY_PROD, DEPLOY_PROD])
    thread, _ = await started(make_runtime, store, model, clock=lambda: T0)
    await timed_out(store)
    state = await make_runtime(model).advance(thread)
    assert state.status is Status.FAILED
    assert "(no decision before the deadline (timed out: denied))" in state.outcome_message
    assert len(await store.requests(status=None)) == 1


# --- four eyes -----------------------------------------------------------------------------------


async def test_the_requester_may_not_decide_their_own_request(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK, DEPLOY_PROD, DONE])
    thread, request_id = await started(make_runtime, store, model, requester="alice")
    await deliver_all(Dispatcher(store, sandbox()))
    copies = await store.outbox(request_id=request_id)
    asked = {r.recipient for r in copies if r.kind == "request" and r.channel is not None}
    assert asked == {"erin"}  # the role's other member; never Alice, who asked
    for response in (Approve(), Reject("changed my mind")):
        with pytest.raises(NotAllowed, match="You asked for this, so someone else must decide"):
            await respond(store, request_id, "alice", response)
    settled = await respond(store, request_id, "erin", Approve())
    assert (settled.status, settled.decided_by) == ("approved", "erin")
    assert (await make_runtime(model).advance(thread)).status is Status.DONE


async def test_a_policy_may_allow_self_approval_and_the_timeline_says_it_was_used(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    deploy = shipped_agents["deploy"]
    policy = dataclasses.replace(deploy.approvals["deploy"], allow_self_approval=True)
    agents = {
        "deploy": dataclasses.replace(deploy, approvals={**deploy.approvals, "deploy": policy})
    }
    model = ScriptedModel([CHECK, DEPLOY_PROD, DONE])
    thread, request_id = await started(make_runtime, store, model, requester="alice", agents=agents)
    await respond(store, request_id, "alice", Approve())
    [decided] = [e for e in await events_of(store, thread) if isinstance(e, ApprovalDecided)]
    assert decided.own_request
    assert describe(decided).endswith("(their own request: its policy allows it)")


# --- quorum --------------------------------------------------------------------------------------


async def test_a_rollback_needs_two_people_and_runs_once_after_the_second(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK_BACK, ROLLBACK, DONE])
    thread, request_id = await started(
        make_runtime, store, model, "roll back api in production to 2.4.0"
    )
    first = await respond(store, request_id, "alice", Approve(), via="discord")
    assert (first.status, first.required, [a.by for a in first.approvals]) == (
        "open",
        2,
        ["alice"],
    )
    with pytest.raises(NotAllowed, match=r"You approved req-\w+ already; it waits for 1 more"):
        await respond(store, request_id, "alice", Approve())
    assert (await make_runtime(model).advance(thread)).status is Status.WAITING_HUMAN
    assert await deployments(store) == []  # nothing runs on one approval

    done = await respond(store, request_id, "erin", Approve(), via="sms")
    assert done.status == "approved" and [(a.by, a.via) for a in done.approvals] == [
        ("alice", "discord"),
        ("erin", "sms"),
    ]
    assert (await make_runtime(model).advance(thread)).status is Status.DONE
    [rolled] = await deployments(store)
    assert (rolled.version, rolled.environment) == ("2.4.0", "production")
    calls = [e for e in await events_of(store, thread) if isinstance(e, ToolCalled)]
    assert [c.tool for c in calls] == ["check_release", "rollback"]


async def test_one_rejection_decides_a_quorum_at_once(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK_BACK, ROLLBACK])
    _, request_id = await started(
        make_runtime, store, model, "roll back api in production to 2.4.0"
    )
    await respond(store, request_id, "alice", Approve())
    rejected = await respond(store, request_id, "erin", Reject("2.4.0 has the timeout bug"))
    assert (rejected.status, rejected.decided_by) == ("rejected", "erin")
    with pytest.raises(AlreadyDecided):
        await respond(store, request_id, "alice", Approve())
    assert await deployments(store) == []


async def test_progress_shows_on_every_copy_and_the_outcome_at_the_end(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK_BACK, ROLLBACK, DONE])
    _, request_id = await started(
        make_runtime, store, model, "roll back api in production to 2.4.0"
    )
    dispatcher = Dispatcher(store, sandbox())
    await deliver_all(dispatcher)
    copies = [
        r
        for r in await store.outbox(request_id=request_id)
        if r.kind == "request" and r.status == "sent"
    ]
    assert {c.recipient for c in copies} == {"alice", "erin"}  # bob asked; he is no approver

    await respond(store, request_id, "alice", Approve(), via="discord")
    await deliver_all(dispatcher)
    steps = [
        r
        for r in await store.outbox(request_id=request_id)
        if r.kind == "outcome" and r.status == "sent"
    ]
    assert {s.text for s in steps} == {
        "1 of 2: approved by Alice via discord; waiting for one more"
    }
    assert {s.recipient for s in steps} == {"alice", "erin"}  # each copy, edited or followed up

    await respond(store, request_id, "erin", Approve(), via="sms")
    await deliver_all(dispatcher)
    final = [
        r
        for r in await store.outbox(request_id=request_id)
        if r.kind == "outcome" and r.status == "sent"
    ]
    assert any(r.text.startswith("Approved by Alice via discord and Erin via sms") for r in final)


@pytest.mark.parametrize("rounds", [6])
async def test_two_approvers_at_once_are_both_kept_and_the_tool_runs_once(
    store: SqlStore, make_runtime: RuntimeFactory, database_url: str, rounds: int
) -> None:
    """As if on two servers: each decision through its own store, at the same moment."""
    stores = [open_store(database_url) for _ in range(2)]
    try:
        for n in range(rounds):
            model = ScriptedModel([CHECK_BACK, ROLLBACK, DONE])
            runtime = make_runtime(model)
            thread = await runtime.start(
                "deploy", f"roll back api in production to 2.4.0 #{n}", requester="bob"
            )
            assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
            [request] = [r for r in await store.requests() if r.thread_id == thread]
            decided = await asyncio.gather(
                respond(stores[0], request.id, "alice", Approve()),
                respond(stores[1], request.id, "erin", Approve()),
            )
            assert sorted(d.status for d in decided) == ["approved", "open"] or all(
                d.status == "approved" for d in decided
            )
            final = await store.request(request.id)
            assert final is not None and final.status == "approved"
            assert sorted(a.by for a in final.approvals) == ["alice", "erin"]
            assert (await runtime.advance(thread)).status is Status.DONE
        assert len(await deployments(store)) == rounds  # each rollback ran once
    finally:
        for s in stores:
            await s.close()


async def test_escalation_asks_again_only_those_still_to_approve(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    _, request_id = await started(
        make_runtime,
        store,
        ScriptedModel([CHECK_BACK, ROLLBACK]),
        "roll back api in production to 2.4.0",
        clock=lambda: T0,
    )
    dispatcher = Dispatcher(store, sandbox())
    await deliver_all(dispatcher)
    await respond(store, request_id, "alice", Approve(), via="discord")
    timers = Timers(store, wake_thread=Woken().thread, wake_outbox=Woken().dispatcher)
    assert await timers.tick(T0 + timedelta(minutes=30)) == 1  # the re-send
    await deliver_all(dispatcher)
    copies = await store.outbox(request_id=request_id, status="sent")
    again = {(c.recipient, c.channel) for c in copies if c.kind == "request" and c.rank == 1}
    assert again == {("erin", "sms")}  # her next channel; not Alice, who approved
    while await timers.tick(T0 + timedelta(hours=24)):
        pass
    timed_out = await store.request(request_id)
    assert timed_out is not None and timed_out.status == "timed_out"
    assert [a.by for a in timed_out.approvals] == ["alice"]  # kept, though it was not enough


async def test_an_approval_no_one_in_the_directory_may_give_is_not_sent(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    deploy = shipped_agents["deploy"]
    policy = dataclasses.replace(deploy.approvals["deploy"], approvers=("role:release-manager",))
    agents = {
        "deploy": dataclasses.replace(deploy, approvals={**deploy.approvals, "deploy": policy})
    }
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]), agents=agents)
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    state = await runtime.advance(thread)
    assert state.status is Status.FAILED
    assert state.outcome_message.endswith(
        "needs an approver, and no one may approve it here: it cannot be"
        " approved until the people directory has more of role:release-manager."
    )
    assert await store.requests(status=None) == []
