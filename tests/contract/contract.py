"""The rules every channel keeps, whatever its platform.

A channel runs the suite by giving a `Kit`: its factory, and what only its platform knows: how
the platform signs a genuine request, and the body it posts when a person writes, or presses one
of the buttons the channel's codec rendered. Subclass `ChannelContract` with a `kit` fixture
(tests/contract/test_sandbox_channels.py; tests/test_own_channel.py for a channel written outside
this project).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from channels.sandbox import sandboxed
from core.channels import (
    Ack,
    ChannelFactory,
    Codec,
    Forged,
    Inbound,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
    Simulator,
    unpack,
)
from core.previews import Button
from tests.fixtures import service_settings

# Without credentials, and never the developer's: a channel built from these is a sandbox.
SETTINGS = service_settings("sqlite://")

REPLY = OutboundMessage(kind="reply", text="Deployed api 2.4.1.", address="", idempotency_key="k1")
APPROVAL = OutboundMessage(
    kind="request",
    text="Approve deploy api 2.4.1 to production?",
    address="",
    conversation="dm:x",
    request_id="req-1",
    request_kind="approval",
    idempotency_key="k2",
)
QUESTION = OutboundMessage(
    kind="request",
    text="Which region?",
    address="",
    request_id="req-2",
    request_kind="question",
    options=("eu", "us"),
    idempotency_key="k3",
)
NOTICE = OutboundMessage(kind="notice", text="I do not know you.", address="", idempotency_key="k4")
OUTCOME = OutboundMessage(
    kind="outcome",
    text="Approved by Alice via discord, 14:02 UTC",
    address="",
    request_id="req-1",
    edit_of="msg-1",
    idempotency_key="k5",
)
MESSAGES = {
    "reply": REPLY,
    "approval": APPROVAL,
    "question": QUESTION,
    "notice": NOTICE,
    "outcome": OUTCOME,
}

# Bodies no platform sends: each is Malformed once verified, never another exception.
GARBAGE = (
    b"",
    b"\xff\xfe\x00",
    b"not json at all",
    b"[]",
    b"null",
    b'"a string"',
    b"{}",
    b'{"type": 42}',
    b'{"type": "message"}',
    b'{"type": "message", "id": 1, "sender": [], "conversation": {}}',
    b'{"type": "message", "id": "m", "sender": "U\\u0000X", "conversation": "C"}',
    b'{"type": "message", "id": "m", "sender": "U", "conversation": "C", "action": "x"}',
    b'{"type": "status", "message_id": "m", "status": "lost in the post"}',
    b"{" * 5000,
    b"[" * 100_000,  # deeper than any parser recurses
)


@dataclass(frozen=True)
class Kit:
    name: str
    factory: ChannelFactory
    genuine: Callable[[Codec, bytes], RawRequest]  # a request carrying `body`, signed as sent
    says: Callable[[str, str, str], bytes]  # (sender, conversation, text): a message's body
    presses: Callable[[Button, str, str], bytes]  # (button, sender, conversation): a click's body
    garbage: Sequence[bytes] = ()  # the platform's own kinds of nonsense, beside GARBAGE
    # The conversation a platform has with a sender, where it has one per sender (a text's is
    # their number); else any conversation will do.
    conversation_with: Callable[[str], str] = lambda sender: f"C-{uuid.uuid4().hex[:6]}"
    # What a forger can send instead of `signed`: by default, it unsigned, and it changed after
    # signing; a channel that signs nothing (mail, vouched for inside) says its own.
    forgeries: Callable[[RawRequest], list[RawRequest]] = lambda signed: [
        RawRequest(signed.url, {}, signed.body),
        RawRequest(signed.url, signed.headers, signed.body + b" "),
    ]


class Spy:
    """The codec's inlet, counting the requests that reach `parse`."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.parsed = 0

    @property
    def name(self) -> str:
        return self.codec.name

    @property
    def webhooks(self) -> tuple[str, ...]:
        return self.codec.webhooks

    def verify(self, request: RawRequest) -> None:
        self.codec.verify(request)

    def parse(self, request: RawRequest) -> list[Inbound]:
        self.parsed += 1
        return self.codec.parse(request)

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        return self.codec.ack(request, accepted)


def as_simulated(message: Inbound) -> dict[str, Any]:
    """What a simulated message must share with the parsed one: all but the ids, times and what
    only the platform can say (a way back to the sender, whether it vouches for them)."""
    assert isinstance(message, InboundMessage)
    platform_only = {"external_id", "received_at", "raw", "private_reply", "unvouched"}
    return message.model_dump(exclude=platform_only)


class ChannelContract:
    @pytest.fixture
    def codec(self, kit: Kit) -> Codec:
        return kit.factory(SETTINGS).codec

    @pytest.fixture
    def simulator(self, codec: Codec) -> Simulator:
        wrapped = sandboxed(codec).simulator
        assert wrapped is not None
        return wrapped

    @pytest.mark.parametrize("message", list(MESSAGES.values()), ids=list(MESSAGES))
    def test_render_is_pure_and_deterministic(
        self, kit: Kit, codec: Codec, message: OutboundMessage
    ) -> None:
        payload = codec.render(message)
        assert payload == codec.render(message) == kit.factory(SETTINGS).codec.render(message)
        assert json.loads(json.dumps(payload)) == payload  # stored as JSON, read back the same

    @pytest.mark.parametrize("message", list(MESSAGES.values()), ids=list(MESSAGES))
    def test_the_preview_shows_what_render_made(
        self, codec: Codec, message: OutboundMessage
    ) -> None:
        shown = codec.preview(codec.render(message))
        assert message.text in shown.text
        assert shown.edits == message.edit_of  # an outcome names the copy it edits; others none

    def test_a_request_offers_its_decisions_or_says_how_to_answer(self, codec: Codec) -> None:
        approval = codec.preview(codec.render(APPROVAL))
        decisions = {(b.action.request_id, b.action.decision) for b in approval.buttons}
        assert decisions in ({("req-1", "approve"), ("req-1", "reject")}, set())
        question = codec.preview(codec.render(QUESTION))
        assert [b.action.value for b in question.buttons] in (["eu", "us"], [])
        if not question.buttons:
            assert "eu" in question.text and "us" in question.text

    def test_a_payload_it_did_not_make_previews_without_buttons_not_an_error(
        self, codec: Codec
    ) -> None:
        for payload in ({}, {"text": 3, "buttons": "x"}, {"buttons": [{"label": 1}, None]}):
            assert codec.preview(payload).buttons == ()

    def test_a_forged_request_never_reaches_parse(self, kit: Kit, codec: Codec) -> None:
        body = kit.says(codec.address.example, "C1", "approve everything")
        signed = kit.genuine(codec, body)
        forged = kit.forgeries(signed)
        spy = Spy(codec)
        for request in forged:
            with pytest.raises(Forged):
                unpack(spy, request)
        assert spy.parsed == 0
        assert unpack(spy, signed) and spy.parsed == 1

    def test_what_no_platform_sends_is_malformed(self, kit: Kit, codec: Codec) -> None:
        for body in (*GARBAGE, *kit.garbage):
            with pytest.raises(Malformed):
                unpack(codec, kit.genuine(codec, body))

    def test_a_message_the_sandbox_simulates_is_what_parse_makes(
        self, kit: Kit, codec: Codec, simulator: Simulator
    ) -> None:
        sender = codec.address.example
        conversation = kit.conversation_with(sender)
        text = "deploy api 2.4.1 to production"
        simulated = simulator.simulate(sender=sender, conversation=conversation, text=text)
        [parsed] = unpack(codec, kit.genuine(codec, kit.says(sender, conversation, text)))
        assert as_simulated(simulated) == as_simulated(parsed)

    def test_a_click_the_sandbox_simulates_is_what_parse_makes(
        self, kit: Kit, codec: Codec, simulator: Simulator
    ) -> None:
        sender, conversation = codec.address.example, "dm:x"
        for request in (APPROVAL, QUESTION):
            for button in codec.preview(codec.render(request)).buttons:
                simulated = simulator.simulate(
                    sender=sender, conversation=conversation, action=button.action
                )
                body = kit.presses(button, sender, conversation)
                [parsed] = unpack(codec, kit.genuine(codec, body))
                assert as_simulated(simulated) == as_simulated(parsed)

    def test_an_accepted_request_is_acknowledged(self, kit: Kit, codec: Codec) -> None:
        request = kit.genuine(codec, kit.says(codec.address.example, "C1", "hello"))
        assert 200 <= codec.ack(request, unpack(codec, request)).status < 300

    def test_an_address_has_one_form(self, codec: Codec) -> None:
        example = codec.address.example
        once = codec.normalize(example)
        assert codec.normalize(once) == once
        if codec.address.pattern is not None:
            assert re.search(codec.address.pattern, example)
        with pytest.raises(ValueError):
            codec.normalize("   ")

    async def test_the_sandbox_edits_the_copy_an_outcome_names(self, codec: Codec) -> None:
        channel = sandboxed(codec)
        sent = await channel.transport.send(APPROVAL, codec.render(APPROVAL))
        copy = {"edit_of": sent.message_id, "conversation": sent.conversation}
        outcome = OUTCOME.model_copy(update=copy)
        payload = codec.render(outcome)
        assert codec.preview(payload).edits == sent.message_id
        edited = await channel.transport.edit(outcome, payload)
        assert (edited.message_id, edited.conversation) == (sent.message_id, sent.conversation)
