"""The REST API, /api/v1: threads, human requests, people, sandbox, callers. The operator's
bearer token opens every route; a caller's key, only asking, its own requests and whom it may
ask."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from core.web import (
    api_callers,
    api_people,
    api_recipients,
    api_requests,
    api_sandbox,
    api_threads,
)
from core.web.auth import COOKIE, operator_only, require_token
from core.web.problems import problem_responses

router = APIRouter(dependencies=[Depends(require_token)], responses=problem_responses(401))


def _operators(part: APIRouter) -> None:
    router.include_router(
        part, dependencies=[Depends(operator_only)], responses=problem_responses(403)
    )


_operators(api_sandbox.router)  # first: what bursts of inbound messages take
router.include_router(api_requests.router)  # its routes say which a caller may use
router.include_router(api_recipients.router)  # a caller's: within its scope
for part in (api_threads.router, api_people.router, api_callers.router):
    _operators(part)


SECURITY_SCHEMES = {
    "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "SWITCHBOARD_API_TOKEN"},
    "APIKeyCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "The console's sign-in cookie",
    },
}
