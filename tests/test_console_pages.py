"""Console pages without a browser: what an operator must be able to see."""

from __future__ import annotations

import httpx

from core.events import ThreadPaused
from core.humans import append
from core.service import Service
from core.store import OutboxItem, OutboxMessage
from core.web.app import create_app
from core.web.auth import COOKIE
from tests.fixtures import eventually


async def test_the_inbox_shows_messages_no_channel_could_deliver(service: Service) -> None:
    thread_id = await service.app.runtime.start("deploy", "deploy api 2.4.1", requester="bob")
    note = OutboxMessage("bob", "teams", "notice", "paused for the freeze", address="bob@teams")
    await append(service.app.store, thread_id, [ThreadPaused(by="alice")], outbox=[note])
    service.dispatcher.wake()

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
    assert thread_id in page
