"""Execution state: a pure fold over a thread's events, with the status as an explicit state machine."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import InvalidTransition
from core.events import (
    AnswerRefused,
    ApprovalDecided,
    BudgetWarned,
    ContextCompacted,
    ErrorCompacted,
    Event,
    HumanRequested,
    HumanResponded,
    MessageEdited,
    MessageReceived,
    ModelCalled,
    ModelFailed,
    ReplySent,
    RequestEscalated,
    RequestTimedOut,
    ThreadCancelled,
    ThreadFinished,
    ThreadPaused,
    ThreadResumed,
    ToolCalled,
    ToolFailed,
    ToolSucceeded,
)


class Status(StrEnum):
    INTAKE = "intake"
    RUNNING = "running"
    WAITING_HUMAN = "waiting_human"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})

# Which status may follow which. Staying in the same status is always allowed where the event is.
# done/failed -> intake: a finished conversation that receives a new message runs again.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INTAKE: frozenset(
        {Status.RUNNING, Status.WAITING_HUMAN, Status.PAUSED, Status.CANCELLED}
    ),
    Status.RUNNING: frozenset(
        {Status.WAITING_HUMAN, Status.DONE, Status.FAILED, Status.PAUSED, Status.CANCELLED}
    ),
    Status.WAITING_HUMAN: frozenset(
        {Status.RUNNING, Status.FAILED, Status.PAUSED, Status.CANCELLED}
    ),
    Status.PAUSED: frozenset(
        {Status.INTAKE, Status.RUNNING, Status.WAITING_HUMAN, Status.CANCELLED}
    ),
    Status.DONE: frozenset({Status.INTAKE}),
    Status.FAILED: frozenset({Status.INTAKE}),
    Status.CANCELLED: frozenset(),
}


class ExecutionState(BaseModel):
    """Derived, never authored: `fold(events)` rebuilds it; the store keeps a copy per thread."""

    model_config = ConfigDict(frozen=True)

    status: Status = Status.INTAKE
    steps: int = 0  # model calls since the last message from a person
    total_steps: int = 0
    consecutive_errors: int = 0
    last_error: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    open_requests: dict[str, HumanRequested] = {}
    escalated: dict[str, int] = {}  # request id → escalation steps taken (1 re-sent, 2 widened)
    approved: dict[str, HumanRequested] = {}  # approved, not yet run
    approvals: dict[str, tuple[str, ...]] = {}  # an open request's approvers so far (a quorum)
    # Actions not approved (rejected, timed out), by arguments hash, with why: not asked again
    # until a person writes in the thread.
    denied: dict[str, str] = {}
    pending_call: ToolCalled | None = None  # intent recorded, no result yet
    budget_grants: int = 1  # how many times the budget was granted (a human can extend it)
    budget_refused: bool = False
    warned: frozenset[str] = frozenset()
    paused_from: Status | None = None
    compacted_through: int = -1
    outcome_message: str = ""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def waiting_for(self) -> tuple[str, ...]:
        return tuple(self.open_requests)


def replace(state: ExecutionState, **changes: Any) -> ExecutionState:
    return state.model_copy(update=changes)


def _move(state: ExecutionState, target: Status, event: Event) -> Status:
    current = state.status
    if target != current and target not in TRANSITIONS[current]:
        raise InvalidTransition(event.type, current, target)
    return target


def _working(state: ExecutionState, event: Event) -> Status:
    """Status for an event that only a working thread produces."""
    if state.status not in (Status.INTAKE, Status.RUNNING):
        raise InvalidTransition(event.type, state.status, Status.RUNNING)
    return Status.RUNNING


def apply(state: ExecutionState, event: Event) -> ExecutionState:
    s = state
    match event:
        case MessageReceived():
            if s.status is Status.CANCELLED:
                raise InvalidTransition(event.type, s.status, Status.INTAKE)
            target: Status = Status.INTAKE if s.status in (Status.DONE, Status.FAILED) else s.status
            return replace(s, status=_move(s, target, event), steps=0, denied={})
        case MessageEdited():
            if s.status is Status.CANCELLED:
                raise InvalidTransition(event.type, s.status, s.status)
            return s
        case ModelCalled(purpose="summary"):
            return replace(
                s,
                status=_working(s, event),
                prompt_tokens=s.prompt_tokens + event.prompt_tokens,
                completion_tokens=s.completion_tokens + event.completion_tokens,
                cost=s.cost + event.cost,
            )
        case ModelCalled():
            return replace(
                s,
                status=_working(s, event),
                steps=s.steps + 1,
                total_steps=s.total_steps + 1,
                prompt_tokens=s.prompt_tokens + event.prompt_tokens,
                completion_tokens=s.completion_tokens + event.completion_tokens,
                cost=s.cost + event.cost,
            )
        case ModelFailed():
            return _erred(replace(s, status=_working(s, event)), event.error)
        case ToolCalled():
            approved = {k: r for k, r in s.approved.items() if r.call_id != event.call_id}
            return replace(s, status=_working(s, event), pending_call=event, approved=approved)
        case ToolSucceeded():
            return replace(s, status=_working(s, event), pending_call=None)
        case ToolFailed():
            return _erred(replace(s, status=_working(s, event), pending_call=None), event.error)
        case ErrorCompacted():
            return replace(s, status=_working(s, event), consecutive_errors=0, last_error="")
        case BudgetWarned():
            return replace(s, status=_working(s, event), warned=s.warned | {event.resource})
        case ReplySent():
            return replace(s, status=_working(s, event))
        case ContextCompacted():
            return replace(s, status=_working(s, event), compacted_through=event.through_seq)
        case HumanRequested():
            open_requests = {**s.open_requests, event.request_id: event}
            target = s.status if s.status is Status.PAUSED else Status.WAITING_HUMAN
            return replace(s, status=_move(s, target, event), open_requests=open_requests)
        case HumanResponded() | ApprovalDecided() | RequestTimedOut():
            return _answered(s, event)
        case AnswerRefused():
            return s  # the request stays as it was, open or settled since
        case RequestEscalated():
            request = s.open_requests.get(event.request_id)
            level = 1 if event.step == "resend" else 2
            # Settled, or this step already taken (by another process's timer): nothing to do.
            if request is None or s.escalated.get(event.request_id, 0) >= level:
                raise InvalidTransition(event.type, s.status, s.status)
            widened = request.model_copy(update={"recipients": (*request.recipients, *event.added)})
            return replace(
                s,
                open_requests={**s.open_requests, event.request_id: widened},
                escalated={**s.escalated, event.request_id: level},
            )
        case ThreadPaused():
            if s.status is Status.PAUSED:  # pausing twice would forget where to resume
                raise InvalidTransition(event.type, s.status, Status.PAUSED)
            return replace(s, status=_move(s, Status.PAUSED, event), paused_from=s.status)
        case ThreadResumed():
            if s.status is not Status.PAUSED:
                raise InvalidTransition(event.type, s.status, Status.RUNNING)
            target = s.paused_from or Status.RUNNING
            if target is Status.WAITING_HUMAN and not s.open_requests:
                target = Status.RUNNING
            return replace(s, status=_move(s, target, event), paused_from=None)
        case ThreadCancelled():
            if s.status is Status.CANCELLED:
                raise InvalidTransition(event.type, s.status, Status.CANCELLED)
            return replace(
                s,
                status=_move(s, Status.CANCELLED, event),
                open_requests={},
                escalated={},
                approvals={},
            )
        case ThreadFinished():
            finished = Status.DONE if event.outcome == "success" else Status.FAILED
            return replace(
                s,
                status=_move(s, finished, event),
                open_requests={},
                escalated={},
                approved={},
                approvals={},
                outcome_message=event.message,
            )
    raise TypeError(f"unknown event {event!r}")  # pragma: no cover - the union is closed


def _erred(state: ExecutionState, error: str) -> ExecutionState:
    return replace(state, consecutive_errors=state.consecutive_errors + 1, last_error=error)


def _answered(
    state: ExecutionState, event: HumanResponded | ApprovalDecided | RequestTimedOut
) -> ExecutionState:
    request = state.open_requests.get(event.request_id)
    if request is None:
        raise InvalidTransition(event.type, state.status, Status.RUNNING)
    if isinstance(event, ApprovalDecided):
        if event.arguments_hash != request.arguments_hash:
            raise ValueError(
                f"approval of {event.request_id} is for other arguments than requested"
            )
        given = state.approvals.get(event.request_id, ())
        if event.decided_by in given:
            raise ValueError(f"{event.decided_by} approved {event.request_id} already")
        if event.approved and len(given) + 1 < request.required:  # one more, not the last
            return replace(
                state, approvals={**state.approvals, event.request_id: (*given, event.decided_by)}
            )
    open_requests = {k: r for k, r in state.open_requests.items() if k != event.request_id}
    escalated = {k: n for k, n in state.escalated.items() if k != event.request_id}
    approvals = {k: a for k, a in state.approvals.items() if k != event.request_id}
    approved, denied = state.approved, state.denied
    if isinstance(event, ApprovalDecided) and event.approved:
        approved = {**approved, event.request_id: request}
    elif request.kind == "approval" and request.arguments_hash:
        why = (
            f"rejected by {event.decided_by}" + (f": {event.reason}" if event.reason else "")
            if isinstance(event, ApprovalDecided)
            else "no decision before the deadline (timed out: denied)"
        )
        denied = {**denied, request.arguments_hash: why}
    grants, refused = state.budget_grants, state.budget_refused
    if request.purpose == "budget" and not isinstance(event, ApprovalDecided):
        extend = isinstance(event, HumanResponded) and event.answer.strip().lower() == "continue"
        grants, refused = grants + extend, not extend
    s = replace(
        state,
        open_requests=open_requests,
        escalated=escalated,
        approved=approved,
        approvals=approvals,
        denied=denied,
        budget_grants=grants,
        budget_refused=refused,
        # A person's answer to an escalation or a recovery question is a fresh start.
        consecutive_errors=0
        if request.purpose in ("escalation", "recovery")
        else state.consecutive_errors,
        pending_call=None if request.purpose == "recovery" else state.pending_call,
    )
    settled = Status.WAITING_HUMAN if open_requests else Status.RUNNING
    if s.status is Status.PAUSED:
        return replace(s, paused_from=settled)
    return replace(s, status=_move(s, settled, event))


def fold(events: Iterable[Event], state: ExecutionState | None = None) -> ExecutionState:
    s = state or ExecutionState()
    for event in events:
        s = apply(s, event)
    return s
