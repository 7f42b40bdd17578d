"""The outbox dispatcher against a channel whose transport fails on cue: retries with backoff and
jitter, Retry-After, one idempotency key for every attempt, receipts, and the dead letters."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

import pytest

from channels.sandbox import SandboxSimulator as simulated
from channels.sandbox.codec import GenericCodec
from core.agent import Agent
from core.channels import (
    AddressForm,
    Channel,
    Consent,
    DeliveryFailed,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    Receipt,
)
from core.humans import Approve, respond
from core.inbox import Inbox, InboxConfig
from core.models.retry import Backoff
from core.models.scripted import Call, ScriptedModel
from core.outbox import Dispatcher
from core.previews import Look
from core.records import OutboxItem
from core.timers import Timers
from storage import SqlStore
from tests.fixtures import RuntimeFactory

BACKOFF = Backoff(attempts=8, base=2.0, cap=300.0)
CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
DEPLOY_PROD = Call("deploy", {"service": "api", "version": "2.4.1", "environment": "production"})


class Clock:
    """The dispatcher's clock (seconds since the epoch), moved by the test."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FlakyTransport:
    """A transport that raises the scripted errors one per attempt, then delivers."""

    def __init__(self, name: str, failures: Iterable[Exception] = ()) -> None:
        self.name = name
        self.failures = deque(failures)
        self.attempts: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        self.attempts.append(message)
        if self.failures:
            raise self.failures.popleft()
        return Receipt(f"{self.name}-{len(self.attempts)}", message.conversation or message.address)

    edit = send

    async def close(self) -> None:
        return None


def live(transport: FlakyTransport) -> dict[str, Channel]:
    """A channel connected to its platform through `transport`, with the generic codec."""
    codec = GenericCodec(transport.name, Look(transport.name), AddressForm("U0STRANGER"))
    return {transport.name: Channel(codec, transport)}


def inbox(store: SqlStore, agents: dict[str, Agent]) -> Inbox:
    config = InboxConfig(agents, {"*": "deploy"})
    return Inbox(store, config, wake_thread=lambda _: None, wake_outbox=lambda: None)


async def a_reply_to_send(
    store: SqlStore, make_runtime: RuntimeFactory, agents: dict[str, Agent]
) -> None:
    """Bob writes in a Slack thread; the agent's reply waits in the outbox for that thread."""
    started = await inbox(store, agents).accept(
        simulated("slack").simulate(sender="U0BOB", conversation="C1:1", text="status?")
    )
    assert started.thread_id is not None
    runtime = make_runtime(ScriptedModel([Call("reply", {"message": "All green."})]))
    await runtime.advance(started.thread_id)


async def strangers_write(store: SqlStore, agents: dict[str, Agent], n: int, channel: str) -> None:
    """Unknown senders: each is told, on their channel, that the agent does not know them."""
    for i in range(n):
        message = InboundMessage(
            channel=channel, external_id=f"m{i}", sender=f"U0STRANGER{i}", conversation=f"C{i}:1"
        )
        refused = await inbox(store, agents).accept(message.model_copy(update={"text": "hi"}))
        assert refused.outcome == "refused"


async def rows(store: SqlStore, channel: str) -> list[OutboxItem]:
    return await store.outbox(channel=channel)


async def test_a_failing_send_is_retried_with_backoff_and_retry_after_under_one_key(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    await a_reply_to_send(store, make_runtime, shipped_agents)
    slack = FlakyTransport(
        "slack",
        [
            DeliveryFailed("502 bad gateway"),
            DeliveryFailed("503 unavailable"),
            DeliveryFailed("429 rate limited", retry_after=7),
            DeliveryFailed("connection reset"),
        ],
    )
    clock = Clock()
    dispatcher = Dispatcher(store, live(slack), backoff=BACKOFF, clock=clock)
    assert await dispatcher.deliver_due() == 1  # the reply is routed into Bob's Slack thread
    # attempt n waits base * 2^(n-1), jittered down by up to half; Retry-After exactly as asked
    for attempt, (low, high) in enumerate([(1, 2), (2, 4), (7, 7), (8, 16)], start=1):
        assert await dispatcher.deliver_due() == 1
        [row] = await rows(store, "slack")
        assert (row.status, row.attempts) == ("pending", attempt)
        waits = row.next_attempt_at - clock.now
        assert low <= waits <= high, (attempt, waits)
        clock.now = row.next_attempt_at - 0.01
        assert await dispatcher.deliver_due() == 0  # not before its time
        clock.now = row.next_attempt_at
    assert row.last_error == "connection reset"

    assert await dispatcher.deliver_due() == 1
    [row] = await rows(store, "slack")
    assert (row.status, row.attempts, row.last_error) == ("sent", 5, None)
    assert (row.message_id, row.conversation) == ("slack-5", "C1:1")
    assert row.payload == {"text": "All green.", "to": "U0BOB"}
    assert {m.idempotency_key for m in slack.attempts} == {row.idempotency_key}
    assert row.idempotency_key and len(slack.attempts) == 5


async def test_backoff_is_jittered_and_grows_within_its_bounds(
    store: SqlStore, shipped_agents: dict[str, Agent]
) -> None:
    await strangers_write(store, shipped_agents, 12, "slack")
    slack = FlakyTransport("slack", [DeliveryFailed("503")] * 24)
    clock = Clock()
    dispatcher = Dispatcher(store, live(slack), backoff=BACKOFF, clock=clock)

    assert await dispatcher.deliver_due() == 12
    first = [r.next_attempt_at - clock.now for r in await rows(store, "slack")]
    assert all(1.0 <= w <= 2.0 for w in first), first
    assert len(set(first)) > 1  # jittered: the retries do not all come back at once

    clock.now += 2.0
    assert await dispatcher.deliver_due() == 12
    second = [r.next_attempt_at - clock.now for r in await rows(store, "slack")]
    assert all(2.0 <= w <= 4.0 for w in second), second
    assert len(set(second)) > 1
    assert all(r.attempts == 2 and r.status == "pending" for r in await rows(store, "slack"))


async def test_a_permanent_failure_goes_to_the_dead_letters_at_once(
    store: SqlStore, shipped_agents: dict[str, Agent]
) -> None:
    await strangers_write(store, shipped_agents, 1, "slack")
    slack = FlakyTransport("slack", [DeliveryFailed("channel_not_found", retry=False)])
    clock = Clock()
    dispatcher = Dispatcher(store, live(slack), backoff=BACKOFF, clock=clock)
    assert await dispatcher.deliver_due() == 1

    [dead] = await store.outbox(status="dead")
    assert (dead.channel, dead.attempts, dead.last_error) == ("slack", 1, "channel_not_found")
    assert (await store.counts())["outbox"]["dead"] == 1
    clock.now += 86_400
    assert await dispatcher.deliver_due() == 0
    assert len(slack.attempts) == 1


async def test_a_retry_after_past_the_cap_goes_to_the_dead_letters_not_a_day_later(
    store: SqlStore, shipped_agents: dict[str, Agent]
) -> None:
    await strangers_write(store, shipped_agents, 1, "slack")
    slack = FlakyTransport("slack", [DeliveryFailed("429 rate limited", retry_after=86_400)])
    clock = Clock()
    capped = Backoff(attempts=8, base=2.0, cap=300.0, max_retry_after=120)
    dispatcher = Dispatcher(store, live(slack), backoff=capped, clock=clock)
    assert await dispatcher.deliver_due() == 1

    [dead] = await store.outbox(status="dead")
    assert dead.attempts == 1 and dead.last_error is not None
    assert "asked to wait 86400s, more than the 120s" in dead.last_error


async def test_a_row_that_keeps_failing_goes_to_the_dead_letters_after_the_last_attempt(
    store: SqlStore, shipped_agents: dict[str, Agent]
) -> None:
    await strangers_write(store, shipped_agents, 1, "slack")
    slack = FlakyTransport("slack", [DeliveryFailed(f"503 #{n}") for n in range(1, 10)])
    clock = Clock()
    dispatcher = Dispatcher(store, live(slack), backoff=Backoff(attempts=3), clock=clock)
    for _ in range(2):
        assert await dispatcher.deliver_due() == 1
        [row] = await rows(store, "slack")
        assert row.status == "pending"
        clock.now = row.next_attempt_at
    assert await dispatcher.deliver_due() == 1

    [dead] = await store.outbox(status="dead")
    assert (dead.attempts, dead.last_error) == (3, "503 #3")
    assert (await store.counts())["outbox"] == {"dead": 1}
    clock.now += 86_400
    assert await dispatcher.deliver_due() == 0
    assert len(slack.attempts) == 3


async def test_a_channel_that_crashes_is_a_failed_attempt_retried_later(
    store: SqlStore, shipped_agents: dict[str, Agent]
) -> None:
    await strangers_write(store, shipped_agents, 1, "slack")
    slack = FlakyTransport("slack", [KeyError("ts")])
    clock = Clock()
    dispatcher = Dispatcher(store, live(slack), backoff=BACKOFF, clock=clock)
    assert await dispatcher.deliver_due() == 1
    [row] = await rows(store, "slack")
    assert (row.status, row.last_error) == ("pending", "KeyError: 'ts'")
    clock.now = row.next_attempt_at
    assert await dispatcher.deliver_due() == 1
    [row] = await rows(store, "slack")
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_message_for_a_channel_that_is_not_configured_is_dead_and_says_why(
    store: SqlStore, shipped_agents: dict[str, Agent]
) -> None:
    await strangers_write(store, shipped_agents, 1, "teams")
    dispatcher = Dispatcher(store, live(FlakyTransport("slack")), clock=Clock())
    assert await dispatcher.deliver_due() == 1

    [dead] = await store.outbox(status="dead")
    assert dead.channel == "teams" and dead.attempts == 1
    assert dead.last_error == "no channel 'teams' is configured"
    assert (await store.counts())["outbox"]["dead"] == 1


@pytest.mark.parametrize(
    ("route_first", "requests"),
    [
        (False, [(None, "skipped")]),
        (True, [("discord", "skipped"), ("discord", "skipped"), (None, "routed")]),
    ],
    ids=["settled before routing", "settled after routing"],
)
async def test_a_request_settled_before_its_copies_went_out_is_not_sent(
    route_first: bool,
    requests: list[tuple[str | None, str]],
    store: SqlStore,
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    [request_id] = (await runtime.advance(thread)).open_requests
    discord = FlakyTransport("discord")
    channels = {**live(discord), **live(FlakyTransport("slack"))}
    dispatcher = Dispatcher(store, channels, clock=Clock())
    if route_first:
        assert await dispatcher.deliver_due() == 2  # the request to route; Bob's waiting notice
        assert {r.recipient for r in await rows(store, "discord")} == {"alice", "erin"}
    await respond(store, request_id, "alice", Approve(), via="cli")
    while await dispatcher.deliver_due():
        pass

    assert discord.attempts == []
    copies = await store.outbox(request_id=request_id)
    copied = [(r.channel, r.status) for r in copies if r.kind == "request"]
    assert sorted(copied, key=str) == requests
    assert {r.last_error for r in copies if r.status == "skipped"} == {
        "the request was settled before it was sent",
        "no copy of the request was sent",  # so there is no copy to show the outcome on
    }


async def test_a_request_carries_what_the_decider_needs(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """Who asks, through which agent, to run what with which arguments, by when: every channel
    gets it beside the question, to show it the platform's way."""
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    [request_id] = (await runtime.advance(thread)).open_requests
    discord = FlakyTransport("discord")
    dispatcher = Dispatcher(store, live(discord), clock=Clock())
    while await dispatcher.deliver_due():
        pass

    request = await store.request(request_id)
    assert request is not None and discord.attempts
    for sent in discord.attempts:
        assert sent.request_kind == "approval" and sent.context is not None
        assert sent.context.requester == "Bob"  # his name in the directory, not his id
        assert (sent.context.agent, sent.context.tool) == ("deploy", "deploy")
        assert sent.context.arguments == DEPLOY_PROD.arguments
        assert sent.context.deadline == request.deadline


async def test_a_person_unreachable_on_a_channel_is_asked_on_their_next_one(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """Alice takes no DMs on Discord: her copy is dead with the platform's reason and she is
    asked on Slack, once, even when the escalation re-send comes to Slack too. Erin, whose next
    channel (SMS) is not open here, waits in the console's inbox, and the log says so."""
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    [request_id] = (await runtime.advance(thread)).open_requests
    closed = DeliveryFailed(
        "Discord 403 50007: Cannot send messages to this user", unreachable=True
    )
    discord = FlakyTransport("discord", [closed, closed])
    slack = FlakyTransport("slack")
    dispatcher = Dispatcher(store, {**live(discord), **live(slack)}, clock=Clock())
    while await dispatcher.deliver_due():
        pass

    copies = await store.outbox(request_id=request_id)
    dead = {r.recipient: r for r in copies if r.status == "dead"}
    assert set(dead) == {"alice", "erin"}
    assert all(r.channel == "discord" and r.attempts == 1 for r in dead.values())
    assert dead["alice"].last_error == f"{closed} (asked on their next channel)"
    [asked] = [r for r in copies if r.status == "sent"]
    assert (asked.recipient, asked.channel, asked.address, asked.rank) == (
        "alice",
        "slack",
        "U0ALICE",
        1,
    )
    [waiting] = [r for r in copies if r.status == "skipped"]
    assert waiting.last_error is not None and "no further channel for erin" in waiting.last_error

    # The escalation re-send asks everyone on their second channel: Slack, for Alice, where she
    # was just asked, and SMS, not open here, for Erin.
    request = await store.request(request_id)
    assert request is not None and request.resend_at is not None
    assert await Timers(store).tick(request.resend_at) == 1
    while await dispatcher.deliver_due():
        pass
    assert [m.address for m in slack.attempts] == ["U0ALICE"]
    [resend] = (await store.outbox(request_id=request_id))[-1:]
    assert (resend.status, resend.last_error) == (
        "skipped",
        "no further channel for erin: the request waits in the console inbox;"
        " already asked: alice on slack",
    )


async def test_a_request_that_cannot_go_out_on_a_channel_is_asked_on_the_next_one(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """Not only an unreachable person: Alice's copy refused for good (a carrier's filter), and
    Erin's after its last attempt, are dead letters, and both are asked on their next channel."""
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    [request_id] = (await runtime.advance(thread)).open_requests
    refused = DeliveryFailed("30007 filtered by the carrier", retry=False)
    discord = FlakyTransport("discord", [refused] + [DeliveryFailed("503")] * 3)
    slack, sms = FlakyTransport("slack"), FlakyTransport("sms")
    clock = Clock()
    channels = {**live(discord), **live(slack), **live(sms)}
    dispatcher = Dispatcher(store, channels, backoff=Backoff(attempts=3), clock=clock)
    while await dispatcher.deliver_due() or await store.outbox(status="pending"):
        clock.now += 600  # past any backoff

    copies = await store.outbox(request_id=request_id)
    dead = {r.recipient: r for r in copies if r.status == "dead"}
    assert {p: (r.channel, r.attempts) for p, r in dead.items()} == {
        "alice": ("discord", 1),
        "erin": ("discord", 3),
    }
    assert dead["alice"].last_error == "30007 filtered by the carrier (asked on their next channel)"
    assert dead["erin"].last_error == "503 (asked on their next channel)"
    asked = {(r.recipient, r.channel) for r in copies if r.status == "sent"}
    assert asked == {("alice", "slack"), ("erin", "sms")}


async def test_reports_on_a_message_count_in_any_order_and_only_once(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    await a_reply_to_send(store, make_runtime, shipped_agents)
    slack = FlakyTransport("slack")
    dispatcher = Dispatcher(store, live(slack), backoff=BACKOFF, clock=Clock())
    while await dispatcher.deliver_due():
        pass
    [row] = await rows(store, "slack")

    async def report(status: str, **failure: Any) -> str | None:
        said = DeliveryStatus(
            channel="slack", message_id=row.message_id or "", status=status, **failure
        )
        await dispatcher.reported(said)
        [now] = [r for r in await rows(store, "slack") if r.id == row.id]
        return now.delivery

    assert await report("delivered") == "delivered"
    assert await report("sent") == "delivered"  # late news of less changes nothing
    assert await report("read") == "read"
    assert await report("delivered") == "read"
    assert await report("failed", error="30003") == "read"  # it was read: it did arrive
    assert [r.status for r in await rows(store, "slack")] == ["sent"]


async def test_a_failure_report_is_retried_asked_elsewhere_or_dead_as_it_says(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """Erin's phone is off (retry: sent again, a new message; the old one's news is no news);
    Alice's number is a landline (unreachable: asked on Slack); either report, twice, counts once."""
    runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]))
    thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
    [request_id] = (await runtime.advance(thread)).open_requests
    discord, slack = FlakyTransport("discord"), FlakyTransport("slack")
    clock = Clock()
    dispatcher = Dispatcher(store, {**live(discord), **live(slack)}, backoff=BACKOFF, clock=clock)
    while await dispatcher.deliver_due():
        pass
    sent = {r.recipient: r for r in await rows(store, "discord")}
    off = DeliveryStatus(
        channel="discord",
        message_id=sent["erin"].message_id or "",
        status="failed",
        error="30003 unreachable handset",
        retry=True,
    )
    landline = DeliveryStatus(
        channel="discord",
        message_id=sent["alice"].message_id or "",
        status="failed",
        error="30006 landline",
        unreachable=True,
    )
    for report in (off, landline, off, landline):
        await dispatcher.reported(report)
    clock.now += 3600
    while await dispatcher.deliver_due():
        pass

    now = {r.recipient: r for r in await rows(store, "discord")}
    assert now["erin"].status == "sent" and now["erin"].attempts == 2
    assert now["erin"].message_id != off.message_id and now["erin"].delivery is None
    assert (now["alice"].status, now["alice"].last_error) == (
        "dead",
        "the platform could not deliver it: 30006 landline (asked on their next channel)",
    )
    [asked] = await rows(store, "slack")
    assert (asked.recipient, asked.status, asked.request_id) == ("alice", "sent", request_id)
    await dispatcher.reported(off)  # news of the message sent before: changes nothing
    assert {r.recipient: r.status for r in await rows(store, "discord")} == {
        "alice": "dead",
        "erin": "sent",
    }


async def test_an_address_opted_out_is_passed_over_until_its_owner_opts_in(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """Alice said STOP to Discord: she is asked on Slack, her next channel, and nothing is
    sent to her Discord address; once she opts in again, Discord is hers again."""
    discord, slack = FlakyTransport("discord"), FlakyTransport("slack")
    dispatcher = Dispatcher(store, {**live(discord), **live(slack)}, clock=Clock())
    await dispatcher.consented(Consent(channel="discord", address="1001", allowed=False))

    async def ask() -> str:
        runtime = make_runtime(ScriptedModel([CHECK, DEPLOY_PROD]))
        thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
        [request_id] = (await runtime.advance(thread)).open_requests
        while await dispatcher.deliver_due():
            pass
        return request_id

    first = await ask()
    copies = {(r.recipient, r.channel) for r in await store.outbox(request_id=first) if r.channel}
    assert ("alice", "slack") in copies and ("alice", "discord") not in copies
    assert "1001" not in {m.address for m in discord.attempts}

    await dispatcher.consented(Consent(channel="discord", address="1001", allowed=True))
    second = await ask()
    copies = {(r.recipient, r.channel) for r in await store.outbox(request_id=second) if r.channel}
    assert ("alice", "discord") in copies and ("alice", "slack") not in copies


class HeldTransport(FlakyTransport):
    """A transport whose send waits until the test lets it finish."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        self.entered.set()
        await self.release.wait()
        return await super().send(message, payload)


async def test_a_shutdown_during_a_send_waits_for_its_record(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    """Stopped while the platform takes the message: the row still says it was sent, with the
    platform's id, so a restart neither sends it again nor loses the copy its outcome edits."""
    await a_reply_to_send(store, make_runtime, shipped_agents)
    slack = HeldTransport("slack")
    dispatcher = Dispatcher(store, live(slack), clock=Clock())
    assert await dispatcher.deliver_due() == 1  # routed
    delivering = asyncio.create_task(dispatcher.deliver_due())
    await slack.entered.wait()
    delivering.cancel()  # the service stops
    asyncio.get_running_loop().call_later(0.05, slack.release.set)  # the platform answers
    with pytest.raises(asyncio.CancelledError):
        await delivering
    [row] = await rows(store, "slack")
    assert (row.status, row.message_id) == ("sent", "slack-1")


async def test_a_report_that_outruns_the_record_of_its_send_still_counts(
    store: SqlStore, make_runtime: RuntimeFactory, shipped_agents: dict[str, Agent]
) -> None:
    """The platform took the message and says it failed before the row says it was sent."""
    await a_reply_to_send(store, make_runtime, shipped_agents)
    slack = HeldTransport("slack")
    dispatcher = Dispatcher(store, live(slack), clock=Clock())
    assert await dispatcher.deliver_due() == 1  # routed
    delivering = asyncio.create_task(dispatcher.deliver_due())
    await slack.entered.wait()
    early = DeliveryStatus(channel="slack", message_id="slack-1", status="failed", error="30005")
    reporting = asyncio.create_task(dispatcher.reported(early))
    await asyncio.sleep(0.01)  # the report is in, and finds no row that sent slack-1
    slack.release.set()
    await delivering
    await reporting
    [row] = await rows(store, "slack")
    assert (row.status, row.delivery) == ("dead", "failed")
    assert row.last_error == "the platform could not deliver it: 30005"
