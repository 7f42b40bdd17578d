"""The whole loop over litellm's real HTTP path, against the loopback OpenAI-compatible double."""

from __future__ import annotations

import json

from core.events import ModelCalled, ModelFailed
from core.humans import Approve, respond
from core.models.llm import LiteLLMModel
from core.state import Status
from storage import SqlStore
from tests.doubles.openai_server import ErrorReply, OpenAIServer, TextReply, ToolCallReply
from tests.fixtures import RuntimeFactory, Sleeps

PROD = {"service": "api", "version": "2.4.1", "environment": "production"}


async def test_deploy_over_http_with_a_rate_limit_a_broken_reply_and_an_approval(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    replies = [
        ErrorReply(429, "slow down", error_type="rate_limit_error", retry_after="2"),
        ToolCallReply("check_release", '{"service": "api", "version": "2.4.1"'),  # broken JSON
        ToolCallReply("check_release", json.dumps({"service": "api", "version": "2.4.1"})),
        ToolCallReply("deploy", json.dumps(PROD)),
        TextReply(
            '{"tool": "reply", "arguments": {"message": "Deployed api 2.4.1 to production."}}'
        ),
    ]
    sleeps = Sleeps()
    with OpenAIServer(replies) as server:
        model = LiteLLMModel("openai/gpt-4o-mini", api_base=server.url, api_key="sk-test-not-real")
        runtime = make_runtime(model, sleep=sleeps)
        thread = await runtime.start("deploy", "deploy api 2.4.1 to production", requester="bob")
        assert (await runtime.advance(thread)).status is Status.WAITING_HUMAN
        [request] = await store.requests()
        await respond(store, request.id, "alice", Approve())
        assert (await runtime.advance(thread)).status is Status.DONE
        bodies = server.bodies

    assert sleeps.delays == [2.0]  # Retry-After honoured, once
    events = [s.event for s in await store.events(thread)]
    assert [e.reason for e in events if isinstance(e, ModelFailed)] == ["invalid_output"]
    calls = [e for e in events if isinstance(e, ModelCalled)]
    assert len(calls) == 4 and all((c.prompt_tokens, c.completion_tokens) == (42, 7) for c in calls)
    first = bodies[0]
    assert (
        first["messages"][0]["role"] == "system" and "deploy bot" in first["messages"][0]["content"]
    )
    assert [t["function"]["name"] for t in first["tools"]] == [
        "contact_human",
        "reply",
        "request_approval",
        "check_release",
        "deploy",
        "rollback",
    ]
    assert "approved" in bodies[-1]["messages"][1]["content"]
