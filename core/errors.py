"""The errors a person can act on, in one hierarchy.

Each class carries its kind (a slug: the last part of the problem type, "no-such-thread") and an
HTTP status, as Starlette's `HTTPException` carries its status. The front ends map the base class
once: the API answers problem details (core/web/problems.py), the CLI prints one line, the console
shows the same problem's detail on the page. Anything else that escapes is a bug, and shows as one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotation only: the request is stored, never inspected by type here
    from core.records import RequestInfo


class SwitchboardError(Exception):
    """The base: `detail` says what went wrong this time, for a person to read."""

    status: int = 400
    kind: str = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, Any]:
        """Members a problem document adds to type, title, status and detail."""
        return {}


class NotFound(SwitchboardError):
    """There is no thread, request, person, agent or channel by that name."""

    status = 404

    def __init__(self, what: str, name: str, detail: str = "") -> None:
        super().__init__(detail or f"there is no {what} {name}")
        self.what = what
        self.name = name
        self.kind = f"no-such-{what}"


class NotAllowed(SwitchboardError):
    """The person may not do this: answer a request that is not for them, or not that way."""

    status = 403
    kind = "not-allowed"


class AlreadyDecided(SwitchboardError):
    """The request was settled first, by someone else or by its timer: `request` says how."""

    status = 409
    kind = "already-decided"

    def __init__(self, request: RequestInfo) -> None:
        when = (
            request.decided_at.strftime("%Y-%m-%d %H:%M UTC") if request.decided_at else "earlier"
        )
        who = request.decided_by
        if who and request.acted_by:
            who = f"{request.acted_by} on behalf of {who}"
        by = f" by {who} via {request.decided_via}" if who else ""
        status = request.status.replace("_", " ")
        super().__init__(f"request {request.id} was already {status}{by}, {when}")
        self.request = request

    def extensions(self) -> dict[str, Any]:
        settled = self.request
        return dict(
            request_status=settled.status,
            decided_by=settled.decided_by,
            decided_via=settled.decided_via,
            acted_by=settled.acted_by,
            decided_at=settled.decided_at.isoformat() if settled.decided_at else None,
        )


class InvalidTransition(SwitchboardError):
    """An event the thread's status does not allow: resuming a thread that is not paused."""

    status = 409
    kind = "invalid-transition"

    def __init__(self, event: str, current: str, target: str, *, thread_id: str = "") -> None:
        if current == target:
            said = f"{event}: the thread is already {current}"
        else:
            said = f"{event} cannot move a thread from {current} to {target}"
        super().__init__(f"thread {thread_id}: {said}" if thread_id else said)
        self.event, self.current, self.target = event, current, target

    def on(self, thread_id: str) -> InvalidTransition:
        """The same refusal, naming its thread: the fold that raises it does not know which."""
        return InvalidTransition(self.event, self.current, self.target, thread_id=thread_id)


class Taken(SwitchboardError):
    """A name that must be unique is in use (a caller's)."""

    status = 409
    kind = "taken"


class Conflict(SwitchboardError):
    """Another writer changed the thread first (or took its lease): reload and decide again.
    The callers retry; one that runs out of attempts lets it reach the person."""

    status = 409
    kind = "busy"

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread {thread_id} is busy: try again")
        self.thread_id = thread_id


class ThreadBusy(SwitchboardError):
    """Another worker holds the thread's lease."""

    status = 409
    kind = "busy"

    def __init__(self, thread_id: str) -> None:
        super().__init__(
            f"{thread_id}: another worker is advancing this thread; try again once it waits"
        )
        self.thread_id = thread_id


class Misconfigured(SwitchboardError):
    """Switchboard cannot run as set up: a setting, the people file, a port, the backend."""

    status = 500
    kind = "misconfigured"


class BadSettings(Misconfigured):
    """Values in the environment or .env that are not settings: each one a line with its fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class SchemaOutdated(Misconfigured):
    """The database is not at the schema this code expects."""

    kind = "schema-outdated"


class PeopleFileError(Misconfigured):
    """The people directory file (SWITCHBOARD_PEOPLE) cannot be read, or does not make sense."""

    kind = "invalid-people-file"
