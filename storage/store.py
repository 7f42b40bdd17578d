"""SqlStore: the core's Store on SQLAlchemy, one transaction per unit of work.

Each unit of work runs whole on a database thread, in one hop from the event loop: measured here,
that is 3-5x cheaper per step than awaiting every statement through an async driver, and the loop
never blocks on the database. SQLite gets one database thread (one writer); PostgreSQL several.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlmodel import Session

from core.context import event_tokens
from core.events import (
    ApprovalDecided,
    HumanRequested,
    HumanResponded,
    MessageReceived,
    ModelCalled,
    ThreadCancelled,
    ThreadFinished,
    dump_event,
    load_event,
)
from core.state import ExecutionState, fold
from core.store import (
    AlreadyDecided,
    Conflict,
    LoadedThread,
    Person,
    RequestInfo,
    Step,
    StoredEvent,
    ThreadInfo,
)
from storage.engine import make_engine
from storage.tables import EventRow, HumanRequestRow, ModelCallRow, OutboxRow, PersonRow, ThreadRow

T = TypeVar("T")

threads = ThreadRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
requests = HumanRequestRow.__table__  # type: ignore[attr-defined]
model_calls = ModelCallRow.__table__  # type: ignore[attr-defined]
people = PersonRow.__table__  # type: ignore[attr-defined]
outbox = OutboxRow.__table__  # type: ignore[attr-defined]

# Built once: SQLAlchemy caches their compiled form, which matters on the per-step path.
_INSERT_EVENTS = insert(events)
_ADVANCE = (
    update(threads)
    .where(threads.c.id == bindparam("b_id"), threads.c.last_seq == bindparam("b_after"))
    .values(
        status=bindparam("status"),
        steps=bindparam("steps"),
        tokens=bindparam("tokens"),
        cost=bindparam("cost"),
        last_seq=bindparam("last_seq"),
        state=bindparam("state"),
        updated_at=bindparam("updated_at"),
    )
)
_ADVANCE_LEASED = _ADVANCE.where(threads.c.lease_owner == bindparam("b_owner")).values(
    lease_until=bindparam("lease_until")
)


def _now() -> datetime:
    return datetime.now(UTC)


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="switchboard-db")
        self._local = threading.local()
        self._connections: list[Connection] = []

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)
        self._executor.shutdown(wait=True)
        for conn in self._connections:
            conn.close()
        self.engine.dispose()

    # --- running work on the database thread ----------------------------------------------------

    async def _run(self, work: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._transaction, work
        )

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._local.conn = self.engine.connect()
            self._connections.append(conn)
        with conn.begin():
            return work(conn)

    # --- threads and events ---------------------------------------------------------------------

    async def create_thread(
        self,
        *,
        agent: str,
        first: MessageReceived,
        requester: str | None,
        channel: str,
        parent_id: str | None = None,
    ) -> str:
        thread_id = f"th-{uuid.uuid4().hex[:12]}"
        state = fold([first])
        now = _now()

        def work(conn: Connection) -> None:
            conn.execute(
                insert(threads).values(
                    id=thread_id,
                    agent=agent,
                    status=state.status.value,
                    requester=requester,
                    channel=channel,
                    parent_id=parent_id,
                    created_at=now,
                    updated_at=now,
                    last_seq=1,
                    state=state.model_dump_json(),
                )
            )
            conn.execute(
                _INSERT_EVENTS,
                [
                    dict(
                        thread_id=thread_id,
                        seq=1,
                        type=first.type,
                        tokens=event_tokens(first),
                        data=dump_event(first),
                    )
                ],
            )

        await self._run(work)
        return thread_id

    async def load(self, thread_id: str) -> LoadedThread:
        def work(conn: Connection) -> LoadedThread:
            row = conn.execute(select(threads).where(threads.c.id == thread_id)).one_or_none()
            if row is None:
                raise KeyError(f"no thread {thread_id}")
            state = ExecutionState.model_validate_json(row.state)
            rows = conn.execute(
                select(events.c.seq, events.c.tokens, events.c.data)
                .where(events.c.thread_id == thread_id, events.c.seq > state.compacted_through)
                .order_by(events.c.seq)
            )
            context = [
                StoredEvent(seq=r.seq, tokens=r.tokens, event=load_event(r.data)) for r in rows
            ]
            return LoadedThread(_thread_info(row), state, row.last_seq, context)

        return await self._run(work)

    async def events(self, thread_id: str) -> list[StoredEvent]:
        def work(conn: Connection) -> list[StoredEvent]:
            rows = conn.execute(
                select(events.c.seq, events.c.tokens, events.c.data)
                .where(events.c.thread_id == thread_id)
                .order_by(events.c.seq)
            )
            return [StoredEvent(seq=r.seq, tokens=r.tokens, event=load_event(r.data)) for r in rows]

        return await self._run(work)

    async def claim(self, thread_id: str, owner: str, *, seconds: float) -> bool:
        now = time.time()
        free = (
            (threads.c.lease_owner.is_(None))
            | (threads.c.lease_until < now)
            | (threads.c.lease_owner == owner)
        )
        statement = (
            update(threads)
            .where(threads.c.id == thread_id, free)
            .values(lease_owner=owner, lease_until=now + seconds)
        )
        return await self._run(lambda conn: conn.execute(statement).rowcount == 1)

    async def release(self, thread_id: str, owner: str) -> None:
        statement = (
            update(threads)
            .where(threads.c.id == thread_id, threads.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=0.0)
        )
        await self._run(lambda conn: conn.execute(statement))

    async def commit(self, step: Step) -> int:
        return await self._run(lambda conn: self._commit(conn, step))

    def _commit(self, conn: Connection, step: Step) -> int:
        state, now = step.state, _now()
        last_seq = step.after_seq + len(step.events)
        params: dict[str, Any] = dict(
            b_id=step.thread_id,
            b_after=step.after_seq,
            status=state.status.value,
            steps=state.total_steps,
            tokens=state.tokens,
            cost=state.cost,
            last_seq=last_seq,
            state=state.model_dump_json(),
            updated_at=now,
        )
        statement = _ADVANCE
        if step.owner is not None:
            statement = _ADVANCE_LEASED
            params.update(b_owner=step.owner, lease_until=time.time() + step.lease_seconds)
        if conn.execute(statement, params).rowcount != 1:
            raise Conflict(
                f"thread {step.thread_id} moved past seq {step.after_seq} or lost its lease"
            )
        rows = []
        for seq, (event, tokens) in enumerate(step.events, start=step.after_seq + 1):
            rows.append(
                dict(
                    thread_id=step.thread_id,
                    seq=seq,
                    type=event.type,
                    tokens=tokens,
                    data=dump_event(event),
                )
            )
            self._project(conn, step.thread_id, seq, event)
        conn.execute(_INSERT_EVENTS, rows)
        if step.outbox:
            conn.execute(
                insert(outbox),
                [
                    dict(
                        thread_id=step.thread_id,
                        seq=last_seq,
                        recipient=m.recipient,
                        channel=m.channel,
                        kind=m.kind,
                        text=m.text,
                        request_id=m.request_id,
                        idempotency_key=f"{step.thread_id}:{last_seq}:{i}",
                        created_at=now,
                    )
                    for i, m in enumerate(step.outbox)
                ],
            )
        if step.business:
            with Session(bind=conn) as session:
                session.add_all(step.business)
                session.flush()
                session.expunge_all()
        return last_seq

    def _project(self, conn: Connection, thread_id: str, seq: int, event: Any) -> None:
        """Keep the query tables in step with the events, in the same transaction."""
        match event:
            case ModelCalled():
                conn.execute(
                    insert(model_calls).values(
                        thread_id=thread_id,
                        seq=seq,
                        **event.model_dump(
                            include={
                                "model",
                                "purpose",
                                "prompt_tokens",
                                "completion_tokens",
                                "cost",
                                "latency_ms",
                                "at",
                            }
                        ),
                    )
                )
            case HumanRequested():
                conn.execute(
                    insert(requests).values(
                        id=event.request_id,
                        thread_id=thread_id,
                        kind=event.kind,
                        purpose=event.purpose,
                        status="open",
                        question=event.question,
                        recipients=list(event.recipients),
                        options=list(event.options),
                        tool=event.tool,
                        arguments=event.arguments,
                        arguments_hash=event.arguments_hash,
                        created_at=event.at,
                        deadline=event.deadline,
                    )
                )
            case ApprovalDecided():
                status = "approved" if event.approved else "rejected"
                self._settle(
                    conn,
                    event.request_id,
                    status,
                    event.decided_by,
                    event.via,
                    event.reason,
                    event.arguments_hash,
                )
            case HumanResponded():
                self._settle(
                    conn,
                    event.request_id,
                    "answered",
                    event.responder,
                    event.via,
                    event.answer,
                    None,
                )
            case ThreadFinished() | ThreadCancelled():
                conn.execute(
                    update(requests)
                    .where(requests.c.thread_id == thread_id, requests.c.status == "open")
                    .values(status="cancelled", decided_at=event.at)
                )

    def _settle(
        self,
        conn: Connection,
        request_id: str,
        status: str,
        by: str,
        via: str,
        answer: str,
        hash_: str | None,
    ) -> None:
        """First decision wins: the update only takes an open request (bound to its arguments)."""
        where = [requests.c.id == request_id, requests.c.status == "open"]
        if hash_ is not None:
            where.append(requests.c.arguments_hash == hash_)
        values = dict(
            status=status, decided_by=by, decided_via=via, decided_at=_now(), answer=answer
        )
        if conn.execute(update(requests).where(*where).values(**values)).rowcount == 1:
            return
        row = conn.execute(select(requests).where(requests.c.id == request_id)).one_or_none()
        if row is None:
            raise KeyError(f"no request {request_id}")
        if row.status != "open":
            raise AlreadyDecided(_request_info(row))
        raise ValueError(f"the decision does not match the arguments of request {request_id}")

    # --- business data for tools ------------------------------------------------------------------

    def data(self, pending: list[Any]) -> SqlData:
        return SqlData(self, pending)

    # --- queries --------------------------------------------------------------------------------

    async def thread(self, thread_id: str) -> ThreadInfo | None:
        def work(conn: Connection) -> ThreadInfo | None:
            row = conn.execute(select(threads).where(threads.c.id == thread_id)).one_or_none()
            return _thread_info(row) if row else None

        return await self._run(work)

    async def threads(self, *, status: str | None = None, limit: int = 100) -> list[ThreadInfo]:
        statement = select(threads).order_by(threads.c.updated_at.desc()).limit(limit)
        if status:
            statement = statement.where(threads.c.status == status)
        return await self._run(lambda conn: [_thread_info(r) for r in conn.execute(statement)])

    async def request(self, request_id: str) -> RequestInfo | None:
        def work(conn: Connection) -> RequestInfo | None:
            row = conn.execute(select(requests).where(requests.c.id == request_id)).one_or_none()
            return _request_info(row) if row else None

        return await self._run(work)

    async def requests(self, *, status: str | None = "open") -> list[RequestInfo]:
        statement = select(requests).order_by(requests.c.created_at)
        if status:
            statement = statement.where(requests.c.status == status)
        return await self._run(lambda conn: [_request_info(r) for r in conn.execute(statement)])

    async def runnable(self, limit: int = 10) -> list[str]:
        now = time.time()
        statement = (
            select(threads.c.id)
            .where(
                threads.c.status.in_(("intake", "running")),
                threads.c.lease_owner.is_(None) | (threads.c.lease_until < now),
            )
            .order_by(threads.c.updated_at)
            .limit(limit)
        )
        return await self._run(lambda conn: list(conn.execute(statement).scalars()))

    async def person(self, person_id: str) -> Person | None:
        def work(conn: Connection) -> Person | None:
            row = conn.execute(select(people).where(people.c.id == person_id)).one_or_none()
            return Person.model_validate(row._mapping) if row else None

        return await self._run(work)

    async def people(self) -> list[Person]:
        statement = select(people).order_by(people.c.id)
        return await self._run(
            lambda conn: [Person.model_validate(r._mapping) for r in conn.execute(statement)]
        )

    async def save_people(self, found: list[Person]) -> None:
        def work(conn: Connection) -> None:
            ids = [p.id for p in found]
            conn.execute(delete(people).where(people.c.id.in_(ids)))
            if found:
                conn.execute(insert(people), [p.model_dump() for p in found])

        await self._run(work)


class SqlData:
    """A tool's view of the business tables: reads now, writes buffered into its result's commit."""

    def __init__(self, store: SqlStore, pending: list[Any]) -> None:
        self._store = store
        self._pending = pending

    async def get(self, model: type[Any], key: Any) -> Any:
        def work(conn: Connection) -> Any:
            with Session(bind=conn) as session:
                row = session.get(model, key)
                session.expunge_all()
                return row

        return await self._store._run(work)

    async def all(self, statement: Any) -> list[Any]:
        def work(conn: Connection) -> list[Any]:
            with Session(bind=conn) as session:
                rows = list(session.exec(statement).all())
                session.expunge_all()
                return rows

        return await self._store._run(work)

    def add(self, row: Any) -> None:
        self._pending.append(row)


def _thread_info(row: Any) -> ThreadInfo:
    return ThreadInfo.model_validate(row._mapping, from_attributes=False)


def _request_info(row: Any) -> RequestInfo:
    return RequestInfo.model_validate(row._mapping)


def open_store(database_url: str) -> SqlStore:
    return SqlStore(make_engine(database_url))
