"""Explicit errors: bad model output and provider failures are events; 3 in a row escalate."""

from __future__ import annotations

from core.events import ErrorCompacted, HumanRequested, ModelFailed, ToolFailed
from core.models.retry import Backoff
from core.models.scripted import Call, Fail, ScriptedModel, Text
from core.runtime import Limits
from storage import SqlStore
from tests.fixtures import RuntimeFactory, Sleeps

CHECK = Call("check_release", {"service": "api", "version": "2.4.1"})
REPLY = Call("reply", {"message": "api 2.4.1 exists."})


async def run(
    store: SqlStore, make_runtime: RuntimeFactory, model: ScriptedModel, **kw: object
) -> tuple[str, list[object]]:
    runtime = make_runtime(model, **kw)
    thread = await runtime.start("deploy", "is api 2.4.1 out?", requester="bob")
    await runtime.advance(thread)
    return thread, [s.event for s in await store.events(thread)]


async def test_one_broken_output_is_shown_to_the_model_then_cleared_by_a_success(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel(
        [Text('{"tool": "check_release", "arguments": {"service": "api"'), CHECK, REPLY]
    )
    thread, events = await run(store, make_runtime, model)

    [failure] = [e for e in events if isinstance(e, ModelFailed)]
    assert failure.reason == "invalid_output" and "broken JSON" in failure.error
    assert "broken JSON" in model.requests[1].context  # the model sees its error once
    assert "broken JSON" not in model.requests[2].context  # and a success clears it
    assert [e.count for e in events if isinstance(e, ErrorCompacted)] == [1]
    info = await store.thread(thread)
    assert info is not None and info.status == "done"


async def test_unknown_tools_and_invalid_arguments_are_errors_the_model_can_fix(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel(
        [Call("rm_rf", {}), Call("check_release", {"service": "api"}), CHECK, REPLY]
    )
    _, events = await run(store, make_runtime, model)
    errors = [e.error for e in events if isinstance(e, ModelFailed)]
    assert "unknown tool 'rm_rf'" in errors[0]
    assert "arguments.version" in errors[1] and "Field required" in errors[1]
    assert "unknown tool 'rm_rf'" in model.requests[1].context


async def test_json_in_text_works_when_the_model_does_not_call_tools_natively(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    text = 'Sure.\n```json\n{"tool": "check_release", "arguments": {"service": "api", "version": "2.4.1"}}\n```'
    _, events = await run(store, make_runtime, ScriptedModel([Text(text), REPLY]))
    assert not [e for e in events if isinstance(e, ModelFailed)]


async def test_three_errors_in_a_row_escalate_to_a_human_instead_of_looping(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    model = ScriptedModel([Text("no idea"), Call("nope", {}), Text("{broken")])
    thread, events = await run(store, make_runtime, model)
    assert len([e for e in events if isinstance(e, ModelFailed)]) == 3
    [escalation] = [e for e in events if isinstance(e, HumanRequested)]
    assert escalation.purpose == "escalation" and escalation.recipients == ("role:oncall",)
    assert "3 errors in a row" in escalation.question
    info = await store.thread(thread)
    assert info is not None and info.status == "waiting_human"
    assert len(model.requests) == 3  # no fourth model call


async def test_provider_errors_are_retried_honouring_retry_after(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    sleeps = Sleeps()
    model = ScriptedModel([Fail(429, retry_after=7), Fail(503), CHECK, REPLY])
    _, events = await run(store, make_runtime, model, sleep=sleeps)
    assert sleeps.delays[0] == 7
    assert 0.5 <= sleeps.delays[1] <= 1.0  # backoff with jitter, 2nd attempt
    assert not [e for e in events if isinstance(e, ModelFailed)]


async def test_a_dead_provider_becomes_an_error_event_not_a_crash(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    sleeps = Sleeps()
    model = ScriptedModel([Fail(None)] * 4 + [CHECK, REPLY])
    thread, events = await run(
        store, make_runtime, model, sleep=sleeps, limits=Limits(backoff=Backoff(attempts=4))
    )
    [failure] = [e for e in events if isinstance(e, ModelFailed)]
    assert failure.reason == "provider_error"
    assert len(sleeps.delays) == 3
    info = await store.thread(thread)
    assert info is not None and info.status == "done"  # the next step succeeded


async def test_a_client_error_is_not_retried(store: SqlStore, make_runtime: RuntimeFactory) -> None:
    sleeps = Sleeps()
    _, events = await run(
        store, make_runtime, ScriptedModel([Fail(400), CHECK, REPLY]), sleep=sleeps
    )
    assert sleeps.delays == []
    assert [e.reason for e in events if isinstance(e, ModelFailed)] == ["provider_error"]


async def test_a_failing_tool_is_an_error_the_model_sees(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    deploy_missing = Call(
        "deploy", {"service": "api", "version": "9.9.9", "environment": "staging"}
    )
    model = ScriptedModel([deploy_missing, CHECK, REPLY])
    _, events = await run(store, make_runtime, model)
    [failed] = [e for e in events if isinstance(e, ToolFailed)]
    assert "there is no release api 9.9.9" in failed.error
    assert "there is no release api 9.9.9" in model.requests[1].context


async def test_asking_someone_unknown_is_an_error_not_a_request_nobody_can_answer(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    ask = Call("contact_human", {"question": "which version?", "to": "mallory"})
    ask_requester = Call("contact_human", {"question": "which version?"})
    thread, events = await run(store, make_runtime, ScriptedModel([ask, ask_requester]))
    [failure] = [e for e in events if isinstance(e, ModelFailed)]
    assert "no person 'mallory'" in failure.error
    [request] = await store.requests()
    assert request.recipients == ["bob"] and request.thread_id == thread


async def test_a_retry_after_past_the_cap_is_not_waited_out_the_step_fails(
    store: SqlStore, make_runtime: RuntimeFactory
) -> None:
    """A provider asking for a day's wait would hold the worker for a day: fail the step instead."""
    sleeps = Sleeps()
    model = ScriptedModel([Fail(429, retry_after=86_400), CHECK, REPLY])
    thread, events = await run(
        store,
        make_runtime,
        model,
        sleep=sleeps,
        limits=Limits(backoff=Backoff(max_retry_after=60)),
    )
    assert sleeps.delays == []
    [failure] = [e for e in events if isinstance(e, ModelFailed)]
    assert "asked to wait 86400s, more than the 60s" in failure.error
    info = await store.thread(thread)
    assert info is not None and info.status == "done"  # the next step succeeded
