"""Switchboard as the human layer of an agent that runs elsewhere: a caller asks over REST, the
request goes out like an agent's, a person decides on their channel, the caller gets the record."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

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


# --- callers' keys -------------------------------------------------------------------------------


async def key_for(api: httpx.AsyncClient, name: str, *scope: str) -> str:
    made = await api.post("/api/v1/callers", json={"name": name, "scope": list(scope)})
    assert made.status_code == 201, made.text
    assert len(made.json()["webhook_secret"]) == 64
    key: str = made.json()["key"]
    return key


async def test_a_caller_asks_as_itself_within_its_scope_and_sees_only_its_own(
    service: Service, api: httpx.AsyncClient
) -> None:
    key = await key_for(api, "ci-bot", "role:deploy-approver")
    async with client_for(service, authorization=f"Bearer {key}") as ci:
        mine = await asked(ci, APPROVAL)
        assert mine["caller"] == "ci-bot"
        # Erin has the role: asking her by name is within the scope; Bob is not.
        assert (
            await ci.post("/api/v1/requests", json={**APPROVAL, "to": ["erin"]})
        ).status_code == 201
        outside = await ci.post("/api/v1/requests", json={**APPROVAL, "to": ["bob"]})
        assert "may not ask bob" in problem(outside, 403)["detail"]
        theirs = await asked(api, {"to": ["bob"], "question": "Lunch?"})  # the operator's
        assert problem(await ci.get(f"/api/v1/requests/{theirs['id']}"), 404)
        shown = (await ci.get(f"/api/v1/requests/{mine['id']}")).json()
        assert shown["id"] == mine["id"]

        async def delivered() -> list[Any]:
            found = (await ci.get(f"/api/v1/requests/{mine['id']}")).json()["deliveries"]
            return [d for d in found if d["status"] == "sent"]

        copies = await eventually(delivered)
        assert {c["address"] for c in copies} == {None}  # not the people's addresses
        # Whom it may ask: the people with the role, by id, roles and channels, no addresses.
        whom = (await ci.get("/api/v1/recipients")).json()
        assert [(r["id"], r["channels"][0]) for r in whom] == [
            ("alice", "discord"),
            ("erin", "discord"),
        ]
        assert all("identities" not in r for r in whom)
        for path in ("/api/v1/requests", "/api/v1/threads", "/api/v1/people", "/api/v1/callers"):
            assert problem(await ci.get(path), 403), path  # the operator's
        answer = {"as": "alice", "decision": "approve"}
        assert problem(await ci.post(f"/api/v1/requests/{mine['id']}/respond", json=answer), 403)
    assert len(await service.app.store.requests(status=None)) == 3


async def test_a_revoked_key_opens_nothing_and_names_stay_taken(
    service: Service, api: httpx.AsyncClient
) -> None:
    key = await key_for(api, "ci-bot", "*")
    listed = (await api.get("/api/v1/callers")).json()
    assert [(c["name"], c["scope"], c["revoked_at"]) for c in listed] == [("ci-bot", ["*"], None)]
    assert "secret" not in listed[0] and "key" not in listed[0]
    assert (await api.delete("/api/v1/callers/ci-bot")).json()["revoked_at"]
    async with client_for(service, authorization=f"Bearer {key}") as ci:
        problem(await ci.post("/api/v1/requests", json=APPROVAL), 401)
    again = await api.post("/api/v1/callers", json={"name": "ci-bot", "scope": ["*"]})
    assert problem(again, 409)["type"].endswith("taken")
    problem(await api.delete("/api/v1/callers/nobody"), 404)
    async with client_for(service, authorization="Bearer sbk_guessed") as guess:
        problem(await guess.get("/api/v1/requests/req-x"), 401)


async def test_a_retried_create_with_its_idempotency_key_returns_the_same_request(
    service: Service, api: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": "ci-1842-deploy"}
    tries = await asyncio.gather(
        *(api.post("/api/v1/requests", json=APPROVAL, headers=key) for _ in range(4))
    )
    assert sorted(t.status_code for t in tries) == [200, 200, 200, 201]
    assert len({t.json()["id"] for t in tries}) == 1
    assert len(await service.app.store.requests(status=None)) == 1
    other = await api.post("/api/v1/requests", json={**APPROVAL, "reference": "x"}, headers=key)
    assert problem(other, 422)["type"].endswith("idempotency-key-reused")
    # Keys are the caller's own: another caller's same key is another request.
    ci_key = await key_for(api, "ci-bot", "*")
    async with client_for(service, authorization=f"Bearer {ci_key}") as ci:
        theirs = await ci.post("/api/v1/requests", json=APPROVAL, headers=key)
    assert theirs.status_code == 201 and theirs.json()["id"] != tries[0].json()["id"]
    refused = await api.post("/api/v1/callers", json={"name": "operator", "scope": ["*"]})
    problem(refused, 422)  # the API token's name, never a key's


async def test_the_event_stream_says_each_change_and_ends_with_the_decision(
    service: Service, api: httpx.AsyncClient
) -> None:
    rollback = {
        **APPROVAL,
        "question": "Roll api back to 2.4.0?",
        "action": "rollback",
        "arguments": {"service": "api", "to_version": "2.4.0"},
        "required": 2,
    }
    request = await asked(api, rollback)
    streaming = asyncio.create_task(api.get(f"/api/v1/requests/{request['id']}/events"))
    for person in ("alice", "erin"):
        await asyncio.sleep(0.3)
        decided = await api.post(
            f"/api/v1/requests/{request['id']}/respond", json={"as": person, "decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
    stream = await asyncio.wait_for(streaming, timeout=10)
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [block for block in stream.text.split("\n\n") if block.startswith("event: request")]
    shown = [json.loads(e.split("data: ", 1)[1]) for e in events]
    assert [(s["status"], len(s["approvals"])) for s in shown] == [
        ("open", 0),
        ("open", 1),
        ("approved", 2),
    ]
    assert shown[-1]["arguments"] == rollback["arguments"]


# --- callbacks -----------------------------------------------------------------------------------


class Receiver:
    """A caller's webhook receiver on a loopback port: answers 503 `failing` times, then 200."""

    def __init__(self, failing: int = 0) -> None:
        self.failing = failing
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/decided", self.take)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/decided"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def take(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        if self.failing:
            self.failing -= 1
            return web.Response(status=503)
        return web.Response(status=204)


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: the `verify` docs/outside-agents.md gives, as written there."""
    doc = (Path(__file__).parents[1] / "docs" / "outside-agents.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", doc, re.S)
    scope: dict[str, Any] = {}
    exec(code, scope)  # the documentation's own code
    return bool(scope["verify"](secret, headers["Switchboard-Signature"], body))


async def test_the_decision_is_posted_signed_to_the_callback_and_retried_when_it_fails(
    service: Service, api: httpx.AsyncClient
) -> None:
    made = await api.post("/api/v1/callers", json={"name": "ci-bot", "scope": ["*"]})
    key, secret = made.json()["key"], made.json()["webhook_secret"]
    async with (
        Receiver(failing=1) as receiver,
        client_for(service, authorization=f"Bearer {key}") as ci,
    ):
        request = await asked(ci, {**APPROVAL, "callback_url": receiver.url})
        answer = {"as": "erin", "decision": "reject", "reason": "not on a Friday"}
        await api.post(f"/api/v1/requests/{request['id']}/respond", json=answer)

        async def delivered() -> list[Any]:
            rows = await service.app.store.outbox(channel="callback", status="sent")
            return rows

        [row] = await eventually(delivered, within=20)  # after one 503 and a retry
    assert (row.address, row.attempts) == (receiver.url, 2)
    (first, _), (headers, body) = receiver.received
    assert first["Switchboard-Delivery"] == headers["Switchboard-Delivery"]  # one delivery
    assert verified(secret, headers, body) and not verified("another secret", headers, body)
    settled = json.loads(body)
    assert (settled["id"], settled["status"], settled["decided_by"], settled["answer"]) == (
        request["id"],
        "rejected",
        "erin",
        "not on a Friday",
    )
    assert settled["arguments"] == DEPLOY


async def test_a_receiver_that_is_down_blocks_nothing_and_its_failures_show(
    service: Service, api: httpx.AsyncClient
) -> None:
    async with Receiver() as receiver:
        gone = receiver.url
    request = await asked(api, {"to": ["erin"], "question": "Which region?", "callback_url": gone})
    await api.post(
        f"/api/v1/requests/{request['id']}/respond",
        json={"as": "erin", "decision": "answer", "answer": "eu"},
    )

    async def failing() -> list[Any]:
        rows = await service.app.store.outbox(channel="callback", status=None)
        return [r for r in rows if r.last_error]

    [row] = await eventually(failing)
    assert "did not answer" in (row.last_error or "")
    assert (await api.get(f"/api/v1/requests/{request['id']}")).json()["status"] == "answered"
    async with client_for(service) as browser:
        browser.cookies.set(COOKIE, service.api_token)
        page = await browser.get(f"/threads/{request['thread_id']}")
    assert page.status_code == 200 and "did not answer" in page.text  # in the console too
    itself = f"http://127.0.0.1:{service.app.settings.switchboard_port}/hook"
    for url, kind in ((itself, "callback-to-itself"), ("ftp://example.com/x", "")):
        refused = await api.post("/api/v1/requests", json={**APPROVAL, "callback_url": url})
        assert problem(refused, 422)["errors"][0]["loc"] == ["body", "callback_url"]
        assert problem(refused, 422)["type"].endswith(kind)


async def test_the_decider_reads_the_callers_context_and_name_on_their_channel(
    service: Service, api: httpx.AsyncClient
) -> None:
    key = await key_for(api, "ci-bot", "*")
    async with client_for(service, authorization=f"Bearer {key}") as ci:
        await asked(ci, APPROVAL)  # Alice: Discord
        await asked(ci, {"to": ["bob"], "question": "Ship it?", "context": "Tests are green."})

    async def sent() -> list[Any]:
        rows = await service.app.store.outbox(status="sent")
        where = {(r.channel, r.recipient) for r in rows if r.kind == "request"}
        return rows if {("discord", "alice"), ("slack", "bob")} <= where else []

    rows = await eventually(sent)
    [discord] = [r for r in rows if r.channel == "discord" and r.recipient == "alice"]
    [slack] = [r for r in rows if r.channel == "slack"]
    embed = json.dumps(discord.payload)
    assert "CI run 1842 passed" in embed and "ci-bot" in embed
    assert "Tests are green." in json.dumps(slack.payload) and "ci-bot" in json.dumps(slack.payload)
