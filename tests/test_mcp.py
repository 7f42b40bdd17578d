"""`switchboard mcp`: an MCP client (the official SDK's, over stdio) lists the tools, finds whom to
ask, and gets an answer Bob types in the Slack sandbox of a real `switchboard serve`; what the key
may not do is the tool call's error."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.server import Server, free_port, running_server
from tests.test_client import answers_in_the_sandbox, operator

pytestmark = pytest.mark.slow
BOB_ON_SLACK = "U0BOB"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve")) as started:
        yield started


@asynccontextmanager
async def mcp_session(server: Server, key: str, cwd: Path) -> AsyncIterator[ClientSession]:
    """`switchboard mcp` started over stdio as an MCP client (an IDE, a coding assistant) would."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "core", "mcp"],
        env={"SWITCHBOARD_URL": server.url, "SWITCHBOARD_KEY": key, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
    )
    with (cwd / "mcp.log").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def key_for(server: Server, name: str, *scope: str) -> str:
    with operator(server) as api:
        made = api.post("/callers", json={"name": name, "scope": list(scope)})
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


def bob_types(server: Server, question: str, text: str) -> None:
    """Bob answers in the Slack sandbox, in the conversation where the question reached him."""

    def asked(api: httpx.Client) -> str | None:
        found = [r["id"] for r in api.get("/requests").json() if r["question"] == question]
        return found[0] if found else None

    answers_in_the_sandbox(server, asked, "bob", "slack", sender=BOB_ON_SLACK, text=text)


async def bob_answers(session: ClientSession, server: Server, question: str, text: str) -> Any:
    """An MCP client asks Bob `question` (two regions to choose from); Bob types `text` in
    Slack; what the tool returned."""
    asking = asyncio.create_task(
        session.call_tool(
            "ask_human",
            {"question": question, "to": ["bob"], "options": ["eu-west-1", "us-east-1"]},
        )
    )
    await asyncio.to_thread(bob_types, server, question, text)
    return result_of(await asyncio.wait_for(asking, 30))


def result_of(called: Any) -> dict[str, Any]:
    assert not called.is_error, called.content
    found: dict[str, Any] = called.structured_content or json.loads(called.content[0].text)
    return found.get("result", found)


async def test_an_mcp_client_gets_the_answer_bob_types_in_slack(
    server: Server, tmp_path: Path
) -> None:
    key = key_for(server, "ide", "bob", "role:deploy-approver")
    async with mcp_session(server, key, tmp_path) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"ask_human", "request_approval", "list_people"}
        assert "to" in tools["ask_human"].input_schema["required"]

        people = result_of(await session.call_tool("list_people", {}))
        listed = people if isinstance(people, list) else people["result"]
        assert [(p["id"], p["channels"][0]) for p in listed] == [
            ("alice", "discord"),
            ("bob", "slack"),
            ("erin", "discord"),
        ]
        assert all("identities" not in p for p in listed)  # no addresses for a model

        question = "Which region should the new cache go to?"
        answered = await bob_answers(session, server, question, "eu-west-1")
    assert answered["status"] == "answered"
    assert (answered["answer"], answered["decided_by"], answered["decided_via"]) == (
        "eu-west-1",
        "bob",
        "slack",
    )


async def test_asking_outside_the_keys_scope_is_the_tools_error_and_asks_no_one(
    server: Server, tmp_path: Path
) -> None:
    key = key_for(server, "ide-narrow", "bob")
    async with mcp_session(server, key, tmp_path) as session:
        called = await session.call_tool(
            "request_approval",
            {"action": "deploy", "arguments": {"service": "api"}, "to": ["role:deploy-approver"]},
        )
    assert called.is_error
    assert "may not ask role:deploy-approver" in called.content[0].text
    with operator(server) as api:
        assert [r for r in api.get("/requests").json() if r["caller"] == "ide-narrow"] == []


async def test_with_a_port_it_serves_streamable_http(server: Server, tmp_path: Path) -> None:
    key = key_for(server, "ide-http", "bob")
    port = free_port()
    env = {"SWITCHBOARD_URL": server.url, "SWITCHBOARD_KEY": key, "PATH": "/usr/bin:/bin"}
    with (tmp_path / "mcp.log").open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core", "mcp", "--port", str(port),
            env=env, cwd=tmp_path, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)  # a poll interval: the server starts
        async with (
            streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            people = result_of(await session.call_tool("list_people", {}))
    finally:
        process.terminate()
        await process.wait()
    listed = people if isinstance(people, list) else people["result"]
    assert [p["id"] for p in listed] == ["bob"]
