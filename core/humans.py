"""People answer and decide: authorization, first decision wins, and the operator's controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.context import event_tokens
from core.errors import AlreadyDecided, Conflict, InvalidTransition, NotAllowed, NotFound
from core.events import (
    ApprovalDecided,
    Event,
    HumanResponded,
    ThreadCancelled,
    ThreadPaused,
    ThreadResumed,
)
from core.records import OutboxMessage, Person, RequestInfo, Step
from core.state import ExecutionState, fold
from core.store import Directory, Queries, Steps


class Deciding(Steps, Queries, Directory, Protocol):
    """What recording a decision needs: the request, the person, and the thread to step."""


@dataclass(frozen=True, slots=True)
class Approve:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str


@dataclass(frozen=True, slots=True)
class Answer:
    text: str


Response = Approve | Reject | Answer


def may_answer(person: Person, request: RequestInfo) -> bool:
    """Only the request's recipients, by id or by role; an unknown sender never gets here."""
    return person.id in request.recipients or any(
        f"role:{r}" in request.recipients for r in person.roles
    )


def why_not(person: Person, request: RequestInfo) -> str:
    """Why `person`, one of its recipients, may not decide the approval `request` now; "" when
    they may. The requester may not (four eyes), unless the policy allows it; nor may anyone
    approve twice."""
    if request.kind != "approval":
        return ""
    if person.id == request.requester and not request.self_approval:
        return f"You asked for this, so someone else must decide {request.id} (four eyes)."
    if any(a.by == person.id for a in request.approvals):
        more = request.waiting_for
        return f"You approved {request.id} already; it waits for {more} more approval{'s' * (more > 1)}."
    return ""


def _counted_as(person: Person, request: RequestInfo) -> str | None:
    """The recipients' entry an approval by `person` stands for, when each must be another:
    the first one they are, or have the role of, that no approval stands for yet."""
    taken = {a.counted_as for a in request.approvals}
    return next(
        (
            entry
            for entry in request.recipients
            if entry not in taken
            and (entry == person.id or entry in {f"role:{r}" for r in person.roles})
        ),
        None,
    )


def decision_for(
    request: RequestInfo, person: Person, response: Response, via: str, acting: str | None = None
) -> ApprovalDecided | HumanResponded:
    """`person`'s decision or answer, given through `via`; `acting`: who gave it for them (an
    operator), when they did not themselves."""
    match response:
        case Approve(reason) | Reject(reason) if request.kind == "approval":
            assert request.arguments_hash is not None
            if why := why_not(person, request):
                raise NotAllowed(why)
            approved = isinstance(response, Approve)
            counted_as = None
            if approved and request.distinct_roles:
                counted_as = _counted_as(person, request)
                if counted_as is None:
                    taken = {a.counted_as for a in request.approvals}
                    left = ", ".join(e for e in request.recipients if e not in taken)
                    raise NotAllowed(
                        f"{request.id} needs its next approval from {left}: yours would stand"
                        " for an entry already approved."
                    )
            return ApprovalDecided(
                request_id=request.id,
                approved=approved,
                decided_by=person.id,
                arguments_hash=request.arguments_hash,
                reason=reason,
                via=via,
                counted_as=counted_as,
                own_request=person.id == request.requester,
                acting=acting,
            )
        case Answer(text) if request.kind == "question":
            chosen = next((o for o in request.options if o.lower() == text.strip().lower()), text)
            return HumanResponded(
                request_id=request.id, responder=person.id, answer=chosen, via=via, acting=acting
            )
    wanted = "--approve or --reject" if request.kind == "approval" else "--answer"
    raise NotAllowed(f"request {request.id} is a {request.kind}: respond with {wanted}")


async def respond(
    store: Deciding,
    request_id: str,
    responder: str,
    response: Response,
    *,
    via: str = "cli",
    acting: str | None = None,
) -> RequestInfo:
    """Record a person's answer or decision on its thread. The first decision wins. `acting`:
    who gives it for them ("operator", with the API token or the terminal), recorded as such."""
    request = await store.request(request_id)
    if request is None:
        raise NotFound("request", request_id)
    if request.status != "open":
        raise AlreadyDecided(request)
    person = await store.person(responder)
    if person is None:
        raise NotAllowed(f"{responder!r} is not in the people directory")
    if not may_answer(person, request):
        allowed = ", ".join(request.recipients)
        raise NotAllowed(f"{person.id} may not answer {request.id} (allowed: {allowed})")
    decision = decision_for(request, person, response, via, acting)
    outcome = OutboxMessage.outcome_of(request.id)
    try:
        await append(store, request.thread_id, [decision], outbox=[outcome])
    except (InvalidTransition, ValueError):
        # Someone decided between our read and our write (they won), or this person's other
        # approval of it just went in.
        raced = await store.request(request_id)
        if raced is not None and raced.status != "open":
            raise AlreadyDecided(raced) from None
        if raced is not None and (why := why_not(person, raced)):
            raise NotAllowed(why) from None
        raise
    decided = await store.request(request_id)
    assert decided is not None
    return decided


def settlement(decision: ApprovalDecided | HumanResponded) -> dict[str, str | None]:
    """What a decision makes of its request: the fields the request's record takes."""
    match decision:
        case ApprovalDecided():
            status = "approved" if decision.approved else "rejected"
            return dict(
                status=status,
                decided_by=decision.decided_by,
                decided_via=decision.via,
                acted_by=decision.acting,
                answer=decision.reason,
            )
        case HumanResponded():
            return dict(
                status="answered",
                decided_by=decision.responder,
                decided_via=decision.via,
                acted_by=decision.acting,
                answer=decision.answer,
            )


async def append(
    store: Steps,
    thread_id: str,
    events: list[Event],
    *,
    outbox: list[OutboxMessage] | None = None,
    attempts: int = 5,
) -> ExecutionState:
    """Append events from outside the loop (answers, operator actions); retries a racing writer."""
    for attempt in range(attempts):
        state, last_seq = await store.state(thread_id)
        try:
            after = fold(events, state)
        except InvalidTransition as e:
            raise e.on(thread_id) from None
        step = Step(
            thread_id, last_seq, [(e, event_tokens(e)) for e in events], after, outbox=outbox or []
        )
        try:
            await store.commit(step)
            return after
        except Conflict:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def pause(store: Steps, thread_id: str, by: str, reason: str = "") -> None:
    await append(store, thread_id, [ThreadPaused(by=by, reason=reason)])


async def resume(store: Steps, thread_id: str, by: str) -> None:
    await append(store, thread_id, [ThreadResumed(by=by)])


async def cancel(store: Steps, thread_id: str, by: str, reason: str = "") -> None:
    state, _ = await store.state(thread_id)
    # Every copy of a request that was still open is updated to say it was cancelled, and the
    # requester hears it in their conversation.
    outcomes = [OutboxMessage.outcome_of(r) for r in state.open_requests]
    why = f": {reason}" if reason else ""
    told = OutboxMessage(kind="notice", text=f"This was cancelled by {by}{why}.")
    await append(
        store, thread_id, [ThreadCancelled(by=by, reason=reason)], outbox=[*outcomes, told]
    )
