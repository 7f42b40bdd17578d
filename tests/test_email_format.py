"""The email channel's pure formatting: the mail each kind of message becomes (its text and HTML
parts, its headers), that mail as MIME read back as a mail client reads it, its preview, and the
template that draws a thread."""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import compat32, default
from email.utils import parseaddr
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.compose import compose, mime, split_address
from channels.email.preview import LOOK, preview
from core.channels import OutboundMessage, RequestContext
from tests.previews import drawn

SENDER = "Switchboard <agents@example.com>"
CONSOLE = "https://switchboard.example.com/"
ALICE = "alice@example.com"
DEADLINE = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
SENT = datetime(2026, 11, 29, 17, 40, tzinfo=UTC)
APPROVE = "Reply APPROVE to approve, or REJECT and a reason to reject."

REPLY = OutboundMessage(
    kind="reply",
    text="**Deployed** `api` 2.4.1. See [the notes](https://x.io/notes).",
    address=ALICE,
    agent="deploy",
    thread_id="t-42",
)
APPROVAL = OutboundMessage(
    kind="request",
    text="Deploy api 2.4.1 to production?",
    address=ALICE,
    agent="deploy",
    thread_id="t-42",
    request_id="req-1",
    request_kind="approval",
    reply_code="417",
    context=RequestContext(
        question="Deploy api 2.4.1 to production?",
        requester="Bob Example",
        agent="deploy",
        tool="deploy",
        arguments={"service": "api", "version": "2.4.1"},
        deadline=DEADLINE,
    ),
)
QUESTION = OutboundMessage(
    kind="request",
    text="Order 1234 arrived broken. What should we offer?",
    address=ALICE,
    agent="support",
    request_id="req-2",
    request_kind="question",
    reply_code="281",
    options=("Full refund", "Store credit"),
    context=RequestContext(requester="Bob Example", agent="support"),
)
NOTICE = OutboundMessage(kind="notice", text="There is no request 999.", address=ALICE)
OUTCOME = OutboundMessage(
    kind="outcome",
    text="Approved by Alice via slack, 14:02 UTC",
    address=ALICE,
    agent="deploy",
    thread_id="t-42",
    request_id="req-1",
    request_kind="approval",
    edit_of="<m1@example.com>",
    context=APPROVAL.context,
)


def _mail(message: OutboundMessage, **overrides: Any) -> dict[str, Any]:
    given: dict[str, Any] = {
        "sender": SENDER,
        "subject": "Approval needed: deploy",
        "message_id": "<m2@example.com>",
        "in_reply_to": "<m1@example.com>",
        "references": ["<m0@example.com>", "<m1@example.com>"],
        "reply_to": "agents+req-1.abc123@example.com",
        "console_url": CONSOLE,
    }
    return compose(message, **{**given, **overrides})


def _sent(payload: dict[str, Any]) -> EmailMessage:
    """The mail as a mail client reads it: from its bytes."""
    raw = bytes(mime(payload, date=SENT))
    raw.decode("ascii")  # nothing 8-bit: every server takes it
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _visible(html: str) -> list[str]:
    """The lines a person reads in an HTML part, from the top."""
    body = html.split("<body", 1)[1].split(">", 1)[1]
    text = unescape(re.sub(r"<[^>]+>", "\n", body))
    return [line.strip() for line in text.split("\n") if line.strip()]


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


# --- requests ---------------------------------------------------------------------------------


def test_an_approval_reads_as_a_decider_needs_it() -> None:
    assert _mail(APPROVAL)["text"] == (
        "Deploy api 2.4.1 to production?\n\n"
        f"{APPROVE}\n\n"
        "Decide by 14:00 UTC, 30 Nov 2026; then it is rejected.\n\n"
        "Requested by: Bob Example\n"
        "Agent:        deploy\n"
        "Tool:         deploy\n\n"
        "Arguments:\n"
        "  service: api\n"
        "  version: 2.4.1\n\n"
        "-- \n"
        "The whole conversation: https://switchboard.example.com/threads/t-42\n"
    )


def _words(html: str) -> str:
    """An HTML part's text, as one line."""
    return " ".join(_visible(html))


def test_the_html_part_says_how_to_answer_first_and_what_the_text_part_says() -> None:
    html = _words(_mail(APPROVAL)["html"])
    assert html.startswith(f"Deploy api 2.4.1 to production? {APPROVE} Decide by 14:00 UTC")
    assert html.count("Deploy api 2.4.1 to production?") == 1  # the question once
    assert "Requested by Bob Example Agent deploy Tool deploy" in html
    assert "Arguments service api version 2.4.1" in html


def test_a_long_question_follows_the_instructions() -> None:
    question = "Deploy the api service to production, with every change since Monday. " * 12
    payload = _mail(APPROVAL.model_copy(update={"text": question}))
    assert _lines(payload["text"])[0] == APPROVE
    assert _words(payload["html"]).startswith(APPROVE)
    assert question.strip() in payload["text"]


def test_a_question_numbers_its_options() -> None:
    payload = _mail(QUESTION)
    assert _lines(payload["text"])[:4] == [
        "Order 1234 arrived broken. What should we offer?",
        "Reply with the number of your choice:",
        "1. Full refund",
        "2. Store credit",
    ]
    assert _words(payload["html"]).startswith(
        "Order 1234 arrived broken. What should we offer?"
        " Reply with the number of your choice: 1. Full refund 2. Store credit"
    )
    assert "APPROVE" not in payload["text"]


def test_a_question_without_options_asks_for_an_answer() -> None:
    context = RequestContext(deadline=datetime(2026, 3, 4, 9, 5, tzinfo=UTC))
    payload = _mail(QUESTION.model_copy(update={"options": (), "context": context}))
    assert _lines(payload["text"])[:3] == [
        "Order 1234 arrived broken. What should we offer?",
        "Reply with your answer.",
        "Answer by 09:05 UTC, 4 Mar 2026; then it closes unanswered.",
    ]


@pytest.mark.parametrize(
    "deadline",
    [
        DEADLINE,
        DEADLINE.astimezone(timezone(timedelta(hours=-5))),  # 09:00 in New York
        DEADLINE.replace(tzinfo=None),  # a naive one is UTC
    ],
)
def test_the_deadline_is_in_utc_words(deadline: datetime) -> None:
    context = APPROVAL.context.model_copy(update={"deadline": deadline})  # type: ignore[union-attr]
    payload = _mail(APPROVAL.model_copy(update={"context": context}))
    said = "Decide by 14:00 UTC, 30 Nov 2026; then it is rejected."
    assert said in payload["text"] and said in _words(payload["html"])


def test_arguments_are_shown_exactly_never_as_a_repr() -> None:
    arguments = {
        "n": 3,
        "force": True,
        "none": None,
        "tags": ["a", "b"],
        "spec": {"replicas": 2},
        "blank": "",
        "padded": " api ",
        "lines": "a\nb",
        "ratio": 0.5,
    }
    context = APPROVAL.context.model_copy(update={"arguments": arguments})  # type: ignore[union-attr]
    payload = _mail(APPROVAL.model_copy(update={"context": context}))
    text = payload["text"]
    for line in (
        "  n:      3",
        "  force:  true",
        "  none:   null",
        '  tags:   ["a", "b"]',
        '  spec:   {"replicas": 2}',
        '  blank:  ""',
        '  padded: " api "',
        '  lines:  "a\\nb"',
        "  ratio:  0.5",
    ):
        assert f"\n{line}\n" in text
    html = _words(payload["html"])
    assert 'tags ["a", "b"]' in html and "force true" in html and "none null" in html
    for repr_only in ("True", "None", "['a'", "{'replicas'"):
        assert repr_only not in text and repr_only not in payload["html"]


def test_a_long_argument_is_cut_and_markup_in_arguments_is_text() -> None:
    arguments = {"<b>key</b>": "<script>alert(1)</script>", "sql": "x" * 5000}
    context = APPROVAL.context.model_copy(update={"arguments": arguments})  # type: ignore[union-attr]
    payload = _mail(APPROVAL.model_copy(update={"context": context}))
    assert re.search(r"\n  sql: +" + "x" * 299 + "…\n", payload["text"])
    assert "x" * 300 not in payload["html"] and "x" * 299 + "…" in payload["html"]
    assert "<script>" not in payload["html"] and "<b>" not in payload["html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in payload["html"]
    assert "&lt;b&gt;key&lt;/b&gt;" in payload["html"]


def test_a_request_without_context_still_says_how_to_answer() -> None:
    bare = APPROVAL.model_copy(update={"context": None, "text": "", "thread_id": None})
    assert _mail(bare)["text"] == f"(no text)\n\n{APPROVE}\n"


# --- replies, notices, outcomes ---------------------------------------------------------------


def test_a_reply_is_the_agents_markdown_and_its_html() -> None:
    payload = _mail(REPLY)
    assert payload["text"].startswith(REPLY.text + "\n\n-- \n")
    html = payload["html"]
    assert "<strong>Deployed</strong>" in html
    assert re.search(r'<code style="[^"]+">api</code>', html)
    assert re.search(r'<a href="https://x.io/notes" style="[^"]+">the notes</a>', html)


HOSTILE_MARKDOWN = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> <style>p{}</style>\n\n"
    "[click](javascript:alert(1)) [rel](/admin) <javascript:alert(1)>\n\n"
    "![tracker](https://evil.example/pixel.png) ![](https://evil.example/blank.png)\n\n"
    "```html\n<iframe src=https://evil.example></iframe>\n```\n\n"
    "| a | <b>b</b> |\n|---|---|\n| 1 | 2 |"
)
TAGS = {"html", "head", "meta", "title", "body", "div", "p", "a", "strong", "em", "code", "pre"}
TAGS |= {"table", "tr", "th", "td", "thead", "tbody", "ul", "ol", "li", "blockquote", "hr"}
TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6", "s", "br"}


class _Tags(HTMLParser):
    """The tags and attributes in a page of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    found = _Tags()
    found.feed(html)
    return found.tags


def _safe(html: str) -> None:
    """Markup of our own only: no script, nothing that loads from elsewhere, inline CSS."""
    for tag, attributes in _tags(html):
        assert tag in TAGS, tag
        assert set(attributes) <= {"style", "href", "lang", "charset", "name", "content"}
        href = attributes.get("href")
        assert href is None or href.startswith(("https://", "http://", "mailto:")), href


def test_the_html_part_runs_nothing_and_loads_nothing() -> None:
    html = _mail(REPLY.model_copy(update={"text": HOSTILE_MARKDOWN}))["html"]
    _safe(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;iframe src=https://evil.example&gt;&lt;/iframe&gt;" in html
    assert "[click](javascript:alert(1))" in html and "[rel](/admin)" in html
    # an image is a link to it, opened by choice, never loaded with the mail
    assert '<a href="https://evil.example/pixel.png" style="color:#0969da">tracker</a>' in html
    assert ">https://evil.example/blank.png</a>" in html


MARKUP = ["*", "**", "_", "`", "```", "\n", "> ", "# ", "- ", "1. ", "[a](", "](", ")", "![",
          "https://x.io/", "javascript:", "<", ">", "&", '"', "'", "<script>", " onerror=",
          "|", "---", "x", " "]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(MARKUP), max_size=60).map("".join))
def test_no_text_draws_markup_of_its_own(text: str) -> None:
    for message in (REPLY, NOTICE, QUESTION, OUTCOME):
        payload = _mail(message.model_copy(update={"text": text, "options": (text,)}))
        _safe(payload["html"])


DECIDERS = "role:deploy-approver; 2 different people must approve (not Bob Example, who asked)"
PROGRESS = "1 of 2: approved by Alice Example via discord; waiting for one more"
QUORUM_CONTEXT = RequestContext(
    question=APPROVAL.text,
    requester="Bob Example",
    agent="deploy",
    tool="deploy",
    arguments={"service": "api", "version": "2.4.1"},
    deadline=DEADLINE,
    deciders=DECIDERS,
    progress=PROGRESS,
)
QUORUM = APPROVAL.model_copy(update={"context": QUORUM_CONTEXT})


def test_an_approval_says_how_far_it_is_and_who_may_decide() -> None:
    payload = _mail(QUORUM)
    assert payload["text"] == (
        f"Progress: {PROGRESS}\n\n"
        "Deploy api 2.4.1 to production?\n\n"
        f"{APPROVE}\n\n"
        "Decide by 14:00 UTC, 30 Nov 2026; then it is rejected.\n\n"
        "Requested by:   Bob Example\n"
        "Agent:          deploy\n"
        "Tool:           deploy\n"
        "Who may decide: role:deploy-approver; 2 different people must approve"
        " (not Bob Example, who asked)\n\n"
        "Arguments:\n"
        "  service: api\n"
        "  version: 2.4.1\n\n"
        "-- \n"
        "The whole conversation: https://switchboard.example.com/threads/t-42\n"
    )
    html = _words(payload["html"])
    assert html.startswith(f"Progress: {PROGRESS} Deploy api 2.4.1 to production? {APPROVE}")
    assert (
        "Tool deploy Who may decide role:deploy-approver; 2 different people must approve"
        " (not Bob Example, who asked) Arguments" in html
    )
    assert preview(payload).text.startswith(f"Progress: {PROGRESS}\n")


def test_an_approval_nobody_approved_yet_has_no_progress_line() -> None:
    context = QUORUM_CONTEXT.model_copy(update={"progress": ""})
    payload = _mail(QUORUM.model_copy(update={"context": context}))
    assert "Progress" not in payload["text"] and "Progress" not in payload["html"]
    assert "Who may decide: role:deploy-approver;" in payload["text"]


def test_a_progress_redraw_is_a_new_mail_that_still_says_how_to_answer() -> None:
    payload = _mail(QUORUM.model_copy(update={"edit_of": "<m1@example.com>"}))
    assert payload["text"] == _mail(QUORUM)["text"] and APPROVE in payload["text"]
    assert payload["reply_to"] == "agents+req-1.abc123@example.com"


def test_who_may_decide_and_progress_are_escaped_on_one_line_and_cut() -> None:
    context = QUORUM_CONTEXT.model_copy(
        update={
            "deciders": "<b>Eve</b> &amp;\r\nX-Evil: 1 " + "role:x, " * 100,
            "progress": "1 of 2: approved by <script>alert(1)</script> via email\n; waiting",
        }
    )
    payload = _mail(QUORUM.model_copy(update={"context": context}))
    text, html = payload["text"], payload["html"]
    assert "\nWho may decide: <b>Eve</b> &amp; X-Evil: 1 role:x," in text
    assert "Progress: 1 of 2: approved by <script>alert(1)</script> via email ; waiting" in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt; &amp;amp; X-Evil: 1" in html
    [deciders] = [line for line in text.split("\n") if line.startswith("Who may decide")]
    assert deciders.endswith("\u2026") and len(deciders) <= len("Who may decide: ") + 300


def test_a_question_shows_no_deciders_line_nor_progress() -> None:
    context = QUORUM_CONTEXT.model_copy(update={"question": QUESTION.text})
    payload = _mail(QUESTION.model_copy(update={"context": context}))
    for part in (payload["text"], payload["html"]):
        assert "Who may decide" not in part and "Progress" not in part


def test_a_progress_step_to_one_who_approved_says_how_far_it_is() -> None:
    step = OUTCOME.model_copy(update={"text": PROGRESS, "context": QUORUM_CONTEXT})
    assert _lines(_mail(step)["text"])[:2] == [
        PROGRESS,
        "The request: Deploy api 2.4.1 to production?",
    ]


def test_a_notice_is_short_and_plain() -> None:
    payload = _mail(NOTICE.model_copy(update={"text": "No request <999>.\nTry **again**."}))
    assert payload["text"] == "No request <999>.\nTry **again**.\n"  # no thread: no footer
    assert "No request &lt;999&gt;.<br>\nTry **again**." in payload["html"]


def test_an_outcome_is_a_new_mail_saying_what_became_of_the_request() -> None:
    payload = _mail(OUTCOME, subject="Re: Approval needed: deploy")
    assert _lines(payload["text"])[:2] == [
        "Approved by Alice via slack, 14:02 UTC",
        "The request: Deploy api 2.4.1 to production?",
    ]
    assert _words(payload["html"]).startswith(
        "Approved by Alice via slack, 14:02 UTC The request: Deploy api 2.4.1 to production?"
    )
    assert payload["subject"] == "Re: Approval needed: deploy"
    assert preview(payload).edits is None  # a mail is never edited


def test_every_mail_in_a_known_thread_links_its_conversation() -> None:
    link = "https://switchboard.example.com/threads/t-42"
    for message in (REPLY, APPROVAL, OUTCOME):
        payload = _mail(message)
        assert payload["text"].endswith(f"\n-- \nThe whole conversation: {link}\n")
        assert f'<a href="{link}" style="color:#0969da">{link}</a>' in payload["html"]
    unknown = _mail(REPLY.model_copy(update={"thread_id": None}))
    assert "/threads/" not in unknown["text"] and "/threads/" not in unknown["html"]
    odd = _mail(REPLY.model_copy(update={"thread_id": "a/b c"}))
    assert odd["text"].endswith("/threads/a%2Fb%20c\n")


# --- the payload ------------------------------------------------------------------------------


def test_the_payload_lays_out_what_the_caller_chose() -> None:
    payload = _mail(APPROVAL)
    assert {k: v for k, v in payload.items() if k not in ("text", "html")} == {
        "from": "Deploy agent via Switchboard <agents@example.com>",
        "to": [ALICE],
        "subject": "Approval needed: deploy",
        "message_id": "<m2@example.com>",
        "in_reply_to": "<m1@example.com>",
        "references": ["<m0@example.com>", "<m1@example.com>"],
        "reply_to": "agents+req-1.abc123@example.com",
        "headers": {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
    }
    first = _mail(QUESTION, in_reply_to=None, references=[], reply_to=None)
    assert first["in_reply_to"] is None and first["references"] == [] and first["reply_to"] is None


@pytest.mark.parametrize(
    ("sender", "agent", "shown"),
    [
        (SENDER, "deploy", "Deploy agent via Switchboard <agents@example.com>"),
        ("agents@example.com", "deploy", "Deploy agent via Switchboard <agents@example.com>"),
        ("Acme Ops <ops@acme.test>", "helpbot", "Helpbot via Acme Ops <ops@acme.test>"),
        ('"Ops, Acme" <ops@acme.test>', "", '"Ops, Acme" <ops@acme.test>'),
        (SENDER, "Support Agent", "Support Agent via Switchboard <agents@example.com>"),
        (SENDER, "Zoë", "Zoë agent via Switchboard <agents@example.com>"),
    ],
)
def test_the_agent_speaks_in_the_from_name(sender: str, agent: str, shown: str) -> None:
    assert _mail(REPLY.model_copy(update={"agent": agent}), sender=sender)["from"] == shown


def test_compose_is_deterministic_and_plain_json() -> None:
    for message in (REPLY, APPROVAL, QUESTION, NOTICE, OUTCOME):
        assert _mail(message) == _mail(message)
        assert json.loads(json.dumps(_mail(message))) == _mail(message)


# --- MIME -------------------------------------------------------------------------------------


def test_mime_round_trips_headers_ids_and_both_parts() -> None:
    payload = _mail(APPROVAL)
    mail = _sent(payload)
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in mail.iter_parts())
    assert mail["From"] == payload["from"]
    assert mail["To"] == ALICE
    assert mail["Subject"] == "Approval needed: deploy"
    assert mail["Date"].datetime == SENT
    assert mail["Message-ID"] == "<m2@example.com>"
    assert mail["In-Reply-To"] == "<m1@example.com>"
    assert mail["References"].split() == ["<m0@example.com>", "<m1@example.com>"]
    assert mail["Reply-To"] == "agents+req-1.abc123@example.com"
    assert mail["MIME-Version"] == "1.0"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == payload["text"]
    assert html.get_content() == payload["html"]


def test_mime_is_the_same_bytes_for_the_same_payload() -> None:
    payload = _mail(QUESTION)
    assert bytes(mime(payload, date=SENT)) == bytes(mime(payload, date=SENT))


def test_non_ascii_subjects_names_and_bodies_round_trip() -> None:
    subject = "Déployer l'api — version 2.4.1 pour Zoë? 🚀 " * 4
    message = REPLY.model_copy(update={"agent": "Zoë", "text": "Prêt: **déployé** ✅ 日本語"})
    payload = _mail(message, subject=subject, sender="Überwachung <agents@example.com>")
    raw = bytes(mime(payload, date=SENT))
    assert max(len(line) for line in raw.split(b"\n")) <= 78
    assert b"Content-Transfer-Encoding: 8bit" not in raw
    mail = _sent(payload)
    assert mail["Subject"] == subject.strip() == payload["subject"]
    assert mail["From"].addresses[0].display_name == "Zoë agent via Überwachung"
    plain = mail.get_body(("plain",))
    assert plain is not None and plain.get_content() == payload["text"]
    assert "Prêt: **déployé** ✅ 日本語" in plain.get_content()


def _from_as_read(raw: bytes) -> tuple[str, str]:
    """The From header's name and address as RFC 2047 says to read them."""
    name, address = parseaddr(email.message_from_bytes(raw, policy=compat32)["From"])
    return str(make_header(decode_header(name))), address


@pytest.mark.parametrize(
    "hostile",
    [
        "Deploy\r\nBcc: evil@example.net",
        "Deploy\nContent-Type: text/html\n\n<script>alert(1)</script>",
        "Deploy\x00\x0b\x1b[31m\u2028\u2029\x85 now",
        "=?utf-8?q?Fake?= <evil@example.net>",
        "x" * 5000,
        "é" * 5000,
    ],
)
def test_header_injection_in_subject_and_names_is_neutralised(hostile: str) -> None:
    message = REPLY.model_copy(update={"agent": hostile})
    payload = _mail(message, subject=hostile, sender=f"{hostile} <agents@example.com>")
    raw = bytes(mime(payload, date=SENT))
    mail = _sent(payload)
    assert "\n" not in payload["subject"] and "\r" not in payload["subject"]
    assert mail["Subject"] == payload["subject"]
    assert max(len(line) for line in raw.split(b"\n")) <= 78  # folded, however long
    assert len(payload["subject"]) <= 300
    assert mail.get_all("Bcc") is None and mail.get_all("Cc") is None
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["To"] == ALICE and len(mail.get_all("From") or []) == 1
    name, address = _from_as_read(raw)
    assert address == "agents@example.com" and name == split_address(payload["from"])[0]
    assert "\n" not in name and "\r" not in name


NAMES = st.text(max_size=120) | st.text(st.sampled_from(list('a é,."\\<>()@:;[]=?𐀀\r\n')))


@settings(max_examples=300, deadline=None)
@given(subject=st.text(max_size=400), agent=NAMES, name=NAMES, body=st.text(max_size=300))
def test_any_subject_name_or_body_is_sent_as_written_and_never_raises(
    subject: str, agent: str, name: str, body: str
) -> None:
    message = REPLY.model_copy(update={"agent": agent, "text": body})
    sender = f"{name} <agents@example.com>"
    payload = _mail(message, subject=subject, sender=sender)
    raw = bytes(mime(payload, date=SENT))
    mail = _sent(payload)
    assert mail["Subject"] == payload["subject"]
    assert _from_as_read(raw) == (split_address(payload["from"])[0], "agents@example.com")
    assert mail["Message-ID"] == "<m2@example.com>"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and plain.get_content() == payload["text"]
    assert html is not None and html.get_content() == payload["html"]
    assert len(mail.keys()) == 12  # no header of the text's making


def test_extra_headers_never_add_recipients_or_change_the_structure() -> None:
    payload = _mail(REPLY)
    payload["headers"] = {
        "Bcc": "evil@example.net",
        "Cc": "evil@example.net",
        "Content-Type": "text/html",
        "Subject": "Other",
        "X-Thing\r\nBcc": "evil@example.net",
        "X-Ok": "one\r\nBcc: evil@example.net",
        "List-Id": "<agents.example.com>",
    }
    mail = _sent(payload)
    assert mail.get_all("Bcc") is None and mail.get_all("Cc") is None
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_all("Subject") == ["Approval needed: deploy"]
    assert mail["X-Ok"] == "one Bcc: evil@example.net"
    assert mail["List-Id"] == "<agents.example.com>"


def test_ids_with_spaces_or_line_breaks_stay_one_id() -> None:
    payload = _mail(REPLY, message_id="<m2@exa mple.com>\r\nBcc: x@y.z", in_reply_to="<m1@x>\n")
    mail = _sent(payload)
    assert payload["message_id"] == "<m2@example.com>Bcc:x@y.z"  # one id, if not a good one
    assert mail["Message-ID"].startswith("<m2@example.com>")
    assert mail["In-Reply-To"] == "<m1@x>"
    assert mail.get_all("Bcc") is None


@pytest.mark.parametrize(
    "to",
    [[], ["not an address"], ["a@b.example\r\nBcc: evil@x.y"], ["zoë@example.com"], [""]],
)
def test_an_address_mail_cannot_go_to_is_refused(to: list[str]) -> None:
    payload = {**_mail(REPLY), "to": to}
    with pytest.raises(ValueError):
        mime(payload, date=SENT)


def test_an_international_domain_is_written_as_its_ascii_name() -> None:
    mail = _sent({**_mail(REPLY), "to": ["zoe@bücher.example"]})
    assert mail["To"] == "zoe@xn--bcher-kva.example"


# --- preview ----------------------------------------------------------------------------------


def test_the_preview_is_the_text_part_with_its_subject_and_threading() -> None:
    payload = _mail(APPROVAL)
    shown = preview(payload)
    assert shown.text == payload["text"].rstrip("\n")
    assert shown.subject == "Approval needed: deploy" and shown.to == ALICE
    assert shown.notes == (
        "threaded under <m1@example.com>",
        "replies go to agents+req-1.abc123@example.com",
    )
    assert shown.buttons == () and shown.edits is None
    assert preview(_mail(QUESTION, in_reply_to=None, reply_to=None)).notes == ()


@pytest.mark.parametrize(
    "payload",
    [None, [], "text", {}, {"text": 3}, {"text": None, "to": [ALICE]}, {"subject": "x"}],
)
def test_a_payload_it_cannot_read_previews_empty(payload: Any) -> None:
    shown = preview(payload)
    assert shown.text == "" and shown.notes == () and shown.subject == ""


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["text", "html", "to", "subject", "in_reply_to", "reply_to", "x"]),
        st.none() | st.integers() | st.text(max_size=30) | st.lists(st.text(max_size=5)),
    )
)
def test_any_payload_previews_without_an_error(payload: dict[str, Any]) -> None:
    preview(payload)


def test_the_frame_fits_the_mail() -> None:
    assert LOOK.frame_height("short") == 120
    assert LOOK.frame_height("line\n" * 10) == 11 * 24 + 48
    assert LOOK.frame_height("line\n" * 1000) == 720
    assert LOOK.frame_height(None) == 120


# --- the thread's template --------------------------------------------------------------------


def _page(messages: list[tuple[OutboundMessage, str]]) -> str:
    return drawn(
        "email",
        "Email",
        _mail,
        preview,
        messages,
        conversation="<m1@example.com>",
        address=ALICE,
        look=LOOK,
    )


def test_the_template_draws_a_thread_as_a_mail_client_would() -> None:
    hostile = REPLY.model_copy(update={"text": "<script>alert(1)</script> 5 < 6 & 7"})
    page = _page([(APPROVAL, ""), (QUESTION, ""), (hostile, ""), (OUTCOME, "")])
    assert page.count('class="mail-msg') == 5  # four mails and Alice's
    assert page.count("<dt>From</dt><dd") == 5
    assert "Deploy agent via Switchboard &lt;agents@example.com&gt;" in page
    assert "Support agent via Switchboard &lt;agents@example.com&gt;" in page
    assert "<dt>Subject</dt><dd" in page and ">Approval needed: deploy</dd>" in page
    assert "<dt>Date</dt><dd" in page and ">2025-01-01 12:00:00 UTC</dd>" in page
    # the threading headers, a click away
    assert '<dd class="mono">&lt;m2@example.com&gt;</dd>' in page
    assert '<dd class="mono">&lt;m0@example.com&gt; &lt;m1@example.com&gt;</dd>' in page
    assert '<dd class="mono">agents+req-1.abc123@example.com</dd>' in page
    assert "<script>" not in page
    assert "5 &lt; 6 &amp; 7" in page and "hello &lt;b&gt;there&lt;/b&gt;" in page


def test_the_template_draws_the_html_part_in_a_frame_that_runs_nothing() -> None:
    hostile = REPLY.model_copy(update={"text": "<script>alert(1)</script> **bold** \"'&"})
    page = _page([(hostile, "")])
    frames = [attributes for tag, attributes in _tags(page) if tag == "iframe"]
    assert len(frames) == 1
    [frame] = frames
    assert frame["sandbox"] == ""  # every restriction: no script, no form, no popup
    assert frame["srcdoc"] == _mail(hostile)["html"]
    assert re.fullmatch(r"height: \d+px", frame["style"] or "")
    assert "&lt;script&gt;" in (frame["srcdoc"] or "")
    assert "<strong>bold</strong>" not in page.replace(frame["srcdoc"] or "", "")


def test_a_mail_without_an_html_part_shows_its_text() -> None:
    def plain(message: OutboundMessage) -> dict[str, Any]:
        return {k: v for k, v in _mail(message).items() if k != "html"}

    page = drawn(
        "email", "Email", plain, preview, [(NOTICE, "")], conversation="<m1@x>", address=ALICE
    )
    assert "<iframe" not in page
    assert '<div class="mail-body">There is no request 999.\n</div>' in page
