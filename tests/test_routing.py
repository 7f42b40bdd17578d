"""Where a message goes: pure functions of the directory, the open channels and the thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.records import OutboxItem, OutboxMessage, RequestInfo, ThreadInfo
from core.routing import expand, outcome_route, reply_route, request_route
from tests.fixtures import PEOPLE

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
ALL = ("slack", "discord", "sms", "email")


def item(**fields: Any) -> OutboxItem:
    values: dict[str, Any] = dict(
        id=1,
        thread_id="th-1",
        recipient=None,
        channel=None,
        kind="request",
        text="Approve deploy?",
        request_id="req-1",
        status="sending",
        attempts=0,
        idempotency_key="th-1:3:0",
        created_at=NOW,
        rank=0,
        address=None,
        conversation=None,
        parent_id=None,
        payload=None,
        message_id=None,
        next_attempt_at=0.0,
        last_error=None,
        sent_at=None,
    )
    return OutboxItem(**{**values, **fields})


def request(**fields: Any) -> RequestInfo:
    values: dict[str, Any] = dict(
        id="req-1",
        thread_id="th-1",
        kind="approval",
        purpose="approval",
        status="open",
        question="Approve deploy?",
        recipients=["role:deploy-approver"],
        options=[],
        tool="deploy",
        arguments={},
        arguments_hash="h",
        created_at=NOW,
        deadline=None,
        decided_by=None,
        decided_via=None,
        decided_at=None,
        answer=None,
    )
    return RequestInfo(**{**values, **fields})


def thread(**fields: Any) -> ThreadInfo:
    values: dict[str, Any] = dict(
        id="th-1",
        agent="deploy",
        status="waiting_human",
        requester="bob",
        channel="cli",
        conversation=None,
        parent_id=None,
        created_at=NOW,
        updated_at=NOW,
        steps=1,
        tokens=0,
        cost=0.0,
    )
    return ThreadInfo(**{**values, **fields})


def routes(deliveries: list[OutboxMessage]) -> list[tuple[str | None, str | None, str | None]]:
    return [(d.recipient, d.channel, d.address) for d in deliveries]


def person(person_id: str) -> Any:
    return next(p for p in PEOPLE if p.id == person_id)


# --- expand ------------------------------------------------------------------------------------


def test_a_role_means_everyone_who_has_it_and_an_id_one_person() -> None:
    assert [p.id for p in expand("role:deploy-approver", PEOPLE)] == ["alice", "erin"]
    assert [p.id for p in expand("bob", PEOPLE)] == ["bob"]
    assert expand("role:nobody", PEOPLE) == []
    assert expand("mallory", PEOPLE) == []


def test_the_preferred_channels_come_first_then_the_other_identities() -> None:
    assert person("alice").preferred() == ["discord", "slack", "email"]
    assert person("bob").preferred() == ["slack", "sms"]
    assert person("carol").preferred() == []


# --- requests ----------------------------------------------------------------------------------


def test_a_request_goes_to_each_person_on_their_first_open_channel() -> None:
    deliveries, why = request_route(
        item(recipient="role:deploy-approver"), request(), thread(), PEOPLE, ALL
    )
    assert routes(deliveries) == [("alice", "discord", "1001"), ("erin", "discord", "1005")]
    assert all(d.kind == "request" and d.request_id == "req-1" for d in deliveries)
    assert why == ""


def test_a_resend_takes_each_persons_next_channel() -> None:
    deliveries, _ = request_route(
        item(recipient="role:deploy-approver", rank=1), request(), thread(), PEOPLE, ALL
    )
    assert routes(deliveries) == [("alice", "slack", "U0ALICE"), ("erin", "sms", "+15550100005")]
    assert {d.rank for d in deliveries} == {1}


def test_channels_that_are_not_open_here_are_skipped() -> None:
    deliveries, _ = request_route(
        item(recipient="role:deploy-approver"), request(), thread(), PEOPLE, ("slack", "sms")
    )
    assert routes(deliveries) == [("alice", "slack", "U0ALICE"), ("erin", "sms", "+15550100005")]


def test_someone_with_no_further_channel_is_left_to_the_console_inbox() -> None:
    deliveries, why = request_route(
        item(recipient="role:deploy-approver", rank=2), request(), thread(), PEOPLE, ALL
    )
    assert routes(deliveries) == [("alice", "email", "alice@example.com")]
    assert why.startswith("no further channel for erin") and "console inbox" in why

    nowhere, why = request_route(item(recipient="carol"), request(), thread(), PEOPLE, ALL)
    assert nowhere == [] and why.startswith("no open channel for carol") and "console inbox" in why


def test_a_request_for_no_one_in_the_directory_goes_nowhere_and_says_so() -> None:
    deliveries, why = request_route(item(recipient="mallory"), request(), thread(), PEOPLE, ALL)
    assert (deliveries, why) == ([], "no one in the directory is mallory")


def test_the_requester_is_asked_in_their_own_conversation_first() -> None:
    here = thread(requester="alice", channel="slack", conversation="C1:1700000000.000100")
    [asked], _ = request_route(item(recipient="alice"), request(), here, PEOPLE, ALL)
    assert (asked.channel, asked.address, asked.conversation) == (
        "slack",
        "U0ALICE",
        "C1:1700000000.000100",
    )
    # a re-send goes to the next preferred channel as for anyone else
    [again], _ = request_route(item(recipient="alice", rank=1), request(), here, PEOPLE, ALL)
    assert (again.channel, again.conversation) == ("slack", None)
    # and someone else's conversation is not where another person is asked
    [erin], _ = request_route(item(recipient="erin"), request(), here, PEOPLE, ALL)
    assert (erin.channel, erin.conversation) == ("discord", None)


# --- replies -----------------------------------------------------------------------------------


def test_a_reply_goes_back_into_the_conversation_the_thread_started_in() -> None:
    slack_thread = thread(channel="slack", conversation="C1:1")
    [reply], why = reply_route(
        item(kind="reply", text="Deployed.", recipient="bob"),
        slack_thread,
        person("bob"),
        "U0SOMEONE",
        ALL,
    )
    assert (reply.recipient, reply.channel, reply.address, reply.conversation) == (
        "bob",
        "slack",
        "U0BOB",
        "C1:1",
    )
    assert (reply.kind, reply.text, why) == ("reply", "Deployed.", "")


def test_a_reply_to_an_unknown_sender_goes_to_whoever_wrote_in_their_conversation() -> None:
    [reply], _ = reply_route(
        item(kind="notice", text="Who are you?"),
        thread(channel="sms", conversation="dm:+15559999999", requester=None),
        None,
        "+15559999999",
        ALL,
    )
    assert (reply.recipient, reply.channel, reply.address, reply.conversation) == (
        None,
        "sms",
        "+15559999999",
        "dm:+15559999999",
    )


def test_a_reply_on_a_thread_from_the_cli_or_a_closed_channel_stays_in_the_timeline() -> None:
    for where in (thread(channel="cli"), thread(channel="teams", conversation="T1")):
        deliveries, why = reply_route(item(kind="reply"), where, person("bob"), "", ALL)
        assert deliveries == []
        assert why == f"the thread started on {where.channel}: the reply is in its timeline"


# --- outcomes ----------------------------------------------------------------------------------


def test_an_outcome_updates_every_copy_that_was_sent_and_only_those() -> None:
    copies = [
        item(id=2, recipient="alice", channel="discord", status="sent", message_id="d-1"),
        item(id=3, recipient="erin", channel="discord", status="sent", message_id="d-2"),
        item(id=4, recipient="erin", channel="sms", status="dead", last_error="blocked"),
        item(id=5, recipient="alice", channel="slack", status="pending"),
        item(id=6, recipient="role:deploy-approver", channel=None, status="routed"),
        item(id=7, kind="notice", recipient="bob", channel="slack", status="sent", message_id="s"),
    ]
    outcome = item(kind="outcome", request_id="req-1")
    deliveries = outcome_route(outcome, copies, "Approved by Alice via discord, 09:12 UTC")
    assert [(d.recipient, d.channel, d.edit_of) for d in deliveries] == [
        ("alice", "discord", "d-1"),
        ("erin", "discord", "d-2"),
    ]
    assert {d.text for d in deliveries} == {"Approved by Alice via discord, 09:12 UTC"}
    assert {d.kind for d in deliveries} == {"outcome"}
