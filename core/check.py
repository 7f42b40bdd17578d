"""`switchboard check`: the settings, the database, the people file, the agents, the model and the
channels, each said in one line with the setting and the fix; and the model check `serve` and
`worker` make before they start (`require_model`)."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.errors import Misconfigured, SwitchboardError

if TYPE_CHECKING:
    from core.channels import Channel
    from core.settings import Settings

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    text: str


def model_problem(settings: Settings, model: str) -> str | None:
    """Why `model` cannot be called as configured, in one line naming the fix; None when the key
    litellm will need is there (or SWITCHBOARD_LLM_API_BASE is set: a local server may need
    none). Imports litellm (seconds): only for a configured model, off the event loop."""
    from core.models.llm import missing_keys

    key = settings.switchboard_llm_api_key
    try:
        missing = missing_keys(model, key.get_secret_value() if key else None)
    except ValueError as e:
        return f"SWITCHBOARD_MODEL={model}: {e}: write it as provider/model, as openai/gpt-4o-mini"
    if missing and settings.switchboard_llm_api_base is None:
        return (
            f"SWITCHBOARD_MODEL={model} needs an API key: set SWITCHBOARD_LLM_API_KEY"
            f" (or {' / '.join(missing)}), or SWITCHBOARD_LLM_API_BASE for a local server"
        )
    return None


async def require_model(settings: Settings) -> None:
    """`serve` and `worker` start only with a model they can call: a configured model without
    its key is Misconfigured, in one line. The demo model (no SWITCHBOARD_MODEL) imports nothing."""
    model = settings.switchboard_model
    if model is None:
        return
    problem = await asyncio.to_thread(model_problem, settings, model)
    if problem is not None:
        raise Misconfigured(problem)


class Checks:
    """The findings, in order; an unexpected error is one line too (its traceback with debug)."""

    def __init__(self, *, debug: bool = False) -> None:
        self.debug = debug
        self.findings: list[Finding] = []

    def ok(self, text: str) -> None:
        self.findings.append(Finding("ok", text))

    def skip(self, text: str) -> None:
        self.findings.append(Finding("skip", text))

    def fail(self, what: str, error: BaseException) -> None:
        if isinstance(error, SwitchboardError):
            detail = error.detail
        else:
            detail = f"{what}: {type(error).__name__}: {error}".splitlines()[0]
        if self.debug:
            traceback.print_exception(error)
        self.findings.append(Finding("fail", detail))

    @property
    def failed(self) -> bool:
        return any(f.status == "fail" for f in self.findings)


async def run_checks(*, live: bool = False, debug: bool = False) -> Checks:
    """Every check; `live` adds those that need the network (a model call, the platforms)."""
    checks = Checks(debug=debug)
    settings = _settings(checks)
    if settings is None:
        return checks
    await _database(checks, settings)
    channels = _channels(checks, settings)
    try:
        _people(checks, settings, channels)
        _agents(checks, settings)
        await _model(checks, settings, live=live)
        await _channel_credentials(checks, channels, live=live)
    finally:
        for channel in channels.values():
            await channel.transport.close()
    return checks


def _settings(checks: Checks) -> Settings | None:

    from core.errors import BadSettings
    from core.settings import load_settings

    try:
        settings = load_settings()
    except BadSettings as e:
        checks.findings += [Finding("fail", problem) for problem in e.problems]
        return None
    except Exception as e:
        checks.fail("settings", e)
        return None
    checks.ok("settings: loaded from the environment and .env")
    return settings


async def _database(checks: Checks, settings: Settings) -> None:
    from core.service import _open_store
    from core.settings import mask_url

    try:
        store = await asyncio.to_thread(_open_store, settings, migrate=False)
        await store.close()
    except Exception as e:
        checks.fail("DATABASE_URL", e)
        return
    checks.ok(f"database {mask_url(settings.database_url)}: reachable, at the current schema")


def _channels(checks: Checks, settings: Settings) -> dict[str, Channel]:
    from core.app import build_channels

    try:
        return build_channels(settings)
    except Exception as e:
        checks.fail("channels", e)
        return {}


def _people(checks: Checks, settings: Settings, channels: Mapping[str, Channel]) -> None:
    from core.people import load_people_file

    path = settings.switchboard_people
    if path is None:
        checks.ok("people: SWITCHBOARD_PEOPLE is not set: the directory in the database is used")
        return
    try:
        people = load_people_file(path, channels)
    except Exception as e:
        checks.fail(f"SWITCHBOARD_PEOPLE={path}", e)
        return
    checks.ok(f"people: {len(people)} in {path}")


def _agents(checks: Checks, settings: Settings) -> None:
    from core.agent import discover_agents
    from core.service import _channel_agents

    try:
        agents = discover_agents()
        _channel_agents(settings, agents)
    except Exception as e:
        checks.fail("agents", e)
        return
    checks.ok(f"agents: {', '.join(sorted(agents)) or 'none'}")


async def _model(checks: Checks, settings: Settings, *, live: bool) -> None:
    model = settings.switchboard_model
    if model is None:
        checks.ok("model: the offline demo model (set SWITCHBOARD_MODEL for a real one)")
        return
    try:
        problem = await asyncio.to_thread(model_problem, settings, model)
    except Exception as e:
        checks.fail(f"SWITCHBOARD_MODEL={model}", e)
        return
    if problem is not None:
        checks.findings.append(Finding("fail", problem))
        return
    base = settings.switchboard_llm_api_base
    where = f" at {base} (no key check: SWITCHBOARD_LLM_API_BASE is set)" if base else ": key set"
    if not live:
        checks.ok(f"model {model}{where}; not called (--live)")
        return
    from core.models.advice import likely_fix
    from core.models.base import ProviderError
    from core.models.llm import LiteLLMModel

    key = settings.switchboard_llm_api_key
    client = LiteLLMModel(model, api_base=base, api_key=key.get_secret_value() if key else None)
    try:
        await client.ping()
    except ProviderError as e:
        said = str(e)
        fix = likely_fix(said) or "the provider refused a one-token call"
        checks.findings.append(Finding("fail", f"SWITCHBOARD_MODEL={model}: {fix} ({said})"))
        return
    except Exception as e:
        checks.fail(f"SWITCHBOARD_MODEL={model}", e)
        return
    checks.ok(f"model {model}{where}; answered a one-token call")


async def _channel_credentials(
    checks: Checks, channels: Mapping[str, Channel], *, live: bool
) -> None:
    for name, channel in sorted(channels.items()):
        if channel.sandbox:
            checks.ok(f"{name}: sandbox: no credentials")
        elif not live:
            checks.skip(f"{name}: credentials not checked (--live)")
        elif channel.check is None:
            checks.skip(f"{name}: this channel cannot check its credentials")
        else:
            try:
                await channel.check()
            except Exception as e:
                checks.fail(name, e)
                continue
            checks.ok(f"{name}: credentials accepted")
