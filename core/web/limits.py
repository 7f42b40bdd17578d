"""How large a request body may be, by the kind of endpoint: the REST API, the platforms'
webhooks, and the console (with anything else). A larger body is answered 413 with a problem
document before anything stores it: at once when Content-Length says so, or as soon as a streamed
(chunked) body passes the limit.

A pure ASGI middleware: it only counts the bytes that pass through `receive`, so a request within
its limit costs one comparison per chunk and nothing is buffered.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from core.web.problems import problem_response

# The rest of the body is never read, so the connection cannot carry another request.
CLOSE = {"Connection": "close"}


@dataclass(frozen=True, slots=True)
class Limit:
    bytes: int
    setting: str  # the environment variable that sets it, for the problem's detail

    def detail(self) -> str:
        return f"the body is larger than {self.bytes} bytes, the limit here ({self.setting})"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    api: Limit
    webhooks: Limit
    console: Limit
    webhook_paths: frozenset[str]

    @classmethod
    def of(cls, settings: Settings, webhook_paths: Collection[str]) -> BodyLimits:
        return cls(
            api=Limit(settings.switchboard_max_body_bytes, "SWITCHBOARD_MAX_BODY_BYTES"),
            webhooks=Limit(settings.switchboard_max_webhook_bytes, "SWITCHBOARD_MAX_WEBHOOK_BYTES"),
            console=Limit(settings.switchboard_max_form_bytes, "SWITCHBOARD_MAX_FORM_BYTES"),
            webhook_paths=frozenset(webhook_paths),
        )

    def at(self, path: str) -> Limit:
        if path.startswith("/api/"):
            return self.api
        if path in self.webhook_paths:
            return self.webhooks
        return self.console


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit. An HTTPException, so a route
    reading its body answers it as a problem too (FastAPI re-raises those instead of a 400)."""

    def __init__(self, limit: Limit) -> None:
        super().__init__(413, limit.detail(), headers=CLOSE)


class LimitBodies:
    """The middleware: 413 for a body over the limit of the endpoint it is sent to."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.at(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit.bytes:
            await _too_large(limit, scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:  # too late for a 413: the server closes the connection
                raise
            await _too_large(limit, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we see it
    return None


async def _too_large(limit: Limit, scope: Scope, receive: Receive, send: Send) -> None:
    await problem_response(413, limit.detail(), headers=CLOSE)(scope, receive, send)
