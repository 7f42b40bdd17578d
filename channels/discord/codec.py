"""Discord's codec: interactions (clicks, dialogs) as they reach /discord/interactions, messages as
the gateway dispatches them, components out (components.py) and their preview. Pure: no I/O.

A gateway dispatch is read here too (`{"t": "MESSAGE_CREATE", "d": {...}, "me": <bot user id>}`:
the gateway listener adds `me`, learnt from READY), so that both ways in share one reading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from channels.discord import interactions
from channels.discord.components import conversation_of, render
from channels.discord.preview import LOOK, preview
from core.channels import (
    Ack,
    Acknowledged,
    AddressForm,
    Attachment,
    Inbound,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
)
from core.previews import Look, Preview

NAME = "discord"
INTERACTIONS = "/discord/interactions"
SNOWFLAKE = re.compile(r"\d{1,20}")
ADDRESS = AddressForm(
    "999999999999999999", "a Discord user id (a snowflake) like 1001", r"^\s*\d{1,20}\s*$"
)


def normalize(address: str) -> str:
    """A Discord user id: a snowflake, digits only."""
    user = address.strip()
    if not SNOWFLAKE.fullmatch(user):
        raise ValueError(f"{address!r} is not a Discord user id (a snowflake) like 1001")
    return user


@dataclass(frozen=True, slots=True)
class DiscordCodec:
    public_key: str | None = None  # None: every interaction over HTTP is forged
    name: str = NAME
    webhooks: tuple[str, ...] = (INTERACTIONS,)
    look: Look = LOOK
    address: AddressForm = ADDRESS

    def verify(self, request: RawRequest) -> None:
        interactions.verify(self.public_key, request)

    def parse(self, request: RawRequest) -> list[Inbound]:
        return self.read(interactions.load(request))

    def read(self, body: Any) -> list[Inbound]:
        """An interaction, or a gateway dispatch."""
        if isinstance(body, Mapping) and "t" in body and "d" in body:
            try:
                return _dispatch(body)
            except (KeyError, TypeError, AttributeError, ValueError) as e:
                if isinstance(e, ValidationError):  # a name breaking core/text's rule: a 400
                    raise
                raise Malformed(f"not a Discord dispatch ({type(e).__name__}: {e})") from None
        return interactions.read(body)

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        return interactions.ack(accepted)

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        return render(message)

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        return preview(payload)

    def normalize(self, address: str) -> str:
        return normalize(address)


def _dispatch(body: Mapping[str, Any]) -> list[Inbound]:
    if body["t"] != "MESSAGE_CREATE":
        return [Acknowledged(f"dispatch {body['t']}")]
    message, me = body["d"], body.get("me")
    author = message["author"]
    if author.get("bot") or author.get("system") or (me is not None and author["id"] == me):
        return [Acknowledged("a bot's message")]
    direct = not message.get("guild_id")
    mentioned = me is not None and any(u.get("id") == me for u in message.get("mentions") or ())
    text = str(message.get("content") or "")
    if me is not None:
        text = re.sub(rf"<@!?{me}>", "", text).strip()
    return [
        InboundMessage(
            channel=NAME,
            external_id=str(message["id"]),
            sender=normalize(str(author["id"])),
            conversation=conversation_of(str(message["channel_id"]), None),
            text=text,
            attachments=tuple(_file(a) for a in message.get("attachments") or ()),
            raw=f"message {message['id']}",
            addressed=direct or mentioned,
        )
    ]


def _file(file: Mapping[str, Any]) -> Attachment:
    return Attachment(
        name=str(file.get("filename") or file.get("id") or "file"),
        content_type=str(file.get("content_type") or "application/octet-stream"),
        size=int(file.get("size") or 0),
        url=file.get("url"),
    )
