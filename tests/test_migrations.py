"""Migrations: a fresh database upgrades to the schema the code expects, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from storage.migrate import alembic_config, upgrade
from storage.schema import HEAD, is_current


def test_the_expected_revision_is_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == HEAD


def test_a_fresh_database_is_not_current_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert not is_current(url)
    upgrade(url)
    assert is_current(url)
    upgrade(url)  # upgrading again is harmless
    assert is_current(url)


def test_the_test_databases_are_current(database_url: str) -> None:
    assert is_current(database_url)
