"""What channels hand in, whether a webhook brought it or a listener: messages go to the inbox,
a delivery status onto the outbox row it is about, a person's consent to the outbox (which
honours it), an acknowledgement nowhere.

And the listeners themselves (a channel's long-lived connection): each runs until the service
stops, started again after a backoff when it drops, and, when it names a lock, held by one
process at a time (the store's `hold`: an advisory lock on PostgreSQL), so that another process
takes over within seconds when the holder dies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from core.channels import (
    Acknowledged,
    Channel,
    Consent,
    DeliveryStatus,
    Inbound,
    InboundMessage,
    Listener,
)
from core.inbox import Inbox
from core.models.retry import Backoff
from core.outbox import Dispatcher
from core.situation import Received
from core.store import Coordination

log = logging.getLogger("switchboard.ingress")

LISTENER_BACKOFF = Backoff(base=1.0, cap=60.0)
STEADY_SECONDS = 60.0  # a listener that ran this long before it dropped starts again at once
NAME_SECONDS = 1.0  # a platform asked for a sender's name: past this, the message goes without


class Ingress:
    def __init__(self, inbox: Inbox, outbox: Dispatcher, channels: Mapping[str, Channel]) -> None:
        self.inbox = inbox
        self.outbox = outbox  # what became of the messages it sent
        self.channels = channels  # that name senders and answer interactions

    async def take(self, item: Inbound) -> Received | None:
        """Store what came in; the inbox's receipt for a message, None for anything else."""
        match item:
            case InboundMessage():
                return await self.inbox.accept(await self.named(item))
            case DeliveryStatus():
                await self.outbox.reported(item)
                return None
            case Consent():
                await self.outbox.consented(item)
                return None
            case Acknowledged(channel=name, payload=payload) if name and payload is not None:
                await self.respond(name, item)
                return None
            case Acknowledged():
                return None

    async def named(self, message: InboundMessage) -> InboundMessage:
        """The message with its sender's name, where the channel can say it at once."""
        channel = self.channels.get(message.channel)
        if message.sender_name or channel is None or channel.name_of is None:
            return message
        # The boundary of channel code: a name that does not come in time is left out.
        try:
            async with asyncio.timeout(NAME_SECONDS):
                name = await channel.name_of(message.sender)
        except Exception as e:
            log.info(
                "%s: no name for %s: %s", message.channel, message.sender, e or type(e).__name__
            )
            return message
        return message.model_copy(update={"sender_name": name or ""})

    async def respond(self, name: str, item: Acknowledged) -> None:
        channel = self.channels.get(name)
        if channel is None or channel.respond is None:
            log.warning("%s: nothing answers the interaction %s", name, item.what)
            return
        # The boundary of channel code: an interaction it could not answer is logged, and the
        # platform still gets its acknowledgement (the person can click again).
        try:
            await channel.respond(item)
        except Exception:
            log.exception("%s: could not answer the interaction %s", name, item.what)


class Listeners:
    """Runs every channel's listener until cancelled."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        ingress: Ingress,
        locks: Coordination,
        *,
        backoff: Backoff = LISTENER_BACKOFF,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channels = channels
        self.ingress = ingress
        self.locks = locks
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for name, channel in self.channels.items():
                if channel.listener is not None:
                    group.create_task(self.keep(name, channel.listener))

    async def keep(self, name: str, listener: Listener) -> None:
        """Listen, and listen again after a backoff whenever the connection drops."""
        failures = 0
        while True:
            started = self.clock()
            try:
                await self.listen(name, listener)
                log.warning("%s listener stopped: starting it again", name)
            # The boundary of channel code: whatever broke the connection is logged, and it is
            # opened again; cancellation (the service stopping) passes through.
            except Exception:
                log.exception("%s listener dropped", name)
            steady = self.clock() - started >= STEADY_SECONDS
            failures = 0 if steady else failures + 1
            if failures:
                await self.sleep(self.backoff.delay(failures) or 0.0)

    async def listen(self, name: str, listener: Listener) -> None:
        cursor = StoredCursor(self.locks, f"cursor:{name}")
        if listener.lock is None:
            await listener.listen(self.ingress.take, cursor)
            return
        async with self.locks.hold(listener.lock):
            await listener.listen(self.ingress.take, cursor)


class StoredCursor:
    """A listener's position, as a service setting: shared by every process on the database."""

    def __init__(self, settings: Coordination, key: str) -> None:
        self.settings = settings
        self.key = key

    async def get(self) -> str | None:
        return await self.settings.service_setting(self.key)

    async def save(self, position: str) -> None:
        await self.settings.save_service_setting(self.key, position)
