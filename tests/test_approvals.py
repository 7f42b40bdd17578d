"""The deploy bot with a scripted model: approvals bound to arguments, approvers, first decision wins."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from agents.deploy.tables import Deployment
from core.errors import AlreadyDecided, NotAllowed
from core.events import ApprovalDecided, HumanRequested, ToolCalled
from core.humans import Answer, Approve, Reject, respond
from core.models.scripted import Call, ScriptedModel
from core.state import Status
from storage import SqlStore
from tests.fixtures import RuntimeFactory

CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
DEPLOY_PROD = Call("deploy", {"service": "api", "version": "2.4.1", "environment": "production"})
DONE = Call("reply", {"message": "Deployed api 2.4.1 to production."})


async def waiting_for_approval(
    store: SqlStore, make_runtime: RuntimeFactory, model: ScriptedModel
) -> tuple[str, str]:
    runtime = make_runtime(model)
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    state = await runtime.advance(thread)
    assert state.status is Status.WAITING_HUMAN
    [request] = await store.requests()
    return thread, request.id


async def deployments(store: SqlStore) -> list[Deployment]:
    return await store.data([]).all(select(Deployment))


async def test_production_deploy_waits_for_an_approver_then_runs_exactly_the_approved_call(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK, DEPLOY_PROD, DONE])
    thread, request_id = await waiting_for_approval(store, make_runtime, model)
    request = await store.request(request_id)
    assert request is not None
    assert (request.kind, request.tool, request.recipients) == (
        "approval",
        "deploy",
        ["role:deploy-approver"],
    )
    assert request.arguments == {"service": "api", "version": "2.4.1", "environment": "production"}
    assert await deployments(store) == []  # nothing ran before the approval

    settled = await respond(store, request_id, "alice", Approve(), via="cli")
    assert (settled.status, settled.decided_by) == ("approved", "alice")
    state = await make_runtime(model).advance(thread)

    assert state.status is Status.DONE
    [deployment] = await deployments(store)
    assert (deployment.service, deployment.version, deployment.environment) == (
        "api",
        "2.4.1",
        "production",
    )
    events = [s.event for s in await store.events(thread)]
    approved = next(e for e in events if isinstance(e, HumanRequested))
    ran = [e for e in events if isinstance(e, ToolCalled) and e.tool == "deploy"]
    assert [c.arguments for c in ran] == [approved.arguments]
    assert ran[0].call_id == approved.call_id


async def test_staging_deploy_needs_no_approval(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    staging = Call("deploy", {"service": "api", "version": "2.4.1", "environment": "staging"})
    runtime = make_runtime(ScriptedModel([CHECK, staging, Call("reply", {"message": "done"})]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to staging", requester="bob")
    assert (await runtime.advance(thread)).status is Status.DONE
    assert [d.environment for d in await deployments(store)] == ["staging"]
    assert await store.requests(status=None) == []


async def test_only_allowed_approvers_decide(store: SqlStore, make_runtime: RuntimeFactory) -> None:
    _, request_id = await waiting_for_approval(
        store, make_runtime, ScriptedModel([CHECK, DEPLOY_PROD])
    )
    with pytest.raises(NotAllowed, match="bob may not answer"):
        await respond(store, request_id, "bob", Approve())
    with pytest.raises(NotAllowed, match="not in the people directory"):
        await respond(store, request_id, "mallory", Approve())
    with pytest.raises(NotAllowed, match="respond with --approve or --reject"):
        await respond(store, request_id, "alice", Answer("sure"))
    request = await store.request(request_id)
    assert request is not None and request.status == "open"


async def test_the_first_decision_wins_and_later_ones_are_told_who_decided(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    thread, request_id = await waiting_for_approval(
        store, make_runtime, ScriptedModel([CHECK, DEPLOY_PROD])
    )
    await respond(store, request_id, "erin", Approve(), via="discord")
    with pytest.raises(AlreadyDecided, match="already approved by erin via discord"):
        await respond(store, request_id, "alice", Reject("too late"))
    decisions = [
        s.event for s in await store.events(thread) if isinstance(s.event, ApprovalDecided)
    ]
    assert [(d.decided_by, d.approved) for d in decisions] == [("erin", True)]


async def test_a_rejection_reason_reaches_the_model_and_nothing_is_deployed(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel(
        [CHECK, DEPLOY_PROD, Call("reply", {"message": "Not deployed.", "outcome": "failure"})]
    )
    thread, request_id = await waiting_for_approval(store, make_runtime, model)
    await respond(store, request_id, "alice", Reject("change freeze until Monday"))
    state = await make_runtime(model).advance(thread)
    assert state.status is Status.FAILED
    assert "change freeze until Monday" in model.requests[-1].context
    assert await deployments(store) == []


async def test_request_approval_tool_binds_the_validated_arguments(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    ask = Call(
        "request_approval",
        {"tool": "deploy", "arguments": DEPLOY_PROD.arguments, "reason": "hotfix"},
    )
    _, request_id = await waiting_for_approval(store, make_runtime, ScriptedModel([CHECK, ask]))
    request = await store.request(request_id)
    assert request is not None and request.tool == "deploy" and "hotfix" in request.question


async def test_concurrent_decisions_one_wins_the_other_is_told(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:

    _, request_id = await waiting_for_approval(
        store, make_runtime, ScriptedModel([CHECK, DEPLOY_PROD])
    )
    results = await asyncio.gather(
        respond(store, request_id, "alice", Approve()),
        respond(store, request_id, "erin", Reject("no")),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(refused) == 1, results
    request = await store.request(request_id)
    assert request is not None and request.decided_by in ("alice", "erin")
    assert str(refused[0]).startswith(f"request {request_id} was already")


async def test_a_reason_with_a_nul_byte_is_kept_minus_the_nul_from_any_front_end(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """The CLI, the console and the API all decide through `respond`: one rule for all of them."""
    model = ScriptedModel([CHECK, DEPLOY_PROD])
    _, request_id = await waiting_for_approval(store, make_runtime, model)
    await respond(store, request_id, "alice", Reject("change\x00 freeze \ud800"))
    decided = await store.request(request_id)
    assert decided is not None and decided.answer == "change freeze \ufffd"
