"""The REST API, /api/v1: threads, human requests, people, sandbox. Bearer token on every route."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Security
from fastapi.security import APIKeyCookie, HTTPBearer

from core.web import api_people, api_requests, api_sandbox, api_threads
from core.web.auth import COOKIE, require_token
from core.web.problems import problem_responses

# These only describe the two ways to send the token in the OpenAPI document; require_token checks.
_bearer = HTTPBearer(auto_error=False, description="SWITCHBOARD_API_TOKEN")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="The console's sign-in cookie")

router = APIRouter(
    dependencies=[Security(_bearer), Security(_cookie), Depends(require_token)],
    responses=problem_responses(401),
)
router.include_router(api_sandbox.router)  # first: what bursts of inbound messages take
router.include_router(api_requests.router)
router.include_router(api_threads.router)
router.include_router(api_people.router)
