"""The outbox in SQL: rows written with the step that caused them, taken by the dispatcher under a
lease, routed into concrete deliveries, settled as sent, retried or dead (core.store.Sending)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from core.channels import DELIVERY_ORDER, DeliveryStatus
from core.events import utcnow
from core.records import AUTO, OutboxItem, OutboxMessage
from storage.database import Database
from storage.notify import notify
from storage.statements import Statements
from storage.tables import outbox


def insert_outbox(
    sql: Statements,
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
    sql.insert_outbox.execute_many(
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
                private_reply=m.private_reply,
                parent_id=parent_id,
                payload=None,
                message_id=m.edit_of,
                next_attempt_at=0.0,
                last_error=None,
                sent_at=None,
                delivery=None,
            )
            for i, m in enumerate(messages)
        ],
    )


def outbox_items(conn: Connection, query: Any) -> list[OutboxItem]:
    """The rows as core sees them: a row still to route has no channel (the column says AUTO)."""
    return [
        OutboxItem.model_validate(
            {**r._mapping, "channel": None if r.channel == AUTO else r.channel}
        )
        for r in conn.execute(query)
    ]


class SqlSending(Database):
    async def outbox_due(
        self, now: float, *, limit: int = 50, lease: float = 60.0
    ) -> list[OutboxItem]:
        due = (
            select(outbox.c.id)
            .where(outbox.c.status.in_(("pending", "sending")), outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if self.postgres:
            due = due.with_for_update(skip_locked=True)

        def work(conn: Connection) -> list[OutboxItem]:
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status="sending", next_attempt_at=now + lease)
            )
            taken = select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)
            return outbox_items(conn, taken)

        return await self._run(work)

    async def outbox_next_at(self) -> float | None:
        query = select(func.min(outbox.c.next_attempt_at)).where(
            outbox.c.status.in_(("pending", "sending"))
        )
        value = await self._run(lambda conn: conn.execute(query).scalar())
        return float(value) if value is not None else None

    async def outbox_add(self, message: OutboxMessage, key: str) -> None:
        def work(conn: Connection) -> None:
            insert_outbox(self.sql, self.cursor(conn), None, 0, [message], key)
            if self.postgres:
                notify(self.cursor(conn), "outbox")

        await self._run(work)

    async def outbox_route(
        self, item_id: int, deliveries: list[OutboxMessage], skip: str = ""
    ) -> None:
        def work(conn: Connection) -> None:
            parent = conn.execute(select(outbox).where(outbox.c.id == item_id)).one()
            if deliveries:
                insert_outbox(
                    self.sql,
                    self.cursor(conn),
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

        await self._run(work)

    async def outbox_sent(
        self, item_id: int, *, message_id: str, conversation: str, payload: dict[str, Any]
    ) -> None:
        sent = (
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
                delivery=None,  # a message sent again: news of the earlier one is no news of it
            )
        )
        await self._run(lambda conn: conn.execute(sent))

    async def outbox_failed(
        self,
        item_id: int,
        *,
        error: str,
        retry_at: float | None,
        then: OutboxMessage | None = None,
        attempted: bool = True,
    ) -> None:
        failed = (
            update(outbox)
            .where(outbox.c.id == item_id)
            .values(
                status="pending" if retry_at is not None else "dead",
                next_attempt_at=retry_at or 0.0,
                attempts=outbox.c.attempts + (1 if attempted else 0),
                last_error=error,
            )
        )

        def work(conn: Connection) -> None:
            conn.execute(failed)
            if then is not None:
                row = conn.execute(select(outbox).where(outbox.c.id == item_id)).one()
                key = f"{row.idempotency_key}:then"
                cursor = self.cursor(conn)
                insert_outbox(
                    self.sql, cursor, row.thread_id, row.seq, [then], key, parent_id=item_id
                )

        await self._run(work)

    async def outbox_delivery(self, status: DeliveryStatus) -> tuple[OutboxItem, bool] | None:
        return await self._run(lambda conn: _record_delivery(conn, status))


def _record_delivery(conn: Connection, status: DeliveryStatus) -> tuple[OutboxItem, bool] | None:
    """The report on the row that sent `status.message_id` (the first one: an edit keeps its
    message's id), if it says more than the row knew. A failure is final; of the others, the
    furthest counts. Compared and set in one statement: two reports at once cannot both win."""
    row = conn.execute(
        select(outbox.c.id)
        .where(outbox.c.channel == status.channel, outbox.c.message_id == status.message_id)
        .order_by(outbox.c.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    if status.status == "failed":
        news = outbox.c.delivery.is_(None) | (outbox.c.delivery == "sent")
    else:
        later = DELIVERY_ORDER[DELIVERY_ORDER.index(status.status) :]
        news = outbox.c.delivery.is_(None) | outbox.c.delivery.not_in(("failed", *later))
    moved = conn.execute(
        update(outbox).where(outbox.c.id == row.id, news).values(delivery=status.status)
    )
    [item] = outbox_items(conn, select(outbox).where(outbox.c.id == row.id))
    return item, bool(moved.rowcount)
