"""PostgreSQL's concurrency faults, raised on the driver's own cursor, are handled like SQLAlchemy's:
a deadlock victim is run again, and a message stored twice at once answers "duplicate"."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from core.channels import InboundMessage
from core.inbox import InboxConfig, route
from storage import open_store
from storage.engine import make_engine
from storage.executor import Executor
from tests.fixtures import PEOPLE

pytestmark = pytest.mark.postgres


async def test_a_deadlock_victim_on_the_drivers_cursor_is_run_again(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS crossing"))
        conn.execute(text("CREATE TABLE crossing (id INT PRIMARY KEY, n INT NOT NULL)"))
        conn.execute(text("INSERT INTO crossing VALUES (1, 0), (2, 0)"))
    db = Executor(engine, 2)
    both_hold_one = threading.Barrier(2, timeout=10)
    started = threading.Event()

    def crossing(first: int, second: int) -> Callable[[Connection], None]:
        tries: list[int] = []

        def work(conn: Connection) -> None:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("UPDATE crossing SET n = n + 1 WHERE id = %s", (first,))
            if not tries:  # the first try waits for the other unit: a deadlock, on purpose
                tries.append(1)
                started.set()
                both_hold_one.wait()
            cursor.execute("UPDATE crossing SET n = n + 1 WHERE id = %s", (second,))

        return work

    try:
        one = db.run(crossing(1, 2))
        await asyncio.to_thread(started.wait, 10)  # the second unit goes to the other thread
        other = db.run(crossing(2, 1))
        await asyncio.gather(one, other)
        with engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT id, n FROM crossing")).all())  # type: ignore[arg-type]
        assert counts == {1: 2, 2: 2}
    finally:
        await db.close()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE crossing"))
        engine.dispose()


async def test_one_message_delivered_to_two_processes_at_once_is_a_duplicate_not_an_error(
    postgres_url: str, shipped_agents: dict[str, object]
) -> None:
    """Each delivery of each message through its own store, as if two servers got the retries."""
    config = InboxConfig(shipped_agents, {"slack": "deploy"})  # type: ignore[arg-type]
    stores = [open_store(postgres_url) for _ in range(2)]
    await stores[0].save_people(PEOPLE)
    try:
        messages = [
            InboundMessage(
                channel="slack",
                external_id=f"Ev{i}",
                sender="U0BOB",
                conversation=f"C1:dup{i}",
                text="deploy web 1.8.0 to staging",
            )
            for i in range(40)
        ]
        route_one = functools.partial(route, config)
        received = await asyncio.gather(
            *(store.receive(m, route_one) for m in messages for store in stores)
        )
    finally:
        for store in stores:
            await store.close()
    outcomes = [r.outcome for r in received]
    assert outcomes.count("started") == 40
    assert outcomes.count("duplicate") == 40


async def test_processes_starting_together_load_the_people_file_without_colliding(
    postgres_url: str,
) -> None:
    """serve and workers started at once each save the directory: one after the other."""
    stores = [open_store(postgres_url) for _ in range(4)]
    try:
        for _ in range(5):
            with stores[0].engine.begin() as conn:
                conn.execute(text("DELETE FROM identities"))
                conn.execute(text("DELETE FROM people"))
            await asyncio.gather(*(store.save_people(PEOPLE) for store in stores))
        assert [p.id for p in await stores[0].people()] == sorted(p.id for p in PEOPLE)
    finally:
        for store in stores:
            await store.close()
