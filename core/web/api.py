"""The REST API, /api/v1: threads, human requests, people. Bearer token on every route."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from core.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)])
