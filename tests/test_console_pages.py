"""Console pages without a browser: what an operator must be able to see."""

from __future__ import annotations

import httpx

from core.channels import InboundMessage
from core.humans import Approve, respond
from core.records import OutboxItem
from core.service import Service
from core.web.app import create_app
from core.web.auth import COOKIE
from tests.fixtures import eventually


async def test_the_inbox_shows_messages_no_channel_could_deliver(service: Service) -> None:
    # A stranger writes on a channel this server has no transport for: the notice that refuses
    # them cannot be sent, and becomes a dead letter at once.
    stranger = InboundMessage(
        channel="teams", external_id="t1", sender="someone", conversation="T1", text="hello"
    )
    assert (await service.inbox.accept(stranger)).outcome == "refused"

    async def dead() -> list[OutboxItem]:
        return await service.app.store.outbox(status="dead")

    await eventually(dead)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", cookies={COOKIE: service.api_token}
    ) as console:
        page = (await console.get("/")).text
    assert "dead letters" in page
    assert "no channel &#39;teams&#39; is configured" in page


async def test_an_approval_shows_who_may_decide_and_how_far_it_is(service: Service) -> None:
    """A rollback Bob asked for: two must approve, Bob may not; after Alice, one more."""
    thread = await service.app.runtime.start(
        "deploy", "roll back api in production to 2.4.0", requester="bob"
    )
    service.changed(thread)  # a worker takes it on
    [request] = await eventually(service.app.store.requests)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", cookies={COOKIE: service.api_token}
    ) as console:
        before = (await console.get("/")).text
        answered = await console.post(
            f"/requests/{request.id}/respond",
            data={"person": "alice", "decision": "approve"},
            headers={"hx-request": "true"},
        )
    assert "2 different people must approve" in before and "not Bob, who asked" in before
    may = before.split('label="May answer"')[1].split("</optgroup>")[0]
    assert "Alice" in may and "Erin" in may and "Bob" not in may
    assert answered.status_code == 200, answered.text
    assert (
        "1 of 2: approved by operator on behalf of Alice via console; waiting for one more"
        in answered.text
    )
    assert "Recorded: it waits for more approvals." in answered.text
    may = answered.text.split('label="May answer"')[1].split("</optgroup>")[0]
    assert "Erin" in may and "Alice" not in may  # she approved: only Erin is left


async def test_a_copy_drawn_again_with_progress_keeps_its_live_buttons(service: Service) -> None:
    """Erin's Discord copy after Alice approved: the progress, and buttons that still work."""
    thread = await service.app.runtime.start(
        "deploy", "roll back api in production to 2.4.0", requester="bob"
    )
    service.changed(thread)
    [request] = await eventually(service.app.store.requests)

    async def copies() -> list[OutboxItem]:
        rows = await service.app.store.outbox(request_id=request.id, status="sent")
        return [r for r in rows if r.kind == "request"] if len(rows) >= 2 else []

    erins = next(c for c in await eventually(copies) if c.recipient == "erin")
    await respond(service.app.store, request.id, "alice", Approve(), via="discord")
    service.changed(thread)

    async def redrawn() -> list[OutboxItem]:
        rows = await service.app.store.outbox(request_id=request.id, status="sent")
        return [r for r in rows if r.kind == "outcome" and r.recipient == "erin"]

    await eventually(redrawn)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", cookies={COOKIE: service.api_token}
    ) as console:
        page = await console.get(
            "/sandbox/discord", params={"as": "erin", "c": erins.conversation or ""}
        )
    assert "1 of 2: approved by Alice via discord; waiting for one more" in page.text
    assert "Press an old button" not in page.text  # the buttons are the live ones
    assert 'value="approve"' in page.text
