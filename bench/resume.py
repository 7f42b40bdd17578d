"""The child process that resumes a paused thread: `python -m bench.resume URL THREAD REQUEST`.

It prints one JSON line, in milliseconds: `respond` (record the approval: check the approver, append
the decision), and the resume proper, from `advance` to the next model call (claim and load the
thread, run the approved call with its two commits, render the context). Imports, the engine, the
connection and the event loop come before the clock starts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bench.agent import DONE, agent
from bench.timed import TimedModel
from core.humans import Approve, respond
from core.runtime import Runtime
from core.state import Status
from storage import SqlStore, open_store


async def resume(store: SqlStore, thread_id: str, request_id: str) -> dict[str, float]:
    model = TimedModel([DONE])
    runtime = Runtime(store, {agent.name: agent}, lambda _agent: model)
    started = time.perf_counter()
    await respond(store, request_id, "ann", Approve(), via="bench")
    responded = time.perf_counter()
    state = await runtime.advance(thread_id)
    if state.status is not Status.DONE or not model.entered:
        raise RuntimeError(f"the resumed thread ended {state.status}, not done")
    return {
        "resume_ms": (model.entered[0] - responded) * 1000,
        "respond_ms": (responded - started) * 1000,
    }


async def run(url: str, thread_id: str, request_id: str) -> dict[str, float]:
    store = open_store(url)
    await store.connect()  # part of a worker's start, like its imports: before the clock
    try:
        return await resume(store, thread_id, request_id)
    finally:
        await store.close()


def main() -> None:
    url, thread_id, request_id = sys.argv[1:4]
    print(json.dumps(asyncio.run(run(url, thread_id, request_id))))


if __name__ == "__main__":
    main()
