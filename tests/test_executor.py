"""Group commit: units of work queued together commit together, and a failing one fails alone."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from storage.engine import make_engine
from storage.executor import Executor


async def test_a_failing_unit_rolls_back_alone_and_the_rest_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    db = Executor(engine, 1)
    queued = threading.Event()

    def hold(conn: Connection) -> None:  # keeps the thread busy until the others are queued
        queued.wait(timeout=10)

    def note(body: str) -> object:
        def work(conn: Connection) -> str:
            conn.execute(text("INSERT INTO notes VALUES (:b)"), {"b": body})
            if body == "bad":
                raise ValueError("this unit fails after writing")
            return body

        return work

    first = db.run(hold)
    later = [db.run(note(b)) for b in ("one", "bad", "two")]  # type: ignore[arg-type]
    queued.set()
    await first
    results = await asyncio.gather(*later, return_exceptions=True)

    assert results[0] == "one" and results[2] == "two"
    assert isinstance(results[1], ValueError)
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT body FROM notes"))) == ["one", "two"]
    await db.close()
    engine.dispose()


async def test_a_unit_of_work_error_reaches_its_caller(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    db = Executor(engine, 1)

    def broken(conn: Connection) -> None:
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no such table"):
        await db.run(broken)
    assert await db.run(lambda conn: conn.execute(text("SELECT 41 + 1")).scalar()) == 42
    await db.close()
    engine.dispose()
