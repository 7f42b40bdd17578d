"""Which schema revisions this code expects, checked without loading alembic (a CLI start-up cost).

The expected revisions are read from the migration files of the platform and of every installed
agent; tests/test_migrations.py keeps this reading equal to what `upgrade` leaves in the table.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.engine import make_engine
from storage.locations import version_locations

_LINKS = ("down_revision", "depends_on")


def expected_versions(locations: Iterable[Path]) -> frozenset[str]:
    """What `alembic_version` holds at the heads: the revisions no other one revises or needs."""
    revisions, linked = _revisions(locations)
    return frozenset(revisions - linked)


def is_current(database_url: str) -> bool:
    versions = database_versions(database_url)
    return versions is not None and versions == expected_versions(version_locations())


def unknown_versions(database_url: str) -> frozenset[str]:
    """Revisions the database is at that no migration here has: an uninstalled agent's, or a
    newer Switchboard's. Alembic cannot upgrade from them."""
    revisions, _ = _revisions(version_locations())
    return frozenset((database_versions(database_url) or set()) - revisions)


def database_versions(database_url: str) -> set[str] | None:
    """The rows of `alembic_version`; None for a database never migrated."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            try:
                return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
            except DBAPIError:  # no alembic_version table
                return None
    finally:
        engine.dispose()


def _revisions(locations: Iterable[Path]) -> tuple[set[str], set[str]]:
    """Every revision in `locations`, and those another one revises or needs."""
    revisions: set[str] = set()
    linked: set[str] = set()
    for folder in locations:
        for path in folder.glob("*.py"):
            fields = _revision_fields(path)
            if "revision" in fields:
                revisions.update(fields["revision"])
                linked.update(*(fields.get(name, ()) for name in _LINKS))
    return revisions, linked


def _revision_fields(path: Path) -> dict[str, tuple[str, ...]]:
    """A revision file's `revision`, `down_revision` and `depends_on`, as tuples of ids."""
    # Alembic's template declares them before the first function: parse only that part (cheap).
    header = path.read_text().split("\ndef ", 1)[0]
    fields: dict[str, tuple[str, ...]] = {}
    for node in ast.parse(header).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("revision", *_LINKS):
                    fields[target.id] = _ids(ast.literal_eval(node.value))
    return fields


def _ids(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list):
        return tuple(str(v) for v in value)
    raise ValueError(f"not a revision id or a sequence of them: {value!r}")
