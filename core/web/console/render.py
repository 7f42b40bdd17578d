"""How console pages are made: Jinja2 templates in the console's frame, and panels that poll.

A polled panel carries a digest of what it shows; while nothing changed the server answers 204
and htmx leaves the panel alone, so an open disclosure or a half-typed answer is never swapped
away under the user.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.service import Service
from core.store import Person

WEB = Path(__file__).parents[1]  # core/web: templates/ and static/
TITLES = {"slack": "Slack", "discord": "Discord", "sms": "SMS", "email": "Email"}
T = TypeVar("T")


def ordered(channels: Mapping[str, T]) -> dict[str, T]:
    """The platforms people know first, in a fixed order; then any other channel by name."""
    known = list(TITLES)
    rank = {
        name: (0, known.index(name), name) if name in known else (1, 0, name) for name in channels
    }
    return {name: channels[name] for name in sorted(channels, key=rank.__getitem__)}


@cache
def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(WEB / "templates"),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(clock=clock, stamp=stamp, ago=ago, until=until, initials=initials)
    env.globals.update(titles=TITLES)
    return env


def render(name: str, **context: Any) -> str:
    return _templates().get_template(name).render(**context)


def html(
    name: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=status, headers=headers)


async def page(
    service: Service,
    name: str,
    section: str,
    *,
    status: int = 200,
    push: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the console's frame; `push` is the address the browser shows after a POST."""
    open_requests = len(await service.app.store.requests())
    sandboxed = [n for n, c in ordered(service.channels).items() if c.sandbox]
    return html(
        name,
        status=status,
        headers={"HX-Push-Url": push} if push else None,
        section=section,
        open_requests=open_requests,
        sandboxed=sandboxed,
        **context,
    )


@dataclass(frozen=True, slots=True)
class Live:
    """How a panel polls: its address, how often, and the digest of what it shows now."""

    url: str
    every: str = "1s"
    version: str = ""

    @property
    def src(self) -> str:
        return f"{self.url}{'&' if '?' in self.url else '?'}v={self.version}"


def live(request: Request | None, name: str, poll: Live, **context: Any) -> str | None:
    """A polled panel's HTML; None when the poller (`request`) already shows exactly this."""
    quiet = render(name, live=poll, **context)
    version = hashlib.blake2b(quiet.encode(), digest_size=8).hexdigest()
    if request is not None and request.query_params.get("v") == version:
        return None
    return render(name, live=Live(poll.url, poll.every, version), **context)


def panel(fragment: str | None) -> Response:
    return Response(status_code=204) if fragment is None else HTMLResponse(fragment)


def names(people: Iterable[Person]) -> dict[str, str]:
    return {p.id: p.name for p in people}


# --- template filters ---------------------------------------------------------------------------


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def clock(moment: datetime | None) -> str:
    return f"{utc(moment):%H:%M}" if moment else ""


def stamp(moment: datetime | None) -> str:
    return f"{utc(moment):%Y-%m-%d %H:%M:%S} UTC" if moment else ""


def _span(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def ago(moment: datetime | None) -> str:
    # Nothing finer than minutes: a polled panel that says "12 s ago" changes every second.
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - utc(moment)).total_seconds()
    return "just now" if seconds < 60 else f"{_span(seconds)} ago"


def until(moment: datetime | None) -> str:
    if moment is None:
        return "no deadline"
    seconds = (utc(moment) - datetime.now(UTC)).total_seconds()
    if abs(seconds) < 60:
        return "now"
    return f"in {_span(seconds)}" if seconds > 0 else f"overdue by {_span(-seconds)}"


def initials(name: str) -> str:
    return "".join(w[0] for w in name.split()[:2]).upper() or "?"
