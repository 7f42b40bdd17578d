"""Pigeon post: a channel written outside Switchboard, as a user's own package would write one.

Nothing in core/ knows it. It is found through SWITCHBOARD_CHANNELS (`pigeon=tests.pigeon:channel`),
keeps the channel contract (tests/test_own_channel.py), and has no webhook: its messages arrive
over a long-lived connection, here an asyncio queue the test writes to.
"""

from __future__ import annotations

from core.channels import Channel
from core.settings import Settings
from tests.pigeon.codec import PigeonCodec
from tests.pigeon.listener import Perch
from tests.pigeon.transport import Loft


def channel(settings: Settings) -> Channel:
    codec = PigeonCodec()
    return Channel(codec=codec, transport=Loft(), listener=Perch(codec))
