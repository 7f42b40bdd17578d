"""The SMS channel's pure formatting: segments counted as carriers count them, the text each kind
of message becomes, its preview, and the template that draws it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms.preview import LOOK, preview
from channels.sms.segments import (
    LIMITS,
    cost,
    encoding,
    fit,
    fits,
    parts,
    segments,
    size,
)
from channels.sms.text import plain, render
from core.channels import OutboundMessage, RequestContext
from tests.previews import drawn

CONSOLE = "https://switchboard.example.com/"
NUMBER = "+15550100001"
DEADLINE = datetime(2025, 11, 30, 14, 0, tzinfo=UTC)

REPLY = OutboundMessage(
    kind="reply", text="Deployed.", address=NUMBER, agent="deploy", thread_id="t-42"
)
APPROVAL = OutboundMessage(
    kind="request",
    text="Deploy api 2.4.1 to production?",
    address=NUMBER,
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
    address=NUMBER,
    agent="support",
    request_id="req-2",
    request_kind="question",
    reply_code="281",
    options=("Full refund", "Store credit"),
    context=RequestContext(requester="Bob Example", agent="support"),
)
NOTICE = OutboundMessage(kind="notice", text="There is no request 999.", address=NUMBER)
OUTCOME = OutboundMessage(
    kind="outcome",
    text="Approved by Alice Example via sms, 14:02 UTC",
    address=NUMBER,
    agent="deploy",
    request_id="req-1",
    request_kind="approval",
    reply_code="417",
)
APPROVE_417 = "Reply YES 417 to approve or NO 417 and a reason to reject."


def _sms(message: OutboundMessage) -> dict[str, Any]:
    return render(message, CONSOLE)


def _body(message: OutboundMessage) -> str:
    body = _sms(message)["body"]
    assert isinstance(body, str)
    return body


# --- segments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "encoded"),
    [
        ("", 0, "GSM-7"),
        ("a", 1, "GSM-7"),
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"),  # two septets each: 160
        ("€" * 81, 2, "GSM-7"),
        ("a" * 159 + "€", 2, "GSM-7"),
        ("{[~]}|^\\ @£¥èÅΔ_ΦΣ¡¿§ÄÖÑÜäöñüà", 1, "GSM-7"),
        ("á" * 70, 1, "UCS-2"),
        ("á" * 71, 2, "UCS-2"),
        ("á" * 134, 2, "UCS-2"),
        ("á" * 135, 3, "UCS-2"),
        ("😀" * 35, 1, "UCS-2"),  # two code units each: 70
        ("😀" * 36, 2, "UCS-2"),
        ("a" * 159 + "😀", 3, "UCS-2"),  # one emoji: 161 code units, not 161 septets
        ("“quoted”", 1, "UCS-2"),
        ("tab\there", 1, "UCS-2"),
    ],
)
def test_segments_are_counted_as_carriers_count_them(text: str, count: int, encoded: str) -> None:
    assert segments(text) == count
    assert encoding(text) == encoded


def test_an_escape_pair_is_never_split_across_segments() -> None:
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, yet the € cannot end the first part
    assert size(text) == 306
    assert parts(text)[0] == "a" * 152 and parts(text)[1].startswith("€")
    assert segments(text) == 3


def test_an_emoji_at_a_segment_boundary_starts_the_next_segment() -> None:
    text = "a" * 66 + "😀" + "a" * 66  # 134 code units, yet the emoji cannot straddle a part
    assert size(text) == 134
    assert parts(text)[0] == "a" * 66 and parts(text)[1].startswith("😀")
    assert segments(text) == 3


TRICKY = st.lists(
    st.sampled_from(
        ["a", "b", " ", "\n", "€", "[", "😀", "á", "👍🏽", "🇫🇷", "e\u0301", "-", ",", "word "]
    ),
    max_size=200,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(TRICKY)
def test_parts_rejoin_and_each_fits_its_segment(text: str) -> None:
    found = parts(text)
    assert "".join(found) == text and len(found) == segments(text)
    encoded = encoding(text)
    single, each = LIMITS[encoded]
    limit = single if len(found) == 1 else each
    for part in found:
        assert sum(cost(c, encoded) for c in part) <= limit
        part.encode("utf-16-le")  # a lone surrogate would not encode


def test_fit_keeps_a_text_that_fits_and_cuts_one_that_does_not_at_a_word() -> None:
    assert fit("hello there", 1) == "hello there"
    cut = fit("word " * 100, 1)
    assert cut.endswith("word...") and segments(cut) == 1
    assert fit("word " * 100, 1, suffix=" (417)").endswith("word...")
    assert segments(fit("word " * 100, 1, suffix=" (417)") + " (417)") == 1


def test_fit_ends_a_ucs2_text_with_one_ellipsis_character() -> None:
    cut = fit("😀 " * 100, 1)
    assert cut.endswith("😀…") and segments(cut) == 1


def test_fit_never_parts_an_emoji_from_its_skin_tone_or_a_flag_in_two() -> None:
    for emoji in ("👍🏽", "🇫🇷"):
        for lead in range(60, 64):
            cut = fit("a" * lead + emoji * 20, 1)
            head = cut.removesuffix("…")
            assert (head.removeprefix("a" * lead).replace(emoji, "")) == ""


def test_fit_refuses_a_suffix_that_cannot_fit() -> None:
    with pytest.raises(ValueError):
        fit("a" * 500, 1, suffix="b" * 200)
    with pytest.raises(ValueError):
        fit("a", 0)


SUFFIXES = ["", " (417)", "\nFull reply: https://x.io/threads/t-1", " 😀", "€€"]


@settings(max_examples=400, deadline=None)
@given(TRICKY, st.integers(1, 4), st.sampled_from(SUFFIXES))
def test_fit_never_exceeds_and_keeps_a_prefix(text: str, most: int, suffix: str) -> None:
    cut = fit(text, most, suffix)
    assert fits(cut + suffix, most)
    if fits(text + suffix, most):
        assert cut == text
    else:
        head = cut.removesuffix("...").removesuffix("…")
        assert head != cut and text.startswith(head)
        (cut + suffix).encode("utf-16-le")


# --- plain text -------------------------------------------------------------------------------


def test_markdown_is_made_plain() -> None:
    text = (
        "## Deploy done\n\n**api** is at `2.4.1`, see [the notes](https://x.io/notes) and"
        " <https://x.io/log>.\n\n- checks *passed*\n- ~~rollback~~ not needed\n"
        "  1. step one\n\n```sh\nmake deploy\n```\n\n> quoted\n\n---\n\n| k | v |\n|---|---|\n| a | 1 |"
    )
    assert plain(text) == (
        "Deploy done\n"
        "api is at 2.4.1, see the notes (https://x.io/notes) and https://x.io/log.\n"
        "- checks passed\n"
        "- rollback not needed\n"
        "  1. step one\n"
        "make deploy\n"
        "quoted\n"
        "k, v\n"
        "a, 1"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi <@U123|alice> and <@456>", "hi @alice and @456"),
        ("in <#C1|general>, <!here>", "in #general, @here"),
        ("see <https://x.io|the docs>", "see the docs (https://x.io)"),
        ("at <t:1700000000:f>", "at 22:13 UTC 14 Nov"),
        ("nice <:party:123>", "nice :party:"),
        ("**unclosed bold and `tick", "unclosed bold and 'tick"),
        ("<b>bold</b> <!-- hidden -->", "bold"),
        ("  lots   of\tspace  \n\n\n next ", "lots of space\nnext"),
    ],
)
def test_no_markup_leaks(text: str, expected: str) -> None:
    assert plain(text) == expected


def test_typography_becomes_gsm7_and_real_text_stays() -> None:
    text = "It\u2019s \u201cdone\u201d \u2014 10\u201312 items\u2026\u00a0ok \u2022 a \u2192 b"
    assert plain(text) == 'It\'s "done" - 10-12 items... ok - a -> b'
    assert encoding(plain(text)) == "GSM-7"
    assert plain("Zoë says 👍") == "Zoë says 👍"


def test_one_smart_quote_does_not_halve_the_room() -> None:
    text = "Don\u2019t " + "x" * 140  # 146 characters: one segment in GSM-7, three in UCS-2
    payload = _sms(REPLY.model_copy(update={"text": text}))
    assert payload["encoding"] == "GSM-7" and payload["segments"] == 1


# --- replies, notices, outcomes ---------------------------------------------------------------


def test_a_reply_is_the_agents_plain_text() -> None:
    payload = _sms(REPLY.model_copy(update={"text": "**Done**: api is at `2.4.1`."}))
    assert payload == {
        "to": NUMBER,
        "body": "Deploy bot: Done: api is at 2.4.1.",
        "segments": 1,
        "encoding": "GSM-7",
    }


@pytest.mark.parametrize(
    ("agent", "start"),
    [("deploy", "Deploy bot: "), ("helpbot", "Helpbot: "), ("", "Deployed."), (" \n", "Deployed")],
)
def test_the_agent_is_named_once_at_the_start(agent: str, start: str) -> None:
    body = _body(REPLY.model_copy(update={"agent": agent}))
    assert body.startswith(start)
    assert body.count("bot:") <= 1


def test_a_long_reply_is_cut_to_three_segments_ending_with_its_conversations_link() -> None:
    text = "\n\n".join(["The deploy went well and every check passed. " * 8] * 6)
    payload = _sms(REPLY.model_copy(update={"text": text}))
    body = payload["body"]
    assert payload["segments"] == segments(body) == 3 and payload["encoding"] == "GSM-7"
    assert body.endswith("...\nFull reply: https://switchboard.example.com/threads/t-42")
    assert body.startswith("Deploy bot: The deploy went well")


def test_a_long_reply_in_no_known_thread_is_only_cut() -> None:
    body = _body(REPLY.model_copy(update={"text": "word " * 400, "thread_id": None}))
    assert body.endswith("word...") and segments(body) == 3


def test_a_long_emoji_reply_is_cut_in_ucs2() -> None:
    payload = _sms(REPLY.model_copy(update={"text": "Great work 🎉 " * 60}))
    assert payload["encoding"] == "UCS-2" and payload["segments"] == 3
    assert payload["body"].endswith("/threads/t-42")


def test_an_empty_reply_still_says_something() -> None:
    assert _body(REPLY.model_copy(update={"text": " ", "agent": ""})) == "(no text)"


def test_a_notice_is_plain_within_two_segments() -> None:
    assert _body(NOTICE) == "There is no request 999."
    long = _sms(NOTICE.model_copy(update={"text": "*Sorry*, " + "that failed. " * 60}))
    assert long["segments"] == 2 and long["body"].startswith("Sorry, that failed.")
    assert "*" not in long["body"]


def test_an_outcome_is_a_new_short_text_naming_the_request_by_its_code() -> None:
    assert _body(OUTCOME) == "Settled: Approved by Alice Example via sms, 14:02 UTC (417)"
    assert _sms(OUTCOME)["segments"] == 1
    long = _sms(OUTCOME.model_copy(update={"text": "Rejected by Alice: " + "no. " * 200}))
    assert long["segments"] <= 2 and long["body"].endswith("... (417)")
    assert _body(OUTCOME.model_copy(update={"reply_code": ""})).endswith("14:02 UTC")


# --- requests ---------------------------------------------------------------------------------


def test_an_approval_asks_briefly_with_exact_instructions() -> None:
    payload = _sms(APPROVAL)
    assert payload["body"] == (
        "Deploy bot: Deploy api 2.4.1 to production? (for Bob Example)\n"
        "deploy: service=api, version=2.4.1\n"
        "Decide by 14:00 UTC 30 Nov.\n"
        f"{APPROVE_417}"
    )
    assert payload["segments"] == 2 and payload["encoding"] == "GSM-7"


@pytest.mark.parametrize("length", [100, 400, 2000, 20000])
def test_an_approval_keeps_its_instructions_and_code_however_long_the_question(
    length: int,
) -> None:
    question = ("Ship **it** to every region \u2014 now? " * 600)[: length - 1] + "?"
    body = _body(APPROVAL.model_copy(update={"text": question}))
    assert segments(body) <= 3 and encoding(body) == "GSM-7"
    assert body.endswith(f"\nDecide by 14:00 UTC 30 Nov.\n{APPROVE_417}")
    assert "? (for Bob Example)\n" in body or "... (for Bob Example)\n" in body
    assert ("service=api" in body) == (length == 100)
    assert body.startswith("Deploy bot: Ship it to every region - now?")
    assert "**" not in body


def test_an_approval_shows_its_arguments_only_where_they_fit() -> None:
    # 320 characters: the text fits in three segments, but not with the arguments too
    question = ("Deploy the api service to production now? " * 8)[:319] + "?"
    body = _body(APPROVAL.model_copy(update={"text": question}))
    assert "service=api" not in body and body.endswith(APPROVE_417)
    assert question.strip() in body


def test_arguments_are_compact_and_never_a_repr() -> None:
    context = APPROVAL.context.model_copy(  # type: ignore[union-attr]
        update={
            "tool": "tag",
            "arguments": {"n": 3, "force": True, "tags": ["a", "b"], "note": "a, b", "x": ""},
        }
    )
    body = _body(APPROVAL.model_copy(update={"context": context}))
    assert 'tag: n=3, force=true, tags=["a","b"], note="a, b", x=""' in body
    assert "True" not in body and "{'" not in body and "['" not in body


def test_an_approval_without_a_code_or_context_still_says_how_to_answer() -> None:
    bare = APPROVAL.model_copy(update={"reply_code": "", "context": None, "agent": ""})
    assert _body(bare) == (
        "Deploy api 2.4.1 to production?\nReply YES to approve or NO and a reason to reject."
    )


def test_a_question_numbers_its_options() -> None:
    assert _body(QUESTION) == (
        "Support bot: Order 1234 arrived broken. What should we offer? (for Bob Example)\n"
        "1 Full refund\n"
        "2 Store credit\n"
        "Reply 281 and a number, or 281 and your answer."
    )


def test_a_question_without_options_asks_for_an_answer() -> None:
    body = _body(QUESTION.model_copy(update={"options": (), "context": None}))
    assert body == (
        "Support bot: Order 1234 arrived broken. What should we offer?\nReply 281 and your answer."
    )
    assert _body(QUESTION.model_copy(update={"options": (), "reply_code": ""})).endswith(
        "\nReply with your answer."
    )


def test_a_question_with_a_deadline_says_by_when() -> None:
    context = RequestContext(deadline=datetime(2026, 3, 4, 9, 5, tzinfo=UTC))
    body = _body(QUESTION.model_copy(update={"context": context}))
    assert "\nAnswer by 09:05 UTC 4 Mar.\nReply 281 and a number" in body


def test_many_long_options_give_way_before_the_instructions() -> None:
    options = tuple(f"Option number {i}, described at great length " * 3 for i in range(30))
    body = _body(QUESTION.model_copy(update={"options": options, "text": "Which? " * 80}))
    assert segments(body) <= 3
    assert body.endswith("\nReply 281 and a number, or 281 and your answer.")
    assert "\n1 Option number...\n" in body and "\n...and 14 more\n" in body


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=600),
    st.lists(st.text(max_size=80), max_size=8).map(tuple),
    st.sampled_from(["approval", "question"]),
)
def test_any_request_fits_three_segments_with_its_instructions(
    question: str, options: tuple[str, ...], kind: str
) -> None:
    message = APPROVAL.model_copy(
        update={"text": question, "options": options, "request_kind": kind}
    )
    body = _body(message)
    assert 0 < segments(body) <= 3
    assert body.endswith(
        APPROVE_417
        if kind == "approval"
        else "Reply 417 and a number, or 417 and your answer."
        if options
        else "Reply 417 and your answer."
    )


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


def test_an_approval_says_how_far_it_is_and_who_may_decide_where_it_fits() -> None:
    payload = _sms(QUORUM)
    assert payload["body"] == (
        "Deploy bot: Deploy api 2.4.1 to production? (for Bob Example)\n"
        "deploy: service=api, version=2.4.1\n"
        f"Who may decide: {DECIDERS}\n"
        f"{PROGRESS}\n"
        "Decide by 14:00 UTC 30 Nov.\n"
        f"{APPROVE_417}"
    )
    assert payload["segments"] == 3 and payload["encoding"] == "GSM-7"


def test_a_progress_redraw_is_a_new_text_that_still_says_how_to_answer() -> None:
    payload = _sms(QUORUM.model_copy(update={"edit_of": "SM0001"}))
    assert "settles" not in payload  # a new text, the request again: not a settlement
    assert payload["body"] == _body(QUORUM) and payload["body"].endswith(f"\n{APPROVE_417}")


def test_the_progress_stays_and_who_may_decide_gives_way_to_a_long_question() -> None:
    question = ("Deploy the api service to production now? " * 8)[:319] + "?"
    body = _body(QUORUM.model_copy(update={"text": question}))
    assert segments(body) <= 3
    assert f"\n{PROGRESS}\nDecide by 14:00 UTC 30 Nov.\n{APPROVE_417}" in body
    assert "Who may decide" not in body and "service=api" not in body
    assert body.startswith("Deploy bot: Deploy the api service")


def test_long_progress_is_shortened_before_the_question_goes() -> None:
    context = QUORUM_CONTEXT.model_copy(
        update={"progress": "1 of 3: approved by Zoë Ångström via sms and " + "Åsa " * 40}
    )
    body = _body(QUORUM.model_copy(update={"text": "Ship it? " * 40, "context": context}))
    assert segments(body) <= 3 and body.endswith(APPROVE_417)
    assert "\n1 of 3: approved by Zoë Ångström via...\n" in body  # shortened, but there
    assert body.startswith("Deploy bot: Ship it? Ship it?")


def test_a_callers_context_shows_after_the_question_where_it_fits() -> None:
    said = "CI run 1842 passed; the change log is short."
    context = APPROVAL.context.model_copy(update={"context": said})  # type: ignore[union-attr]
    body = _body(APPROVAL.model_copy(update={"context": context}))
    assert body.startswith(
        f"Deploy bot: Deploy api 2.4.1 to production? (for Bob Example)\nContext: {said}\n"
        "deploy: service=api, version=2.4.1\n"
    )
    asked = QUESTION.model_copy(
        update={"context": QUESTION.context.model_copy(update={"context": said})}  # type: ignore[union-attr]
    )
    assert f"\nContext: {said}\n1 Full refund\n2 Store credit\n" in _body(asked)
    rambling = context.model_copy(update={"context": "Because. " * 40})
    long = _body(APPROVAL.model_copy(update={"context": rambling}))
    shortened = long.split("\n")[1]
    assert shortened.startswith("Context: Because.") and shortened.endswith("...")
    assert len(shortened) <= len("Context: ") + 120


def test_the_context_is_first_to_give_way_then_who_may_decide() -> None:
    said = "CI run 1842 passed on all three platforms; the change log is short; the canary ran an hour, no errors."
    busy = QUORUM_CONTEXT.model_copy(update={"context": said})
    body = _body(QUORUM.model_copy(update={"context": busy}))  # 350 characters without it
    assert "Context:" not in body
    assert f"Who may decide: {DECIDERS}" in body and segments(body) <= 3


def test_a_question_shows_no_deciders_line_nor_progress() -> None:
    context = QUORUM_CONTEXT.model_copy(update={"question": QUESTION.text})
    body = _body(QUESTION.model_copy(update={"context": context}))
    assert "Who may decide" not in body and "1 of 2" not in body


def test_a_progress_step_to_one_who_approved_is_no_settlement() -> None:
    step = OUTCOME.model_copy(update={"text": PROGRESS, "context": QUORUM_CONTEXT})
    assert _body(step) == f"{PROGRESS} (417)"
    assert _body(OUTCOME).startswith("Settled: Approved by Alice Example")


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=600),
    st.text(max_size=300),
    st.text(max_size=300),
)
def test_any_approval_with_progress_fits_three_segments_with_its_instructions(
    question: str, deciders: str, progress: str
) -> None:
    context = QUORUM_CONTEXT.model_copy(update={"deciders": deciders, "progress": progress})
    body = _body(QUORUM.model_copy(update={"text": question, "context": context}))
    assert 0 < segments(body) <= 3 and body.endswith(APPROVE_417)


def test_render_is_deterministic_and_plain_json() -> None:
    for message in (REPLY, APPROVAL, QUESTION, NOTICE, OUTCOME):
        assert _sms(message) == _sms(message)
        assert json.loads(json.dumps(_sms(message))) == _sms(message)
        assert set(_sms(message)) == {"to", "body", "segments", "encoding"}


def test_an_outcome_names_the_text_it_settles() -> None:
    payload = _sms(OUTCOME.model_copy(update={"edit_of": "SM0001"}))
    assert payload["settles"] == "SM0001"
    assert payload["body"] == _body(OUTCOME)


# --- preview ----------------------------------------------------------------------------------


def test_the_preview_is_the_body_with_its_cost() -> None:
    shown = preview(_sms(APPROVAL))
    assert shown.text == _body(APPROVAL) and shown.to == NUMBER
    assert shown.notes == ("2 segments", "GSM-7")
    assert shown.buttons == () and shown.edits is None


def test_an_outcomes_preview_names_the_text_it_settles() -> None:
    shown = preview(_sms(OUTCOME.model_copy(update={"edit_of": "SM0001"})))
    assert shown.edits == "SM0001" and shown.text.startswith("Settled: Approved")
    assert preview({"body": "x", "settles": 5}).edits is None


def test_the_preview_counts_the_body_itself() -> None:
    shown = preview({"to": NUMBER, "body": "hi 😀", "segments": 9, "encoding": "GSM-7"})
    assert shown.notes == ("1 segment", "UCS-2")


@pytest.mark.parametrize(
    "payload", [None, [], "body", {}, {"body": 3}, {"body": None, "to": NUMBER}, {"to": 5}]
)
def test_a_payload_it_cannot_read_previews_empty(payload: Any) -> None:
    shown = preview(payload)
    assert shown.text == "" and shown.notes == () and shown.buttons == ()


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["to", "body", "segments", "encoding", "x"]),
        st.none() | st.integers() | st.text(max_size=30) | st.lists(st.text(max_size=5)),
    )
)
def test_any_payload_previews_without_an_error(payload: dict[str, Any]) -> None:
    preview(payload)


def _page(messages: list[tuple[OutboundMessage, str]]) -> str:
    return drawn(
        "sms",
        "SMS",
        _sms,
        preview,
        messages,
        conversation=f"dm:{NUMBER}",
        address=NUMBER,
        look=LOOK,
    )


def test_the_template_draws_a_conversation_by_text() -> None:
    hostile = REPLY.model_copy(update={"text": "```\n<script>alert(1)</script>\n```\n5 < 6 & 7"})
    long = REPLY.model_copy(update={"text": "word " * 100})
    html = _page([(APPROVAL, ""), (QUESTION, ""), (hostile, ""), (long, ""), (OUTCOME, "")])
    assert html.count('class="sms-bubble"') == 6  # five texts and Alice's
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "5 &lt; 6 &amp; 7" in html
    assert "hello &lt;b&gt;there&lt;/b&gt;" in html
    assert '<span class="sms-cost">2 segments · GSM-7</span>' in html
    assert '<span class="sms-cost">1 segment · GSM-7</span>' in html
    assert "Reply YES 417 to approve or NO 417 and a reason to reject." in html
    assert NUMBER in html


def test_the_template_draws_an_outcome_as_a_text_of_its_own() -> None:
    settled = "Settled: Approved by Alice Example via sms, 14:02 UTC (417)"
    html = _page([(APPROVAL, settled)])
    assert html.count('class="sms-bubble"') == 3  # the request, its outcome and Alice's
    assert f'<div class="sms-bubble">{settled}</div>' in html
    assert '<span class="sms-cost">1 segment · GSM-7</span>' in html
