"""The directory in SQL: people, their roles, and their address on each channel
(core.store.Directory)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, tuple_

from core.channels import Consent
from core.records import Person
from storage.database import Database
from storage.statements import Statements
from storage.tables import identities, opt_outs, people


def person_at(sql: Statements, cursor: Any, channel: str, address: str) -> Person | None:
    """Whoever has `address` on `channel`, inside the caller's transaction."""
    rows = sql.person_by_identity.fetch(cursor, {"b_channel": channel, "b_address": address})
    return Person.model_validate(rows[0]) if rows else None


def person_with(sql: Statements, cursor: Any, person_id: str) -> Person | None:
    """The person `person_id`, inside the caller's transaction."""
    rows = sql.person.fetch(cursor, {"b_id": person_id})
    return Person.model_validate(rows[0]) if rows else None


class SqlDirectory(Database):
    async def person(self, person_id: str) -> Person | None:
        return await self._one(self.sql.person, person_id, Person)

    async def people(self) -> list[Person]:
        statement = select(people).order_by(people.c.id)
        return await self._run(
            lambda conn: [Person.model_validate(r._mapping) for r in conn.execute(statement)]
        )

    async def person_by_identity(self, channel: str, address: str) -> Person | None:
        return await self._run(
            lambda conn: person_at(self.sql, self.cursor(conn), channel, address)
        )

    async def save_people(self, found: list[Person]) -> None:
        def work(conn: Connection) -> None:
            if self.postgres:  # processes starting together load one people file: one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('people'))"))
            ids = [p.id for p in found]
            conn.execute(delete(people).where(people.c.id.in_(ids)))
            conn.execute(delete(identities).where(identities.c.person_id.in_(ids)))
            if found:
                conn.execute(insert(people), [p.model_dump() for p in found])
            addresses = [
                dict(channel=channel, address=address, person_id=p.id)
                for p in found
                for channel, address in p.identities.items()
            ]
            if addresses:
                conn.execute(insert(identities), addresses)

        await self._run(work)

    async def consent(self, consent: Consent) -> None:
        where = (opt_outs.c.channel == consent.channel) & (opt_outs.c.address == consent.address)

        def work(conn: Connection) -> None:
            conn.execute(delete(opt_outs).where(where))
            if not consent.allowed:
                row = {"channel": consent.channel, "address": consent.address, "at": consent.at}
                conn.execute(insert(opt_outs).values(row))

        await self._run(work)

    async def opted_out(self, addresses: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        if not addresses:
            return set()
        query = select(opt_outs.c.channel, opt_outs.c.address).where(
            tuple_(opt_outs.c.channel, opt_outs.c.address).in_(list(addresses))
        )
        return await self._run(lambda conn: {(r.channel, r.address) for r in conn.execute(query)})
