"""Execution state is a pure fold; the status is a state machine that refuses invalid moves."""

from __future__ import annotations

import pytest

from core.errors import InvalidTransition
from core.events import (
    ApprovalDecided,
    HumanRequested,
    MessageEdited,
    MessageReceived,
    ModelCalled,
    ThreadCancelled,
    ThreadFinished,
    ThreadPaused,
    ThreadResumed,
    ToolCalled,
    ToolSucceeded,
)
from core.state import Status, fold

MSG = MessageReceived(text="deploy api 2.4.1 to production", sender="bob")
CALLED = ModelCalled(model="m", prompt_tokens=100, completion_tokens=20, cost=0.01, latency_ms=5)
ASK = HumanRequested(
    request_id="r1",
    kind="approval",
    purpose="approval",
    question="ok?",
    recipients=("alice",),
    tool="deploy",
    arguments={"x": 1},
    arguments_hash="h",
    call_id="c1",
)
APPROVED = ApprovalDecided(request_id="r1", approved=True, decided_by="alice", arguments_hash="h")
TOOL = ToolCalled(call_id="c1", tool="deploy", arguments={"x": 1}, idempotency_key="t:c1")
DONE = ToolSucceeded(call_id="c1", tool="deploy", result={"ok": True})
FINISHED = ThreadFinished(outcome="success", message="done")


def test_a_thread_moves_intake_running_waiting_running_done() -> None:
    assert fold([MSG]).status is Status.INTAKE
    assert fold([MSG, CALLED]).status is Status.RUNNING
    waiting = fold([MSG, CALLED, ASK])
    assert waiting.status is Status.WAITING_HUMAN and waiting.waiting_for == ("r1",)
    approved = fold([APPROVED], waiting)
    assert approved.status is Status.RUNNING and list(approved.approved) == ["r1"]
    ran = fold([TOOL], approved)
    assert ran.pending_call == TOOL and not ran.approved
    final = fold([DONE, CALLED, FINISHED], ran)
    assert final.status is Status.DONE and final.pending_call is None
    assert (final.steps, final.tokens, round(final.cost, 2)) == (2, 240, 0.02)


def test_invalid_transitions_raise() -> None:
    done = fold([MSG, CALLED, FINISHED])
    with pytest.raises(InvalidTransition, match="tool_called cannot move a thread from done"):
        fold([TOOL], done)
    with pytest.raises(InvalidTransition):
        fold([ThreadResumed(by="op")], done)
    cancelled = fold([MSG, ThreadCancelled(by="op")])
    with pytest.raises(InvalidTransition):
        fold([MessageReceived(text="hello again")], cancelled)
    with pytest.raises(InvalidTransition):  # an answer to a request that is not open
        fold([MSG, CALLED, APPROVED])


def test_pausing_or_cancelling_twice_is_refused() -> None:
    paused = fold([MSG, ThreadPaused(by="op")])
    with pytest.raises(InvalidTransition, match="thread_paused: the thread is already paused"):
        fold([ThreadPaused(by="op")], paused)
    cancelled = fold([MSG, ThreadCancelled(by="op")])
    with pytest.raises(InvalidTransition, match="already cancelled"):
        fold([ThreadCancelled(by="op")], cancelled)


def test_pause_keeps_where_the_thread_was_and_resume_returns_there() -> None:
    paused = fold([MSG, CALLED, ASK, ThreadPaused(by="op")])
    assert paused.status is Status.PAUSED
    answered_while_paused = fold([APPROVED], paused)
    assert answered_while_paused.status is Status.PAUSED
    assert fold([ThreadResumed(by="op")], answered_while_paused).status is Status.RUNNING
    assert fold([ThreadResumed(by="op")], paused).status is Status.WAITING_HUMAN


def test_a_new_message_reopens_a_finished_conversation() -> None:
    again = fold([MSG, CALLED, FINISHED, MessageReceived(text="and web 1.8.0?")])
    assert again.status is Status.INTAKE and again.steps == 0 and again.total_steps == 1


def test_the_fold_is_the_same_in_one_go_or_event_by_event() -> None:
    events = [MSG, CALLED, ASK, APPROVED, TOOL, DONE, CALLED, FINISHED]
    state = fold([])
    for event in events:
        state = fold([event], state)
    assert state == fold(events)


def test_an_approval_binds_to_the_requested_arguments() -> None:
    waiting = fold([MSG, CALLED, ASK])
    other = ApprovalDecided(
        request_id="r1", approved=True, decided_by="alice", arguments_hash="other"
    )
    with pytest.raises(ValueError, match="for other arguments"):
        fold([other], waiting)


def test_an_edit_changes_no_state_and_a_cancelled_thread_takes_none() -> None:
    state = fold([MessageReceived(text="deploy api 2.4.1")])
    assert fold([MessageEdited(seq=1, text="deploy api 2.4.2")], state) == state
    cancelled = fold([ThreadCancelled(by="bob")], state)
    with pytest.raises(InvalidTransition):
        fold([MessageEdited(seq=1, text="x")], cancelled)
