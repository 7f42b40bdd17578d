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

from core.app import App, open_app
from core.channels import Channel
from core.errors import Misconfigured
from core.inbox import Inbox, InboxConfig
from core.ingress import Ingress, Listeners
from core.outbox import DELIVERY_BACKOFF, Dispatcher
from core.settings import Settings
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

    def changed(self, thread_id: str) -> None:
        """A thread changed outside the loop (an answer, a message, a resume, a cancel): let a
        worker run it, and the dispatcher send what the change wrote (outcomes, notices)."""
        self.workers.wake(thread_id)
        self.dispatcher.wake()

    async def run(self) -> None:
        """Workers, the dispatcher, the timers and the channels' listeners, until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.workers.run())
            group.create_task(self.dispatcher.run())
            group.create_task(self.timers.run())
            group.create_task(self.listeners.run())
            group.create_task(self.app.store.listen(self.woken))

    def woken(self, work: str) -> None:
        """Another process made work (PostgreSQL's NOTIFY): wake whoever does it here."""
        kind, _, thread_id = work.partition(":")
        match kind:
            case "thread":
                self.workers.wake(thread_id)
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
async def open_service(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Service]:
    async with open_app(settings, migrate=migrate) as app:
        channels = app.channels
        for name in (name for name, channel in channels.items() if channel.sandbox):
            log.warning("%s: no credentials, running in sandbox mode (see the console)", name)
        agent_names = settings.channel_agents()
        unknown = {a for a in agent_names.values() if a not in app.agents}
        if unknown:
            raise Misconfigured(
                f"SWITCHBOARD_CHANNEL_AGENTS names agents that are not installed: {sorted(unknown)}"
            )
        backoff = replace(
            DELIVERY_BACKOFF, max_retry_after=settings.switchboard_retry_after_max_seconds
        )
        dispatcher = Dispatcher(app.store, channels, backoff=backoff)
        timers = Timers(app.store, wake_outbox=dispatcher.wake)

        def after_run() -> None:
            dispatcher.wake()
            timers.wake()

        workers = Workers(app.runtime, size=settings.switchboard_workers, after_run=after_run)
        timers.wake_thread = workers.wake

        inbox = Inbox(
            app.store,
            InboxConfig(app.agents, agent_names),
            wake_thread=workers.wake,
            wake_outbox=dispatcher.wake,
        )
        ingress = Ingress(inbox, app.store)
        listeners = Listeners(channels, ingress, app.store)
        token, generated = await api_token(app)
        app.runtime.redact.add(token)  # a generated token is in no setting: redact it too
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
        )
