"""The web console: Inbox, Threads, a thread's timeline, and the Sandbox of every channel."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
