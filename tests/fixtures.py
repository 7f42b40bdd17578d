"""Fixtures: a migrated database per test, on SQLite and (when reachable) on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from core.agent import Agent, discover_agents
from core.models.base import Model
from core.runtime import Limits, Runtime
from core.service import Service, open_service
from core.settings import Settings
from core.store import Person
from storage import SqlStore, open_store
from storage.migrate import upgrade

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
T = TypeVar("T")

POSTGRES = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PLATFORM_TABLES = [
    "threads",
    "events",
    "human_requests",
    "model_calls",
    "people",
    "outbox",
    "identities",
    "inbox",
    "service_settings",
    "deployments",
    "refunds",
]

PEOPLE = [
    Person(
        id="alice",
        name="Alice",
        roles=["deploy-approver", "oncall"],
        channels=["discord", "slack"],
        identities={"slack": "U0ALICE", "discord": "1001", "email": "alice@example.com"},
    ),
    Person(
        id="bob",
        name="Bob",
        roles=["engineer"],
        escalate_to="alice",
        channels=["slack"],
        identities={"slack": "U0BOB", "sms": "+15550100002"},
    ),
    Person(
        id="erin",
        name="Erin",
        roles=["deploy-approver"],
        channels=["discord", "sms"],
        identities={"discord": "1005", "sms": "+15550100005"},
    ),
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


def service_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a service under test: this database, no people file, sandbox channels."""
    values: dict[str, object] = dict(
        database_url=database_url, switchboard_people=None, switchboard_api_token="test-token"
    )
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    """The whole service (no HTTP): inbox, workers, dispatcher and timers running."""
    async with open_service(service_settings(database_url), migrate=False) as svc:
        await svc.app.store.save_people(PEOPLE)
        task = asyncio.create_task(svc.run())
        try:
            yield svc
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 10.0) -> T:
    """Wait for `check` to return something (a condition, not a fixed sleep); fail after `within`."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {within}s: {check.__doc__ or check}")
        await asyncio.sleep(0.01)


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
