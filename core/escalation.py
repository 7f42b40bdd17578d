"""How long a human request waits before each escalation step. Per agent, per tool, or the default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class Escalation:
    """What happens to an unanswered request: re-send on the recipient's next preferred channel,
    then ask the next approvers (or, for a question, the recipients' escalation contacts), then
    time out: an approval is denied, a question gets no answer. None skips a step."""

    resend_after: timedelta | None = timedelta(minutes=30)
    widen_after: timedelta | None = timedelta(hours=2)
    timeout_after: timedelta = timedelta(hours=24)
