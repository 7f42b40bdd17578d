"""The service without HTTP: a message in one channel's sandbox, an approval from another's, the
outcome shown on every copy, and the answer back where the conversation started."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime, timedelta

from core.channels import Action
from core.humans import cancel
from core.inbox import route
from core.records import OutboxItem
from core.service import Service
from storage import open_store
from tests.fixtures import eventually, simulator


async def sent(service: Service, **where: str) -> list[OutboxItem]:
    rows = await service.app.store.outbox(channel=where.pop("channel", None))
    return [
        r for r in rows if r.status == "sent" and all(getattr(r, k) == v for k, v in where.items())
    ]


async def test_asked_in_slack_approved_in_discord_answered_in_slack(service: Service) -> None:
    slack, discord = simulator(service, "slack"), simulator(service, "discord")
    asked = await service.inbox.accept(
        slack.simulate(
            sender="U0BOB",
            conversation="C1:1700000000.000100",
            text="deploy api 2.4.1 to production",
        )
    )
    assert asked.outcome == "started"

    async def copies() -> list[OutboxItem]:
        rows = await sent(service, channel="discord", kind="request")
        return rows if len(rows) == 2 else []

    alice_copy, erin_copy = sorted(await eventually(copies), key=lambda r: r.recipient or "")
    assert (alice_copy.recipient, erin_copy.recipient) == ("alice", "erin")
    assert alice_copy.payload is not None
    shown = service.channels["discord"].codec.preview(alice_copy.payload)
    assert [b.label for b in shown.buttons] == ["Approve", "Reject"]

    request_id = alice_copy.request_id
    approved = await service.inbox.accept(
        discord.simulate(
            sender="1001",
            conversation=alice_copy.conversation or "",
            action=Action(request_id=request_id, decision="approve"),
        )
    )
    assert approved.outcome == "answered"

    async def replied() -> list[OutboxItem]:
        return await sent(
            service, channel="slack", kind="reply", conversation="C1:1700000000.000100"
        )

    reply = (await eventually(replied))[0]
    assert "Deployed api 2.4.1 to production" in reply.text

    async def outcomes() -> list[OutboxItem]:
        rows = await sent(service, channel="discord", kind="outcome")
        return rows if len(rows) == 2 else []

    updated = await eventually(outcomes)
    assert {r.message_id for r in updated} == {alice_copy.message_id, erin_copy.message_id}
    assert all(r.text.startswith("Approved by Alice via discord") for r in updated)

    late = await service.inbox.accept(
        discord.simulate(
            sender="1005",
            conversation=erin_copy.conversation or "",
            action=Action(request_id=request_id, decision="approve"),
        )
    )
    assert late.outcome == "refused"
    assert "Already settled: Approved by Alice via discord" in late.detail


async def test_the_same_message_twice_is_received_once(service: Service) -> None:
    slack = simulator(service, "slack")
    message = slack.simulate(
        sender="U0BOB", conversation="C1:2", text="deploy web 1.8.0 to staging"
    )
    first = await service.inbox.accept(message)
    again = await service.inbox.accept(message)
    assert (first.outcome, again.outcome) == ("started", "duplicate")
    assert len(await service.app.store.inbox()) == 1


async def test_an_unknown_sender_is_refused_by_a_private_agent_and_told_why(
    service: Service,
) -> None:
    slack = simulator(service, "slack")
    refused = await service.inbox.accept(
        slack.simulate(sender="U0NOBODY", conversation="C9:1", text="deploy everything")
    )
    assert refused.outcome == "refused"
    assert "people directory" in refused.detail

    async def notice() -> list[OutboxItem]:
        return await sent(service, channel="slack", kind="notice", conversation="C9:1")

    assert "people directory" in (await eventually(notice))[0].text


async def test_cancelling_a_thread_updates_every_copy_of_its_open_request(service: Service) -> None:
    slack = simulator(service, "slack")
    asked = await service.inbox.accept(
        slack.simulate(sender="U0BOB", conversation="C1:3", text="deploy api 2.4.1 to production")
    )

    async def copies() -> list[OutboxItem]:
        rows = await sent(service, channel="discord", kind="request")
        return rows if len(rows) == 2 else []

    await eventually(copies)
    assert asked.thread_id is not None
    await cancel(service.app.store, asked.thread_id, by="alice", reason="change freeze")
    service.changed(asked.thread_id)

    async def outcomes() -> list[OutboxItem]:
        rows = await sent(service, channel="discord", kind="outcome")
        return rows if len(rows) == 2 else []

    assert all(r.text.startswith("Cancelled") for r in await eventually(outcomes))


async def test_first_messages_arriving_together_start_one_thread(
    service: Service, database_url: str
) -> None:
    """As if several servers shared the database: each message through its own store."""
    slack = simulator(service, "slack")
    stores = [open_store(database_url) for _ in range(4)]
    try:
        messages = [
            slack.simulate(
                sender="U0BOB", conversation="C1:race", text=f"deploy web 1.8.0 to staging #{i}"
            )
            for i in range(16)
        ]
        route_one = functools.partial(route, service.inbox.config)
        received = await asyncio.gather(
            *(stores[i % 4].receive(m, route_one) for i, m in enumerate(messages))
        )
    finally:
        for store in stores:
            await store.close()
    assert {r.outcome for r in received} <= {"started", "continued"}
    assert len({r.thread_id for r in received}) == 1


async def test_unanswered_it_is_re_sent_by_sms_and_a_texted_yes_approves(service: Service) -> None:
    slack, sms = simulator(service, "slack"), simulator(service, "sms")
    await service.inbox.accept(
        slack.simulate(sender="U0BOB", conversation="C1:4", text="deploy api 2.4.1 to production")
    )

    async def on_discord() -> list[OutboxItem]:
        rows = await sent(service, channel="discord", kind="request")
        return rows if len(rows) == 2 else []

    await eventually(on_discord)
    assert await service.timers.tick(datetime.now(UTC) + timedelta(minutes=31)) == 1
    service.dispatcher.wake()

    async def texted() -> list[OutboxItem]:
        return await sent(service, channel="sms", kind="request", recipient="erin")

    [copy] = await eventually(texted)
    assert copy.payload is not None and "Reply YES " in copy.payload["body"]
    assert "buttons" not in copy.payload
    reply = sms.simulate(sender="+15550100005", conversation=copy.conversation or "", text="YES")
    answered = await service.inbox.accept(reply)
    assert answered.outcome == "answered"
    decided = await service.app.store.request(copy.request_id or "")
    assert decided is not None and (decided.decided_by, decided.decided_via) == ("erin", "sms")
