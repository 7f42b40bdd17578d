"""Database errors, recognised by what the database said, however they reached us.

A statement run through SQLAlchemy raises its `DBAPIError` wrapping the driver's error; one run on
the driver's own cursor (the prepared statements, the savepoints of a group commit) raises the
driver's error unwrapped: psycopg's on PostgreSQL, sqlite3's on SQLite. Every check here accepts
both, so no caller has to know which path a statement took.

A database that cannot be reached or opened at all is the person's to fix, not a bug:
`connection_problem` says which DATABASE_URL, what is wrong with it, and what to do, in one line.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from core.errors import Misconfigured
from core.settings import mask_url

DEADLOCK = "40P01"
SERIALIZATION_FAILURE = "40001"
UNIQUE_VIOLATION = "23505"
# SQLite's extended result codes for the same kind of fault as 23505.
_SQLITE_UNIQUE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def _driver_error(error: BaseException | None) -> BaseException | None:
    return error.orig if isinstance(error, DBAPIError) else error


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE of a database error (SQLite's unique violations as 23505), else None."""
    driver = _driver_error(error)
    if isinstance(driver, psycopg.Error):
        return driver.sqlstate
    if isinstance(driver, sqlite3.IntegrityError) and driver.sqlite_errorname in _SQLITE_UNIQUE:
        return UNIQUE_VIOLATION
    return None


def retryable(error: BaseException | None) -> bool:
    """The transaction was rolled back whole by the database's concurrency control: run it again."""
    return sqlstate(error) in (DEADLOCK, SERIALIZATION_FAILURE)


def unique_violation(error: BaseException | None) -> bool:
    return sqlstate(error) == UNIQUE_VIOLATION


# What to write instead of a DATABASE_URL that does not work, in every message that says so.
SUPPORTED_URLS = "sqlite:///path/to/switchboard.db or postgresql://user:password@host:5432/database"
# libpq's words for a connection that failed, and what a person does about each.
_NO_DATABASE = re.compile(r'database "([^"]+)" does not exist')
_NO_ROLE = re.compile(r'role "([^"]+)" does not exist')
_BAD_PASSWORD = re.compile(r'(?:password|authentication) failed for user "([^"]+)"')
_LIBPQ_PREFIX = re.compile(
    r"^(?:connection failed: )?(?:connection is bad: )?"
    r'(?:connection to server (?:at|on socket) "[^"]*"[^:]* failed: )?'
)
_SOCKET = re.compile(r'on socket "([^"]+)"')
_SQLITE_OPEN = ("unable to open database file", "readonly database", "file is not a database")


def refused(database_url: str, problem: str, fix: str) -> Misconfigured:
    """The one line for a DATABASE_URL that cannot be used: which (password masked), why, and
    what to do."""
    return Misconfigured(f"DATABASE_URL {mask_url(database_url)}: {problem}; {fix}")


def connection_problem(error: BaseException, database_url: str) -> Misconfigured | None:
    """A failed attempt to connect (or to open an SQLite file), as the person who set
    `database_url` can act on it; None when `error` is something else (a bug, or a statement's)."""
    driver = _driver_error(error)
    if isinstance(driver, psycopg.OperationalError) and _connection_class(driver.sqlstate):
        return _postgres_problem(str(driver), database_url)
    if isinstance(driver, sqlite3.DatabaseError) and any(
        words in str(driver) for words in _SQLITE_OPEN
    ):
        return _sqlite_problem(str(driver), database_url)
    return None


def _connection_class(state: str | None) -> bool:
    # No SQLSTATE: libpq failed before the server answered (refused, unresolved, timed out), or
    # the server refused the start-up packet (no database, no role, a wrong password); 08 is a
    # connection exception, 28 a refused authorisation, 3D000 no such database.
    return state is None or state.startswith(("08", "28", "3D"))


def _postgres_problem(said: str, database_url: str) -> Misconfigured:
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    socket = _SOCKET.search(said)  # no host in the URL: libpq's Unix socket
    where = f"the socket {socket[1]}" if socket else f"{url.host or 'localhost'}:{url.port or 5432}"
    if found := _NO_DATABASE.search(said):
        name = found[1]
        return refused(
            database_url,
            f'the database "{name}" does not exist on {where}',
            f"create it with `createdb {name}`, or name an existing database in DATABASE_URL",
        )
    if found := _BAD_PASSWORD.search(said):
        return refused(
            database_url,
            f'authentication failed for the user "{found[1]}" on {where}',
            "correct the user and password in DATABASE_URL",
        )
    if found := _NO_ROLE.search(said):
        return refused(
            database_url,
            f'the user "{found[1]}" does not exist on {where}',
            f"correct the user in DATABASE_URL, or create it with `createuser {found[1]}`",
        )
    if "no password supplied" in said:
        return refused(
            database_url,
            f"the server at {where} asks for a password and DATABASE_URL has none",
            "add it: postgresql://user:password@host:port/database",
        )
    if "connection refused" in said.lower() or (socket and "no such file" in said.lower()):
        return refused(
            database_url,
            f"nothing accepts connections at {where}",
            "start PostgreSQL there, or correct the host and port in DATABASE_URL",
        )
    if "resolve host" in said or "translate host name" in said:
        return refused(
            database_url,
            f"the host {url.host} is not known",
            "correct the host in DATABASE_URL",
        )
    if "timeout" in said.lower() or "timed out" in said.lower():
        return refused(
            database_url,
            f"no answer from {where} (timed out)",
            "check that PostgreSQL runs there and is reachable, or correct DATABASE_URL",
        )
    first = _LIBPQ_PREFIX.sub("", said.strip().splitlines()[0] if said.strip() else "")
    return refused(
        database_url,
        f"cannot connect to {where}: {first or 'the connection failed'}",
        "check that PostgreSQL runs there and that DATABASE_URL is right",
    )


def _sqlite_problem(said: str, database_url: str) -> Misconfigured:
    name = make_url(database_url).database or ""
    path = Path(name).absolute()
    folder = path.parent
    if "file is not a database" in said:
        return refused(
            database_url,
            f"{path} is not an SQLite database",
            "point DATABASE_URL at a Switchboard database, or at a new file",
        )
    if not folder.exists():
        return refused(
            database_url,
            f"the directory {folder} does not exist",
            f"create it (`mkdir -p {folder}`), or point DATABASE_URL at an existing directory",
        )
    if not folder.is_dir():
        return refused(
            database_url,
            f"{folder} is not a directory",
            "point DATABASE_URL at a file in a directory (sqlite:///path/to/switchboard.db)",
        )
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return refused(
            database_url,
            f"cannot write {path} (the file or its directory is not writable)",
            "make both writable for this user, or point DATABASE_URL at a writable directory",
        )
    return refused(
        database_url,
        f"cannot open {path}: {said}",
        "point DATABASE_URL at a writable file (sqlite:///path/to/switchboard.db)",
    )
