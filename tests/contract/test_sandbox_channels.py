"""The sandbox of the platform without a channel of its own (email) keeps the channel contract:
the generic codec, set up for it. (Slack's, Discord's and SMS's real codecs keep it in
tests/test_slack.py, tests/test_discord_interactions.py and tests/test_sms.py.)"""

from __future__ import annotations

import json
import uuid

import pytest

from channels import sandbox
from channels.sandbox.codec import SIGNATURE, GenericCodec
from core.channels import Codec, RawRequest
from core.previews import Button
from tests.contract.contract import ChannelContract, Kit


def genuine(codec: Codec, body: bytes) -> RawRequest:
    assert isinstance(codec, GenericCodec)
    return RawRequest("https://switchboard.test/hook", {SIGNATURE: codec.sign(body)}, body)


def says(sender: str, conversation: str, text: str) -> bytes:
    message = {"type": "message", "id": f"m-{uuid.uuid4().hex}", "text": text}
    return json.dumps({**message, "sender": sender, "conversation": conversation}).encode()


def presses(button: Button, sender: str, conversation: str) -> bytes:
    message = {
        "type": "message",
        "id": f"m-{uuid.uuid4().hex}",
        "action": button.action.model_dump(),
    }
    return json.dumps({**message, "sender": sender, "conversation": conversation}).encode()


FACTORIES = {"email": sandbox.email}
KITS = [Kit(name, factory, genuine, says, presses) for name, factory in FACTORIES.items()]


class TestSandboxChannels(ChannelContract):
    @pytest.fixture(params=KITS, ids=[k.name for k in KITS])
    def kit(self, request: pytest.FixtureRequest) -> Kit:
        kit: Kit = request.param
        return kit
