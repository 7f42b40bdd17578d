"""Console pages without a browser: what an operator must be able to see."""

from __future__ import annotations

import httpx

from core.channels import InboundMessage
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
