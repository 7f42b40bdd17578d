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
    return ", ".join(f"{k} {_word(v)}" for k, v in arguments.items())


def action(tool: str, summary: str, arguments: dict[str, Any]) -> str:
    """A call as people read it: the tool's summary filled in ("deploy api 2.4.1 to production"),
    else its name and the arguments as words ("deploy (service api, version 2.4.1)")."""
    if summary:
        try:
            return summary.format_map({k: _word(v) for k, v in arguments.items()})
        except (KeyError, IndexError, ValueError, AttributeError):
            pass  # a summary naming an argument the call lacks: the plain form says it all
    return f"{tool} ({fields(arguments)})"


def _word(value: Any) -> str:
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def names(
    people: Sequence[Person],
    recipients: Sequence[str],
    requester: str | None,
    *,
    where: bool = False,
) -> str:
    """People and roles as the requester reads them: names, a role's members named (but not the
    requester themselves), "Alice or Erin"; with `where`, the channel each is asked on first
    ("Alice or Erin on Discord", "Alice on Discord or Bob on Slack")."""
    named: dict[str, str] = {}  # name: where
    for entry in recipients:
        if entry.startswith("role:"):
            members = [p for p in people if entry[5:] in p.roles and p.id != requester]
            named |= {p.name: _first_channel(p) for p in members} or {entry: ""}
        else:
            person = next((p for p in people if p.id == entry), None)
            named[person.name if person else entry] = _first_channel(person) if person else ""
    if not named:
        return "no one"
    places = set(named.values())
    if not where or places == {""}:
        return " or ".join(named)
    if len(places) == 1:
        return f"{' or '.join(named)} on {places.pop()}"
    return " or ".join(f"{name} on {place}" if place else name for name, place in named.items())


def _first_channel(person: Person) -> str:
    """Where a person is asked first, as people write it: "Slack", "SMS"."""
    first = next(iter(person.preferred()), "")
    return first.upper() if len(first) <= 3 else first.capitalize()


def waiting(who: str, request: HumanRequested, what: str) -> str:
    """What the requester hears as the thread starts waiting on others: who, for what, until."""
    if request.required > 1:
        who = f"{request.required} of {who.replace(' or ', ', ')}"  # "2 of Alice, Erin on …"
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
