"""Fixtures: a migrated database per test, on SQLite and (when reachable) on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from core.agent import Agent, discover_agents
from core.models.base import Model
from core.runtime import Limits, Runtime
from core.store import Person
from storage import SqlStore, open_store
from storage.migrate import upgrade

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

POSTGRES = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PLATFORM_TABLES = [
    "threads",
    "events",
    "human_requests",
    "model_calls",
    "people",
    "outbox",
    "deployments",
    "refunds",
]

PEOPLE = [
    Person(id="alice", name="Alice", roles=["deploy-approver", "oncall"]),
    Person(id="bob", name="Bob", roles=["engineer"]),
    Person(id="erin", name="Erin", roles=["deploy-approver"]),
    Person(id="carol", name="Carol", roles=["support-manager"]),
    Person(id="dana", name="Dana", roles=[]),
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    import psycopg

    try:
        admin = psycopg.connect(
            POSTGRES.replace("postgresql+psycopg", "postgresql"), autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as e:
        pytest.skip(
            f"PostgreSQL not reachable at {POSTGRES} ({e}); set SWITCHBOARD_TEST_POSTGRES to run these"
        )
    name = f"switchboard_test_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(PLATFORM_TABLES)}"))
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "switchboard.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    s = open_store(database_url)
    await s.save_people(PEOPLE)
    yield s
    await s.close()


@pytest.fixture(scope="session")
def shipped_agents() -> dict[str, Agent]:
    return discover_agents()


class Sleeps:
    """An injected sleep: records the delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
def make_runtime(store: SqlStore, shipped_agents: dict[str, Agent]) -> RuntimeFactory:
    def make(
        model: Model,
        *,
        agents: dict[str, Agent] | None = None,
        limits: Limits | None = None,
        **kw: object,
    ) -> Runtime:
        return Runtime(
            store,
            {**shipped_agents, **(agents or {})},
            lambda _agent: model,
            limits=limits or Limits(),
            **kw,
        )  # type: ignore[arg-type]

    return make
