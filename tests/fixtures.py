"""Fixtures: a migrated database per test, on SQLite and (when reachable) on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from core.agent import Agent, discover_agents
from core.channels import Simulator
from core.models.base import Model, ModelRequest, ModelResponse
from core.models.llm import LiteLLMModel
from core.records import Person
from core.runtime import Limits, Runtime
from core.service import Service, open_service
from core.settings import SECRET_VARIABLE, Settings
from storage import SqlStore, open_store
from storage.migrate import upgrade
from tests.server import FOREIGN, POSTGRES, fresh_database

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
T = TypeVar("T")


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
def written_tables(sqlite_template: Path) -> list[str]:
    """The tables tests write, emptied between tests on the shared PostgreSQL database: those a
    fresh upgrade leaves empty, the platform's and every agent's. The others hold the reference
    data that migrations seed (the demo's releases and orders); both engines run the same ones."""
    with contextlib.closing(sqlite3.connect(sqlite_template)) as db:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [
            name
            for name in names
            if name != "alembic_version"
            and not name.startswith("sqlite_")
            and db.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone() is None
        ]


def postgres_unreachable() -> str:
    """Why the tests' PostgreSQL cannot be used, or "" when it can."""
    import psycopg

    try:
        psycopg.connect(
            POSTGRES.replace("postgresql+psycopg", "postgresql"), connect_timeout=3
        ).close()
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"PostgreSQL not reachable at {POSTGRES} ({first}); set SWITCHBOARD_TEST_POSTGRES to run them"
    return ""


@contextlib.contextmanager
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; skips when the server is unreachable."""
    if why := postgres_unreachable():
        pytest.skip(why)
    with fresh_database() as url:
        yield url


NOT_RUN = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL, the tests marked for it are not run, and said so once (not once a
    test): at the end of the run, with the reason."""
    marked = [item for item in items if item.get_closest_marker("postgres")]
    if not marked or not (why := postgres_unreachable()):
        return
    items[:] = [item for item in items if not item.get_closest_marker("postgres")]
    config.hook.pytest_deselected(items=marked)
    config.stash[NOT_RUN] = f"{len(marked)} tests that need PostgreSQL were not run: {why}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its note to the controller, which prints the summary."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["not_run"] = session.config.stash.get(NOT_RUN, "")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    if note := getattr(node, "workeroutput", {}).get("not_run"):
        node.config.stash[NOT_RUN] = note


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if note := config.stash.get(NOT_RUN, ""):
        terminalreporter.write_line(note, yellow=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with empty_postgres() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    tables: list[str] = request.getfixturevalue("written_tables")
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)}"))
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
    """Settings for a service under test: this database, no people file, sandbox channels; never
    the developer's `.env` (and `isolated_environment` keeps their environment out)."""
    values: dict[str, object] = dict(
        database_url=database_url, switchboard_people=None, switchboard_api_token="test-token"
    )
    return Settings(_env_file=None, **{**values, **overrides})  # type: ignore[arg-type,call-arg]


# What a developer's environment may hold that must not reach a test: our settings and platform
# credentials (FOREIGN), and the keys litellm reads (OPENAI_API_KEY, …). The tests' own stay.
KEEP = (
    "SWITCHBOARD_TEST_",
    "SWITCHBOARD_SCREENSHOTS",
    "PG",
)  # PG*: libpq's own, for the test server
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True, scope="session")
def isolated_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            foreign = name.startswith(FOREIGN) or SECRET_VARIABLE.search(name.upper())
            if foreign and not name.startswith(KEEP):
                patch.delenv(name)
        yield


@pytest.fixture(autouse=True)
def no_real_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test whose model would reach a real provider fails loudly, before a request leaves:
    tests talk to scripted models and loopback doubles only. (Patched: the guard wraps the real
    client, which still runs for loopback doubles.)"""
    complete = LiteLLMModel.complete

    async def guarded(self: LiteLLMModel, request: ModelRequest) -> ModelResponse:
        if urlsplit(self.api_base or "").hostname not in LOOPBACK:
            where = self.api_base or "its provider"
            pytest.fail(
                f"a test tried to call the real model {self.name} at {where}: use ScriptedModel"
                " or the loopback OpenAI double (tests/doubles)",
                pytrace=False,
            )
        return await complete(self, request)

    monkeypatch.setattr(LiteLLMModel, "complete", guarded)


@contextlib.asynccontextmanager
async def running(settings: Settings, people: list[Person] = PEOPLE) -> AsyncIterator[Service]:
    """The whole service (no HTTP) with these people: inbox, workers, dispatcher, timers and the
    channels' listeners running until the block ends."""
    async with open_service(settings, migrate=False) as svc:
        await svc.app.store.save_people(people)
        task = asyncio.create_task(svc.run())
        try:
            yield svc
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    """The whole service (no HTTP): inbox, workers, dispatcher and timers running."""
    async with running(service_settings(database_url)) as svc:
        yield svc


def simulator(service: Service, channel: str) -> Simulator:
    """The sandbox's stand-in for `channel`'s platform: what its webhook would bring."""
    found = service.channels[channel].simulator
    assert found is not None, f"{channel} is not a sandbox"
    return found


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
