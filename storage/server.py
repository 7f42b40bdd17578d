"""The server's queries: the inbox's routing transaction, the outbox, request timers, settings.

Each function here is one unit of work on a database connection; `SqlStore` runs them on its
database threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, or_, select, text, update

from core.channels import InboundMessage
from core.context import event_tokens
from core.events import utcnow
from core.state import Status, fold
from core.store import (
    AUTO,
    Append,
    InboxItem,
    OutboxItem,
    OutboxMessage,
    Person,
    Received,
    Refuse,
    RequestInfo,
    Routing,
    Situation,
    Start,
    Step,
    ThreadInfo,
)
from storage.statements import outbox, requests, threads
from storage.tables import IdentityRow, InboxRow, SettingRow

if TYPE_CHECKING:
    from storage.store import SqlStore

identities = IdentityRow.__table__  # type: ignore[attr-defined]
inbox = InboxRow.__table__  # type: ignore[attr-defined]
service_settings = SettingRow.__table__  # type: ignore[attr-defined]

RUNNABLE = (Status.INTAKE.value, Status.RUNNING.value)


class Duplicate(Exception):
    """The message was received before."""


# --- inbox -----------------------------------------------------------------------------------------


def person_by_identity(
    store: SqlStore, conn: Connection, channel: str, address: str
) -> Person | None:
    values = {"b_channel": channel, "b_address": address}
    rows = store.sql.person_by_identity.fetch(store.cursor(conn), values)
    return Person.model_validate(rows[0]) if rows else None


def receive(
    store: SqlStore,
    conn: Connection,
    message: InboundMessage,
    route: Callable[[Situation], Routing],
) -> Received:
    sql, cursor = store.sql, store.cursor(conn)
    where = {"b_channel": message.channel, "b_conversation": message.conversation}
    if sql.inbox_seen.fetch(cursor, {**where, "b_external_id": message.external_id}):
        raise Duplicate(message.external_id)
    if store.postgres:
        # Two first messages of one conversation, in two transactions, would start two threads.
        key = f"{message.channel}:{message.conversation}"
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
    person = person_by_identity(store, conn, message.channel, message.sender)
    found = sql.conversation_thread.fetch(cursor, where)
    situation = Situation(
        message=message,
        person=person,
        thread=ThreadInfo.model_validate(found[0]) if found else None,
        requests=_requests_for(store, cursor, message, person),
        deciders={},
    )
    for request in situation.requests:
        if request.decided_by and (decider := store_person(store, cursor, request.decided_by)):
            situation.deciders[decider.id] = decider
    received = _apply(store, conn, message, route(situation))
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


def store_person(store: SqlStore, cursor: Any, person_id: str) -> Person | None:
    rows = store.sql.person.fetch(cursor, {"b_id": person_id})
    return Person.model_validate(rows[0]) if rows else None


def _apply(
    store: SqlStore, conn: Connection, message: InboundMessage, routing: Routing
) -> Received:
    match routing:
        case Start(agent, event, requester):
            thread_id = store.insert_thread(
                conn,
                agent=agent,
                first=event,
                requester=requester,
                channel=message.channel,
                conversation=message.conversation,
            )
            return Received("started", f"new {agent} thread", thread_id, runnable=True)
        case Append(thread_id, events, outcome, request_id, outbox_messages):
            state, last_seq = store.load_state(conn, thread_id)
            after = fold(events, state)
            step = Step(
                thread_id,
                last_seq,
                [(e, event_tokens(e)) for e in events],
                after,
                outbox=outbox_messages,
            )
            store.write_step(conn, step)
            return Received(
                outcome, "", thread_id, request_id, runnable=after.status.value in RUNNABLE
            )
        case Refuse(detail, notice):
            if notice is not None:
                key = f"inbox:{message.channel}:{message.external_id}"
                insert_outbox(store, store.cursor(conn), None, 0, [notice], key)
            return Received("refused", detail)


def _requests_for(
    store: SqlStore, cursor: Any, message: InboundMessage, person: Person | None
) -> list[RequestInfo]:
    """The request a button or token names; else the sender's open requests sent here."""
    if message.action is not None and message.action.request_id:
        rows = store.sql.request.fetch(cursor, {"b_id": message.action.request_id})
    elif person is not None:
        rows = store.sql.requests_sent_here.fetch(
            cursor,
            {
                "b_channel": message.channel,
                "b_conversation": message.conversation,
                "b_person": person.id,
            },
        )
    else:
        return []
    return [RequestInfo.model_validate(r) for r in rows]


# --- outbox ----------------------------------------------------------------------------------------


def insert_outbox(
    store: SqlStore,
    cursor: Any,
    thread_id: str | None,
    seq: int,
    messages: list[OutboxMessage],
    key: str,
    *,
    parent_id: int | None = None,
) -> None:
    """Outbox rows for `messages`, pending; `key` makes each row's idempotency key unique."""
    now = utcnow()
    store.sql.insert_outbox.execute_many(
        cursor,
        [
            dict(
                thread_id=thread_id,
                seq=seq,
                recipient=m.recipient,
                channel=AUTO if m.channel is None else m.channel,
                kind=m.kind,
                text=m.text,
                request_id=m.request_id,
                status="pending",
                attempts=0,
                idempotency_key=f"{key}:{i}",
                created_at=now,
                rank=m.rank,
                address=m.address,
                conversation=m.conversation,
                parent_id=parent_id,
                payload=None,
                message_id=m.edit_of,
                next_attempt_at=0.0,
                last_error=None,
                sent_at=None,
            )
            for i, m in enumerate(messages)
        ],
    )


def _items(conn: Connection, query: Any) -> list[OutboxItem]:
    """The rows as core sees them: a row still to route has no channel (the column says AUTO)."""
    return [
        OutboxItem.model_validate(
            {**r._mapping, "channel": None if r.channel == AUTO else r.channel}
        )
        for r in conn.execute(query)
    ]


def outbox_due(conn: Connection, now: float, limit: int, lease: float) -> list[OutboxItem]:
    due = (
        select(outbox.c.id)
        .where(
            outbox.c.status.in_(("pending", "sending")),
            outbox.c.next_attempt_at <= now,
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(status="sending", next_attempt_at=now + lease)
    )
    return _items(conn, select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))


def outbox_next_at(conn: Connection) -> float | None:
    value = conn.execute(
        select(func.min(outbox.c.next_attempt_at)).where(
            outbox.c.status.in_(("pending", "sending"))
        )
    ).scalar()
    return float(value) if value is not None else None


def outbox_route(
    store: SqlStore, conn: Connection, item_id: int, deliveries: list[OutboxMessage], skip: str
) -> None:
    parent = conn.execute(select(outbox).where(outbox.c.id == item_id)).one()
    if deliveries:
        insert_outbox(
            store,
            store.cursor(conn),
            parent.thread_id,
            parent.seq,
            deliveries,
            parent.idempotency_key,
            parent_id=item_id,
        )
    conn.execute(
        update(outbox)
        .where(outbox.c.id == item_id)
        .values(status="routed" if deliveries else "skipped", last_error=skip or None)
    )


def outbox_sent(
    conn: Connection, item_id: int, message_id: str, conversation: str, payload: dict[str, Any]
) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id == item_id)
        .values(
            status="sent",
            message_id=message_id,
            conversation=conversation,
            payload=payload,
            attempts=outbox.c.attempts + 1,
            sent_at=utcnow(),
            last_error=None,
        )
    )


def outbox_failed(conn: Connection, item_id: int, error: str, retry_at: float | None) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id == item_id)
        .values(
            status="pending" if retry_at is not None else "dead",
            next_attempt_at=retry_at or 0.0,
            attempts=outbox.c.attempts + 1,
            last_error=error,
        )
    )


def outbox_list(
    conn: Connection,
    request_id: str | None,
    channel: str | None,
    status: str | None,
    limit: int,
) -> list[OutboxItem]:
    # The newest `limit` rows, oldest first.
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if request_id is not None:
        query = query.where(outbox.c.request_id == request_id)
    if channel is not None:
        query = query.where(outbox.c.channel == channel)
    if status is not None:
        query = query.where(outbox.c.status == status)
    return _items(conn, query)[::-1]


def inbox_list(
    conn: Connection, channel: str | None, conversation: str | None, limit: int
) -> list[InboxItem]:
    query = select(inbox).order_by(inbox.c.id.desc()).limit(limit)  # the newest, oldest first
    if channel is not None:
        query = query.where(inbox.c.channel == channel)
    if conversation is not None:
        query = query.where(inbox.c.conversation == conversation)
    return [InboxItem.model_validate(r._mapping) for r in conn.execute(query)][::-1]


# --- threads, timers, settings -------------------------------------------------------------------


def runnable(conn: Connection, limit: int) -> list[str]:
    free = or_(threads.c.lease_owner.is_(None), threads.c.lease_until < time.time())
    query = (
        select(threads.c.id)
        .where(threads.c.status.in_(RUNNABLE), free)
        .order_by(threads.c.updated_at)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def due_requests(conn: Connection, now: datetime) -> list[RequestInfo]:
    query = (
        select(requests)
        .where(requests.c.status == "open", requests.c.next_at <= now)
        .order_by(requests.c.next_at)
    )
    return [RequestInfo.model_validate(r._mapping) for r in conn.execute(query)]


def next_request_timer(conn: Connection) -> datetime | None:
    value: datetime | None = conn.execute(
        select(func.min(requests.c.next_at)).where(requests.c.status == "open")
    ).scalar()
    return value


def service_setting(conn: Connection, key: str) -> str | None:
    value: str | None = conn.execute(
        select(service_settings.c.value).where(service_settings.c.key == key)
    ).scalar()
    return value


def save_service_setting(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(service_settings).where(service_settings.c.key == key))
    conn.execute(insert(service_settings).values(key=key, value=value))


def counts(conn: Connection) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for name, table in (("threads", threads), ("requests", requests), ("outbox", outbox)):
        rows = conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
        found[name] = {status: n for status, n in rows}
    return found


def save_identities(conn: Connection, found: list[Person]) -> None:
    conn.execute(delete(identities).where(identities.c.person_id.in_([p.id for p in found])))
    rows = [
        dict(channel=channel, address=address, person_id=p.id)
        for p in found
        for channel, address in p.identities.items()
    ]
    if rows:
        conn.execute(insert(identities), rows)
