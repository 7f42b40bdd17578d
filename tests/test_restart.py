"""A real server killed while a request waits: after a restart, the answer still resumes the thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.server import Server, running_server

T = TypeVar("T")
ALICE_ON_DISCORD = "100000000000000001"


def client(server: Server) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {server.token}"}
    )


def eventually(check: Callable[[], T | None], within: float = 20.0) -> T:
    """Poll a condition until it holds (not a fixed sleep); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {within}s: {check.__doc__}")
        time.sleep(0.05)
    return found


def test_an_answer_after_a_crash_and_restart_resumes_the_thread(tmp_path: Path) -> None:
    with running_server(tmp_path) as first, client(first) as api:
        asked = api.post(
            "/sandbox/slack/messages",
            json={
                "sender": "U0BOB",
                "conversation": "C1:restart",
                "text": "deploy api 2.4.1 to production",
            },
        )
        assert asked.status_code == 202, asked.text
        thread_id = asked.json()["thread_id"]

        def alices_copy() -> dict[str, Any] | None:
            """The approval reached Alice on Discord."""
            for request in api.get("/requests", params={"thread_id": thread_id}).json():
                detail = api.get(f"/requests/{request['id']}").json()
                for copy in detail["deliveries"]:
                    if copy["recipient"] == "alice" and copy["status"] == "sent":
                        return {"request_id": request["id"], **copy}
            return None

        copy = eventually(alices_copy)
        first.process.kill()  # SIGKILL: no shutdown, no flush beyond what was committed
        first.process.wait()

    with running_server(tmp_path) as second, client(second) as api:
        assert api.get(f"/threads/{thread_id}").json()["thread"]["status"] == "waiting_human"
        clicked = api.post(
            "/sandbox/discord/messages",
            json={
                "sender": ALICE_ON_DISCORD,
                "conversation": copy["conversation"],
                "action": {"request_id": copy["request_id"], "decision": "approve"},
            },
        )
        assert clicked.json()["outcome"] == "answered", clicked.text

        def finished() -> dict[str, Any] | None:
            """The thread ran to the end after the restart."""
            detail = api.get(f"/threads/{thread_id}").json()
            return detail if detail["thread"]["status"] == "done" else None

        detail = eventually(finished)
        kinds = [(e["type"], e.get("tool")) for e in detail["events"]]
        assert ("tool_succeeded", "deploy") in kinds
        assert kinds.count(("tool_called", "deploy")) == 1  # approved once, run once
        reply = detail["events"][-2]
        assert reply["type"] == "reply_sent" and "Deployed api 2.4.1 to production" in reply["text"]
