"""Who a caller may ask: the people within its key's scope, without their addresses (for a model
choosing a recipient through the MCP server, or a caller's own form)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core.callers import may_ask
from core.web.deps import ServiceDep

router = APIRouter(prefix="/recipients", tags=["human requests"])


class Recipient(BaseModel):
    id: str = Field(description="What `to` names them by.", examples=["alice"])
    name: str
    roles: list[str] = Field(description="Each may be asked as `role:NAME`.")
    channels: list[str] = Field(description="Where they are asked, best first.")


@router.get("", response_model=list[Recipient], summary="The people this key may ask")
async def recipients(request: Request, service: ServiceDep) -> list[Recipient]:
    caller = request.state.caller
    people = await service.app.store.people()
    return [
        Recipient(id=p.id, name=p.name, roles=p.roles, channels=p.preferred())
        for p in people
        if caller is None or may_ask(caller, p.id, people)
    ]
