"""Between processes on PostgreSQL: the work one makes wakes the others (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from core.agent import Agent
from core.channels import InboundMessage
from core.events import MessageReceived
from core.humans import pause, resume
from core.inbox import InboxConfig, route
from storage import open_store
from tests.fixtures import PEOPLE, eventually


async def test_another_process_hears_of_new_threads_messages_and_answers(
    database_url: str, shipped_agents: dict[str, Agent]
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no NOTIFY: there, processes find each other's work by re-checking")
    here, there = open_store(database_url), open_store(database_url)
    heard: list[str] = []
    listening = asyncio.create_task(here.listen(heard.append))
    try:
        await asyncio.sleep(0)  # let it connect: LISTEN must be in place before the NOTIFY
        await there.save_people(PEOPLE)

        async def listening_now() -> bool:
            await there.state(
                await there.create_thread(
                    agent="deploy",
                    first=MessageReceived(text="probe"),
                    requester=None,
                    channel="cli",
                )
            )
            return any(h.startswith("thread:") for h in heard)

        await eventually(listening_now)
        heard.clear()
        config = InboxConfig(shipped_agents, {"slack": "deploy"})
        message = InboundMessage(
            channel="slack", external_id="e1", sender="U0BOB", conversation="C1", text="deploy web"
        )
        received = await there.receive(message, lambda s: route(config, s))

        async def woken() -> list[str]:
            return [h for h in heard if h == f"thread:{received.thread_id}"]

        await eventually(woken)
        assert received.thread_id is not None
        await pause(there, received.thread_id, by="ops")  # paused: nothing for a worker to do
        await resume(there, received.thread_id, by="ops")  # runnable again: wake a worker

        async def resumed() -> list[str]:
            found = await woken()
            return found if len(found) == 2 else []

        # Notifications arrive in commit order: the pause's would have come before the resume's.
        await eventually(resumed)
        assert heard == [f"thread:{received.thread_id}"] * 2
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        await here.close()
        await there.close()
