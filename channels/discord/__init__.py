"""The Discord channel: interactions at /discord/interactions (and, to come, the gateway),
components out. Until its transport and gateway listener land, it runs as its sandbox: its own
codec, rendering and reading as Discord would, with a fake transport."""

from __future__ import annotations

from channels.discord.codec import DiscordCodec
from channels.sandbox import sandboxed
from core.channels import Channel
from core.settings import Settings


def discord(settings: Settings) -> Channel:
    return sandboxed(DiscordCodec())  # takes no interaction from Discord: nothing goes there
