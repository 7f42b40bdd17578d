"""Engine setup: SQLite (WAL) by default, PostgreSQL through psycopg."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from core.errors import Misconfigured
from core.settings import mask_url
from storage.errors import SUPPORTED_URLS, connection_problem, refused

BACKENDS = ("sqlite", "postgresql")
CONNECT_TIMEOUT = 10  # seconds a PostgreSQL connection may take, unless the URL says otherwise


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the driver we ship.
    A URL that is not one, or names a database we do not support, is Misconfigured."""
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except ArgumentError:
        said = f'"{mask_url(url)}" is not a database URL' if url.strip() else "is empty"
        raise Misconfigured(f"DATABASE_URL {said}; use {SUPPORTED_URLS}") from None
    except ValueError:  # SQLAlchemy's int() of the port
        raise refused(url, "the port is not a number", f"use {SUPPORTED_URLS}") from None
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise refused(
            url, f"{backend}:// is not supported", f"Switchboard runs on {SUPPORTED_URLS}"
        )
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.get_driver_name() != "pysqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def connection_errors(database_url: str) -> Iterator[None]:
    """Around the first connections of a start-up (the schema check, the migrations): a database
    that cannot be reached or opened ends as one Misconfigured line naming DATABASE_URL (its
    password masked) and the fix, not as the driver's traceback. Other errors pass unchanged."""
    try:
        yield
    except (DBAPIError, psycopg.Error, sqlite3.Error) as e:
        problem = connection_problem(e, database_url)
        if problem is None:
            raise
        raise problem from None


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # libpq waits as long as the operating system does for a host that does not answer (minutes).
    waits = {} if "connect_timeout" in make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, pool_size=8, pool_pre_ping=True, connect_args=waits)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # We say when transactions begin (below), not the sqlite3 module: its implicit BEGIN breaks
    # SAVEPOINT, which the database threads use to commit several units of work together.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the CLI, the console) work while a worker writes; NORMAL is durable in WAL
    # mode except for the last transactions on power loss, not on a process crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front (waiting out another process's writer), so a
    # transaction never fails half-way on a snapshot that another process's commit made stale.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
