"""Threads: launch, list, show, post a message, pause, resume, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from core import humans
from core.events import MessageReceived
from core.records import ThreadInfo
from core.state import Status
from core.text import Text
from core.web.deps import ServiceDep, known_person, thread_or_404
from core.web.fields import Label, Message, Name, PathId, choices
from core.web.problems import problem_responses, unprocessable
from core.web.schemas import ThreadDetail, thread_detail

router = APIRouter(prefix="/threads", tags=["threads"])


class LaunchThread(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: Name = Field(
        description="The agent to run.", examples=["deploy"], json_schema_extra=choices("agents")
    )
    message: Message = Field(
        description="The first message.", examples=["deploy api 2.4.1 to staging"]
    )
    requester: Name | None = Field(None, description="The person (id) asking.", examples=["bob"])


class PostMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Message
    sender: Name | None = Field(None, description="The person (id) who says it.")


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Label = Field("api", description="Who did it, for the timeline.")


class OperatorWithReason(Operator):
    reason: Text = Field("", description="Why, for the timeline.")


@router.post(
    "",
    status_code=201,
    response_model=ThreadInfo,
    responses=problem_responses(422),
    summary="Launch a thread",
)
async def launch(body: LaunchThread, service: ServiceDep, response: Response) -> ThreadInfo:
    if body.agent not in service.app.agents:
        raise unprocessable(
            f"there is no agent {body.agent!r}; the agents are: {', '.join(service.app.agents)}",
            kind="unknown-agent",
            at=("body", "agent"),
        )
    if body.requester is not None:
        await known_person(service, body.requester, "requester")
    thread_id = await service.app.runtime.start(
        body.agent, body.message, requester=body.requester, channel="api"
    )
    service.changed(thread_id)
    response.headers["Location"] = f"/api/v1/threads/{thread_id}"
    return await thread_or_404(service, thread_id)


@router.get("", response_model=list[ThreadInfo], summary="List threads, newest first")
async def list_threads(
    service: ServiceDep,
    status: Status | None = None,
    agent: Name | None = None,
    channel: Name | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ThreadInfo]:
    return await service.app.store.threads(
        status=status.value if status else None, agent=agent, channel=channel, limit=limit
    )


@router.get(
    "/{thread_id}",
    response_model=ThreadDetail,
    responses=problem_responses(404),
    summary="A thread: its events, its human requests and where each was delivered",
)
async def show(thread_id: PathId, service: ServiceDep) -> ThreadDetail:
    thread = await thread_or_404(service, thread_id)
    return await thread_detail(service.app.store, thread)


@router.post(
    "/{thread_id}/messages",
    status_code=202,
    response_model=ThreadInfo,
    responses=problem_responses(404, 409, 422),
    summary="Post a message to a thread",
)
async def post_message(thread_id: PathId, body: PostMessage, service: ServiceDep) -> ThreadInfo:
    await thread_or_404(service, thread_id)
    if body.sender is not None:
        await known_person(service, body.sender, "sender")
    message = MessageReceived(text=body.text, sender=body.sender, channel="api")
    await humans.append(service.app.store, thread_id, [message])
    service.changed(thread_id)
    return await thread_or_404(service, thread_id)


@router.post(
    "/{thread_id}/pause",
    response_model=ThreadInfo,
    responses=problem_responses(404, 409),
    summary="Pause a thread: no worker advances it until it is resumed",
)
async def pause(
    thread_id: PathId, service: ServiceDep, body: OperatorWithReason | None = None
) -> ThreadInfo:
    await thread_or_404(service, thread_id)
    by = body or OperatorWithReason()
    await humans.pause(service.app.store, thread_id, by.by, by.reason)
    return await thread_or_404(service, thread_id)


@router.post(
    "/{thread_id}/resume",
    response_model=ThreadInfo,
    responses=problem_responses(404, 409),
    summary="Resume a paused thread",
)
async def resume(
    thread_id: PathId, service: ServiceDep, body: Operator | None = None
) -> ThreadInfo:
    await thread_or_404(service, thread_id)
    by = body or Operator()
    await humans.resume(service.app.store, thread_id, by.by)
    service.changed(thread_id)
    return await thread_or_404(service, thread_id)


@router.post(
    "/{thread_id}/cancel",
    response_model=ThreadInfo,
    responses=problem_responses(404, 409),
    summary="Cancel a thread and its open requests",
)
async def cancel(
    thread_id: PathId, service: ServiceDep, body: OperatorWithReason | None = None
) -> ThreadInfo:
    await thread_or_404(service, thread_id)
    by = body or OperatorWithReason()
    await humans.cancel(service.app.store, thread_id, by.by, by.reason)
    service.changed(thread_id)  # the open requests' copies now say "cancelled"
    return await thread_or_404(service, thread_id)
