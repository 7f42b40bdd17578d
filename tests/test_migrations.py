"""Migrations: the platform's branch and every installed agent's, on both engines.

A database upgrades to the heads of all of them; one made before agents owned their tables
(platform revision 0002, the agents' tables inside) upgrades in place and keeps its rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import SQLModel

from core.agent import Agent
from storage.engine import make_engine
from storage.locations import version_locations
from storage.migrate import alembic_config, upgrade
from storage.schema import expected_versions, is_current
from tests.fixtures import empty_postgres
from tests.server import environment, free_port

OLD_HEAD = "0002"  # the platform's head before agents owned their tables
AGENT_TABLES = ("deployments", "releases", "orders", "refunds")  # made by platform revision 0001


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with empty_postgres() as url:
            yield url


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def versions(url: str) -> set[object]:
    return {v for (v,) in rows(url, "SELECT version_num FROM alembic_version")}


def test_each_shipped_agent_has_its_own_branch() -> None:
    folders = {p.relative_to(Path(__file__).parents[1]).as_posix() for p in version_locations()}
    assert folders == {
        "storage/migrations/versions",
        "agents/deploy/migrations",
        "agents/support/migrations",
    }


def test_a_fresh_database_gets_every_owners_tables(
    empty_url: str, shipped_agents: dict[str, Agent]
) -> None:
    assert not is_current(empty_url)
    upgrade(empty_url)
    assert is_current(empty_url)
    assert versions(empty_url) == expected_versions(version_locations())
    # With the shipped agents loaded, the models name the platform's tables and the agents'.
    assert table_names(empty_url) == set(SQLModel.metadata.tables)
    assert {"threads", "deployments", "orders"} <= table_names(empty_url)
    upgrade(empty_url)  # upgrading again is harmless
    assert is_current(empty_url)


def test_a_database_from_before_agents_owned_tables_upgrades_in_place(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), OLD_HEAD)  # what today's databases are at
    assert versions(empty_url) == {OLD_HEAD}
    assert not is_current(empty_url)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO deployments (service, version, environment, thread_id,"
                " idempotency_key, deployed_at) VALUES ('api', '2.4.1', 'production', 't1', 'k1', :at)"
            ),
            {"at": now},
        )
        conn.execute(sa.text("INSERT INTO releases VALUES ('api', '2.5.0', 'ours')"))
        conn.execute(sa.text("INSERT INTO orders VALUES ('20001', 'erin', 'kettle', 30.0, 'paid')"))
        conn.execute(
            sa.text(
                "INSERT INTO refunds (order_id, amount, reason, thread_id, issued_at)"
                " VALUES ('10002', 49.0, 'scratched', 't2', :at)"
            ),
            {"at": now},
        )
    engine.dispose()
    before = {t: rows(empty_url, f"SELECT * FROM {t} ORDER BY 1, 2") for t in AGENT_TABLES}

    upgrade(empty_url)

    assert is_current(empty_url)
    assert {t: rows(empty_url, f"SELECT * FROM {t} ORDER BY 1, 2") for t in AGENT_TABLES} == before
    assert [len(before[t]) for t in AGENT_TABLES] == [1, 4, 4, 1]  # seeded rows plus ours


def test_the_test_databases_are_current(database_url: str) -> None:
    assert is_current(database_url)


LEDGER_AGENT = """
from pathlib import Path

from core.agent import Agent

agent = Agent(name="ledger", prompt=Path(__file__).with_name("prompt.md.j2"))
"""

LEDGER_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("memo", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_entries")
"""


def install_ledger_agent(site: Path) -> None:
    """A user's own agent with a table: a package with a migration, and an entry point."""
    package = site / "ledger_agent"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text(LEDGER_AGENT)
    (package / "prompt.md.j2").write_text("You keep the ledger.\n")
    (package / "migrations" / "ledger_0001_entries.py").write_text(LEDGER_REVISION)
    dist = site / "ledger_agent-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ledger-agent\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[switchboard.agents]\nledger = ledger_agent:agent\n")


@pytest.mark.slow
def test_an_installed_agent_gets_its_table_from_db_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'switchboard.db'}"
    upgrade(url)  # a database in use before the agent is installed
    site = tmp_path / "site"
    install_ledger_agent(site)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    env = environment(tmp_path, free_port(), "token", url, PYTHONPATH=path)
    switchboard = str(Path(sys.executable).with_name("switchboard"))
    # `threads` checks the schema first: current now, the ledger's branch included.
    for command_line in (["db", "upgrade"], ["threads"]):
        done = subprocess.run(
            [switchboard, *command_line], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr

    assert "ledger_entries" in table_names(url)
    assert "ledger_0001" in versions(url)
    monkeypatch.syspath_prepend(str(site))
    assert is_current(url)


@pytest.mark.slow
def test_an_uninstalled_agents_revision_is_one_clear_line(tmp_path: Path) -> None:
    """Its table stays; `db upgrade` says which revisions nothing installed has, and keeps them."""
    url = f"sqlite:///{tmp_path / 'switchboard.db'}"
    site = tmp_path / "site"
    install_ledger_agent(site)
    switchboard = str(Path(sys.executable).with_name("switchboard"))
    env = environment(tmp_path, free_port(), "token", url)
    path = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    installed = subprocess.run(
        [switchboard, "db", "upgrade"], env={**env, "PYTHONPATH": path}, capture_output=True
    )
    assert installed.returncode == 0, installed.stderr

    done = subprocess.run(  # the agent's package is gone
        [switchboard, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "ledger_0001" in done.stderr and "install the agent" in done.stderr
    assert "Traceback" not in done.stderr
    assert "ledger_0001" in versions(url) and "ledger_entries" in table_names(url)
