"""Many threads on one event loop: each works, pauses for approval, is approved and finishes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass

from bench.agent import DONE, REQUESTER, SHIP, agent, work_calls
from bench.steps import APPROVER
from core.humans import Approve, respond
from core.models.scripted import ScriptedModel
from core.runtime import Runtime
from core.state import Status
from core.store import Store
from storage import open_store


@dataclass(frozen=True, slots=True)
class ThroughputFigures:
    threads: int
    steps_per_thread: int
    seconds: float
    threads_per_s: float
    steps_per_s: float

    def as_json(self) -> dict[str, float]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


async def one_thread(store: Store, work_steps: int) -> int:
    """Start, run to the approval, approve, run to the end; returns the model calls it took."""
    model = ScriptedModel([*work_calls(work_steps), SHIP, DONE])
    runtime = Runtime(store, {agent.name: agent}, lambda _agent: model)
    thread_id = await runtime.start(agent.name, "work, then ship", requester=REQUESTER)
    paused = await runtime.advance(thread_id)
    [request_id] = paused.open_requests
    await respond(store, request_id, "ann", Approve(), via="bench")
    done = await runtime.advance(thread_id)
    if done.status is not Status.DONE:
        raise RuntimeError(f"thread {thread_id} ended {done.status}, not done")
    return done.total_steps


async def run(url: str, threads: int, work_steps: int) -> ThroughputFigures:
    store = open_store(url)
    try:
        await store.save_people([APPROVER])
        started = time.perf_counter()
        steps = await asyncio.gather(*(one_thread(store, work_steps) for _ in range(threads)))
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    total = sum(steps)
    return ThroughputFigures(
        threads=threads,
        steps_per_thread=total // threads,
        seconds=seconds,
        threads_per_s=threads / seconds,
        steps_per_s=total / seconds,
    )


def measure(url: str, threads: int = 200, work_steps: int = 5) -> ThroughputFigures:
    return asyncio.run(run(url, threads, work_steps))
