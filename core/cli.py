"""The `switchboard` command. Heavy imports wait inside the commands, so `--help` starts at once."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from core.app import App
    from core.records import Caller, RequestInfo, StoredEvent
    from core.settings import Settings
    from core.state import ExecutionState

T = TypeVar("T")

app = typer.Typer(
    help="Switchboard: agents that work with people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich would cost --help 0.1 s
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
callers_app = typer.Typer(
    help="Keys for agents outside that ask people through Switchboard.", no_args_is_help=True
)
app.add_typer(callers_app, name="callers")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[str | None, typer.Option("--as", help="The person you act as (a people id).")]


def main() -> None:
    app()


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _reporting(run: Callable[[], T]) -> T:
    """Run a command: an error a person can act on (core.errors) is one line and exit code 1.
    Anything else is a bug, and its traceback shows."""
    from core.errors import SwitchboardError

    try:
        return run()
    except SwitchboardError as e:
        from rich.markup import escape

        # One line, however narrow the terminal: logs and scripts read it whole.
        _console(stderr=True).print(f"[red]error:[/] {escape(e.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


def _settings(**overrides: Any) -> Settings:
    """This process's settings, read once from the environment and `.env`; `overrides` are the
    command's own options (`serve --port`), given as `switchboard_*` names without the prefix."""
    from core.settings import load_settings

    updates = {f"switchboard_{k}": v for k, v in overrides.items() if v is not None}
    return _reporting(lambda: load_settings(**updates))


def _with_app(work: Callable[[App], Awaitable[T]], *, migrate: bool = False) -> T:
    """Start up (core/service.py, as `serve` does, without running its loops) and run one
    command's work on the app."""
    import asyncio

    from core.service import open_service

    async def go() -> T:
        async with open_service(_settings(), migrate=migrate) as service:
            return await work(service.app)

    return _reporting(lambda: asyncio.run(go()))


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command()
def run(
    agent: str,
    message: str,
    as_: AsOpt = None,
    detach: Annotated[bool, typer.Option(help="Stop when the thread waits; print its id.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Start a thread with AGENT. In a terminal, you answer its questions and approvals here."""

    async def work(a: App) -> None:
        out = _console(stderr=json_)
        if as_ is not None and await a.store.person(as_) is None:
            from core.errors import NotFound

            known = (
                ", ".join(p.id for p in await a.store.people()) or "no one: set SWITCHBOARD_PEOPLE"
            )
            raise NotFound("person", as_, f"--as {as_}: no such person; the directory has {known}")
        thread_id = await a.runtime.start(agent, message, requester=as_)
        model = a.runtime.model_for(a.agents[agent]).name
        out.print(f"[bold]{thread_id}[/] · agent {agent} · model {model}")
        seen = 0
        while True:
            state = await _advance(a, thread_id)
            seen = await _print_events(a, thread_id, seen, out)
            if (
                detach
                or state.status != "waiting_human"
                or not await _answer_here(a, thread_id, out)
            ):
                break
        info = await a.store.thread(thread_id)
        assert info is not None
        if json_:
            _print_json({"thread_id": thread_id, "status": info.status})
        elif info.status == "waiting_human":
            out.print(
                f"\n[bold]{thread_id}[/] is waiting. Answer with `switchboard respond REQUEST …`"
                f" (see `switchboard requests`), then `switchboard resume {thread_id}`."
            )
        else:
            out.print(f"\n[bold]{thread_id}[/]: {info.status}")

    _with_app(work, migrate=True)


async def _advance(a: App, thread_id: str, within: float = 120.0) -> ExecutionState:
    """Run the thread here until it stops; or, when a server's worker took it first (a running
    `serve` on PostgreSQL is told of every new thread at once), wait until it stops there."""
    import asyncio
    import time

    from core.errors import ThreadBusy
    from core.state import Status

    deadline = time.monotonic() + within
    while True:
        try:
            return await a.runtime.advance(thread_id)
        except ThreadBusy:
            state, _ = await a.store.state(thread_id)
            if state.status not in (Status.INTAKE, Status.RUNNING):
                return state
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _print_events(a: App, thread_id: str, seen: int, out: Console) -> int:
    for stored in await a.store.events(thread_id):
        if stored.seq > seen:
            out.print(_event_line(stored))
            seen = stored.seq
    return seen


def _event_line(stored: StoredEvent, *, with_time: bool = False) -> str:
    """One event as a console line; its text is escaped, so `[...]` in it is shown, not parsed."""
    from rich.markup import escape

    from core.timeline import describe

    at = f" {stored.event.at:%H:%M:%S}" if with_time else ""
    kind = f"{stored.event.type:<17}"
    return f"[dim]{stored.seq:>3}{at}[/] [cyan]{kind}[/] {escape(describe(stored.event))}"


async def _answer_here(a: App, thread_id: str, out: Console) -> bool:
    """The terminal acts as the human: False when there is no one to answer or no input."""
    from rich.markup import escape

    from core.humans import Answer, Approve, Reject, may_answer, respond, why_not
    from core.inbox import outcome_text

    people = await a.store.people()
    names = {p.id: p.name for p in people}
    pending = await a.store.requests(thread_id=thread_id)
    while pending:
        request = pending.pop(0)
        allowed = [p for p in people if may_answer(p, request) and not why_not(p, request)]
        if not allowed:
            out.print(
                f"[yellow]No one in the people directory may decide {request.id}"
                f" ({', '.join(request.recipients)}, not the requester); set"
                " SWITCHBOARD_PEOPLE.[/]"
            )
            return False
        person = allowed[0]
        heading = f"{request.kind.title()} for {', '.join(request.recipients)}:"
        out.print(f"\n[bold]{escape(heading)}[/] {escape(request.question)}")
        try:
            if request.kind == "approval":
                said = await _ask(f"Approve as {person.id}? [y]es / [n]o: ")
                if said.lower().startswith("y"):
                    response: Approve | Reject | Answer = Approve()
                else:
                    response = Reject(
                        await _ask("Reason for rejecting: ") or "rejected in the terminal"
                    )
            else:
                options = f" ({' / '.join(request.options)})" if request.options else ""
                response = Answer(await _ask(f"Answer as {person.id}{options}: "))
        except EOFError:
            return False
        settled = await respond(
            a.store, request.id, person.id, response, via="terminal", acting="operator"
        )
        if settled.status == "open":  # one approval of several: the next person is asked
            out.print(f"[dim]{escape(outcome_text(settled, names))}[/]")
            pending.insert(0, settled)
    return True


async def _ask(prompt: str) -> str:
    """One line from the terminal; EOFError when input ends.

    Read on a daemon thread: the event loop stays free, and Ctrl-C is not kept waiting for Enter
    (a pool thread blocked in readline would hold the interpreter open at exit).
    """
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        loop.call_soon_threadsafe(answer.set_result, sys.stdin.readline())

    sys.stderr.write(prompt)
    sys.stderr.flush()
    threading.Thread(target=read, daemon=True).start()
    line = await answer
    if not line:
        raise EOFError
    return line.strip()


@app.command()
def threads(
    status: Annotated[str | None, typer.Option(help="Only threads in this status.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List threads, most recent first."""

    async def work(a: App) -> None:
        found = await a.store.threads(status=status)
        if json_:
            _print_json([t.model_dump(mode="json") for t in found])
            return
        from rich.table import Table

        table = Table(box=None)
        table.add_column("thread", no_wrap=True, min_width=15)  # whole, at any width
        for column in ("agent", "status", "steps", "tokens", "cost", "updated"):
            table.add_column(column)
        for t in found:
            table.add_row(
                t.id,
                t.agent,
                t.status,
                str(t.steps),
                str(t.tokens),
                f"${t.cost:.4f}",
                t.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
        _console().print(table)

    _with_app(work)


@app.command()
def show(thread: str, json_: JsonOpt = False) -> None:
    """A thread's timeline: every event, with tokens and cost."""

    async def work(a: App) -> None:
        from core.errors import NotFound
        from core.timeline import event_json

        info = await a.store.thread(thread)
        if info is None:
            raise NotFound("thread", thread)
        stored = await a.store.events(thread)
        if json_:
            _print_json({**info.model_dump(mode="json"), "events": [event_json(s) for s in stored]})
            return
        out = _console()
        out.print(
            f"[bold]{info.id}[/] {info.agent} · {info.status} · {info.steps} steps ·"
            f" {info.tokens} tokens · ${info.cost:.4f}"
        )
        for s in stored:
            out.print(_event_line(s, with_time=True))

    _with_app(work)


@app.command()
def requests(
    all_: Annotated[bool, typer.Option("--all", help="Include settled requests.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Human requests waiting for an answer (or all of them)."""

    async def work(a: App) -> None:
        found = await a.store.requests(status=None if all_ else "open")
        if json_:
            _print_json([r.model_dump(mode="json") for r in found])
            return
        from rich.table import Table

        table = Table(box=None)
        for column in ("request", "thread", "kind", "status"):  # ids whole, at any width
            table.add_column(column, no_wrap=True, min_width=len(column))
        table.add_column("for", max_width=20, overflow="ellipsis")
        table.add_column("question", ratio=1)
        for r in found:
            status: str = r.status
            if r.status == "open" and r.approvals:
                status = f"open, {len(r.approvals)} of {r.required}"
            table.add_row(r.id, r.thread_id, r.kind, status, ", ".join(r.recipients), r.question)
        _console().print(table)

    _with_app(work)


@app.command()
def respond(
    request: str,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the request.")] = False,
    reject: Annotated[
        str | None, typer.Option("--reject", help="Reject, with this reason.")
    ] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="Answer a question.")] = None,
    as_: AsOpt = None,
) -> None:
    """Answer or decide a human request, as a person allowed to."""
    from core.humans import Answer, Approve, Reject

    chosen = [
        c
        for c in (
            Approve() if approve else None,
            Reject(reject) if reject else None,
            Answer(answer) if answer is not None else None,
        )
        if c is not None
    ]
    if len(chosen) != 1:
        _console(stderr=True).print(
            "[red]error:[/] give exactly one of --approve, --reject REASON, --answer TEXT"
        )
        raise typer.Exit(2)
    if as_ is None:
        _console(stderr=True).print("[red]error:[/] say who you are with --as PERSON")
        raise typer.Exit(2)
    person = as_

    async def work(a: App) -> RequestInfo:
        from core.humans import respond as record

        # Whoever runs the CLI acts for the person `--as` names: recorded as the operator's.
        return await record(a.store, request, person, chosen[0], via="cli", acting="operator")

    settled = _with_app(work)
    if settled.status == "open":  # one approval of several
        _console().print(
            f"{settled.id}: approved by {person}; it waits for {settled.waiting_for} more"
            f" ({len(settled.approvals)} of {settled.required})."
        )
        return
    _console().print(
        f"{settled.id}: {settled.status} by {settled.decided_by}."
        " A running `switchboard serve` continues the thread; without one,"
        f" `switchboard resume {settled.thread_id}`."
    )


@app.command()
def login(person: str) -> None:
    """Print a one-time link that signs PERSON in to the console as themselves (15 minutes)."""

    async def work(a: App) -> str:
        from core.errors import NotFound
        from core.signin import sign_in_link

        if await a.store.person(person) is None:
            known = ", ".join(p.id for p in await a.store.people()) or "no one"
            raise NotFound("person", person, f"no person {person}; the directory has {known}")
        return await sign_in_link(a.store, a.settings.switchboard_public_url, person)

    link = _with_app(work)
    _console().print(f"Sign-in link for {person} (works once, for 15 minutes):")
    sys.stdout.write(link + "\n")


@app.command()
def resume(thread: str, json_: JsonOpt = False) -> None:
    """Run a thread on from where it stopped (after an answer, a pause or a crash)."""

    async def work(a: App) -> None:
        from core.errors import NotFound
        from core.humans import resume as unpause

        info = await a.store.thread(thread)
        if info is None:
            raise NotFound("thread", thread)
        _, seen = await a.store.state(thread)
        if info.status == "paused":
            await unpause(a.store, thread, by="cli")
        state = await _advance(a, thread)
        if json_:
            _print_json({"thread_id": thread, "status": state.status.value})
            return
        out = _console()
        await _print_events(a, thread, seen, out)
        out.print(f"\n[bold]{thread}[/]: {state.status}")

    _with_app(work)


@app.command()
def pause(thread: str, reason: Annotated[str, typer.Option(help="Why.")] = "") -> None:
    """Pause a thread: no worker advances it until it is resumed."""
    from core.humans import pause as do_pause

    _with_app(lambda a: do_pause(a.store, thread, by="cli", reason=reason))
    _console().print(f"{thread}: paused")


@app.command()
def cancel(thread: str, reason: Annotated[str, typer.Option(help="Why.")] = "") -> None:
    """Cancel a thread and its open requests."""
    from core.humans import cancel as do_cancel

    _with_app(lambda a: do_cancel(a.store, thread, by="cli", reason=reason))
    _console().print(f"{thread}: cancelled")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
) -> None:
    """Run the HTTP API, the console, the workers, the outbox and the timers in one process."""
    from core.serve import serve as serve_http

    _run_service(serve_http, host=host, port=port)


@app.command()
def worker() -> None:
    """Run only workers, the outbox dispatcher and the timers (scale out beside `serve`)."""
    from core.serve import work

    _run_service(work)


def _run_service(
    run: Callable[[Settings, Console], Coroutine[Any, Any, None]], **overrides: Any
) -> None:
    import asyncio
    from contextlib import suppress

    import uvloop  # uvicorn[standard] brings it: a faster event loop for a long-running server

    settings = _settings(**overrides)

    def serve() -> None:
        with (
            suppress(KeyboardInterrupt),
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        ):
            runner.run(run(settings, _console()))

    _reporting(serve)


@app.command()
def check(
    live: Annotated[
        bool, typer.Option("--live", help="Also call the model once and the platforms.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Check the settings, the database, the people file, the model and the channels' credentials."""
    import asyncio

    from rich.markup import escape

    from core.check import run_checks

    checks = asyncio.run(run_checks(live=live, debug=debug))
    out = _console()
    marks = {"ok": "[green]✓[/]", "fail": "[red]✗[/]", "skip": "[dim]-[/]"}
    for finding in checks.findings:
        out.print(f"{marks[finding.status]} {escape(finding.text)}", soft_wrap=True)
    if checks.failed:
        raise typer.Exit(1)


@app.command()
def mcp(
    url: Annotated[
        str | None,
        typer.Option(envvar="SWITCHBOARD_URL", help="Switchboard's address (else this one's)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(envvar="SWITCHBOARD_KEY", help="A caller's key (else SWITCHBOARD_API_TOKEN)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Serve streamable HTTP on this port, not stdio.")
    ] = None,
    host: Annotated[str, typer.Option(help="With --port: the address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the MCP tools ask_human, request_approval and list_people (stdio; HTTP with --port)
    for an MCP client such as a coding assistant: a caller of this Switchboard's API."""
    try:
        from switchboard_client.mcp import run as run_mcp
    except ImportError as e:
        _console(stderr=True).print(
            f"[red]error:[/] {e}: install the client with its MCP extra:"
            " pip install './client[mcp]'",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    settings = _settings()
    if url is None:
        here = "127.0.0.1" if settings.switchboard_host in ("0.0.0.0", "::") else None
        url = f"http://{here or settings.switchboard_host}:{settings.switchboard_port}"
    if key is None and settings.switchboard_api_token is not None:
        key = settings.switchboard_api_token.get_secret_value()
    try:
        run_mcp(url, key, host=host, port=port)
    except ValueError as e:
        _console(stderr=True).print(f"[red]error:[/] {e}", soft_wrap=True)
        raise typer.Exit(1) from None


@callers_app.command("add")
def callers_add(
    name: str,
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="Whom it may ask: a person id, role:NAME, or '*' (repeat)."),
    ],
    json_: JsonOpt = False,
) -> None:
    """Make a key for the caller NAME. The key and its webhook secret are shown this once."""
    from datetime import UTC, datetime

    from core import callers

    async def work(a: App) -> callers.NewCaller:
        try:
            return await callers.add(a.store, name, scope, datetime.now(UTC))
        except ValueError as e:
            from core.errors import SwitchboardError

            raise SwitchboardError(str(e)) from None

    made = _with_app(work, migrate=True)  # a first command, as `run` may be
    if json_:
        shown = made.caller.model_dump(mode="json")
        _print_json({**shown, "key": made.key, "webhook_secret": made.caller.secret})
        return
    out = _console()
    out.print(f"caller {name} may ask {', '.join(made.caller.scope)}. Shown this once:")
    sys.stdout.write(f"key:            {made.key}\nwebhook secret: {made.caller.secret}\n")


@callers_app.command("list")
def callers_list(json_: JsonOpt = False) -> None:
    """The callers, revoked ones too."""

    async def work(a: App) -> list[Caller]:
        return await a.store.callers()

    found = _with_app(work)
    if json_:
        _print_json([c.model_dump(mode="json") for c in found])
        return
    for c in found:
        state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
        sys.stdout.write(f"{c.name}  {state}  may ask {', '.join(c.scope)}\n")
    if not found:
        _console().print("no callers yet: `switchboard callers add NAME --scope role:NAME`")


@callers_app.command("revoke")
def callers_revoke(name: str) -> None:
    """Revoke the caller NAME's key, at once, for every process."""
    from datetime import UTC, datetime

    async def work(a: App) -> Caller:
        from core.errors import NotFound

        revoked = await a.store.revoke_caller(name, datetime.now(UTC))
        if revoked is None:
            raise NotFound("caller", name, f"no caller {name}: `switchboard callers list`")
        return revoked

    _with_app(work)
    _console().print(f"caller {name}: key revoked")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the current schema."""
    from core.plugins import load_backend

    database_url = _settings().database_url
    _reporting(lambda: load_backend().upgrade(database_url))
    _console().print("database is at the current schema")
