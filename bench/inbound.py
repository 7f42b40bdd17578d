"""Inbound messages over HTTP: a real `switchboard serve`, many concurrent keep-alive connections.

Three inlets carry the same mix of conversations: a quarter of their messages start a thread, the
rest continue one; a fifth of the senders are not in the directory.
- the sandbox, `POST /api/v1/sandbox/slack/messages` (`SANDBOX`, below): the inbox's path without
  a platform's checks: dedupe, resolve the sender, route, store, wake a worker, acknowledge;
- Slack's Events API webhook, `POST /slack/events`, with Slack real (`bench.slack`): the same,
  after verifying Slack's signature and parsing its callback;
- Twilio's incoming-message webhook, `POST /twilio/sms`, with SMS real (`bench.sms`): the same,
  after verifying Twilio's signature and parsing its form.
The server's workers run the offline demo agent on those threads at the same time, in the same
process: that load is part of the figures. Only acknowledged messages count, and each must be in
the inbox once: after the load the bench reads the inbox's new rows, by outcome, from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from bench.databases import inbox_outcomes
from bench.http import Connection, Reply
from bench.serving import TOKEN, Server, running, switchboard_serve

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

P = TypeVar("P")
Send = Callable[[P], Awaitable[int]]  # → the HTTP status; 0: the connection was lost


class Inlet(Protocol[P]):
    """Where the messages go in, and how: one per kind of request the bench makes."""

    name: str  # its key in the JSON line
    label: str  # its column in the table
    channel: str  # the inbox's channel of its messages
    path: str
    token: str | None  # the API token, or None: the request is not the API's (a signed webhook)
    accepted: int  # the HTTP status that acknowledges a message

    def serving(self) -> AbstractAsyncContextManager[dict[str, str]]:
        """What the server needs while it runs (a platform double, say): its extra settings."""
        ...

    def messages(self, n: int, tag: str) -> list[P]:
        """n messages over n/4 conversations, interleaved; `tag` makes them new to the server."""
        ...

    def send(self, connection: Connection, message: P) -> Awaitable[Reply]: ...

    def calls(self) -> int | None:
        """Calls the server has made so far to a platform double in this process, if any."""
        ...


@dataclass(frozen=True, slots=True)
class InboundFigures:
    inlet: str
    messages: int  # sent
    accepted: int  # acknowledged, each found once in the inbox: what `per_s` counts
    concurrency: int  # connections
    rate: float | None  # offered messages per second (paced), or None: as fast as answered
    workers: int  # SWITCHBOARD_WORKERS in the server
    seconds: float
    per_s: float
    p50_ms: float  # of the acknowledged messages
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_message: float | None  # the server process's CPU during the load
    client_cpu_ms_per_message: float  # the bench process's, for the same span
    drained_s: float | None  # after the last acknowledgement, until no thread had work left
    # calls the server made to a platform double during the load: served in the bench process
    platform_calls: int | None
    responses: dict[str, int] = field(default_factory=dict)  # by HTTP status
    outcomes: dict[str, int] = field(default_factory=dict)  # the inbox's new rows, by outcome
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


class Sandbox:
    """`POST /api/v1/sandbox/slack/messages`, Slack running as its sandbox (no credentials)."""

    name = "sandbox"
    label = "sandbox"
    channel = "slack"
    path = PATH
    token: str | None = TOKEN
    accepted = 202

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[dict[str, str]]:
        yield {}

    def messages(self, n: int, tag: str) -> list[dict[str, str]]:
        return list(payloads(n, tag))

    def send(self, connection: Connection, message: dict[str, str]) -> Awaitable[Reply]:
        return connection.request("POST", self.path, message)

    def calls(self) -> int | None:
        return None


SANDBOX = Sandbox()


@dataclass(slots=True)
class Senders(Generic[P]):
    """Keep-alive connections to the server, one message at a time on each."""

    server: Server
    inlet: Inlet[P]
    connections: list[Connection]

    @classmethod
    async def open(cls, server: Server, inlet: Inlet[P], n: int) -> Senders[P]:
        return cls(server, inlet, [await server.connect(inlet.token) for _ in range(n)])

    def sends(self) -> list[Send[P]]:
        return [self._sender(i) for i in range(len(self.connections))]

    def _sender(self, i: int) -> Send[P]:
        async def send(message: P) -> int:
            try:
                reply = await self.inlet.send(self.connections[i], message)
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server dropped the connection (after a 500): count it, and reconnect.
                await self.connections[i].close()
                self.connections[i] = await self.server.connect(self.inlet.token)
                return 0
            return reply.status

        return send

    async def close(self) -> None:
        for c in self.connections:
            await c.close()


Results = list[tuple[int, float]]  # (HTTP status, seconds to its answer) per message


async def closed_loop(sends: list[Send[P]], messages: list[P]) -> tuple[Results, float]:
    results: Results = []
    queue = iter(messages)  # shared: each connection takes the next message when it is free

    async def drive(send: Send[P]) -> None:
        for message in queue:
            started = time.perf_counter()
            status = await send(message)
            results.append((status, time.perf_counter() - started))

    started = time.perf_counter()
    await asyncio.gather(*(drive(s) for s in sends))
    return results, time.perf_counter() - started


async def paced(sends: list[Send[P]], messages: list[P], rate: float) -> tuple[Results, float]:
    """Open loop: message i is due at i/rate; its latency counts from then, not from when a
    connection came free, so a slow server cannot hide its backlog (no coordinated omission)."""
    free: asyncio.Queue[Send[P]] = asyncio.Queue()
    for send in sends:
        free.put_nowait(send)
    results: Results = []

    async def one(message: P, due: float) -> None:
        send = await free.get()
        status = await send(message)
        results.append((status, time.perf_counter() - due))
        free.put_nowait(send)

    started = time.perf_counter()
    tasks = []
    for i, message in enumerate(messages):
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(message, due)))
    await asyncio.gather(*tasks)
    return results, time.perf_counter() - started


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


def _checked(inlet: Inlet[Any], results: Results, stored: Counter[str]) -> list[float]:
    """The acknowledged messages' latencies, once every one is found stored, and only then.

    A 4xx is the bench's own mistake (a bad signature, a malformed body): its figures would be
    of the refusal, so there are none. A 5xx or a lost connection is the server's, and shows in
    the responses; it is not counted as a message accepted.
    """
    statuses = Counter(status for status, _ in results)
    ours = {s: k for s, k in statuses.items() if 400 <= s < 500}
    if ours:
        raise RuntimeError(f"{inlet.label}: the server refused the bench's requests: {ours}")
    acknowledged = statuses[inlet.accepted]
    if stored.total() != acknowledged:
        raise RuntimeError(
            f"{inlet.label}: {acknowledged} messages acknowledged, but {stored.total()} new in the"
            f" inbox ({dict(stored)}): each one must be stored once"
        )
    return [seconds for status, seconds in results if status == inlet.accepted]


def _status(status: int) -> str:
    return str(status) if status else "connection lost"


async def run(
    directory: Path,
    inlet: Inlet[P],
    *,
    n: int,
    concurrency: int,
    workers: int,
    database_url: str,
    rate: float | None,
) -> InboundFigures:
    async with (
        inlet.serving() as settings,
        running(
            directory,
            switchboard_serve(),
            SWITCHBOARD_WORKERS=str(workers),
            DATABASE_URL=database_url,
            environment=settings,
        ) as server,
    ):
        senders = await Senders.open(server, inlet, concurrency)
        sends = senders.sends()
        try:
            await closed_loop(sends, inlet.messages(WARMUP, f"W{uuid.uuid4().hex[:6]}-"))
            messages = inlet.messages(n, f"C{uuid.uuid4().hex[:6]}-")
            before = inbox_outcomes(database_url, inlet.channel)
            calls_before = inlet.calls()
            cpu_before, client_before = server.cpu_seconds(), time.process_time()
            if rate is None:
                results, seconds = await closed_loop(sends, messages)
            else:
                results, seconds = await paced(sends, messages, rate)
            cpu_after, client_after = server.cpu_seconds(), time.process_time()
            calls_after = inlet.calls()
            stored = inbox_outcomes(database_url, inlet.channel) - before
        finally:
            await senders.close()
        drained, threads = await _drained(server) if workers else (None, {})
    latencies = _checked(inlet, results, stored)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    server_cpu = (
        None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) * 1000 / n
    )
    return InboundFigures(
        inlet=inlet.name,
        messages=n,
        accepted=len(latencies),
        concurrency=concurrency,
        rate=rate,
        workers=workers,
        seconds=seconds,
        per_s=len(latencies) / seconds,
        p50_ms=cuts[49] * 1000,
        p90_ms=cuts[89] * 1000,
        p99_ms=cuts[98] * 1000,
        max_ms=max(latencies) * 1000,
        server_cpu_ms_per_message=server_cpu,
        client_cpu_ms_per_message=(client_after - client_before) * 1000 / n,
        drained_s=drained,
        platform_calls=(
            None if calls_before is None or calls_after is None else calls_after - calls_before
        ),
        responses={_status(s): k for s, k in sorted(Counter(s for s, _ in results).items())},
        outcomes=dict(sorted(stored.items())),
        threads=threads,
    )


def measure(
    directory: Path,
    inlet: Inlet[Any] = SANDBOX,
    *,
    n: int = 5000,
    concurrency: int = 64,
    workers: int = 4,
    rate: float | None = None,
    database_url: str | None = None,
) -> InboundFigures:
    name = f"inbound-{inlet.name}-w{workers}-{rate or 'max'}"
    return asyncio.run(
        run(
            directory,
            inlet,
            n=n,
            concurrency=concurrency,
            workers=workers,
            rate=rate,
            database_url=database_url or f"sqlite:///{directory / name}.db",
        )
    )
