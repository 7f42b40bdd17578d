"""An agent outside asks people through a real server: how soon its request reaches them, and
how soon it hears the decision.

`switchboard serve` runs in a subprocess on SQLite, every channel in its sandbox. N times, one at
a time, the bench (with the operator's token) asks Erin a question (her preferred channel:
Discord) with a callback URL on its own loopback receiver, and waits on it with a long-poll GET.

Created -> delivered: from just before the POST to the `sent_at` the server wrote on Erin's copy.
Decided -> caller notified: the bench answers as Erin (POST .../respond) and times, from just
before that, the long-poll's return and the callback's arrival at the receiver. One machine, one
clock.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.serving import running, switchboard_serve

N = 30


@dataclass(frozen=True, slots=True)
class Spread:
    p50_ms: float
    p90_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Spread:
        cuts = statistics.quantiles(seconds, n=10, method="inclusive")
        return cls(statistics.median(seconds) * 1000, cuts[8] * 1000, max(seconds) * 1000)


@dataclass(frozen=True, slots=True)
class OutsideFigures:
    n: int
    delivered: Spread
    long_poll: Spread
    callback: Spread

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items()}


class Receiver:
    """The caller's webhook receiver: stamps each callback as it arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.came = asyncio.Event()

    async def take(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrived[body["id"]] = time.time()
        self.came.set()
        return web.Response(status=204)


async def _measure(directory: Path) -> OutsideFigures:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/decided", receiver.take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/decided"
    delivered, polled, called = [], [], []
    try:
        async with running(directory, switchboard_serve()) as server:
            for i in range(N):
                # Connections of their own each time: an idle keep-alive one may be closed.
                asking, waiting, answering = [await server.connect() for _ in range(3)]
                body = {"to": ["erin"], "question": f"Which region, {i}?", "callback_url": hook}
                asked_at = time.time()
                made = (await asking.request("POST", "/api/v1/requests", body)).json()
                path = f"/api/v1/requests/{made['id']}"
                delivered.append(await _sent(asking, path) - asked_at)
                poll = asyncio.create_task(waiting.request("GET", f"{path}?wait=30"))
                await asyncio.sleep(0.05)  # the long-poll is waiting
                receiver.came.clear()
                answer = {"as": "erin", "decision": "answer", "answer": "eu"}
                decided_at = time.time()
                await answering.request("POST", f"{path}/respond", answer)
                await poll
                polled.append(time.time() - decided_at)
                await asyncio.wait_for(receiver.came.wait(), 30)
                called.append(receiver.arrived[made["id"]] - decided_at)
                for connection in (asking, waiting, answering):
                    await connection.close()
    finally:
        await runner.cleanup()
    return OutsideFigures(N, Spread.of(delivered), Spread.of(polled), Spread.of(called))


async def _sent(connection: Any, path: str) -> float:
    """The server's stamp on the first copy it sent (polled outside the measured span)."""
    while True:
        copies = (await connection.request("GET", path)).json()["deliveries"]
        stamps = [c["sent_at"] for c in copies if c["status"] == "sent" and c["sent_at"]]
        if stamps:
            return min(datetime.fromisoformat(s).timestamp() for s in stamps)
        await asyncio.sleep(0.002)


def measure(directory: Path) -> OutsideFigures:
    return asyncio.run(_measure(directory))


def rows(f: OutsideFigures) -> list[str]:
    head = (
        f"\nan agent outside: {f.n} questions to Erin over REST, one at a time, SQLite;"
        " p50 / p90 / max, ms"
    )
    return [head] + [
        f"  {label:<50} {s.p50_ms:>7.1f} / {s.p90_ms:.1f} / {s.max_ms:.1f}"
        for label, s in (
            ("created -> delivered (her Discord copy sent)", f.delivered),
            ("decided -> caller notified, long-poll", f.long_poll),
            ("decided -> caller notified, signed callback", f.callback),
        )
    ]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(rows(measure(Path(tmp)))))
