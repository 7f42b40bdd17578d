"""Words in the console meant for people (issue 14, item 7): a thread is titled by what was asked,
a sandbox conversation by who takes part and what it is about, and the header's Inbox count
changes while a page is open."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from core.service import Service
from core.web.app import create_app
from core.web.auth import COOKIE
from core.web.console.conversations import Conversation, Message
from tests.fixtures import eventually


@pytest.fixture
async def console(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", cookies={COOKIE: service.api_token}
    ) as client:
        yield client


def test_a_headline_is_one_line_clipped_at_a_word() -> None:
    from core.web.console.render import headline

    assert headline("deploy api 2.4.1\n  to production") == "deploy api 2.4.1 to production"
    long = "please deploy the api service version 2.4.1 to production after the lunch break today"
    clipped = headline(long)
    assert len(clipped) <= 60 and clipped.endswith("…")
    assert clipped == "please deploy the api service version 2.4.1 to production…"


async def test_threads_are_listed_and_shown_with_their_first_message(
    service: Service, console: httpx.AsyncClient
) -> None:
    runtime = service.app.runtime
    asked = await runtime.start("deploy", "deploy api 2.4.1\nto production", requester="bob")
    long = "roll back api in production to 2.4.0 because the error rate doubled since noon"
    rolled = await runtime.start("deploy", long, requester="bob")

    listing = (await console.get("/threads")).text
    row = next(r for r in listing.split("<tr>") if asked in r)
    assert "deploy api 2.4.1 to production" in row  # one line, beside the id
    row = next(r for r in listing.split("<tr>") if rolled in r)
    clipped = "roll back api in production to 2.4.0 because the error…"
    assert clipped in row and long not in row

    shown = (await console.get(f"/threads/{asked}")).text
    assert "<title>deploy api 2.4.1 to production · Switchboard</title>" in shown
    assert re.search(r'<h1 class="thread-title">.*deploy api 2\.4\.1 to production', shown)
    polled = (await console.get(f"/threads/{asked}/live")).text
    assert "deploy api 2.4.1 to production" in polled


def _message(text: str, direction: str = "in", minute: int = 0) -> Message:
    at = datetime(2025, 1, 1, 12, minute, tzinfo=UTC)
    author = "Bob Example" if direction == "in" else "Switchboard"
    kind = "message" if direction == "in" else "request"
    return Message("in" if direction == "in" else "out", at, author, text, kind)


def test_a_conversation_is_titled_by_who_takes_part_and_what_it_is_about() -> None:
    people = {"bob": "Bob Example"}
    first = Conversation("C1:1", [_message("deploy api 2.4.1 to production")], dict(people))
    second = Conversation("C1:2", [_message("roll back api in production to 2.4.0")], people)
    assert first.title("direct messages") == "Bob Example · deploy api 2.4.1 to production"
    assert second.title("") == "Bob Example · roll back api in production to 2.4.0"
    asked = _message("Approve deploy of api 2.4.1 to production,\nasked by Bob Example", "out")
    direct = Conversation("dm:1001", [asked, _message("ok", minute=1)], {"a": "Alice Example"})
    assert direct.title("direct messages") == (
        "Alice Example · direct messages · Approve deploy of api 2.4.1 to production…"
    )


async def test_two_slack_conversations_of_bobs_are_told_apart_in_the_sandbox(
    console: httpx.AsyncClient,
) -> None:
    for text in ("deploy api 2.4.1 to production", "deploy web 1.8.0 to staging"):
        said = await console.post("/sandbox/slack/say", data={"as": "bob", "text": text})
        assert said.status_code == 200, said.text
    listing = (await console.get("/sandbox/slack/conversations", params={"as": "bob"})).text
    titles = re.findall(r'<span class="convo-title"[^>]*>([^<]*)</span>', listing)
    assert "Bob · deploy api 2.4.1 to production" in titles, titles
    assert "Bob · deploy web 1.8.0 to staging" in titles, titles


async def test_the_inbox_count_in_the_header_changes_while_a_page_is_open(
    service: Service, console: httpx.AsyncClient
) -> None:
    opened = (await console.get("/threads")).text
    found = re.search(r'<span id="inbox-count" hx-get="([^"]+)" hx-trigger="every \w+"', opened)
    assert found, "the header's Inbox count does not poll"
    poll = found[1].replace("&amp;", "&")
    unchanged = await console.get(poll)
    assert unchanged.status_code == 204  # nothing new: htmx leaves the count alone

    thread = await service.app.runtime.start(
        "deploy", "deploy api 2.4.1 to production", requester="bob"
    )
    service.changed(thread)  # a worker takes it on, and asks for an approval
    await eventually(service.app.store.requests)
    changed = await console.get(poll)
    assert changed.status_code == 200
    assert '<span class="count" title="open requests">1</span>' in changed.text
    again = re.search(r'hx-get="([^"]+)"', changed.text)
    assert again and (await console.get(again[1].replace("&amp;", "&"))).status_code == 204
