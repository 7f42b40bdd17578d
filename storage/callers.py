"""The callers' keys in SQL (core.store.Callers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from core.records import Caller
from storage.database import Database
from storage.errors import unique_violation
from storage.tables import callers


class SqlCallers(Database):
    async def add_caller(self, caller: Caller, key_hash: str) -> bool:
        row = {**caller.model_dump(), "secret": caller.secret, "key_hash": key_hash}

        try:
            await self._run(lambda conn: conn.execute(insert(callers).values(**row)))
        except Exception as e:
            if not unique_violation(e):  # the name is taken (a key's hash never is)
                raise
            return False
        return True

    async def callers(self) -> list[Caller]:
        query = select(callers).order_by(callers.c.name)
        return await self._run(
            lambda conn: [Caller.model_validate(r._mapping) for r in conn.execute(query)]
        )

    async def caller(self, name: str) -> Caller | None:
        query = select(callers).where(callers.c.name == name)
        row = await self._run(lambda conn: conn.execute(query).first())
        return Caller.model_validate(row._mapping) if row else None

    async def caller_with_key(self, key_hash: str) -> Caller | None:
        query = select(callers).where(
            callers.c.key_hash == key_hash, callers.c.revoked_at.is_(None)
        )
        row = await self._run(lambda conn: conn.execute(query).first())
        return Caller.model_validate(row._mapping) if row else None

    async def revoke_caller(self, name: str, at: datetime) -> Caller | None:
        def work(conn: Connection) -> Caller | None:
            conn.execute(
                update(callers)
                .where(callers.c.name == name, callers.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            row = conn.execute(select(callers).where(callers.c.name == name)).first()
            return Caller.model_validate(row._mapping) if row else None

        return await self._run(work)
