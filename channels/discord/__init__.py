"""The Discord channel: the gateway (messages, clicks) and /discord/interactions, components out,
on discord.py and PyNaCl. Without DISCORD_BOT_TOKEN it runs as its sandbox: its own codec,
rendering and reading as Discord would, with a fake transport."""

from __future__ import annotations

from channels.discord.codec import DiscordCodec
from channels.sandbox import sandboxed
from core.channels import Channel
from core.settings import Settings


def discord(settings: Settings) -> Channel:
    if settings.discord_bot_token is None:
        return sandboxed(DiscordCodec())  # takes no interaction from Discord: nothing goes there
    from channels.discord.gateway import GatewayListener
    from channels.discord.transport import DiscordTransport

    token = settings.discord_bot_token.get_secret_value()
    codec = DiscordCodec(settings.discord_public_key)
    transport = DiscordTransport(token, settings.discord_api_url)
    listener = GatewayListener(codec, token, settings.discord_api_url, settings.discord_gateway_url)
    return Channel(codec, transport, listener=listener, check=transport.check)
