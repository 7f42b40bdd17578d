"""The Inbox: open human requests, where each copy went, and answering as a person you pick."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from core.channels import Decision
from core.errors import AlreadyDecided, NotAllowed, SwitchboardError
from core.humans import Answer, Approve, Reject, may_answer, respond, why_not
from core.humans import Response as HumanResponse
from core.inbox import outcome_text
from core.records import OutboxItem, Person, RequestInfo
from core.service import Service
from core.text import Name, Text
from core.web.console.render import looks_of, names, page, render, utc
from core.web.console.signin import Console
from core.web.fields import findable
from core.web.problems import problem_of

router = APIRouter(include_in_schema=False)


@dataclass(slots=True)
class Card:
    """A request as the inbox shows it, with the result of acting on it, if any."""

    request: RequestInfo
    agent: str
    copies: list[OutboxItem]  # one per person and channel it was sent to
    may: list[Person]
    may_not: list[Person]
    outcome: str = ""  # settled: how; open: how far, when it needs several approvals
    person: str = ""  # who answered, or tried to: stays chosen after an error
    viewer: Person | None = None  # who is signed in; None: the operator
    why_not: str = ""  # for a signed-in person: why they may not answer it
    error: str = ""
    done: str = ""


async def _card(
    service: Service, request: RequestInfo, people: list[Person], viewer: Person | None = None
) -> Card:
    store = service.app.store
    thread = await store.thread(request.thread_id)
    rows = await store.outbox(request_id=request.id)
    may = [p for p in people if may_answer(p, request) and not why_not(p, request)]
    card = Card(
        request,
        thread.agent if thread else "?",
        [r for r in rows if r.kind == "request" and r.channel is not None],
        may,
        [p for p in people if p not in may],
        outcome=outcome_text(request, names(people)),
        viewer=viewer,
    )
    if viewer is not None and viewer not in may:
        card.why_not = why_not(viewer, request) or (
            f"It is for {', '.join(request.recipients)}: you are not one of them."
        )
    return card


@router.get("/")
async def inbox(request: Request, service: Console) -> Response:
    return await _inbox_page(service, request.state.person)


async def _inbox_page(
    service: Service, viewer: Person | None, acted: Card | None = None, status: int = 200
) -> Response:
    store = service.app.store
    people = await store.people()
    cards = [await _card(service, r, people, viewer) for r in await store.requests()]
    if acted is not None:  # without htmx: the whole page, with the answered card in its place
        cards = [acted if c.request.id == acted.request.id else c for c in cards]
        cards += [] if any(c is acted for c in cards) else [acted]
    settled = sorted(
        (r for r in await store.requests(status=None) if r.status != "open"),
        key=lambda r: utc(r.decided_at or r.created_at),
        reverse=True,
    )[:8]
    return await page(
        service,
        "inbox.html",
        "inbox",
        status=status,
        cards=cards,
        settled=settled,
        dead=await store.outbox(status="dead", limit=20),
        names=names(people),
        viewer=viewer,
    )


def _response(decision: Decision, reason: str, answer: str) -> HumanResponse:
    match decision:
        case "approve":
            return Approve(reason.strip())
        case "reject":
            return Reject(reason.strip() or "rejected")
    return Answer(answer.strip())


@router.post("/requests/{request_id}/respond")
async def answer_request(
    request: Request,
    service: Console,
    request_id: str,
    person: Annotated[Name, Form()] = "",  # the operator's choice; a person is themselves
    decision: Annotated[Decision, Form()] = "approve",
    reason: Annotated[Text, Form()] = "",
    answer: Annotated[Text, Form()] = "",
    choice: Annotated[Text, Form()] = "",  # an option's button
) -> Response:
    """Answer as the person signed in; or, for the operator, on behalf of the person they name
    (recorded so). Only a recipient may, and the first one wins."""
    store = service.app.store
    viewer: Person | None = request.state.person
    acting = None if viewer is not None else "operator"
    if viewer is not None:
        person = viewer.id  # a person answers as themselves, whatever the form says
    found = await store.request(request_id) if findable(request_id) else None
    if found is None:
        return HTMLResponse(f"There is no request {request_id}.", status_code=404)
    response = _response(decision, reason, choice or answer)
    status, error, settled = 200, "", found
    try:
        if isinstance(response, Answer) and not response.text:
            raise NotAllowed("Write an answer first.")
        if not person:
            raise NotAllowed("Choose the person you answer for: it is recorded as on their behalf.")
        settled = await respond(store, request_id, person, response, via="console", acting=acting)
    except SwitchboardError as e:
        problem = problem_of(e)  # as the API answers it
        status, error = problem.status, problem.detail
        if isinstance(e, AlreadyDecided):
            settled = e.request  # the card shows who was first
    else:
        service.changed(settled.thread_id)
    people = await store.people()
    card = await _card(service, settled, people, viewer)
    card.error, card.person = error, person
    if not error:
        more = settled.status == "open"  # one approval of several: the others are still asked
        card.done = (
            "Recorded: it waits for more approvals."
            if more
            else "The thread carries on: the agent has the answer."
        )
    if not request.headers.get("hx-request"):
        return await _inbox_page(service, viewer, card, status)
    looks = looks_of(service.channels)
    fragment = render("_request.html", looks=looks, card=card, names=names(people))
    return HTMLResponse(fragment, status_code=status)
