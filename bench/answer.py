"""A human's answer over HTTP → the next model call, in a real server (`bench.stamped`).

Threads are started through the Slack sandbox ("deploy api 2.4.1 to production") and wait for a
deploy approver. Then, one at a time, each is approved — alternately through the REST API
(`POST /api/v1/requests/{id}/respond`) and through Alice's Discord button in the sandbox — and
the time runs from just before the bench writes the answer to the moment the server issues the
thread's next model call (the server prints `time.time()` there; both processes read the same
clock). Between answers the server is let go idle, so each figure is one answer alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.http import Connection
from bench.serving import Server, running

ALICE_DISCORD = "100000000000000001"  # deploy/people.demo.toml
SETTLE_WITHIN = 30.0
PATHS = ("api", "button")


@dataclass(frozen=True, slots=True)
class Latencies:
    n: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float  # until the HTTP answer to the respond call itself

    @classmethod
    def of(cls, to_model: list[float], acked: list[float]) -> Latencies:
        cuts = statistics.quantiles(to_model, n=100, method="inclusive")
        return cls(
            n=len(to_model),
            p50_ms=cuts[49] * 1000,
            p90_ms=cuts[89] * 1000,
            p99_ms=cuts[98] * 1000,
            max_ms=max(to_model) * 1000,
            ack_p50_ms=statistics.median(acked) * 1000,
        )


@dataclass(frozen=True, slots=True)
class AnswerFigures:
    all: Latencies
    api: Latencies
    button: Latencies

    def as_json(self) -> dict[str, Any]:
        return {
            path: {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}
            for path, figures in asdict(self).items()
        }


class Stamps:
    """The server's model-call stamps, read from its stdout as they come."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.waiting: dict[str, asyncio.Future[float]] = {}

    async def read(self) -> None:
        stdout = self.server.process.stdout
        assert stdout is not None
        async for line in stdout:
            kind, _, rest = line.decode().strip().partition(" ")
            if kind != "STAMP":
                continue
            stamp, _, request_id = rest.partition(" ")
            waiter = self.waiting.pop(request_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(float(stamp))

    def expect(self, request_id: str) -> asyncio.Future[float]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        return future


async def _metrics(connection: Connection) -> dict[str, int]:
    text = (await connection.request("GET", "/metrics")).body.decode()
    found = {}
    for line in text.splitlines():
        if line.startswith(("switchboard_threads{", "switchboard_outbox{")):
            name, value = line.split(" ")
            found[f"{name.split('{')[0]}.{name.split(chr(34))[1]}"] = int(value)
    return found


async def _idle(connection: Connection) -> dict[str, int]:
    """Wait until no thread has work and the outbox is empty (polled; outside the timed spans)."""
    busy = ("threads.intake", "threads.running", "outbox.pending", "outbox.sending")
    deadline = time.monotonic() + SETTLE_WITHIN
    while time.monotonic() < deadline:
        counts = await _metrics(connection)
        if not any(counts.get(f"switchboard_{k}", 0) for k in busy):
            return counts
        await asyncio.sleep(0.01)
    raise RuntimeError(f"the server did not settle within {SETTLE_WITHIN} s: {counts}")


async def _waiting_threads(connection: Connection, n: int) -> list[dict[str, Any]]:
    for i in range(n):
        started = await connection.request(
            "POST",
            "/api/v1/sandbox/slack/messages",
            {
                "sender": "U0BOB",
                "conversation": f"A{i}:1",
                "text": "deploy api 2.4.1 to production",
            },
        )
        if started.status != 202 or started.json()["outcome"] != "started":
            raise RuntimeError(f"could not start a thread: {started.status} {started.body!r}")
    await _idle(connection)
    requests = (await connection.request("GET", "/api/v1/requests")).json()
    if len(requests) != n:
        raise RuntimeError(f"{len(requests)} requests wait for an approver, not {n}")
    return list(requests)


async def _answer(connection: Connection, request_id: str, path: str) -> int:
    if path == "api":
        reply = await connection.request(
            "POST",
            f"/api/v1/requests/{request_id}/respond",
            {"as": "alice", "decision": "approve"},
        )
        return reply.status
    reply = await connection.request(
        "POST",
        "/api/v1/sandbox/discord/messages",
        {
            "sender": ALICE_DISCORD,
            "conversation": f"dm:{ALICE_DISCORD}",
            "action": {"request_id": request_id, "decision": "approve"},
        },
    )
    return reply.status if reply.json().get("outcome") == "answered" else 500


async def run(directory: Path, *, n: int, database_url: str) -> AnswerFigures:
    command = [sys.executable, "-m", "bench.stamped"]
    async with running(directory, command, stdout_pipe=True, DATABASE_URL=database_url) as server:
        stamps = Stamps(server)
        reader = asyncio.create_task(stamps.read())
        connection = await server.connect()
        try:
            requests = await _waiting_threads(connection, n)
            times: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in PATHS}
            for i, request in enumerate(requests):
                path = PATHS[i % len(PATHS)]
                issued = stamps.expect(request["id"])
                sent = time.time()
                status = await _answer(connection, request["id"], path)
                acked = time.time()
                if status >= 300:
                    raise RuntimeError(f"answering {request['id']} by {path} failed: {status}")
                to_model, ack = times[path]
                to_model.append(await asyncio.wait_for(issued, SETTLE_WITHIN) - sent)
                ack.append(acked - sent)
                await _idle(connection)
        finally:
            await connection.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    everything = (
        [t for p in PATHS for t in times[p][0]],
        [t for p in PATHS for t in times[p][1]],
    )
    return AnswerFigures(
        all=Latencies.of(*everything),
        api=Latencies.of(*times["api"]),
        button=Latencies.of(*times["button"]),
    )


def measure(directory: Path, *, n: int = 100, database_url: str | None = None) -> AnswerFigures:
    url = database_url or f"sqlite:///{directory / 'answer.db'}"
    return asyncio.run(run(directory, n=n, database_url=url))
