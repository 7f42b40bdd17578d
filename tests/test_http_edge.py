"""The HTTP edge against hostile input, on both backends: a NUL byte or an unpaired surrogate
anywhere (path ids, query filters, names, answers, console forms) is refused or kept clean, never
a 500; bodies over their endpoint's size limit are 413 problems, streamed or declared; every 422
carries `errors`; a 405 names every method of its path; the console's cookie is Secure over HTTPS.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from channels.sandbox import sandboxed
from channels.sandbox.codec import GenericCodec
from core.channels import Ack, AddressForm, Channel, Inbound, InboundMessage, RawRequest
from core.previews import Look
from core.service import Service, open_service
from core.web.problems import ValidationProblem
from tests.fixtures import PEOPLE, service_settings
from tests.test_api import PROBLEM, TOKEN, client_for, launch, open_request, problem, reaches


@pytest.fixture
async def api(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(service, authorization=f"Bearer {TOKEN}") as client:
        yield client


@pytest.fixture
async def console(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(service, cookie=f"switchboard_token={TOKEN}") as client:
        yield client


async def post_json(client: httpx.AsyncClient, path: str, body: object) -> httpx.Response:
    """POST `body` as JSON with every non-ASCII character escaped: how a client sends an
    unpaired surrogate (httpx's own `json=` cannot encode one)."""
    content = json.dumps(body).encode()
    return await client.post(path, content=content, headers={"content-type": "application/json"})


def refused(response: httpx.Response) -> dict[str, Any]:
    """A name that breaks the rule: a 422 problem that says where, never a 500."""
    body = problem(response, 422)
    assert body["errors"], body
    return body


# --- NUL bytes and unpaired surrogates: names are refused ------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/v1/threads/a%00b", "no-such-thread"),
        ("/api/v1/requests/a%00b", "no-such-request"),
        ("/api/v1/people/a%00b", "no-such-person"),
    ],
)
async def test_a_nul_in_a_path_id_is_not_found(
    api: httpx.AsyncClient, path: str, kind: str
) -> None:
    """A path id that breaks the rule of names names nothing: 404, as the document says."""
    assert problem(await api.get(path), 404)["type"].endswith(kind)
    operation = path.rsplit("/", 1)[0] + "/{" + kind.removeprefix("no-such-") + "_id}"
    document = (await api.get("/api/v1/openapi.json")).json()
    [parameter] = [
        p for p in document["paths"][operation]["get"]["parameters"] if p["in"] == "path"
    ]
    assert (
        parameter["schema"]["pattern"] and "404" in document["paths"][operation]["get"]["responses"]
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/threads?agent=a%00b",
        "/api/v1/threads?channel=a%00b",
        "/api/v1/requests?thread_id=a%00b",
    ],
)
async def test_a_nul_in_a_filter_is_refused(api: httpx.AsyncClient, path: str) -> None:
    assert refused(await api.get(path))["errors"][0]["loc"][0] == "query"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/v1/threads/a%00b/messages", {"text": "hi"}), ("/api/v1/threads/a%00b/pause", None)],
)
async def test_a_nul_in_the_path_of_a_post_is_not_found(
    api: httpx.AsyncClient, path: str, body: object
) -> None:
    problem(await api.post(path, json=body), 404)


@pytest.mark.parametrize(
    ("person", "field"),
    [
        ({"name": "Fr\x00ank"}, "name"),
        ({"name": "Fr\ud800ank"}, "name"),
        ({"identities": {"slack": "U0FR\x00ANK"}}, "identities"),
        ({"identities": {"sms": "+1555010\x000099"}}, "identities"),
        ({"identities": {"sl\x00ack": "U0FRANK"}}, "identities"),
        ({"channels": ["sl\x00ack"]}, "channels"),
    ],
    ids=["nul name", "surrogate name", "nul address", "nul number", "nul channel", "nul listed"],
)
async def test_a_nul_in_a_persons_name_or_identity_is_refused(
    api: httpx.AsyncClient, person: dict[str, Any], field: str
) -> None:
    person = {"id": "frank", "name": "Frank", **person}
    body = refused(await post_json(api, "/api/v1/people", person))
    assert body["errors"][0]["loc"][:2] == ["body", field]
    assert problem(await api.get("/api/v1/people/frank"), 404)


async def test_names_in_launch_and_sandbox_bodies_are_refused(api: httpx.AsyncClient) -> None:
    refused(
        await api.post(
            "/api/v1/threads", json={"agent": "deploy", "message": "hi", "requester": "b\x00b"}
        )
    )
    for sender, conversation in [("U0B\x00B", "C1"), ("U0BOB", "C\x001"), ("U0B\ud800", "C1")]:
        body = {"sender": sender, "conversation": conversation, "text": "hi"}
        refused(await post_json(api, "/api/v1/sandbox/slack/messages", body))


async def test_written_text_with_nul_and_surrogates_is_kept_clean(api: httpx.AsyncClient) -> None:
    """What people write is accepted on both backends: NUL removed, a lone surrogate replaced."""
    for text in ["hi \ud800", "deploy\x00 api", "\udfff\x00"]:
        body = {"sender": "U0BOB", "conversation": f"C-{text!a}", "text": text}
        accepted = await post_json(api, "/api/v1/sandbox/slack/messages", body)
        assert accepted.status_code == 202, accepted.text
    launched = await post_json(
        api, "/api/v1/threads", {"agent": "deploy", "message": "deploy\x00 api \ud800 2.4.1"}
    )
    assert launched.status_code == 201, launched.text
    shown = (await api.get(f"/api/v1/threads/{launched.json()['id']}")).json()
    first = shown["events"][0]
    assert (first["text"], first["altered"]) == ("deploy api \ufffd 2.4.1", 2)


async def test_blank_or_nul_only_text_says_nothing(api: httpx.AsyncClient) -> None:
    for text in ["", "   ", "\x00", " \x00\n"]:
        body = {"agent": "deploy", "message": text}
        assert refused(await api.post("/api/v1/threads", json=body))["errors"][0]["loc"] == [
            "body",
            "message",
        ]
        sandbox = {"sender": "U0BOB", "conversation": "C1", "text": text}
        refused(await api.post("/api/v1/sandbox/slack/messages", json=sandbox))


async def test_a_respond_body_with_nul_is_refused_in_names_and_cleaned_in_reasons(
    api: httpx.AsyncClient,
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    respond = f"/api/v1/requests/{(await open_request(api, thread_id))['id']}/respond"
    refused(await api.post(respond, json={"as": "al\x00ice", "decision": "approve"}))
    approved = await post_json(
        api, respond, {"as": "alice", "decision": "approve", "reason": "go\x00 \ud800"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["answer"] == "go \ufffd"


# --- the console's forms and filters -----------------------------------------------------------------


async def test_the_consoles_forms_and_filters_refuse_broken_names(
    console: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    request_id = (await open_request(api, thread_id))["id"]
    answers = [
        (f"/requests/{request_id}/respond", {"person": "al\x00ice", "decision": "approve"}),
        ("/sandbox/slack/say", {"as": "bob", "text": "hi", "c": "C\x001"}),
        ("/sandbox/slack/press", {"as": "bob", "request_id": "r\x00", "decision": "approve"}),
    ]
    for path, form in answers:
        refused(await console.post(path, data=form))
    for path in ["/threads?status=a%00b", "/sandbox/slack?c=C%001"]:
        refused(await console.get(path))
    # Ids in paths name nothing: the console's "not found" pages.
    for response in [
        await console.post("/requests/r%00x/respond", data={"person": "alice"}),
        await console.post("/threads/t%00x/pause"),
        await console.get("/threads/t%00x"),
        await console.get("/sandbox/sl%00ack"),
    ]:
        assert response.status_code == 404, response.text


async def test_the_console_keeps_written_answers_clean(
    console: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    request_id = (await open_request(api, thread_id))["id"]
    form = {"person": "alice", "decision": "approve", "reason": "ship\x00 it"}
    answered = await console.post(f"/requests/{request_id}/respond", data=form)
    assert answered.status_code == 200, answered.text
    assert (await api.get(f"/api/v1/requests/{request_id}")).json()["answer"] == "ship it"


# --- request size limits -------------------------------------------------------------------------------


class HookedCodec(GenericCodec):
    """A platform that calls a webhook: every call is accepted and acknowledged."""

    def verify(self, request: RawRequest) -> None:
        return None

    def parse(self, request: RawRequest) -> list[Inbound]:
        return []

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        return Ack(200, b"ok")


def with_webhook(name: str, codec: type[HookedCodec] = HookedCodec) -> Channel:
    """A sandbox of `codec` whose platform calls /hooked/events."""
    return sandboxed(codec(name, Look(name), AddressForm("U0"), webhooks=("/hooked/events",)))


@pytest.fixture
async def small(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with small limits: API bodies 2,000 bytes, webhooks 1,000, console forms 500."""
    settings = service_settings(
        database_url,
        switchboard_max_body_bytes=2000,
        switchboard_max_webhook_bytes=1000,
        switchboard_max_form_bytes=500,
    )
    async with open_service(settings, migrate=False) as service:
        await service.app.store.save_people(PEOPLE)
        hooked = dataclasses.replace(
            service, channels={**service.channels, "hooked": with_webhook("hooked")}
        )
        async with client_for(hooked, authorization=f"Bearer {TOKEN}") as client:
            client.cookies.set("switchboard_token", TOKEN)
            yield client


def too_large(response: httpx.Response, setting: str) -> None:
    body = problem(response, 413)
    assert setting in body["detail"]


async def chunks(size: int, chunk: int = 300) -> AsyncIterator[bytes]:
    """A body of `size` bytes sent in pieces, with no Content-Length (chunked)."""
    sent = 0
    while sent < size:
        yield b" " * min(chunk, size - sent)
        sent += chunk


def json_of(size: int) -> bytes:
    text = "x" * max(0, size - 40)
    return f'{{"agent": "deploy", "message": "{text}"}}'.encode()


async def test_each_kind_of_endpoint_has_its_limit(small: httpx.AsyncClient) -> None:
    json = {"content-type": "application/json"}
    launched = await small.post("/api/v1/threads", content=json_of(1900), headers=json)
    assert launched.status_code == 201, launched.text
    too_large(
        await small.post("/api/v1/threads", content=json_of(2100), headers=json),
        "SWITCHBOARD_MAX_BODY_BYTES",
    )
    assert (await small.post("/hooked/events", content=b"x" * 900)).status_code == 200
    too_large(
        await small.post("/hooked/events", content=b"x" * 1100), "SWITCHBOARD_MAX_WEBHOOK_BYTES"
    )
    login = await small.post("/login", data={"token": "x" * 600})
    too_large(login, "SWITCHBOARD_MAX_FORM_BYTES")


async def test_a_streamed_body_without_content_length_is_counted(small: httpx.AsyncClient) -> None:
    response = await small.post(
        "/api/v1/threads", content=chunks(5000), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    too_large(response, "SWITCHBOARD_MAX_BODY_BYTES")
    too_large(
        await small.post("/hooked/events", content=chunks(1500)), "SWITCHBOARD_MAX_WEBHOOK_BYTES"
    )
    too_large(
        await small.post(
            "/sandbox/slack/say",
            content=chunks(900),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        "SWITCHBOARD_MAX_FORM_BYTES",
    )


async def test_a_lying_content_length_does_not_let_more_through(small: httpx.AsyncClient) -> None:
    request = small.build_request(
        "POST", "/api/v1/threads", content=chunks(5000), headers={"content-length": "10"}
    )
    too_large(await small.send(request), "SWITCHBOARD_MAX_BODY_BYTES")


# --- the OpenAPI document and the answers agree --------------------------------------------------------


async def test_domain_422s_carry_errors_as_the_document_says(api: httpx.AsyncClient) -> None:
    thread_id = await launch(api)
    await reaches(api, thread_id, "waiting_human")
    respond = f"/api/v1/requests/{(await open_request(api, thread_id))['id']}/respond"
    cases = [
        ("/api/v1/threads", {"agent": "nobody", "message": "hi"}, "unknown-agent", "agent"),
        (
            "/api/v1/threads",
            {"agent": "deploy", "message": "hi", "requester": "zed"},
            "unknown-person",
            "requester",
        ),
        (f"/api/v1/threads/{thread_id}/messages", {"text": "hi", "sender": "zed"}, None, "sender"),
        ("/api/v1/people", {"id": "f", "name": "F", "identities": {"teams": "f"}}, None, None),
        ("/api/v1/people", {"id": "f", "name": "F", "channels": ["slack"]}, "invalid-person", None),
        (respond, {"as": "alice", "decision": "answer", "answer": "ok"}, "wrong-decision", None),
    ]
    for path, body, kind, field in cases:
        found = refused(await api.post(path, json=body))
        ValidationProblem.model_validate(found)  # the model the document's 422 schema comes from
        if kind:
            assert found["type"].endswith(kind)
            assert found["errors"][0]["type"] == kind
        if field:
            assert found["errors"][0]["loc"] == ["body", field]


async def test_bodies_document_400_and_413(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/v1/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            takes_body = "requestBody" in operation
            for status in ("400", "413"):
                assert (status in operation["responses"]) == takes_body, (method, path, status)
                if takes_body:
                    assert PROBLEM in operation["responses"][status]["content"]
    launch = document["paths"]["/api/v1/threads"]["post"]["responses"]["413"]
    assert "1048576 bytes (SWITCHBOARD_MAX_BODY_BYTES)" in launch["description"]


async def test_the_document_states_the_rules_and_the_choices(api: httpx.AsyncClient) -> None:
    document = (await api.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    launch = schemas["LaunchThread"]["properties"]
    assert launch["agent"]["enum"] == ["deploy", "support"]
    assert "pattern" in launch["agent"] and launch["agent"]["maxLength"]
    assert launch["message"]["pattern"]
    person = schemas["NewPerson"]["properties"]
    assert person["channels"]["items"]["enum"] == ["discord", "email", "slack", "sms"]
    assert person["identities"]["propertyNames"]["enum"] == ["discord", "email", "slack", "sms"]
    assert {"sms", "email"} <= set(person["identities"]["properties"])
    thread = document["paths"]["/api/v1/threads/{thread_id}"]["get"]["parameters"][0]
    assert thread["schema"]["pattern"] and thread["schema"]["minLength"] == 1
    assert "x-switchboard-choices" not in str(document)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/people", "GET, POST"),
        ("/api/v1/people/alice", "GET, PUT"),
        ("/api/v1/threads", "GET, POST"),
        ("/api/v1/threads/t-1/pause", "POST"),
    ],
)
async def test_a_405_names_every_method_of_its_path(
    api: httpx.AsyncClient, path: str, allow: str
) -> None:
    response = await api.request("DELETE", path)
    problem(response, 405)
    assert response.headers["allow"] == allow


# --- the console's cookie ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("https://switchboard.example.com", True), ("http://127.0.0.1:8000", False)],
)
async def test_the_console_cookie_is_secure_when_served_over_https(
    sqlite_url: str, public_url: str, secure: bool
) -> None:
    settings = service_settings(sqlite_url, switchboard_public_url=public_url)
    # The proxy in front ends TLS: the app itself is reached over plain HTTP.
    async with open_service(settings, migrate=False) as service, client_for(service) as browser:
        signed_in = await browser.post("/login", data={"token": TOKEN})
        logged_out = await browser.post("/logout")
    for response in (signed_in, logged_out):
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert ("; secure" in cookie) is secure


class JsonCodec(HookedCodec):
    """A platform that posts one message as JSON: parse builds the InboundMessage from it."""

    def parse(self, request: RawRequest) -> list[Inbound]:
        data = json.loads(request.body)
        return [InboundMessage(channel=self.name, **data)]


async def test_a_webhook_meets_the_same_rule_as_the_api(database_url: str) -> None:
    """A channel's webhook: a broken name is a 400 that stores nothing, written text is kept clean."""
    async with open_service(service_settings(database_url), migrate=False) as service:
        await service.app.store.save_people(PEOPLE)
        hooked = dataclasses.replace(
            service, channels={**service.channels, "slack": with_webhook("slack", JsonCodec)}
        )
        message = {"external_id": "Ev1", "sender": "U0BOB", "conversation": "C1"}
        async with client_for(hooked) as client:
            broken = await post_json(client, "/hooked/events", {**message, "sender": "U0\x00BOB"})
            assert broken.status_code == 400
            assert "sender: String should match pattern" in broken.text
            assert await service.app.store.inbox() == []
            kept = await post_json(
                client, "/hooked/events", {**message, "text": "deploy\x00 \ud800"}
            )
            assert kept.status_code == 200, kept.text
        [stored] = await service.app.store.inbox()
        assert stored.text == "deploy \ufffd"
