"""The perch: coos arrive over one long-lived connection (an asyncio queue stands for it)."""

from __future__ import annotations

import asyncio
import logging

from core.channels import Cursor, Deliver, Malformed, RawRequest
from tests.pigeon.codec import PigeonCodec

log = logging.getLogger("pigeon")


class Perch:
    lock = "pigeon:perch"  # one process at a time reads the perch

    def __init__(self, codec: PigeonCodec) -> None:
        self.codec = codec
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def listen(self, deliver: Deliver, cursor: Cursor) -> None:
        read = int(await cursor.get() or 0)  # coos read, across restarts
        while True:
            body = await self.queue.get()
            try:
                items = self.codec.parse(RawRequest("pigeon://perch", {}, body))
            except Malformed as e:  # one garbled coo does not close the connection
                log.warning("a garbled coo: %s", e)
                items = []
            for item in items:
                await deliver(item)
            read += 1
            await cursor.save(str(read))  # once what it carried is stored
