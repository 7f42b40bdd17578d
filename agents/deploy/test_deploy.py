"""The deploy bot: its prompt, and its whole scenario played by the offline demo model."""

from __future__ import annotations

from sqlmodel import select

from agents.deploy import agent
from agents.deploy.tables import Deployment
from core.agent import Agent
from core.humans import Approve, respond
from core.models.demo import BADGE, OfflineDemoModel
from core.state import Status
from storage import SqlStore
from tests.fixtures import RuntimeFactory


def test_the_prompt_renders_and_names_the_tools() -> None:
    prompt = agent.system_prompt
    assert "You are deploy, the deploy bot." in prompt
    assert "`check_release`" in prompt and "`deploy`" in prompt and "`contact_human`" in prompt
    assert len(agent.prompt_version) == 12


def test_the_model_is_offered_exactly_the_tools_and_the_builtins() -> None:
    names = [spec["function"]["name"] for spec in agent.actions.specs]
    assert names == [
        "contact_human",
        "reply",
        "request_approval",
        "check_release",
        "deploy",
        "rollback",
    ]


async def test_the_demo_asks_the_approver_then_deploys(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    runtime = make_runtime(OfflineDemoModel.playing([agent]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
    [request] = await store.requests()
    assert request.recipients == ["role:deploy-approver"]
    await respond(store, request.id, "alice", Approve())
    state = await runtime.advance(thread)
    assert state.status is Status.DONE
    assert state.outcome_message == f"{BADGE} Deployed api 2.4.1 to production."
    [deployment] = await store.data([]).all(select(Deployment))
    assert deployment.environment == "production" and deployment.thread_id == thread


async def test_the_demo_refuses_an_unknown_release(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    runtime = make_runtime(OfflineDemoModel.playing([agent]))
    state = await runtime.advance(
        await runtime.start("deploy", "deploy api 9.0.0 to staging", requester="bob")
    )
    assert state.status is Status.FAILED and "known: 2.4.0, 2.4.1" in state.outcome_message
