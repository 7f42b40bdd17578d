"""The Discord double against the real discord.py client: if these pass, a test that drives our
Discord channel through the double exercises the same client paths production does."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
import yarl

from tests.doubles import discord as dd
from tests.doubles.discord import DiscordDouble

with warnings.catch_warnings():
    # discord.py imports audioop (for voice), deprecated since 3.11; warnings are errors here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

ADA, BOB = "1300000000000000001", "1300000000000000002"
GUILD, GENERAL = "1400000000000000001", "1400000000000000010"
THREAD = "1400000000000000012"  # a thread in #general
INTENTS = discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=True)
SEND = "POST /channels/{channel_id}/messages"
READY_WAIT = 0.05
"""discord.py holds `on_ready` until no GUILD_CREATE came for `guild_ready_timeout` (2 s by
default), even when every guild has arrived; tests shorten it."""


def new_client(intents: discord.Intents = INTENTS) -> discord.Client:
    return discord.Client(intents=intents, guild_ready_timeout=READY_WAIT)


@pytest.fixture
async def double() -> AsyncIterator[DiscordDouble]:
    """A running double with discord.py pointed at it, and put back afterwards."""
    users: dict[str, str | dd.DiscordUser] = {ADA: dd.DiscordUser("ada", "Ada"), BOB: "bob"}
    guilds = [
        dd.guild(
            GUILD, "Switchboard", {GENERAL: "general"}, threads={THREAD: (GENERAL, "releases")}
        )
    ]
    async with DiscordDouble(users=users, guilds=guilds) as running:  # puts them back
        discord.http.Route.BASE = running.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(running.gateway_url)
        yield running


@contextlib.asynccontextmanager
async def running_client(
    double: DiscordDouble, token: str = dd.TOKEN, intents: discord.Intents = INTENTS
) -> AsyncIterator[discord.Client]:
    """A real client logged in and connected to the double (READY seen), closed afterwards."""
    client = new_client(intents)
    task: asyncio.Task[None] | None = None
    try:
        await client.login(token)
        task = asyncio.create_task(client.connect(reconnect=True))
        async with asyncio.timeout(5):
            await client.wait_until_ready()
        yield client
    finally:
        await client.close()
        if task is not None:
            with contextlib.suppress(discord.DiscordException):
                await asyncio.wait_for(task, 5)


async def test_the_client_logs_in_identifies_and_gets_ready(double: DiscordDouble) -> None:
    async with running_client(double) as client:
        assert client.user is not None
        assert (str(client.user.id), client.user.bot) == (dd.BOT_USER_ID, True)
        assert client.application_id == int(dd.APPLICATION_ID)
        assert [g.name for g in client.guilds] == ["Switchboard"]
        guild = client.get_guild(int(GUILD))
        assert guild is not None and [c.name for c in guild.text_channels] == ["general"]
        assert [(t.name, str(t.parent_id)) for t in guild.threads] == [("releases", GENERAL)]

    assert (double.identifies, double.resumes) == (1, 0)
    assert double.intents == INTENTS.value
    assert double.gateway_queries[0]["encoding"] == "json"
    me = double.calls_to("GET /users/@me")[0]
    assert me.headers["Authorization"] == f"Bot {dd.TOKEN}"


async def test_a_dispatched_message_reaches_on_message(double: DiscordDouble) -> None:
    async with running_client(double) as client:
        waiting = asyncio.ensure_future(client.wait_for("message", timeout=5))
        await double.dispatch(
            "MESSAGE_CREATE",
            dd.message_create(
                ADA,
                GENERAL,
                f"<@{dd.BOT_USER_ID}> deploy?",
                guild_id=GUILD,
                mentions=[dd.BOT_USER_ID],
            ),
        )
        message = await waiting
        assert message.content == f"<@{dd.BOT_USER_ID}> deploy?"
        assert (str(message.author.id), message.guild and str(message.guild.id)) == (ADA, GUILD)
        assert client.user in message.mentions

        waiting = asyncio.ensure_future(client.wait_for("message", timeout=5))
        dm = double.dm_channel(ADA)
        await double.dispatch("MESSAGE_CREATE", dd.message_create(ADA, dm, "hello"))
        direct = await waiting
        assert (direct.content, direct.guild) == ("hello", None)
        assert isinstance(direct.channel, discord.DMChannel)


async def test_sends_with_a_view_land_with_their_components(double: DiscordDouble) -> None:
    async with running_client(double) as client:
        channel = client.get_channel(int(GENERAL))
        assert isinstance(channel, discord.TextChannel)
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Approve", custom_id="approve:1"))
        sent = await channel.send(content="deploy api?", view=view)
        view.stop()

        [posted] = double.messages_in(GENERAL)
        assert (posted.id, posted.content) == (str(sent.id), "deploy api?")
        [row] = posted.components
        assert row["type"] == 1 and row["components"][0]["custom_id"] == "approve:1"

        dm = await client.http.start_private_message(int(ADA))
        assert dm["id"] == double.dm_channel(ADA)
        await client.http.send_message(int(dm["id"]), params=_params("psst"))
        assert [m.content for m in double.messages_in(ADA)] == ["psst"]

        edited = await sent.edit(content="deployed", view=None)
        assert edited.content == "deployed"
        assert (posted.content, posted.edits) == ("deployed", 1)


def _params(content: str) -> discord.http.MultipartParameters:
    return discord.http.handle_message_parameters(content=content)


async def test_discords_limits_answer_invalid_form_body(double: DiscordDouble) -> None:
    async with running_client(double) as client:
        too_long = await _http_error(
            client.http.send_message(int(GENERAL), params=_params("x" * 2001))
        )
        assert (too_long.status, too_long.code) == (400, 50035)
        assert "content" in (too_long.text or "")

        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="x", custom_id="c" * 101))
        params = discord.http.handle_message_parameters(content="hi", view=view)
        long_id = await _http_error(client.http.send_message(int(GENERAL), params=params))
        view.stop()
        assert long_id.code == 50035

        embeds = [discord.Embed(description="d" * 700) for _ in range(9)]
        params = discord.http.handle_message_parameters(embeds=embeds)
        too_big = await _http_error(client.http.send_message(int(GENERAL), params=params))
        assert too_big.code == 50035

        unknown = await _http_error(client.http.send_message(404, params=_params("hi")))
        assert isinstance(unknown, discord.NotFound) and unknown.code == 10003
    assert double.messages == []


async def _http_error(call: Awaitable[Any]) -> discord.HTTPException:
    with pytest.raises(discord.HTTPException) as caught:
        await call
    return caught.value


async def test_scripted_faults_raise_discord_pys_errors(double: DiscordDouble) -> None:
    double.fail_next(SEND, 403, 50007, "Cannot send messages to this user")
    async with running_client(double) as client:
        forbidden = await _http_error(client.http.send_message(int(GENERAL), params=_params("a")))
        assert isinstance(forbidden, discord.Forbidden)
        assert (forbidden.code, forbidden.text) == (50007, "Cannot send messages to this user")
        await client.http.send_message(int(GENERAL), params=_params("b"))
    assert [m.content for m in double.messages] == ["b"]


async def test_a_429_is_waited_out_and_the_message_lands_once(double: DiscordDouble) -> None:
    double.rate_limit_next(SEND, retry_after=0.05)
    async with running_client(double) as client:
        channel = client.get_channel(int(GENERAL))
        assert isinstance(channel, discord.TextChannel)
        await channel.send("after the wait")
    assert len(double.calls_to(SEND)) == 2
    assert [m.content for m in double.messages] == ["after the wait"]


async def test_a_dropped_socket_is_resumed_and_replays_once(double: DiscordDouble) -> None:
    async with running_client(double) as client:
        seen = Seen()
        client.event(seen.on_message)
        await double.drop()
        await double.connected(resumes=1)
        await double.dispatch(
            "MESSAGE_CREATE", dd.message_create(ADA, GENERAL, "after", guild_id=GUILD)
        )
        await seen.arrived(1)
        await asyncio.sleep(0.05)  # a second delivery would come by now
        assert seen == ["after"]
    assert (double.identifies, double.resumes) == (1, 1)
    assert double.resume_payloads[0]["session_id"] == double.session_id


async def test_events_sent_while_down_are_replayed_on_resume(double: DiscordDouble) -> None:
    async with running_client(double) as client:
        seen = Seen()
        client.event(seen.on_message)
        await double.drop(code=None)
        await double.dispatch(
            "MESSAGE_CREATE", dd.message_create(ADA, GENERAL, "missed", guild_id=GUILD)
        )
        await double.connected(resumes=1)
        await seen.arrived(1)
        assert seen == ["missed"]
    assert (double.identifies, double.resumes) == (1, 1)


class Seen(list[str]):
    """The contents `on_message` received, in order."""

    def __init__(self) -> None:
        super().__init__()
        self._event = asyncio.Event()

    async def on_message(self, message: discord.Message) -> None:
        self.append(message.content)
        self._event.set()

    async def arrived(self, count: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while len(self) < count:
                self._event.clear()
                await self._event.wait()


async def test_a_bad_token_fails_login(double: DiscordDouble) -> None:
    client = new_client()
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    assert double.calls[-1].route == "GET /users/@me"


async def test_disallowed_intents_raise_privileged_intents_required(double: DiscordDouble) -> None:
    double.reject_identify(4014)
    client = new_client()
    try:
        await client.login(dd.TOKEN)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.connect(reconnect=True), 5)
    finally:
        await client.close()
    assert double.identifies == 1


async def test_authentication_failed_closes_with_4004(double: DiscordDouble) -> None:
    double.reject_identify(4004)
    client = new_client()
    try:
        await client.login(dd.TOKEN)
        with pytest.raises(discord.ConnectionClosed) as closed:
            await asyncio.wait_for(client.connect(reconnect=True), 5)
        assert closed.value.code == 4004
    finally:
        await client.close()


async def test_heartbeats_are_acknowledged(double: DiscordDouble) -> None:
    double.heartbeat_interval_ms = 20
    async with running_client(double) as client:
        await double.heartbeated(3)
        assert client.latency < 1.0


async def test_a_component_click_is_answered_followed_up_and_edited(double: DiscordDouble) -> None:
    answered = asyncio.Event()

    async def on_interaction(interaction: discord.Interaction) -> None:
        assert interaction.data is not None and interaction.data.get("custom_id") == "approve:1"
        await interaction.response.send_message("approved")
        await interaction.followup.send("deploying")
        await interaction.edit_original_response(content="approved by ada")
        answered.set()

    async with running_client(double) as client:
        client.event(on_interaction)
        channel = client.get_channel(int(GENERAL))
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("deploy api?")
        click = dd.component_click(ADA, double.message(str(sent.id)).data, "approve:1")
        await double.dispatch("INTERACTION_CREATE", click)
        async with asyncio.timeout(5):
            await answered.wait()

    [response] = double.interaction_responses
    assert (response.interaction_id, response.type) == (click["id"], 4)
    assert response.data is not None and response.data["content"] == "approved"
    assert [(f.kind, f.payload.get("content")) for f in double.followups] == [
        ("followup", "deploying"),
        ("original", "approved by ada"),
    ]
    assert double.message(double.followups[1].message_id).content == "approved by ada"


async def test_a_modal_submission_reaches_the_client(double: DiscordDouble) -> None:
    got: asyncio.Future[discord.Interaction] = asyncio.get_running_loop().create_future()

    async def on_interaction(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        got.set_result(interaction)

    async with running_client(double) as client:
        client.event(on_interaction)
        submit = dd.modal_submit(ADA, GENERAL, "reject:1", {"reason": "not today"}, guild_id=GUILD)
        await double.dispatch("INTERACTION_CREATE", submit)
        interaction = await asyncio.wait_for(got, 5)
        assert interaction.type is discord.InteractionType.modal_submit
        assert str(interaction.user.id) == ADA
        assert interaction.data is not None
        rows: Any = interaction.data.get("components")
        assert rows[0]["components"][0]["value"] == "not today"
    # discord.py's bare defer() of a modal submission is a deferred update (6), not 5:
    assert [r.type for r in double.interaction_responses] == [6]


async def test_the_double_puts_discord_pys_addresses_back_as_it_stops() -> None:
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordDouble() as running:
        discord.http.Route.BASE = running.api_url  # as the channel's transport does
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(running.gateway_url)
    after = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    assert after == before
