"""The running service: the app (store, agents, runtime, channels) plus the inbox, the ingress
and the channels' listeners, workers, outbox dispatcher and timers, wired so each wakes the next.
`serve` adds HTTP; `worker` runs it bare."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from core.agent import Agent, discover_agents
from core.alarm import Bell
from core.app import App, Models, build_channels
from core.callbacks import Callbacks, operator_secret
from core.channels import Channel
from core.context import Redactor
from core.errors import Misconfigured, SchemaOutdated
from core.inbox import Inbox, InboxConfig
from core.ingress import Ingress, Listeners
from core.logs import configure_logging
from core.models.retry import Backoff
from core.outbox import DELIVERY_BACKOFF, Dispatcher
from core.people import load_people_file
from core.plugins import load_backend
from core.runtime import Limits, Runtime
from core.settings import Settings, mask_url
from core.store import Store
from core.timers import Timers
from core.workers import Workers

log = logging.getLogger("switchboard.service")

TOKEN_KEY = "api_token"


@dataclass(frozen=True, slots=True)
class Service:
    app: App
    channels: dict[str, Channel]
    inbox: Inbox
    ingress: Ingress  # what webhooks and listeners bring: to the inbox, or the outbox's rows
    listeners: Listeners
    workers: Workers
    dispatcher: Dispatcher
    timers: Timers
    api_token: str
    token_generated: bool  # True when this start made the token: print it once
    # Rung at each change to a thread this process makes or hears of: those waiting for a
    # request to settle (a long-poll, an event stream) look again at once.
    settled: Bell

    def changed(self, thread_id: str) -> None:
        """A thread changed outside the loop (an answer, a message, a resume, a cancel): let a
        worker run it, and the dispatcher send what the change wrote (outcomes, notices)."""
        self.workers.wake(thread_id)
        self.dispatcher.wake()
        self.settled.ring()

    async def run(self) -> None:
        """Workers, the dispatcher, the timers and the channels' listeners, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.workers.run())
            group.create_task(self.dispatcher.run())
            group.create_task(self.timers.run())
            group.create_task(self.listeners.run())
            group.create_task(self.app.store.listen(self.woken))

    async def check_channels(self) -> None:
        """Ask each platform whether it takes our credentials: `serve` and `worker` start only
        when every one does (a refused one is Misconfigured, in one line)."""
        for channel in self.channels.values():
            if channel.check is not None:
                await channel.check()

    def warn_sandboxes(self) -> None:
        """Say in the log which channels run as their sandbox: `serve` and `worker` do, once."""
        for name in (name for name, channel in self.channels.items() if channel.sandbox):
            log.warning("%s: no credentials, running in sandbox mode (see the console)", name)

    def woken(self, work: str) -> None:
        """Another process made work (PostgreSQL's NOTIFY): wake whoever does it here."""
        kind, _, thread_id = work.partition(":")
        match kind:
            case "thread":
                self.workers.wake(thread_id)
                self.settled.ring()
            case "outbox":
                self.dispatcher.wake()
            case "timers":
                self.timers.wake()


async def api_token(app: App) -> tuple[str, bool]:
    """The configured token, or the one generated on a first start and kept in the database."""
    configured = app.settings.switchboard_api_token
    if configured is not None:
        return configured.get_secret_value(), False
    stored = await app.store.service_setting(TOKEN_KEY)
    if stored:
        return stored, False
    token = secrets.token_urlsafe(24)
    await app.store.save_service_setting(TOKEN_KEY, token)
    return token, True


@asynccontextmanager
async def open_service(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Service]:
    """Start-up, the one way (serve, worker, the CLI, the tests): settings → the store, channels,
    people, agents, models and runtime, then the loops that move work between them. Nothing runs
    until `Service.run`; the store and the channels' transports are closed on the way out."""
    redactor = Redactor(settings.secrets())
    configure_logging(redactor)
    store = _open_store(settings, migrate=migrate)
    channels: dict[str, Channel] = {}
    callbacks: Callbacks | None = None
    try:
        channels = build_channels(settings)
        if settings.switchboard_people is not None:
            await store.save_people(load_people_file(settings.switchboard_people, channels))
        agents = discover_agents()
        agent_names = _channel_agents(settings, agents)
        runtime = await _runtime(settings, store, agents, redactor)
        app = App(settings, store, agents, runtime, channels)
        token, generated = await api_token(app)
        redactor.add(token)  # a generated token is in no setting: redact it too

        backoff = replace(
            DELIVERY_BACKOFF, max_retry_after=settings.switchboard_retry_after_max_seconds
        )
        callbacks = Callbacks(store, operator_secret(token))
        dispatcher = Dispatcher(store, channels, backoff=backoff, callbacks=callbacks)

        def after_run() -> None:  # a step may have written messages, or a request with timers
            dispatcher.wake()
            timers.wake()

        workers = Workers(runtime, size=settings.switchboard_workers, after_run=after_run)
        settled = Bell()

        def thread_changed(thread_id: str) -> None:  # an answer by a channel, a timeout
            workers.wake(thread_id)
            settled.ring()

        timers = Timers(store, wake_outbox=dispatcher.wake, wake_thread=thread_changed)
        inbox = Inbox(
            store,
            InboxConfig(agents, agent_names),
            wake_thread=thread_changed,
            wake_outbox=dispatcher.wake,
        )
        ingress = Ingress(inbox, dispatcher, channels)
        listeners = Listeners(channels, ingress, store)
        yield Service(
            app,
            channels,
            inbox,
            ingress,
            listeners,
            workers,
            dispatcher,
            timers,
            token,
            generated,
            settled,
        )
    finally:
        for channel in channels.values():
            await channel.transport.close()
        if callbacks is not None:
            await callbacks.close()
        await store.close()


def _open_store(settings: Settings, *, migrate: bool) -> Store:
    backend = load_backend()
    if migrate:
        backend.upgrade(settings.database_url)
    elif not backend.is_current(settings.database_url):
        raise SchemaOutdated(
            f"the database {mask_url(settings.database_url)} is not at the current schema:"
            " run `switchboard db upgrade`"
        )
    return backend.open(settings.database_url)


def _channel_agents(settings: Settings, agents: dict[str, Agent]) -> dict[str, str]:
    """SWITCHBOARD_CHANNEL_AGENTS, every agent it names installed."""
    named = settings.channel_agents()
    unknown = {a for a in named.values() if a not in agents}
    if unknown:
        raise Misconfigured(
            f"SWITCHBOARD_CHANNEL_AGENTS names agents that are not installed: {sorted(unknown)}"
        )
    return named


async def _runtime(
    settings: Settings, store: Store, agents: dict[str, Agent], redactor: Redactor
) -> Runtime:
    models = Models(settings, agents)
    await models.load(agents)
    limits = Limits(
        context_tokens=settings.switchboard_context_tokens,
        lease_seconds=settings.switchboard_lease_seconds,
        escalation=settings.escalation(),
        backoff=Backoff(max_retry_after=settings.switchboard_retry_after_max_seconds),
    )
    return Runtime(store, agents, models, redactor=redactor, limits=limits)
