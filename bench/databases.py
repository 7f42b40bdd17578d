"""Fresh, migrated databases for one run, and the bytes they take on disk."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.migrate import upgrade

_PG_TABLE_BYTES = """
select coalesce(sum(pg_total_relation_size(c.oid)), 0)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind = 'r'
"""


def fresh_sqlite(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}.db"
    upgrade(url)
    return url


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new database next to `admin_url`'s, migrated, and dropped afterwards whatever happens."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = (
                make_url(_libpq(admin_url)).set(database=name).render_as_string(hide_password=False)
            )
            upgrade(url)
            yield url
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def bytes_probe(url: str) -> Callable[[], int]:
    """What the database takes now: SQLite file + WAL after a truncating checkpoint; PG tables."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return lambda: _sqlite_bytes(path)
    return lambda: _postgres_bytes(url)


def _sqlite_bytes(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise RuntimeError(f"could not checkpoint {path}: a reader or writer is busy")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _postgres_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute(_PG_TABLE_BYTES).fetchone()
    assert row is not None
    return int(row[0])
