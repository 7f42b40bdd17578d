"""`switchboard serve`, a process of its own, connects to the loopback Discord as it would to
Discord: with the demo people, Bob's DM asks Alice and Erin; the server is restarted; Alice's
click on the buttons sent before the restart decides, and both copies say so. A refused token and
a switched-off Message Content intent each stop the start with one line."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.migrate import upgrade
from tests.doubles import discord as dd
from tests.doubles.discord import DiscordDouble
from tests.fixtures import empty_postgres, eventually
from tests.server import Server, environment, free_port, running_server

# The demo directory's people (deploy/people.demo.toml), by their Discord ids.
ALICE, BOB, ERIN = "100000000000000001", "100000000000000002", "100000000000000005"


@contextlib.asynccontextmanager
async def loopback_discord(**options: bool) -> AsyncIterator[DiscordDouble]:
    users = {ALICE: "alice", BOB: "bob", ERIN: "erin"}
    async with DiscordDouble(users=users, **options) as discord_api:
        yield discord_api


def settings(discord_api: DiscordDouble, token: str = dd.TOKEN) -> dict[str, str]:
    return {
        "DISCORD_BOT_TOKEN": token,
        "DISCORD_API_URL": discord_api.api_url,
        "DISCORD_GATEWAY_URL": discord_api.gateway_url,
    }


@contextlib.asynccontextmanager
async def serving(
    directory: Path, discord_api: DiscordDouble, database_url: str | None = None
) -> AsyncIterator[Server]:
    """`switchboard serve` started and stopped off the event loop, which the double runs on."""
    started: contextlib.AbstractContextManager[Server] = running_server(
        directory, database_url=database_url, **settings(discord_api)
    )
    server = await asyncio.to_thread(started.__enter__)
    try:
        yield server
    finally:
        await asyncio.to_thread(started.__exit__, None, None, None)


async def requests_in_dms(discord_api: DiscordDouble, *users: str) -> list[dd.PostedMessage]:
    async def posted() -> list[dd.PostedMessage]:
        dms = [discord_api.dm_channels.get(u) for u in users]
        found = [m for dm in dms if dm for m in discord_api.messages_in(dm) if m.components]
        return found if len(found) == len(users) else []

    return await eventually(posted, within=30)


async def test_buttons_sent_before_a_restart_of_serve_decide_after_it(tmp_path: Path) -> None:
    async with loopback_discord() as discord_api:
        async with serving(tmp_path, discord_api):
            await discord_api.connected(within=30)
            bob_dm = discord_api.dm_channel(BOB)
            asked = dd.message_create(BOB, bob_dm, "deploy api 2.4.1 to production")
            await discord_api.dispatch("MESSAGE_CREATE", asked)
            alices, erins = await requests_in_dms(discord_api, ALICE, ERIN)
        await discord_api.disconnected()

        async with serving(tmp_path, discord_api) as server:
            await discord_api.connected(identifies=2, within=30)
            approve = next(
                c["custom_id"]
                for row in alices.components
                for c in row["components"]
                if c["label"] == "Approve"
            )
            click = dd.component_click(ALICE, alices.data, approve)
            await discord_api.dispatch("INTERACTION_CREATE", click)

            async def both_settled() -> bool:
                return all(
                    m.content.startswith("Approved by Alice Example via discord")
                    and all(c.get("disabled") for row in m.components for c in row["components"])
                    for m in (alices, erins)
                )

            await eventually(both_settled, within=30)

            async def answered() -> list[dd.PostedMessage]:
                return discord_api.messages_in(bob_dm)

            assert await eventually(answered, within=30)
            assert "Traceback" not in server.output()


@pytest.mark.postgres
async def test_on_postgresql_one_serve_holds_the_gateway_and_another_takes_over(
    tmp_path: Path,
) -> None:
    """Two servers on one database: one gateway session; the holder is killed, the other
    identifies within seconds and takes the clicks."""
    with empty_postgres() as url:
        upgrade(url)
        async with loopback_discord() as discord_api:
            (tmp_path / "a").mkdir()
            (tmp_path / "b").mkdir()
            async with serving(tmp_path / "a", discord_api, url) as first:
                await discord_api.connected(within=30)
                async with serving(tmp_path / "b", discord_api, url):
                    await asyncio.sleep(3)  # the second asks for the lock every 2 s
                    assert discord_api.identifies == 1
                    first.process.kill()  # no goodbye: its database session dies with it
                    await discord_api.connected(identifies=2, within=15)
                    bob_dm = discord_api.dm_channel(BOB)
                    asked = dd.message_create(BOB, bob_dm, "deploy api 2.4.1 to production")
                    await discord_api.dispatch("MESSAGE_CREATE", asked)
                    await requests_in_dms(discord_api, ALICE, ERIN)


def start_fails(directory: Path, discord_api: DiscordDouble, token: str) -> str:
    """What a `switchboard serve` that cannot start prints; it must exit 1."""
    env = environment(directory, free_port(), "t", **settings(discord_api, token))
    done = subprocess.run(
        [sys.executable, "-m", "core", "serve"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr.strip()


def lines(text: str) -> Iterator[str]:
    return (line for line in text.splitlines() if line.strip())


async def test_a_refused_token_and_a_missing_intent_are_one_line_each(tmp_path: Path) -> None:
    async with loopback_discord() as discord_api:
        refused = await asyncio.to_thread(start_fails, tmp_path, discord_api, "not-the-token")
    assert list(lines(refused)) == [
        "error: discord: Discord refused DISCORD_BOT_TOKEN: copy the bot's token again"
        " (Developer Portal → Bot → Reset Token)"
    ]
    async with loopback_discord(message_content=False) as discord_api:
        switched_off = await asyncio.to_thread(start_fails, tmp_path, discord_api, dd.TOKEN)
    assert list(lines(switched_off)) == [
        "error: discord: the bot may not read message content: enable the Message Content"
        " intent in the Developer Portal (Bot → Privileged Gateway Intents)"
    ]
