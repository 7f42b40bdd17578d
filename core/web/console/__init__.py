"""The web console: Inbox, Threads, a thread's timeline, and the Sandbox of every channel.

Server-rendered pages (Jinja2 templates in core/web/templates) and htmx for what changes:
filters, inline answers, and panels that poll. The token's cookie guards every page.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from core.web.console.frame import router as frame
from core.web.console.inbox import router as inbox
from core.web.console.render import WEB
from core.web.console.sandbox import router as sandbox
from core.web.console.signin import router as signin
from core.web.console.threads import router as threads

router = APIRouter(include_in_schema=False)
for part in (signin, frame, inbox, threads, sandbox):
    router.include_router(part)


def mount_static(app: FastAPI) -> None:
    """Serve htmx and the stylesheet at /static (no token: they are public files)."""
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
