"""Human requests: ask one (a caller outside, core/relay.py), list them, show one with its
deliveries (waiting for its decision, if asked), answer or decide one."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi import Response as HttpResponse
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from core.callers import OPERATOR_CALLER, check_scope
from core.errors import AlreadyDecided, NotFound
from core.humans import Answer, Approve, Reject, Response, respond
from core.records import Caller, RequestInfo, RequestStatus
from core.relay import open_request
from core.service import Service
from core.text import Text
from core.web.api_asking import AskHuman, checked, once
from core.web.auth import operator_only
from core.web.deps import ServiceDep
from core.web.fields import Name, PathId, Words, findable
from core.web.problems import problem_responses, unprocessable
from core.web.schemas import RequestDetail, request_detail

router = APIRouter(prefix="/requests", tags=["human requests"])


class Decide(BaseModel):
    """Approve or reject an approval."""

    model_config = ConfigDict(extra="forbid")

    as_: Name = Field(alias="as", description="The person (id) deciding.", examples=["alice"])
    decision: Literal["approve", "reject"]
    reason: Text = Field("", description="Why, for the timeline and the agent.")

    def response(self) -> Response:
        return Approve(self.reason) if self.decision == "approve" else Reject(self.reason)


class Reply(BaseModel):
    """Answer a question: with words, or one of its options."""

    model_config = ConfigDict(extra="forbid")

    as_: Name = Field(alias="as", description="The person (id) answering.", examples=["alice"])
    decision: Literal["answer"]
    answer: Words = Field(description="The answer (or a chosen option).", examples=["yes"])
    reason: Text = Field("", description="Ignored for an answer; accepted for symmetry.")

    def response(self) -> Response:
        return Answer(self.answer)


# One of two shapes, told apart by `decision`: the document says which fields each takes.
Respond = Annotated[Decide | Reply, Field(discriminator="decision")]


OPERATOR = [Depends(operator_only)]


@router.get(
    "",
    response_model=list[RequestInfo],
    dependencies=OPERATOR,
    responses=problem_responses(403),
    summary="List human requests, oldest first",
)
async def list_requests(
    service: ServiceDep,
    status: RequestStatus | Literal["all"] = "open",
    thread_id: Name | None = None,
) -> list[RequestInfo]:
    return await service.app.store.requests(
        status=None if status == "all" else status, thread_id=thread_id
    )


@router.post(
    "",
    status_code=201,
    response_model=RequestInfo,
    responses={
        200: {"description": "A retry: the request its Idempotency-Key made"},
        **problem_responses(403, 422),
    },
    summary="Ask people a question or for an approval, as a caller outside",
)
async def ask(
    request: Request,
    body: Annotated[AskHuman, Body()],
    service: ServiceDep,
    response: HttpResponse,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes a retried create return the request the first one made.",
        ),
    ] = None,
) -> RequestInfo:
    """With a caller's key, as that caller, within its scope; with the API token, as the
    operator."""
    runtime = service.app.runtime
    now = runtime.clock()
    caller = request.state.caller
    if caller is not None:
        check_scope(caller, body.to, await service.app.store.people())
    await checked(body, service, now)
    name = caller.name if caller is not None else OPERATOR_CALLER
    request_id = None
    if idempotency_key is not None:
        request_id, made = await once(service, name, idempotency_key, body)
        if made is not None:
            response.status_code = 200
            response.headers["Location"] = f"/api/v1/requests/{made.id}"
            return made
    spec = body.ask(name, runtime.limits.escalation)
    asked = await open_request(service.app.store, spec, now, request_id)
    made = await _request_or_404(service, asked.request_id)
    service.changed(made.thread_id)  # the dispatcher sends it now
    response.headers["Location"] = f"/api/v1/requests/{made.id}"
    return made


WAIT_MAX = 60.0  # seconds a GET may wait for a decision: under common proxies' read timeouts
# A waiting GET looks again at each change this process makes or hears of (Service.settled), and
# at least this often: a decision written by another process on SQLite wakes no one here.
POLL = 0.25


@router.get(
    "/{request_id}",
    response_model=RequestDetail,
    responses=problem_responses(404),
    summary="A human request and every copy of it that was sent",
)
async def show_request(
    request_id: PathId,
    http: Request,
    service: ServiceDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=WAIT_MAX,
            description="Seconds to wait for it to be settled: returns at once when it is, or"
            " when they are up, open still.",
        ),
    ] = 0,
) -> RequestDetail:
    request = await _request_or_404(service, request_id, http.state.caller)
    until = time.monotonic() + wait
    while request.status == "open" and time.monotonic() < until:
        await service.settled.wait(min(POLL, max(0.0, until - time.monotonic())))
        request = await _request_or_404(service, request_id)
    detail = await request_detail(service.app.store, request)
    if http.state.caller is None:
        return detail
    # A caller learns where each copy went and how it fared, not the people's addresses.
    private = {"address": None, "conversation": None, "message_id": None}
    shown = [d.model_copy(update=private) for d in detail.deliveries]
    return detail.model_copy(update={"deliveries": shown})


@router.post(
    "/{request_id}/respond",
    response_model=RequestInfo,
    dependencies=OPERATOR,
    responses=problem_responses(403, 404, 409, 422),
    summary="Answer a question or decide an approval, as a person allowed to",
)
async def respond_to(
    request_id: PathId, body: Annotated[Respond, Body()], service: ServiceDep
) -> RequestInfo:
    request = await _request_or_404(service, request_id)
    if request.status != "open":
        raise AlreadyDecided(request)
    wanted = {"approval": ("approve", "reject"), "question": ("answer",)}[request.kind]
    if body.decision not in wanted:
        asks = "an approval" if request.kind == "approval" else "an answer"
        raise unprocessable(
            f"request {request_id} asks for {asks}: decide {' or '.join(wanted)}",
            kind="wrong-decision",
            at=("body", "decision"),
        )
    # A person who may not (403), a decision first (409, naming it): the error handler answers.
    # The API token is the operator's: an answer for the person `as` names is recorded so.
    settled = await respond(
        service.app.store, request_id, body.as_, body.response(), via="api", acting="operator"
    )
    service.changed(settled.thread_id)
    return settled


HEARTBEAT = 15.0  # seconds between keep-alive comments on a quiet event stream


@router.get(
    "/{request_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(404)},
    summary="The request's changes as server-sent events, until it is settled",
)
async def request_events(
    request_id: PathId, http: Request, service: ServiceDep
) -> StreamingResponse:
    """`event: request` with the request (RequestInfo) now and at each change (an approval of a
    quorum given); the last one, once it is settled, ends the stream."""
    first = await _request_or_404(service, request_id, http.state.caller)

    async def stream() -> AsyncIterator[str]:
        shown, quiet = first, time.monotonic()
        yield _event(shown)
        while shown.status == "open":
            await service.settled.wait(POLL)
            now = await _request_or_404(service, request_id)
            if now != shown:
                shown, quiet = now, time.monotonic()
                yield _event(shown)
            elif time.monotonic() - quiet > HEARTBEAT:
                quiet = time.monotonic()
                yield ": still open\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _event(request: RequestInfo) -> str:
    """One server-sent event; its id says how far the request got."""
    event_id = f"{request.status}-{len(request.approvals)}"
    return f"event: request\nid: {event_id}\ndata: {request.model_dump_json()}\n\n"


async def _request_or_404(
    service: Service, request_id: str, caller: Caller | None = None
) -> RequestInfo:
    """The request; for a caller, only one it asked (another's is not found, not forbidden:
    its key learns nothing of the rest)."""
    request = await service.app.store.request(request_id) if findable(request_id) else None
    if request is None or (caller is not None and request.caller != caller.name):
        raise NotFound("request", request_id)
    return request
