"""The sandbox: a channel's own codec with a fake transport, and a simulator for the console.

`sandboxed(codec)` is what a channel without credentials runs as. What it "sends" is the outbox
row itself (the payload the codec rendered, a message id, a conversation), which the console shows
through the codec's own `preview`. People act on it from the console or the API: the simulator
makes each message or button press the `InboundMessage` the platform's webhook would bring, and it
goes through the same inbox.

Until a platform's own channel lands, its codec here is the generic one (codec.py), set up for
what that platform's messages can carry; each platform's channel replaces its factory.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels.sandbox.codec import Format, GenericCodec
from core.channels import (
    Action,
    AddressForm,
    Channel,
    Codec,
    InboundMessage,
    OutboundMessage,
    Receipt,
)
from core.previews import Look
from core.settings import Settings
from core.text import CONTROLS

PREVIEWS = Path(__file__).with_name("previews")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class FakeTransport:
    """Sends nowhere; answers as a platform would, with ids derived from the idempotency key:
    sending the same row twice makes the same message."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:12]
        return Receipt(f"{self.channel}-{digest}", _conversation(message))

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        if message.edit_of is None:
            return await self.send(message, payload)
        return Receipt(message.edit_of, _conversation(message))

    async def close(self) -> None:
        return None


def _conversation(message: OutboundMessage) -> str:
    return message.conversation or f"dm:{message.address}"


def new_sandbox_conversation(address: str) -> str:
    return f"sandbox-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class SandboxSimulator:
    """What the platform's webhook would bring when a person writes `text` or presses a button."""

    channel: str
    conversations: Callable[[str], str] = new_sandbox_conversation

    def simulate(
        self, *, sender: str, conversation: str, text: str = "", action: Action | None = None
    ) -> InboundMessage:
        return InboundMessage(
            channel=self.channel,
            external_id=f"sbx-{uuid.uuid4().hex}",
            sender=sender,
            conversation=conversation,
            text=text,
            action=action,
            raw="sandbox",
        )

    def new_conversation(self, address: str) -> str:
        return self.conversations(address)


def sandboxed(
    codec: Codec, *, conversations: Callable[[str], str] = new_sandbox_conversation
) -> Channel:
    """`codec`'s channel, sending nowhere: the console shows what it would have sent."""
    return Channel(
        codec=codec,
        transport=FakeTransport(codec.name),
        simulator=SandboxSimulator(codec.name, conversations),
    )


# --- the platforms whose own channels have not landed yet ----------------------------------------


def email_address(address: str) -> str:
    """An email address, in lower case."""
    address = address.strip()
    if not EMAIL.fullmatch(address):
        raise ValueError(f"{address!r} is not an email address")
    return address.lower()


def _look(title: str, rank: int, name: str, **options: Any) -> Look:
    return Look(
        title,
        rank=rank,
        template=PREVIEWS / f"{name}.html",
        stylesheet=PREVIEWS / f"{name}.css",
        **options,
    )


def email_codec() -> GenericCodec:
    return GenericCodec(
        "email",
        _look("Email", 3, "email", multiline=True),
        AddressForm(
            "stranger@example.com",
            "an email address like alice@example.com",
            f"^[^@\\s{CONTROLS}]+@[^@\\s{CONTROLS}]+\\.[^@\\s{CONTROLS}]+$",
        ),
        Format(buttons=False, subject=True),
        normalizer=email_address,
    )


def _email_thread(address: str) -> str:
    return f"<sbx-{uuid.uuid4().hex[:16]}@sandbox.switchboard>"  # a Message-ID


def email(settings: Settings) -> Channel:
    return sandboxed(email_codec(), conversations=_email_thread)
