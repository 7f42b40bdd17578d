"""Chaos: `kill -9` workers at random moments while approvals arrive, then count what was lost.

A `switchboard serve` (HTTP, outbox, timers; no workers of its own) and a few `switchboard worker`
processes share a fresh PostgreSQL database. Bob asks the deploy bot, in waves, to deploy to
production; Alice approves each request as it appears. Before each new wave one worker is killed
with SIGKILL, preferably while it holds a thread, and started again. Then every thread must be
done, every tool call must have run as its declaration allows, and no message may be sent twice.

`python -m tests.chaos` (`make chaos`) runs the long version and prints the figures;
tests/test_chaos.py runs a short one and asserts on them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from core.agent import discover_agents
from core.workers import sweep_interval
from tests.server import POSTGRES, TOKEN, Server, environment, fresh_database, running_server

SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))
OWNER = re.compile(r"worker-[0-9a-f]{8}")
ASK = "deploy api 2.4.1 to production"
POLL = 0.02  # seconds between looks at the database: the resolution of the takeover figures


@dataclass(frozen=True, slots=True)
class Plan:
    threads: int = 300
    kills: int = 30
    workers: int = 2  # worker processes; one at a time is killed and started again
    lease_seconds: float = 6.0
    seed: int = 7

    @property
    def takeover_bound(self) -> float:
        """The slowest takeover the lease allows: the lease runs out, then one sweep finds it."""
        return self.lease_seconds + sweep_interval(self.lease_seconds)


@dataclass(slots=True)
class Figures:
    plan: Plan
    finished: int = 0
    tool_calls: int = 0  # checked against their tools' declarations
    lost: list[str] = field(default_factory=list)  # work that did not get done
    duplicated: list[str] = field(default_factory=list)  # effects or messages done twice
    takeovers: list[float] = field(default_factory=list)  # kill -> another process has it, s
    stranded: int = 0  # threads a killed worker held that no one took over
    mid_send: int = 0  # messages a kill left being sent: resent when the outbox's lease ends
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.takeovers)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def lines(self) -> list[str]:
        plan = self.plan
        takeover = "none: no kill caught a worker holding a thread"
        if self.takeovers:
            takeover = (
                f"p50 {self.percentile(50):.2f}  p99 {self.percentile(99):.2f}"
                f"  max {max(self.takeovers):.2f}  (lease + sweep: {plan.takeover_bound:g})"
            )
        held = len(self.takeovers) + self.stranded
        sweep = sweep_interval(plan.lease_seconds)
        return [
            f"chaos: {plan.workers} workers and a server on PostgreSQL, deploy threads each"
            f" approved, lease {plan.lease_seconds:g} s, sweep {sweep:g} s",
            f"  threads           {plan.threads}  (finished: {self.finished})",
            f"  kills             {plan.kills}  (threads held by the killed: {held},"
            f" never taken over: {self.stranded})",
            f"  lost              {len(self.lost)}",
            f"  duplicated        {len(self.duplicated)}  (tool calls checked: {self.tool_calls})",
            f"  takeover, s       {takeover}",
            f"  left mid-send     {self.mid_send}  (messages: resent when the outbox lease ends)",
            f"  wall time, s      {self.seconds:.1f}",
            *(f"  lost: {x}" for x in self.lost[:10]),
            *(f"  duplicated: {x}" for x in self.duplicated[:10]),
        ]


# --- processes -----------------------------------------------------------------------------------


class Worker:
    """One `switchboard worker` process, which can be killed and started again."""

    def __init__(self, directory: Path, database_url: str, lease: float, number: int) -> None:
        self.env = environment(
            directory, 0, TOKEN, database_url, SWITCHBOARD_LEASE_SECONDS=f"{lease:g}"
        )
        self.directory = directory
        self.log = directory / f"worker-{number}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.owner = ""  # its lease owner name, once it has started

    async def start(self) -> None:
        printed = len(OWNER.findall(self.log.read_text())) if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                SWITCHBOARD, "worker", cwd=self.directory, env=self.env, stdout=out, stderr=out
            )
        while len(found := OWNER.findall(self.log.read_text())) == printed:  # its start-up line
            if self.process.returncode is not None:
                raise RuntimeError(f"the worker exited:\n{self.log.read_text()[-3000:]}")
            await asyncio.sleep(POLL)
        self.owner = found[-1]

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no finally blocks, no lease given back
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()


# --- the run -------------------------------------------------------------------------------------


def run(directory: Path, database_url: str, plan: Plan) -> Figures:
    """Migrate, start the server, play the plan against it and count; stop everything."""
    env = environment(directory, 0, TOKEN, database_url)
    subprocess.run(
        [SWITCHBOARD, "db", "upgrade"], cwd=directory, env=env, check=True, capture_output=True
    )
    lease = f"{plan.lease_seconds:g}"
    # No workers in the server: every thread runs in a worker process that may be killed.
    with running_server(
        directory,
        database_url=database_url,
        SWITCHBOARD_WORKERS="0",
        SWITCHBOARD_LEASE_SECONDS=lease,
    ) as server:
        return asyncio.run(Chaos(server, directory, database_url, plan).play())


class Chaos:
    def __init__(self, server: Server, directory: Path, database_url: str, plan: Plan) -> None:
        self.server = server
        self.database_url = database_url
        self.plan = plan
        self.random = random.Random(plan.seed)
        self.workers = [
            Worker(directory, database_url, plan.lease_seconds, n) for n in range(plan.workers)
        ]
        self.figures = Figures(plan)
        self.threads: list[str] = []
        self.restarts: list[asyncio.Task[None]] = []

    async def play(self) -> Figures:
        started = time.monotonic()
        async with self.connections() as (api, db):
            await asyncio.gather(*(w.start() for w in self.workers))
            approving = asyncio.create_task(self.approve(api))
            watching: list[asyncio.Task[None]] = []
            try:
                waves = self.plan.kills + 1
                for wave in range(waves):
                    share = (
                        self.plan.threads * (wave + 1) // waves - self.plan.threads * wave // waves
                    )
                    await asyncio.gather(*self.restarts)  # every worker is up: one dies next
                    launching = asyncio.create_task(self.launch(api, share))
                    if wave < self.plan.kills:  # while the wave starts and earlier ones resume
                        watching.append(await self.kill_one(db))
                    await launching
                await asyncio.gather(*self.restarts)
                await self.until_finished(db, approving)
                await asyncio.gather(*watching)
            finally:
                for task in [approving, *watching, *self.restarts]:
                    task.cancel()
                await asyncio.gather(*(w.stop() for w in self.workers))
            await self.count(db)
        self.figures.seconds = time.monotonic() - started
        return self.figures

    @contextlib.asynccontextmanager
    async def connections(
        self,
    ) -> AsyncIterator[tuple[httpx.AsyncClient, psycopg.AsyncConnection[Any]]]:
        headers = {"Authorization": f"Bearer {self.server.token}"}
        async with (
            httpx.AsyncClient(
                base_url=f"{self.server.url}/api/v1", headers=headers, timeout=30
            ) as api,
            await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as db,
        ):
            yield api, db

    async def launch(self, api: httpx.AsyncClient, count: int) -> None:
        """Bob asks for `count` production deploys, each in its own Slack conversation."""

        async def one() -> None:
            message = {
                "sender": "U0BOB",
                "conversation": f"C-chaos:{uuid.uuid4().hex}",
                "text": ASK,
            }
            answer = await api.post("/sandbox/slack/messages", json=message)
            answer.raise_for_status()
            self.threads.append(answer.json()["thread_id"])

        await asyncio.gather(*(one() for _ in range(count)))

    async def approve(self, api: httpx.AsyncClient) -> None:
        """Alice approves every open request as it appears, until cancelled."""
        while True:
            listed = await api.get("/requests", params={"status": "open"})
            listed.raise_for_status()
            for request in listed.json():
                body = {"as": "alice", "decision": "approve", "reason": "chaos"}
                answer = await api.post(f"/requests/{request['id']}/respond", json=body)
                if answer.status_code not in (200, 409):  # 409: decided already, or busy: again
                    answer.raise_for_status()
            await asyncio.sleep(self.random.uniform(0, 0.2))

    async def kill_one(self, db: psycopg.AsyncConnection[Any]) -> asyncio.Task[None]:
        """After a random pause, kill a worker (while it holds a thread, if it does within a
        second), start it again, and watch its threads: returns the watching task."""
        await asyncio.sleep(self.random.uniform(0, 0.1))
        victim = self.random.choice(self.workers)
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            if await self.held_by(db, victim.owner):
                break
            await asyncio.sleep(POLL / 4)
        killed_at = time.monotonic()
        await victim.kill()
        held = await self.held_by(db, victim.owner)
        self.restarts.append(asyncio.create_task(victim.start()))
        return asyncio.create_task(self.watch(db, victim.owner, held, killed_at))

    async def held_by(self, db: psycopg.AsyncConnection[Any], owner: str) -> list[str]:
        rows = await db.execute(
            "SELECT id FROM threads WHERE lease_owner = %s AND status IN ('intake', 'running')",
            (owner,),
        )
        return [row[0] for row in await rows.fetchall()]

    async def watch(
        self, db: psycopg.AsyncConnection[Any], owner: str, held: list[str], killed_at: float
    ) -> None:
        """Time until each thread the killed worker held is held (or finished) by another."""
        waiting = set(held)
        deadline = killed_at + 3 * self.plan.takeover_bound + 10
        while waiting and time.monotonic() < deadline:
            still = set(await self.held_by(db, owner))
            for _ in waiting - still:
                self.figures.takeovers.append(time.monotonic() - killed_at)
            waiting &= still
            await asyncio.sleep(POLL)
        self.figures.stranded += len(waiting)

    async def until_finished(
        self, db: psycopg.AsyncConnection[Any], approving: asyncio.Task[None]
    ) -> None:
        """Until every thread is done and every message due is delivered, or a generous deadline."""
        deadline = time.monotonic() + 3 * self.plan.takeover_bound + 30
        done = "SELECT count(*) FROM threads WHERE status = 'done'"
        due = "SELECT count(*) FROM outbox WHERE status = 'pending'"
        while time.monotonic() < deadline:
            if approving.done():
                approving.result()  # the approver failed: say why
            finished = await self.one(db, done) == len(self.threads)
            if finished and await self.one(db, due) == 0:
                return
            await asyncio.sleep(0.1)

    @staticmethod
    async def one(db: psycopg.AsyncConnection[Any], query: str) -> Any:
        row = await (await db.execute(query)).fetchone()
        return row[0] if row else None

    # --- the verdict ---------------------------------------------------------------------------

    async def count(self, db: psycopg.AsyncConnection[Any]) -> None:
        rows = await (await db.execute("SELECT id, status FROM threads")).fetchall()
        statuses = dict(rows)
        for thread in self.threads:
            if statuses.get(thread) == "done":
                self.figures.finished += 1
            else:
                self.figures.lost.append(f"{thread} is {statuses.get(thread)}")
        await self.count_tool_calls(db)
        await self.count_effects(db)
        in_flight = "SELECT count(*) FROM outbox WHERE status = 'sending'"
        self.figures.mid_send = await self.one(db, in_flight)

    async def count_tool_calls(self, db: psycopg.AsyncConnection[Any]) -> None:
        """Each call has one result, whoever ran it; an idempotent call may have been re-run
        after a kill, but never gives two results."""
        idempotent = {t.name: t.idempotent for a in discover_agents().values() for t in a.tools}
        results: dict[tuple[str, str, str], int] = {}
        events = await db.execute(
            "SELECT thread_id, data::json->>'tool', data::json->>'call_id', type FROM events"
            " WHERE type IN ('tool_called', 'tool_succeeded', 'tool_failed')"
        )
        for thread, tool, call, kind in await events.fetchall():
            key = (thread, tool, call)
            results[key] = results.get(key, 0) + (kind != "tool_called")
        self.figures.tool_calls = len(results)
        for (thread, tool, call), n in results.items():
            if n > 1:
                self.figures.duplicated.append(f"{thread}: {tool} call {call} has {n} results")
            elif n == 0 and idempotent.get(tool):
                self.figures.lost.append(f"{thread}: {tool} call {call} never finished")

    async def count_effects(self, db: psycopg.AsyncConnection[Any]) -> None:
        """One approval asked and one deployment per thread; no message sent twice."""
        figures = self.figures
        asked = await db.execute(
            "SELECT thread_id, count(*) FROM human_requests GROUP BY thread_id HAVING count(*) > 1"
        )
        for thread, n in await asked.fetchall():
            figures.duplicated.append(f"{thread}: asked for approval {n} times")
        rows = await db.execute("SELECT thread_id, count(*) FROM deployments GROUP BY thread_id")
        deployed = dict(await rows.fetchall())
        for thread in self.threads:
            n = deployed.get(thread, 0)
            if n > 1:
                figures.duplicated.append(f"{thread}: deployed {n} times")
            elif n == 0:
                figures.lost.append(f"{thread}: never deployed")
        # Sent twice: one row delivered twice (two dispatchers), or two rows for one message.
        twice = await db.execute(
            "SELECT id FROM outbox WHERE status = 'sent' AND attempts > 1"
            " UNION ALL SELECT min(id) FROM outbox WHERE status = 'sent'"
            " GROUP BY thread_id, kind, request_id, channel, address, text HAVING count(*) > 1"
        )
        for (row,) in await twice.fetchall():
            figures.duplicated.append(f"outbox row {row} was sent twice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    plan = Plan()
    parser.add_argument("--threads", type=int, default=plan.threads)
    parser.add_argument("--kills", type=int, default=plan.kills)
    parser.add_argument("--workers", type=int, default=plan.workers)
    parser.add_argument("--lease", type=float, default=plan.lease_seconds, help="seconds")
    parser.add_argument("--seed", type=int, default=plan.seed)
    parser.add_argument("--postgres", default=POSTGRES, help="a database beside which to make one")
    args = parser.parse_args()
    plan = Plan(args.threads, args.kills, args.workers, args.lease, args.seed)
    with tempfile.TemporaryDirectory() as directory, fresh_database(args.postgres) as url:
        figures = run(Path(directory), url, plan)
    print("\n".join(figures.lines()))
    if figures.lost or figures.duplicated or figures.stranded:
        sys.exit(1)


if __name__ == "__main__":
    main()
