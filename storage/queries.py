"""What the console, the API, the CLI and the timers read (core.store.Queries, core.store.Timing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from core.records import InboxItem, OutboxItem, RequestInfo, StoredEvent, ThreadInfo
from storage.database import Database
from storage.outbox import outbox_items
from storage.steps import read_events
from storage.tables import inbox, outbox, requests, threads


class SqlQueries(Database):
    async def thread(self, thread_id: str) -> ThreadInfo | None:
        return await self._one(self.sql.thread, thread_id, ThreadInfo)

    async def threads(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        channel: str | None = None,
        limit: int = 100,
    ) -> list[ThreadInfo]:
        statement = select(threads).order_by(threads.c.updated_at.desc()).limit(limit)
        for column, value in (("status", status), ("agent", agent), ("channel", channel)):
            if value:
                statement = statement.where(threads.c[column] == value)
        return await self._run(
            lambda conn: [ThreadInfo.model_validate(r._mapping) for r in conn.execute(statement)]
        )

    async def events(self, thread_id: str) -> list[StoredEvent]:
        return await self._run(
            lambda conn: read_events(self.sql, self.cursor(conn), thread_id, after=0)
        )

    async def request(self, request_id: str) -> RequestInfo | None:
        return await self._one(self.sql.request, request_id, RequestInfo)

    async def requests(
        self, *, status: str | None = "open", thread_id: str | None = None
    ) -> list[RequestInfo]:
        statement = select(requests).order_by(requests.c.created_at)
        if status:
            statement = statement.where(requests.c.status == status)
        if thread_id:
            statement = statement.where(requests.c.thread_id == thread_id)
        return await self._run(lambda conn: _requests(conn, statement))

    async def outbox(
        self,
        *,
        request_id: str | None = None,
        channel: str | None = None,
        conversation: str | None = None,
        status: str | None = None,
        limit: int = 500,
    ) -> list[OutboxItem]:
        query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)  # the newest, oldest first
        if request_id is not None:
            query = query.where(outbox.c.request_id == request_id)
        if channel is not None:
            query = query.where(outbox.c.channel == channel)
        if conversation is not None:
            query = query.where(outbox.c.conversation == conversation)
        if status is not None:
            query = query.where(outbox.c.status == status)
        return await self._run(lambda conn: outbox_items(conn, query)[::-1])

    async def inbox(
        self, *, channel: str | None = None, conversation: str | None = None, limit: int = 500
    ) -> list[InboxItem]:
        query = select(inbox).order_by(inbox.c.id.desc()).limit(limit)  # the newest, oldest first
        if channel is not None:
            query = query.where(inbox.c.channel == channel)
        if conversation is not None:
            query = query.where(inbox.c.conversation == conversation)
        return await self._run(
            lambda conn: [InboxItem.model_validate(r._mapping) for r in conn.execute(query)][::-1]
        )

    async def counts(self) -> dict[str, dict[str, int]]:
        def work(conn: Connection) -> dict[str, dict[str, int]]:
            found: dict[str, dict[str, int]] = {}
            for name, table in (("threads", threads), ("requests", requests), ("outbox", outbox)):
                rows = conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
                found[name] = {status: n for status, n in rows}
            return found

        return await self._run(work)


class SqlTiming(Database):
    async def due_requests(self, now: datetime) -> list[RequestInfo]:
        query = (
            select(requests)
            .where(requests.c.status == "open", requests.c.next_at <= now)
            .order_by(requests.c.next_at)
        )
        return await self._run(lambda conn: _requests(conn, query))

    async def next_request_timer(self) -> datetime | None:
        query = select(func.min(requests.c.next_at)).where(requests.c.status == "open")
        value: datetime | None = await self._run(lambda conn: conn.execute(query).scalar())
        return value


def _requests(conn: Connection, query: Select[Any]) -> list[RequestInfo]:
    return [RequestInfo.model_validate(r._mapping) for r in conn.execute(query)]
