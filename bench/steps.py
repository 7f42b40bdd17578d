"""One thread: K `work` steps, then `ship` pauses it for approval; a fresh process resumes it."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.agent import REQUESTER, SHIP, agent, work_calls
from bench.databases import Size, size_probe
from bench.resume import resume
from bench.timed import TimedModel
from core.records import Person
from core.runtime import Runtime
from core.state import Status
from storage import SqlStore, open_store

ROOT = Path(__file__).resolve().parent.parent
APPROVER = Person(id="ann", name="Ann", roles=["approver"])


@dataclass(frozen=True, slots=True)
class Paused:
    thread_id: str
    request_id: str
    intervals: list[float]  # seconds, one per work step
    sizes: list[Size]  # as the first call and the `ship` call arrive, when sized
    summaries: int


@dataclass(frozen=True, slots=True)
class StepFigures:
    k: int
    ms_per_step: float
    ms_median: float  # robust to the odd preemption by another process
    ms_first_10pct: float
    ms_last_10pct: float
    bytes_per_step: float
    resume_ms: float  # in a fresh process
    resume_respond_ms: float  # `respond`, just before it
    resume_warm_ms: float  # in this process, on a store that has been working
    respond_warm_ms: float
    compactions: int
    bytes_per_step_by_table: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {k: _rounded(v) for k, v in asdict(self).items()}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


async def run_until_approval(store: SqlStore, url: str, k: int, *, sized: bool) -> Paused:
    """K work steps and the `ship` call; sized: the DB is measured as the 1st and (K+1)th call arrive."""
    measure = size_probe(url)
    sizes: list[Size] = []
    probes = {n: lambda: sizes.append(measure()) for n in (0, k)} if sized else {}
    model = TimedModel([*work_calls(k), SHIP], probes=probes)
    runtime = Runtime(store, {agent.name: agent}, lambda _agent: model)
    thread_id = await runtime.start(agent.name, f"do {k} items, then ship", requester=REQUESTER)
    state = await runtime.advance(thread_id)
    if state.status is not Status.WAITING_HUMAN or len(state.open_requests) != 1:
        raise RuntimeError(f"expected one approval request, the thread is {state.status}")
    [request_id] = state.open_requests
    return Paused(thread_id, request_id, model.intervals(), sizes, model.summaries)


async def run_in_this_process(url: str, k: int) -> tuple[Paused, Paused, dict[str, float]]:
    """A twin thread goes first: it warms the store and has its bytes measured, so that the probe's
    checkpoint does not disturb the timed thread. The twin is resumed here, a warm resume."""
    store = open_store(url)
    try:
        await store.save_people([APPROVER])
        twin = await run_until_approval(store, url, k, sized=True)
        timed = await run_until_approval(store, url, k, sized=False)
        warm = await resume(store, twin.thread_id, twin.request_id)
    finally:
        await store.close()
    return timed, twin, warm


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
    paused, twin, warm = asyncio.run(run_in_this_process(url, k))
    resumed = resume_in_fresh_process(url, paused)
    before, after = twin.sizes
    by_table = {
        name: (size - before.tables.get(name, 0)) / k
        for name, size in sorted(after.tables.items())
        if size != before.tables.get(name, 0)
    }
    tenth = max(1, k // 10)
    return StepFigures(
        k=k,
        ms_per_step=_mean_ms(paused.intervals),
        ms_median=statistics.median(paused.intervals) * 1000,
        ms_first_10pct=_mean_ms(paused.intervals[:tenth]),
        ms_last_10pct=_mean_ms(paused.intervals[-tenth:]),
        bytes_per_step=(after.total - before.total) / k,
        resume_ms=resumed["resume_ms"],
        resume_respond_ms=resumed["respond_ms"],
        resume_warm_ms=warm["resume_ms"],
        respond_warm_ms=warm["respond_ms"],
        compactions=paused.summaries,
        bytes_per_step_by_table=by_table,
    )
