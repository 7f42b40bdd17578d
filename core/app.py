"""What the CLI works with (the app: settings, store, agents, runtime, channels) and the model
clients the runtime calls. Start-up builds them: core/service.py `open_service`, the one way."""

from __future__ import annotations

from dataclasses import dataclass

from core.agent import Agent
from core.channels import Channel, discover_channels
from core.models.base import Model
from core.models.demo import OfflineDemoModel
from core.models.llm import LiteLLMModel
from core.runtime import Runtime
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
