"""Discord's interactions, signed as Discord signs them (Ed25519), read and answered: what the
HTTP interactions endpoint and the gateway share."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from nacl.signing import SigningKey

from channels.discord import interactions
from channels.discord.codec import DiscordCodec
from channels.discord.components import render
from channels.sandbox import sandboxed
from core.channels import (
    Acknowledged,
    Channel,
    Codec,
    Forged,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
    RequestContext,
)
from core.previews import Button
from tests.contract.contract import ChannelContract, Kit

KEY = SigningKey(b"\x01" * 32)
PUBLIC = KEY.verify_key.encode().hex()
TIMESTAMP = "1795970000"


def signed(body: dict[str, Any] | bytes, key: SigningKey = KEY) -> RawRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = key.sign(TIMESTAMP.encode() + raw).signature.hex()
    headers = {"x-signature-ed25519": signature, "x-signature-timestamp": TIMESTAMP}
    return RawRequest("https://switchboard.test/discord/interactions", headers, raw)


def request(kind: str = "approval", options: tuple[str, ...] = ()) -> dict[str, Any]:
    """The message `render` made for a request, as Discord echoes it in an interaction."""
    message = OutboundMessage(
        kind="request",
        text="Approve deploy api 2.4.1 to production?",
        address="1005",
        request_id="req-1",
        request_kind=kind,  # type: ignore[arg-type]
        options=options,
        context=RequestContext(requester="Bob", agent="deploy", tool="deploy"),
    )
    payload = render(message)
    return {"id": "m-1", "channel_id": "c-1", "components": payload["components"]}


def click(custom_id: str, message: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {
        "id": "i-1",
        "type": interactions.COMPONENT,
        "channel_id": "c-1",
        "member": {"user": {"id": "1005", "username": "erin"}},
        "message": message,
        "data": {"custom_id": custom_id, "component_type": 2, **data},
        "application_id": "1200",
        "token": "t",
    }


def test_only_discords_signature_is_taken() -> None:
    body = {"type": interactions.PING, "id": "i-0"}
    interactions.verify(PUBLIC, signed(body))
    stranger = SigningKey(b"\x02" * 32)
    bent = signed(body)
    for forged in (
        signed(body, stranger),
        RawRequest(bent.url, {}, bent.body),
        RawRequest(bent.url, bent.headers, bent.body + b" "),
        RawRequest(bent.url, {**bent.headers, "x-signature-ed25519": "not hex"}, bent.body),
    ):
        with pytest.raises(Forged):
            interactions.verify(PUBLIC, forged)
    with pytest.raises(Forged, match="DISCORD_PUBLIC_KEY"):
        interactions.verify(None, bent)


def test_a_ping_is_answered_pong() -> None:
    accepted = interactions.parse(signed({"type": interactions.PING, "id": "i-0"}))
    assert accepted == [Acknowledged("ping")]
    assert json.loads(interactions.ack(accepted).body) == {"type": interactions.PONG}


def test_approve_and_an_option_are_decisions_answered_with_a_deferred_update() -> None:
    [approved] = interactions.read(click("sb:approve:req-1", request()))
    assert isinstance(approved, InboundMessage) and approved.action is not None
    assert (approved.sender, approved.conversation, approved.external_id) == (
        "1005",
        "c-1",
        "interaction:i-1",
    )
    assert (approved.action.request_id, approved.action.decision) == ("req-1", "approve")
    answer = interactions.ack([approved])
    assert json.loads(answer.body) == {"type": interactions.DEFERRED_UPDATE}

    question = request("question", ("eu", "us"))
    [answered] = interactions.read(click("sb:answer:req-1:1", question))
    assert isinstance(answered, InboundMessage) and answered.action is not None
    assert (answered.action.decision, answered.action.value) == ("answer", "us")

    many = request("question", tuple(f"region {i}" for i in range(8)))
    [chosen] = interactions.read(click("sb:answer:req-1", many, values=["6"], component_type=3))
    assert isinstance(chosen, InboundMessage) and chosen.action is not None
    assert chosen.action.value == "region 6"


def test_reject_asks_why_and_the_dialog_is_the_decision() -> None:
    accepted = interactions.read(click("sb:reject:req-1", request()))
    assert accepted == [Acknowledged("reject", payload={"request_id": "req-1"})]
    dialog = json.loads(interactions.ack(accepted).body)
    assert dialog["type"] == interactions.MODAL
    custom_id = dialog["data"]["custom_id"]

    field = {"type": 4, "custom_id": "reason", "value": "freeze week"}
    submitted = {
        "id": "i-2",
        "type": interactions.MODAL_SUBMIT,
        "channel_id": "c-1",
        "user": {"id": "1005"},
        "data": {"custom_id": custom_id, "components": [{"type": 1, "components": [field]}]},
        "application_id": "1200",
        "token": "t2",
    }
    [rejected] = interactions.read(submitted)
    assert isinstance(rejected, InboundMessage) and rejected.action is not None
    assert (rejected.action.request_id, rejected.action.decision, rejected.action.reason) == (
        "req-1",
        "reject",
        "freeze week",
    )


def test_what_we_did_not_make_is_acknowledged_and_garbage_is_malformed() -> None:
    foreign = interactions.read(click("someone-elses-button", request()))
    assert isinstance(foreign[0], Acknowledged)
    command = interactions.read({"type": 2, "id": "i-3", "data": {"name": "deploy"}})
    assert isinstance(command[0], Acknowledged)
    for body in (
        b"",
        b"\xff",
        b"[]",
        b"null",
        b"{}",
        b'{"type": "x"}',
        b'{"type": 3}',
        b"[" * 10**5,
    ):
        with pytest.raises(Malformed):
            interactions.parse(signed(body))


# --- the channel contract ----------------------------------------------------------------------


def keyed(_settings: object) -> Channel:
    """Discord's codec taking interactions signed with KEY (the contract sends nothing)."""
    return Channel(DiscordCodec(PUBLIC), sandboxed(DiscordCodec()).transport)


def genuine(codec: Codec, body: bytes) -> RawRequest:
    return signed(body)


def says(sender: str, conversation: str, text: str) -> bytes:
    """A direct message, as the gateway dispatches it (the listener adds `me`)."""
    message = {
        "id": f"{uuid.uuid4().int % 10**18}",
        "channel_id": conversation,
        "author": {"id": sender, "username": "someone"},
        "content": text,
        "mentions": [],
        "attachments": [],
    }
    return json.dumps({"t": "MESSAGE_CREATE", "d": message, "me": "4242"}).encode()


def presses(button: Button, sender: str, conversation: str) -> bytes:
    """Approve or an option: the click; Reject: the dialog's submission, with no reason."""
    action = button.action
    request_id = action.request_id or ""
    user = {"user": {"id": sender}}
    if action.decision == "reject":
        data = {"custom_id": f"{interactions.REASON}{request_id}", "components": []}
        body = {
            "id": "i-9",
            "type": interactions.MODAL_SUBMIT,
            "channel_id": conversation,
            "member": user,
            "data": data,
            "application_id": "1200",
            "token": "t9",
        }
        return json.dumps(body).encode()
    rendered = render(
        OutboundMessage(
            kind="request",
            text="?",
            address=sender,
            request_id=request_id,
            request_kind="approval" if action.decision == "approve" else "question",
            options=(action.value,) if action.decision == "answer" else (),
        )
    )
    message = {"id": "m-9", "channel_id": conversation, "components": rendered["components"]}
    target = (
        "sb:approve:" + request_id if action.decision == "approve" else f"sb:answer:{request_id}:0"
    )
    body = {**click(target, message), "channel_id": conversation, "member": user}
    return json.dumps(body).encode()


KIT = Kit(
    "discord",
    keyed,
    genuine,
    says,
    presses,
    garbage=(
        b'{"type": 3}',
        b'{"type": 3, "data": {}, "message": {}}',
        b'{"type": 5, "data": {}}',
        b'{"t": "MESSAGE_CREATE", "d": {}}',
        b'{"t": "MESSAGE_CREATE", "d": {"id": "1", "author": {"id": "x\\u0000"}}}',
    ),
)


class TestDiscordKeepsTheContract(ChannelContract):
    @pytest.fixture
    def kit(self) -> Kit:
        return KIT
