"""What the API's routes share: the running service, and lookups that answer 404 or 422."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from core.errors import NotFound
from core.records import Person, ThreadInfo
from core.service import Service
from core.web.fields import findable
from core.web.problems import unprocessable


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def thread_or_404(service: Service, thread_id: str) -> ThreadInfo:
    thread = await service.app.store.thread(thread_id) if findable(thread_id) else None
    if thread is None:
        raise NotFound("thread", thread_id)
    return thread


async def known_person(service: Service, person_id: str, role: str) -> Person:
    """A person named in a request body's field `role`: 422 when not in the directory."""
    person = await service.app.store.person(person_id)
    if person is None:
        raise unprocessable(
            f"the {role} {person_id!r} is not in the people directory",
            kind="unknown-person",
            at=("body", role),
        )
    return person
