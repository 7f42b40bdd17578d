"""Everyone signs in as themselves: a one-time link on their preferred channel, then a session in
which they answer only as themselves; the operator's token answers only for someone named, and
is recorded so."""

from __future__ import annotations

import asyncio
import re

import httpx

from core.records import OutboxItem, Person
from core.service import Service
from core.signin import LINK_SECONDS, new_code, redeem, session, session_key, session_person
from core.web.app import create_app
from core.web.auth import COOKIE
from tests.fixtures import PEOPLE, eventually

DEPLOY = "deploy api 2.4.1 to production"


def console(service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(service)),
        base_url="http://console",
        follow_redirects=True,
    )


async def waiting_deploy(service: Service) -> str:
    thread = await service.app.runtime.start("deploy", DEPLOY, requester="bob")
    service.changed(thread)
    [request] = await eventually(service.app.store.requests)
    return request.id


async def link_sent_to(service: Service, person: str) -> str:
    async def sent() -> list[OutboxItem]:
        rows = await service.app.store.outbox(channel=None, status="sent")
        return [r for r in rows if r.kind == "notice" and r.recipient == person]

    [notice] = await eventually(sent)
    found = re.search(r"http://\S+/login/link\?code=\S+", notice.text)
    assert found is not None, notice.text
    return found[0].removeprefix("http://127.0.0.1:8000")


async def test_a_person_signs_in_by_a_one_time_link_and_answers_only_as_themselves(
    service: Service,
) -> None:
    request_id = await waiting_deploy(service)
    async with console(service) as browser:
        asked = await browser.post("/login/person", data={"who": "alice@example.com"})
        assert "a sign-in link is on its way to their preferred channel" in asked.text
        link = await link_sent_to(service, "alice")
        [sent] = [
            r
            for r in await service.app.store.outbox(status="sent")
            if r.recipient == "alice" and r.kind == "notice"
        ]
        assert sent.channel == "discord"  # her preferred channel, directly to her
        signed = await browser.get(link)
        assert signed.status_code == 200 and "Signed in as <strong>Alice</strong>" in signed.text
        assert "You answer as <strong>Alice</strong>" in signed.text
        # The form cannot make her someone else: the session decides who answers.
        answered = await browser.post(
            f"/requests/{request_id}/respond", data={"person": "erin", "decision": "approve"}
        )
        assert "Approved by Alice via console" in answered.text
        again = await console(service).get(link)
    settled = await service.app.store.request(request_id)
    assert settled is not None and (settled.decided_by, settled.acted_by) == ("alice", None)
    assert again.status_code == 401 and "used, expired or unknown" in again.text


async def test_those_who_may_not_decide_see_why_and_a_stranger_gets_no_link(
    service: Service,
) -> None:
    await waiting_deploy(service)
    async with console(service) as bob:
        nobody = await bob.post("/login/person", data={"who": "zed@example.com"})
        assert "a sign-in link is on its way" in nobody.text  # the same words: it tells nothing
        await bob.post("/login/person", data={"who": "bob"})
        page = await bob.get(await link_sent_to(service, "bob"))
    assert "You asked for this, so someone else must decide" in page.text  # four eyes
    assert 'name="decision"' not in page.text
    frank = Person(id="frank", name="Frank", identities={"slack": "U0FRANK"})
    await service.app.store.save_people([*PEOPLE, frank])
    async with console(service) as browser:
        await browser.post("/login/person", data={"who": "u0frank"})  # any case
        page = await browser.get(await link_sent_to(service, "frank"))
    assert "It is for role:deploy-approver: you are not one of them." in page.text
    assert not [r for r in await service.app.store.outbox(status=None) if "zed" in (r.text or "")]


async def test_the_operator_answers_only_for_someone_named_and_it_says_so(
    service: Service,
) -> None:
    request_id = await waiting_deploy(service)
    async with console(service) as operator:
        operator.cookies.set(COOKIE, service.api_token)
        page = await operator.get("/")
        assert "as the operator" in page.text and "Answer on behalf of" in page.text
        unnamed = await operator.post(
            f"/requests/{request_id}/respond", data={"decision": "approve"}
        )
        assert "Choose the person you answer for" in unnamed.text
        named = await operator.post(
            f"/requests/{request_id}/respond", data={"person": "alice", "decision": "approve"}
        )
    assert "Approved by operator on behalf of Alice via console" in named.text
    settled = await service.app.store.request(request_id)
    assert settled is not None and settled.acted_by == "operator"


async def test_links_and_sessions_keep_to_their_rules(service: Service) -> None:
    store = service.app.store
    code = await new_code(store, "alice", now=1000.0)
    assert await redeem(store, code, now=1000.0 + LINK_SECONDS + 1) is None  # expired
    fresh = await new_code(store, "alice")
    assert await redeem(store, fresh) == "alice"
    assert await redeem(store, fresh) is None  # once
    raced = await new_code(store, "alice")
    clicks = await asyncio.gather(*(redeem(store, raced) for _ in range(8)))
    assert clicks.count("alice") == 1 and clicks.count(None) == 7  # many tabs, one sign-in
    key = session_key(service.api_token)
    value = session(key, "alice", now=1000.0)
    assert session_person(key, value, now=1000.0) == "alice"
    assert session_person(key, value.replace("alice", "erin"), now=1000.0) is None  # forged
    assert session_person(session_key("another token"), value, now=1000.0) is None
    assert session_person(key, value, now=10**9) is None  # expired


async def test_in_the_sandbox_a_signed_in_person_speaks_and_reads_only_as_themselves(
    service: Service,
) -> None:
    request_id = await waiting_deploy(service)
    async with console(service) as operator:
        operator.cookies.set(COOKIE, service.api_token)
        shown = await operator.get("/sandbox/discord?as=erin")
        assert "Acting as anyone is the sandbox" in shown.text
        assert '<option value="erin"' in shown.text and '<option value="alice"' in shown.text
    async with console(service) as bob:
        await bob.post("/login/person", data={"who": "bob"})
        await bob.get(await link_sent_to(service, "bob"))
        # Bob has no Discord address: the Discord sandbox, with Alice's request in it, is not his.
        discord = await bob.get("/sandbox/discord?as=alice")
        assert discord.status_code == 404 and "You have no address on discord" in discord.text
        assert request_id not in discord.text
        slack = await bob.get("/sandbox/slack?as=alice")
        assert "You act here as yourself, Bob" in slack.text
        assert '<option value="alice"' not in slack.text  # only himself to choose
        pressed = await bob.post(
            "/sandbox/discord/press",
            data={"as": "alice", "request_id": request_id, "decision": "approve"},
        )
        said = await bob.post("/sandbox/slack/say", data={"as": "alice", "text": "approve"})
    assert pressed.status_code == said.status_code == 403
    assert "you speak only as yourself, not as alice" in pressed.text
    settled = await service.app.store.request(request_id)
    assert settled is not None and settled.decided_by is None
