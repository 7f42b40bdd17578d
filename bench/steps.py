"""One thread: K `work` steps, then `ship` pauses it for approval; a fresh process resumes it."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.agent import SHIP, agent, work_calls
from bench.databases import bytes_probe
from bench.timed import TimedModel
from core.runtime import Runtime
from core.state import Status
from core.store import Person
from storage import open_store

ROOT = Path(__file__).resolve().parent.parent
APPROVER = Person(id="ann", name="Ann", roles=["approver"])


@dataclass(frozen=True, slots=True)
class Paused:
    thread_id: str
    request_id: str
    intervals: list[float]  # seconds, one per work step
    bytes_before: int
    bytes_after: int
    summaries: int


@dataclass(frozen=True, slots=True)
class StepFigures:
    k: int
    ms_per_step: float
    ms_first_10pct: float
    ms_last_10pct: float
    bytes_per_step: float
    resume_ms: float
    resume_respond_ms: float
    compactions: int

    def as_json(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


async def run_until_approval(url: str, k: int) -> Paused:
    """K work steps and the `ship` call; the DB is measured as the first and the (K+1)th call arrive."""
    measure = bytes_probe(url)
    sizes: list[int] = []
    model = TimedModel(
        [*work_calls(k), SHIP],
        probes={0: lambda: sizes.append(measure()), k: lambda: sizes.append(measure())},
    )
    store = open_store(url)
    try:
        await store.save_people([APPROVER])
        runtime = Runtime(store, {agent.name: agent}, lambda _agent: model)
        thread_id = await runtime.start(agent.name, f"do {k} items, then ship", requester="ann")
        state = await runtime.advance(thread_id)
    finally:
        await store.close()
    if state.status is not Status.WAITING_HUMAN or len(state.open_requests) != 1:
        raise RuntimeError(f"expected one approval request, the thread is {state.status}")
    [request_id] = state.open_requests
    return Paused(thread_id, request_id, model.intervals(), sizes[0], sizes[1], model.summaries)


def resume_in_fresh_process(url: str, paused: Paused) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.resume", url, paused.thread_id, paused.request_id],
        cwd=ROOT,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench.resume failed:\n{out.stderr}")
    figures: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return figures


def _mean_ms(seconds: list[float]) -> float:
    return statistics.fmean(seconds) * 1000


def measure(url: str, k: int) -> StepFigures:
    paused = asyncio.run(run_until_approval(url, k))
    resumed = resume_in_fresh_process(url, paused)
    tenth = max(1, k // 10)
    return StepFigures(
        k=k,
        ms_per_step=_mean_ms(paused.intervals),
        ms_first_10pct=_mean_ms(paused.intervals[:tenth]),
        ms_last_10pct=_mean_ms(paused.intervals[-tenth:]),
        bytes_per_step=(paused.bytes_after - paused.bytes_before) / k,
        resume_ms=resumed["resume_ms"],
        resume_respond_ms=resumed["respond_ms"],
        compactions=paused.summaries,
    )
