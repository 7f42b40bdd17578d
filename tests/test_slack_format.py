"""The Slack channel's pure formatting: Markdown as mrkdwn, splitting within Slack's limits, Block
Kit for each kind of message, its preview, and the template that draws a conversation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.slack.blocks import conversation_of, parse_conversation, render
from channels.slack.format import mrkdwn, split
from channels.slack.preview import preview
from core.channels import Action, OutboundMessage, RequestContext
from tests.previews import drawn

# --- mrkdwn -----------------------------------------------------------------------------------

CONVERSIONS = [
    # emphasis
    ("**bold**", "*bold*"),
    ("__bold__", "*bold*"),
    ("*italic*", "_italic_"),
    ("_italic_", "_italic_"),
    ("~~gone~~", "~gone~"),
    ("***both***", "*_both_*"),
    ("a **bold** and *italic* word", "a *bold* and _italic_ word"),
    ("**bold with *italic* inside**", "*bold with _italic_ inside*"),
    ("snake_case_name stays", "snake_case_name stays"),
    ("a__b__c stays", "a__b__c stays"),
    ("__init__.py", "*init*.py"),  # as CommonMark reads it; code goes in backticks
    # escaping
    ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
    ("&amp; already", "&amp;amp; already"),
    # headings, lists, quotes, rules
    ("# Title", "*Title*"),
    ("### A **bold** title ###", "*A bold title*"),
    ("#hashtag is no heading", "#hashtag is no heading"),
    ("- one\n* two\n+ three", "\u2022 one\n\u2022 two\n\u2022 three"),
    ("- outer\n  - inner", "\u2022 outer\n  \u2022 inner"),
    ("- [ ] todo\n- [x] done", "\u2022 \u2610 todo\n\u2022 \u2611 done"),
    ("1. first\n2. second\n10) tenth", "1. first\n2. second\n10) tenth"),
    ("- **bold** item", "\u2022 *bold* item"),
    ("> quoted **text**", "&gt; quoted *text*"),
    ("---", "\u2500" * 10),
    ("* * *", "\u2500" * 10),
    # links
    ("[docs](https://example.com/docs)", "<https://example.com/docs|docs>"),
    ("[a **b**](https://x.io)", "<https://x.io|a *b*>"),
    ("[q](https://x.io/?a=1&b=2)", "<https://x.io/?a=1&amp;b=2|q>"),
    ("[a|b](https://x.io/a|b)", "<https://x.io/a%7Cb|a\u00a6b>"),
    ("[x > y](https://x.io)", "<https://x.io|x &gt; y>"),
    ("[wiki](https://w.org/Foo_(bar))", "<https://w.org/Foo_(bar)|wiki>"),
    ('[t](https://x.io "a title")', "<https://x.io|t>"),
    ("[](https://x.io)", "<https://x.io>"),
    ("![a chart](https://x.io/c.png)", "<https://x.io/c.png|a chart>"),
    ("<https://x.io/a_b_>", "<https://x.io/a_b_>"),
    ("<alice@example.com>", "<mailto:alice@example.com|alice@example.com>"),
    ("[mail](mailto:a@b.co)", "<mailto:a@b.co|mail>"),
    ("[page](/relative/path)", "page (/relative/path)"),
    # bare URLs are Slack's to link: kept, never formatted, trailing punctuation left out
    ("see https://x.io/a_b_c.", "see https://x.io/a_b_c."),
    ("https://x.io/?a=1&b=2", "https://x.io/?a=1&amp;b=2"),
    ("(https://x.io/x)", "(https://x.io/x)"),
    ("**https://x.io**", "*https://x.io*"),
    # code: kept, escaped, nothing converted inside
    ("`**not bold**`", "`**not bold**`"),
    ("`a < b && c`", "`a &lt; b &amp;&amp; c`"),
    ("`[x](https://y.io)`", "`[x](https://y.io)`"),
    ("`` a `b` c ``", "`a \u02cbb\u02cb c`"),
    (
        "```python\nx = **y** < 2\n# no heading\n- no bullet\n```",
        "```\nx = **y** &lt; 2\n# no heading\n- no bullet\n```",
    ),
    ("~~~\ncode\n~~~", "```\ncode\n```"),
    ("```\nopen at the end <", "```\nopen at the end &lt;\n```"),
    ("~~~\n```inside\n~~~", "```\n``\u200b`inside\n```"),
    ("  ```\n  indented\n  ```", "```\nindented\n```"),
    ("```inline```", "`inline`"),
    # spacing
    ("a\n\n\n\nb", "a\n\nb"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("  \n\ntext  \n\n", "text"),
    ("", ""),
]

HOSTILE = [
    ("<!channel>", "&lt;!channel&gt;"),
    ("<!here> <!everyone>", "&lt;!here&gt; &lt;!everyone&gt;"),
    ("<@U123> <@W9|bob>", "&lt;@U123&gt; &lt;@W9|bob&gt;"),
    ("<#C123|general>", "&lt;#C123|general&gt;"),
    ("<!subteam^S1|@team>", "&lt;!subteam^S1|@team&gt;"),
    ("[ping](!channel)", "ping (!channel)"),
    ("[ping](<!channel>)", "ping (!channel)"),
    ("[<!channel>](https://x.io)", "<https://x.io|&lt;!channel&gt;>"),
    ("[x](javascript:alert(1))", "x (javascript:alert(1))"),
    ("<https://x.io|<!channel>>", "&lt;https://x.io|&lt;!channel&gt;&gt;"),
    ("`<!channel>`", "`&lt;!channel&gt;`"),
    ("```\n<!channel>\n```", "```\n&lt;!channel&gt;\n```"),
    ("# <@U1>", "*&lt;@U1&gt;*"),
    ("- <!here>", "\u2022 &lt;!here&gt;"),
    ("\ue000 0\ue001", "\ufffd 0\ufffd"),  # the converter's own placeholders mean nothing
]

UNBALANCED = [
    ("**bold never closed", "**bold never closed"),
    ("*open", "*open"),
    ("2 * 3 * 4", "2 * 3 * 4"),
    ("a ** b", "a ** b"),
    ("~~open", "~~open"),
    ("`open code", "`open code"),
    ("[text](https://x.io", "[text](https://x.io"),
    ("**bold\nnext line**", "**bold\nnext line**"),  # a marker never runs past its line
    ("_a_b", "_a_b"),
]


@pytest.mark.parametrize(("markdown", "expected"), CONVERSIONS)
def test_markdown_becomes_mrkdwn(markdown: str, expected: str) -> None:
    assert mrkdwn(markdown) == expected


@pytest.mark.parametrize(("markdown", "expected"), HOSTILE)
def test_nothing_the_model_writes_mentions_anyone(markdown: str, expected: str) -> None:
    assert mrkdwn(markdown) == expected
    assert not re.search(r"<[!@#]", mrkdwn(markdown))


@pytest.mark.parametrize(("markdown", "expected"), UNBALANCED)
def test_unbalanced_markers_stay_as_written(markdown: str, expected: str) -> None:
    assert mrkdwn(markdown) == expected


def _tokens(converted: str) -> list[str]:
    return re.findall(r"<([^<>]*)>", converted)


MARKDOWNISH = st.lists(
    st.sampled_from([*"ab <>&!@#|*_~`[]()\n-:/.^", "https://", "```", "\ue000", "# ", "- "]),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_only_links_we_make_reach_slack_unescaped(markdown: str) -> None:
    converted = mrkdwn(markdown)
    assert converted == mrkdwn(markdown)
    for token in _tokens(converted):
        assert re.match(r"(https?://|mailto:)", token), (markdown, converted)
    assert "\ue000" not in converted and "\ue001" not in converted
    assert converted.count("```") % 2 == 0  # code blocks are closed


def test_a_very_long_text_converts_whole_and_quickly() -> None:
    line = "**bold** *it* `code` [l](https://x.io) <!channel> a & b ~~s~~ *x _y ** z\n"
    text = line * 1500 + "*x " * 20_000 + "[a" * 10_000 + "`" * 5_000
    converted = mrkdwn(text)
    assert converted.count("<https://x.io|l>") == 1500
    assert "<!channel>" not in converted
    assert len(converted) > len(text)


# --- split ------------------------------------------------------------------------------------

SPLITS = [
    ("short", 10, ["short"]),
    ("", 10, []),
    ("  \n\n ", 10, []),
    ("one two three four", 9, ["one two", "three", "four"]),
    ("first para.\n\nsecond para here.", 25, ["first para.", "second para here."]),
    ("line one\nline two\nline three", 18, ["line one\nline two", "line three"]),
    ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
    ("a &amp;&amp; b", 8, ["a", "&amp;", "&amp; b"]),  # an entity is never cut
    ("see <https://x.io|the docs> now", 24, ["see", "<https://x.io|the docs>", "now"]),
    ("a `code span` b", 12, ["a", "`code span`", "b"]),
]


@pytest.mark.parametrize(("text", "limit", "expected"), SPLITS)
def test_split_prefers_paragraphs_then_lines_then_spaces(
    text: str, limit: int, expected: list[str]
) -> None:
    assert split(text, limit) == expected


def test_split_keeps_a_code_block_whole_when_it_can() -> None:
    code = "```\n" + "\n".join(f"line {i}" for i in range(5)) + "\n```"
    text = f"intro words here\n\n{code}\n\nafter"
    chunks = split(text, len(code) + 2)
    assert code in chunks


def test_a_code_block_too_long_is_closed_and_opened_again() -> None:
    code = "```\n" + "\n".join(f"x = {i} &lt; {i + 1}" for i in range(40)) + "\n```"
    chunks = split(f"before\n\n{code}\n\nafter", 100)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk) <= 100
        assert chunk.count("```") % 2 == 0, chunk
    assert chunks[0] == "before" and chunks[-1].endswith("```\n\nafter")
    assert all(c.startswith("```\nx = ") for c in chunks[1:])
    assert all(c.endswith("\n```") for c in chunks[1:-1])


def test_split_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError):
        split("text", 0)


def _content(text: str) -> str:
    """What a split must keep: everything but whitespace and the fences it adds."""
    return re.sub(r"\s+", "", text.replace("```", ""))


PIECES = st.lists(
    st.sampled_from(
        [
            "word",
            "longerword",
            " ",
            " ",
            "\n",
            "\n\n",
            "&amp;",
            "&lt;",
            "<https://x.io|a link>",
            "`some code`",
            "\n```\ncode line\nmore code\n```\n",
            "x" * 40,
        ]
    ),
    max_size=120,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(PIECES, st.integers(min_value=16, max_value=120))
def test_split_chunks_fit_keep_the_text_and_balance_fences(text: str, limit: int) -> None:
    chunks = split(text, limit)
    assert all(0 < len(c) <= limit and c.strip() for c in chunks)
    assert _content("".join(chunks)) == _content(text)
    if text.count("```") % 2 == 0:
        assert all(c.count("```") % 2 == 0 for c in chunks), chunks


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=1, max_value=40))
def test_split_any_text_fits_any_limit(text: str, limit: int) -> None:
    chunks = split(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    if limit < 16:  # too small for fences: nothing is added
        assert re.sub(r"\s+", "", "".join(chunks)) == re.sub(r"\s+", "", text)


@settings(max_examples=100, deadline=None)
@given(MARKDOWNISH)
def test_split_mrkdwn_in_sections_balances_its_fences(markdown: str) -> None:
    for chunk in split(mrkdwn(markdown * 20), 100):
        assert len(chunk) <= 100 and chunk.count("```") % 2 == 0


# --- conversations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conversation", "parsed"),
    [
        ("C123", ("C123", None)),
        ("C123:1712345678.000100", ("C123", "1712345678.000100")),
        ("D0AB:1.2", ("D0AB", "1.2")),
        ("C1:", ("C1", None)),
        ("dm:U0ALICE", ("U0ALICE", None)),  # the sandbox's direct conversation
    ],
)
def test_a_conversation_is_a_channel_and_maybe_a_thread(
    conversation: str, parsed: tuple[str, str | None]
) -> None:
    assert parse_conversation(conversation) == parsed


def test_conversation_of_is_what_parse_conversation_reads() -> None:
    for channel, thread in (("C1", None), ("C1", "1712.1"), ("D9", "1.000001")):
        assert parse_conversation(conversation_of(channel, thread)) == (channel, thread)
    assert conversation_of("C1", None) == "C1"
    assert conversation_of("C1", "1.2") == "C1:1.2"


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
    address="U0ALICE",
    conversation="C0DEPLOY:1712345678.000100",
    request_id="req-1",
    request_kind="approval",
    idempotency_key="k1",
    context=CONTEXT,
)
QUESTION = OutboundMessage(
    kind="request",
    text="Which region?",
    address="U0ALICE",
    request_id="req-2",
    request_kind="question",
    options=("eu", "us"),
    idempotency_key="k2",
)
REPLY = OutboundMessage(
    kind="reply", text="Deployed **api** 2.4.1.", address="U0ALICE", conversation="C1:1.1"
)
NOTICE = OutboundMessage(
    kind="notice", text="I do not know you.", address="U0BOB", conversation="C1"
)
OUTCOME = OutboundMessage(
    kind="outcome",
    text="Approved by Alice Example via discord, 14:02 UTC",
    address="U0ALICE",
    conversation="C0DEPLOY:1712345678.000100",
    request_id="req-1",
    request_kind="approval",
    edit_of="C0DEPLOY:1712345678.000200",
)
ALL = {
    "approval": APPROVAL,
    "question": QUESTION,
    "reply": REPLY,
    "notice": NOTICE,
    "outcome": OUTCOME,
}


def _blocks(payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from payload["blocks"]
    for more in payload.get("continued", ()):
        yield from more["blocks"]


def _of_type(payload: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in _blocks(payload) if b["type"] == kind]


def assert_within_slack_limits(payload: Mapping[str, Any]) -> None:
    """Slack's documented limits, on every message of the payload."""
    for message in [payload, *payload.get("continued", ())]:
        assert 0 < len(message["text"]) <= 40_000
        assert len(message["blocks"]) <= 50
        ids = [b["block_id"] for b in message["blocks"] if "block_id" in b]
        assert len(ids) == len(set(ids)) and all(len(i) <= 255 for i in ids)
        for block in message["blocks"]:
            match block["type"]:
                case "header":
                    assert 0 < len(block["text"]["text"]) <= 150
                case "section":
                    assert "text" in block or "fields" in block
                    if "text" in block:
                        assert 0 < len(block["text"]["text"]) <= 3000
                    fields = block.get("fields", [])
                    assert len(fields) <= 10
                    assert all(0 < len(f["text"]) <= 2000 for f in fields)
                case "context":
                    assert 0 < len(block["elements"]) <= 10
                    assert all(len(e["text"]) <= 3000 for e in block["elements"])
                case "actions":
                    assert 0 < len(block["elements"]) <= 25
                    action_ids = [e["action_id"] for e in block["elements"]]
                    assert len(action_ids) == len(set(action_ids))
                    for element in block["elements"]:
                        assert len(element["action_id"]) <= 255
                        if element["type"] == "button":
                            assert 0 < len(element["text"]["text"]) <= 75
                            assert len(element["value"]) <= 2000
                        else:
                            assert element["type"] == "static_select"
                            assert 0 < len(element["options"]) <= 100
                            for option in element["options"]:
                                assert 0 < len(option["text"]["text"]) <= 75
                                assert len(option["value"]) <= 150


@pytest.mark.parametrize("message", list(ALL.values()), ids=list(ALL))
def test_render_is_pure_deterministic_json_and_within_limits(message: OutboundMessage) -> None:
    payload = render(message)
    assert payload == render(message) == render(message.model_copy())
    assert json.loads(json.dumps(payload)) == payload
    assert_within_slack_limits(payload)
    assert set(payload) <= {"channel", "thread_ts", "text", "blocks", "user", "continued"}


def test_a_reply_is_its_mrkdwn_in_a_thread() -> None:
    assert render(REPLY) == {
        "channel": "C1",
        "thread_ts": "1.1",
        "text": "Deployed *api* 2.4.1.",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Deployed *api* 2.4.1."}}
        ],
    }


def test_a_message_with_no_conversation_goes_to_the_persons_dm() -> None:
    payload = render(REPLY.model_copy(update={"conversation": None}))
    assert payload["channel"] == "U0ALICE" and "thread_ts" not in payload


def test_an_empty_reply_still_has_text() -> None:
    payload = render(REPLY.model_copy(update={"text": "  "}))
    assert payload["text"] and payload["blocks"]
    assert_within_slack_limits(payload)


def test_a_long_reply_continues_in_more_messages_within_every_limit() -> None:
    paragraph = "A sentence with **bold** words & <symbols> that goes on. " * 30
    text = "\n\n".join(paragraph for _ in range(60))[:100_000]
    assert len(text) == 100_000
    payload = render(REPLY.model_copy(update={"text": text}))
    assert len(payload["continued"]) >= 2
    assert all(set(m) == {"text", "blocks"} for m in payload["continued"])
    assert_within_slack_limits(payload)
    sections = [b["text"]["text"] for b in _of_type(payload, "section")]
    assert _content("".join(sections)) == _content(mrkdwn(text))
    shown = preview(payload)
    assert shown.notes == (f"{1 + len(payload['continued'])} messages",)


def test_a_reply_of_many_short_paragraphs_keeps_to_fifty_blocks() -> None:
    text = "\n\n".join(f"Paragraph {i:03} " + "x" * 2980 for i in range(120))
    payload = render(REPLY.model_copy(update={"text": text}))
    assert_within_slack_limits(payload)
    assert sum(1 for _ in _blocks(payload)) == 120


def test_a_long_code_block_in_a_reply_stays_code_in_every_section() -> None:
    code = "```\n" + "\n".join(f"print({i})  # <{i}>" for i in range(600)) + "\n```"
    payload = render(REPLY.model_copy(update={"text": f"Here:\n\n{code}"}))
    assert_within_slack_limits(payload)
    for section in _of_type(payload, "section")[1:]:
        text = section["text"]["text"]
        assert text.startswith("```\n") and text.endswith("\n```")


def test_a_notice_is_ephemeral_to_its_person() -> None:
    payload = render(NOTICE)
    assert payload["user"] == "U0BOB" and payload["channel"] == "C1"
    assert payload["text"] == "I do not know you."
    assert "user" not in render(REPLY) and "user" not in render(APPROVAL)


def test_an_approval_shows_what_a_decider_needs_and_two_buttons() -> None:
    payload = render(APPROVAL)
    assert payload["channel"] == "C0DEPLOY" and payload["thread_ts"] == "1712345678.000100"
    assert payload["text"] == "Approve deploy api 2.4.1 to production?"
    header, asker, arguments, deadline, actions = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": APPROVAL.text, "emoji": True},
    }
    assert asker["elements"][0]["text"] == "Requested by *Bob Example* for the *deploy* agent"
    assert arguments["text"]["text"] == "*Tool* `deploy_service`"
    assert [f["text"] for f in arguments["fields"]] == [
        "*service*\n`api`",
        "*version*\n`2.4.1`",
        "*replicas*\n`3`",
        '*flags*\n`{"canary": true}`',
    ]
    stamp = int(DEADLINE.timestamp())
    assert deadline == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"Decide by <!date^{stamp}^{{date_short_pretty}} at {{time}}"
                "|2025-03-04T14:02Z>; after that it is rejected.",
            }
        ],
    }
    assert actions["block_id"] == "request:req-1"
    assert [
        (b["text"]["text"], b["action_id"], b["value"], b["style"]) for b in actions["elements"]
    ] == [
        ("Approve", "switchboard:approve", "req-1", "primary"),
        ("Reject", "switchboard:reject", "req-1", "danger"),
    ]


@pytest.mark.parametrize(
    ("requester", "agent", "line"),
    [
        ("Bob", "deploy", "Requested by *Bob* for the *deploy* agent"),
        ("Bob", "", "Requested by *Bob*"),
        (None, "deploy", "Requested by the *deploy* agent"),
        ("<!channel>", "a&b", "Requested by *&lt;!channel&gt;* for the *a&amp;b* agent"),
    ],
)
def test_who_asks(requester: str | None, agent: str, line: str) -> None:
    context = RequestContext(requester=requester, agent=agent)
    payload = render(APPROVAL.model_copy(update={"context": context}))
    assert _of_type(payload, "context")[0]["elements"][0]["text"] == line


def test_an_approval_without_context_is_the_question_and_its_buttons() -> None:
    payload = render(APPROVAL.model_copy(update={"context": None}))
    assert [b["type"] for b in payload["blocks"]] == ["header", "actions"]


def test_a_deadline_in_another_zone_or_naive_is_shown_in_utc() -> None:
    for deadline in (
        datetime(2025, 3, 4, 15, 2, tzinfo=timezone(timedelta(hours=1))),
        datetime(2025, 3, 4, 14, 2),
    ):
        context = RequestContext(agent="deploy", deadline=deadline)
        payload = render(APPROVAL.model_copy(update={"context": context}))
        assert "|2025-03-04T14:02Z>" in json.dumps(payload)


def test_many_arguments_fill_sections_of_ten_fields_and_are_counted_past_fifty() -> None:
    arguments = {f"arg{i}": i for i in range(57)}
    context = RequestContext(agent="deploy", tool="bulk", arguments=arguments)
    payload = render(APPROVAL.model_copy(update={"context": context}))
    assert_within_slack_limits(payload)
    sections = [b for b in _of_type(payload, "section") if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 10, 10, 10, 10]
    assert sections[0]["text"]["text"] == "*Tool* `bulk`"
    notes = [b["elements"][0]["text"] for b in _of_type(payload, "context")]
    assert "…and 7 more arguments, not shown." in notes


def test_argument_values_are_shown_exactly_escaped_and_cut_when_long() -> None:
    arguments = {
        "ping": "<!channel> & <@U1>",
        "long": "y" * 5000,
        "entities": "<" * 3000,
        "query": "select *\nfrom users\nwhere `x` = 1",
        "empty": "",
        "none": None,
        "**key**": "v",
        "tick": "a `b` c",
    }
    context = RequestContext(agent="db", tool="run_sql", arguments=arguments)
    payload = render(APPROVAL.model_copy(update={"context": context}))
    assert_within_slack_limits(payload)
    fields = [f["text"] for b in _of_type(payload, "section") for f in b.get("fields", [])]
    assert fields[0] == "*ping*\n`&lt;!channel&gt; &amp; &lt;@U1&gt;`"
    assert fields[1].startswith("*long*\n`yyy") and fields[1].endswith("\u2026`")
    assert fields[2].endswith("&lt;\u2026`")
    assert fields[3] == "*query*\n```\nselect *\nfrom users\nwhere `x` = 1\n```"
    assert fields[4] == "*empty*\n_(empty)_"
    assert fields[5] == "*none*\n`null`"
    assert fields[6] == "*key*\n`v`"
    assert fields[7] == "*tick*\n```\na `b` c\n```"  # exactly, backticks and all


def test_a_long_or_formatted_question_is_a_section_not_a_header() -> None:
    long = render(APPROVAL.model_copy(update={"text": "Approve " + "this " * 40 + "?"}))
    assert long["blocks"][0]["type"] == "section"
    formatted = render(APPROVAL.model_copy(update={"text": "Approve **now**?"}))
    assert formatted["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Approve *now*?"},
    }
    huge = render(APPROVAL.model_copy(update={"text": "word " * 20_000}))
    assert_within_slack_limits(huge)
    assert huge["blocks"][9]["text"]["text"].endswith("\n\u2026")


def test_a_question_with_few_options_has_a_button_each() -> None:
    payload = render(QUESTION)
    assert payload["channel"] == "U0ALICE" and "thread_ts" not in payload
    [actions] = _of_type(payload, "actions")
    assert actions["block_id"] == "request:req-2"
    assert [
        (b["text"]["text"], b["action_id"], json.loads(b["value"])) for b in actions["elements"]
    ] == [
        ("eu", "switchboard:answer:0", {"r": "req-2", "v": "eu"}),
        ("us", "switchboard:answer:1", {"r": "req-2", "v": "us"}),
    ]
    assert all("style" not in b for b in actions["elements"])


def test_a_question_with_more_than_five_options_has_a_select() -> None:
    options = (*(f"option {i}" for i in range(6)), "o" * 100)
    payload = render(QUESTION.model_copy(update={"options": options}))
    assert_within_slack_limits(payload)
    [actions] = _of_type(payload, "actions")
    [select] = actions["elements"]
    assert select["type"] == "static_select" and select["action_id"] == "switchboard:answer"
    assert [json.loads(o["value"])["v"] for o in select["options"]] == list(options)
    assert select["options"][-1]["text"]["text"] == "o" * 74 + "\u2026"
    assert not _of_type(payload, "context")  # every option is offered


def test_options_too_long_for_a_select_get_buttons_and_too_long_for_a_button_a_reply() -> None:
    options = ("a", "b", "c", "d", "e", "m" * 300, "z" * 3000)
    payload = render(QUESTION.model_copy(update={"options": options}))
    assert_within_slack_limits(payload)
    [actions] = _of_type(payload, "actions")
    select, button = actions["elements"]
    assert [json.loads(o["value"])["v"] for o in select["options"]] == ["a", "b", "c", "d", "e"]
    assert button["action_id"] == "switchboard:answer:5"
    assert json.loads(button["value"]) == {"r": "req-2", "v": "m" * 300}
    [hint] = _of_type(payload, "context")
    assert hint["elements"][0]["text"] == "Or reply in this thread with your answer."


def test_a_question_without_options_says_to_reply_in_the_thread() -> None:
    payload = render(QUESTION.model_copy(update={"options": ()}))
    assert not _of_type(payload, "actions")
    assert payload["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "Reply in this thread to answer."}],
    }


def test_a_question_with_context_shows_it_and_its_deadline() -> None:
    payload = render(QUESTION.model_copy(update={"context": CONTEXT}))
    notes = [b["elements"][0]["text"] for b in _of_type(payload, "context")]
    assert notes[0] == "Requested by *Bob Example* for the *deploy* agent"
    assert notes[1].startswith("Answer by <!date^")


def test_an_outcome_is_the_bold_result_without_buttons() -> None:
    payload = render(OUTCOME)
    assert payload == {
        "channel": "C0DEPLOY",
        "thread_ts": "1712345678.000100",
        "text": "*Approved by Alice Example via discord, 14:02 UTC*",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Approved by Alice Example via discord, 14:02 UTC*",
                },
                "block_id": "edits:C0DEPLOY:1712345678.000200",
            }
        ],
    }
    assert not _of_type(payload, "actions")


DECIDERS = "role:deploy-approver; 2 different people must approve (not Bob Example, who asked)"
PROGRESS = "1 of 2: approved by Alice Example via discord; waiting for one more"
QUORUM_CONTEXT = CONTEXT.model_copy(
    update={"question": APPROVAL.text, "deciders": DECIDERS, "progress": PROGRESS}
)
QUORUM = APPROVAL.model_copy(update={"context": QUORUM_CONTEXT})
# A step towards the quorum, to Erin, who has not decided: her copy drawn again, still live.
REDRAWN = QUORUM.model_copy(update={"address": "U0ERIN", "edit_of": "C0DEPLOY:1712345678.000300"})


def _notes(payload: Mapping[str, Any]) -> list[str]:
    return [b["elements"][0]["text"] for b in _of_type(payload, "context")]


def test_an_approval_says_who_may_decide_and_how_far_it_is() -> None:
    payload = render(QUORUM)
    assert [b["type"] for b in payload["blocks"]] == [
        "header",
        "section",  # the progress, under the question
        "context",
        "context",
        "section",
        "context",
        "actions",
    ]
    assert payload["blocks"][1]["text"]["text"] == f"*Progress:* {PROGRESS}"
    assert _notes(payload)[:2] == [
        "Requested by *Bob Example* for the *deploy* agent",
        f"Who may decide: {DECIDERS}",
    ]
    assert preview(payload).text.splitlines()[:4] == [
        APPROVAL.text,
        f"*Progress:* {PROGRESS}",
        "Requested by *Bob Example* for the *deploy* agent",
        f"Who may decide: {DECIDERS}",
    ]
    assert_within_slack_limits(payload)


def test_an_approval_nobody_approved_yet_shows_who_may_decide_and_no_progress() -> None:
    context = QUORUM_CONTEXT.model_copy(update={"progress": ""})
    payload = render(QUORUM.model_copy(update={"context": context}))
    assert f"Who may decide: {DECIDERS}" in _notes(payload)
    assert "Progress" not in preview(payload).text


def test_a_progress_redraw_keeps_its_live_buttons_and_names_the_copy_it_replaces() -> None:
    payload = render(REDRAWN)
    assert payload["blocks"][0]["block_id"] == "edits:C0DEPLOY:1712345678.000300"
    [actions] = _of_type(payload, "actions")
    assert actions["block_id"] == "request:req-1"
    assert [e["action_id"] for e in actions["elements"]] == [
        "switchboard:approve",
        "switchboard:reject",
    ]
    shown = preview(payload)
    assert [(b.label, b.action) for b in shown.buttons] == [
        ("Approve", Action(request_id="req-1", decision="approve")),
        ("Reject", Action(request_id="req-1", decision="reject")),
    ]
    assert shown.edits == "C0DEPLOY:1712345678.000300"
    assert f"*Progress:* {PROGRESS}" in shown.text and DECIDERS in shown.text
    assert_within_slack_limits(payload)
    html = _page([(REDRAWN, "")])
    assert "slack-btn slack-btn-approve" in html and PROGRESS in html


def test_a_progress_step_to_one_who_approved_is_their_copy_settled_for_them() -> None:
    step = OUTCOME.model_copy(update={"text": PROGRESS, "context": QUORUM_CONTEXT})
    payload = render(step)
    assert payload["text"] == f"*{PROGRESS}*" and not _of_type(payload, "actions")
    assert preview(payload).edits == OUTCOME.edit_of


def test_a_question_shows_no_deciders_line_nor_progress() -> None:
    context = QUORUM_CONTEXT.model_copy(update={"question": QUESTION.text})
    shown = preview(render(QUESTION.model_copy(update={"context": context})))
    assert "Who may decide" not in shown.text and "Progress" not in shown.text
    assert "Requested by *Bob Example*" in shown.text


def test_who_may_decide_and_progress_are_escaped_and_cut() -> None:
    context = RequestContext(
        deciders="<!channel> & <@U1>\n" + "role:x, " * 400,
        progress="1 of 2: approved by *Ann* <!here> via slack; waiting for one more",
    )
    payload = render(APPROVAL.model_copy(update={"context": context}))
    assert_within_slack_limits(payload)
    [deciders] = _notes(payload)
    assert deciders.startswith("Who may decide: &lt;!channel&gt; &amp; &lt;@U1&gt; role:x,")
    assert deciders.endswith("\u2026") and len(deciders) <= 1000
    progress = payload["blocks"][1]["text"]["text"]
    assert (
        progress
        == "*Progress:* 1 of 2: approved by *Ann* &lt;!here&gt; via slack; waiting for one more"
    )


OPTION_TEXT = st.text(st.characters(codec="utf-8"), max_size=400)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["reply", "notice", "outcome", "approval", "question"]),
    text=st.text(max_size=2000),
    options=st.lists(OPTION_TEXT, max_size=12),
    arguments=st.dictionaries(st.text(max_size=50), OPTION_TEXT, max_size=30),
)
def test_any_message_renders_within_slack_limits(
    kind: str, text: str, options: list[str], arguments: dict[str, str]
) -> None:
    request_kind = kind if kind in ("approval", "question") else None
    message = OutboundMessage(
        kind="request" if request_kind else kind,
        text=text,
        address="U1",
        conversation="C1:2.3",
        request_id="req-x" if request_kind else None,
        request_kind=request_kind,
        options=tuple(options),
        edit_of="C1:2.4" if kind == "outcome" else None,
        context=RequestContext(agent="a", tool="t", arguments=arguments) if request_kind else None,
    )
    payload = render(message)
    assert_within_slack_limits(payload)
    assert json.loads(json.dumps(payload)) == payload
    assert preview(payload).edits == message.edit_of


# --- preview ----------------------------------------------------------------------------------


def test_an_approval_previews_with_its_two_decisions() -> None:
    shown = preview(render(APPROVAL))
    assert [(b.label, b.action) for b in shown.buttons] == [
        ("Approve", Action(request_id="req-1", decision="approve")),
        ("Reject", Action(request_id="req-1", decision="reject")),
    ]
    assert shown.text.splitlines() == [
        "Approve deploy api 2.4.1 to production?",
        "Requested by *Bob Example* for the *deploy* agent",
        "*Tool* `deploy_service`",
        "service: `api`",
        "version: `2.4.1`",
        "replicas: `3`",
        'flags: `{"canary": true}`',
        "Decide by 2025-03-04T14:02Z; after that it is rejected.",
    ]
    assert shown.to == "C0DEPLOY" and shown.notes == () and shown.edits is None


def test_a_question_previews_with_a_button_per_option() -> None:
    shown = preview(render(QUESTION))
    assert [(b.label, b.action) for b in shown.buttons] == [
        ("eu", Action(request_id="req-2", decision="answer", value="eu")),
        ("us", Action(request_id="req-2", decision="answer", value="us")),
    ]


def test_a_select_previews_as_a_button_per_option() -> None:
    options = tuple(f"region {i}" for i in range(8))
    shown = preview(render(QUESTION.model_copy(update={"options": options})))
    assert [b.action for b in shown.buttons] == [
        Action(request_id="req-2", decision="answer", value=o) for o in options
    ]
    assert [b.label for b in shown.buttons] == list(options)


def test_an_outcome_previews_naming_the_copy_it_edits() -> None:
    shown = preview(render(OUTCOME))
    assert shown.edits == "C0DEPLOY:1712345678.000200"
    assert OUTCOME.text in shown.text and shown.buttons == ()


def test_a_notice_previews_as_ephemeral() -> None:
    shown = preview(render(NOTICE))
    assert shown.to == "U0BOB" and shown.notes == ("ephemeral: only U0BOB sees it",)


@pytest.mark.parametrize("message", list(ALL.values()), ids=list(ALL))
def test_the_preview_shows_what_render_made(message: OutboundMessage) -> None:
    shown = preview(render(message))
    assert message.text.replace("**", "") in shown.text.replace("*", "")
    assert shown.edits == message.edit_of


def test_the_preview_shows_the_characters_slack_shows() -> None:
    shown = preview(render(REPLY.model_copy(update={"text": "a & b <!channel> `x < y`"})))
    assert shown.text == "a & b <!channel> `x < y`"


def test_foreign_block_kit_previews_its_text_but_no_buttons() -> None:
    payload = {
        "channel": "C1",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Weekly &amp; report"}},
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Numbers &gt; last week"},
                "fields": [{"type": "mrkdwn", "text": "plain field"}],
                "accessory": {"type": "button", "action_id": "other", "value": "x"},
            },
            {"type": "context", "elements": [{"type": "image", "alt_text": "logo"}]},
            {"type": "image", "alt_text": "chart", "image_url": "https://x.io/c.png"},
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "hi "},
                            {"type": "user", "user_id": "U1"},
                        ],
                    }
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "action_id": "elsewhere", "value": "v"},
                    {"type": "static_select", "action_id": "x", "options": [{"value": "1"}]},
                    {"type": "button", "action_id": "switchboard:answer:0", "value": "not json"},
                    {"type": "button", "action_id": "switchboard:approve", "value": "bad\x00id"},
                ],
            },
        ],
    }
    shown = preview(payload)
    assert shown.buttons == ()
    assert shown.text.splitlines() == [
        "Weekly &amp; report",  # plain text is shown exactly as written
        "---",
        "Numbers > last week",
        "plain field",
        "logo",
        "[image: chart]",
        "hi @U1",
    ]


def test_a_plain_text_message_previews_its_text() -> None:
    assert preview({"channel": "C1", "text": "a &amp; b"}).text == "a & b"


GARBAGE: list[Any] = [
    {},
    {"text": 3, "buttons": "x"},
    {"buttons": [{"label": 1}, None]},
    {"blocks": "nope"},
    {"blocks": [None, 1, "x", [], {"type": 5}, {"type": "section", "text": 3, "fields": "f"}]},
    {"blocks": [{"type": "actions", "elements": [{"type": "button", "action_id": 1}]}]},
    {"blocks": [{"type": "actions", "elements": "x"}], "continued": "x", "user": 3},
    {
        "blocks": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "static_select",
                        "action_id": "switchboard:answer",
                        "options": [{"value": '{"r": 1, "v": 2}'}, {"value": "[" * 100_000}],
                    }
                ],
            }
        ]
    },
    {"continued": [None, {"blocks": [{"type": "context", "elements": [None, {"text": None}]}]}]},
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
                    "text",
                    "blocks",
                    "elements",
                    "fields",
                    "options",
                    "value",
                    "action_id",
                    "block_id",
                    "continued",
                    "user",
                    "channel",
                    "accessory",
                    "option_groups",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["blocks", "text", "continued", "user"]), JSONISH))
def test_any_json_previews_without_an_error(payload: dict[str, Any]) -> None:
    preview(payload)


# --- the conversation's template ---------------------------------------------------------------


def _page(messages: list[tuple[OutboundMessage, str]]) -> str:
    return drawn(
        "slack",
        "Slack",
        render,
        preview,
        messages,
        conversation="C0DEPLOY:1712345678.000100",
        address="U0ALICE",
    )


def test_the_template_draws_block_kit_as_slack_does() -> None:
    many = QUESTION.model_copy(update={"options": tuple(f"r{i}" for i in range(7))})
    hostile = REPLY.model_copy(
        update={"text": "<script>alert(1)</script> <!channel> [x](https://x.io)"}
    )
    html = _page([(APPROVAL, ""), (QUESTION, ""), (many, ""), (NOTICE, ""), (hostile, "")])
    assert '<div class="slack-header">Approve deploy api 2.4.1 to production?</div>' in html
    assert html.count('class="slack-fields"') == 1
    assert '<div class="slack-field-key">service</div>' in html
    assert '<code class="slack-code">api</code>' in html
    assert 'class="slack-context"' in html and 'class="slack-date"' in html
    assert (
        'class="slack-btn slack-btn-approve"' in html
        and 'class="slack-btn slack-btn-reject"' in html
    )
    assert html.count('class="slack-btn slack-btn-answer"') == 2
    assert html.count('class="slack-select"') == 1 and html.count("slack-option-answer") == 7
    assert "Only visible to you" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;!channel&gt;" in html and "slack-mention" not in html
    assert '<a class="slack-link" href="https://x.io"' in html
    assert "hello &lt;b&gt;there&lt;/b&gt;" in html


def test_the_template_draws_an_outcome_and_continued_messages() -> None:
    long = REPLY.model_copy(update={"text": "\n\n".join(["word " * 500] * 30)})
    html = _page(
        [(APPROVAL.model_copy(update={"context": None}), "*Approved by Alice*"), (long, "")]
    )
    assert '<div class="slack-outcome"><strong>Approved by Alice</strong></div>' in html
    assert html.count("slack-continued") == len(render(long)["continued"])
