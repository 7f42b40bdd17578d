"""Which schema revision this code expects, checked without loading alembic (a CLI start-up cost).

tests/test_migrations.py keeps HEAD equal to the newest migration.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.engine import make_engine

HEAD = "0002"


def is_current(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            try:
                version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except DBAPIError:  # no alembic_version table: a database never migrated
                return False
        return version == HEAD
    finally:
        engine.dispose()
