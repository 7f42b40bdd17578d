"""Threads: the list with its filters, and one thread's timeline with the operator's controls."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from core.errors import SwitchboardError
from core.events import MessageReceived, ModelCalled
from core.humans import cancel, pause, resume
from core.records import OutboxItem, RequestInfo, StoredEvent
from core.service import Service
from core.state import TERMINAL, Status
from core.text import Name
from core.timeline import describe
from core.web.console.render import Live, headline, live, looks_of, names, page, panel
from core.web.console.signin import Console
from core.web.fields import findable
from core.web.problems import problem_of

router = APIRouter(include_in_schema=False)

Control = Literal["pause", "resume", "cancel"]
DONE = {"pause": "Paused.", "resume": "Resumed.", "cancel": "Cancelled."}

# Each store's threads' titles, by thread id: a thread's first message never changes, so the list
# reads each thread's events once, not on every poll.
_titles: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def first_words(events: Iterable[StoredEvent]) -> str:
    """A thread's title: its first message, on one line and clipped; "" before it has one."""
    first = next((e.event for e in events if isinstance(e.event, MessageReceived)), None)
    return headline(first.text) if first else ""


async def titles(service: Service, thread_ids: Iterable[str]) -> dict[str, str]:
    """The titles of these threads (see `first_words`), each read once and then remembered."""
    store = service.app.store
    known = _titles.setdefault(store, {})
    for thread_id in thread_ids:
        if thread_id not in known:
            title = first_words(await store.events(thread_id))
            if title:  # a thread is created with its message: "" is not worth remembering
                known[thread_id] = title
    return {t: known.get(t, "") for t in thread_ids}


async def _table(
    request: Request | None, service: Service, status: str, agent: str, channel: str
) -> tuple[str | None, list[str]]:
    """The filtered table (it polls), and every channel a thread started on, for the filter."""
    found = await service.app.store.threads(status=status or None, limit=500)
    shown = [
        t
        for t in found
        if (not agent or t.agent == agent) and (not channel or t.channel == channel)
    ][:100]
    query = urlencode(dict(status=status, agent=agent, channel=channel))
    table = live(
        request,
        "_threads_table.html",
        Live(f"/threads/table?{query}", "3s"),
        looks=looks_of(service.channels),
        threads=shown,
        headlines=await titles(service, [t.id for t in shown]),
    )
    return table, sorted({*service.channels, *(t.channel for t in found)})


@router.get("/threads")
async def threads(
    service: Console, status: Name = "", agent: Name = "", channel: Name = ""
) -> Response:
    table, channels = await _table(None, service, status, agent, channel)
    return await page(
        service,
        "threads.html",
        "threads",
        table=Markup(table),
        statuses=[s.value for s in Status],
        agents=sorted(service.app.agents),
        channels=channels,
        chosen=dict(status=status, agent=agent, channel=channel),
    )


@router.get("/threads/table")
async def threads_table(
    request: Request, service: Console, status: Name = "", agent: Name = "", channel: Name = ""
) -> Response:
    return panel((await _table(request, service, status, agent, channel))[0])


@dataclass(slots=True)
class Asked:
    """A human request on a thread's timeline: where its copies went and how it ended."""

    request: RequestInfo
    copies: list[OutboxItem]  # the copies sent, and the outcomes that updated them
    decider: str


async def _timeline(request: Request | None, service: Service, thread_id: str) -> str | None:
    store = service.app.store
    thread = await store.thread(thread_id) if findable(thread_id) else None
    if thread is None:
        return None
    events = await store.events(thread_id)
    known = names(await store.people())
    asked = [
        Asked(
            r,
            [c for c in await store.outbox(request_id=r.id) if c.channel is not None],
            known.get(r.decided_by or "", r.decided_by or ""),
        )
        for r in await store.requests(status=None)
        if r.thread_id == thread_id
    ]
    calls = [e.event for e in events if isinstance(e.event, ModelCalled)]
    return live(
        request,
        "_thread.html",
        Live(f"/threads/{thread_id}/live", "2s"),
        looks=looks_of(service.channels),
        thread=thread,
        headline=first_words(events),
        events=[(e, describe(e.event)) for e in events],
        asked=asked,
        names=known,
        calls=len(calls),
        latency=sum(c.latency_ms for c in calls),
        prompt=sum(c.prompt_tokens for c in calls),
        completion=sum(c.completion_tokens for c in calls),
        terminal=Status(thread.status) in TERMINAL,
    )


@router.get("/threads/{thread_id}/live")
async def thread_live(request: Request, service: Console, thread_id: str) -> Response:
    return panel(await _timeline(request, service, thread_id))


@router.get("/threads/{thread_id}")
async def thread_page(service: Console, thread_id: str) -> Response:
    return await _thread_page(service, thread_id)


async def _thread_page(
    service: Service, thread_id: str, *, flash: tuple[str, str] | None = None, push: bool = False
) -> Response:
    timeline = await _timeline(None, service, thread_id)
    if timeline is None:
        what = f"There is no thread {thread_id}."
        return await page(service, "missing.html", "threads", status=404, what=what)
    return await page(
        service,
        "thread.html",
        "threads",
        push=f"/threads/{thread_id}" if push else None,
        thread_id=thread_id,
        headline=(await titles(service, [thread_id]))[thread_id],
        panel=Markup(timeline),
        flash=flash,
    )


@router.post("/threads/{thread_id}/{op}")
async def control_thread(service: Console, thread_id: str, op: Control) -> Response:
    store = service.app.store
    if not findable(thread_id) or await store.thread(thread_id) is None:
        return await _thread_page(service, thread_id)  # the "no such thread" page
    try:
        match op:
            case "pause":
                await pause(store, thread_id, by="console")
            case "resume":
                await resume(store, thread_id, by="console")
            case "cancel":
                await cancel(store, thread_id, by="console")
    except SwitchboardError as e:
        flash = ("error", f"Could not {op}: {problem_of(e).detail}.")
    else:
        service.changed(thread_id)
        flash = ("ok", DONE[op])
    return await _thread_page(service, thread_id, flash=flash, push=True)
