"""Budgets: a warning at 80 %, a person asked at 100 %, a clear failure when no one can be asked."""

from __future__ import annotations

from dataclasses import replace

from core.agent import Agent, Budget
from core.events import BudgetWarned, HumanRequested
from core.humans import Answer, respond
from core.models.scripted import Call, ScriptedModel
from core.state import Status
from storage import SqlStore
from tests.fixtures import RuntimeFactory

CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
REPLY = Call("reply", {"message": "done"})


def tight(agents: dict[str, Agent], **changes: object) -> dict[str, Agent]:
    # ScriptedModel reports 10 prompt + 5 completion tokens a call: 4 calls reach 60 of 60.
    return {"deploy": replace(agents["deploy"], budget=Budget(tokens=60), **changes)}  # type: ignore[arg-type]


async def test_a_warning_at_80_percent_then_a_person_decides_whether_to_continue(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    model = ScriptedModel([CHECK] * 4 + [CHECK, REPLY])
    runtime = make_runtime(model, agents=tight(shipped_agents))
    thread = await runtime.start("deploy", "check it", requester="bob")
    state = await runtime.advance(thread)

    events = [s.event for s in await store.events(thread)]
    [warning] = [e for e in events if isinstance(e, BudgetWarned)]
    assert (warning.resource, warning.used, warning.limit) == (
        "tokens",
        60,
        60,
    )  # crossed 48 at call 4
    [ask] = [e for e in events if isinstance(e, HumanRequested)]
    assert (
        ask.purpose == "budget"
        and ask.recipients == ("role:oncall",)
        and "token budget used" in ask.question
    )
    assert state.status is Status.WAITING_HUMAN and len(model.requests) == 4

    await respond(store, ask.request_id, "alice", Answer("continue"))
    assert (await runtime.advance(thread)).status is Status.DONE
    assert len(model.requests) == 6


async def test_stop_ends_the_thread_as_failed(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    runtime = make_runtime(ScriptedModel([CHECK] * 4), agents=tight(shipped_agents))
    thread = await runtime.start("deploy", "check it", requester="bob")
    await runtime.advance(thread)
    [request] = await store.requests()
    await respond(store, request.id, "alice", Answer("stop"))
    state = await runtime.advance(thread)
    assert state.status is Status.FAILED and "budget was not extended" in state.outcome_message


async def test_without_anyone_to_ask_an_exhausted_budget_fails_clearly(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    runtime = make_runtime(
        ScriptedModel([CHECK] * 4), agents=tight(shipped_agents, escalate_to=None)
    )
    thread = await runtime.start("deploy", "check it", requester="bob")
    state = await runtime.advance(thread)
    assert state.status is Status.FAILED
    assert (
        "token budget used: 60 of 60" in state.outcome_message
        and "no escalation contact" in state.outcome_message
    )


async def test_the_step_limit_stops_a_looping_agent(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    agents = {"deploy": replace(shipped_agents["deploy"], max_steps=3)}
    model = ScriptedModel([CHECK] * 10)
    runtime = make_runtime(model, agents=agents)
    state = await runtime.advance(await runtime.start("deploy", "check forever", requester="bob"))
    assert state.status is Status.FAILED and state.outcome_message == "step limit of 3 reached"
    assert len(model.requests) == 3
