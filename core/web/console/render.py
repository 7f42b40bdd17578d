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
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup

from core.channels import Channel
from core.previews import Look
from core.records import Person
from core.service import Service

WEB = Path(__file__).parents[1]  # core/web: templates/ and static/

# The channels' looks by name, in the order of their tabs: what a page needs to name and draw them.
Looks = tuple[tuple[str, Look], ...]


def looks_of(channels: Mapping[str, Channel]) -> Looks:
    ranked = sorted(channels.items(), key=lambda item: (item[1].codec.look.rank, item[0]))
    return tuple((name, channel.codec.look) for name, channel in ranked)


def ordered(channels: Mapping[str, Channel]) -> dict[str, Channel]:
    """The channels in the order of their tabs (`Look.rank`, then name)."""
    return {name: channels[name] for name, _ in looks_of(channels)}


def skin(name: str, look: Look) -> str:
    """The template that draws the channel's conversations: its own, else the console's."""
    return f"{name}/{look.template.name}" if look.template else "_skin_generic.html"


@lru_cache(maxsize=32)
def _templates(looks: Looks) -> Environment:
    # A channel's own templates are found under its name ("slack/slack.html").
    skins: dict[str, BaseLoader] = {
        name: FileSystemLoader(look.template.parent) for name, look in looks if look.template
    }
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(WEB / "templates"), PrefixLoader(skins)]),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        clock=clock, stamp=stamp, ago=ago, until=until, initials=initials, headline=headline
    )
    env.globals.update(
        titles={name: look.title for name, look in looks},
        stylesheets=[f"/looks/{name}.css" for name, look in looks if look.stylesheet],
    )
    return env


def render(name: str, *, looks: Looks = (), **context: Any) -> str:
    """Template `name`; `looks` (`looks_of` the service's channels) lets it name and draw them."""
    return _templates(looks).get_template(name).render(**context)


def html(
    name: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    looks: Looks = (),
    **context: Any,
) -> HTMLResponse:
    return HTMLResponse(render(name, looks=looks, **context), status_code=status, headers=headers)


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
    inbox_count = live(None, "_inbox_count.html", INBOX_COUNT, count=open_requests)
    sandboxed = [n for n, c in ordered(service.channels).items() if c.sandbox]
    return html(
        name,
        status=status,
        headers={"HX-Push-Url": push} if push else None,
        looks=looks_of(service.channels),
        section=section,
        open_requests=open_requests,
        inbox_count=Markup(inbox_count),
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


def live(
    request: Request | None, name: str, poll: Live, *, looks: Looks = (), **context: Any
) -> str | None:
    """A polled panel's HTML; None when the poller (`request`) already shows exactly this."""
    quiet = render(name, looks=looks, live=poll, **context)
    version = hashlib.blake2b(quiet.encode(), digest_size=8).hexdigest()
    if request is not None and request.query_params.get("v") == version:
        return None
    return render(name, looks=looks, live=Live(poll.url, poll.every, version), **context)


# The header's count of open requests polls, as the panels do: it changes without a reload.
INBOX_COUNT = Live("/inbox/count", "3s")


async def inbox_count(request: Request, service: Service) -> str | None:
    """The header's Inbox count; None while the poller (`request`) already shows it."""
    count = len(await service.app.store.requests())
    return live(request, "_inbox_count.html", INBOX_COUNT, count=count)


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


def headline(text: str, width: int = 60) -> str:
    """Words meant for a title: one line, at most `width` characters, clipped with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,.;:") + "…"
