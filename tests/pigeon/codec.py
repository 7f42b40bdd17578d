"""The pigeon's formats: a note (JSON) with tags to pick, and the coos that come back."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.channels import (
    Ack,
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

BAND = "x-pigeon-band"  # the ring on the pigeon's leg: an HMAC of the body
KEY = b"the loft's key"
HERE = Path(__file__).parent
DECISIONS = {"approve": "Approve", "reject": "Reject"}


class PigeonCodec:
    name = "pigeon"
    webhooks: tuple[str, ...] = ()
    look = Look(
        "Pigeon post", rank=50, template=HERE / "preview.html", stylesheet=HERE / "preview.css"
    )
    address = AddressForm("stranger@loft", "a pigeon-hole like alice@loft")

    def band(self, body: bytes) -> str:
        return hmac.new(KEY, body, hashlib.sha256).hexdigest()

    def verify(self, request: RawRequest) -> None:
        if not hmac.compare_digest(request.headers.get(BAND, ""), self.band(request.body)):
            raise Forged("the pigeon's band does not match its note")

    def parse(self, request: RawRequest) -> list[Inbound]:
        try:
            coo = json.loads(request.body)
            return [self._read(coo)]
        except Malformed:
            raise
        except (ValueError, RecursionError, KeyError, TypeError, AttributeError) as e:
            # ValueError covers bad JSON and pydantic's ValidationError alike
            raise Malformed(f"pigeon: {e}") from e

    def _read(self, coo: dict[str, Any]) -> Inbound:
        match coo["kind"]:
            case "coo":
                pick = coo.get("pick")
                return InboundMessage(
                    channel=self.name,
                    external_id=coo["ring"],
                    sender=coo["from"],
                    conversation=coo["perch"],
                    text=coo.get("says", ""),
                    action=None if pick is None else _action(pick),
                )
            case "landed" | "lost":
                return DeliveryStatus(
                    channel=self.name,
                    message_id=coo["ring"],
                    status="delivered" if coo["kind"] == "landed" else "failed",
                    error=coo.get("why", ""),
                )
        raise Malformed(f"pigeon: no such kind of coo: {coo['kind']!r}")

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        return Ack(202)

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        note: dict[str, Any] = {"note": message.text, "for": message.address}
        if message.request_id and message.kind == "request":
            note["tags"] = [
                {"tag": label, "pick": _pick(message.request_id, decision, "")}
                for decision, label in DECISIONS.items()
                if message.request_kind == "approval"
            ] + [
                {"tag": option, "pick": _pick(message.request_id, "answer", option)}
                for option in message.options
            ]
        if message.edit_of:
            note["amends"] = message.edit_of
        return note

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        tags = payload.get("tags")
        buttons = []
        for tag in tags if isinstance(tags, list) else []:
            try:
                buttons.append(Button(str(tag["tag"]), _action(tag["pick"])))
            except (KeyError, TypeError, AttributeError, ValidationError):
                continue
        amends = payload.get("amends")
        note = payload.get("note")
        return Preview(
            text=note if isinstance(note, str) else "",
            buttons=tuple(buttons),
            to=str(payload.get("for", "")),
            edits=amends if isinstance(amends, str) else None,
        )

    def normalize(self, address: str) -> str:
        hole = address.strip().lower()
        if not hole.endswith("@loft") or len(hole) == len("@loft"):
            raise ValueError(f"{address!r} is not a pigeon-hole like alice@loft")
        return hole


def _pick(request_id: str, decision: str, value: str) -> dict[str, str]:
    return {"request": request_id, "choice": decision, "value": value}


def _action(pick: Mapping[str, Any]) -> Action:
    return Action(request_id=pick["request"], decision=pick["choice"], value=pick["value"])
