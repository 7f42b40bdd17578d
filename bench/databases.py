"""Fresh, migrated databases for one run, and the bytes they take on disk."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.migrate import upgrade

_PG_TABLE_BYTES = """
select c.relname, pg_total_relation_size(c.oid)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind = 'r'
"""


@dataclass(frozen=True, slots=True)
class Size:
    total: int  # SQLite: file + WAL after a truncating checkpoint; PostgreSQL: the tables
    tables: dict[str, int]  # SQLite: pages per table and index (dbstat); PostgreSQL: per table


def fresh_sqlite(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}.db"
    upgrade(url)
    return url


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new database beside `admin_url`'s, migrated, and dropped afterwards whatever happens."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(_libpq(admin_url)).set(database=name)
            upgrade(url.render_as_string(hide_password=False))
            yield url.render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def size_probe(url: str) -> Callable[[], Size]:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return lambda: _sqlite_size(path)
    return lambda: _postgres_size(url)


def _sqlite_size(path: Path) -> Size:
    with closing(sqlite3.connect(path)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError(f"could not checkpoint {path}: a reader or writer is busy")
        try:
            rows = conn.execute("select name, sum(pgsize) from dbstat group by name").fetchall()
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            rows = []
    wal = path.with_name(path.name + "-wal")
    total = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return Size(total, {name: int(size) for name, size in rows})


def _postgres_size(url: str) -> Size:
    import psycopg

    with psycopg.connect(_libpq(url)) as conn:
        tables = {str(name): int(size) for name, size in conn.execute(_PG_TABLE_BYTES)}
    return Size(sum(tables.values()), tables)


_INBOX_OUTCOMES = "select outcome, count(*) from inbox where channel = ? group by outcome"


def inbox_outcomes(url: str, channel: str) -> Counter[str]:
    """The inbox's rows for `channel` by outcome: every message stored, once (duplicates are not)."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            rows = conn.execute(_INBOX_OUTCOMES, (channel,)).fetchall()
    else:
        import psycopg

        with psycopg.connect(_libpq(url)) as pg:
            rows = pg.execute(_INBOX_OUTCOMES.replace("?", "%s"), (channel,)).fetchall()
    return Counter({str(outcome): int(count) for outcome, count in rows})
