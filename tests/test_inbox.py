"""The inbox's routing decision, a pure function: who may answer what, and where a message goes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.agent import Agent
from core.channels import Action, InboundMessage
from core.events import (
    AnswerRefused,
    ApprovalDecided,
    HumanResponded,
    MessageEdited,
    MessageReceived,
)
from core.inbox import InboxConfig, reply_code, route
from core.records import GivenApproval, Person, RequestInfo, ThreadInfo
from core.situation import Append, Edited, Ignore, Refuse, Situation, Start
from tests.fixtures import PEOPLE

ALICE, BOB, ERIN = (next(p for p in PEOPLE if p.id == i) for i in ("alice", "bob", "erin"))
NOW = datetime(2026, 11, 22, 14, 2, tzinfo=UTC)


@pytest.fixture
def config(shipped_agents: dict[str, Agent]) -> InboxConfig:
    return InboxConfig(shipped_agents, {"slack": "deploy", "sms": "support"})


def message(
    text: str = "", *, channel: str = "slack", sender: str = "U0BOB", **extra: Any
) -> InboundMessage:
    return InboundMessage(
        channel=channel, external_id="m1", sender=sender, conversation="C1:1", text=text, **extra
    )


def request(rid: str = "req-0000000001", kind: str = "approval", **extra: Any) -> RequestInfo:
    values: dict[str, Any] = dict(
        id=rid,
        thread_id="th-1",
        kind=kind,
        purpose=kind,
        status="open",
        question="Approve deploy?",
        recipients=["role:deploy-approver"],
        options=[],
        tool="deploy" if kind == "approval" else None,
        arguments={"service": "api"} if kind == "approval" else None,
        arguments_hash="h1" if kind == "approval" else None,
        created_at=NOW,
        deadline=None,
        decided_by=None,
        decided_via=None,
        decided_at=None,
        answer=None,
    )
    return RequestInfo.model_validate({**values, **extra})


def thread(status: str = "done", agent: str = "deploy") -> ThreadInfo:
    return ThreadInfo(
        id="th-9",
        agent=agent,
        status=status,
        requester="bob",
        channel="slack",
        conversation="C1:1",
        parent_id=None,
        created_at=NOW,
        updated_at=NOW,
        steps=1,
        tokens=1,
        cost=0.0,
    )


def situation(
    msg: InboundMessage,
    person: Person | None,
    *requests: RequestInfo,
    on: ThreadInfo | None = None,
    deciders: dict[str, Person] | None = None,
) -> Situation:
    return Situation(msg, person, on, list(requests), deciders or {})


def test_a_first_message_starts_a_thread_with_the_channels_agent(config: InboxConfig) -> None:
    routed = route(config, situation(message("deploy api 2.4.1"), BOB))
    assert isinstance(routed, Start)
    assert (routed.agent, routed.requester, routed.event.sender) == ("deploy", "bob", "bob")


def test_a_finished_conversation_runs_again_and_a_cancelled_one_starts_afresh(
    config: InboxConfig,
) -> None:
    again = route(config, situation(message("and web 1.8.0?"), BOB, on=thread("done")))
    assert isinstance(again, Append) and again.thread_id == "th-9"
    assert isinstance(again.events[0], MessageReceived)
    fresh = route(config, situation(message("deploy again"), BOB, on=thread("cancelled")))
    assert isinstance(fresh, Start)


def test_unknown_senders_talk_only_to_public_agents_and_never_answer(config: InboxConfig) -> None:
    private = route(config, situation(message("deploy", sender="U0X"), None))
    assert isinstance(private, Refuse) and "people directory" in private.detail
    assert private.notice is not None and private.notice.conversation == "C1:1"
    public = route(
        config, situation(message("refund order 10002", channel="sms", sender="+15550109999"), None)
    )
    assert isinstance(public, Start) and public.requester is None
    assert public.event.sender == "sms:+15550109999"
    click = message(sender="U0X", action=Action(request_id="req-0000000001", decision="approve"))
    answer = route(config, situation(click, None, request()))
    assert isinstance(answer, Append) and answer.outcome == "refused"
    assert "Only people in the directory" in answer.detail
    [refused] = answer.events  # kept in the request's thread, who and where
    assert isinstance(refused, AnswerRefused) and (refused.by, refused.via) == (
        "slack:U0X",
        "slack",
    )
    [notice] = answer.outbox
    assert notice.kind == "notice" and notice.address == "U0X"
    settled = request(status="approved", decided_by="alice", decided_via="discord")
    late = route(config, situation(click, None, settled))
    assert isinstance(late, Refuse) and "Approved" not in late.detail  # told nothing about it


def test_a_button_decides_the_request_it_names(config: InboxConfig) -> None:
    click = message(
        channel="discord",
        sender="1001",
        action=Action(request_id="req-0000000001", decision="approve"),
    )
    routed = route(config, situation(click, ALICE, request()))
    assert isinstance(routed, Append) and routed.outcome == "answered"
    decision = routed.events[0]
    assert isinstance(decision, ApprovalDecided)
    assert (decision.approved, decision.decided_by, decision.via, decision.arguments_hash) == (
        True,
        "alice",
        "discord",
        "h1",
    )
    assert [m.kind for m in routed.outbox] == ["outcome"]


@pytest.mark.parametrize(
    ("text", "approved", "reason"),
    [
        ("yes", True, ""),
        ("Y", True, ""),
        ("yes!", True, ""),
        ("OK", True, ""),
        ("Approve.", True, ""),
        ("lgtm, ship it", True, "ship it"),
        ("no, not on a Friday", False, "not on a Friday"),
        ("n", False, "rejected"),
        ("NO", False, "rejected"),
        ("deny: too risky", False, "too risky"),
    ],
)
def test_a_reply_in_the_conversation_decides_the_one_open_request(
    config: InboxConfig, text: str, approved: bool, reason: str
) -> None:
    routed = route(config, situation(message(text, sender="U0ALICE"), ALICE, request()))
    assert isinstance(routed, Append)
    decision = routed.events[0]
    assert isinstance(decision, ApprovalDecided)
    assert (decision.approved, decision.reason) == (approved, reason)


def test_an_unclear_reply_to_an_approval_is_told_how_to_answer(config: InboxConfig) -> None:
    routed = route(
        config, situation(message("hmm, which build?", sender="U0ALICE"), ALICE, request())
    )
    code = reply_code("req-0000000001")
    assert isinstance(routed, Refuse) and routed.detail == (
        f"To answer req-0000000001, reply YES {code} to approve it, or NO {code} and a reason"
        " to reject it."
    )


def test_a_question_takes_the_text_as_its_answer(config: InboxConfig) -> None:
    asked = request(kind="question", recipients=["bob"], options=["staging", "production"])
    routed = route(config, situation(message("Production"), BOB, asked))
    assert isinstance(routed, Append)
    answer = routed.events[0]
    assert isinstance(answer, HumanResponded) and answer.answer == "production"


def test_only_recipients_may_answer(config: InboxConfig) -> None:
    click = message(action=Action(request_id="req-0000000001", decision="approve"))
    routed = route(config, situation(click, BOB, request()))
    assert isinstance(routed, Append) and routed.outcome == "refused"
    assert routed.thread_id == "th-1" and "may not answer" in routed.detail
    [refused] = routed.events
    assert isinstance(refused, AnswerRefused) and refused.by == "bob"
    assert refused.reason == routed.detail


def test_a_late_click_is_told_who_decided_how_and_when(config: InboxConfig) -> None:
    settled = request(status="approved", decided_by="alice", decided_via="discord", decided_at=NOW)
    click = message(
        channel="discord", sender="1005", action=Action(request_id=settled.id, decision="approve")
    )
    routed = route(config, situation(click, ERIN, settled, deciders={"alice": ALICE}))
    assert isinstance(routed, Refuse)
    assert routed.detail == "Already settled: Approved by Alice via discord, 14:02 UTC."


def test_with_several_open_a_reply_must_name_one(config: InboxConfig) -> None:
    first, second = request("req-0000000001"), request("req-0000000002")
    unclear = route(config, situation(message("yes", sender="U0ALICE"), ALICE, first, second))
    one, two = reply_code(first.id), reply_code(second.id)
    assert isinstance(unclear, Refuse) and unclear.detail == (
        f"You have 2 open requests here. {one}: Approve deploy?; {two}: Approve deploy?."
        f" Say which one, like YES {one}, or NO {one} and a reason."
    )
    named = route(
        config, situation(message("yes req-0000000002", sender="U0ALICE"), ALICE, first, second)
    )
    assert isinstance(named, Append) and named.request_id == "req-0000000002"


@pytest.mark.parametrize(
    ("reply", "decision", "why"),
    [
        ("YES {code}", "approve", ""),
        ("yes! {code}", "approve", ""),
        ("no {code} not during the freeze", "reject", "not during the freeze"),
        ("N #{code}, too risky", "reject", "too risky"),
    ],
)
def test_a_reply_names_its_request_by_code_and_the_code_is_no_part_of_the_answer(
    config: InboxConfig, reply: str, decision: str, why: str
) -> None:
    first, second = request("req-0000000001"), request("req-0000000002")
    text = reply.format(code=reply_code(second.id))
    named = route(config, situation(message(text, sender="U0ALICE"), ALICE, first, second))
    assert isinstance(named, Append) and named.request_id == second.id
    [decided] = named.events
    assert isinstance(decided, ApprovalDecided)
    assert decided.approved == (decision == "approve") and decided.reason == why


def test_a_question_is_answered_by_an_options_number_or_in_words(config: InboxConfig) -> None:
    which = request("req-0000000003", kind="question", options=["Full refund", "Store credit"])
    for reply, answer in [("2", "Store credit"), ("1.", "Full refund"), ("3", "3"), ("hm", "hm")]:
        routed = route(config, situation(message(reply, sender="U0ALICE"), ALICE, which))
        assert isinstance(routed, Append)
        [answered] = routed.events
        assert isinstance(answered, HumanResponded) and answered.answer == answer
    other = request("req-0000000004", kind="question", options=["Yes", "No"])
    code = reply_code(which.id)
    routed = route(config, situation(message(f"{code} 2", sender="U0ALICE"), ALICE, which, other))
    assert isinstance(routed, Append) and routed.request_id == which.id
    [answered] = routed.events
    assert isinstance(answered, HumanResponded) and answered.answer == "Store credit"


def test_an_overheard_reply_continues_the_agents_conversation_and_starts_none(
    config: InboxConfig,
) -> None:
    """A reply in a platform thread, not addressed to the agent: it joins the thread the agent
    talks in there, answers a request, or is left alone without a word to anyone."""
    overheard = message("looks good to me", addressed=False)
    ignored = Ignore("not addressed to the agent, in no conversation of its")
    assert route(config, situation(overheard, None)) == ignored
    assert route(config, situation(overheard, BOB, on=thread("cancelled"))) == ignored
    continued = route(config, situation(overheard, BOB, on=thread("done")))
    assert isinstance(continued, Append) and continued.outcome == "continued"
    yes = message("yes", addressed=False, sender="U0ALICE")
    answered = route(config, situation(yes, ALICE, request()))
    assert isinstance(answered, Append) and answered.outcome == "answered"


@pytest.mark.parametrize("read", [False, True])
def test_an_edit_takes_the_messages_place_until_the_agent_has_read_it(
    config: InboxConfig, read: bool
) -> None:
    first = MessageReceived(text="deploy api 2.4.1", sender="bob", channel="slack")
    edit = message("deploy api 2.4.2", edits="m0")
    found = situation(edit, BOB, on=thread("waiting_human"))
    edited = Edited("th-9", 3, first, read=read)
    routed = route(config, Situation(edit, BOB, found.thread, [], {}, edited))
    assert isinstance(routed, Append) and routed.outcome == "continued"
    [event] = routed.events
    if read:  # a message of its own
        assert isinstance(event, MessageReceived) and event.text == "deploy api 2.4.2"
    else:
        assert isinstance(event, MessageEdited) and (event.seq, event.text) == (
            3,
            "deploy api 2.4.2",
        )
        assert (routed.thread_id, event.sender) == ("th-9", "bob")


def test_a_message_the_platform_cannot_vouch_for_talks_but_decides_nothing(
    config: InboxConfig,
) -> None:
    """An email from Alice's address without its request's token: not her approval."""
    why = "it came without the request's token (reply to the request's own email)"
    unvouched = message("APPROVE", sender="U0ALICE", unvouched=why)
    routed = route(config, situation(unvouched, ALICE, request()))
    assert isinstance(routed, Append) and routed.outcome == "refused"
    assert routed.detail == f"Not taken as an answer to req-0000000001: {why}."
    assert [type(e) for e in routed.events] == [AnswerRefused]
    which = request("req-0000000003", kind="question", options=["Full refund", "Store credit"])
    numbered = message(
        sender="U0ALICE", action=Action(request_id=which.id, decision="answer", value="2")
    )
    answered = route(config, situation(numbered, ALICE, which))
    assert isinstance(answered, Append)
    [said] = answered.events
    assert isinstance(said, HumanResponded) and said.answer == "Store credit"


def test_a_reference_without_a_decision_is_decided_by_its_words(config: InboxConfig) -> None:
    """A reply to a request's own mail: the token names the request, the text decides."""
    named = Action(request_id="req-0000000001")
    no = message("no\nnot during the freeze", sender="U0ALICE", action=named)
    rejected = route(config, situation(no, ALICE, request()))
    assert isinstance(rejected, Append) and rejected.request_id == "req-0000000001"
    [decided] = rejected.events
    assert isinstance(decided, ApprovalDecided)
    assert not decided.approved and decided.reason == "not during the freeze"
    which = request("req-0000000003", kind="question", options=["Full refund", "Store credit"])
    two = message("2\nthanks!", sender="U0ALICE", action=Action(request_id=which.id))
    answered = route(config, situation(two, ALICE, which))
    assert isinstance(answered, Append)
    [said] = answered.events
    assert isinstance(said, HumanResponded) and said.answer == "Store credit"
    unclear = message("which build?", sender="U0ALICE", action=named)
    assert isinstance(route(config, situation(unclear, ALICE, request())), Refuse)


def test_the_requester_is_told_they_may_not_decide_and_talks_on_in_the_thread(
    config: InboxConfig,
) -> None:
    """Alice asked for this deploy: her press is refused (and kept in the thread); her words
    are a message in her conversation, not an answer she cannot give."""
    own = request(requester="alice")
    press = message(sender="U0ALICE", action=Action(request_id=own.id, decision="approve"))
    refused = route(config, situation(press, ALICE, own))
    assert isinstance(refused, Append) and refused.outcome == "refused"
    assert refused.detail.startswith("You asked for this, so someone else must decide")
    assert [type(e) for e in refused.events] == [AnswerRefused]
    [notice] = refused.outbox
    assert notice.address == "U0ALICE" and notice.text == refused.detail
    said = route(
        config,
        situation(
            message("yes, and soon", sender="U0ALICE"), ALICE, own, on=thread("waiting_human")
        ),
    )
    assert isinstance(said, Append) and said.outcome == "continued"
    allowed = route(config, situation(press, ALICE, request(requester="alice", self_approval=True)))
    assert isinstance(allowed, Append) and allowed.outcome == "answered"
    [decided] = allowed.events
    assert isinstance(decided, ApprovalDecided) and decided.own_request


def test_with_distinct_roles_each_approval_stands_for_another_entry(config: InboxConfig) -> None:
    both = request(
        recipients=["role:deploy-approver", "role:oncall"], required=2, distinct_roles=True
    )
    press = message(sender="U0ALICE", action=Action(request_id=both.id, decision="approve"))
    first = route(config, situation(press, ALICE, both))
    assert isinstance(first, Append)
    [given] = first.events
    assert isinstance(given, ApprovalDecided) and given.counted_as == "role:deploy-approver"
    erin_press = press.model_copy(update={"sender": "U0ERIN"})
    so_far = both.model_copy(
        update={
            "approvals": [
                GivenApproval(by="alice", via="slack", at=NOW, counted_as="role:deploy-approver")
            ]
        }
    )
    second = route(config, situation(erin_press, ERIN, so_far))  # Erin is no oncall
    assert isinstance(second, Append) and second.outcome == "refused"
    assert second.detail.startswith(f"{both.id} needs its next approval from role:oncall")
