"""How the service's loops wait: until woken, or until their next due time, whichever is first."""

from __future__ import annotations

import asyncio
import contextlib

# Work another process makes (the CLI, a second server on SQLite) wakes no one here: a loop
# looks again after this long at the latest.
RECHECK_SECONDS = 5.0


class Bell:
    """Rung for everyone waiting: each `wait` ends at the next ring, or after `seconds`. How a
    long-poll or an event stream hears that a request may have changed."""

    def __init__(self) -> None:
        self._rung = asyncio.Event()

    def ring(self) -> None:
        self._rung.set()
        self._rung = asyncio.Event()  # those waiting now are woken; the next ones wait anew

    async def wait(self, seconds: float) -> None:
        rung = self._rung
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await rung.wait()


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
