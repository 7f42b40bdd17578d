"""Start-up: settings → backend, store, channels, people, agents, models, runtime. Nothing happens
at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.agent import Agent, discover_agents
from core.channels import Channel, discover_channels
from core.context import Redactor
from core.errors import SchemaOutdated
from core.logs import configure_logging
from core.models.base import Model
from core.models.demo import OfflineDemoModel
from core.models.llm import LiteLLMModel
from core.models.retry import Backoff
from core.people import load_people_file
from core.plugins import load_backend
from core.runtime import Limits, Runtime
from core.settings import Settings
from core.store import Store


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    store: Store
    agents: dict[str, Agent]
    runtime: Runtime
    channels: dict[str, Channel]


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Every channel, built (a factory connects nothing: a transport or listener does, when used)."""
    return {name: factory(settings) for name, factory in discover_channels(settings).items()}


class Models:
    """One model client per model string; the offline demo model when none is configured."""

    def __init__(self, settings: Settings, agents: dict[str, Agent]) -> None:
        self.settings = settings
        self.demo = OfflineDemoModel.playing(agents.values())
        self._clients: dict[str, Model] = {}

    def __call__(self, agent: Agent) -> Model:
        name = agent.model or self.settings.switchboard_model
        if name is None:
            return self.demo
        if name not in self._clients:
            key = self.settings.switchboard_llm_api_key
            self._clients[name] = LiteLLMModel(
                name,
                api_base=self.settings.switchboard_llm_api_base,
                api_key=key.get_secret_value() if key else None,
            )
        return self._clients[name]

    async def load(self, agents: dict[str, Agent]) -> None:
        """Make every client the agents use ready now, not during their first step."""
        for agent in agents.values():
            model = self(agent)
            if isinstance(model, LiteLLMModel):
                await model.load()


@asynccontextmanager
async def open_app(settings: Settings, *, migrate: bool = False) -> AsyncIterator[App]:
    redactor = Redactor(settings.secrets())
    configure_logging(redactor)
    backend = load_backend()
    if migrate:
        backend.upgrade(settings.database_url)
    elif not backend.is_current(settings.database_url):
        raise SchemaOutdated(
            f"the database {settings.database_url} is not at the current schema:"
            " run `switchboard db upgrade`"
        )
    store = backend.open(settings.database_url)
    channels: dict[str, Channel] = {}
    try:
        channels = build_channels(settings)
        if settings.switchboard_people is not None:
            await store.save_people(load_people_file(settings.switchboard_people, channels))
        agents = discover_agents()
        limits = Limits(
            context_tokens=settings.switchboard_context_tokens,
            lease_seconds=settings.switchboard_lease_seconds,
            escalation=settings.escalation(),
            backoff=Backoff(max_retry_after=settings.switchboard_retry_after_max_seconds),
        )
        models = Models(settings, agents)
        await models.load(agents)
        runtime = Runtime(
            store,
            agents,
            models,
            redactor=redactor,
            limits=limits,
        )
        yield App(settings, store, agents, runtime, channels)
    finally:
        for channel in channels.values():
            await channel.transport.close()
        await store.close()
