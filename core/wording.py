"""What the agent's runtime says to people in its own words: who was asked and until when, why
it is stuck and the likely fix, arguments as words. Pure: directory and state in, text out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.events import HumanRequested
from core.models.advice import likely_fix
from core.records import Person


def fields(arguments: dict[str, Any]) -> str:
    """Arguments as people read them: "service api, version 2.4.1, environment production"."""
    return ", ".join(
        f"{k} {v}"
        if isinstance(v, str | int | float)
        else f"{k} {json.dumps(v, default=str, ensure_ascii=False)}"
        for k, v in arguments.items()
    )


def names(people: Sequence[Person], recipients: Sequence[str], requester: str | None) -> str:
    """People and roles as the requester reads them: names, a role's members named (but not the
    requester themselves), "Alice or Erin"."""
    named: list[str] = []
    for entry in recipients:
        if entry.startswith("role:"):
            members = [p.name for p in people if entry[5:] in p.roles and p.id != requester]
            named += members or [entry]
        else:
            named.append(next((p.name for p in people if p.id == entry), entry))
    if len(named) > 1:
        return " or ".join(dict.fromkeys(named))
    return named[0] if named else "no one"


def waiting(who: str, request: HumanRequested, what: str) -> str:
    """What the requester hears as the thread starts waiting on others: who, for what, until."""
    if request.required > 1:
        who = f"{request.required} of {who.replace(' or ', ', ')}"
    until = ""
    if request.deadline and request.kind == "approval":
        when = f"{request.deadline:%H:%M} UTC on {request.deadline:%d %b}"
        until = f" If no one decides by {when}, it is not done."
    return f"I have asked {who} {what}.{until} You will hear here."


def stuck(agent: str, reason: str, errors: int, last_error: str) -> str:
    """The on-call question when the model keeps failing: what happened, what was tried, and
    the likely fix, in words; the raw errors stay in the timeline."""
    said = f"{agent} is stuck: {reason}."
    if fix := likely_fix(last_error):
        said = f"{agent} is stuck: {errors} attempts in a row failed, and {fix}."
    return f'{said} Fix it, then answer "retry"; or answer how it should proceed.'
