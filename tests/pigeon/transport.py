"""The loft the pigeons fly from: what was sent, kept for the test to read."""

from __future__ import annotations

from typing import Any

from core.channels import OutboundMessage, Receipt


class Loft:
    def __init__(self) -> None:
        self.sent: list[tuple[OutboundMessage, dict[str, Any]]] = []

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        self.sent.append((message, payload))
        return Receipt(f"pg-{len(self.sent)}", message.conversation or f"dm:{message.address}")

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        self.sent.append((message, payload))
        return Receipt(message.edit_of or f"pg-{len(self.sent)}", message.conversation or "")

    async def close(self) -> None:
        return None
