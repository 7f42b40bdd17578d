"""SQL storage: sqlmodel tables, the store (one unit of work per step), engine setup, migrations."""

from core.plugins import Backend
from storage.store import SqlStore, open_store

__all__ = ["SqlBackend", "SqlStore", "backend", "open_store"]


class SqlBackend:
    """The `sql` storage backend, found by core through the `switchboard.backends` entry point."""

    def open(self, database_url: str) -> SqlStore:
        return open_store(database_url)

    def upgrade(self, database_url: str) -> None:
        from storage.migrate import upgrade

        upgrade(database_url)

    def is_current(self, database_url: str) -> bool:
        from storage.schema import is_current

        return is_current(database_url)


backend: Backend = SqlBackend()  # mypy checks here that SqlStore is the whole core.store.Store
