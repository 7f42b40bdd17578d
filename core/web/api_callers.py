"""Callers: the keys of agents outside that ask people (core/callers.py). The operator's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from core import callers
from core.errors import NotFound
from core.records import Caller
from core.web.deps import ServiceDep
from core.web.fields import PathId
from core.web.problems import problem_responses, unprocessable

router = APIRouter(prefix="/callers", tags=["callers"])


class NewCaller(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=callers.NAME.pattern, description="Its name, in the timeline and the Inbox."
    )
    scope: list[
        Annotated[str, Field(pattern=r"^(\*|(role:)?[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")]
    ] = Field(
        min_length=1,
        max_length=50,
        description="Whom it may ask: person ids, `role:NAME`, or `*` for anyone.",
        examples=[["role:deploy-approver"]],
    )


class CallerKey(Caller):
    key: str = Field(description="Its API key: shown this once; Switchboard keeps its hash.")
    webhook_secret: str = Field(
        description="Signs the decisions sent to its callback: shown this once too."
    )


@router.post(
    "",
    status_code=201,
    response_model=CallerKey,
    responses=problem_responses(409, 422),
    summary="Make a key for an agent outside",
)
async def add_caller(
    body: Annotated[NewCaller, Body()], service: ServiceDep, response: Response
) -> CallerKey:
    try:
        made = await callers.add(
            service.app.store, body.name, body.scope, service.app.runtime.clock()
        )
    except ValueError as e:
        raise unprocessable(str(e), kind="bad-caller", at=("body", "name")) from None
    response.headers["Location"] = f"/api/v1/callers/{body.name}"
    return CallerKey(**made.caller.model_dump(), key=made.key, webhook_secret=made.caller.secret)


@router.get("", response_model=list[Caller], summary="The callers, revoked ones too")
async def list_callers(service: ServiceDep) -> list[Caller]:
    return await service.app.store.callers()


@router.delete(
    "/{name}",
    response_model=Caller,
    responses=problem_responses(404),
    summary="Revoke a caller's key, at once",
)
async def revoke_caller(name: PathId, service: ServiceDep) -> Caller:
    revoked = await service.app.store.revoke_caller(name, service.app.runtime.clock())
    if revoked is None:
        raise NotFound("caller", name)
    return revoked
