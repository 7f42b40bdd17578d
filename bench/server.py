"""The server benches: inbound messages through HTTP, and a human's answer → the next model call.

Every figure comes from a real server in a subprocess on a fresh database, loaded from this
process. The inbound figures are taken three ways:
- as fast as the server answers 64 connections: its capacity. At a fixed concurrency latency is
  connections / rate, so these latencies are queueing. The workers fall behind during the burst
  and a thread woken by several messages runs once, so less agent work is done per message.
- paced at the target rate, 1,000/s (open loop: each message's latency counts from when it was
  due): the acknowledgement time at the load the target names, with the agents answering.
- as fast as answered with no workers: ingress alone, without the agents on the same cores.
Each way on three inlets, side by side, each on its own server (bench.inbound): the sandbox's
injection endpoint, Slack's Events API webhook with Slack real (bench.slack) and Twilio's
incoming-message webhook with SMS real (bench.sms), which verify the platform's signature and
parse its request before the same inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import answer, inbound, spy
from bench.databases import fresh_postgres
from bench.serving import running, switchboard_serve
from bench.slack import SLACK_WEBHOOK
from bench.sms import SMS_WEBHOOK

CONNECTIONS = 64
MESSAGES = 5000
# The target's rate: what acknowledging costs at 1,000 messages a second, agents running.
PACED_RATE = 1000.0
PACED_MESSAGES = 5000
ANSWERS = 100
TARGETS = {"inbound_per_s": 1000, "inbound_p99_ms": 50, "answer_p50_ms": 20}

Database = Callable[[str], AbstractContextManager[str]]  # a fresh database URL per server


@dataclass(frozen=True, slots=True)
class Loads:
    """One inlet's inbound figures under the three loads."""

    capacity: inbound.InboundFigures
    paced: inbound.InboundFigures
    ingress: inbound.InboundFigures

    def as_json(self) -> dict[str, Any]:
        return {
            "inbound_capacity": self.capacity.as_json(),
            "inbound_paced": self.paced.as_json(),
            "inbound_no_workers": self.ingress.as_json(),
        }


@dataclass(frozen=True, slots=True)
class ServerFigures:
    sandbox: Loads
    slack: Loads
    sms: Loads
    answers: answer.AnswerFigures

    def as_json(self) -> dict[str, Any]:
        return {
            **self.sandbox.as_json(),
            "slack_webhook": self.slack.as_json(),
            "sms_webhook": self.sms.as_json(),
            "answer_to_model_call": self.answers.as_json(),
        }


def sqlite(directory: Path) -> Database:
    """A new SQLite file per server run, in `directory`."""

    @contextlib.contextmanager
    def fresh(name: str) -> Iterator[str]:
        yield f"sqlite:///{directory / name}.db"

    return fresh


def postgres(admin_url: str) -> Database:
    """A new PostgreSQL database per server run, beside `admin_url`'s, dropped after it."""
    return lambda _name: fresh_postgres(admin_url)


def measure(directory: Path, database: Database) -> ServerFigures:
    """Each load on the sandbox, then on Slack's and Twilio's webhooks, each on its own server
    and database."""
    inlets: tuple[inbound.Inlet[Any], ...] = (inbound.SANDBOX, SLACK_WEBHOOK, SMS_WEBHOOK)
    loads = (
        ("capacity", MESSAGES, 4, None),
        ("paced", PACED_MESSAGES, 4, PACED_RATE),
        ("no-workers", MESSAGES, 0, None),
    )
    figures: dict[str, list[inbound.InboundFigures]] = {inlet.name: [] for inlet in inlets}
    for load, n, workers, rate in loads:
        for inlet in inlets:
            with database(f"inbound-{inlet.name}-{load}") as url:
                figures[inlet.name].append(
                    inbound.measure(
                        directory,
                        inlet,
                        n=n,
                        concurrency=CONNECTIONS,
                        workers=workers,
                        rate=rate,
                        database_url=url,
                    )
                )
    with database("answer") as url:
        answers = answer.measure(directory, n=ANSWERS, database_url=url)
    sandbox, slack, sms = (Loads(*figures[inlet.name]) for inlet in inlets)
    return ServerFigures(sandbox, slack, sms, answers)


def _row(figure: str, value: str, target: str = "") -> str:
    return f"  {figure:<50} {value:>15}   {target}"


def _ms(a: float, b: float, c: float) -> str:
    return f"{a:.1f} / {b:.1f} / {c:.1f}"


COLUMNS = ("sandbox", "Slack webhook", "SMS webhook")


def _columns(figure: str, *values: str, target: str = "") -> str:
    return f"  {figure:<46}" + "".join(f" {v:>24}" for v in values) + f"   {target}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _cpu(f: inbound.InboundFigures) -> str:
    if f.server_cpu_ms_per_message is None:
        return "n/a"
    share = f.server_cpu_ms_per_message * f.per_s / 1000
    return f"{f.server_cpu_ms_per_message:.2f} ({share:.0%} of a core)"


def _inbound_rows(*loads: inbound.InboundFigures) -> list[str]:
    """One load, on each inlet, side by side."""
    a = loads[0]
    load = (
        f"paced at {a.rate:g}/s" if a.rate else f"as fast as answered, {a.concurrency} connections"
    )
    rows = [
        f"    {load}, SWITCHBOARD_WORKERS={a.workers}, N={a.messages}",
        _columns(
            "      messages accepted per second",
            *(f"{f.per_s:,.0f}" for f in loads),
            target=">= 1,000" if not a.rate else "",
        ),
        _columns(
            "      time to acknowledge, p50 / p90 / p99 ms",
            *(_ms(f.p50_ms, f.p90_ms, f.p99_ms) for f in loads),
            target="p99 <= 50",
        ),
        _columns("      slowest acknowledgement, ms", *(f"{f.max_ms:.1f}" for f in loads)),
        _columns("      server CPU per message, ms", *(_cpu(f) for f in loads)),
        _columns(
            "      bench client CPU per message, ms",
            *(f"{f.client_cpu_ms_per_message:.2f}" for f in loads),
        ),
    ]
    if all(f.drained_s is not None for f in loads):
        rows.append(
            _columns(
                "      workers caught up, s after the last ack",
                *(f"{f.drained_s:.2f}" for f in loads),
            )
        )
    for f, label in zip(loads, COLUMNS, strict=True):
        calls = (
            "" if f.platform_calls is None else f"; the platform's double: {f.platform_calls} calls"
        )
        threads = f"; threads: {_counts(f.threads)}" if f.threads else ""
        rows.append(
            f"        {label}: HTTP {_counts(f.responses)}{calls}; inbox outcomes:"
            f" {_counts(f.outcomes)}{threads}"
        )
    return rows


def _answer_rows(f: answer.AnswerFigures) -> list[str]:
    rows = []
    for label, figures in (
        ("all", f.all),
        ("REST POST /api/v1/requests/{id}/respond", f.api),
        ("Discord button (sandbox injection)", f.button),
    ):
        rows += [
            f"    {label}, N={figures.n}",
            _row(
                "      answer -> model call, p50 / p90 / p99 ms",
                _ms(figures.p50_ms, figures.p90_ms, figures.p99_ms),
                "p50 <= 20" if label == "all" else "",
            ),
            _row("      the answer's own HTTP response, p50 ms", f"{figures.ack_p50_ms:.1f}"),
        ]
    return rows


def rows(label: str, f: ServerFigures) -> list[str]:
    return [
        f"\nserver, {label}: `switchboard serve` in a subprocess (the offline demo agent on its"
        " workers), loaded from this process over keep-alive HTTP/1.1",
        "  inbound: the same mix on three inlets (1/4 start a thread, 3/4 continue one, 1/5 unknown"
        " senders), each on its own server; a message counts once acknowledged and found in the"
        " inbox",
        "    sandbox: POST /api/v1/sandbox/slack/messages with the API token, Slack as its sandbox",
        "    Slack webhook: POST /slack/events with Slack real, Events API callbacks signed with"
        " SLACK_SIGNING_SECRET (app_mention starting or continuing a channel thread; unknown"
        " senders' direct messages): verify -> parse -> store -> ack (an empty 200); the server"
        " calls a loopback Slack (tests/doubles/slack.py) on the bench's event loop",
        "    SMS webhook: POST /twilio/sms with SMS real, Twilio's incoming-message form signed"
        " with TWILIO_AUTH_TOKEN over SWITCHBOARD_PUBLIC_URL (every text is for the public support"
        " agent): verify -> parse -> store -> ack (empty TwiML); the server texts through a"
        " loopback Twilio (tests/doubles/twilio.py)",
        _columns("", *COLUMNS),
        *_inbound_rows(f.sandbox.capacity, f.slack.capacity, f.sms.capacity),
        *_inbound_rows(f.sandbox.paced, f.slack.paced, f.sms.paced),
        *_inbound_rows(f.sandbox.ingress, f.slack.ingress, f.sms.ingress),
        "  a human's answer -> the thread's next model call (bench.stamped), one answer at a time",
        *_answer_rows(f.answers),
    ]


# --- --profile ------------------------------------------------------------------------------------

PROFILE_MESSAGES = 3000


async def _profile(directory: Path, n: int, rate: float | None) -> tuple[float, spy.Profile]:
    name = f"inbound-profile-{rate or 'max'}"
    url = f"sqlite:///{directory / name}.db"
    async with running(directory, switchboard_serve(), DATABASE_URL=url) as server:
        senders = await inbound.Senders.open(server, inbound.SANDBOX, CONNECTIONS)
        sends = senders.sends()
        try:
            await inbound.closed_loop(sends, inbound.SANDBOX.messages(inbound.WARMUP, "W-"))
            output = directory / f"{name}.txt"
            messages = inbound.SANDBOX.messages(n, "P-")
            async with spy.recording(server.process.pid, output):
                before = server.cpu_seconds() or 0.0
                if rate is None:
                    await inbound.closed_loop(sends, messages)
                else:
                    await inbound.paced(sends, messages, rate)
                cpu_ms = ((server.cpu_seconds() or 0.0) - before) * 1000 / n
        finally:
            await senders.close()
    return cpu_ms, spy.summary(output, n)


def profile(directory: Path, n: int = 12) -> None:
    if spy.find() is None:
        print("\nprofile, server: py-spy is not installed (`pip install py-spy`); skipped")
        return
    for rate, load in (
        (None, f"as fast as answered, {CONNECTIONS} connections"),
        (PACED_RATE, f"paced at {PACED_RATE:g}/s"),
    ):
        messages = PROFILE_MESSAGES if rate is None else PACED_MESSAGES
        cpu_ms, found = asyncio.run(_profile(directory, messages, rate))
        held = sum(found.threads.values())
        print(
            f"\nprofile, server: inbound {load}, N={messages}, workers=4; py-spy --gil"
            f" --nonblocking at {spy.RATE} Hz. ms per message: the server's CPU {cpu_ms:.2f}, of"
            f" which Python holding the GIL {held:.2f} (the rest is SQLite, uvloop, httptools and"
            " the kernel, outside the GIL)"
        )
        for thread, activities in found.activities.items():
            total = found.threads[thread]
            if total < 0.01:
                continue
            print(f"  {thread} thread, {total:.3f} ms:")
            for activity, ms in list(activities.items())[:n]:
                print(f"    {ms:8.3f}  {activity}")
        print("  busiest functions by own time:")
        for thread, function, ms in found.own[:n]:
            print(f"    {ms:8.3f}  {function}  [{thread}]")
