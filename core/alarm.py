"""How the service's loops wait: until woken, or until their next due time, whichever is first."""

from __future__ import annotations

import asyncio
import contextlib

# Work another process makes (the CLI, a second server on SQLite) wakes no one here: a loop
# looks again after this long at the latest.
RECHECK_SECONDS = 5.0


class Alarm:
    def __init__(self) -> None:
        self._rung = asyncio.Event()

    def ring(self) -> None:
        self._rung.set()

    def reset(self) -> None:
        """Before a look at the work: a ring during the look is kept for the next wait."""
        self._rung.clear()

    async def wait(self, seconds: float | None) -> None:
        """Until rung, or `seconds` (None: nothing is due), never longer than RECHECK_SECONDS."""
        timeout = RECHECK_SECONDS if seconds is None else min(max(0.0, seconds), RECHECK_SECONDS)
        # asyncio.timeout, not wait_for: on 3.11, wait_for loses a cancellation that arrives as
        # the event is set, and the loop that waits here would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._rung.wait()
