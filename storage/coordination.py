"""What processes sharing one database tell each other (NOTIFY, locks) and the settings they share
(core.store.Coordination)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import Connection, delete, insert, select

from storage import locks, notify
from storage.database import Database
from storage.errors import unique_violation
from storage.tables import service_settings


class SqlCoordination(Database):
    async def listen(self, wake: Callable[[str], None]) -> None:
        if self.postgres:
            await notify.listen(self.engine, wake)

    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        if self.postgres:
            return locks.held_on_postgres(self.engine, name)
        return locks.held_by_this_process(self._held, name)

    async def service_setting(self, key: str) -> str | None:
        query = select(service_settings.c.value).where(service_settings.c.key == key)
        value: str | None = await self._run(lambda conn: conn.execute(query).scalar())
        return value

    async def save_service_setting(self, key: str, value: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(service_settings).where(service_settings.c.key == key))
            conn.execute(insert(service_settings).values(key=key, value=value))

        await self._run(work)

    async def claim_service_setting(self, key: str, value: str) -> str:
        try:
            await self._run(
                lambda conn: conn.execute(insert(service_settings).values(key=key, value=value))
            )
            return value
        except Exception as e:
            if not unique_violation(e):
                raise
            kept = await self.service_setting(key)
            assert kept is not None  # the first claim stands: only sign-in codes are taken
            return kept

    async def take_service_setting(self, key: str) -> str | None:
        statement = delete(service_settings).where(service_settings.c.key == key)
        returning = statement.returning(service_settings.c.value)
        value: str | None = await self._run(lambda conn: conn.execute(returning).scalar())
        return value
