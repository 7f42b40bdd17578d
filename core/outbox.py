"""The outbox dispatcher: delivers the rows steps wrote, through each channel's transport.

Routing first (a row with no channel yet becomes one row per delivery; nobody asked twice on one
channel, nothing routed to an address its owner opted out of), then sending: exponential backoff
with jitter, Retry-After honoured, the row's idempotency key passed along, the platform's message
id kept (to update the message later), and a row that keeps failing moved to the dead letters. A
person the channel cannot reach at all is asked on their next channel instead. The platform's
later reports on a message (delivered, read, failed) count in any order and once; a failure is
handled as a failed send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from core.alarm import Alarm
from core.callbacks import CALLBACK, Callbacks
from core.channels import (
    Channel,
    Consent,
    DeliveryFailed,
    DeliveryStatus,
    OutboundMessage,
    RequestContext,
)
from core.inbox import deciders_text, outcome_text, reply_code
from core.models.retry import Backoff
from core.records import OutboxItem, OutboxMessage, RequestInfo
from core.routing import direct_route, expand, outcome_route, reply_route, request_route
from core.store import Directory, Queries, Sending

log = logging.getLogger("switchboard.outbox")

DELIVERY_BACKOFF = Backoff(attempts=8, base=1.0, cap=300.0)
FINISH_SECONDS = 10.0  # how long a shutdown waits for the delivery in flight
REPORT_WAITS = (0.05, 0.1, 0.25, 0.5, 1.0)  # a report on a message not yet recorded as sent
LIVE = ("pending", "sending", "sent")  # a copy that has reached its person, or is on its way


class DispatcherStore(Sending, Queries, Directory, Protocol):
    """The rows to send, and what routing them reads: threads, requests, the inbox, people."""


class Dispatcher:
    def __init__(
        self,
        store: DispatcherStore,
        channels: Mapping[str, Channel],
        *,
        backoff: Backoff = DELIVERY_BACKOFF,
        clock: Callable[[], float] = time.time,
        callbacks: Callbacks | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.callbacks = callbacks
        self.backoff = backoff
        self.clock = clock
        self._alarm = Alarm()

    def wake(self) -> None:
        self._alarm.ring()

    async def run(self) -> None:
        """Deliver until cancelled; sleeps until woken or until the next retry is due."""
        while True:
            self._alarm.reset()
            if await self.deliver_due():
                continue
            next_at = await self.store.outbox_next_at()
            await self._alarm.wait(None if next_at is None else next_at - self.clock())

    async def deliver_due(self) -> int:
        """One pass over the rows due now; returns how many it handled."""
        items = await self.store.outbox_due(self.clock())
        for item in items:
            await _to_the_end(self.deliver(item))
        return len(items)

    async def deliver(self, item: OutboxItem) -> None:
        try:
            if item.channel is None:
                await self.route(item)
            else:
                await self.send(item, item.channel)
        except DeliveryFailed as e:
            await self.failed(item, e)
        # The boundary of channel code: an unexpected error is a failed attempt, logged, retried.
        except Exception as e:
            log.exception("outbox %d: delivery crashed", item.id)
            await self.failed(item, DeliveryFailed(f"{type(e).__name__}: {e}"))

    async def route(self, item: OutboxItem) -> None:
        deliveries: list[OutboxMessage]
        why = ""
        thread = await self.store.thread(item.thread_id) if item.thread_id else None
        match item.kind:
            case "notice" if item.thread_id is None and item.recipient:
                person = await self.store.person(item.recipient)
                blocked = await self.store.opted_out(
                    [(c, a) for c, a in person.identities.items()] if person else []
                )
                deliveries, why = direct_route(item, person, self.channels, blocked)
            case "reply" | "notice":
                requester = (
                    await self.store.person(thread.requester)
                    if thread and thread.requester
                    else None
                )
                last = []
                if thread is not None and thread.conversation is not None:
                    last = await self.store.inbox(
                        channel=thread.channel, conversation=thread.conversation, limit=1
                    )
                sender = last[0].sender if last else ""
                deliveries, why = reply_route(item, thread, requester, sender, self.channels)
            case "request":
                request = await self.store.request(item.request_id or "")
                if request is None or request.status != "open":
                    deliveries, why = [], "the request was settled before it was sent"
                else:
                    people = await self.store.people()
                    targets = expand(item.recipient or "", people)
                    blocked = await self.store.opted_out(
                        [(c, a) for p in targets for c, a in p.identities.items()]
                    )
                    deliveries, why = request_route(
                        item, request, thread, people, self.channels, blocked
                    )
                    deliveries, why = await self.not_asked_yet(request.id, deliveries, why)
            case "outcome":  # settled, or a step towards it (one approval of several)
                request = await self.store.request(item.request_id or "")
                assert request is not None
                text = outcome_text(request, {p.id: p.name for p in await self.store.people()})
                copies = await self.store.outbox(request_id=request.id)
                deliveries = outcome_route(item, copies, text)
                if request.callback_url and request.status != "open":
                    deliveries.append(
                        OutboxMessage(
                            kind="outcome",
                            channel=CALLBACK,
                            address=request.callback_url,
                            request_id=request.id,
                        )
                    )
                why = "" if deliveries else "no copy of the request was sent"
        await self.store.outbox_route(item.id, deliveries, why)
        if why:
            log.info("outbox %d (%s %s): %s", item.id, item.kind, item.recipient, why)
        if deliveries:
            self.wake()

    async def not_asked_yet(
        self, request_id: str, deliveries: list[OutboxMessage], why: str
    ) -> tuple[list[OutboxMessage], str]:
        """Without the copies that would ask someone again on a channel where they were asked
        (a re-send to a channel that a refused one already fell back to, say)."""
        copies = await self.store.outbox(request_id=request_id)
        asked = {(c.recipient, c.channel) for c in copies if c.status in LIVE and c.channel}
        fresh: list[OutboxMessage] = []
        again: list[OutboxMessage] = []
        for d in deliveries:
            (again if (d.recipient, d.channel) in asked else fresh).append(d)
        if again:
            named = ", ".join(f"{d.recipient} on {d.channel}" for d in again)
            why = "; ".join(filter(None, [why, f"already asked: {named}"]))
        return fresh, why

    async def consented(self, consent: Consent) -> None:
        """A person's word on messages to one of their addresses: honoured from the next send."""
        await self.store.consent(consent)
        said = "opted back in to" if consent.allowed else "opted out of"
        log.warning("%s %s messages on %s", consent.address, said, consent.channel)

    async def send(self, item: OutboxItem, name: str) -> None:
        if name == CALLBACK and self.callbacks is not None:
            await self.callbacks.send(item)
            return
        channel = self.channels.get(name)
        if channel is None:
            raise DeliveryFailed(f"no channel {name!r} is configured", retry=False)
        if item.address and await self.store.opted_out([(name, item.address)]):
            raise DeliveryFailed(f"{item.address} opted out of {name} messages", unreachable=True)
        request = await self.store.request(item.request_id) if item.request_id else None
        if item.kind == "request" and (request is None or request.status != "open"):
            await self.store.outbox_route(item.id, [], "the request was settled before it was sent")
            return
        message = await self.outbound(item, request)
        payload = channel.codec.render(message)
        transport = channel.transport
        receipt = await (transport.edit if message.edit_of else transport.send)(message, payload)
        await self.store.outbox_sent(
            item.id,
            message_id=receipt.message_id,
            conversation=receipt.conversation,
            payload=payload,
        )

    async def outbound(self, item: OutboxItem, request: RequestInfo | None) -> OutboundMessage:
        """What the channel renders: the row, who speaks, and for a request (or its outcome: a
        channel may draw the request again, settled) what the person deciding needs."""
        thread = await self.store.thread(item.thread_id) if item.thread_id else None
        # Who speaks: the thread's agent, or the caller outside whose request it is.
        speaker = (request.caller if request else None) or (thread.agent if thread else "")
        message = OutboundMessage(
            kind=item.kind,
            text=item.text,
            address=item.address or "",
            conversation=item.conversation,
            thread_id=item.thread_id,
            agent=speaker,
            request_id=item.request_id,
            edit_of=item.message_id if item.kind == "outcome" else None,
            idempotency_key=item.idempotency_key,
            private_reply=item.private_reply or "",
        )
        if item.kind not in ("request", "outcome") or request is None:
            return message
        requester = (
            await self.store.person(thread.requester) if thread and thread.requester else None
        )
        named = {p.id: p.name for p in await self.store.people()}
        context = RequestContext(
            question=request.question,
            requester=requester.name if requester else thread.requester if thread else None,
            agent=speaker,
            tool=request.tool,
            arguments=request.arguments or {},
            deadline=request.deadline,
            deciders=deciders_text(request, named),
            # Set only while it is open: a copy with progress is a step, not the outcome.
            progress=outcome_text(request, named)
            if request.approvals and request.status == "open"
            else "",
            context=request.context,
        )
        update: dict[str, Any] = {
            "request_kind": request.kind,
            "options": tuple(request.options),
            "reply_code": reply_code(request.id),
            "context": context,
        }
        # A step towards a quorum: those still to decide get the request again, as it now
        # stands (its copy edited where the platform can); those who approved, the progress.
        if (
            item.kind == "outcome"
            and request.status == "open"
            and not any(a.by == item.recipient for a in request.approvals)
        ):
            update.update(kind="request", text=request.question)
        return message.model_copy(update=update)

    async def reported(self, status: DeliveryStatus) -> None:
        """The platform's report on a message it took: recorded; a failure is handled as a
        failed send would be (retried, asked elsewhere, or dead), once however often it comes."""
        found = await self.store.outbox_delivery(status)
        for wait in REPORT_WAITS:  # a report can outrun the record of the send it is about
            if found is not None:
                break
            await asyncio.sleep(wait)
            found = await self.store.outbox_delivery(status)
        if found is None:
            log.info("%s: a %r report on message %s, which was not sent from here", *_about(status))
            return
        item, news = found
        if not news or status.status != "failed":
            return
        log.warning(
            "%s: message %s was not delivered: %s", status.channel, status.message_id, status.error
        )
        error = DeliveryFailed(
            f"the platform could not deliver it: {status.error or 'no reason given'}",
            retry=status.retry,
            unreachable=status.unreachable,
        )
        await self.failed(item, error, reported=True)
        self.wake()

    async def failed(
        self, item: OutboxItem, error: DeliveryFailed, *, reported: bool = False
    ) -> None:
        """After a failed attempt, or (`reported`) the platform's word that a send failed later."""
        attempt = item.attempts if reported else item.attempts + 1
        retry_at, reason = None, str(error)
        if error.retry and not error.unreachable and attempt < self.backoff.attempts:
            delay = self.backoff.delay(attempt, error.retry_after)
            if delay is None:  # not worth the wait
                reason += (
                    f" (asked to wait {error.retry_after:g}s, more than the"
                    f" {self.backoff.max_retry_after:g}s SWITCHBOARD_RETRY_AFTER_MAX_SECONDS allows)"
                )
            else:
                retry_at = self.clock() + delay
        if retry_at is None and (request_id := await self._open_request_of(item)):
            # Dead here for good, and asked on the person's next channel (routing says if there
            # is none): a person whose phone a carrier refuses is still asked.
            elsewhere = OutboxMessage.request(
                request_id, item.text, to=item.recipient, rank=item.rank + 1
            )
            reason += " (asked on their next channel)"
            await self.store.outbox_failed(
                item.id, error=reason, retry_at=None, then=elsewhere, attempted=not reported
            )
            why = "unreachable" if error.unreachable else f"dead after {attempt} attempts"
            log.error("outbox %d to %s %s: %s", item.id, item.channel, why, reason)
            self.wake()
            return
        await self.store.outbox_failed(
            item.id, error=reason, retry_at=retry_at, attempted=not reported
        )
        if retry_at is None:
            log.error(
                "outbox %d to %s dead after %d attempts: %s", item.id, item.channel, attempt, reason
            )
        else:
            log.warning(
                "outbox %d to %s failed (%s); retry in %.1fs",
                item.id,
                item.channel,
                error,
                retry_at - self.clock(),
            )

    async def _open_request_of(self, item: OutboxItem) -> str | None:
        """The id of the request `item` is a copy of, while it waits for a decision."""
        if item.kind != "request" or not item.request_id:
            return None
        request = await self.store.request(item.request_id)
        return request.id if request is not None and request.status == "open" else None


async def _to_the_end(delivery: Coroutine[Any, Any, None]) -> None:
    """A send and its record are one: a shutdown that comes in between waits for both (up to
    FINISH_SECONDS), or the platform would have the message while the row says it is still to
    send, and it would go again when its lease ran out, its outcome edit nothing."""
    task = asyncio.ensure_future(delivery)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, FINISH_SECONDS)
        raise


def _about(status: DeliveryStatus) -> tuple[str, str, str]:
    return status.channel, status.status, status.message_id
