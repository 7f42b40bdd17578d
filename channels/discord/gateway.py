"""The gateway: Discord pushes messages and interactions over a WebSocket that discord.py holds,
resumes and reconnects. Each dispatch is read by the codec as it came (the raw JSON, so that the
gateway and /discord/interactions share one reading), handed in (stored), and an interaction is
then answered through its callback, as Discord asks within 3 seconds. On PostgreSQL one process
holds the session (the lock below).
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

import yarl

from channels.discord import interactions
from channels.discord.codec import DiscordCodec
from channels.discord.quiet import quiet_voice_warning
from core.channels import Cursor, Deliver, Inbound, Malformed

with warnings.catch_warnings():  # discord.py imports audioop (voice), deprecated since 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

log = logging.getLogger("switchboard.discord")

# Only what the channel reads: messages in servers and DMs, and their text.
INTENTS = discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=True)


class GatewayListener:
    lock = "discord-gateway"

    def __init__(self, codec: DiscordCodec, token: str, api_url: str, gateway_url: str) -> None:
        self.codec = codec
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.gateway_url = gateway_url

    async def listen(self, deliver: Deliver, cursor: Cursor) -> None:
        quiet_voice_warning()  # the bot never speaks: that voice is unsupported is no news
        Route.BASE = self.api_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        client = discord.Client(intents=INTENTS, enable_debug_events=True)

        async def on_socket_raw_receive(raw: str) -> None:
            await self.take(client, json.loads(raw), deliver)

        client.event(on_socket_raw_receive)
        try:
            await client.login(self.token)
            await client.connect(reconnect=True)  # resumes and reconnects by itself
        except discord.PrivilegedIntentsRequired:
            log.error(
                "discord: the bot may not read message content: enable the Message Content"
                " intent in the Developer Portal (Bot → Privileged Gateway Intents)"
            )
            raise
        finally:
            await client.close()

    async def take(self, client: discord.Client, event: dict[str, Any], deliver: Deliver) -> None:
        """Hand in what one dispatch carries; answer an interaction once it is stored."""
        kind = event.get("t")
        if event.get("op") != 0 or kind not in ("MESSAGE_CREATE", "INTERACTION_CREATE"):
            return
        data = event["d"]
        try:
            if kind == "MESSAGE_CREATE":
                me = str(client.user.id) if client.user else None
                items: list[Inbound] = self.codec.read({"t": kind, "d": data, "me": me})
            else:
                items = interactions.read(data)
        except (Malformed, ValueError) as e:  # logged and dropped: the session stays up
            log.warning("discord: a %s dispatch was malformed: %s", kind, e)
            return
        for item in items:
            await deliver(item)
        if kind == "INTERACTION_CREATE":
            answer = json.loads(interactions.ack(items).body)
            callback = Route(
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                interaction_id=data["id"],
                interaction_token=data["token"],
            )
            await client.http.request(callback, json=answer)
