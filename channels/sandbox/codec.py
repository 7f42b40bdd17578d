"""A generic codec: a channel's messages as plain JSON, for a channel that needs no more (the
tests' throwaway channels).

It renders text, and for a request either buttons or (where a channel has none) a line saying
how to reply, as `Format` asks. It reads back only what it rendered.

It also parses its own webhook format, so that it keeps every rule of the channel contract:

    POST, header `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`
    {"type": "message", "id": "...", "sender": "...", "conversation": "...", "text": "...",
     "action": {"request_id": "...", "decision": "approve|reject|answer", "value": "..."}}
    {"type": "status", "message_id": "...", "status": "delivered|read|failed", "error": "..."}
    {"type": "ping"}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from core.channels import (
    Ack,
    Acknowledged,
    Action,
    AddressForm,
    DeliveryStatus,
    Forged,
    Inbound,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
)
from core.previews import Button, Look, Preview

SIGNATURE = "x-switchboard-signature"


@dataclass(frozen=True, slots=True)
class Format:
    """What a platform's messages can carry."""

    buttons: bool = True  # False: a request says how to reply in words instead


def unchanged(address: str) -> str:
    """An opaque platform id: kept as written, but never empty."""
    address = address.strip()
    if not address:
        raise ValueError("the address is empty")
    return address


@dataclass(frozen=True, slots=True)
class GenericCodec:
    name: str
    look: Look
    address: AddressForm
    format: Format = Format()
    normalizer: Callable[[str], str] = unchanged
    webhooks: tuple[str, ...] = ()  # a sandbox's platform never calls it
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    # --- inbound ------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def verify(self, request: RawRequest) -> None:
        if not hmac.compare_digest(request.headers.get(SIGNATURE, ""), self.sign(request.body)):
            raise Forged(f"{self.name}: the request does not carry a valid {SIGNATURE}")

    def parse(self, request: RawRequest) -> list[Inbound]:
        try:
            data = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise Malformed(f"{self.name}: the body is not JSON: {e}") from e
        if not isinstance(data, dict):
            raise Malformed(f"{self.name}: the body is not a JSON object")
        try:
            return [self._item(data)]
        except ValidationError as e:
            reason = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise Malformed(f"{self.name}: {reason}") from e
        except (KeyError, TypeError) as e:
            raise Malformed(f"{self.name}: a field is missing or of the wrong type: {e}") from e

    def _item(self, data: dict[str, Any]) -> Inbound:
        match data.get("type"):
            case "message":
                action = data.get("action")
                return InboundMessage(
                    channel=self.name,
                    external_id=data["id"],
                    sender=data["sender"],
                    conversation=data["conversation"],
                    text=data.get("text", ""),
                    action=None if action is None else Action.model_validate(action),
                )
            case "status":
                return DeliveryStatus(
                    channel=self.name,
                    message_id=data["message_id"],
                    status=data["status"],
                    error=data.get("error", ""),
                )
            case "ping":
                return Acknowledged("ping")
        raise Malformed(f"{self.name}: unknown type {data.get('type')!r}")

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        return Ack(200, b'{"ok": true}', "application/json")

    # --- outbound -----------------------------------------------------------------------------

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": message.text, "to": message.address}
        if message.kind == "request" and message.request_id:
            if self.format.buttons:
                payload["buttons"] = _buttons(message)
            else:  # no buttons there: the answer is a reply
                payload["text"] = f"{message.text}\n{_how_to_reply(message)}"
        if message.kind == "outcome":
            payload["replaces"] = message.edit_of
        return payload

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        text = _str(payload.get("text"))
        replaces = payload.get("replaces")
        return Preview(
            text=text,
            buttons=_read_buttons(payload.get("buttons")),
            subject=_str(payload.get("subject")),
            to=_str(payload.get("to")),
            edits=replaces if isinstance(replaces, str) else None,
        )

    def normalize(self, address: str) -> str:
        return self.normalizer(address)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


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


def _read_buttons(found: object) -> tuple[Button, ...]:
    if not isinstance(found, list):
        return ()
    buttons = []
    for b in found:
        try:
            action = Action(
                request_id=b["request_id"], decision=b["decision"], value=b.get("value", "")
            )
            buttons.append(Button(str(b["label"]), action))
        except (KeyError, TypeError, AttributeError, ValidationError):
            continue  # not a button this codec made: shown without it
    return tuple(buttons)


def _how_to_reply(message: OutboundMessage) -> str:
    if message.request_kind == "approval":
        return "Reply YES to approve, or NO and a reason to reject."
    if message.options:
        return "Reply with one of: " + ", ".join(message.options) + "."
    return "Reply with your answer."
