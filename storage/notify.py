"""Wake-ups between processes on PostgreSQL: NOTIFY inside the transaction that made the work
(delivered when it commits), LISTEN on one connection in every process. SQLite has neither:
there, processes find each other's work by re-checking (core/workers.py, core/outbox.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("switchboard.storage")

CHANNEL = "switchboard"


def notify(cursor: Any, payload: str) -> None:
    """Say `payload` ("thread:<id>", "outbox", "timers") to every listener once this commits."""
    cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


async def listen(engine: Engine, wake: Callable[[str], None]) -> None:
    """Until cancelled, hand every notification's payload to `wake`; reconnects when cut off."""
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                async for note in conn.notifies():
                    wake(note.payload)
        except psycopg.OperationalError as e:
            log.warning("lost the connection that listens for other processes' work: %s", e)
            await asyncio.sleep(1.0)
