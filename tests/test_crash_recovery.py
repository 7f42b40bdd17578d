"""A worker killed between tool-called and tool-succeeded: idempotent tools re-run with the same
key; any other tool is never re-run silently: a person is asked what happened."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from core.events import HumanRequested, ToolCalled, ToolSucceeded
from core.humans import Answer, respond
from core.models.scripted import Call, ScriptedModel
from core.runtime import Runtime
from core.state import Status
from storage import SqlStore
from tests import crashy

pytestmark = pytest.mark.slow


async def kill_worker_inside_tool(
    database_url: str, tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """Run TOOL in a worker process, SIGKILL it mid-effect; this process then plays the restart."""
    log, marker = tmp_path / "effects.log", tmp_path / "marker"
    monkeypatch.setenv("CRASH_LOG", str(log))
    monkeypatch.setenv("CRASH_MARKER", str(marker))
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.crashy", database_url, tool, stdout=asyncio.subprocess.PIPE
    )
    assert worker.stdout is not None
    thread = (await asyncio.wait_for(worker.stdout.readline(), 30)).decode().strip()
    assert await asyncio.wait_for(worker.stdout.readline(), 30) == b"inside the tool\n"
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    return thread, log


def restarted(store: SqlStore, model: ScriptedModel) -> Runtime:
    return Runtime(store, {"crashy": crashy.agent}, lambda _a: model)


async def test_an_idempotent_tool_reruns_with_the_same_key(
    store: SqlStore, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread, log = await kill_worker_inside_tool(database_url, "record", tmp_path, monkeypatch)
    before = [s.event for s in await store.events(thread)]
    assert isinstance(before[-1], ToolCalled) and (await store.thread(thread)).status == "running"  # type: ignore[union-attr]

    state = await restarted(store, ScriptedModel([Call("reply", {"message": "noted"})])).advance(
        thread
    )

    assert state.status is Status.DONE
    keys = log.read_text().split()
    assert len(keys) == 2 and keys[0] == keys[1] == before[-1].idempotency_key
    events = [s.event for s in await store.events(thread)]
    assert len([e for e in events if isinstance(e, ToolCalled)]) == 1
    assert len([e for e in events if isinstance(e, ToolSucceeded)]) == 1


async def test_any_other_tool_is_not_rerun_and_a_person_is_asked(
    store: SqlStore, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread, log = await kill_worker_inside_tool(database_url, "charge", tmp_path, monkeypatch)
    model = ScriptedModel([Call("reply", {"message": "I will not charge again."})])
    runtime = restarted(store, model)

    state = await runtime.advance(thread)
    assert state.status is Status.WAITING_HUMAN
    assert len(log.read_text().split()) == 1  # the charge ran once, and only once
    [ask] = [s.event for s in await store.events(thread) if isinstance(s.event, HumanRequested)]
    assert (
        ask.purpose == "recovery"
        and ask.recipients == ("alice",)
        and "charge (text hi)" in ask.question
    )

    await respond(store, ask.request_id, "alice", Answer("it took effect"))
    assert (await runtime.advance(thread)).status is Status.DONE
    assert "it took effect" in model.requests[0].context
    assert len(log.read_text().split()) == 1
