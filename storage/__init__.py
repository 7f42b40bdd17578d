"""SQL storage: sqlmodel tables, the store (one unit of work per step), engine setup, migrations."""

from core.plugins import Backend
from storage.engine import connection_errors
from storage.store import SqlStore, open_store

__all__ = ["SqlBackend", "SqlStore", "backend", "open_store"]


class SqlBackend:
    """The `sql` storage backend, found by core through the `switchboard.backends` entry point.
    Each call is a start-up's (the CLI's, `serve`'s, `worker`'s, `db upgrade`'s): a database that
    cannot be reached or opened is Misconfigured, in one line (storage.engine.connection_errors)."""

    def open(self, database_url: str) -> SqlStore:
        with connection_errors(database_url):
            return open_store(database_url)

    def upgrade(self, database_url: str) -> None:
        from storage.migrate import upgrade

        with connection_errors(database_url):
            upgrade(database_url)

    def is_current(self, database_url: str) -> bool:
        from storage.schema import is_current

        with connection_errors(database_url):
            return is_current(database_url)


backend: Backend = SqlBackend()  # mypy checks here that SqlStore is the whole core.store.Store
