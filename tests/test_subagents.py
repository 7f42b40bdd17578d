"""Small agents compose: an agent is another agent's tool, run as a sub-thread with a structured result."""

from __future__ import annotations

from pathlib import Path

from core.agent import Agent
from core.events import ToolSucceeded
from core.models.scripted import Call, ScriptedModel
from core.state import Status
from storage import SqlStore
from tests.fixtures import RuntimeFactory

STAGING = {"service": "api", "version": "2.4.1", "environment": "staging"}


def release_manager(deploy: Agent) -> dict[str, Agent]:
    prompt = Path(__file__).parent / "prompts" / "test_agent.md.j2"
    return {
        "releases": Agent(
            name="releases", prompt=prompt, tools=(deploy.as_tool(),), escalate_to="alice"
        )
    }


async def test_a_sub_agent_runs_as_a_sub_thread_and_reports_success(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    model = ScriptedModel(
        [
            Call("ask_deploy", {"task": "deploy api 2.4.1 to staging"}),
            Call("check_release", {"service": "api", "version": "2.4.1"}),  # the sub-thread's steps
            Call("deploy", STAGING),
            Call("reply", {"message": "deployed to staging"}),
            Call("reply", {"message": "staging has api 2.4.1"}),  # the parent again
        ]
    )
    runtime = make_runtime(model, agents=release_manager(shipped_agents["deploy"]))
    parent = await runtime.start("releases", "ship api 2.4.1 to staging", requester="bob")
    assert (await runtime.advance(parent)).status is Status.DONE

    [result] = [
        s.event.result for s in await store.events(parent) if isinstance(s.event, ToolSucceeded)
    ]
    assert result["status"] == "success" and result["message"] == "deployed to staging"
    child = await store.thread(result["thread_id"])
    assert child is not None and (child.agent, child.parent_id, child.status) == (
        "deploy",
        parent,
        "done",
    )


async def test_a_sub_agent_waiting_for_a_person_reports_needs_human(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    model = ScriptedModel(
        [
            Call("ask_deploy", {"task": "deploy api 2.4.1 to production"}),
            Call("deploy", {**STAGING, "environment": "production"}),
            Call("reply", {"message": "waiting for the approver"}),
        ]
    )
    runtime = make_runtime(model, agents=release_manager(shipped_agents["deploy"]))
    parent = await runtime.start("releases", "ship api 2.4.1", requester="bob")
    await runtime.advance(parent)
    [result] = [
        s.event.result for s in await store.events(parent) if isinstance(s.event, ToolSucceeded)
    ]
    assert result["status"] == "needs_human" and "Approve deploy" in result["message"]
