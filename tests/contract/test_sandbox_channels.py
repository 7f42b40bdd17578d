"""The generic codec, sandboxed, keeps the channel contract: every test channel built on it does.
(Each platform's own codec keeps it in its tests: test_slack.py, test_discord_interactions.py,
test_sms.py, test_email.py.)"""

from __future__ import annotations

import json
import uuid

import pytest

from channels import sandbox
from channels.sandbox.codec import SIGNATURE, GenericCodec
from core.channels import AddressForm, Channel, Codec, RawRequest
from core.previews import Button, Look
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


def generic(_settings: object) -> Channel:
    codec = GenericCodec("generic", Look("Generic"), AddressForm("U0STRANGER"), webhooks=("/hook",))
    return sandbox.sandboxed(codec)


FACTORIES = {"generic": generic}
KITS = [Kit(name, factory, genuine, says, presses) for name, factory in FACTORIES.items()]


class TestSandboxChannels(ChannelContract):
    @pytest.fixture(params=KITS, ids=[k.name for k in KITS])
    def kit(self, request: pytest.FixtureRequest) -> Kit:
        kit: Kit = request.param
        return kit
