"""Email's sandbox: each mail is its own thread, as its server would take it, and a person's reply
is the mail their client would send, read by the channel's own parser (token, threading, quote)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert

from core.records import OutboxItem, Person
from core.service import Service
from core.web.auth import COOKIE
from storage.tables import outbox
from tests.fixtures import eventually, running, service_settings, simulator
from tests.test_api import TOKEN, client_for

ERIN = Person(
    id="erin",
    name="Erin",
    roles=["deploy-approver"],
    channels=["email"],
    identities={"email": "erin@example.com"},
)
BOB = Person(
    id="bob",
    name="Bob",
    roles=["engineer"],
    channels=["email"],
    identities={"slack": "U0BOB", "email": "bob@example.com"},
)


async def sent_to(service: Service, address: str, kind: str, count: int = 1) -> list[OutboxItem]:
    async def check() -> list[OutboxItem] | None:
        """the mails were sent"""
        rows = await service.app.store.outbox(channel="email", status="sent")
        found = [r for r in rows if r.address == address and r.kind == kind]
        return found if len(found) >= count else None

    return await eventually(check)


async def say(api: httpx.AsyncClient, sender: str, conversation: str, text: str) -> dict[str, Any]:
    answer = await api.post(
        "/api/v1/sandbox/email/messages",
        json={"sender": sender, "conversation": conversation, "text": text},
    )
    assert answer.status_code == 202, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_reply_to_a_request_mail_goes_to_its_token_and_its_quote_is_taken_off(
    database_url: str,
) -> None:
    async with (
        running(service_settings(database_url), [ERIN, BOB]) as service,
        client_for(service, authorization=f"Bearer {TOKEN}") as api,
    ):
        asked = await api.post(
            "/api/v1/sandbox/slack/messages",
            json={
                "sender": "U0BOB",
                "conversation": "C1:1",
                "text": "deploy api 2.4.1 to production",
            },
        )
        assert asked.json()["outcome"] == "started"
        [request] = await sent_to(service, "erin@example.com", "request")
        assert request.payload is not None
        # Its own thread, as a server takes a mail: its Message-ID and its subject.
        assert request.message_id == request.payload["message_id"]
        assert request.conversation == f"{request.message_id} {request.payload['subject']}"
        assert request.payload["reply_to"].startswith("agents+req-")

        answered = await say(api, "erin@example.com", request.conversation, "APPROVE\n\nGo ahead.")
        assert (answered["outcome"], answered["conversation"]) == ("answered", request.conversation)
        [mail] = await service.app.store.inbox(channel="email")
        assert mail.text == "APPROVE\n\nGo ahead."  # the quoted request below it: taken off
        assert mail.external_id.startswith("<sbx-")  # its Message-ID: read from the mail
        assert mail.action is not None and mail.action["request_id"] == request.request_id
        [outcome] = await sent_to(service, "erin@example.com", "outcome")
        assert outcome.payload is not None and outcome.conversation == request.conversation
        assert outcome.payload["in_reply_to"] == request.message_id

        # A second reply, to the outcome shown last, still names the request: it was settled.
        late = await say(api, "erin@example.com", request.conversation, "REJECT on second thought")
        assert late["outcome"] == "refused" and late["detail"].startswith("Already settled")


async def test_a_reply_finds_its_mail_however_many_were_sent_since(database_url: str) -> None:
    """The mail a reply answers is its conversation's latest, even with 600 mails sent on the
    channel since (a reply once looked only among the channel's newest 500, and lost its token)."""
    async with (
        running(service_settings(database_url), [ERIN, BOB]) as service,
        client_for(service, authorization=f"Bearer {TOKEN}") as api,
    ):
        await api.post(
            "/api/v1/sandbox/slack/messages",
            json={
                "sender": "U0BOB",
                "conversation": "C1:1",
                "text": "deploy api 2.4.1 to production",
            },
        )
        [request] = await sent_to(service, "erin@example.com", "request")
        now = datetime.now(UTC)
        since = [
            {"seq": 0, "channel": "email", "kind": "reply", "text": "hi", "status": "sent",
             "idempotency_key": f"since-{i}", "created_at": now, "sent_at": now,
             "address": f"someone{i}@example.com", "conversation": f"<m{i}@example.com> hi",
             "payload": {"subject": "hi", "from": "agents@example.com"}}
            for i in range(600)
        ]  # fmt: skip

        def write() -> None:
            with service.app.store.engine.begin() as conn:
                conn.execute(insert(outbox), since)

        await asyncio.to_thread(write)
        answered = await say(api, "erin@example.com", request.conversation or "", "APPROVE")
        assert answered["outcome"] == "answered", answered


async def test_a_new_mail_starts_a_thread_named_by_its_subject_and_the_answers_join_it(
    database_url: str,
) -> None:
    async with (
        running(service_settings(database_url), [ERIN, BOB]) as service,
        client_for(service, authorization=f"Bearer {TOKEN}") as api,
    ):
        new = simulator(service, "email").new_conversation("bob@example.com")
        started = await say(api, "bob@example.com", new, "where is my order?\nThanks, Bob")
        assert started["outcome"] == "started"
        conversation = started["conversation"]
        assert conversation == f"{new} where is my order?"
        [question] = await sent_to(service, "bob@example.com", "request")
        assert question.payload is not None and question.conversation == conversation
        assert question.payload["subject"] == "Re: where is my order?"
        assert (question.payload["in_reply_to"], question.payload["references"]) == (new, [new])

        answered = await say(api, "bob@example.com", conversation, "It is 10002.")
        assert (answered["outcome"], answered["thread_id"]) == ("answered", started["thread_id"])
        [reply] = await sent_to(service, "bob@example.com", "reply")
        assert reply.conversation == conversation and "Order 10002" in reply.text

        async with client_for(service) as console:
            console.cookies.set(COOKIE, TOKEN)
            page = await console.get("/sandbox/email", params={"as": "bob", "c": conversation})
            fresh = simulator(service, "email").new_conversation("bob@example.com")
            said = await console.post(
                "/sandbox/email/say", data={"as": "bob", "c": fresh, "text": "status of 10003?"}
            )
        assert '<h2 class="mail-subject">where is my order?</h2>' in page.text
        assert page.text.count('<article class="mail-msg') == 4  # two mails each way, one thread
        assert said.status_code == 200
        assert '<h2 class="mail-subject">status of 10003?</h2>' in said.text  # its own thread
