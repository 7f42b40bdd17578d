"""Inbound messages over HTTP: a real `switchboard serve`, many concurrent keep-alive connections.

Each message goes to `POST /api/v1/sandbox/slack/messages`, the path a platform's webhook takes
after its signature check: dedupe, resolve the sender, route, store, wake a worker, acknowledge.
A quarter of the conversations' messages start a thread, the rest continue one; a fifth of the
senders are not in the directory (refused, and told so). The server's workers run the offline demo
agent on those threads at the same time, in the same process: that load is part of the figures.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.serving import Server, running, switchboard_serve

PATH = "/api/v1/sandbox/slack/messages"
KNOWN = ("U0BOB", "U0ALICE", "U0CAROL", "U0ERIN")  # slack ids in deploy/people.demo.toml
TEXTS = (
    "deploy api 2.4.1 to staging",
    "deploy web 1.8.0 to staging",
    "deploy api 2.4.1 to production",  # asks the deploy approvers
    "what can you do?",
)
WARMUP = 300
DRAIN_WITHIN = 180.0

Send = Callable[[dict[str, str]], Awaitable[tuple[int, str]]]  # → (HTTP status, inbox outcome)


@dataclass(frozen=True, slots=True)
class InboundFigures:
    messages: int
    concurrency: int  # connections
    rate: float | None  # offered messages per second (paced), or None: as fast as answered
    workers: int  # SWITCHBOARD_WORKERS in the server
    seconds: float
    per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_message: float | None  # the server process's CPU during the load
    client_cpu_ms_per_message: float  # the bench process's, for the same span
    drained_s: float | None  # after the last acknowledgement, until no thread had work left
    outcomes: dict[str, int] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=dict)  # by status, once drained

    def as_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def payloads(n: int, tag: str) -> Iterator[dict[str, str]]:
    """n messages over n/4 conversations, interleaved: each conversation's first starts a thread."""
    conversations = max(1, n // 4)
    for i in range(n):
        c = i % conversations
        sender = f"U0GUEST{i}" if i % 5 == 4 else KNOWN[c % len(KNOWN)]
        text = TEXTS[c % len(TEXTS)] if i < conversations else "any news?"
        yield {"sender": sender, "conversation": f"{tag}{c}:1700000000.0001", "text": text}


async def open_senders(server: Server, n: int) -> tuple[list[Send], Callable[[], Awaitable[None]]]:
    connections = [await server.connect() for _ in range(n)]

    def sender(i: int) -> Send:
        async def send(payload: dict[str, str]) -> tuple[int, str]:
            try:
                reply = await connections[i].request("POST", PATH, payload)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                # The server dropped the connection (after a 500): count it, and reconnect.
                await connections[i].close()
                connections[i] = await server.connect()
                return 0, type(e).__name__
            return reply.status, reply.json().get("outcome", "") if reply.status == 202 else ""

        return send

    async def close() -> None:
        for c in connections:
            await c.close()

    return [sender(i) for i in range(n)], close


def _outcome(status: int, outcome: str) -> str:
    if status == 202:
        return outcome
    return f"HTTP {status}" if status else f"connection lost ({outcome})"


async def closed_loop(
    senders: list[Send], messages: list[dict[str, str]]
) -> tuple[list[float], Counter[str], float]:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    queue = iter(messages)  # shared: each connection takes the next message when it is free

    async def drive(send: Send) -> None:
        for payload in queue:
            started = time.perf_counter()
            status, outcome = await send(payload)
            latencies.append(time.perf_counter() - started)
            outcomes[_outcome(status, outcome)] += 1

    started = time.perf_counter()
    await asyncio.gather(*(drive(s) for s in senders))
    return latencies, outcomes, time.perf_counter() - started


async def paced(
    senders: list[Send], messages: list[dict[str, str]], rate: float
) -> tuple[list[float], Counter[str], float]:
    """Open loop: message i is due at i/rate; its latency counts from then, not from when a
    connection came free, so a slow server cannot hide its backlog (no coordinated omission)."""
    free: asyncio.Queue[Send] = asyncio.Queue()
    for send in senders:
        free.put_nowait(send)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def one(payload: dict[str, str], due: float) -> None:
        send = await free.get()
        status, outcome = await send(payload)
        latencies.append(time.perf_counter() - due)
        outcomes[_outcome(status, outcome)] += 1
        free.put_nowait(send)

    started = time.perf_counter()
    tasks = []
    for i, payload in enumerate(messages):
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(payload, due)))
    await asyncio.gather(*tasks)
    return latencies, outcomes, time.perf_counter() - started


async def _thread_counts(server: Server) -> dict[str, int]:
    connection = await server.connect()
    try:
        text = (await connection.request("GET", "/metrics")).body.decode()
    finally:
        await connection.close()
    counts = {}
    for line in text.splitlines():
        if line.startswith("switchboard_threads{"):
            name, value = line.split(" ")
            counts[name.split('"')[1]] = int(value)
    return counts


async def _drained(server: Server) -> tuple[float | None, dict[str, int]]:
    """Seconds until no thread is runnable (the workers caught up), polled every 0.1 s."""
    started = time.perf_counter()
    while time.perf_counter() - started < DRAIN_WITHIN:
        counts = await _thread_counts(server)
        if counts.get("intake", 0) + counts.get("running", 0) == 0:
            return time.perf_counter() - started, {k: v for k, v in counts.items() if v}
        await asyncio.sleep(0.1)
    return None, await _thread_counts(server)


async def run(
    directory: Path,
    *,
    n: int,
    concurrency: int,
    workers: int,
    database_url: str,
    rate: float | None,
) -> InboundFigures:
    async with running(
        directory,
        switchboard_serve(),
        SWITCHBOARD_WORKERS=str(workers),
        DATABASE_URL=database_url,
    ) as server:
        senders, close = await open_senders(server, concurrency)
        try:
            await closed_loop(senders, list(payloads(WARMUP, f"W{uuid.uuid4().hex[:6]}-")))
            messages = list(payloads(n, f"C{uuid.uuid4().hex[:6]}-"))
            cpu_before, client_before = server.cpu_seconds(), time.process_time()
            if rate is None:
                latencies, outcomes, seconds = await closed_loop(senders, messages)
            else:
                latencies, outcomes, seconds = await paced(senders, messages, rate)
            cpu_after, client_after = server.cpu_seconds(), time.process_time()
        finally:
            await close()
        drained, threads = await _drained(server) if workers else (None, {})
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    server_cpu = (
        None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) * 1000 / n
    )
    return InboundFigures(
        messages=n,
        concurrency=concurrency,
        rate=rate,
        workers=workers,
        seconds=seconds,
        per_s=n / seconds,
        p50_ms=cuts[49] * 1000,
        p90_ms=cuts[89] * 1000,
        p99_ms=cuts[98] * 1000,
        max_ms=max(latencies) * 1000,
        server_cpu_ms_per_message=server_cpu,
        client_cpu_ms_per_message=(client_after - client_before) * 1000 / n,
        drained_s=drained,
        outcomes=dict(sorted(outcomes.items())),
        threads=threads,
    )


def measure(
    directory: Path,
    *,
    n: int = 5000,
    concurrency: int = 64,
    workers: int = 4,
    rate: float | None = None,
    database_url: str | None = None,
) -> InboundFigures:
    name = f"inbound-w{workers}-{rate or 'max'}"
    return asyncio.run(
        run(
            directory,
            n=n,
            concurrency=concurrency,
            workers=workers,
            rate=rate,
            database_url=database_url or f"sqlite:///{directory / name}.db",
        )
    )
