"""What channels hand in besides messages, and the listeners that hold a platform's connection: a
delivery report finds its outbox row, a listener that drops is started again after a backoff, and
one process at a time holds a listener's lock, another taking over within seconds of its death."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from channels.sandbox import sandboxed
from channels.sandbox.codec import SIGNATURE, GenericCodec
from core.channels import (
    Acknowledged,
    AddressForm,
    Channel,
    DeliveryStatus,
    Inbound,
    InboundMessage,
    Receipt,
)
from core.errors import Misconfigured
from core.inbox import Inbox, InboxConfig
from core.ingress import LISTENER_BACKOFF, Ingress, Listeners
from core.previews import Look
from core.records import OutboxItem
from core.service import Service
from storage import SqlStore, open_store
from storage.locks import LockLost, held_on_postgres
from tests.fixtures import Sleeps, eventually, simulator
from tests.test_api import client_for

HOOK = "/slack/events"


def hooked_slack() -> GenericCodec:
    """Slack's generic codec, called by its platform at /slack/events (as the real one will be)."""
    return GenericCodec("slack", Look("Slack"), AddressForm("U0STRANGER"), webhooks=(HOOK,))


async def post(client: httpx.AsyncClient, codec: GenericCodec, body: dict[str, Any]) -> int:
    content = json.dumps(body).encode()
    response = await client.post(HOOK, content=content, headers={SIGNATURE: codec.sign(content)})
    return response.status_code


async def test_a_delivery_report_finds_the_row_it_is_about(service: Service) -> None:
    stranger = simulator(service, "slack").simulate(sender="U0NOBODY", conversation="C9", text="hi")
    assert (await service.inbox.accept(stranger)).outcome == "refused"

    async def notice() -> list[OutboxItem]:
        rows = await service.app.store.outbox(channel="slack")
        return [r for r in rows if r.kind == "notice" and r.status == "sent"]

    [sent] = await eventually(notice)
    codec = hooked_slack()
    slack = sandboxed(codec)
    hooked = dataclasses.replace(service, channels={**service.channels, "slack": slack})
    async with client_for(hooked) as client:
        assert await post(client, codec, {"type": "ping"}) == 200
        unknown = {"type": "status", "message_id": "slack-elsewhere", "status": "delivered"}
        assert await post(client, codec, unknown) == 200
        assert (await client.post(HOOK, content=b'{"type": "ping"}')).status_code == 401
        failed = {"type": "status", "message_id": sent.message_id, "status": "failed"}
        assert await post(client, codec, {**failed, "error": "30003 unreachable"}) == 200
    [row] = [r for r in await service.app.store.outbox(channel="slack") if r.id == sent.id]
    assert (row.status, row.last_error) == (
        "dead",
        "the platform could not deliver it: 30003 unreachable",
    )
    assert len(await service.app.store.inbox()) == 1  # the ping and the reports are no messages


async def test_a_report_of_a_delivery_changes_nothing_and_an_unknown_one_is_no_row(
    store: SqlStore,
) -> None:
    report = DeliveryStatus(channel="slack", message_id="nowhere", status="delivered")
    assert await store.outbox_delivery(report) is None  # no row sent that message


class Dropping:
    """A listener whose connection drops twice, then brings one message and stays up."""

    lock = "dropping"

    def __init__(self) -> None:
        self.opened = 0

    async def listen(self, deliver: Any, cursor: Any) -> None:
        self.opened += 1
        if self.opened <= 2:
            raise ConnectionResetError(f"dropped #{self.opened}")
        await deliver(
            InboundMessage(channel="x", external_id="e1", sender="U0", conversation="C1", text="hi")
        )
        await asyncio.Event().wait()


class Taken:
    """The ingress, as the listeners see it: what was handed in."""

    def __init__(self) -> None:
        self.items: list[Inbound] = []

    async def take(self, item: Inbound) -> None:
        self.items.append(item)


class Nowhere:
    async def send(self, *_: Any) -> Receipt:
        raise AssertionError("nothing is sent here")

    edit = send

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def running(listeners: Listeners) -> AsyncIterator[None]:
    task = asyncio.create_task(listeners.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_listener_that_drops_is_started_again_after_a_backoff(store: SqlStore) -> None:
    listener, taken, sleeps = Dropping(), Taken(), Sleeps()
    codec = GenericCodec("x", Look("X"), AddressForm("U0"))
    channels = {"x": Channel(codec, Nowhere(), listener=listener)}
    listeners = Listeners(channels, taken, store, sleep=sleeps)  # type: ignore[arg-type]
    async with running(listeners):

        async def delivered() -> list[Inbound]:
            return taken.items

        [message] = await eventually(delivered)
    assert isinstance(message, InboundMessage) and message.text == "hi"
    assert listener.opened == 3
    first, second = sleeps.delays
    assert 0.5 * LISTENER_BACKOFF.base <= first <= LISTENER_BACKOFF.base
    assert LISTENER_BACKOFF.base <= second <= 2 * LISTENER_BACKOFF.base


async def test_in_one_process_a_lock_is_held_by_one_listener_at_a_time(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        async with store.hold("mailbox"):
            second = asyncio.create_task(_hold_once(store, "mailbox"))
            for _ in range(5):
                await asyncio.sleep(0)  # the other task runs up to the lock, and waits there
            assert not second.done()
        await asyncio.wait_for(second, 5)
    finally:
        await store.close()


async def _hold_once(store: SqlStore, name: str) -> None:
    async with store.hold(name):
        pass


HOLDER = """
import asyncio, sys
from storage import open_store

async def main(url: str, name: str) -> None:
    async with open_store(url).hold(name):
        print("held", flush=True)
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


HOLDERS = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(:key, 0)
"""


async def _holders(store: SqlStore, name: str) -> list[int]:
    """The backends holding the lock `name` (storage/locks.py names it `switchboard:<name>`)."""
    from sqlalchemy import text

    def query(conn: Any) -> list[int]:
        return [r.pid for r in conn.execute(text(HOLDERS), {"key": f"switchboard:{name}"})]

    return await store._run(query)


@pytest.mark.slow
@pytest.mark.postgres
async def test_another_process_takes_a_listeners_lock_within_seconds_of_the_holders_death(
    postgres_url: str,
) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, postgres_url, "imap:INBOX", stdout=asyncio.subprocess.PIPE
    )
    store = open_store(postgres_url)
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
        taken = asyncio.Event()

        async def take_over() -> None:
            async with store.hold("imap:INBOX"):
                taken.set()
                await asyncio.Event().wait()

        waiting = asyncio.create_task(take_over())
        [first] = await _holders(store, "imap:INBOX")
        assert not taken.is_set()  # the other process holds it while it lives
        holder.send_signal(signal.SIGKILL)
        await holder.wait()
        await asyncio.wait_for(taken.wait(), 5)  # asked for every second: taken in about one
        [second] = await _holders(store, "imap:INBOX")
        assert second != first
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert await _holders(store, "imap:INBOX") == []  # leaving the block frees it
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await store.close()


@pytest.mark.postgres
async def test_a_holder_whose_session_is_cut_stops_and_the_lock_is_free(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        held = asyncio.Event()

        async def hold() -> None:
            async with held_on_postgres(store.engine, "gateway", check=0.05):
                held.set()
                await asyncio.Event().wait()

        holding = asyncio.create_task(hold())
        await asyncio.wait_for(held.wait(), 5)
        [pid] = await _holders(store, "gateway")

        def cut(conn: Any) -> None:
            from sqlalchemy import text

            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        await store._run(cut)
        with pytest.raises(ExceptionGroup) as stopped:
            await asyncio.wait_for(holding, 5)
        assert stopped.group_contains(LockLost)
        await asyncio.wait_for(_hold_once(store, "gateway"), 5)
    finally:
        await store.close()


async def test_an_interaction_with_a_payload_is_answered_by_its_channel(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A dialog to open at once (Slack's Reject): the channel's `respond` gets it; one that fails
    is logged and the platform still gets its acknowledgement."""
    answered: list[Acknowledged] = []

    async def respond(item: Acknowledged) -> None:
        answered.append(item)
        if item.what == "broken":
            raise ConnectionError("the platform is down")

    codec = GenericCodec("x", Look("X"), AddressForm("U0"))
    channels = {"x": Channel(codec, Nowhere(), respond=respond)}
    inbox = Inbox(store, InboxConfig({}, {}), wake_thread=lambda _: None, wake_outbox=lambda: None)
    ingress = Ingress(inbox, store, channels)
    dialog = Acknowledged("reject", channel="x", payload={"trigger_id": "t1"})
    assert await ingress.take(dialog) is None
    assert await ingress.take(Acknowledged("ping", channel="x")) is None  # nothing to answer
    assert await ingress.take(Acknowledged("broken", channel="x", payload={})) is None
    assert await ingress.take(Acknowledged("lost", channel="nowhere", payload={})) is None
    assert [a.what for a in answered] == ["reject", "broken"]
    assert "x: could not answer the interaction broken" in caplog.text
    assert "nowhere: nothing answers the interaction lost" in caplog.text


async def test_a_channel_whose_platform_refuses_its_credentials_stops_the_start(
    service: Service,
) -> None:
    async def refused() -> None:
        raise Misconfigured("x: SLACK_BOT_TOKEN was refused: invalid_auth")

    codec = GenericCodec("x", Look("X"), AddressForm("U0"))
    checked = {**service.channels, "x": Channel(codec, Nowhere(), check=refused)}
    with pytest.raises(Misconfigured, match="invalid_auth"):
        await dataclasses.replace(service, channels=checked).check_channels()
    await service.check_channels()  # the sandboxes have nothing to check


async def test_a_senders_name_is_asked_once_and_never_holds_a_message_up(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    async def name_of(address: str) -> str | None:
        if address == "U0SLOW":
            await asyncio.sleep(30)
        if address == "U0DOWN":
            raise ConnectionError("the platform is down")
        return {"U0DANA": "Dana Smith"}.get(address)

    caplog.set_level(logging.INFO, "switchboard.ingress")
    codec = GenericCodec("x", Look("X"), AddressForm("U0"))
    channels = {"x": Channel(codec, Nowhere(), name_of=name_of)}
    inbox = Inbox(store, InboxConfig({}, {}), wake_thread=lambda _: None, wake_outbox=lambda: None)
    ingress = Ingress(inbox, store, channels)

    def said(sender: str) -> InboundMessage:
        return InboundMessage(channel="x", external_id=sender, sender=sender, conversation="C1")

    assert (await ingress.named(said("U0DANA"))).sender_name == "Dana Smith"
    assert (await ingress.named(said("U0NOBODY"))).sender_name == ""
    assert (await ingress.named(said("U0DOWN"))).sender_name == ""
    started = asyncio.get_running_loop().time()
    assert (await ingress.named(said("U0SLOW"))).sender_name == ""
    assert asyncio.get_running_loop().time() - started < 5  # given up after NAME_SECONDS
    assert "x: no name for U0DOWN: the platform is down" in caplog.text
