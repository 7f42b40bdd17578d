"""Liveness, readiness and metrics: for load balancers and monitoring, without the token."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
