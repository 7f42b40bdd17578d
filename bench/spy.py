"""Where a server's time goes: py-spy samples the subprocess (every thread, who holds the GIL).

py-spy is not a dependency: `pip install py-spy`. It samples without pausing the process
(--nonblocking), so the figures are the server's own pace; a sample counts when its thread held
the GIL (--gil): the resource that caps a one-process server's throughput. What runs outside the
GIL (SQLite itself, uvloop, httptools, the kernel) is in the server's CPU time, not in these.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

RATE = 500  # samples per second
STORE_METHOD = re.compile(r"^Sql(?:Store|Data)\.(\w+)")
# What the event loop was doing: the first of these found from the innermost frame outwards.
ACTIVITIES = (
    ("core/runtime.py", "workers: the agent loop (core/runtime.py)"),
    ("core/workers.py", "workers: the agent loop (core/runtime.py)"),
    ("core/outbox.py", "outbox dispatcher"),
    ("core/timers.py", "timers"),
    ("core/inbox.py", "inbox (loop side)"),
    ("storage/", "store calls (loop side: hand-over to the database thread)"),
    ("core/web/", "API endpoint code (core/web)"),
    ("fastapi/", "HTTP: FastAPI, Starlette, uvicorn, request/response models"),
    ("starlette/", "HTTP: FastAPI, Starlette, uvicorn, request/response models"),
    ("uvicorn/", "HTTP: FastAPI, Starlette, uvicorn, request/response models"),
    ("anyio/", "HTTP: FastAPI, Starlette, uvicorn, request/response models"),
)


def find() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


@contextlib.asynccontextmanager
async def recording(pid: int, output: Path) -> AsyncIterator[None]:
    """Sample `pid` while the block runs; the raw (collapsed) stacks go to `output`."""
    command = find()
    if command is None:
        raise RuntimeError("py-spy is not installed: `pip install py-spy` to profile the server")
    process = await asyncio.create_subprocess_exec(
        *(command, "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw"),
        *("--threads", "--gil", "--nonblocking", "--output", str(output)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # py-spy attaches: outside the measured span
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        await process.wait()


@dataclass(frozen=True, slots=True)
class Profile:
    """Milliseconds (of GIL held) per unit of work: a message, an answer."""

    threads: dict[str, float]
    activities: dict[str, dict[str, float]]  # thread → what it was doing → ms
    own: list[
        tuple[str, str, float]
    ]  # (thread, function, ms in the function itself), busiest first


def _where(frame: str) -> tuple[str, str]:
    name, _, where = frame.partition(" (")
    return name, where.rsplit(":", 1)[0]


def _thread(first: str) -> str:
    name = first.partition("): ")[2] or first
    if name.startswith("switchboard-db"):
        return "database"
    return "event loop" if name in ("MainThread", "main") else name.strip()


def _activity(thread: str, frames: list[tuple[str, str]]) -> str:
    if thread == "database":
        for name, _ in frames:  # outermost first: the unit of work the loop handed over
            found = STORE_METHOD.match(name)
            if found:
                return f"store.{found[1]}"
        return "between units of work"
    for _, file in reversed(frames):
        for marker, activity in ACTIVITIES:
            if marker in file:
                return activity
    return "other"


def summary(path: Path, units: int) -> Profile:
    threads: Counter[str] = Counter()
    activities: dict[str, Counter[str]] = {}
    own: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():  # py-spy's rare unresolved frame spans lines: drop the sample
            continue
        first, *rest = stack.split(";")
        thread, n, frames = _thread(first), int(count), [_where(f) for f in rest]
        threads[thread] += n
        activities.setdefault(thread, Counter())[_activity(thread, frames)] += n
        if frames:
            name, file = frames[-1]
            own[thread, f"{name} ({file})"] += n
    ms = 1000 / RATE / units
    return Profile(
        threads={t: n * ms for t, n in threads.most_common()},
        activities={
            t: {a: n * ms for a, n in found.most_common()} for t, found in activities.items()
        },
        own=[(t, f, n * ms) for (t, f), n in own.most_common()],
    )
