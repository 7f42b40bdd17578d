"""The sandbox: a channel's own codec with a fake transport, and a simulator for the console.

`sandboxed(codec)` is what a channel without credentials runs as. What it "sends" is the outbox
row itself (the payload the codec rendered, a message id, a conversation), which the console shows
through the codec's own `preview`. People act on it from the console or the API: the simulator
makes each message or button press the `InboundMessage` the platform's webhook would bring, and it
goes through the same inbox.

Every platform has its own channel now; the generic codec (codec.py) stays for a channel that
needs only plain JSON, such as the tests' throwaway ones.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.channels import (
    Action,
    Channel,
    Codec,
    InboundMessage,
    OutboundMessage,
    Receipt,
)


class FakeTransport:
    """Sends nowhere; answers as a platform would, with ids derived from the idempotency key:
    sending the same row twice makes the same message. On a platform that cannot edit a message
    (`edits=False`: a text), an edit is a new message, as its real transport sends it."""

    def __init__(self, channel: str, *, edits: bool = True) -> None:
        self.channel = channel
        self.edits = edits

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:12]
        return Receipt(f"{self.channel}-{digest}", _conversation(message))

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        if message.edit_of is None or not self.edits:
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
        self,
        *,
        sender: str,
        conversation: str,
        text: str = "",
        action: Action | None = None,
        answering: Mapping[str, Any] | None = None,
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
    codec: Codec,
    *,
    conversations: Callable[[str], str] = new_sandbox_conversation,
    edits: bool = True,
) -> Channel:
    """`codec`'s channel, sending nowhere: the console shows what it would have sent."""
    return Channel(
        codec=codec,
        transport=FakeTransport(codec.name, edits=edits),
        simulator=SandboxSimulator(codec.name, conversations),
    )
