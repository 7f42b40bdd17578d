"""Discord's transport against a loopback Discord (tests/doubles/discord.py), through discord.py's
own HTTP client: a request to a person opens their DM, an outcome edits the copy, a 429 is
waited out, and Discord's refusals are sorted into what a retry can mend and what it cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.discord.components import render
from channels.discord.transport import DiscordTransport
from core.channels import DeliveryFailed, OutboundMessage, RequestContext
from core.errors import Misconfigured
from tests.doubles import discord as dd
from tests.doubles.discord import DiscordDouble

ERIN = "1300000000000000005"
SEND = "POST /channels/{channel_id}/messages"
APPROVAL = OutboundMessage(
    kind="request",
    text="Approve deploy api 2.4.1 to production?",
    address=ERIN,
    request_id="req-1",
    request_kind="approval",
    context=RequestContext(requester="Bob", agent="deploy", tool="deploy"),
)


@pytest.fixture
async def discord_api() -> AsyncIterator[DiscordDouble]:
    async with DiscordDouble(users={ERIN: "erin"}) as running:
        yield running


@pytest.fixture
async def transport(discord_api: DiscordDouble) -> AsyncIterator[DiscordTransport]:
    sending = DiscordTransport(dd.TOKEN, discord_api.api_url)
    try:
        yield sending
    finally:
        await sending.close()


async def test_a_request_opens_the_persons_dm_and_its_outcome_edits_the_copy(
    discord_api: DiscordDouble, transport: DiscordTransport
) -> None:
    await transport.check()
    assert transport.bot_user == dd.BOT_USER_ID
    sent = await transport.send(APPROVAL, render(APPROVAL))
    dm = discord_api.dm_channel(ERIN)
    [posted] = discord_api.messages_in(dm)
    assert sent.message_id == f"{dm}:{posted.id}" and sent.conversation == dm
    labels = [c["label"] for row in posted.components for c in row["components"]]
    assert labels == ["Approve", "Reject"]

    outcome = OutboundMessage(
        kind="outcome",
        text="Approved by Alice Example via slack, 14:02 UTC",
        address=ERIN,
        conversation=sent.conversation,
        request_id="req-1",
        edit_of=sent.message_id,
    )
    edited = await transport.edit(outcome, render(outcome))
    assert edited.message_id == sent.message_id
    assert posted.content.startswith("Approved by Alice Example") and posted.components == []


async def test_a_rate_limit_is_waited_out_and_refusals_are_sorted(
    discord_api: DiscordDouble, transport: DiscordTransport
) -> None:
    reply = OutboundMessage(kind="reply", text="Deployed.", address="", conversation="1400")
    dm = OutboundMessage(kind="notice", text="Hello", address=ERIN)
    discord_api.rate_limit_next(SEND, retry_after=0.05)
    await transport.send(dm, render(dm))
    assert len(discord_api.messages_in(discord_api.dm_channel(ERIN))) == 1  # once, after the wait

    discord_api.fail_next(SEND, 403, 50007, "Cannot send messages to this user")
    with pytest.raises(DeliveryFailed) as closed:
        await transport.send(dm, render(dm))
    assert closed.value.unreachable and "50007" in str(closed.value)  # asked elsewhere
    for status, code, text in ((403, 50001, "Missing Access"), (404, 10003, "Unknown Channel")):
        discord_api.fail_next(SEND, status, code, text)
        with pytest.raises(DeliveryFailed) as refused:
            await transport.send(dm, render(dm))
        assert refused.value.unreachable and not refused.value.retry, code  # asked elsewhere
        assert str(code) in str(refused.value)
    with pytest.raises(DeliveryFailed) as unknown:
        await transport.send(reply, render(reply))  # the double knows no channel 1400
    assert unknown.value.unreachable and "10003" in str(unknown.value)
    assert not closed.value.retry and not unknown.value.retry


async def test_a_refused_token_is_one_line(discord_api: DiscordDouble) -> None:
    refused = DiscordTransport("not-the-token", discord_api.api_url)
    try:
        with pytest.raises(Misconfigured, match="refused DISCORD_BOT_TOKEN"):
            await refused.check()
    finally:
        await refused.close()


async def test_without_the_message_content_intent_the_check_says_where_to_enable_it() -> None:
    async with DiscordDouble(message_content=False) as portal_switch_off:
        transport = DiscordTransport(dd.TOKEN, portal_switch_off.api_url)
        try:
            with pytest.raises(Misconfigured) as refused:
                await transport.check()
        finally:
            await transport.close()
    assert str(refused.value) == (
        "discord: the bot may not read message content: enable the Message Content intent"
        " in the Developer Portal (Bot → Privileged Gateway Intents)"
    )
