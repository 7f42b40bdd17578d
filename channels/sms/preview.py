"""An SMS payload read back for the console: the body as the phone shows it, and what it costs.
Pure.

A phone joins a long text's segments into one message, so the body is one bubble; under it, the
segments it is sent as and their encoding ("2 segments · GSM-7"), counted again from the body by
segments.py rather than taken from the payload. A text has no buttons: a person answers by
replying. An outcome names the request's text it settles (`edits`), so that the console shows the
two together; the phone has it as a text of its own, and so does the template. A payload without
a body previews as an empty `Preview`, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels.sms.segments import encoding, segments
from core.previews import Look, Preview

PREVIEWS = Path(__file__).with_name("previews")


def counted(body: str) -> tuple[str, ...]:
    """What a body costs: ("2 segments", "GSM-7"); nothing for an empty one."""
    n = segments(body)
    if not n:
        return ()
    return (f"{n} segment{'s' if n != 1 else ''}", encoding(body))


@dataclass(frozen=True, slots=True)
class SmsLook(Look):
    """SMS's look, which also counts a body's segments for its template (`counted`)."""

    def counted(self, body: object) -> str:
        """What `body` costs, as one line ("2 segments · GSM-7"); "" for anything but a text."""
        return " · ".join(counted(body)) if isinstance(body, str) else ""


LOOK = SmsLook(
    "SMS",
    rank=2,
    direct="",  # every conversation by text is one-to-one
    template=PREVIEWS / "sms.html",
    stylesheet=PREVIEWS / "sms.css",
)


def preview(payload: Mapping[str, Any]) -> Preview:
    """What the person's phone shows for `payload`, and what it costs."""
    body = payload.get("body") if isinstance(payload, Mapping) else None
    if not isinstance(body, str):
        return Preview("")
    to, settles = payload.get("to"), payload.get("settles")
    return Preview(
        text=body,
        to=to if isinstance(to, str) else "",
        notes=counted(body),
        edits=settles if isinstance(settles, str) and settles else None,
    )
