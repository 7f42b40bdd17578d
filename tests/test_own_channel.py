"""A channel of one's own (tests/pigeon: a codec, a transport and a listener on a queue), added by
a setting with no change under core/: it keeps the channel contract, runs through the service (a
message its listener hears starts a thread, an approval is pressed on it, its transport carries
the reply), and the console previews its conversations, refusing to speak for its people."""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from core.channels import Codec, RawRequest
from core.previews import Button
from core.service import Service
from core.web.auth import COOKIE
from tests.contract.contract import ChannelContract, Kit
from tests.fixtures import eventually, running, service_settings
from tests.pigeon import channel
from tests.pigeon.codec import BAND, PigeonCodec
from tests.pigeon.listener import Perch
from tests.pigeon.transport import Loft
from tests.test_api import client_for, problem

TOKEN = "test-token"


def genuine(codec: Codec, body: bytes) -> RawRequest:
    assert isinstance(codec, PigeonCodec)
    return RawRequest("pigeon://perch", {BAND: codec.band(body)}, body)


def coo(sender: str, perch: str, **more: Any) -> bytes:
    ring = f"r-{uuid.uuid4().hex}"
    return json.dumps(
        {"kind": "coo", "ring": ring, "from": sender, "perch": perch, **more}
    ).encode()


def says(sender: str, perch: str, text: str) -> bytes:
    return coo(sender, perch, says=text)


def presses(button: Button, sender: str, perch: str) -> bytes:
    action = button.action
    pick = {"request": action.request_id, "choice": action.decision, "value": action.value}
    return coo(sender, perch, pick=pick)


KIT = Kit(
    "pigeon",
    channel,
    genuine,
    says,
    presses,
    garbage=(
        b'{"kind": "coo"}',
        b'{"kind": "coo", "ring": "r", "from": "a\\u0000@loft", "perch": "p"}',
        b'{"kind": "lost"}',
        b'{"kind": "coo", "ring": "r", "from": "a@loft", "perch": "p", "pick": {"choice": "x"}}',
    ),
)


class TestPigeonPostKeepsTheContract(ChannelContract):
    @pytest.fixture
    def kit(self) -> Kit:
        return KIT


def pigeon_service(database_url: str) -> AbstractAsyncContextManager[Service]:
    """The service with Pigeon post beside the installed channels, and nobody in the directory."""
    settings = service_settings(database_url, switchboard_channels="pigeon=tests.pigeon:channel")
    return running(settings, people=[])


async def test_a_channel_of_ones_own_runs_through_the_service(database_url: str) -> None:
    async with (
        pigeon_service(database_url) as service,
        client_for(service, authorization=f"Bearer {TOKEN}") as api,
    ):
        pigeon = service.channels["pigeon"]
        assert not pigeon.sandbox
        perch, loft = pigeon.listener, pigeon.transport
        assert isinstance(perch, Perch) and isinstance(loft, Loft)

        # People join through the API; the pigeon's codec puts their addresses in its one form.
        alice = {"name": "Alice", "roles": ["deploy-approver"], "channels": ["pigeon"]}
        added = await api.put(
            "/api/v1/people/alice", json={**alice, "identities": {"pigeon": " Alice@Loft"}}
        )
        assert added.json()["identities"] == {"pigeon": "alice@loft"}, added.text
        bob = {"name": "Bob", "identities": {"pigeon": "bob@loft"}}
        assert (await api.put("/api/v1/people/bob", json=bob)).status_code == 201
        refused = await api.put(
            "/api/v1/people/carol", json={"name": "Carol", "identities": {"pigeon": "carol"}}
        )
        assert "not a pigeon-hole" in problem(refused, 422)["detail"]

        # Bob's coo arrives over the listener's connection and starts a thread.
        await perch.queue.put(says("bob@loft", "roost-1", "deploy api 2.4.1 to production"))

        async def asked() -> list[dict[str, Any]]:
            return [p for m, p in loft.sent if m.kind == "request" and m.address == "alice@loft"]

        [request] = await eventually(asked)
        approve = next(b for b in PigeonCodec().preview(request).buttons if b.label == "Approve")
        await perch.queue.put(b"a garbled coo")  # logged and skipped: the connection stays up
        await perch.queue.put(presses(approve, "alice@loft", "dm:alice@loft"))

        async def replied() -> list[str]:
            return [
                p["note"] for m, p in loft.sent if m.kind == "reply" and m.conversation == "roost-1"
            ]

        [reply] = await eventually(replied)
        assert reply.endswith("Deployed api 2.4.1 to production.")

        async def amended() -> list[dict[str, Any]]:
            return [p for m, p in loft.sent if m.kind == "outcome"]

        [outcome] = await eventually(amended)
        rows = await service.app.store.outbox(channel="pigeon")
        [copy] = [r for r in rows if r.kind == "request"]
        assert outcome["amends"] == copy.message_id and "Approved by Alice" in outcome["note"]

        # A report that a note was lost finds its row: a dead letter, with the loft's reason.
        lost_note = {"kind": "lost", "ring": copy.message_id, "why": "hawk"}
        await perch.queue.put(json.dumps(lost_note).encode())

        async def lost() -> list[str]:
            rows = await service.app.store.outbox(channel="pigeon", status="dead")
            return [r.last_error or "" for r in rows]

        assert await eventually(lost) == ["the platform could not deliver it: hawk"]

        # The perch kept its place as it read: four coos, the garbled one among them. It saves
        # its place after handing a coo on, so the last one's may land just after its effect.
        async def place() -> str | None:
            kept = await service.app.store.service_setting("cursor:pigeon")
            return kept if kept == "4" else None

        assert await eventually(place) == "4"


async def test_the_console_previews_a_channel_of_ones_own(database_url: str) -> None:
    async with (
        pigeon_service(database_url) as service,
        client_for(service, authorization=f"Bearer {TOKEN}") as api,
    ):
        await api.put(
            "/api/v1/people/bob", json={"name": "Bob", "identities": {"pigeon": "bob@loft"}}
        )
        perch = service.channels["pigeon"].listener
        assert isinstance(perch, Perch)
        await perch.queue.put(says("bob@loft", "roost-2", "what can you do?"))

        async def replied() -> list[Any]:
            return await service.app.store.outbox(channel="pigeon", status="sent")

        await eventually(replied)
        async with client_for(service) as console:
            console.cookies.set(COOKIE, TOKEN)
            page = await console.get("/sandbox/pigeon", params={"as": "bob", "c": "roost-2"})
            stylesheet = await console.get("/looks/pigeon.css")
            say = await console.post(
                "/sandbox/pigeon/say", data={"as": "bob", "c": "roost-2", "text": "hi"}
            )
        assert page.status_code == 200, page.text
        assert "Pigeon post is live" in page.text
        assert 'class="pigeon-note pigeon-in"' in page.text and "what can you do?" in page.text
        assert "I deploy releases" in page.text  # the reply, drawn from the pigeon's own payload
        assert '<link rel="stylesheet" href="/looks/pigeon.css">' in page.text
        assert stylesheet.headers["content-type"].startswith("text/css")
        assert ".pigeon-note" in stylesheet.text
        assert say.status_code == 409 and "does not speak for people there" in say.text
        injected = await api.post(
            "/api/v1/sandbox/pigeon/messages",
            json={"sender": "bob@loft", "conversation": "roost-2", "text": "hi"},
        )
        assert problem(injected, 409)["type"].endswith("not-a-sandbox")
        assert len(await service.app.store.inbox()) == 1  # the console and the API forged nothing
