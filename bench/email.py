"""The email channel, real: mail in from an IMAP mailbox on Dovecot, the answers out by SMTP.

`switchboard serve` runs in a subprocess with SMTP_HOST, IMAP_HOST and EMAIL_FROM set: it reads
the agents' mailbox on a real Dovecot (tests/doubles/dovecot.py) on loopback, listening with
IMAP IDLE, and sends through the tests' SMTP server (tests/doubles/smtp.py, aiosmtpd), which
runs on the bench's event loop for as long as the server does and stamps each mail it takes.

The bench APPENDs mails into that mailbox as another client (a mail server delivering) would,
over a few logged-in IMAP connections of its own, stamping the wall clock as each APPEND is
answered OK. A conversation by mail is a thread: four in five mails come from the demo
directory's people, each in a thread of their own that their first mail starts and their next
ones continue (In-Reply-To the previous one, References from the thread's first); every fifth
is a stranger's, a new thread each. Every mail asks after an order, so the public support agent
(every new email conversation is its) looks it up and answers in the thread, by SMTP.

Mail in: each mail's latency runs from its APPEND's OK to the `received_at` the server wrote on
its inbox row (matched by Message-ID, the row's external_id; the server stamps it as it reads the
mail, just before storing it; same machine, same clock). Every mail must be in the inbox once.
Dovecot itself tells an IDLE session of new mail only after gathering changes for a while: that
delay is timed first, on a mailbox the server does not read, as the floor it puts under these.
Mail out: the answers the agent wrote are the outbox's rows for channel email made during the
load, read from the database once the workers have caught up and nothing is left to send; each
sent one must have reached the SMTP server. The load is sent twice on one server: all at once,
then paced; the server catches up in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import imaplib
import sqlite3
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aioimaplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.serving import Server, running, switchboard_serve
from tests.doubles.dovecot import PASSWORD, USER, Dovecot, running_dovecot
from tests.doubles.smtp import Security, SmtpDouble

MAILS = 300
RATE = 20.0  # mails a second, paced
APPENDERS = 4  # IMAP connections the bench appends on: "all at once" is as fast as they go
WARMUP = 20
WORKERS = 4  # SWITCHBOARD_WORKERS
PROBES = 5  # mails Dovecot's own IDLE push is timed on, before the server starts
PROBE_USER = "probe@switchboard.test"  # a mailbox of its own: the server never reads it
WITHIN = 90.0  # seconds a phase may take to be stored, answered and sent, before the bench fails
POLL = 0.02  # how often the database is read while waiting: stamps come from elsewhere
KNOWN = (  # deploy/people.demo.toml's people with an email identity
    ("Bob Example", "bob@example.com"),
    ("Alice Example", "alice@example.com"),
    ("Carol Example", "carol@example.com"),
    ("Dana Customer", "dana@example.com"),
    ("Erin Example", "erin@example.com"),
)
TEXTS = ("where is order 10001?", "what about order 10002?", "and order 10003, has it shipped?")


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    raw: bytes
    starts: bool  # a new thread (else it continues one)
    stranger: bool


def _mail(
    sender: tuple[str, str],
    subject: str,
    text: str,
    message_id: str,
    thread: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A plain-text mail as a client writes it; in a thread, a reply to its last mail,
    quoting it. `thread`: the thread's mails so far, (Message-ID, text), first to last."""
    name, address = sender
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = f"{name} <{address}>" if name else address
    mail["To"] = f"Switchboard <{USER}>"
    mail["Subject"] = f"Re: {subject}" if thread else subject
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id
    if thread:
        mail["In-Reply-To"] = thread[-1][0]
        mail["References"] = " ".join(m for m, _ in thread)
        text += f"\n\nOn {mail['Date']}, {name} wrote:\n> {thread[-1][1]}"
    mail.set_content(text + "\n")
    return bytes(mail)


def mails(n: int, tag: str) -> list[Mail]:
    """n mails (see the module's docstring) over n/4 threads of known people, interleaved, and
    n/5 strangers' new threads; `tag` makes every Message-ID and subject new to the server."""
    conversations = max(1, n // 4)
    threads: dict[int, list[tuple[str, str]]] = {}
    out = []
    for i in range(n):
        text = TEXTS[(i + i // conversations) % len(TEXTS)]  # a thread's mails ask in turn
        if i % 5 == 4:
            sender = ("", f"guest-{tag}-{i}@customers.example")
            message_id = f"<{tag}.{i}@customers.example>"
            raw = _mail(sender, f"Order question {tag}-{i}", text, message_id)
            out.append(Mail(message_id, raw, starts=True, stranger=True))
            continue
        c = i % conversations
        sender = KNOWN[c % len(KNOWN)]
        message_id = f"<{tag}.{i}@{sender[1].partition('@')[2]}>"
        thread = threads.setdefault(c, [])
        raw = _mail(sender, f"My orders ({tag} #{c})", text, message_id, thread)
        out.append(Mail(message_id, raw, starts=not thread, stranger=False))
        thread.append((message_id, text))
    return out


class StampedSmtp(SmtpDouble):
    """The SMTP double, plain, noting the wall clock as it takes each mail."""

    def __init__(self) -> None:
        super().__init__(Security.PLAIN)
        self.taken_at: list[float] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        said = await super().handle_DATA(server, session, envelope)
        if said.startswith("250"):
            self.taken_at.append(time.time())
        return said


class Appenders:
    """Logged-in IMAP connections to the mailbox, one APPEND at a time on each, in threads."""

    def __init__(self, dovecot: Dovecot, n: int, user: str = USER) -> None:
        self.free: asyncio.Queue[imaplib.IMAP4] = asyncio.Queue()
        self.all: list[imaplib.IMAP4] = []
        for _ in range(n):
            imap = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
            _ok(imap.login(user, dovecot.users[user]))
            self.all.append(imap)
            self.free.put_nowait(imap)

    async def append(self, raw: bytes) -> float:
        """APPEND `raw` to INBOX; the wall clock as the server's OK came back."""
        imap = await self.free.get()
        try:
            return await asyncio.to_thread(_append, imap, raw)
        finally:
            self.free.put_nowait(imap)

    def close(self) -> None:
        for imap in self.all:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()


def _append(imap: imaplib.IMAP4, raw: bytes) -> float:
    _ok(imap.append("INBOX", None, None, raw))
    return time.time()


def _ok(answer: tuple[str, list[Any]]) -> None:
    if answer[0] != "OK":
        raise RuntimeError(f"IMAP said {answer[0]}: {answer[1]!r}")


# --- the server's database, read directly -----------------------------------------------------


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            yield conn

    def last_id(self, table: str) -> int:
        with self._read() as conn:
            return int(conn.execute(f"select coalesce(max(id), 0) from {table}").fetchone()[0])

    def listening(self) -> bool:
        """The mailbox listener has saved its place: every mail appended from now on is read."""
        with self._read() as conn:
            try:
                row = conn.execute(
                    "select 1 from service_settings where key = 'cursor:email'"
                ).fetchone()
            except sqlite3.OperationalError:  # not migrated yet
                return False
        return row is not None

    def inbox(self, after: int) -> list[tuple[str, str, str]]:
        """(external_id, received_at, outcome) of the email inbox's rows after id `after`."""
        with self._read() as conn:
            rows = conn.execute(
                "select external_id, received_at, outcome from inbox"
                " where channel = 'email' and id > ?",
                (after,),
            ).fetchall()
        return [(str(m), str(at), str(outcome)) for m, at, outcome in rows]

    def busy(self) -> tuple[int, int]:
        """Threads with work to do (intake, running), and outbox rows not yet sent, any channel."""
        with self._read() as conn:
            threads = conn.execute(
                "select count(*) from threads where status in ('intake', 'running')"
            ).fetchone()[0]
            unsent = conn.execute(
                "select count(*) from outbox where status in ('pending', 'sending')"
            ).fetchone()[0]
        return int(threads), int(unsent)

    def outbox(self, after: int) -> list[tuple[str, str, str, str | None, str | None]]:
        """(kind, status, written_at, sent_at, last_error) of the email outbox's rows after id
        `after`: the deliveries. written_at is when the agent's step wrote the answer (the row
        routing made this delivery from, if any), else the row's own created_at."""
        with self._read() as conn:
            rows = conn.execute(
                "select o.kind, o.status, coalesce(p.created_at, o.created_at), o.sent_at,"
                " o.last_error from outbox o left join outbox p on p.id = o.parent_id"
                " where o.channel = 'email' and o.id > ?",
                (after,),
            ).fetchall()
        return [(str(k), str(s), str(c), s_ and str(s_), e and str(e)) for k, s, c, s_, e in rows]


def _epoch(stamp: str) -> float:
    """A datetime column as SQLAlchemy keeps it in SQLite (UTC, written without its zone)."""
    at = datetime.fromisoformat(stamp)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


# --- the figures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseFigures:
    load: str  # "burst" or "paced"
    mails: int  # appended
    new_threads: int  # of them, mails that start a thread (strangers' among them)
    strangers: int
    rate: float | None  # offered mails per second (paced), or None: as fast as appended
    append_s: float  # from the first APPEND sent to the last one answered
    # mail in
    stored_s: float  # from the first APPEND sent to the last mail's received_at
    per_s: float  # mails / stored_s
    read_per_s: float  # the listener's pace: mails after the first / first to last received_at
    p50_ms: float  # APPEND answered -> received_at
    p90_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float
    outcomes: dict[str, int]  # the inbox's new email rows, by outcome
    # mail out
    answers: int  # the outbox's new rows for channel email
    answers_by_kind: dict[str, int]
    answers_by_status: dict[str, int]
    smtp_received: int  # mails the SMTP double took during the phase
    sent_s: float | None  # from the first APPEND sent to the last answer taken by SMTP
    sent_per_s: float | None  # answers / sent_s
    sent_pace_per_s: float | None  # answers after the first / first to last taken by SMTP
    outbox_p50_ms: float | None  # an answer written by the agent's step -> sent (server's stamps)
    outbox_p99_ms: float | None
    server_cpu_ms_per_mail: float | None  # the server process's CPU, mail in to answers sent
    errors: list[str] = field(default_factory=list)  # the failed rows' last errors, a few

    def as_json(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class EmailFigures:
    burst: PhaseFigures
    paced: PhaseFigures
    # Dovecot's own: APPEND answered -> an IDLE client told of the mail (EXISTS), ms, each probe
    idle_push_ms: list[float]
    warmup: int
    appenders: int
    workers: int

    def as_json(self) -> dict[str, Any]:
        return {
            "mail_in_burst": self.burst.as_json(),
            "mail_in_paced": self.paced.as_json(),
            "dovecot_idle_push_ms": [round(ms, 1) for ms in self.idle_push_ms],
            "warmup_mails": self.warmup,
            "appenders": self.appenders,
            "workers": self.workers,
        }


def _cut(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=100, method="inclusive")


# --- the run ----------------------------------------------------------------------------------


async def idle_push(dovecot: Dovecot, n: int = PROBES) -> list[float]:
    """How long Dovecot takes to tell an IDLE session of a mail APPENDed by another: the part of
    the latency that is the IMAP server's (it gathers changes before it says so), timed with the
    same IMAP library the server reads with, on a mailbox of its own."""
    client = aioimaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(PROBE_USER, PASSWORD)
    await client.select("INBOX")
    appenders = Appenders(dovecot, 1, PROBE_USER)
    delays = []
    try:
        for mail in mails(n, f"probe{uuid.uuid4().hex[:6]}"):
            idle = await client.idle_start(timeout=10)
            await asyncio.sleep(0.1)  # idling: outside the span
            appended = await appenders.append(mail.raw)
            await client.wait_server_push(timeout=10)
            delays.append((time.time() - appended) * 1000)
            client.idle_done()
            await asyncio.wait_for(idle, 10)
    finally:
        appenders.close()
        with contextlib.suppress(TimeoutError, aioimaplib.Abort, OSError):
            await asyncio.wait_for(client.logout(), 2)
    return delays


@contextlib.asynccontextmanager
async def _mail_servers() -> AsyncIterator[tuple[Dovecot, StampedSmtp]]:
    with running_dovecot({USER: PASSWORD, PROBE_USER: PASSWORD}) as dovecot:
        smtp = StampedSmtp()
        async with smtp:
            yield dovecot, smtp


def _settings(dovecot: Dovecot, smtp: SmtpDouble) -> dict[str, str]:
    return {
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "IMAP_HOST": dovecot.host,
        "IMAP_PORT": str(dovecot.port),
        "IMAP_SECURITY": "none",
        "IMAP_USERNAME": USER,
        "IMAP_PASSWORD": PASSWORD,
        "EMAIL_FROM": f"Switchboard <{USER}>",
    }


async def _until(what: str, ready: Callable[[], bool], within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"email bench: {what} did not happen within {within:g} s")
        await asyncio.sleep(POLL)


async def _append_all(
    appenders: Appenders, load: list[Mail], rate: float | None
) -> tuple[float, list[float]]:
    """APPEND every mail, all at once or paced (mail i due at i/rate: open loop); the wall
    clock at the start, and each mail's APPEND answered."""
    started = time.time()
    if rate is None:
        stamps = await asyncio.gather(*(appenders.append(m.raw) for m in load))
        return started, list(stamps)
    tasks = []
    for i, mail in enumerate(load):
        await asyncio.sleep(max(0.0, started + i / rate - time.time()))
        tasks.append(asyncio.create_task(appenders.append(mail.raw)))
    return started, list(await asyncio.gather(*tasks))


def _stored_once(load: list[Mail], rows: list[tuple[str, str, str]]) -> dict[str, str]:
    """Each mail's received_at, once every one is in the inbox exactly once, and nothing else."""
    counts = Counter(m for m, _, _ in rows)
    ours = {m.message_id for m in load}
    twice = {m: k for m, k in counts.items() if k > 1}
    missing = ours - counts.keys()
    stray = counts.keys() - ours
    if twice or missing or stray:
        raise RuntimeError(
            f"email bench: {len(load)} mails appended; in the inbox {len(missing)} missing,"
            f" {len(twice)} more than once, {len(stray)} not the bench's: each must be stored once"
        )
    return {m: at for m, at, _ in rows}


async def _phase(
    server: Server,
    db: Database,
    appenders: Appenders,
    smtp: StampedSmtp,
    load: list[Mail],
    *,
    rate: float | None,
    name: str,
) -> PhaseFigures:
    inbox_before, outbox_before = db.last_id("inbox"), db.last_id("outbox")
    smtp_before = len(smtp.taken_at)
    cpu_before = server.cpu_seconds()
    started, appended = await _append_all(appenders, load, rate)
    append_s = max(appended) - started

    def all_stored() -> bool:
        return len(db.inbox(inbox_before)) >= len(load)

    try:
        await _until(f"storing {len(load)} mails ({name})", all_stored)
    except RuntimeError as e:
        raise RuntimeError(f"{e}: {len(db.inbox(inbox_before))} of them are in the inbox") from None

    def caught_up() -> bool:
        threads, unsent = db.busy()
        if threads or unsent:
            return False
        sent = sum(1 for row in db.outbox(outbox_before) if row[1] == "sent")
        return len(smtp.taken_at) - smtp_before >= sent

    await _until(f"answering and sending ({name})", caught_up)
    cpu_after = server.cpu_seconds()
    rows = db.inbox(inbox_before)
    received = _stored_once(load, rows)
    latencies = [_epoch(received[m.message_id]) - at for m, at in zip(load, appended, strict=True)]
    last_stored = max(_epoch(at) for at in received.values())
    cuts = _cut(latencies)
    out = db.outbox(outbox_before)
    sent_rows = [row for row in out if row[1] == "sent"]
    taken = smtp.taken_at[smtp_before:]
    if len(taken) != len(sent_rows):
        raise RuntimeError(
            f"email bench ({name}): {len(sent_rows)} answers marked sent, but the SMTP server took"
            f" {len(taken)} mails"
        )
    dispatch = [_epoch(s) - _epoch(c) for _, _, c, s, _ in sent_rows if s is not None]
    dispatch_cuts = _cut(dispatch) if len(dispatch) > 1 else None
    sent_s = max(taken) - started if taken else None
    server_cpu = (
        None
        if cpu_before is None or cpu_after is None
        else (cpu_after - cpu_before) * 1000 / len(load)
    )
    stored_s = last_stored - started
    first_stored = min(_epoch(at) for at in received.values())
    return PhaseFigures(
        load=name,
        mails=len(load),
        new_threads=sum(m.starts for m in load),
        strangers=sum(m.stranger for m in load),
        rate=rate,
        append_s=append_s,
        stored_s=stored_s,
        per_s=len(load) / stored_s,
        read_per_s=(len(load) - 1) / (last_stored - first_stored),
        p50_ms=cuts[49] * 1000,
        p90_ms=cuts[89] * 1000,
        p99_ms=cuts[98] * 1000,
        max_ms=max(latencies) * 1000,
        min_ms=min(latencies) * 1000,
        outcomes=dict(sorted(Counter(o for _, _, o in rows).items())),
        answers=len(out),
        answers_by_kind=dict(sorted(Counter(k for k, *_ in out).items())),
        answers_by_status=dict(sorted(Counter(s for _, s, *_ in out).items())),
        smtp_received=len(taken),
        sent_s=sent_s,
        sent_per_s=len(taken) / sent_s if sent_s else None,
        sent_pace_per_s=(len(taken) - 1) / (max(taken) - min(taken)) if len(taken) > 1 else None,
        outbox_p50_ms=dispatch_cuts[49] * 1000 if dispatch_cuts else None,
        outbox_p99_ms=dispatch_cuts[98] * 1000 if dispatch_cuts else None,
        server_cpu_ms_per_mail=server_cpu,
        errors=sorted({e for _, s, _, _, e in out if e and s != "sent"})[:3],
    )


async def run(
    directory: Path, *, n: int = MAILS, rate: float = RATE, workers: int = WORKERS
) -> EmailFigures:
    database = directory / "email.db"
    db = Database(database)
    async with _mail_servers() as (dovecot, smtp):
        pushed = await idle_push(dovecot)
        async with running(
            directory,
            switchboard_serve(),
            SWITCHBOARD_WORKERS=str(workers),
            DATABASE_URL=f"sqlite:///{database}",
            environment=_settings(dovecot, smtp),
        ) as server:
            # At its first start the listener leaves the mailbox's history alone: wait until it
            # has saved its place, then warm the whole path (mail in, the agent, mail out) once.
            await _until("the mailbox listener starting", db.listening, within=30.0)
            appenders = Appenders(dovecot, APPENDERS)
            try:
                tag = uuid.uuid4().hex[:6]
                load = mails(WARMUP, f"w{tag}")
                await _phase(server, db, appenders, smtp, load, rate=None, name="warm-up")
                load = mails(n, f"b{tag}")
                burst = await _phase(server, db, appenders, smtp, load, rate=None, name="burst")
                load = mails(n, f"p{tag}")
                paced = await _phase(server, db, appenders, smtp, load, rate=rate, name="paced")
            finally:
                appenders.close()
    return EmailFigures(burst, paced, pushed, WARMUP, APPENDERS, workers)


def measure(directory: Path, **options: Any) -> EmailFigures:
    return asyncio.run(run(directory, **options))


# --- the table -----------------------------------------------------------------------------------


def _row(figure: str, value: str, target: str = "") -> str:
    return f"  {figure:<50} {value:>15}   {target}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _phase_rows(f: PhaseFigures, appenders: int) -> list[str]:
    load = (
        f"paced at {f.rate:g}/s"
        if f.rate
        else f"all at once, as fast as {appenders} IMAP connections APPEND"
    )
    threads = f"{f.new_threads} new threads ({f.strangers} strangers'), the rest continuing"
    rows = [
        f"    {load}: N={f.mails} ({threads})",
        _row(
            "      APPENDed in, s (offered mails/s)",
            f"{f.append_s:.2f} ({f.mails / f.append_s:,.0f})",
        ),
        _row("      mail in: stored per second", f"{f.per_s:,.0f}"),
        _row("      the listener's pace, first to last read, /s", f"{f.read_per_s:,.0f}"),
        _row(
            "      APPEND -> inbox row, p50 / p90 / p99 ms",
            f"{f.p50_ms:.1f} / {f.p90_ms:.1f} / {f.p99_ms:.1f}",
        ),
        _row("      APPEND -> inbox row, min / max ms", f"{f.min_ms:.1f} / {f.max_ms:.1f}"),
        f"        inbox: {f.mails} mails, each stored once; outcomes: {_counts(f.outcomes)}",
        _row("      mail out: answers (outbox rows, email)", f"{f.answers}"),
        _row("      taken by the SMTP server", f"{f.smtp_received}"),
    ]
    if f.sent_s is not None and f.sent_per_s is not None:
        rows.append(_row("      first APPEND -> last answer sent, s", f"{f.sent_s:.2f}"))
        rows.append(_row("      answers sent per second, over that", f"{f.sent_per_s:,.1f}"))
    if f.sent_pace_per_s is not None:
        rows.append(
            _row("      the sending pace, first to last answer, /s", f"{f.sent_pace_per_s:,.1f}")
        )
    if f.outbox_p50_ms is not None and f.outbox_p99_ms is not None:
        rows.append(
            _row(
                "      answer written -> sent, p50 / p99 ms",
                f"{f.outbox_p50_ms:.1f} / {f.outbox_p99_ms:.1f}",
            )
        )
    if f.server_cpu_ms_per_mail is not None:
        rows.append(
            _row("      server CPU per mail (in and out), ms", f"{f.server_cpu_ms_per_mail:.2f}")
        )
    rows.append(
        f"        outbox: by kind {_counts(f.answers_by_kind)}; by status"
        f" {_counts(f.answers_by_status)}"
        + (f"; errors: {'; '.join(f.errors)}" if f.errors else "")
    )
    return rows


def rows(f: EmailFigures) -> list[str]:
    return [
        "\nemail, real: `switchboard serve` in a subprocess reading a Dovecot mailbox (IMAP IDLE)"
        " on loopback and sending through an SMTP server on the bench's event loop;"
        f" SWITCHBOARD_WORKERS={f.workers}, the offline demo support agent answering",
        f"  {f.warmup} warm-up mails first; then the load twice on the same server, each mail"
        " asking after an order (4/5 from the directory's people in their own threads, 1/5"
        " strangers starting one); a mail counts once found in the inbox by its Message-ID",
        _row(
            "  Dovecot alone: APPEND -> IDLE push, median ms",
            f"{statistics.median(f.idle_push_ms):.1f}",
        ),
        f"    ({len(f.idle_push_ms)} mails to a mailbox of its own, before the server starts: the"
        " IMAP server gathers changes before it tells an IDLE session, a floor under every mail-in"
        " latency below that is not Switchboard's)",
        *_phase_rows(f.burst, f.appenders),
        *_phase_rows(f.paced, f.appenders),
    ]
