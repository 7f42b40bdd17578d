"""A thread changed under its worker (here: paused while a tool runs) is reloaded, not crashed."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.agent import Agent
from core.events import ToolCalled, ToolSucceeded
from core.humans import pause, resume
from core.models.scripted import Call, ScriptedModel
from core.runtime import Runtime
from core.state import Status
from core.tools import ToolContext, tool
from storage import SqlStore


class Nothing(BaseModel):
    pass


def pausing_agent(store: SqlStore, keys: list[str]) -> Agent:
    @tool(idempotent=True)
    async def sync(args: Nothing, ctx: ToolContext) -> str:
        """Synchronise; an operator pauses the thread the first time it runs."""
        keys.append(ctx.idempotency_key)
        if len(keys) == 1:
            await pause(store, ctx.thread_id, by="operator", reason="maintenance")
        return "synced"

    prompt = Path(__file__).parent / "prompts" / "test_agent.md.j2"
    return Agent(name="syncer", prompt=prompt, tools=(sync,), escalate_to="alice")


async def test_a_pause_during_a_tool_wins_and_the_idempotent_call_reruns_after_resume(
    store: SqlStore,
) -> None:
    keys: list[str] = []
    model = ScriptedModel([Call("sync", {}), Call("reply", {"message": "synced"})])
    runtime = Runtime(store, {"syncer": pausing_agent(store, keys)}, lambda _a: model)
    thread = await runtime.start("syncer", "sync please", requester="bob")

    state = await runtime.advance(thread)
    assert state.status is Status.PAUSED  # the operator's pause won; the worker did not crash
    events = [s.event for s in await store.events(thread)]
    assert [e.type for e in events][-1] == "thread_paused"
    assert not [e for e in events if isinstance(e, ToolSucceeded)]  # that result lost the race

    await resume(store, thread, by="operator")
    assert (await runtime.advance(thread)).status is Status.DONE
    events = [s.event for s in await store.events(thread)]
    [called] = [e for e in events if isinstance(e, ToolCalled)]
    assert keys == [called.idempotency_key] * 2  # re-run once, with the same key
