"""What can go wrong when asking people through Switchboard, each its own exception."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchboard_client.models import Decision


class SwitchboardError(Exception):
    """Anything this client raises."""


class Refused(SwitchboardError):
    """Switchboard refused the call (a 4xx): `status`, and its problem document's `kind` (such as
    "unknown-recipient") and `detail`. Nothing was stored."""

    def __init__(self, status: int, detail: str, kind: str = "", problem: Any = None) -> None:
        super().__init__(
            f"Switchboard refused it ({status}{', ' + kind if kind else ''}): {detail}"
        )
        self.status, self.detail, self.kind, self.problem = status, detail, kind, problem


class Unreachable(SwitchboardError):
    """Switchboard did not answer (down, a dead network, a 5xx) for as long as the call may wait.
    A request it had taken stays there: `request_id` names it, when known, to wait on later."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class NoDecision(SwitchboardError, TimeoutError):
    """The wait ran out with the request still open: `request_id` to wait on it again later."""

    def __init__(self, request_id: str, waited: float) -> None:
        super().__init__(f"{request_id} is still open after {waited:.0f}s of waiting")
        self.request_id, self.waited = request_id, waited


class NotApproved(SwitchboardError):
    """The action was not approved (rejected, timed out, cancelled), or not for these exact
    arguments: it did not run. `decision` is the request as Switchboard settled it."""

    def __init__(self, message: str, decision: Decision | None = None) -> None:
        super().__init__(message)
        self.decision = decision
