"""Database errors, recognised by what the database said, however they reached us.

A statement run through SQLAlchemy raises its `DBAPIError` wrapping the driver's error; one run on
the driver's own cursor (the prepared statements, the savepoints of a group commit) raises the
driver's error unwrapped: psycopg's on PostgreSQL, sqlite3's on SQLite. Every check here accepts
both, so no caller has to know which path a statement took.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.exc import DBAPIError

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
