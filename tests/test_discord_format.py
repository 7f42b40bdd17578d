"""The Discord channel's pure formatting: splitting within 2,000 characters, mentions that cannot
ping, the payload for each kind of message, its preview, Discord's Markdown and timestamps drawn
as Discord draws them, and the template that draws a conversation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.discord.components import (
    CUSTOM_ID_LIMIT,
    REPLY_HINT,
    conversation_of,
    decode_custom_id,
    options_of,
    parse_conversation,
    render,
)
from channels.discord.format import ZWSP, escape_mentions, split
from channels.discord.markdown import relative, timestamps, to_html, when
from channels.discord.preview import LOOK, preview
from core.channels import Action, OutboundMessage, RequestContext
from tests.previews import drawn

# --- split ------------------------------------------------------------------------------------


def _toggles(line: str) -> bool:
    s = line.strip()
    return s.startswith("```") and not (len(s) >= 6 and s.endswith("```"))


def _balanced(chunk: str) -> bool:
    return sum(_toggles(line) for line in chunk.split("\n")) % 2 == 0


def test_a_short_text_is_one_chunk_and_an_empty_one_none() -> None:
    assert split("hello") == ["hello"]
    assert split("  \n ") == []


def test_split_prefers_paragraphs_then_lines_then_spaces() -> None:
    para = "a" * 60
    assert split(f"{para}\n\n{para}", 100) == [para, para]
    assert split(f"{'b' * 40} {'c' * 10}\n{para}", 100) == [f"{'b' * 40} {'c' * 10}", para]
    words = " ".join(["word"] * 50)
    chunks = split(words, 100)
    assert all(len(c) <= 100 and not c.startswith(" ") for c in chunks)
    assert " ".join(chunks) == words


def test_split_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError):
        split("x", 0)


def test_a_long_code_block_is_closed_and_opened_again_with_its_language() -> None:
    code = "\n".join(f"x = {i}  # a line of code" for i in range(300))
    text = f"Here it is:\n\n```python\n{code}\n```\n\nDone."
    chunks = split(text)
    assert len(chunks) > 2
    assert all(len(c) <= 2000 and _balanced(c) for c in chunks)
    assert all(c.startswith("```python\n") for c in chunks[1:-1])
    body = "\n".join(line for c in chunks for line in c.split("\n") if not line.startswith("```"))
    assert all(f"x = {i}  # a line of code" in body for i in range(300))


def test_a_code_block_that_fits_is_kept_whole() -> None:
    code = "```\n" + "\n".join(["y = 1"] * 100) + "\n```"
    chunks = split("a" * 1500 + "\n\n" + code)
    assert chunks == ["a" * 1500, code]


TOKENS = ["a", "b", " ", "\n", "```", "```py\n", "\n\n", "word ", "é", "`"]
FENCED = ["a", "b", " ", "\n", "\n```\n", "\n```py\n", "\n\n", "word ", "é", "`x`"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=120).map("".join),
    st.sampled_from([1, 7, 32, 50, 120]),
)
def test_any_text_splits_within_the_limit_losing_nothing(text: str, limit: int) -> None:
    chunks = split(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    kept, written = re.sub(r"\s|`", "", "".join(chunks)), re.sub(r"\s|`", "", text)
    remaining = iter(kept)
    assert all(c in remaining for c in written)  # every character, in order
    # and nothing more than the language of each code block opened again (```py)
    reopened = [c.partition("\n")[0] for c in chunks[1:] if c.startswith("```")]
    assert len(kept) - len(written) <= sum(len(fence) - 3 for fence in reopened)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(FENCED), max_size=150).map("".join),
    st.sampled_from([32, 50, 120]),
)
def test_code_fences_stay_balanced_in_every_chunk(text: str, limit: int) -> None:
    chunks = split(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert all(_balanced(c) for c in chunks[:-1])
    assert not chunks or _balanced(chunks[-1]) == _balanced(text.strip())


# --- mentions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @everyone", f"hi @{ZWSP}everyone"),
        ("@here now", f"@{ZWSP}here now"),
        ("<@123456789>", f"<@{ZWSP}123456789>"),
        ("<@!123456789>", f"<@{ZWSP}!123456789>"),
        ("<@&42>", f"<@{ZWSP}&42>"),
        ("mail a@b.co", "mail a@b.co"),
        ("`@everyone` in code", "`@everyone` in code"),
        ("```\n@here\n```", "```\n@here\n```"),
        ("@hereford", "@hereford"),
    ],
)
def test_mentions_cannot_ping(text: str, expected: str) -> None:
    assert escape_mentions(text) == expected


def test_no_payload_parses_mentions() -> None:
    payload = render(REPLY.model_copy(update={"text": "@everyone look <@1>"}))
    assert payload["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in payload["content"] and "<@1>" not in payload["content"]


# --- conversations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conversation", "parsed"),
    [("111", ("111", None)), ("111:222", ("111", "222")), ("dm:U1", ("dm", "U1"))],
)
def test_a_conversation_is_a_channel_and_maybe_a_thread(
    conversation: str, parsed: tuple[str, str | None]
) -> None:
    assert parse_conversation(conversation) == parsed
    assert conversation_of(*parsed) == conversation


# --- render -----------------------------------------------------------------------------------

DEADLINE = datetime(2025, 3, 4, 14, 2, tzinfo=UTC)
CONTEXT = RequestContext(
    requester="Bob Example",
    agent="deploy",
    tool="deploy_service",
    arguments={"service": "api", "version": "2.4.1", "replicas": 3, "flags": {"canary": True}},
    deadline=DEADLINE,
)
APPROVAL = OutboundMessage(
    kind="request",
    text="Approve deploy api 2.4.1 to production?",
    address="900000000000000001",
    conversation="800000000000000001:800000000000000002",
    request_id="req-1",
    request_kind="approval",
    idempotency_key="k1",
    context=CONTEXT,
)
QUESTION = OutboundMessage(
    kind="request",
    text="Which region?",
    address="900000000000000001",
    request_id="req-2",
    request_kind="question",
    options=("eu", "us"),
    idempotency_key="k2",
)
REPLY = OutboundMessage(
    kind="reply", text="Deployed **api** 2.4.1.", address="9001", conversation="8001"
)
NOTICE = OutboundMessage(
    kind="notice", text="I do not know you.", address="9002", conversation="dm:9002"
)
OUTCOME = OutboundMessage(
    kind="outcome",
    text="Approved by Alice Example via slack, 14:02 UTC",
    address="9001",
    conversation="800000000000000001:800000000000000002",
    request_id="req-1",
    request_kind="approval",
    edit_of="800000000000000003",
)
ALL = [APPROVAL, QUESTION, REPLY, NOTICE, OUTCOME]


def _components(payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for row in payload["components"]:
        assert row["type"] == 1
        yield from row["components"]


def assert_within_discord_limits(payload: Mapping[str, Any]) -> None:
    for message in [payload, *payload.get("continued", [])]:
        assert 0 < len(message["content"]) <= 2000
        assert message["allowed_mentions"] == {"parse": []}
    assert len(payload["embeds"]) <= 10
    for embed in payload["embeds"]:
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        fields = embed.get("fields", [])
        assert len(fields) <= 25
        for f in fields:
            assert 0 < len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024
        total = len(embed.get("title", "")) + len(embed.get("description", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
        total += len(embed.get("footer", {}).get("text", ""))
        assert total <= 6000
    assert len(payload["components"]) <= 5
    for c in _components(payload):
        assert len(c["custom_id"]) <= CUSTOM_ID_LIMIT
        if c["type"] == 2:
            assert 0 < len(c["label"]) <= 80
        else:
            assert c["type"] == 3 and 0 < len(c["options"]) <= 25
            for o in c["options"]:
                assert 0 < len(o["label"]) <= 100 and 0 < len(o["value"]) <= 100


@pytest.mark.parametrize("message", ALL)
def test_render_is_pure_deterministic_json_and_within_limits(message: OutboundMessage) -> None:
    payload = render(message)
    assert render(message) == payload
    assert json.loads(json.dumps(payload)) == payload
    assert_within_discord_limits(payload)


def test_where_each_message_goes() -> None:
    assert render(APPROVAL)["channel_id"] == "800000000000000002"  # the thread
    assert "user_id" not in render(APPROVAL)
    assert render(REPLY)["channel_id"] == "8001"
    assert render(QUESTION)["user_id"] == "900000000000000001"  # no conversation: a DM
    assert "channel_id" not in render(QUESTION)
    assert render(NOTICE)["user_id"] == "9002" and "channel_id" not in render(NOTICE)


def test_a_reply_is_its_content() -> None:
    payload = render(REPLY)
    assert payload["content"] == "Deployed **api** 2.4.1."
    assert payload["embeds"] == [] and payload["components"] == []
    assert "continued" not in payload and "message_id" not in payload


def test_an_empty_reply_still_has_content() -> None:
    assert render(REPLY.model_copy(update={"text": " "}))["content"]


def test_a_long_reply_continues_in_more_messages() -> None:
    text = "\n\n".join(["word " * 300] * 12)
    payload = render(REPLY.model_copy(update={"text": text}))
    assert len(payload["continued"]) >= 1
    assert_within_discord_limits(payload)
    words = [payload["content"], *(m["content"] for m in payload["continued"])]
    assert " ".join(words).split() == text.split()


def test_a_notice_is_its_content_only() -> None:
    payload = render(NOTICE)
    assert payload["content"] == "I do not know you."
    assert payload["embeds"] == [] and payload["components"] == []


def test_an_approval_shows_its_context_and_two_buttons() -> None:
    payload = render(APPROVAL)
    assert payload["content"] == "Approval needed: deploy for Bob Example"
    (embed,) = payload["embeds"]
    assert embed["title"] == "Approval needed" and embed["description"] == APPROVAL.text
    assert isinstance(embed["color"], int)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requested by"] == "Bob Example"
    assert fields["Agent"] == "deploy"
    assert fields["Tool"] == "`deploy_service`"
    assert fields["service"] == "`api`" and fields["replicas"] == "`3`"
    assert fields["flags"] == '`{"canary": true}`'
    unix = int(DEADLINE.timestamp())
    assert f"<t:{unix}:f>" in fields["Decide by"] and f"<t:{unix}:R>" in fields["Decide by"]
    (approve, reject) = _components(payload)
    assert approve == {"type": 2, "style": 3, "label": "Approve", "custom_id": "sb:approve:req-1"}
    assert reject == {"type": 2, "style": 4, "label": "Reject", "custom_id": "sb:reject:req-1"}


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


@pytest.mark.parametrize(
    "message",
    [
        APPROVAL,
        QUESTION,
        QUESTION.model_copy(update={"context": CONTEXT}),
        APPROVAL.model_copy(update={"text": "Deploy?\n\n```\nkubectl apply\n```"}),
    ],
)
def test_a_request_asks_its_question_once_in_its_embed(message: OutboundMessage) -> None:
    payload = render(message)
    assert sum(s.count(message.text) for s in _strings(payload)) == 1
    assert payload["embeds"][0]["description"] == message.text


@pytest.mark.parametrize(
    ("kind", "context", "content"),
    [
        ("approval", CONTEXT, "Approval needed: deploy for Bob Example"),
        ("approval", RequestContext(agent="deploy"), "Approval needed: deploy"),
        ("approval", RequestContext(requester="Bob"), "Approval needed for Bob"),
        ("approval", None, "Approval needed"),
        ("question", RequestContext(agent="support"), "Question from support"),
        ("question", CONTEXT, "Question from deploy for Bob Example"),
        ("question", None, "Question"),
        (
            "question",
            RequestContext(agent="@everyone\n  bot"),
            f"Question from @{ZWSP}everyone bot",
        ),
    ],
)
def test_a_requests_content_is_one_line_for_the_notification(
    kind: str, context: RequestContext | None, content: str
) -> None:
    message = APPROVAL.model_copy(update={"request_kind": kind, "context": context})
    payload = render(message)
    assert payload["content"] == content
    assert_within_discord_limits(payload)


def test_long_names_keep_the_content_short() -> None:
    context = RequestContext(requester="r" * 5000, agent="a" * 5000)
    payload = render(APPROVAL.model_copy(update={"context": context}))
    assert len(payload["content"]) < 500 and payload["content"].count("\u2026") == 2
    assert_within_discord_limits(payload)


def test_custom_ids_fit_even_for_a_long_request_id() -> None:
    long_id = "r" * 80
    payload = render(APPROVAL.model_copy(update={"request_id": long_id}))
    assert [c["custom_id"] for c in _components(payload)] == [
        f"sb:approve:{long_id}",
        f"sb:reject:{long_id}",
    ]
    too_long = render(APPROVAL.model_copy(update={"request_id": "r" * 100}))
    assert too_long["components"] == []
    assert too_long["embeds"][0]["footer"]["text"] == REPLY_HINT
    assert_within_discord_limits(too_long)


def test_many_long_arguments_keep_to_25_fields_and_6000_characters() -> None:
    arguments = {f"key{i}-" + "k" * 300: "v" * 2000 for i in range(60)}
    context = CONTEXT.model_copy(update={"arguments": arguments})
    payload = render(APPROVAL.model_copy(update={"context": context, "text": "q" * 5000}))
    assert_within_discord_limits(payload)
    fields = payload["embeds"][0]["fields"]
    assert fields[-2]["name"] == "More" and "more arguments" in fields[-2]["value"]


def test_a_value_with_backticks_or_lines_is_a_code_block() -> None:
    context = CONTEXT.model_copy(update={"arguments": {"sql": "select `a`\nfrom ```t```"}})
    (embed,) = render(APPROVAL.model_copy(update={"context": context}))["embeds"]
    value = next(f["value"] for f in embed["fields"] if f["name"] == "sql")
    assert value.startswith("```\n") and value.endswith("\n```") and value.count("```") == 2


def test_a_question_with_few_options_has_a_button_each() -> None:
    payload = render(QUESTION)
    buttons = list(_components(payload))
    assert [(b["label"], b["custom_id"], b["style"]) for b in buttons] == [
        ("eu", "sb:answer:req-2:0", 1),
        ("us", "sb:answer:req-2:1", 1),
    ]
    assert payload["embeds"][0]["title"] == "Question"


def test_a_question_with_more_than_five_options_has_a_select() -> None:
    options = tuple(f"region {i}" for i in range(7))
    payload = render(QUESTION.model_copy(update={"options": options}))
    (select,) = _components(payload)
    assert select["type"] == 3 and select["custom_id"] == "sb:answer:req-2"
    assert [(o["label"], o["value"]) for o in select["options"]] == [
        (f"region {i}", str(i)) for i in range(7)
    ]


def test_more_options_than_a_select_holds_are_offered_as_a_reply() -> None:
    options = tuple("x" * 150 + str(i) for i in range(30))
    payload = render(QUESTION.model_copy(update={"options": options}))
    assert_within_discord_limits(payload)
    assert "reply" in payload["embeds"][0]["footer"]["text"]


def test_a_question_without_options_says_to_reply() -> None:
    payload = render(QUESTION.model_copy(update={"options": ()}))
    assert payload["components"] == []
    assert payload["embeds"][0]["footer"]["text"] == "Reply in this conversation to answer."


def test_an_outcome_edits_the_request_without_components() -> None:
    payload = render(OUTCOME)
    assert payload["message_id"] == "800000000000000003"
    assert payload["channel_id"] == "800000000000000002"
    assert payload["components"] == []
    assert payload["content"] == OUTCOME.text
    assert payload["embeds"][0]["description"] == OUTCOME.text


# --- clicks -----------------------------------------------------------------------------------


def test_decode_custom_id() -> None:
    assert decode_custom_id("sb:approve:req-1") == ("req-1", "approve", "")
    assert decode_custom_id("sb:reject:req-1") == ("req-1", "reject", "")
    assert decode_custom_id("sb:answer:req-2:1") == ("req-2", "answer", "1")
    assert decode_custom_id("sb:answer:req-2:1", None, ("eu", "us")) == ("req-2", "answer", "us")
    assert decode_custom_id("sb:answer:req-2", ["0"], ("eu", "us")) == ("req-2", "answer", "eu")
    for bad in [
        "",
        "x",
        "sb:approve:",
        "sb:answer:req-2",
        "sb:answer:req-2:9",
        "sb:nope:r",
        "x:approve:r",
    ]:
        assert decode_custom_id(bad, None, ("eu", "us")) is None
    assert decode_custom_id("sb:answer:req-2", ["x"]) is None
    assert decode_custom_id("sb:approve:" + "r" * 100) is None


@pytest.mark.parametrize("count", [2, 7])
def test_a_click_recovers_the_option_from_the_message_it_carries(count: int) -> None:
    options = tuple(f"region {i}" for i in range(count))
    payload = render(QUESTION.model_copy(update={"options": options}))
    assert options_of(payload["components"]) == options
    chosen = next(_components(payload))
    values = ["3"] if chosen["type"] == 3 else None
    expected = options[3] if values else options[0]
    assert decode_custom_id(chosen["custom_id"], values, options_of(payload["components"])) == (
        "req-2",
        "answer",
        expected,
    )


@pytest.mark.parametrize("garbage", [None, "x", [1], [{"components": [None, {"type": 2}]}]])
def test_options_of_garbage_is_nothing(garbage: Any) -> None:
    assert options_of(garbage) == ()


# --- preview ----------------------------------------------------------------------------------


def test_an_approval_previews_with_its_two_decisions() -> None:
    shown = preview(render(APPROVAL))
    assert shown.buttons[0].label == "Approve"
    assert shown.buttons[0].action == Action(request_id="req-1", decision="approve")
    assert shown.buttons[1].action == Action(request_id="req-1", decision="reject")
    assert "Approval needed" in shown.text and "Requested by: Bob Example" in shown.text
    assert "Decide by: 4 March 2025 14:02 (4 March 2025 14:02); then" in shown.text
    assert shown.to == "800000000000000002" and shown.edits is None


@pytest.mark.parametrize("count", [2, 7])
def test_a_question_previews_with_a_button_per_option(count: int) -> None:
    options = tuple(f"region {i}" for i in range(count))
    shown = preview(render(QUESTION.model_copy(update={"options": options})))
    assert [(b.label, b.action) for b in shown.buttons] == [
        (o, Action(request_id="req-2", decision="answer", value=o)) for o in options
    ]
    assert "direct message" in shown.notes


def test_an_outcome_previews_naming_the_message_it_edits() -> None:
    shown = preview(render(OUTCOME))
    assert shown.edits == "800000000000000003" and shown.buttons == ()
    assert shown.text.startswith("Approved by Alice")


SETTLED = OUTCOME.model_copy(
    update={"context": APPROVAL.context.model_copy(update={"question": APPROVAL.text})}  # type: ignore[union-attr]
)


def test_a_settled_request_is_the_request_as_asked_with_its_buttons_disabled() -> None:
    payload = render(SETTLED)
    [embed] = payload["embeds"]
    assert payload["content"] == SETTLED.text and embed["title"] == "Approved"
    assert embed["description"] == render(APPROVAL)["embeds"][0]["description"]
    assert embed["color"] != render(APPROVAL)["embeds"][0]["color"] and "footer" not in embed
    buttons = [c for row in payload["components"] for c in row["components"]]
    assert [(b["label"], b["disabled"]) for b in buttons] == [
        ("Approve", True),
        ("Reject", True),
    ]
    shown = preview(payload)
    assert shown.buttons == ()  # pressed by no one
    assert shown.notes == ("edits the request's message; its buttons disabled",)
    html = _page([(SETTLED, "Approved")])
    assert html.count("discord-btn discord-btn-disabled") == 2
    assert "discord-btn-approve" not in html


DECIDERS = "role:deploy-approver; 2 different people must approve (not Bob Example, who asked)"
PROGRESS = "1 of 2: approved by Alice Example via slack; waiting for one more"
QUORUM_CONTEXT = CONTEXT.model_copy(
    update={"question": APPROVAL.text, "deciders": DECIDERS, "progress": PROGRESS}
)
QUORUM = APPROVAL.model_copy(update={"context": QUORUM_CONTEXT})
# A step towards the quorum, to Erin, who has not decided: her copy drawn again, still live.
REDRAWN = QUORUM.model_copy(update={"edit_of": "800000000000000002:800000000000000004"})


def _fields_of(payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in payload["embeds"][0].get("fields", [])}


def test_an_approval_says_who_may_decide_and_how_far_it_is() -> None:
    payload = render(QUORUM)
    fields = _fields_of(payload)
    assert fields["Who may decide"] == {
        "name": "Who may decide",
        "value": "role:deploy-approver; 2 different people must approve (not Bob Example, who asked)",
        "inline": False,
    }
    assert fields["Progress"] == {"name": "Progress", "value": PROGRESS, "inline": False}
    names = list(fields)
    assert names.index("Who may decide") < names.index("Progress") < names.index("Decide by")
    shown = preview(payload).text
    assert "Who may decide: role:deploy-approver; 2 different people must approve" in shown
    assert f"Progress: {PROGRESS}" in shown
    assert_within_discord_limits(payload)


def test_a_progress_redraw_keeps_its_buttons_live_and_edits_the_copy() -> None:
    payload = render(REDRAWN)
    assert payload["message_id"] == "800000000000000002:800000000000000004"
    assert payload["embeds"][0]["title"] == "Approval needed"
    assert _fields_of(payload)["Progress"]["value"] == PROGRESS
    assert [(c["custom_id"], c.get("disabled")) for c in _components(payload)] == [
        ("sb:approve:req-1", None),
        ("sb:reject:req-1", None),
    ]
    shown = preview(payload)
    assert [b.action for b in shown.buttons] == [
        Action(request_id="req-1", decision="approve"),
        Action(request_id="req-1", decision="reject"),
    ]
    assert shown.edits == "800000000000000002:800000000000000004"
    assert shown.notes == ("edits the request's message; its buttons still work",)
    html = _page([(REDRAWN, "")])
    assert "discord-btn discord-btn-approve" in html and "discord-btn-disabled" not in html
    assert_within_discord_limits(payload)


def test_a_progress_step_to_one_who_approved_is_their_copy_waiting_buttons_disabled() -> None:
    step = OUTCOME.model_copy(update={"text": PROGRESS, "context": QUORUM_CONTEXT})
    payload = render(step)
    [embed] = payload["embeds"]
    assert payload["content"] == PROGRESS and payload["message_id"] == OUTCOME.edit_of
    assert embed["title"] == "Waiting for more approvals"
    assert embed["color"] == render(APPROVAL)["embeds"][0]["color"]  # amber: still open
    assert "Progress" not in _fields_of(payload)  # said on top, not twice
    assert "Who may decide" in _fields_of(payload)
    assert all(c["disabled"] for c in _components(payload))
    assert preview(payload).buttons == ()


def test_the_final_outcome_of_a_quorum_says_it_once() -> None:
    final = "Approved by Alice Example via slack and Erin via sms, 14:02 UTC"
    context = QUORUM_CONTEXT.model_copy(update={"progress": final})
    payload = render(OUTCOME.model_copy(update={"text": final, "context": context}))
    assert payload["embeds"][0]["title"] == "Approved" and payload["content"] == final
    assert "Progress" not in _fields_of(payload)


def test_a_question_shows_no_deciders_field_nor_progress() -> None:
    context = QUORUM_CONTEXT.model_copy(update={"question": QUESTION.text})
    payload = render(QUESTION.model_copy(update={"context": context}))
    assert "Who may decide" not in _fields_of(payload) and "Progress" not in _fields_of(payload)
    assert "Requested by" in _fields_of(payload)


def test_who_may_decide_and_progress_cannot_mention_and_keep_to_discords_limits() -> None:
    context = QUORUM_CONTEXT.model_copy(
        update={
            "deciders": "@everyone <@123>\n" + "role:x, " * 400,
            "progress": "1 of 2: approved by @here via slack; " + "waiting " * 300,
            "arguments": {f"k{i}": "v" * 300 for i in range(30)},
        }
    )
    payload = render(QUORUM.model_copy(update={"context": context}))
    assert_within_discord_limits(payload)
    fields = _fields_of(payload)
    deciders, progress = fields["Who may decide"]["value"], fields["Progress"]["value"]
    assert deciders.startswith(f"@{ZWSP}everyone <@{ZWSP}123> role:x,")
    assert len(deciders) == 1024 and deciders.endswith("\u2026")
    assert progress.startswith(f"1 of 2: approved by @{ZWSP}here") and len(progress) == 1024
    assert "More" in fields  # arguments gave way, counted


def test_a_long_reply_previews_whole_and_counts_its_messages() -> None:
    text = "\n\n".join(["word " * 300] * 12)
    payload = render(REPLY.model_copy(update={"text": text}))
    shown = preview(payload)
    assert shown.text.split() == text.split()
    assert f"{len(payload['continued']) + 1} messages" in shown.notes


def test_the_preview_shows_mentions_as_discord_does() -> None:
    shown = preview(render(REPLY.model_copy(update={"text": "hi @everyone"})))
    assert shown.text == "hi @everyone"


GARBAGE: list[Any] = [
    {},
    {"content": 3, "embeds": "x", "components": {"a": 1}},
    {"embeds": [None, {"fields": [None, {"name": 1}], "footer": "x"}]},
    {"components": [None, {"components": [None, {"type": 2, "custom_id": "sb:approve:"}]}]},
    {"components": [{"components": [{"type": 3, "custom_id": "sb:answer:r", "options": [1]}]}]},
    {"content": "<t:99999999999999:R>", "continued": [None, {"content": None}]},
    {"message_id": 5},
    [],
    None,
    "a string",
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_previews_without_buttons_never_an_error(payload: Any) -> None:
    shown = preview(payload)
    assert shown.buttons == () and shown.edits is None


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "content",
                    "embeds",
                    "components",
                    "custom_id",
                    "label",
                    "options",
                    "value",
                    "fields",
                    "name",
                    "title",
                    "description",
                    "continued",
                    "message_id",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["content", "embeds", "components", "continued"]), JSONISH))
def test_any_json_previews_without_an_error(payload: dict[str, Any]) -> None:
    preview(payload)


# --- Discord's Markdown, drawn for the preview -----------------------------------------------

SENT = datetime(2026, 11, 29, 17, 40, tzinfo=UTC)
MOMENT = int(datetime(2026, 11, 29, 19, 40, 5, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("style", "shown", "relative_to_sent"),
    [
        ("t", "19:40", "19:40"),
        ("T", "19:40:05", "19:40:05"),
        ("d", "29/11/2026", "29/11/2026"),
        ("D", "29 November 2026", "29 November 2026"),
        ("f", "29 November 2026 19:40", "29 November 2026 19:40"),
        ("F", "Sunday, 29 November 2026 19:40", "Sunday, 29 November 2026 19:40"),
        ("R", "29 November 2026 19:40", "in 2 hours"),
    ],
)
def test_a_timestamp_in_each_style(style: str, shown: str, relative_to_sent: str) -> None:
    assert when(MOMENT, style) == shown
    assert when(MOMENT, style, SENT) == relative_to_sent
    assert timestamps(f"at <t:{MOMENT}:{style}>.") == f"at {shown}."


def test_a_timestamp_without_a_style_is_f_and_one_no_calendar_holds_stays_as_written() -> None:
    assert timestamps(f"<t:{MOMENT}>") == "29 November 2026 19:40"
    assert timestamps("<t:99999999999999:R> <t:12:x>") == "<t:99999999999999:R> <t:12:x>"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (10, "in a few seconds"),
        (-44, "a few seconds ago"),
        (45, "in a minute"),
        (150, "in 3 minutes"),
        (-44 * 60, "44 minutes ago"),
        (45 * 60, "in an hour"),
        (7200, "in 2 hours"),
        (21 * 3600, "in 21 hours"),
        (22 * 3600, "in a day"),
        (-3 * 86400, "3 days ago"),
        (26 * 86400, "in a month"),
        (63 * 86400, "in 2 months"),
        (330 * 86400, "in a year"),
        (-800 * 86400, "2 years ago"),
    ],
)
def test_a_relative_time_in_discords_words(seconds: int, words: str) -> None:
    assert relative(datetime.fromtimestamp(SENT.timestamp() + seconds, UTC), SENT) == words


MARKDOWN = [
    (
        "**bold** *it* _it_ __under__ ~~gone~~",
        "<strong>bold</strong> <em>it</em> <em>it</em> <u>under</u> <s>gone</s>",
    ),
    ("***both*** and snake_case_name", "<strong><em>both</em></strong> and snake_case_name"),
    ("run `make <all>` now", 'run <code class="discord-code">make &lt;all&gt;</code> now'),
    (
        "a\n```py\nif a < b:\n    pass\n```\nb",
        'a<pre class="discord-pre" data-lang="py">if a &lt; b:\n    pass</pre>b',
    ),
    ("```\nno language\n```", '<pre class="discord-pre">no language</pre>'),
    ("> one\n> two\nout", '<blockquote class="discord-quote">one\ntwo</blockquote>out'),
    (
        ">>> all\n# of it",
        '<blockquote class="discord-quote">all<div class="discord-h discord-h1">'
        "of it</div></blockquote>",
    ),
    (
        "# One\n### Three\n#### four\n-# small",
        '<div class="discord-h discord-h1">One</div>'
        '<div class="discord-h discord-h3">Three</div>#### four<div class="discord-subtext">small</div>',
    ),
    (
        "- a\n  - b\n1. c",
        '<ul class="discord-list"><li>a<ul class="discord-list"><li>b</li></ul>'
        '</li></ul><ol class="discord-list"><li>c</li></ol>',
    ),
    ("||secret||", '<span class="discord-spoiler">secret</span>'),
    (
        "[docs](https://x.io/?a=1&b=2) https://y.io.",
        '<a class="discord-link" href="https://x.io/'
        '?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">docs</a> <a class="discord-link" '
        'href="https://y.io" target="_blank" rel="noopener noreferrer">https://y.io</a>.',
    ),
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ("\\*not\\* \\`code\\`", "*not* `code`"),
    ("**open, ```open, ||open, [open](", "**open, ```open, ||open, [open]("),
    (f"hi @{ZWSP}everyone <@{ZWSP}1>", "hi @everyone &lt;@1&gt;"),
    ('<b onclick="x">&amp;</b>', "&lt;b onclick=&#34;x&#34;&gt;&amp;amp;&lt;/b&gt;"),
]


@pytest.mark.parametrize(("text", "html"), MARKDOWN)
def test_discords_markdown_is_drawn_as_discord_draws_it(text: str, html: str) -> None:
    assert to_html(text) == html


def test_a_title_or_field_name_draws_only_inline_markdown() -> None:
    assert to_html("# **Deploy** `api`", inline=True) == (
        '# <strong>Deploy</strong> <code class="discord-code">api</code>'
    )


class _Tags(HTMLParser):
    """The tags and attributes in a page of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


DRAWN_TAGS = {
    "strong",
    "em",
    "u",
    "s",
    "code",
    "pre",
    "span",
    "a",
    "div",
    "blockquote",
    "ul",
    "ol",
    "li",
    "time",
}
DRAWN_ATTRIBUTES = {"class", "href", "target", "rel", "data-lang", "start", "datetime", "title"}
HOSTILE = st.lists(
    st.sampled_from(
        [
            "*",
            "**",
            "_",
            "__",
            "~~",
            "||",
            "`",
            "```",
            "\n",
            "> ",
            ">>> ",
            "# ",
            "- ",
            "1. ",
            "\\",
            "[a](",
            "https://x.io/",
            ")",
            "]",
            "<",
            ">",
            "&",
            '"',
            "'",
            "<t:1700000000:R>",
            "<@1>",
            "<script>",
            "javascript:",
            " onerror=",
            "x",
            " ",
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_no_text_draws_markup_of_its_own(text: str) -> None:
    tags = _Tags()
    tags.feed(str(to_html(text, now=SENT)))
    for tag, attributes in tags.tags:
        assert tag in DRAWN_TAGS
        for name, value in attributes:
            assert name in DRAWN_ATTRIBUTES
            assert name != "href" or (value or "").startswith(("https://", "http://"))


@pytest.mark.parametrize(
    "text",
    [
        "*" * 3000 + "x" + "*" * 3000,
        "_" * 3000 + "x" + "_" * 3000,
        "||" * 1500 + "x" + "||" * 1500,
        "**x" * 2000,
        "[x](" * 1500,
        "> x\n" * 1000,
    ],
)
def test_markers_deep_or_many_are_drawn_losing_no_text(text: str) -> None:
    visible = unescape(re.sub(r"<[^>]*>", "", str(to_html(text))))
    assert visible.count("x") == text.count("x")


# --- the conversation's template --------------------------------------------------------------


def _page(messages: list[tuple[OutboundMessage, str]]) -> str:
    return drawn(
        "discord",
        "Discord",
        render,
        preview,
        messages,
        conversation="8001:8002",
        address="9001",
        look=LOOK,
    )


def test_the_template_draws_a_discord_conversation() -> None:
    many = QUESTION.model_copy(update={"options": tuple(f"r{i}" for i in range(7))})
    hostile = REPLY.model_copy(
        update={"text": "<script>alert(1)</script> @everyone\n```\ncode\n```"}
    )
    long = REPLY.model_copy(update={"text": "\n\n".join(["word " * 300] * 12)})
    html = _page(
        [
            (APPROVAL, ""),
            (QUESTION, ""),
            (many, ""),
            (hostile, ""),
            (long, ""),
            (OUTCOME, "Approved"),
        ]
    )
    assert 'class="discord-embed"' in html and "border-left-color: #f0b232" in html
    assert 'class="discord-field-name">Requested by<' in html
    assert "discord-btn discord-btn-approve" in html and "discord-btn discord-btn-reject" in html
    assert html.count("discord-btn discord-btn-answer") == 2
    assert html.count('class="discord-select"') == 1 and html.count("discord-option-answer") == 7
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<pre class="discord-pre">code</pre>' in html
    assert html.count("discord-continued") == len(render(long)["continued"])
    assert "hello &lt;b&gt;there&lt;/b&gt;" in html


def test_the_template_draws_discords_markdown_and_times() -> None:
    reply = REPLY.model_copy(update={"text": "Deployed **api** with `make`:\n```sh\nmake\n```"})
    html = _page([(APPROVAL, ""), (reply, "")])
    # The deadline as its time, and as its distance from when the message was sent (2025-01-01).
    assert ">4 March 2025 14:02</time> (<time" in html and ">in 2 months</time>" in html
    assert "&lt;t:" not in html and "<t:" not in html
    assert 'Deployed <strong>api</strong> with <code class="discord-code">make</code>:' in html
    assert '<pre class="discord-pre" data-lang="sh">make</pre>' in html
    assert '<div class="discord-field-value"><code class="discord-code">api</code>' in html


def test_a_look_that_cannot_draw_markdown_shows_the_text_as_written() -> None:
    reply = REPLY.model_copy(update={"text": "**api** <b>"})
    page = drawn(
        "discord", "Discord", render, preview, [(reply, "")], conversation="8001", address="9001"
    )
    assert "**api** &lt;b&gt;" in page and "<strong>" not in page
