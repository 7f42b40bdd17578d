"""Where a step's time goes: cProfile on the event-loop thread and on the store's database thread."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from dataclasses import dataclass

from bench.agent import REQUESTER, SHIP, agent, work_calls
from core.models.scripted import ScriptedModel
from core.runtime import Runtime
from storage import open_store


@dataclass(frozen=True, slots=True)
class Row:
    function: str
    calls_per_step: float
    cum_ms_per_step: float
    own_ms_per_step: float


async def _profile(url: str, k: int) -> tuple[cProfile.Profile, cProfile.Profile | None]:
    model = ScriptedModel([*work_calls(k), SHIP])
    store = open_store(url)
    try:
        runtime = Runtime(store, {agent.name: agent}, lambda _agent: model)
        thread_id = await runtime.start(agent.name, f"do {k} items, then ship", requester=REQUESTER)
        # cProfile sees one thread: enable a second profiler on the database thread, through a
        # unit of work (bench-only reach into SqlStore; SQLite has one database thread).
        loop_prof, db_prof = cProfile.Profile(), cProfile.Profile()
        await store._run(lambda _conn: db_prof.enable())
        loop_prof.enable()
        await runtime.advance(thread_id)
        loop_prof.disable()
        await store._run(lambda _conn: db_prof.disable())
    finally:
        await store.close()
    return loop_prof, db_prof


def _name(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.split("/main/", 1)[-1]
    return f"{path}:{line}({name})"


# The event loop, the executor and this harness: they wrap every step and would fill the top rows.
PLUMBING = (
    "/asyncio/",
    "selectors.py",
    "/concurrent/futures/",
    "threading.py",
    "bench/",
    "_contextvars",
)
# Where each thread waits for the other: the event loop in epoll, the database thread on its queue.
IDLE = (
    "<method 'poll' of 'select.epoll' objects>",
    "<method 'get' of '_queue.SimpleQueue' objects>",
)


def _rows(stats: pstats.Stats, steps: int) -> list[Row]:
    table = stats.stats  # type: ignore[attr-defined]  # pstats keeps its raw table untyped
    return [
        Row(_name(func), nc / steps, ct * 1000 / steps, tt * 1000 / steps)
        for func, (_cc, nc, tt, ct, _callers) in table.items()
    ]


def top(stats: pstats.Stats, steps: int, n: int) -> list[Row]:
    """The n functions with the most cumulative time per step, the loop and executor left out."""
    rows = [
        r
        for r in _rows(stats, steps)
        if r.function not in IDLE and not any(p in r.function for p in PLUMBING)
    ]
    return sorted(rows, key=lambda r: r.cum_ms_per_step, reverse=True)[:n]


def idle_ms_per_step(stats: pstats.Stats, steps: int) -> float:
    return sum(r.own_ms_per_step for r in _rows(stats, steps) if r.function in IDLE)


def profile(url: str, k: int) -> tuple[pstats.Stats, pstats.Stats | None]:
    loop_prof, db_prof = asyncio.run(_profile(url, k))
    return pstats.Stats(loop_prof), pstats.Stats(db_prof) if db_prof else None
