"""An agent whose tools hang once (until the test kills the worker), and a worker process to run it.

`python -m tests.crashy DATABASE_URL TOOL` starts a thread that calls TOOL, prints the thread id,
and, once the tool's effect is logged to CRASH_LOG, says so and hangs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pydantic import BaseModel

from core.agent import Agent
from core.models.scripted import Call, ScriptedModel
from core.runtime import Limits, Runtime
from core.tools import ToolContext, tool


class Note(BaseModel):
    text: str


def _record_effect(key: str) -> bool:
    """Log the effect; True the first time (when the worker should then hang)."""
    with Path(os.environ["CRASH_LOG"]).open("a") as log:
        log.write(key + "\n")
    marker = Path(os.environ["CRASH_MARKER"])
    first = not marker.exists()
    marker.touch()
    return first


async def _effect(ctx: ToolContext) -> dict[str, str]:
    if await asyncio.to_thread(_record_effect, ctx.idempotency_key):
        print("inside the tool", flush=True)
        await asyncio.Event().wait()  # hang until SIGKILL
    return {"key": ctx.idempotency_key}


@tool(idempotent=True)
async def record(args: Note, ctx: ToolContext) -> dict[str, str]:
    """Record a note; safe to repeat with the same idempotency key."""
    return await _effect(ctx)


@tool()
async def charge(args: Note, ctx: ToolContext) -> dict[str, str]:
    """Charge a card; not safe to repeat."""
    return await _effect(ctx)


agent = Agent(
    name="crashy",
    prompt=Path(__file__).parent / "prompts" / "test_agent.md.j2",
    tools=(record, charge),
    escalate_to="alice",
)


async def main(database_url: str, tool_name: str) -> None:
    from storage import open_store

    store = open_store(database_url)
    # A zero lease: the thread is free the moment this worker dies (the test restarts at once).
    runtime = Runtime(
        store,
        {"crashy": agent},
        lambda _a: ScriptedModel([Call(tool_name, {"text": "hi"})]),
        limits=Limits(lease_seconds=0),
    )
    thread = await runtime.start("crashy", "do it", requester="bob")
    print(thread, flush=True)
    await runtime.advance(thread)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
