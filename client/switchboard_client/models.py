"""What Switchboard answers: a human request as the caller that made it reads it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["open", "approved", "rejected", "answered", "timed_out", "cancelled"]


class Approval(BaseModel):
    """One person's approval of a request that needs several."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    by: str
    via: str
    at: datetime
    acting: str | None = None


class Decision(BaseModel):
    """A request and, once it is settled, its decision: who, via which channel, when, and for an
    approval the exact arguments approved (`arguments`, bound to them by `arguments_hash`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    kind: Literal["question", "approval"]
    status: Status
    question: str
    recipients: list[str]
    options: list[str] = []
    tool: str | None = None  # an approval's action
    arguments: dict[str, Any] | None = None
    arguments_hash: str | None = None
    created_at: datetime
    deadline: datetime | None = None
    decided_by: str | None = None
    decided_via: str | None = None
    decided_at: datetime | None = None
    answer: str | None = None  # a question's answer, or why an approval was rejected
    acted_by: str | None = None
    required: int = 1
    approvals: list[Approval] = []
    caller: str | None = None
    context: str = ""
    reference: str = ""

    @property
    def settled(self) -> bool:
        return self.status != "open"

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    @property
    def action(self) -> str | None:
        return self.tool

    def describe(self) -> str:
        """In words: "approved by alice via discord", "rejected by erin via sms: not today",
        "timed out", "open"."""
        if self.status in ("open", "timed_out", "cancelled"):
            return self.status.replace("_", " ")
        said = f"{self.status} by {self.decided_by} via {self.decided_via}"
        return said + (f": {self.answer}" if self.answer and self.status == "rejected" else "")


class Person(BaseModel):
    """Someone the caller may ask: their id (for `to`), name, roles and channels, never their
    addresses."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    roles: list[str] = []
    channels: list[str] = []


def arguments_hash(action: str, arguments: dict[str, Any]) -> str:
    """What an approval is bound to, as Switchboard computes it: SHA-256 of the action and its
    arguments, canonically encoded. Arguments must be JSON (a TypeError says which is not)."""
    canonical = json.dumps([action, arguments], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
