"""Locks that one process holds at a time (a channel's listener): in memory on SQLite, an advisory
lock on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("switchboard.storage")

POLL_SECONDS = 1.0  # a waiting process asks for the lock this often: a dead holder's is taken then
CHECK_SECONDS = 2.0  # the holder checks its session this often: a lost one stops the work


class LockLost(ConnectionError):
    """The session that held the lock is gone: another process may hold it now."""


@contextlib.asynccontextmanager
async def held_by_this_process(locks: dict[str, asyncio.Lock], name: str) -> AsyncIterator[None]:
    """SQLite: one process, so a lock in memory is the whole lock."""
    async with locks.setdefault(name, asyncio.Lock()):
        yield


@contextlib.asynccontextmanager
async def held_on_postgres(
    engine: Engine, name: str, *, poll: float = POLL_SECONDS, check: float = CHECK_SECONDS
) -> AsyncIterator[None]:
    """PostgreSQL: a session-level advisory lock on a connection of its own, asked for every
    `poll` seconds until granted. The database frees it when the session ends, however the holder
    dies; while held, the session is checked every `check` seconds and the body is cancelled
    (LockLost, in an ExceptionGroup) when it is gone."""
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        key = f"switchboard:{name}"
        while True:  # PostgreSQL cannot say when a lock frees: ask again until it is ours
            if await _try_lock(conn, key):
                break
            await asyncio.sleep(poll)
        async with asyncio.TaskGroup() as group:
            keeper = group.create_task(_keep(conn, name, check))
            try:
                yield
            finally:
                keeper.cancel()
        # Leaving the block closes the session, which frees the lock.


async def _try_lock(conn: Any, key: str) -> bool:
    cursor = await conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,))
    row = await cursor.fetchone()
    return bool(row and row[0])


async def _keep(conn: Any, name: str, every: float) -> None:
    import psycopg

    while True:
        await asyncio.sleep(every)
        try:
            await conn.execute("SELECT 1")
        except psycopg.Error as e:
            raise LockLost(f"lost the session holding the lock {name}: {e}") from e
