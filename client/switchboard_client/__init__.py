"""Ask people through Switchboard from an agent that runs anywhere.

from switchboard_client import Switchboard, require_approval

board = Switchboard()  # SWITCHBOARD_URL, SWITCHBOARD_KEY
answer = board.ask_human("Which region?", to="alice", options=["eu", "us"]).answer

@require_approval(to="role:deploy-approver")
def deploy(service: str, version: str) -> None: ...
"""

from switchboard_client.approval import require_approval
from switchboard_client.client import AsyncSwitchboard, Switchboard
from switchboard_client.errors import (
    NoDecision,
    NotApproved,
    Refused,
    SwitchboardError,
    Unreachable,
)
from switchboard_client.models import Approval, Decision, Person, arguments_hash
from switchboard_client.webhooks import decision_of, verify

__all__ = [
    "Approval",
    "AsyncSwitchboard",
    "Decision",
    "NoDecision",
    "NotApproved",
    "Person",
    "Refused",
    "Switchboard",
    "SwitchboardError",
    "Unreachable",
    "arguments_hash",
    "decision_of",
    "require_approval",
    "verify",
]
