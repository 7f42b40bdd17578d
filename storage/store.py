"""SqlStore: every part of the core's Store on SQLAlchemy, one transaction per unit of work.

Each part is its own class over the shared `Database` (storage/database.py), in the module named
for it, as core/store.py splits the protocols: steps, directory, queries and timing, inbox, outbox,
coordination.
"""

from __future__ import annotations

from storage.callers import SqlCallers
from storage.coordination import SqlCoordination
from storage.directory import SqlDirectory
from storage.engine import make_engine
from storage.inbox import SqlReceiving
from storage.outbox import SqlSending
from storage.queries import SqlQueries, SqlTiming


class SqlStore(
    SqlReceiving, SqlDirectory, SqlQueries, SqlTiming, SqlSending, SqlCoordination, SqlCallers
):
    """The whole store: what `switchboard.backends`' `sql` opens (core.store.Store)."""


def open_store(database_url: str) -> SqlStore:
    return SqlStore(make_engine(database_url))
