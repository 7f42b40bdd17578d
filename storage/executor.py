"""The executor: OS threads that own the database connections (elsewhere in Switchboard a thread
is a conversation). The event loop hands them whole units of work.

A hop through `run_in_executor` costs 65-110 µs here; this queue and one `call_soon_threadsafe`
cost 30-40 µs, and a step makes two hops.

Group commit: units of work that arrive while a thread is busy are run together, each in its own
SAVEPOINT, and committed at once; a unit that fails is rolled back alone. Nobody hears "done"
before the shared COMMIT has succeeded, so durability is unchanged; under load the commit, the
costliest part of a small transaction, is paid once per batch instead of once per unit.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from storage.errors import retryable

T = TypeVar("T")
MAX_BATCH = 64
RETRIES = 3


@dataclass(slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    work: Callable[[Connection], Any]
    result: Any = None
    error: BaseException | None = None


class Executor:
    """`count` OS threads, each with its own connection, running units of work in transactions."""

    def __init__(self, engine: Engine, count: int) -> None:
        self._engine = engine
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.count = count
        self._threads = [
            threading.Thread(target=self._serve, name=f"switchboard-db-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, work: Callable[[Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(loop, future, work))
        return future

    async def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)

    def _serve(self) -> None:
        conn = self._engine.connect()  # at start, not on the first step
        try:
            while (first := self._jobs.get()) is not None:
                batch = [first]
                stop = self._drain(batch)
                if conn.invalidated:
                    conn.close()
                    conn = self._engine.connect()
                self._run_batch(conn, batch)
                if stop:
                    break
        finally:
            conn.close()

    def _drain(self, batch: list[_Job]) -> bool:
        """Take what else is waiting, up to MAX_BATCH; True when a stop signal was among it."""
        while len(batch) < MAX_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return False
            if job is None:
                return True
            batch.append(job)
        return False

    def _run_batch(self, conn: Connection, batch: list[_Job]) -> None:
        self._transaction(conn, batch)
        # A unit PostgreSQL chose as a deadlock victim (or a serialization failure) was rolled
        # back whole: run it again, alone, rather than fail the request that made it.
        for _ in range(RETRIES):
            again = [job for job in batch if retryable(job.error)]
            for job in again:
                job.error = None
                self._transaction(conn, [job])
        loops = {id(job.loop): job.loop for job in batch}
        for loop_id, loop in loops.items():  # one wake-up per event loop, not per unit
            loop.call_soon_threadsafe(_settle, [j for j in batch if id(j.loop) == loop_id])

    def _transaction(self, conn: Connection, batch: list[_Job]) -> None:
        try:
            with conn.begin():
                if len(batch) == 1:
                    batch[0].result = batch[0].work(conn)
                else:
                    for job in batch:
                        self._run_alone(conn, job)
        except BaseException as e:  # the transaction failed: every unit in it failed with it
            for job in batch:
                job.error = job.error or e

    @staticmethod
    def _run_alone(conn: Connection, job: _Job) -> None:
        # Plain SQL on the driver's cursor: SQLAlchemy's begin_nested() compiles a clause for each
        # savepoint, which cost more than the units of work themselves.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SAVEPOINT unit")
        try:
            job.result = job.work(conn)
        except Exception as e:  # this unit's failure, handed to the task awaiting it
            cursor.execute("ROLLBACK TO SAVEPOINT unit")
            job.error = e
        cursor.execute("RELEASE SAVEPOINT unit")


def _settle(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.cancelled():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
