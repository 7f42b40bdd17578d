"""A thread's life in SQL: created, leased by one worker at a time, moved on by whole steps, each
step's events projected onto the query tables in the same transaction (core.store.Steps)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlmodel import Session

from core.context import event_tokens
from core.errors import AlreadyDecided, Conflict, NotFound
from core.events import (
    ApprovalDecided,
    Event,
    HumanRequested,
    HumanResponded,
    MessageReceived,
    ModelCalled,
    RequestEscalated,
    RequestTimedOut,
    ThreadCancelled,
    ThreadFinished,
    dump_event,
    load_event,
)
from core.humans import settlement
from core.records import GivenApproval, LoadedThread, RequestInfo, Step, StoredEvent
from core.state import ExecutionState, Status, fold
from storage.database import Database
from storage.notify import notify
from storage.outbox import insert_outbox
from storage.statements import Statements
from storage.tables import requests, threads

RUNNABLE = (Status.INTAKE.value, Status.RUNNING.value)


def _now() -> datetime:
    return datetime.now(UTC)


class SqlSteps(Database):
    async def create_thread(
        self,
        *,
        agent: str,
        first: MessageReceived,
        requester: str | None,
        channel: str,
        parent_id: str | None = None,
        conversation: str | None = None,
    ) -> str:
        return await self._run(
            lambda conn: self.insert_thread(
                conn,
                agent=agent,
                first=first,
                requester=requester,
                channel=channel,
                parent_id=parent_id,
                conversation=conversation,
            )
        )

    def insert_thread(
        self,
        conn: Connection,
        *,
        agent: str,
        first: MessageReceived,
        requester: str | None,
        channel: str,
        parent_id: str | None = None,
        conversation: str | None = None,
    ) -> str:
        thread_id = f"th-{uuid.uuid4().hex[:12]}"
        state = fold([first])
        now = _now()
        row = dict(
            id=thread_id,
            agent=agent,
            status=state.status.value,
            requester=requester,
            channel=channel,
            conversation=conversation,
            parent_id=parent_id,
            created_at=now,
            updated_at=now,
            steps=0,
            tokens=0,
            cost=0.0,
            last_seq=1,
            state=state.model_dump_json(),
            lease_owner=None,
            lease_until=0.0,
        )
        cursor = self.cursor(conn)
        self.sql.insert_thread.execute(cursor, row)
        self.sql.insert_events.execute(cursor, _event_row(thread_id, 1, first, event_tokens(first)))
        if self.postgres:
            notify(cursor, f"thread:{thread_id}")
        return thread_id

    def _load(self, conn: Connection, thread_id: str) -> LoadedThread:
        cursor = self.cursor(conn)
        cursor.execute(self.sql.thread_state.sql, self.sql.thread_state.params({"b_id": thread_id}))
        row = cursor.fetchone()
        if row is None:
            raise NotFound("thread", thread_id)
        agent, requester, state_json, last_seq = row
        state = ExecutionState.model_validate_json(state_json)
        context = read_events(self.sql, cursor, thread_id, after=state.compacted_through)
        return LoadedThread(agent, requester, state, last_seq, context)

    async def claim(self, thread_id: str, owner: str, *, seconds: float) -> LoadedThread | None:
        """Take the thread's lease (free, expired, or already ours) and load it, in one go."""
        now = time.time()
        values = dict(
            b_id=thread_id, b_now=now, b_owner=owner, lease_owner=owner, lease_until=now + seconds
        )

        def work(conn: Connection) -> LoadedThread | None:
            if self.sql.claim.execute(self.cursor(conn), values) != 1:
                return None
            return self._load(conn, thread_id)

        return await self._run(work)

    async def renew(self, thread_id: str, owner: str, *, seconds: float) -> bool:
        values = {"b_id": thread_id, "b_owner": owner, "lease_until": time.time() + seconds}
        renewed = await self._run(lambda conn: self.sql.renew.execute(self.cursor(conn), values))
        return renewed == 1

    async def release(self, thread_id: str, owner: str) -> None:
        values = {"b_id": thread_id, "b_owner": owner}
        await self._run(lambda conn: self.sql.release.execute(self.cursor(conn), values))

    async def commit(self, step: Step) -> int:
        return await self._run(lambda conn: self.write_step(conn, step))

    def write_step(self, conn: Connection, step: Step) -> int:
        cursor, sql = self.cursor(conn), self.sql
        state, now = step.state, _now()
        last_seq = step.after_seq + len(step.events)
        values: dict[str, Any] = dict(
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
        advance = sql.advance
        if step.owner is not None:
            advance = sql.advance_leased
            held = not step.release
            values.update(
                b_owner=step.owner,
                lease_owner=step.owner if held else None,
                lease_until=time.time() + step.lease_seconds if held else 0.0,
            )
        if advance.execute(cursor, values) != 1:  # it moved past after_seq, or lost its lease
            raise Conflict(step.thread_id)
        rows = []
        for seq, (event, tokens) in enumerate(step.events, start=step.after_seq + 1):
            rows.append(_event_row(step.thread_id, seq, event, tokens))
            self._project(conn, cursor, step.thread_id, seq, event)
        sql.insert_events.execute_many(cursor, rows)
        if step.outbox:
            key = f"{step.thread_id}:{last_seq}"
            insert_outbox(self.sql, cursor, step.thread_id, last_seq, step.outbox, key)
        if self.postgres:
            self._notify(cursor, step)
        if step.business:
            with Session(bind=conn) as session:
                session.add_all(step.business)
                session.flush()
                session.expunge_all()
        return last_seq

    @staticmethod
    def _notify(cursor: Any, step: Step) -> None:
        """Tell other processes what this step leaves them: a thread to run (when someone other
        than its worker changed it), messages to send, a request whose timers start."""
        if step.owner is None and step.state.status.value in RUNNABLE:
            notify(cursor, f"thread:{step.thread_id}")
        if step.outbox:
            notify(cursor, "outbox")
        if any(isinstance(event, HumanRequested) for event, _ in step.events):
            notify(cursor, "timers")

    def _project(
        self, conn: Connection, cursor: Any, thread_id: str, seq: int, event: Event
    ) -> None:
        """Keep the query tables in step with the events, in the same transaction."""
        sql = self.sql
        match event:
            case ModelCalled():
                sql.insert_model_call.execute(
                    cursor,
                    dict(
                        thread_id=thread_id,
                        seq=seq,
                        model=event.model,
                        purpose=event.purpose,
                        prompt_tokens=event.prompt_tokens,
                        completion_tokens=event.completion_tokens,
                        cost=event.cost,
                        latency_ms=event.latency_ms,
                        at=event.at,
                    ),
                )
            case HumanRequested():
                sql.insert_request.execute(
                    cursor,
                    dict(
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
                        resend_at=event.resend_at,
                        widen_at=event.widen_at,
                        deadline=event.deadline,
                        level=0,
                        next_at=event.resend_at or event.widen_at or event.deadline,
                        decided_by=None,
                        decided_via=None,
                        decided_at=None,
                        answer=None,
                        required=event.required,
                        distinct_roles=event.distinct_roles,
                        requester=event.requester,
                        acted_by=None,
                        self_approval=event.self_approval,
                        approvals=[],
                        caller=event.caller,
                        context=event.context,
                        reference=event.reference,
                        callback_url=event.callback_url,
                    ),
                )
            case ApprovalDecided(approved=True):
                self._approve(conn, cursor, event)
            case ApprovalDecided() | HumanResponded():
                decision: dict[str, Any] = {**settlement(event), "decided_at": event.at}
                if isinstance(event, ApprovalDecided):
                    decision["b_hash"] = event.arguments_hash
                self._settle(conn, cursor, event.request_id, decision)
            case RequestTimedOut():
                timed_out = dict(
                    status="timed_out",
                    decided_by=None,
                    decided_via="timer",
                    acted_by=None,
                    answer=None,
                )
                self._settle(conn, cursor, event.request_id, {**timed_out, "decided_at": event.at})
            case RequestEscalated():
                row = sql.request.fetch(cursor, {"b_id": event.request_id})[0]
                level = 1 if event.step == "resend" else 2
                following = row["widen_at"] if level == 1 else None
                conn.execute(
                    update(requests)
                    .where(requests.c.id == event.request_id)
                    .values(
                        level=level,
                        next_at=following or row["deadline"],
                        recipients=[*row["recipients"], *event.added],
                    )
                )
            case ThreadFinished() | ThreadCancelled():
                sql.cancel_requests.execute(cursor, {"b_id": thread_id, "decided_at": event.at})

    def _approve(self, conn: Connection, cursor: Any, event: ApprovalDecided) -> None:
        """One approval more: kept with the others; the last one needed settles the request.
        Read and written under the thread's step, which no other writer passes at once."""
        rows = self.sql.request.fetch(cursor, {"b_id": event.request_id})
        if not rows:
            raise NotFound("request", event.request_id)
        given = GivenApproval(
            by=event.decided_by,
            via=event.via,
            at=event.at,
            counted_as=event.counted_as,
            acting=event.acting,
        )
        approvals = [*rows[0]["approvals"], given.model_dump(mode="json")]
        if len(approvals) < rows[0]["required"]:
            if rows[0]["status"] != "open":
                raise AlreadyDecided(RequestInfo.model_validate(rows[0]))
            conn.execute(
                update(requests)
                .where(requests.c.id == event.request_id)
                .values(approvals=approvals)
            )
            return
        decision: dict[str, Any] = {**settlement(event), "decided_at": event.at}
        self._settle(conn, cursor, event.request_id, {**decision, "b_hash": event.arguments_hash})
        conn.execute(
            update(requests).where(requests.c.id == event.request_id).values(approvals=approvals)
        )

    def _settle(
        self, conn: Connection, cursor: Any, request_id: str, decision: dict[str, Any]
    ) -> None:
        """First decision wins: only an open request is settled (an approval, for its arguments)."""
        statement = self.sql.settle_bound if "b_hash" in decision else self.sql.settle
        if statement.execute(cursor, {**decision, "b_id": request_id}) == 1:
            return
        rows = self.sql.request.fetch(cursor, {"b_id": request_id})
        if not rows:
            raise NotFound("request", request_id)
        if rows[0]["status"] != "open":
            raise AlreadyDecided(RequestInfo.model_validate(rows[0]))
        raise ValueError(f"the decision does not match the arguments of request {request_id}")

    async def state(self, thread_id: str) -> tuple[ExecutionState, int]:
        return await self._run(lambda conn: self.load_state(conn, thread_id))

    def load_state(
        self, conn: Connection, thread_id: str, *, lock: bool = False
    ) -> tuple[ExecutionState, int]:
        cursor, read = self.cursor(conn), self.sql.thread_state
        if lock:
            read = self.sql.thread_state_locked
        cursor.execute(read.sql, read.params({"b_id": thread_id}))
        row = cursor.fetchone()
        if row is None:
            raise NotFound("thread", thread_id)
        return ExecutionState.model_validate_json(row[2]), row[3]

    def data(self, pending: list[Any]) -> SqlData:
        return SqlData(self, pending)

    async def runnable(self, *, limit: int = 100) -> list[str]:
        free = or_(threads.c.lease_owner.is_(None), threads.c.lease_until < time.time())
        query = (
            select(threads.c.id)
            .where(threads.c.status.in_(RUNNABLE), free)
            .order_by(threads.c.updated_at)
            .limit(limit)
        )
        return await self._run(lambda conn: list(conn.execute(query).scalars()))


class SqlData:
    """A tool's view of the business tables: reads now, writes buffered into its result's commit."""

    def __init__(self, store: SqlSteps, pending: list[Any]) -> None:
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


def _event_row(thread_id: str, seq: int, event: Event, tokens: int) -> dict[str, Any]:
    return dict(
        thread_id=thread_id, seq=seq, type=event.type, tokens=tokens, data=dump_event(event)
    )


def read_events(sql: Statements, cursor: Any, thread_id: str, *, after: int) -> list[StoredEvent]:
    """The thread's events after seq `after`, in order, inside the caller's transaction."""
    cursor.execute(
        sql.events_after.sql, sql.events_after.params({"b_id": thread_id, "b_after": after})
    )
    return [
        StoredEvent(seq=seq, tokens=tokens, event=load_event(type_, data))
        for seq, type_, tokens, data in cursor.fetchall()
    ]
