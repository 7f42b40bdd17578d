# /// script
# requires-python = ">=3.11"
# dependencies = ["openai-agents>=0.24,<0.25", "switchboard-client"]
#
# [tool.uv.sources]
# switchboard-client = { path = "../../client", editable = true }
# ///
"""An OpenAI Agents SDK agent whose `deploy` tool runs only once a person approves that exact
call through Switchboard.

`@require_approval` asks role:deploy-approver to approve `deploy` with the model's arguments.
The approvers get the request on Slack, Discord, SMS or email. The tool runs once, with those
arguments, when they approve. Otherwise it does not run, and the model reads why, such as
"deploy was not run: rejected by alice via discord: not during the freeze".

    export SWITCHBOARD_URL=http://127.0.0.1:8000 SWITCHBOARD_KEY=sbk_... OPENAI_API_KEY=sk-...
    uv run docs/examples/openai_agents_tool.py "Deploy api 2.4.1"

Run it in an environment of its own, as `uv run` does (or `pip install ./client openai-agents`
in a fresh virtual environment), never in Switchboard's. The SDK's top-level package is named
`agents`, like Switchboard's own agents. Installed together, whichever comes first on sys.path
wins: Switchboard's inside its checkout, the SDK's everywhere else. Then one of them is broken,
and every `switchboard serve` would import the SDK.

The model is reached through chat completions, which any OpenAI-compatible endpoint speaks
(OPENAI_BASE_URL). Set OPENAI_AGENTS_DISABLE_TRACING=1 to keep the SDK's traces from OpenAI.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from openai import AsyncOpenAI
from switchboard_client import NotApproved, require_approval

# The OpenAI Agents SDK: ruff takes it for this checkout's own `agents`, hence its own block.
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    RunContextWrapper,
    Runner,
    default_tool_error_function,
    function_tool,
)

MODEL = "gpt-4.1-mini"


def not_approved(context: RunContextWrapper[Any], error: Exception) -> str:
    """What the model reads when the tool fails. The SDK's default hides the error; the model
    should know who refused and why."""
    if isinstance(error, NotApproved):
        return f"{error}. Do not try again: tell the user."
    return default_tool_error_function(context, error)


@function_tool(failure_error_function=not_approved)
@require_approval(to="role:deploy-approver", timeout=900)
async def deploy(service: str, version: str) -> str:
    """Deploy a version of a service to production.

    Args:
        service: the service's name, such as "api".
        version: the release to deploy, such as "2.4.1".
    """
    print(f"deploying {service} {version}", flush=True)  # the real deploy goes here
    return f"deployed {service} {version}"


def deployer() -> Agent[Any]:
    return Agent(
        name="deployer",
        instructions="You deploy services when asked, with the deploy tool.",
        tools=[deploy],
        model=OpenAIChatCompletionsModel(model=MODEL, openai_client=AsyncOpenAI()),
    )


async def main(request: str) -> None:
    result = await Runner.run(deployer(), request)  # SWITCHBOARD_URL, SWITCHBOARD_KEY
    print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "Deploy api 2.4.1"))
