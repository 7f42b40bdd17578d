"""The console's frame: what its header shows that changes while a page is open."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from core.web.console.render import inbox_count, panel
from core.web.console.signin import Console

router = APIRouter(include_in_schema=False)


@router.get("/inbox/count")
async def inbox_count_panel(request: Request, service: Console) -> Response:
    """The header's count of open requests (it polls: 204 while it shows the number now)."""
    return panel(await inbox_count(request, service))
