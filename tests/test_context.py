"""Context: rendered by our code, compacted past a threshold, secrets kept out of prompts."""

from __future__ import annotations

from core.context import ContextWindow, Redactor
from core.events import ContextCompacted, MessageEdited, MessageReceived
from core.models.scripted import Call, Fail, ScriptedModel, Text
from core.records import StoredEvent
from core.runtime import Limits
from storage import SqlStore
from tests.fixtures import RuntimeFactory

CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})


async def test_secrets_never_reach_the_prompt(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([Call("reply", {"message": "ok"})])
    runtime = make_runtime(model, redactor=Redactor(["xoxb-very-secret-token"]))
    thread = await runtime.start(
        "deploy", "my token is xoxb-very-secret-token, deploy api", requester="bob"
    )
    await runtime.advance(thread)
    assert "xoxb-very-secret-token" not in model.requests[0].context
    assert "my token is [redacted]" in model.requests[0].context
    assert "xoxb" not in model.requests[0].system


async def test_the_context_is_one_tagged_block_per_event(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK, Call("reply", {"message": "exists"})])
    runtime = make_runtime(model)
    await runtime.advance(await runtime.start("deploy", "is api 2.4.1 out?", requester="bob"))
    assert model.requests[1].context.splitlines()[0] == '<message from="bob" channel="cli">'
    assert '<call tool="check_release"' in model.requests[1].context
    assert '<result tool="check_release"' in model.requests[1].context


async def test_old_events_are_summarized_past_the_threshold_and_history_is_kept(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([CHECK] * 12 + [Call("reply", {"message": "done"})])
    runtime = make_runtime(model, limits=Limits(context_tokens=400, keep_tokens=150))
    thread = await runtime.start("deploy", "check api 2.4.1 a dozen times", requester="bob")
    await runtime.advance(thread)

    stored = await store.events(thread)
    compactions = [s.event for s in stored if isinstance(s.event, ContextCompacted)]
    assert compactions and all(c.method == "model" for c in compactions)
    assert isinstance(stored[0].event, MessageReceived)  # storage keeps the full history
    last = model.requests[-1].context
    assert last.startswith("<summary")
    assert "check api 2.4.1 a dozen times" not in last
    assert all(
        s.tokens > 0 for s in stored if s.event.type in ("tool_succeeded", "message_received")
    )


async def test_a_failing_summarizer_falls_back_to_truncation(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    steps = [CHECK] * 6 + [Call("reply", {"message": "done"})]
    model = ScriptedModel(
        steps, summaries=[Text("sorry, I cannot summarize"), Fail(500)] + [Fail(400)] * 5
    )
    runtime = make_runtime(model, limits=Limits(context_tokens=300, keep_tokens=100))
    thread = await runtime.start("deploy", "check api", requester="bob")
    await runtime.advance(thread)
    compactions = [
        s.event for s in await store.events(thread) if isinstance(s.event, ContextCompacted)
    ]
    assert compactions and {c.method for c in compactions} == {"truncation"}
    assert "check api" in compactions[0].summary


def test_stored_events_carry_their_token_counts() -> None:
    stored = StoredEvent(seq=1, tokens=7, event=MessageReceived(text="hi"))
    assert stored.tokens == 7


def test_an_edit_the_agent_has_not_read_takes_the_messages_place() -> None:
    window = ContextWindow()
    window.add(1, MessageReceived(text="deploy api 2.4.1", sender="bob", channel="slack"), 5)
    window.add(2, MessageReceived(text="and web too", sender="bob", channel="slack"), 4)
    window.add(3, MessageEdited(seq=1, text="deploy api 2.4.2", sender="bob", channel="slack"), 6)
    shown = window.render(Redactor(()))
    assert "2.4.2" in shown and "2.4.1" not in shown
    assert shown.index("2.4.2") < shown.index("and web too")  # in its place, seen once
    assert [b.seq for b in window.blocks] == [1, 2] and window.tokens == 10
