"""The sandbox: a channel with no credentials renders what it would send, and sends nowhere.

What it "sent" is the outbox row itself (payload, message id, conversation), which the console
shows as that platform would. People act on it from the console; each action becomes the
`InboundMessage` the channel's own `parse` would produce, and goes through the same inbox.

Until a platform's own channel lands, its preview here is generic: text, and buttons for a
request. Each platform's channel replaces its factory and makes its preview faithful.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from typing import Any

from core.channels import (
    Ack,
    Action,
    Forged,
    InboundMessage,
    OutboundMessage,
    RawRequest,
    Receipt,
)
from core.settings import Settings

SMS_SEGMENT = 153  # characters per segment of a multi-part GSM-7 message
TEXT_ONLY = ("sms", "email")  # channels without buttons


class SandboxChannel:
    sandbox = True
    webhooks: tuple[str, ...] = ()  # the platform never calls a sandbox

    def __init__(self, name: str) -> None:
        self.name = name

    def verify(self, request: RawRequest) -> None:
        raise Forged(f"{self.name} runs in sandbox mode: it accepts no webhooks")

    def parse(self, request: RawRequest) -> list[InboundMessage]:
        return []

    def ack(self, request: RawRequest, accepted: list[InboundMessage]) -> Ack:
        return Ack(404)

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": message.text, "to": message.address}
        if message.kind == "request" and message.request_id:
            if self.name in TEXT_ONLY:  # no buttons there: the answer is a reply
                payload["text"] = f"{message.text}\n{_how_to_reply(message)}"
            else:
                payload["buttons"] = _buttons(message)
        if message.kind == "outcome":
            payload["replaces"] = message.edit_of
        if self.name == "sms":
            payload["segments"] = max(1, math.ceil(len(payload["text"]) / SMS_SEGMENT))
        if self.name == "email":
            payload["subject"] = _subject(message)
        return payload

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        # Derived from the idempotency key: sending the same row twice makes the same message.
        if message.kind == "outcome" and message.edit_of:
            message_id = message.edit_of
        else:
            digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:12]
            message_id = f"{self.name}-{digest}"
        return Receipt(message_id, message.conversation or f"dm:{message.address}")

    def simulate(
        self, *, sender: str, conversation: str, text: str = "", action: Action | None = None
    ) -> InboundMessage:
        """What `parse` would make of a person writing `text` or pressing a button."""
        return InboundMessage(
            channel=self.name,
            external_id=f"sbx-{uuid.uuid4().hex}",
            sender=sender,
            conversation=conversation,
            text=text,
            action=action,
            raw="sandbox",
        )

    async def close(self) -> None:
        return None


def _buttons(message: OutboundMessage) -> list[dict[str, str]]:
    assert message.request_id is not None
    if message.request_kind == "approval":
        return [
            {"label": "Approve", "decision": "approve", "request_id": message.request_id},
            {"label": "Reject", "decision": "reject", "request_id": message.request_id},
        ]
    return [
        {"label": o, "decision": "answer", "value": o, "request_id": message.request_id}
        for o in message.options
    ]


def _how_to_reply(message: OutboundMessage) -> str:
    if message.request_kind == "approval":
        return "Reply YES to approve, or NO and a reason to reject."
    if message.options:
        return "Reply with one of: " + ", ".join(message.options) + "."
    return "Reply with your answer."


def _subject(message: OutboundMessage) -> str:
    match message.kind:
        case "request":
            return f"[Switchboard] Your answer is needed ({message.request_id})"
        case "outcome":
            return f"Re: [Switchboard] Your answer is needed ({message.request_id})"
    return "[Switchboard] " + message.text[:60]


def slack(settings: Settings) -> SandboxChannel:
    return SandboxChannel("slack")


def discord(settings: Settings) -> SandboxChannel:
    return SandboxChannel("discord")


def sms(settings: Settings) -> SandboxChannel:
    return SandboxChannel("sms")


def email(settings: Settings) -> SandboxChannel:
    return SandboxChannel("email")
