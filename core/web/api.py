"""The REST API, /api/v1: threads, human requests, people, sandbox. Bearer token on every route."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from core.web import api_people, api_requests, api_sandbox, api_threads
from core.web.auth import COOKIE, require_token
from core.web.problems import problem_responses

router = APIRouter(dependencies=[Depends(require_token)], responses=problem_responses(401))
router.include_router(api_sandbox.router)  # first: what bursts of inbound messages take
router.include_router(api_requests.router)
router.include_router(api_threads.router)
router.include_router(api_people.router)


SECURITY_SCHEMES = {
    "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "SWITCHBOARD_API_TOKEN"},
    "APIKeyCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "The console's sign-in cookie",
    },
}
