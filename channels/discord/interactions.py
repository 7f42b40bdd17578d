"""Discord's interactions, as they reach `POST /discord/interactions` or the gateway: over HTTP
checked with the application's Ed25519 public key (PyNaCl); either way read into what core
takes, and answered at once, as Discord asks within 3 seconds. Pure: no I/O.

- PING is answered PONG.
- A click on Approve or an option is a decision (answered "deferred update": the outbox edits
  the message once the decision is recorded).
- A click on Reject is answered with a dialog asking why; its submission is the decision.
- Anything else Discord sends us (a slash command, an autocomplete) is acknowledged and dropped.

A click's `custom_id` (components.py) names the request and the choice; it finds the request and
authorizes nothing: the inbox decides who may answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from channels.discord.components import APPROVE, PREFIX, REJECT, decode_custom_id, options_of
from core.channels import (
    Ack,
    Acknowledged,
    Action,
    Forged,
    Inbound,
    InboundMessage,
    Malformed,
    RawRequest,
)

NAME = "discord"
PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5  # interaction types
PONG, DEFERRED_UPDATE, MODAL = 1, 6, 9  # interaction response types
REASON = f"{PREFIX}:reason:"  # + the request id: the Reject dialog's custom id
REASON_LIMIT = 1000


def verify(public_key: str | None, request: RawRequest) -> None:
    """The application's Ed25519 signature over the timestamp and the body."""
    if not public_key:
        raise Forged("no DISCORD_PUBLIC_KEY: this server takes no interaction from Discord")
    signature = request.headers.get("x-signature-ed25519", "")
    timestamp = request.headers.get("x-signature-timestamp", "")
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(
            timestamp.encode() + request.body, bytes.fromhex(signature)
        )
    except (ValueError, BadSignatureError):  # not hex, the wrong length, or not Discord's
        raise Forged("no valid Discord signature") from None


def load(request: RawRequest) -> Any:
    """The request's JSON body."""
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError) as e:  # not UTF-8, not JSON, nested past all reason
        raise Malformed(f"not a Discord interaction: {type(e).__name__}") from None


def parse(request: RawRequest) -> list[Inbound]:
    return read(load(request))


def read(body: Any) -> list[Inbound]:
    """What one interaction carries."""
    try:
        return [_read(body)]
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise Malformed(f"not a Discord interaction ({type(e).__name__}: {e})") from None


def ack(accepted: Sequence[Inbound]) -> Ack:
    """Discord's answer, at once: PONG, the Reject dialog, or a deferred update."""
    for item in accepted:
        if isinstance(item, Acknowledged) and item.what == "ping":
            return _json({"type": PONG})
        if isinstance(item, Acknowledged) and item.what == "reject" and item.payload:
            return _json({"type": MODAL, "data": reason_dialog(str(item.payload["request_id"]))})
    return _json({"type": DEFERRED_UPDATE})


def reason_dialog(request_id: str) -> dict[str, Any]:
    """The dialog a Reject click opens."""
    return {
        "custom_id": f"{REASON}{request_id}",
        "title": "Reject",
        "components": [
            {
                "type": 1,
                "components": [
                    {
                        "type": 4,
                        "custom_id": "reason",
                        "style": 2,
                        "label": "Why reject it?",
                        "required": False,
                        "max_length": REASON_LIMIT,
                    }
                ],
            }
        ],
    }


def _json(value: Mapping[str, Any]) -> Ack:
    return Ack(200, json.dumps(value).encode(), "application/json")


def _read(body: Mapping[str, Any]) -> Inbound:
    kind = body["type"]
    if kind == PING:
        return Acknowledged("ping")
    if kind == COMPONENT:
        return _click(body)
    if kind == MODAL_SUBMIT:
        return _reason(body)
    if kind in (COMMAND, AUTOCOMPLETE) and not isinstance(kind, bool):
        return Acknowledged(f"interaction type {kind}")
    raise Malformed(f"not an interaction type Discord sends: {kind!r}")


def _user(body: Mapping[str, Any]) -> str:
    """Who clicked: a member in a server, a user in a DM."""
    member = body.get("member")
    return str((member["user"] if member else body["user"])["id"])


def _click(body: Mapping[str, Any]) -> Inbound:
    data, message = body["data"], body["message"]
    decoded = decode_custom_id(
        data["custom_id"], data.get("values"), options_of(message.get("components"))
    )
    if decoded is None:
        return Acknowledged(f"component {data['custom_id']}")
    request_id, decision, option = decoded
    if decision == REJECT:  # a reason first: the dialog's submission is the decision
        # The dialog is the click's own answer (`ack`): no channel is named to answer it later.
        return Acknowledged("reject", payload={"request_id": request_id})
    action = (
        Action(request_id=request_id, decision="approve")
        if decision == APPROVE
        else Action(request_id=request_id, decision="answer", value=option)
    )
    return _message(body, action)


def _reason(body: Mapping[str, Any]) -> Inbound:
    data = body["data"]
    custom_id = str(data["custom_id"])
    if not custom_id.startswith(REASON) or len(custom_id) == len(REASON):
        return Acknowledged(f"dialog {custom_id}")
    reason = next(
        (
            str(field.get("value") or "")
            for row in data.get("components") or ()
            for field in row.get("components") or ()
            if field.get("custom_id") == "reason"
        ),
        "",
    )
    action = Action(request_id=custom_id.removeprefix(REASON), decision="reject", reason=reason)
    return _message(body, action)


def _message(body: Mapping[str, Any], action: Action) -> InboundMessage:
    return InboundMessage(
        channel=NAME,
        external_id=f"interaction:{body['id']}",
        sender=_user(body),
        conversation=str(body["channel_id"]),
        action=action,
        raw=f"interaction type {body['type']}",
        # A refusal goes back as a follow-up to the click, seen by that person alone.
        private_reply=f"{body['application_id']}:{body['token']}",
    )
