"""Leases are short and kept alive by their holder: a live worker keeps its thread through a slow
tool, and a dead worker's thread is taken over within a lease and a sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel
from sqlalchemy import update

from core.agent import Agent
from core.errors import ThreadBusy
from core.events import ToolSucceeded
from core.models.scripted import Call, ScriptedModel
from core.runtime import Limits, Runtime
from core.state import Status
from core.tools import ToolContext, tool
from core.workers import Workers
from storage import SqlStore
from storage.tables import threads
from tests.fixtures import eventually

T = TypeVar("T")
PROMPT = Path(__file__).parent / "prompts" / "test_agent.md.j2"
SCRIPT = [Call("slow", {}), Call("reply", {"message": "done"})]


class Nothing(BaseModel):
    pass


class SlowTool:
    """A tool (not idempotent) that runs until the test lets it finish."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finish = asyncio.Event()
        self.runs = 0

    def agent(self) -> Agent:
        @tool()
        async def slow(args: Nothing, ctx: ToolContext) -> str:
            """Take a long time; not safe to repeat."""
            self.runs += 1
            self.started.set()
            await self.finish.wait()
            return "finished"

        return Agent(name="slowpoke", prompt=PROMPT, tools=(slow,), escalate_to="alice")

    @contextlib.asynccontextmanager
    async def running(self, run: Coroutine[Any, Any, T]) -> AsyncIterator[asyncio.Task[T]]:
        """Run `run` until the tool has started; let the tool finish on the way out."""
        task = asyncio.create_task(run)
        try:
            await self.started.wait()
            yield task
        finally:
            self.finish.set()
            await asyncio.wait([task])


def runtime(store: SqlStore, agent: Agent, lease: float) -> Runtime:
    model = ScriptedModel(list(SCRIPT))
    return Runtime(store, {agent.name: agent}, lambda _a: model, limits=Limits(lease_seconds=lease))


async def test_only_the_holder_renews_its_lease(store: SqlStore) -> None:
    agent = SlowTool().agent()
    thread = await runtime(store, agent, 6.0).start("slowpoke", "go", requester="bob")
    assert await store.claim(thread, "worker-a", seconds=60) is not None

    assert await store.renew(thread, "worker-a", seconds=60)
    assert not await store.renew(thread, "worker-b", seconds=60)
    await store.release(thread, "worker-a")
    assert not await store.renew(thread, "worker-a", seconds=60)  # released: nothing to renew


async def test_a_live_worker_keeps_its_thread_through_a_tool_longer_than_the_lease(
    store: SqlStore,
) -> None:
    lease = 0.4
    slow = SlowTool()
    first = runtime(store, slow.agent(), lease)
    thread = await first.start("slowpoke", "go", requester="bob")
    async with slow.running(first.advance(thread)) as running:
        await asyncio.sleep(3 * lease)  # the lease length passes, three times, while the tool runs

        assert thread not in await store.runnable()
        with pytest.raises(ThreadBusy):
            await runtime(store, slow.agent(), lease).advance(thread)
    assert (await running).status is Status.DONE
    assert slow.runs == 1


async def test_a_dead_workers_thread_is_taken_over_within_a_lease_and_a_sweep(
    store: SqlStore,
) -> None:
    lease = 1.0
    slow = SlowTool()
    slow.finish.set()
    survivor = runtime(store, slow.agent(), lease)
    thread = await survivor.start("slowpoke", "go", requester="bob")
    # A worker claimed it and vanished (kill -9): its lease stays written, and no one renews it.
    claimed_at = time.time()
    assert await store.claim(thread, "worker-gone", seconds=lease) is not None

    workers = Workers(survivor)  # the sweep's pace comes from the lease
    sweeping = asyncio.create_task(workers.run())
    try:

        async def finished() -> bool:
            """the survivor took the thread over and finished it"""
            info = await store.thread(thread)
            return info is not None and info.status == "done"

        await eventually(finished, within=lease + lease / 2 + 1.0)  # 1 s: the run, slack
    finally:
        sweeping.cancel()
        await asyncio.wait([sweeping])
    assert time.time() - claimed_at >= lease  # not before the dead worker's lease ran out
    assert slow.runs == 1


async def test_a_lost_lease_is_logged_and_the_run_commits_nothing_more(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    lease = 0.3
    slow = SlowTool()
    first = runtime(store, slow.agent(), lease)
    thread = await first.start("slowpoke", "go", requester="bob")
    async with slow.running(first.advance(thread)) as running:
        # Another process took the thread (say this worker stalled for longer than its lease).
        steal = update(threads).where(threads.c.id == thread)
        with store.engine.begin() as conn:
            conn.execute(steal.values(lease_owner="worker-thief", lease_until=time.time() + 60))

        async def logged() -> bool:
            """the heartbeat said the lease was lost"""
            return any("lost its lease" in r.getMessage() for r in caplog.records)

        with caplog.at_level(logging.WARNING, logger="switchboard.runtime"):
            await eventually(logged, within=10 * lease)
    with pytest.raises(ThreadBusy):  # its result does not overwrite the new holder's thread
        await running
    events = [s.event for s in await store.events(thread)]
    assert not [e for e in events if isinstance(e, ToolSucceeded)]
