"""Switchboard as the human layer of an agent that runs elsewhere: a caller asks over REST, the
request goes out like an agent's, a person decides on their channel, the caller gets the record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.channels import Action
from core.service import Service
from core.state import Status
from core.tools import arguments_hash
from core.web.auth import COOKIE
from tests.fixtures import eventually, simulator
from tests.test_api import client_for, problem

DEPLOY = {"service": "api", "version": "2.4.1", "environment": "production"}
APPROVAL = {
    "to": ["role:deploy-approver"],
    "question": "Deploy api 2.4.1 to production?",
    "action": "deploy",
    "arguments": DEPLOY,
    "context": "CI run 1842 passed; the change log is short.",
    "reference": "ci-1842",
}


@pytest.fixture
async def api(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(service, authorization="Bearer test-token") as client:
        yield client


async def asked(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    created = await api.post("/api/v1/requests", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/api/v1/requests/{created.json()['id']}"
    request: dict[str, Any] = created.json()
    return request


async def test_an_approval_asked_over_rest_is_decided_with_a_discord_button(
    service: Service, api: httpx.AsyncClient
) -> None:
    request = await asked(api, APPROVAL)
    assert (request["status"], request["kind"], request["caller"]) == (
        "open",
        "approval",
        "operator",
    )
    assert request["arguments_hash"] == arguments_hash("deploy", DEPLOY)
    assert (request["context"], request["reference"]) == (APPROVAL["context"], "ci-1842")

    async def on_discord() -> list[Any]:
        rows = await service.app.store.outbox(channel="discord", status="sent")
        return [r for r in rows if r.request_id == request["id"] and r.recipient == "alice"]

    [copy] = await eventually(on_discord)  # Alice's preferred channel, as for an agent's request
    press = Action(request_id=request["id"], decision="approve")
    await service.inbox.accept(
        simulator(service, "discord").simulate(
            sender="1001", conversation=copy.conversation or "", action=press
        )
    )
    shown = await api.get(f"/api/v1/requests/{request['id']}", params={"wait": 10})
    decided = shown.json()
    assert (decided["status"], decided["decided_by"], decided["decided_via"]) == (
        "approved",
        "alice",
        "discord",
    )
    assert decided["arguments"] == DEPLOY and decided["decided_at"]

    async def ended() -> bool:
        thread = await service.app.store.thread(request["thread_id"])
        return thread is not None and thread.status == Status.DONE

    assert await eventually(ended)  # the caller's thread ends: no model runs on it


async def test_a_waiting_get_returns_when_it_is_decided_not_when_the_wait_is_up(
    service: Service, api: httpx.AsyncClient
) -> None:
    request = await asked(
        api, {"to": ["erin"], "question": "Which region?", "options": ["eu", "us"]}
    )
    waiting = asyncio.create_task(api.get(f"/api/v1/requests/{request['id']}?wait=60"))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # open: it waits
    answered = await api.post(
        f"/api/v1/requests/{request['id']}/respond",
        json={"as": "erin", "decision": "answer", "answer": "EU"},
    )
    assert answered.status_code == 200, answered.text
    shown = await asyncio.wait_for(waiting, timeout=10)  # long before the 60 s are up
    assert (shown.json()["status"], shown.json()["answer"]) == ("answered", "eu")
    still = await api.get(f"/api/v1/requests/{request['id']}?wait=0")
    assert still.json()["status"] == "answered"


@pytest.mark.parametrize(
    ("change", "kind", "at"),
    [
        ({"to": ["zed"]}, "unknown-recipient", ["body", "to", 0]),
        ({"to": ["role:astronaut"]}, "unknown-recipient", ["body", "to", 0]),
        ({"deadline": "2020-01-01T00:00:00Z"}, "past-deadline", ["body", "deadline"]),
        ({"options": ["yes", "no"]}, "options-on-an-approval", ["body", "options"]),
        ({"action": None}, "not-an-approval", ["body", "arguments"]),
        ({"required": 3}, "too-few-deciders", ["body", "required"]),
    ],
)
async def test_what_cannot_be_asked_is_refused_and_nothing_is_stored(
    service: Service, api: httpx.AsyncClient, change: dict[str, Any], kind: str, at: list[Any]
) -> None:
    refused = await api.post("/api/v1/requests", json={**APPROVAL, **change})
    body = problem(refused, 422)
    assert body["type"].endswith(kind) and body["errors"][0]["loc"] == at
    assert await service.app.store.requests(status=None) == []
    assert await service.app.store.threads() == []


async def test_an_approval_nobody_decides_is_denied_at_its_deadline(
    service: Service, api: httpx.AsyncClient
) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    request = await asked(api, {**APPROVAL, "deadline": soon.isoformat()})
    shown = await api.get(f"/api/v1/requests/{request['id']}", params={"wait": 15})
    assert (shown.json()["status"], shown.json()["decided_via"]) == ("timed_out", "timer")


async def test_the_console_shows_the_request_with_its_caller_and_context(
    service: Service, api: httpx.AsyncClient
) -> None:
    request = await asked(api, APPROVAL)
    async with client_for(service) as browser:
        browser.cookies.set(COOKIE, service.api_token)
        inbox = await browser.get("/")
        thread = await browser.get(f"/threads/{request['thread_id']}")
    assert inbox.status_code == thread.status_code == 200
    assert "asked by the caller operator" in inbox.text and "ci-1842" in inbox.text
    assert "CI run 1842 passed" in inbox.text  # the context, for whoever decides
    assert "Deploy api 2.4.1 to production?" in thread.text
