"""The REST API over HTTP (in process): the token, problem details for every error, a deploy
launched, refused, approved and finished through the API, people, the sandbox, health and metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.sandbox import sandboxed
from channels.sandbox.codec import GenericCodec
from core.channels import AddressForm, Channel
from core.previews import Look
from core.service import Service
from core.web.app import create_app
from tests.fixtures import eventually

TOKEN = "test-token"
PROBLEM = "application/problem+json"
PRODUCTION = "deploy api 2.4.1 to production"


def client_for(service: Service, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(service))
    return httpx.AsyncClient(
        transport=transport, base_url="http://switchboard.test", headers=headers
    )


@pytest.fixture
async def api(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(service, authorization=f"Bearer {TOKEN}") as client:
        yield client


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is RFC 7807 problem details with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return body


async def launch(api: httpx.AsyncClient, message: str = PRODUCTION) -> str:
    response = await api.post(
        "/api/v1/threads", json={"agent": "deploy", "message": message, "requester": "bob"}
    )
    assert response.status_code == 201, response.text
    thread_id: str = response.json()["id"]
    return thread_id


async def reaches(api: httpx.AsyncClient, thread_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        """the thread reaches the status"""
        found: dict[str, Any] = (await api.get(f"/api/v1/threads/{thread_id}")).json()
        return found if found["thread"]["status"] == status else None

    return await eventually(check)


async def open_request(api: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    found = (await api.get("/api/v1/requests", params={"thread_id": thread_id})).json()
    assert len(found) == 1
    request: dict[str, Any] = found[0]
    return request


# --- the token ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
        {"authorization": "Bearer"},
        {"cookie": "switchboard_token=wrong-token"},
    ],
    ids=["none", "wrong token", "wrong scheme", "no scheme", "empty bearer", "wrong cookie"],
)
async def test_the_api_refuses_a_missing_or_wrong_token(
    service: Service, headers: dict[str, str]
) -> None:
    async with client_for(service, **headers) as client:
        response = await client.get("/api/v1/threads")
    body = problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "SWITCHBOARD_API_TOKEN" in body["detail"]


@pytest.mark.parametrize(
    "headers",
    [{"authorization": f"Bearer {TOKEN}"}, {"cookie": f"switchboard_token={TOKEN}"}],
    ids=["bearer", "cookie"],
)
async def test_the_token_opens_the_api_as_a_header_or_a_cookie(
    service: Service, headers: dict[str, str]
) -> None:
    async with client_for(service, **headers) as client:
        response = await client.get("/api/v1/people")
    assert response.status_code == 200
    assert "alice" in [p["id"] for p in response.json()]


# --- errors are problem details ---------------------------------------------------------------------


async def test_unknown_paths_and_methods_are_problems(api: httpx.AsyncClient) -> None:
    assert "/api/v1/nowhere" in problem(await api.get("/api/v1/nowhere"), 404)["detail"]
    assert problem(await api.get("/api/v1/threads/t-none"), 404)["detail"] == (
        "there is no thread t-none"
    )
    assert problem(await api.get("/api/v1/requests/r-none"), 404)["type"].endswith(
        "no-such-request"
    )
    wrong_method = await api.delete("/api/v1/threads")
    problem(wrong_method, 405)
    assert "POST" in wrong_method.headers["allow"]


async def test_malformed_json_is_a_400_problem(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/threads",
        content=b'{"agent": "deploy", "message": ',
        headers={"content-type": "application/json"},
    )
    body = problem(response, 400)
    assert "not valid JSON" in body["detail"]


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/api/v1/threads", {}, [["body", "agent"], ["body", "message"]]),
        (
            "/api/v1/threads",
            {"agent": 5, "message": ["x"]},
            [["body", "agent"], ["body", "message"]],
        ),
        ("/api/v1/threads", {"agent": "deploy", "message": "   "}, [["body", "message"]]),
        (
            "/api/v1/threads",
            {"agent": "deploy", "message": "hi", "colour": "red"},
            [["body", "colour"]],
        ),
        ("/api/v1/threads", [1, 2], [["body"]]),
        (
            "/api/v1/requests/r-1/respond",
            {"as": "alice", "decision": "maybe"},
            [["body", "decision"]],
        ),
        (
            "/api/v1/requests/r-1/respond",
            {"as": "alice", "decision": "answer"},
            [["body", "answer", "answer"]],  # the shape `answer` takes, then its field
        ),
        ("/api/v1/sandbox/slack/messages", {"sender": "U0BOB", "conversation": "C1"}, [["body"]]),
        ("/api/v1/people", {"id": "role:x", "name": "X"}, [["body", "id"]]),
    ],
    ids=[
        "missing",
        "wrong types",
        "blank message",
        "unknown field",
        "not an object",
        "unknown decision",
        "answer without text",
        "neither text nor action",
        "id with a colon",
    ],
)
async def test_invalid_bodies_are_422_problems_that_list_the_fields(
    api: httpx.AsyncClient, path: str, body: object, fields: list[list[str]]
) -> None:
    found = problem(await api.post(path, json=body), 422)
    assert [e["loc"] for e in found["errors"]] == fields
    assert all(e["msg"] for e in found["errors"])


async def test_a_body_that_is_not_json_at_all_is_a_problem_not_a_crash(
    api: httpx.AsyncClient,
) -> None:
    plain = await api.post(
        "/api/v1/threads", content=b"agent=deploy", headers={"content-type": "text/plain"}
    )
    problem(plain, 422)
    garbage = await api.post(
        "/api/v1/threads", content=b"\xff\xfe\xfa", headers={"content-type": "application/json"}
    )
    problem(garbage, 400)
    assert problem(await api.get("/api/v1/threads?limit=0"), 422)["errors"][0]["loc"] == [
        "query",
        "limit",
    ]


# --- threads and requests: a production deploy, approved through the API ---------------------------


async def test_a_deploy_launched_by_api_is_refused_to_bob_and_approved_by_alice(
    api: httpx.AsyncClient,
) -> None:
    launched = await api.post(
        "/api/v1/threads", json={"agent": "deploy", "message": PRODUCTION, "requester": "bob"}
    )
    assert launched.status_code == 201
    thread_id = launched.json()["id"]
    assert launched.headers["location"] == f"/api/v1/threads/{thread_id}"
    assert (launched.json()["agent"], launched.json()["channel"]) == ("deploy", "api")

    await reaches(api, thread_id, "waiting_human")
    request = await open_request(api, thread_id)
    assert (request["kind"], request["status"]) == ("approval", "open")
    assert request["recipients"] == ["role:deploy-approver"]
    respond = f"/api/v1/requests/{request['id']}/respond"

    refused = problem(await api.post(respond, json={"as": "bob", "decision": "approve"}), 403)
    assert "bob may not answer" in refused["detail"]
    wrong_kind = await api.post(respond, json={"as": "alice", "decision": "answer", "answer": "ok"})
    assert "asks for an approval: decide approve or reject" in problem(wrong_kind, 422)["detail"]

    approved = await api.post(respond, json={"as": "alice", "decision": "approve", "reason": "go"})
    assert approved.status_code == 200, approved.text
    settled = approved.json()
    assert (settled["status"], settled["decided_by"], settled["decided_via"]) == (
        "approved",
        "alice",
        "api",
    )
    assert settled["decided_at"]

    done = await reaches(api, thread_id, "done")
    lines = [e["summary"] for e in done["events"]]
    assert f"bob via api: {PRODUCTION}" in lines
    assert f"operator on behalf of alice via api approved {request['id']}: go" in lines
    assert "approval_decided" in [e["type"] for e in done["events"]]

    again = problem(await api.post(respond, json={"as": "erin", "decision": "approve"}), 409)
    assert "by operator on behalf of alice via api" in again["detail"]
    assert (again["decided_by"], again["decided_via"], again["request_status"]) == (
        "alice",
        "api",
        "approved",
    )
    assert (await api.get("/api/v1/requests", params={"thread_id": thread_id})).json() == []


async def test_a_rollback_takes_two_approvals_through_the_api_and_never_the_requesters(
    api: httpx.AsyncClient,
) -> None:
    rollback = "roll back api in production to 2.4.0"
    launched = await api.post(
        "/api/v1/threads", json={"agent": "deploy", "message": rollback, "requester": "bob"}
    )
    thread_id = launched.json()["id"]
    await reaches(api, thread_id, "waiting_human")
    request = await open_request(api, thread_id)
    assert (request["required"], request["requester"], request["waiting_for"]) == (2, "bob", 2)
    respond = f"/api/v1/requests/{request['id']}/respond"
    first = await api.post(respond, json={"as": "erin", "decision": "approve"})
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["waiting_for"]) == ("open", 1)
    assert [(a["by"], a["via"]) for a in first.json()["approvals"]] == [("erin", "api")]
    twice = problem(await api.post(respond, json={"as": "erin", "decision": "approve"}), 403)
    assert "already" in twice["detail"]
    last = await api.post(respond, json={"as": "alice", "decision": "approve"})
    assert (last.json()["status"], last.json()["waiting_for"]) == ("approved", 0)
    await reaches(api, thread_id, "done")

    # Alice asks: she may not approve, and Erin alone cannot make two. Not sent; she is told.
    own = await api.post(
        "/api/v1/threads", json={"agent": "deploy", "message": rollback, "requester": "alice"}
    )
    failed = await reaches(api, own.json()["id"], "failed")
    [told] = [e for e in failed["events"] if e["type"] == "reply_sent"]
    assert told["to"] == "alice"
    assert (
        "needs 2 different approvers, and only Erin may approve it here (Alice asked for it)"
        in (told["text"])
    )
    assert (await api.get("/api/v1/requests", params={"thread_id": own.json()["id"]})).json() == []


async def test_a_thread_shows_where_its_request_went_and_who_answered(
    api: httpx.AsyncClient,
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    request = await open_request(api, thread_id)

    async def sent() -> list[dict[str, Any]] | None:
        """both approvers' copies were sent"""
        detail = (await api.get(f"/api/v1/requests/{request['id']}")).json()
        copies = [
            d for d in detail["deliveries"] if d["kind"] == "request" and d["status"] == "sent"
        ]
        return copies if len(copies) == 2 else None

    copies = await eventually(sent)
    assert {(c["recipient"], c["channel"], c["address"]) for c in copies} == {
        ("alice", "discord", "1001"),
        ("erin", "discord", "1005"),
    }
    answered = await api.post(
        f"/api/v1/requests/{request['id']}/respond", json={"as": "erin", "decision": "approve"}
    )
    assert answered.status_code == 200, answered.text

    async def outcomes() -> list[dict[str, Any]] | None:
        """the outcome is shown on both copies"""
        shown = (await api.get(f"/api/v1/threads/{thread_id}")).json()["requests"][0]
        rows = [d for d in shown["deliveries"] if d["kind"] == "outcome" and d["status"] == "sent"]
        return rows if len(rows) == 2 else None

    settled = (await api.get(f"/api/v1/threads/{thread_id}")).json()["requests"][0]
    assert (settled["decided_by"], settled["decided_via"], settled["status"]) == (
        "erin",
        "api",
        "approved",
    )
    assert settled["decided_at"] is not None
    shown = await eventually(outcomes)
    assert {o["message_id"] for o in shown} == {c["message_id"] for c in copies}


async def test_threads_are_listed_with_filters(api: httpx.AsyncClient) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")

    async def ids(**params: str) -> list[str]:
        response = await api.get("/api/v1/threads", params=params)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()]

    assert await ids() == [thread_id]
    assert await ids(status="waiting_human", agent="deploy", channel="api") == [thread_id]
    assert await ids(status="done") == []
    assert await ids(agent="support") == []
    assert await ids(channel="slack") == []
    assert await ids(limit="1") == [thread_id]
    assert problem(await api.get("/api/v1/threads?status=sleeping"), 422)["errors"]


async def test_an_operator_pauses_resumes_messages_and_cancels_a_thread(
    api: httpx.AsyncClient,
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    url = f"/api/v1/threads/{thread_id}"

    paused = await api.post(f"{url}/pause", json={"by": "ops", "reason": "freeze"})
    assert paused.json()["status"] == "paused"
    assert "already paused" in problem(await api.post(f"{url}/pause"), 409)["detail"]
    resumed = await api.post(f"{url}/resume")
    assert resumed.json()["status"] == "waiting_human"
    problem(await api.post(f"{url}/resume"), 409)

    posted = await api.post(f"{url}/messages", json={"text": "any news?", "sender": "bob"})
    assert posted.status_code == 202
    unknown = problem(await api.post(f"{url}/messages", json={"text": "hi", "sender": "zed"}), 422)
    assert "'zed' is not in the people directory" in unknown["detail"]

    cancelled = await api.post(f"{url}/cancel", json={"reason": "not today"})
    assert cancelled.json()["status"] == "cancelled"
    problem(await api.post(f"{url}/cancel"), 409)
    problem(await api.post(f"{url}/messages", json={"text": "hello?"}), 409)

    lines = [e["summary"] for e in (await api.get(url)).json()["events"]]
    assert "by ops: freeze" in lines
    assert "bob via api: any news?" in lines
    assert "by api: not today" in lines
    assert (await api.get(url)).json()["requests"][0]["status"] == "cancelled"
    for action, body in [
        ("pause", {}),
        ("resume", {}),
        ("cancel", {}),
        ("messages", {"text": "x"}),
    ]:
        problem(await api.post(f"/api/v1/threads/t-none/{action}", json=body), 404)


async def test_launching_an_unknown_agent_or_for_an_unknown_requester_is_refused(
    api: httpx.AsyncClient,
) -> None:
    no_agent = await api.post("/api/v1/threads", json={"agent": "poet", "message": "a haiku"})
    assert "the agents are: " in problem(no_agent, 422)["detail"]
    no_person = await api.post(
        "/api/v1/threads", json={"agent": "deploy", "message": "hi", "requester": "zed"}
    )
    assert "'zed'" in problem(no_person, 422)["detail"]
    assert (await api.get("/api/v1/threads")).json() == []


# --- people -------------------------------------------------------------------------------------------


async def test_people_are_created_normalised_and_replaced(api: httpx.AsyncClient) -> None:
    frank = {
        "id": "frank",
        "name": "Frank",
        "roles": ["engineer"],
        "channels": ["sms"],
        "identities": {"sms": "+1 (555) 010-0009", "email": "Frank@Example.COM"},
    }
    created = await api.post("/api/v1/people", json=frank)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/people/frank"
    assert created.json()["identities"] == {"sms": "+15550100009", "email": "frank@example.com"}
    assert (
        "already in the directory"
        in problem(await api.post("/api/v1/people", json=frank), 409)["detail"]
    )

    replaced = await api.put(
        "/api/v1/people/frank",
        json={"name": "Frank B.", "roles": ["deploy-approver"], "escalate_to": "alice"},
    )
    assert replaced.status_code == 200, replaced.text
    shown = (await api.get("/api/v1/people/frank")).json()
    assert (shown["name"], shown["roles"], shown["identities"]) == (
        "Frank B.",
        ["deploy-approver"],
        {},
    )
    added = await api.put("/api/v1/people/gina", json={"id": "gina", "name": "Gina"})
    assert added.status_code == 201
    assert "gina" in [p["id"] for p in (await api.get("/api/v1/people")).json()]


@pytest.mark.parametrize(
    ("person", "status", "says"),
    [
        ({"identities": {"sms": "555-0100"}}, 422, "E.164"),
        ({"identities": {"email": "frank at example"}}, 422, "not an email address"),
        ({"channels": ["slack"]}, 422, "no address"),
        ({"identities": {"teams": "frank"}}, 422, "no channel named teams"),
        ({"escalate_to": "zed"}, 422, "'zed' is not in the people directory"),
        ({"escalate_to": "frank"}, 422, "cannot escalate to themself"),
        ({"identities": {"slack": "U0ALICE"}}, 409, "belongs to alice"),
        ({"identities": {"email": "ALICE@example.com"}}, 409, "belongs to alice"),
        ({"name": ""}, 422, "name"),
    ],
    ids=[
        "sms not E.164",
        "email not an address",
        "channel without address",
        "unknown channel",
        "unknown escalation",
        "escalates to self",
        "address taken",
        "address taken in other case",
        "empty name",
    ],
)
async def test_a_person_with_a_bad_identity_is_refused_clearly(
    api: httpx.AsyncClient, person: dict[str, Any], status: int, says: str
) -> None:
    body = {"id": "frank", "name": "Frank", **person}
    assert says in problem(await api.post("/api/v1/people", json=body), status)["detail"]
    assert problem(await api.get("/api/v1/people/frank"), 404)


async def test_put_refuses_a_body_for_someone_else(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/v1/people/alice", json={"id": "bob", "name": "Bob"})
    assert "not the path's" in problem(response, 422)["detail"]


# --- the sandbox ------------------------------------------------------------------------------------


async def test_sandbox_messages_start_a_thread_and_a_button_press_approves_it(
    api: httpx.AsyncClient,
) -> None:
    asked = await api.post(
        "/api/v1/sandbox/slack/messages",
        json={"sender": "U0BOB", "conversation": "C1:1700000000.000100", "text": PRODUCTION},
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["outcome"] == "started"
    thread_id = asked.json()["thread_id"]
    await reaches(api, thread_id, "waiting_human")
    request = await open_request(api, thread_id)

    pressed = await api.post(
        "/api/v1/sandbox/discord/messages",
        json={
            "sender": "1001",
            "conversation": "dm:1001",
            "action": {"request_id": request["id"], "decision": "approve"},
        },
    )
    assert pressed.json() == {
        "outcome": "answered",
        "detail": pressed.json()["detail"],
        "thread_id": thread_id,
        "request_id": request["id"],
        "conversation": "dm:1001",
    }
    done = await reaches(api, thread_id, "done")
    assert f"alice via discord approved {request['id']}" in [e["summary"] for e in done["events"]]

    stranger = await api.post(
        "/api/v1/sandbox/slack/messages",
        json={"sender": "U0NOBODY", "conversation": "C9:1", "text": "deploy everything"},
    )
    assert stranger.json()["outcome"] == "refused"
    assert "people directory" in stranger.json()["detail"]


def connected(name: str) -> Channel:
    """A channel connected to its platform (no simulator): it takes no injected messages."""
    codec = GenericCodec(name, Look(name), AddressForm("U0"))
    return dataclasses.replace(sandboxed(codec), simulator=None)


async def test_sandbox_injection_needs_a_known_sandbox_channel(service: Service) -> None:
    live = dataclasses.replace(service, channels={**service.channels, "live": connected("live")})
    async with client_for(live, authorization=f"Bearer {TOKEN}") as api:
        message = {"sender": "U0BOB", "conversation": "C1", "text": "hi"}
        assert (
            "the channels are: "
            in problem(await api.post("/api/v1/sandbox/teams/messages", json=message), 404)[
                "detail"
            ]
        )
        assert (
            "only sandbox channels"
            in problem(await api.post("/api/v1/sandbox/live/messages", json=message), 409)["detail"]
        )


# --- health, readiness, metrics, the OpenAPI document ------------------------------------------------


async def test_health_and_readiness_need_no_token(service: Service) -> None:
    async with client_for(service) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_not_ready_without_a_current_schema_or_a_database(
    service: Service, tmp_path: Path
) -> None:
    for url, says in [
        (f"sqlite:///{tmp_path / 'empty.db'}", "schema is not current"),
        ("postgresql://nobody@127.0.0.1:1/none", "unreachable"),
    ]:
        settings = service.app.settings.model_copy(update={"database_url": url})
        elsewhere = dataclasses.replace(
            service, app=dataclasses.replace(service.app, settings=settings)
        )
        async with client_for(elsewhere) as anonymous:
            assert says in problem(await anonymous.get("/readyz"), 503)["detail"]


async def test_metrics_count_threads_requests_and_dead_letters(
    service: Service, api: httpx.AsyncClient
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    async with client_for(service) as anonymous:
        response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    for line in [
        "# TYPE switchboard_threads gauge",
        'switchboard_threads{status="waiting_human"} 1',
        'switchboard_threads{status="done"} 0',
        'switchboard_requests{status="open"} 1',
        'switchboard_outbox{status="dead"} 0',
        "switchboard_outbox_dead 0",
        'switchboard_channel_sandbox{channel="slack"} 1',
    ]:
        assert line in lines


async def test_the_openapi_document_lists_the_api_and_its_problems(service: Service) -> None:
    async with client_for(service) as anonymous:
        document = (await anonymous.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    assert {
        "/api/v1/threads": {"get", "post"},
        "/api/v1/threads/{thread_id}": {"get"},
        "/api/v1/threads/{thread_id}/messages": {"post"},
        "/api/v1/threads/{thread_id}/pause": {"post"},
        "/api/v1/threads/{thread_id}/resume": {"post"},
        "/api/v1/threads/{thread_id}/cancel": {"post"},
        "/api/v1/requests": {"get", "post"},
        "/api/v1/requests/{request_id}": {"get"},
        "/api/v1/requests/{request_id}/respond": {"post"},
        "/api/v1/requests/{request_id}/events": {"get"},
        "/api/v1/recipients": {"get"},
        "/api/v1/people": {"get", "post"},
        "/api/v1/people/{person_id}": {"get", "put"},
        "/api/v1/sandbox/{channel}/messages": {"post"},
        "/api/v1/callers": {"get", "post"},
        "/api/v1/callers/{name}": {"delete"},
    } == {path: set(operations) for path, operations in paths.items()}
    respond = paths["/api/v1/requests/{request_id}/respond"]["post"]
    assert set(respond["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "422"}
    assert list(respond["responses"]["409"]["content"]) == [PROBLEM]
    assert respond["responses"]["422"]["content"][PROBLEM]["schema"]["$ref"].endswith(
        "ValidationProblem"
    )
    schemas = document["components"]["schemas"]
    assert {"as", "decision", "reason"} <= set(schemas["Decide"]["properties"])
    assert "answer" in schemas["Reply"]["required"]
    assert "HTTPValidationError" not in schemas
    assert {"HTTPBearer", "APIKeyCookie"} <= set(document["components"]["securitySchemes"])
    assert respond["security"]
