"""Discord's gateway listener with the real discord.py client on a loopback Discord: messages and
clicks arrive as the channel's items, an interaction is answered through its callback, and a
dropped socket is resumed with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from channels.discord.codec import DiscordCodec
from channels.discord.components import render
from channels.discord.gateway import GatewayListener
from core.channels import Acknowledged, Inbound, InboundMessage, OutboundMessage
from core.records import Person
from core.service import Service
from tests.doubles import discord as dd
from tests.doubles.discord import DiscordDouble
from tests.fixtures import eventually, running, service_settings, simulator
from tests.test_api import client_for

ERIN = "1300000000000000005"
DM = "1500000000000000005"
DEPLOY = "deploy api 2.4.1 to production"


@contextlib.asynccontextmanager
async def listening() -> AsyncIterator[tuple[DiscordDouble, list[Inbound]]]:
    """The listener connected to a loopback Discord; what it hands in, as it comes."""
    taken: list[Inbound] = []

    async def deliver(item: Inbound) -> None:
        taken.append(item)

    async with DiscordDouble(users={ERIN: "erin"}) as discord_api:
        listener = GatewayListener(
            DiscordCodec(), dd.TOKEN, discord_api.api_url, discord_api.gateway_url
        )
        task = asyncio.create_task(listener.listen(deliver, NoCursor()))
        try:
            await discord_api.connected()
            yield discord_api, taken
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class NoCursor:
    """The gateway keeps its own place (its session and sequence): it never asks."""

    async def get(self) -> str | None:
        raise AssertionError("the gateway keeps no cursor")

    async def save(self, position: str) -> None:
        raise AssertionError("the gateway keeps no cursor")


async def messages(taken: list[Inbound], n: int) -> list[InboundMessage]:
    async def arrived() -> list[InboundMessage]:
        found = [t for t in taken if isinstance(t, InboundMessage)]
        return found if len(found) >= n else []

    return await eventually(arrived)


async def test_a_dm_arrives_and_the_bots_own_echo_does_not() -> None:
    async with listening() as (discord_api, taken):
        # Guilds (1 << 0), guild messages (1 << 9), DMs (1 << 12), message content (1 << 15).
        assert [p["intents"] for p in discord_api.identify_payloads] == [37377]
        await discord_api.dispatch(
            "MESSAGE_CREATE", dd.message_create(dd.BOT_USER_ID, DM, "my own words", bot=True)
        )
        await discord_api.dispatch("MESSAGE_CREATE", dd.message_create(ERIN, DM, "status?"))
        [said] = await messages(taken, 1)
        assert (said.sender, said.conversation, said.text, said.addressed) == (
            ERIN,
            DM,
            "status?",
            True,
        )
        assert any(isinstance(t, Acknowledged) for t in taken)


async def test_a_click_is_handed_in_then_answered_and_reject_opens_a_dialog() -> None:
    approval = OutboundMessage(
        kind="request",
        text="Approve deploy?",
        address=ERIN,
        request_id="req-1",
        request_kind="approval",
    )
    message = {"id": "1600", "channel_id": DM, **render(approval)}
    async with listening() as (discord_api, taken):
        approve = dd.component_click(ERIN, message, "sb:approve:req-1", interaction_id="1700")
        await discord_api.dispatch("INTERACTION_CREATE", approve)
        [clicked] = await messages(taken, 1)
        assert clicked.action is not None and clicked.action.decision == "approve"
        reject = dd.component_click(ERIN, message, "sb:reject:req-1", interaction_id="1701")
        await discord_api.dispatch("INTERACTION_CREATE", reject)

        async def answered() -> list[int]:
            found = [r.type for r in discord_api.interaction_responses]
            return found if len(found) == 2 else []

        assert await eventually(answered) == [6, 9]  # a deferred update; the Reject dialog


async def test_a_dropped_socket_resumes_with_nothing_lost_or_doubled() -> None:
    async with listening() as (discord_api, taken):
        await discord_api.dispatch("MESSAGE_CREATE", dd.message_create(ERIN, DM, "one"))
        await messages(taken, 1)
        await discord_api.drop()
        await discord_api.dispatch("MESSAGE_CREATE", dd.message_create(ERIN, DM, "two"))
        await discord_api.connected(resumes=1)
        said = await messages(taken, 2)
        await asyncio.sleep(0.1)
        assert [m.text for m in taken if isinstance(m, InboundMessage)] == ["one", "two"]
        assert discord_api.identifies == 1 and said


async def test_a_refused_session_raises_so_the_service_retries_after_a_backoff() -> None:
    async with DiscordDouble() as discord_api:
        discord_api.reject_identify(4004)
        listener = GatewayListener(
            DiscordCodec(), dd.TOKEN, discord_api.api_url, discord_api.gateway_url
        )

        async def nothing(_item: Inbound) -> None:
            return None

        with pytest.raises(Exception):  # noqa: B017 - discord.py's own, for the backoff
            await asyncio.wait_for(listener.listen(nothing, NoCursor()), 10)


async def test_asked_in_slack_approved_with_a_discord_button_the_copy_is_edited(
    database_url: str,
) -> None:
    """The service with Discord real: Alice's approval goes to her DM with buttons; her click
    comes back over the gateway, the tool runs, Bob is answered, and her copy says who decided."""
    alice = Person(
        id="alice",
        name="Alice Example",
        roles=["deploy-approver"],
        channels=["discord"],
        identities={"discord": ERIN},
    )
    bob = Person(id="bob", name="Bob", identities={"slack": "U0BOB"})
    async with DiscordDouble(users={ERIN: "alice"}) as discord_api:
        settings = service_settings(
            database_url,
            discord_bot_token=dd.TOKEN,
            discord_api_url=discord_api.api_url,
            discord_gateway_url=discord_api.gateway_url,
        )
        async with running(settings, people=[alice, bob]) as service:
            assert not service.channels["discord"].sandbox
            await service.check_channels()
            await discord_api.connected()
            slack = simulator(service, "slack")
            asked = slack.simulate(
                sender="U0BOB", conversation="C1:1.0", text="deploy api 2.4.1 to production"
            )
            await service.inbox.accept(asked)

            async def posted() -> list[dd.PostedMessage]:
                return [m for m in discord_api.messages if m.components]

            [request] = await eventually(posted)
            [row] = request.components
            approve = next(c for c in row["components"] if c["label"] == "Approve")
            click = dd.component_click(ERIN, request.data, approve["custom_id"])
            await discord_api.dispatch("INTERACTION_CREATE", click)

            async def edited() -> bool:
                buttons = [c for row in request.components for c in row["components"]]
                disabled = bool(buttons) and all(c.get("disabled") for c in buttons)
                return disabled and request.content.startswith("Approved by Alice")

            await eventually(edited)
            [thread] = await service.app.store.threads()

            async def done() -> bool:
                found = await service.app.store.thread(thread.id)
                return found is not None and found.status == "done"

            await eventually(done)

            async def replied() -> list[Any]:
                rows = await service.app.store.outbox(channel="slack")
                return [r for r in rows if r.kind == "reply" and r.status == "sent"]

            [reply] = await eventually(replied)  # Bob hears in his Slack thread
            assert reply.conversation == "C1:1.0"
            assert reply.text.endswith("Deployed api 2.4.1 to production.")


# --- /discord/interactions, for deployments that take interactions over HTTP ------------------

SIGNING = SigningKey(b"\x07" * 32)


def signed_post(body: bytes, key: SigningKey = SIGNING) -> dict[str, str]:
    timestamp = "1795970000"
    signature = key.sign(timestamp.encode() + body).signature.hex()
    return {"x-signature-ed25519": signature, "x-signature-timestamp": timestamp}


@contextlib.asynccontextmanager
async def over_http(
    database_url: str,
) -> AsyncIterator[tuple[Service, httpx.AsyncClient, DiscordDouble]]:
    """The service with Discord real and its public key set; an HTTP client for Discord."""
    alice = Person(
        id="alice",
        name="Alice Example",
        roles=["deploy-approver"],
        channels=["discord"],
        identities={"discord": ERIN},
    )
    bob = Person(id="bob", name="Bob", identities={"slack": "U0BOB"})
    async with DiscordDouble(users={ERIN: "alice"}) as discord_api:
        settings = service_settings(
            database_url,
            discord_bot_token=dd.TOKEN,
            discord_public_key=SIGNING.verify_key.encode().hex(),
            discord_api_url=discord_api.api_url,
            discord_gateway_url=discord_api.gateway_url,
        )
        async with running(settings, people=[alice, bob]) as service, client_for(service) as http:
            yield service, http, discord_api


async def asked_from_slack(service: Service, discord_api: DiscordDouble) -> dd.PostedMessage:
    """Bob asks in the Slack sandbox: the approval, with its buttons, as Alice's DM shows it."""
    slack = simulator(service, "slack")
    await service.inbox.accept(slack.simulate(sender="U0BOB", conversation="C1:1.0", text=DEPLOY))

    async def posted() -> list[dd.PostedMessage]:
        return [m for m in discord_api.messages if m.components]

    [request] = await eventually(posted)
    return request


def labelled(request: dd.PostedMessage, label: str) -> str:
    """The custom id of the button `label` on the request."""
    buttons = [c for row in request.components for c in row["components"]]
    return next(c["custom_id"] for c in buttons if c["label"] == label)


def settled(request: dd.PostedMessage, outcome: str) -> bool:
    """The copy says who decided, its buttons disabled."""
    buttons = [c for row in request.components for c in row["components"]]
    disabled = bool(buttons) and all(c.get("disabled") for c in buttons)
    return disabled and (request.content or "").startswith(outcome)


async def interact(http: httpx.AsyncClient, body: bytes, *, signed: bool = True) -> httpx.Response:
    """An interaction posted to the endpoint, as Discord signs it (or with no signature at all)."""
    headers = signed_post(body) if signed else {}
    return await http.post("/discord/interactions", content=body, headers=headers)


async def test_an_interaction_over_http_is_checked_read_and_answered(database_url: str) -> None:
    async with over_http(database_url) as (service, http, discord_api):
        ping = json.dumps({"type": 1, "id": "1800"}).encode()
        pong = await http.post("/discord/interactions", content=ping, headers=signed_post(ping))
        assert (pong.status_code, pong.json()) == (200, {"type": 1})
        forged = await http.post(
            "/discord/interactions",
            content=ping,
            headers=signed_post(ping, SigningKey(b"\x08" * 32)),
        )
        assert forged.status_code == 401

        message = {"id": "1600", "channel_id": DM, "components": []}
        click = discord_api.sent_over_http(
            dd.component_click(ERIN, message, "sb:approve:req-nowhere")
        )
        answered = await http.post(
            "/discord/interactions", content=click, headers=signed_post(click)
        )
        assert (answered.status_code, answered.json()) == (200, {"type": 6})
        [row] = await service.app.store.inbox()
        assert (row.outcome, row.sender) == ("refused", ERIN)  # no such request: nothing else

        async def told() -> list[dd.WebhookCall]:
            return discord_api.followups

        [followup] = await eventually(told)  # only she sees why, below the button she clicked
        assert followup.payload["content"] == "There is no request req-nowhere."
        assert followup.payload["flags"] == 64


async def test_an_approve_click_over_http_decides_as_one_over_the_gateway(
    database_url: str,
) -> None:
    """Unsigned, Alice's click is refused and nothing is kept; signed, it decides: the request
    is approved by her via discord and her copy edited, answered in the HTTP response itself."""
    async with over_http(database_url) as (service, http, discord_api):
        request = await asked_from_slack(service, discord_api)
        click = discord_api.sent_over_http(
            dd.component_click(ERIN, request.data, labelled(request, "Approve"))
        )
        unsigned = await interact(http, click, signed=False)
        assert unsigned.status_code == 401
        assert await service.app.store.inbox(channel="discord") == []
        [asked] = await service.app.store.requests(status="open")

        answered = await interact(http, click)
        assert (answered.status_code, answered.json()) == (200, {"type": 6})

        async def edited() -> bool:
            return settled(request, "Approved by Alice Example via discord")

        await eventually(edited)
        decided = await service.app.store.request(asked.id)
        assert decided is not None
        assert (decided.status, decided.decided_by, decided.decided_via) == (
            "approved",
            "alice",
            "discord",
        )
        assert discord_api.interaction_responses == []  # no callback: the HTTP answer was it


async def test_a_reject_over_http_asks_why_and_the_dialog_rejects_with_the_reason(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dialog goes back as the click's answer; its submission rejects with the reason, and
    nothing in it is logged as a warning."""
    async with over_http(database_url) as (service, http, discord_api):
        request = await asked_from_slack(service, discord_api)
        click = discord_api.sent_over_http(
            dd.component_click(ERIN, request.data, labelled(request, "Reject"))
        )
        opened = await interact(http, click)
        assert opened.status_code == 200 and opened.json()["type"] == 9  # the dialog
        [asked] = await service.app.store.requests(status="open")  # the click decided nothing

        dialog = opened.json()["data"]["custom_id"]
        why = dd.modal_submit(
            ERIN, request.channel_id, dialog, {"reason": "freeze week"}, message=request.data
        )
        submitted = await interact(http, discord_api.sent_over_http(why))
        assert (submitted.status_code, submitted.json()) == (200, {"type": 6})

        async def edited() -> bool:
            return settled(request, "Rejected by Alice Example via discord")

        await eventually(edited)
        assert (request.content or "").endswith(": freeze week")
        decided = await service.app.store.request(asked.id)
        assert decided is not None
        assert (decided.status, decided.decided_by, decided.decided_via, decided.answer) == (
            "rejected",
            "alice",
            "discord",
            "freeze week",
        )
    assert "WARNING switchboard.ingress" not in capsys.readouterr().err  # the service's log


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.binary(max_size=200)
    | st.dictionaries(
        st.sampled_from(["type", "id", "data", "message", "member", "user", "channel_id", "token"]),
        st.integers() | st.text(max_size=8),
        max_size=6,
    ).map(lambda d: json.dumps(d).encode()),
    signed=st.booleans(),
)
async def test_anything_posted_to_the_interactions_endpoint_is_never_a_server_error(
    discord_http: httpx.AsyncClient, body: bytes, signed: bool
) -> None:
    headers = signed_post(body) if signed else {}
    response = await discord_http.post("/discord/interactions", content=body, headers=headers)
    assert response.status_code in (200, 400, 401), (response.status_code, response.text)


@pytest.fixture
async def discord_http(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with over_http(database_url) as (_service, http, _discord_api):
        yield http
