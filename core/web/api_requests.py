"""Human requests: list them, show one with its deliveries, answer or decide one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.humans import Answer, Approve, NotAllowed, Reject, Response, respond
from core.inbox import outcome_text
from core.service import Service
from core.state import InvalidTransition
from core.store import AlreadyDecided, Conflict, RequestInfo, RequestStatus
from core.web.deps import ServiceDep
from core.web.problems import ProblemError, problem_responses
from core.web.schemas import RequestDetail, request_detail

router = APIRouter(prefix="/requests", tags=["human requests"])


class Respond(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_: str = Field(alias="as", description="The person (id) answering.", examples=["alice"])
    decision: Literal["approve", "reject", "answer"] = Field(
        description="approve or reject an approval; answer a question."
    )
    reason: str = Field("", description="Why, for an approval or a rejection.")
    answer: str | None = Field(None, description="The answer to a question (or a chosen option).")

    @model_validator(mode="after")
    def _answer_given(self) -> Respond:
        if self.decision == "answer" and not (self.answer or "").strip():
            raise ValueError("decision 'answer' needs a non-empty `answer`")
        if self.decision != "answer" and self.answer is not None:
            raise ValueError(f"decision {self.decision!r} takes a `reason`, not an `answer`")
        return self

    def response(self) -> Response:
        match self.decision:
            case "approve":
                return Approve(self.reason)
            case "reject":
                return Reject(self.reason)
        return Answer(self.answer or "")


@router.get("", response_model=list[RequestInfo], summary="List human requests, oldest first")
async def list_requests(
    service: ServiceDep,
    status: RequestStatus | Literal["all"] = "open",
    thread_id: str | None = None,
) -> list[RequestInfo]:
    return await service.app.store.requests(
        status=None if status == "all" else status, thread_id=thread_id
    )


@router.get(
    "/{request_id}",
    response_model=RequestDetail,
    responses=problem_responses(404),
    summary="A human request and every copy of it that was sent",
)
async def show_request(request_id: str, service: ServiceDep) -> RequestDetail:
    return await request_detail(service.app.store, await _request_or_404(service, request_id))


@router.post(
    "/{request_id}/respond",
    response_model=RequestInfo,
    responses=problem_responses(403, 404, 409, 422),
    summary="Answer a question or decide an approval, as a person allowed to",
)
async def respond_to(request_id: str, body: Respond, service: ServiceDep) -> RequestInfo:
    request = await _request_or_404(service, request_id)
    if request.status != "open":
        raise already_decided(request)
    wanted = {"approval": ("approve", "reject"), "question": ("answer",)}[request.kind]
    if body.decision not in wanted:
        asks = "an approval" if request.kind == "approval" else "an answer"
        raise ProblemError(
            422,
            f"request {request_id} asks for {asks}: decide {' or '.join(wanted)}",
            kind="wrong-decision",
        )
    try:
        settled = await respond(service.app.store, request_id, body.as_, body.response(), via="api")
    except KeyError:
        raise ProblemError(
            404, f"there is no request {request_id}", kind="no-such-request"
        ) from None
    except NotAllowed as e:
        raise ProblemError(403, str(e), kind="not-allowed") from None
    except AlreadyDecided as e:
        raise already_decided(e.request) from None
    except InvalidTransition as e:
        raise ProblemError(409, f"request {request_id}: {e}", kind="invalid-transition") from None
    except Conflict:
        raise ProblemError(
            409, f"thread {request.thread_id} is busy: try again", kind="busy"
        ) from None
    service.changed(settled.thread_id)
    return settled


def already_decided(request: RequestInfo) -> ProblemError:
    return ProblemError(
        409,
        f"request {request.id} was already settled: {outcome_text(request)}",
        kind="already-decided",
        request_status=request.status,
        decided_by=request.decided_by,
        decided_via=request.decided_via,
        decided_at=request.decided_at.isoformat() if request.decided_at else None,
    )


async def _request_or_404(service: Service, request_id: str) -> RequestInfo:
    request = await service.app.store.request(request_id)
    if request is None:
        raise ProblemError(404, f"there is no request {request_id}", kind="no-such-request")
    return request
