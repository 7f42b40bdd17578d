"""The inbox in SQL: one transaction per inbound message that deduplicates it, finds its situation,
applies the routing core decided and records the message with its outcome (core.store.Receiving,
core/situation.py). A message that starts or moves a thread writes a step, hence `SqlSteps`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select, text

from core.channels import InboundMessage
from core.context import event_tokens
from core.errors import AlreadyDecided, Conflict
from core.events import MessageReceived, ModelCalled
from core.records import Person, RequestInfo, Step, ThreadInfo
from core.situation import (
    Append,
    Edited,
    Ignore,
    Received,
    Refuse,
    Routing,
    Situation,
    Start,
)
from core.state import Status, fold
from storage import errors
from storage.directory import person_at, person_with
from storage.outbox import insert_outbox
from storage.steps import RUNNABLE, SqlSteps, read_events
from storage.tables import inbox


class Duplicate(Exception):
    """The message was received before."""


class SqlReceiving(SqlSteps):
    async def receive(
        self, message: InboundMessage, route: Callable[[Situation], Routing]
    ) -> Received:
        for attempt in range(3):
            try:
                return await self._run(lambda conn: self._receive(conn, message, route))
            except (Conflict, AlreadyDecided):  # a concurrent writer on PostgreSQL: route again
                if attempt == 2:
                    raise
            except Exception as e:
                # Another process stored the same message between our check and our insert.
                if not (isinstance(e, Duplicate) or errors.unique_violation(e)):
                    raise
                return Received(
                    "duplicate",
                    f"{message.channel} message {message.external_id} was received before",
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _receive(
        self, conn: Connection, message: InboundMessage, route: Callable[[Situation], Routing]
    ) -> Received:
        sql, cursor = self.sql, self.cursor(conn)
        where = {"b_channel": message.channel, "b_conversation": message.conversation}
        if sql.inbox_seen.fetch(cursor, {**where, "b_external_id": message.external_id}):
            raise Duplicate(message.external_id)
        if self.postgres:
            # Two first messages of one conversation, in two transactions, would start two threads.
            key = f"{message.channel}:{message.conversation}"
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )
        person = person_at(sql, cursor, message.channel, message.sender)
        found = sql.conversation_thread.fetch(cursor, where)
        situation = Situation(
            message=message,
            person=person,
            thread=ThreadInfo.model_validate(found[0]) if found else None,
            requests=self._requests_for(cursor, message, person),
            deciders={},
            edited=self._edited(conn, cursor, message) if message.edits else None,
        )
        for request in situation.requests:
            for who in {w for w in (request.decided_by, *(a.by for a in request.approvals)) if w}:
                if decider := person_with(sql, cursor, who):
                    situation.deciders[decider.id] = decider
        received = self._apply(conn, message, route(situation))
        if received.outcome == "ignored":  # not for the agent: no row, no text kept
            return received
        sql.insert_inbox.execute(
            cursor,
            dict(
                channel=message.channel,
                external_id=message.external_id,
                sender=message.sender,
                person_id=person.id if person else None,
                conversation=message.conversation,
                text=message.text,
                action=message.action.model_dump() if message.action else None,
                attachments=[a.model_dump() for a in message.attachments],
                raw=message.raw,
                received_at=message.received_at,
                outcome=received.outcome,
                thread_id=received.thread_id,
                request_id=received.request_id,
                detail=received.detail,
            ),
        )
        return received

    def _apply(self, conn: Connection, message: InboundMessage, routing: Routing) -> Received:
        match routing:
            case Start(agent, event, requester):
                thread_id = self.insert_thread(
                    conn,
                    agent=agent,
                    first=event,
                    requester=requester,
                    channel=message.channel,
                    conversation=message.conversation,
                )
                return Received("started", f"new {agent} thread", thread_id, runnable=True)
            case Append(thread_id, events, outcome, request_id, outbox_messages, detail):
                state, last_seq = self.load_state(conn, thread_id, lock=True)
                after = fold(events, state)
                step = Step(
                    thread_id,
                    last_seq,
                    [(e, event_tokens(e)) for e in events],
                    after,
                    outbox=outbox_messages,
                )
                self.write_step(conn, step)
                runnable = after.status.value in RUNNABLE
                return Received(outcome, detail, thread_id, request_id, runnable=runnable)
            case Refuse(detail, notice):
                if notice is not None:
                    key = f"inbox:{message.channel}:{message.external_id}"
                    insert_outbox(self.sql, self.cursor(conn), None, 0, [notice], key)
                return Received("refused", detail)
            case Ignore(detail):
                return Received("ignored", detail)

    def _edited(self, conn: Connection, cursor: Any, message: InboundMessage) -> Edited | None:
        """The message `message` edits, in its thread, and whether the agent has read it."""
        thread_id = conn.execute(
            select(inbox.c.thread_id).where(
                inbox.c.channel == message.channel, inbox.c.external_id == message.edits
            )
        ).scalar()
        if thread_id is None:
            return None
        events = read_events(self.sql, cursor, thread_id, after=0)
        # A cancelled thread takes no edit: the edit is a message of its own, routed as one.
        cancelled = self.load_state(conn, thread_id)[0].status is Status.CANCELLED
        for stored in events:
            if (
                isinstance(stored.event, MessageReceived)
                and stored.event.message_id == message.edits
            ):
                read = any(isinstance(e.event, ModelCalled) and e.seq > stored.seq for e in events)
                return Edited(thread_id, stored.seq, stored.event, read or cancelled)
        return None

    def _requests_for(
        self, cursor: Any, message: InboundMessage, person: Person | None
    ) -> list[RequestInfo]:
        """The request a button or token names; else the sender's open requests sent here."""
        if message.action is not None and message.action.request_id:
            rows = self.sql.request.fetch(cursor, {"b_id": message.action.request_id})
        elif person is not None:
            sent_here = {
                "b_channel": message.channel,
                "b_conversation": message.conversation,
                "b_person": person.id,
            }
            rows = self.sql.requests_sent_here.fetch(cursor, sent_here)
        else:
            return []
        return [RequestInfo.model_validate(r) for r in rows]
