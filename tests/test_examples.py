"""docs/examples/ against a real `switchboard serve`: a LangGraph graph resumes with Alice's
Discord decision; an OpenAI Agents SDK agent, driven by a scripted model, deploys once Alice
approves and not when she rejects; the MCP configuration starts a server that gets Bob's answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from switchboard_client import AsyncSwitchboard

from tests.doubles.openai_server import OpenAIServer, TextReply, ToolCallReply
from tests.server import ROOT, Server, running_server
from tests.test_client import alice_presses, operator
from tests.test_mcp import bob_answers, key_for

pytestmark = pytest.mark.slow
EXAMPLES = ROOT / "docs" / "examples"
# Settings of the developer's that an example must not see: it reaches only the test's server
# and model.
FOREIGN = ("SWITCHBOARD_", "OPENAI_", "PYTHONPATH", "VIRTUAL_ENV")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve")) as started:
        yield started


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    return key_for(server, "examples", "*")


def example(name: str) -> ModuleType:
    """An example loaded from its file: docs/examples is not a package, nor on the path. It is
    in sys.modules, as an imported module is: LangGraph reads the state's type hints there."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def environment(server: Server, key: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    return env | {"SWITCHBOARD_URL": server.url, "SWITCHBOARD_KEY": key} | settings


async def asked(server: Server, action: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The open request for `action(arguments)` an example has just made. Bounded generously:
    the first `uv run` of an example makes its environment."""

    def find() -> list[dict[str, Any]]:
        with operator(server) as api:
            open_requests = api.get("/requests").json()
        return [r for r in open_requests if (r["tool"], r["arguments"]) == (action, arguments)]

    for _ in range(600):
        if found := await asyncio.to_thread(find):
            return found[-1]
        await asyncio.sleep(0.1)  # a poll interval: the example is asking
    raise AssertionError(f"no open request for {action}({arguments})")


async def test_a_langgraph_graph_resumes_with_alices_approval(server: Server, key: str) -> None:
    langgraph_interrupt = example("langgraph_interrupt")
    async with AsyncSwitchboard(server.url, key, timeout=60) as board:
        running = asyncio.create_task(
            langgraph_interrupt.refund("cus_123", 40, to="alice", board=board)
        )
        request = await asked(server, "refund", {"customer": "cus_123", "amount": 40})
        assert request["question"] == "Refund 40 EUR to cus_123?"
        await asyncio.to_thread(alice_presses, server, request["id"], "approve")
        outcome = await asyncio.wait_for(running, 30)
    assert outcome == "refunded 40 EUR to cus_123: approved by alice via discord"


async def test_the_langgraph_script_prints_alices_rejection(
    server: Server, key: str, tmp_path: Path
) -> None:
    script = await asyncio.create_subprocess_exec(
        sys.executable, EXAMPLES / "langgraph_interrupt.py",
        "--customer", "cus_9", "--amount", "900", "--to", "alice",
        cwd=tmp_path, env=environment(server, key), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    request = await asked(server, "refund", {"customer": "cus_9", "amount": 900})
    await asyncio.to_thread(alice_presses, server, request["id"], "reject", "over the limit")
    out, err = await asyncio.wait_for(script.communicate(), 30)
    assert script.returncode == 0, err.decode()
    assert out.decode() == "no refund for cus_9: rejected by alice via discord: over the limit\n"


@pytest.fixture(scope="module")
def uv() -> str:
    """The OpenAI Agents SDK's package is named `agents`, like Switchboard's: it cannot be in
    this environment. `uv run` makes the example its own, from its inline metadata."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.skip("no uv to run docs/examples/openai_agents_tool.py in its own environment")
    return found


async def run_the_deployer(
    uv: str, server: Server, key: str, model: OpenAIServer, request: str, cwd: Path
) -> asyncio.subprocess.Process:
    """`uv run docs/examples/openai_agents_tool.py REQUEST`, as a user would, its model the
    scripted double and its traces kept home."""
    env = environment(
        server, key,
        OPENAI_API_KEY="sk-double", OPENAI_BASE_URL=model.url, OPENAI_AGENTS_DISABLE_TRACING="1",
    )  # fmt: skip
    return await asyncio.create_subprocess_exec(
        uv, "run", "--quiet", "--python", sys.executable, EXAMPLES / "openai_agents_tool.py", request,
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def tool_outputs(model: OpenAIServer) -> list[str]:
    """What the agent told the model each tool call gave."""
    return [
        message["content"]
        for body in model.bodies
        for message in body["messages"]
        if message["role"] == "tool"
    ]


DEPLOY = {"service": "api", "version": "2.4.1"}


async def test_an_openai_agent_deploys_once_with_the_arguments_alice_approved(
    uv: str, server: Server, key: str, tmp_path: Path
) -> None:
    script = [ToolCallReply("deploy", json.dumps(DEPLOY)), TextReply("Deployed api 2.4.1.")]
    with OpenAIServer(script) as model:
        deployer = await run_the_deployer(uv, server, key, model, "Deploy api 2.4.1", tmp_path)
        request = await asked(server, "deploy", DEPLOY)
        assert request["recipients"] == ["role:deploy-approver"]
        await asyncio.to_thread(alice_presses, server, request["id"], "approve")
        out, err = await asyncio.wait_for(deployer.communicate(), 60)
    assert deployer.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["deploying api 2.4.1", "Deployed api 2.4.1."]
    assert tool_outputs(model) == ["deployed api 2.4.1"]


async def test_an_openai_agent_does_not_deploy_what_alice_rejects_and_reads_why(
    uv: str, server: Server, key: str, tmp_path: Path
) -> None:
    arguments = {"service": "billing", "version": "9.0.0"}
    script = [ToolCallReply("deploy", json.dumps(arguments)), TextReply("Alice said no.")]
    with OpenAIServer(script) as model:
        deployer = await run_the_deployer(uv, server, key, model, "Deploy billing 9", tmp_path)
        request = await asked(server, "deploy", arguments)
        await asyncio.to_thread(alice_presses, server, request["id"], "reject", "not in the freeze")
        out, err = await asyncio.wait_for(deployer.communicate(), 60)
    assert deployer.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["Alice said no."]  # no "deploying billing 9.0.0"
    assert tool_outputs(model) == [
        "deploy was not run: rejected by alice via discord: not in the freeze."
        " Do not try again: tell the user."
    ]


async def test_the_mcp_configuration_starts_a_server_that_gets_bobs_answer(
    server: Server, key: str, tmp_path: Path
) -> None:
    configured = json.loads((EXAMPLES / "mcp.json").read_text())["mcpServers"]["switchboard"]
    assert set(configured["env"]) == {"SWITCHBOARD_URL", "SWITCHBOARD_KEY"}
    # The command as a client finds it on its PATH: here, in this virtual environment.
    command = shutil.which(configured["command"], path=str(Path(sys.executable).parent))
    assert command is not None, configured["command"]
    params = StdioServerParameters(
        command=command,
        args=configured["args"],
        env=configured["env"] | {"SWITCHBOARD_URL": server.url, "SWITCHBOARD_KEY": key},
        cwd=tmp_path,
    )
    question = "Which region should the new queue go to?"
    with (tmp_path / "mcp.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert tools == {"ask_human", "request_approval", "list_people"}
            answered = await bob_answers(session, server, question, "us-east-1")
    assert (answered["status"], answered["answer"], answered["decided_by"]) == (
        "answered",
        "us-east-1",
        "bob",
    )
