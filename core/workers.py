"""Workers: advance threads as they become runnable. Woken directly; a slow sweep only recovers.

The inbox, the timers and the API wake a worker the moment a thread has work. The sweep finds
what no one woke: threads left by a worker that died (their lease expired) or written by another
process. It looks every half lease, so a dead worker's thread waits at most about 1.5 leases.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.alarm import RECHECK_SECONDS
from core.errors import Conflict, ThreadBusy
from core.runtime import Runtime

log = logging.getLogger("switchboard.workers")


class Workers:
    def __init__(
        self,
        runtime: Runtime,
        *,
        size: int = 4,
        sweep_seconds: float | None = None,  # None: every half lease, at most RECHECK_SECONDS
        after_run: Callable[[], None] = lambda: None,
    ) -> None:
        self.runtime = runtime
        self.size = size
        lease = runtime.limits.lease_seconds
        self.sweep_seconds = sweep_interval(lease) if sweep_seconds is None else sweep_seconds
        self.after_run = after_run  # a run may have written messages and requests: wake their loops
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._again: set[str] = set()

    def wake(self, thread_id: str) -> None:
        if thread_id in self._running:
            self._again.add(thread_id)  # run it once more when the current run ends
        elif thread_id not in self._queued:
            self._queued.add(thread_id)
            self._queue.put_nowait(thread_id)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self.size):
                group.create_task(self._work())
            group.create_task(self._sweep())

    async def _work(self) -> None:
        while True:
            thread_id = await self._queue.get()
            self._queued.discard(thread_id)
            self._running.add(thread_id)
            try:
                await self.runtime.advance(thread_id)
            except ThreadBusy:
                pass  # another process has it
            except Conflict:  # others kept writing to it (a burst of messages): not a failure
                log.info("thread %s kept changing under its worker; running it again", thread_id)
                self._again.add(thread_id)
            # The boundary of one thread's run: log it and keep the worker alive for the others.
            except Exception:
                log.exception("thread %s: the worker's run failed", thread_id)
            finally:
                self._running.discard(thread_id)
                self.after_run()
            if thread_id in self._again:
                self._again.discard(thread_id)
                self.wake(thread_id)

    async def _sweep(self) -> None:
        while True:
            for thread_id in await self.runtime.store.runnable():
                self.wake(thread_id)
            await asyncio.sleep(self.sweep_seconds)


def sweep_interval(lease_seconds: float) -> float:
    """How often to look for threads no one woke: often enough that an expired lease is found
    within half a lease of expiring, and never less often than RECHECK_SECONDS."""
    return min(RECHECK_SECONDS, lease_seconds / 2) if lease_seconds > 0 else RECHECK_SECONDS
