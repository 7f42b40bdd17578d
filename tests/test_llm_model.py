"""LiteLLMModel through litellm's real HTTP path, against a loopback OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from core.models.base import ModelRequest, ModelResponse, ProviderError, extract_call
from core.models.llm import LiteLLMModel
from tests.doubles.openai_server import ErrorReply, OpenAIServer, TextReply, ToolCallReply

MODEL = "openai/gpt-4o-mini"
KEY = "sk-test-not-real"
DEPLOY_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "deploy",
        "description": "Deploy a service version to an environment.",
        "parameters": {
            "type": "object",
            "properties": {"service": {"type": "string"}, "version": {"type": "string"}},
            "required": ["service", "version"],
        },
    },
}
REQUEST = ModelRequest(
    agent="deploy",
    system="You deploy services. Call exactly one tool.",
    context="<message from=alice>deploy api 2.4.1</message>",
    tools=[DEPLOY_TOOL],
)


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def model(server: OpenAIServer) -> LiteLLMModel:
    return LiteLLMModel(MODEL, api_base=server.url, api_key=KEY, timeout=5.0)


async def fail(model: LiteLLMModel, request: ModelRequest = REQUEST) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await model.complete(request)
    assert KEY not in str(caught.value)
    return caught.value


async def test_native_tool_call_round_trip(server: OpenAIServer, model: LiteLLMModel) -> None:
    raw = '{"service": "api",   "version": "2.4.1"}'  # odd spacing: passed on verbatim
    server.reply(ToolCallReply("deploy", raw))

    response = await model.complete(REQUEST)

    assert response == ModelResponse(
        model=MODEL,
        tool_name="deploy",
        arguments=raw,
        prompt_tokens=42,
        completion_tokens=7,
        cost=response.cost,
    )
    assert response.cost > 0  # gpt-4o-mini is in litellm's local price list
    assert extract_call(response) == ("deploy", {"service": "api", "version": "2.4.1"})
    [received] = server.requests
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.body["model"] == "gpt-4o-mini"
    assert received.body["messages"] == REQUEST.messages()
    assert received.body["tools"] == [DEPLOY_TOOL]
    assert received.body["tool_choice"] == "auto"
    assert not received.body.get("stream")


async def test_an_api_base_without_v1(server: OpenAIServer) -> None:
    server.reply(TextReply("hello"))
    root = LiteLLMModel(MODEL, api_base=server.url.removesuffix("/v1"), api_key=KEY)

    response = await root.complete(REQUEST)

    assert response.text == "hello"
    assert [r.path for r in server.requests] == ["/chat/completions"]


async def test_importing_the_module_does_not_import_litellm() -> None:
    check = "import sys, core.models.llm; sys.exit('litellm' in sys.modules)"
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", check)

    assert await process.wait() == 0


async def test_text_content_carries_a_json_in_text_call(
    server: OpenAIServer, model: LiteLLMModel
) -> None:
    call = {"tool": "deploy", "arguments": {"service": "api", "version": "2.4.1"}}
    server.reply(TextReply(f"Sure.\n```json\n{json.dumps(call)}\n```"))

    response = await model.complete(REQUEST)

    assert response.tool_name is None
    assert response.arguments is None
    assert "```json" in response.text
    assert extract_call(response) == ("deploy", {"service": "api", "version": "2.4.1"})


async def test_a_summary_request_sends_no_tools(server: OpenAIServer, model: LiteLLMModel) -> None:
    server.reply(TextReply('{"summary": "alice asked for a deploy"}'))
    summary = ModelRequest(
        agent="deploy", system="Summarise.", context="...", tools=[DEPLOY_TOOL], purpose="summary"
    )

    response = await model.complete(summary)

    assert response.text == '{"summary": "alice asked for a deploy"}'
    [body] = server.bodies
    assert "tools" not in body
    assert "tool_choice" not in body
    assert body["messages"] == summary.messages()


async def test_an_unpriced_model_costs_nothing_quietly(
    server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.reply(TextReply("hello"))
    local = LiteLLMModel("openai/switchboard-local-test", api_base=server.url, api_key=KEY)

    with caplog.at_level(logging.WARNING):
        response = await local.complete(REQUEST)

    assert (response.text, response.cost, response.model) == (
        "hello",
        0.0,
        "openai/switchboard-local-test",
    )
    assert [r.getMessage() for r in caplog.records] == []


async def test_429_with_retry_after_is_retryable(
    server: OpenAIServer, model: LiteLLMModel, capsys: pytest.CaptureFixture[str]
) -> None:
    server.reply(ErrorReply(429, "Rate limit reached", "requests", "rate_limit_exceeded", "7"))

    error = await fail(model)

    assert (error.status, error.retry_after, error.retryable) == (429, 7.0, True)
    assert "Rate limit reached" in str(error)
    assert len(server.requests) == 1  # litellm did not retry on its own
    assert capsys.readouterr().out == ""  # no litellm "Give Feedback" banner


async def test_retry_after_as_an_http_date(server: OpenAIServer, model: LiteLLMModel) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.reply(ErrorReply(429, "slow down", "requests", retry_after=when))

    error = await fail(model)

    assert error.retry_after is not None
    assert 25 <= error.retry_after <= 30


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retryable(
    server: OpenAIServer, model: LiteLLMModel, status: int
) -> None:
    server.reply(ErrorReply(status, "The server had an error", "server_error"))

    error = await fail(model)

    assert (error.status, error.retry_after, error.retryable) == (status, None, True)
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_are_final(
    server: OpenAIServer, model: LiteLLMModel, status: int
) -> None:
    # Providers echo credentials back in some error texts; ours must not repeat them.
    server.reply(ErrorReply(status, f"Incorrect API key provided: {KEY}", "invalid_request_error"))

    error = await fail(model)

    assert (error.status, error.retryable) == (status, False)
    assert "Incorrect API key provided" in str(error)
    assert len(server.requests) == 1


async def test_a_key_of_any_shape_stays_out_of_errors(server: OpenAIServer) -> None:
    key = "local-hunter2-secret"
    server.reply(ErrorReply(401, f"Incorrect API key provided: {key}", "invalid_request_error"))
    local = LiteLLMModel(MODEL, api_base=server.url, api_key=key)

    with pytest.raises(ProviderError) as caught:
        await local.complete(REQUEST)

    assert key not in str(caught.value)
    assert key not in repr(caught.value)


async def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = LiteLLMModel(MODEL, api_base=f"http://127.0.0.1:{port}/v1", api_key=KEY)

    error = await fail(model)

    assert (error.status, error.retry_after, error.retryable) == (None, None, True)


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and reads requests, but never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1"
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_a_timeout_is_retryable(silent_server: str) -> None:
    model = LiteLLMModel(MODEL, api_base=silent_server, api_key=KEY, timeout=0.3)

    error = await fail(model)

    assert (error.status, error.retryable) == (None, True)
