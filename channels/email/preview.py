"""An email payload (compose.py) read back for the console: its text part, subject and recipients
as a neutral `Preview`, and the look that draws a conversation as a mail client would. Pure.

A mail has no buttons: a person answers by replying. A mail cannot be edited once sent, so an
outcome is a mail of its own in the thread; `edits` names the request's copy it settles (the
payload's `settles`), so that the console shows that copy settled. The notes say how the mail
threads and where a reply goes ("threaded under <…>", "replies go to agents+…@…"). A payload
without a text part previews as an empty `Preview`, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.previews import Look, Preview

PREVIEWS = Path(__file__).with_name("previews")
LINE_HEIGHT = 24  # pixels a line of the HTML part takes, roughly, at 16px
FRAME_PADDING = 48
FRAME_LEAST, FRAME_MOST = 120, 720


@dataclass(frozen=True, slots=True)
class EmailLook(Look):
    """Email's look, which also sizes the frame the HTML part is drawn in (`frame_height`)."""

    def frame_height(self, text: object) -> int:
        """Pixels for the frame of a mail whose text part is `text`: a script would measure the
        HTML, but the frame runs none; the text's lines (a long one wraps) come close."""
        if not isinstance(text, str):
            return FRAME_LEAST
        lines = sum(1 + len(line) // 70 for line in text.split("\n"))
        return max(FRAME_LEAST, min(FRAME_MOST, lines * LINE_HEIGHT + FRAME_PADDING))


LOOK = EmailLook(
    "Email",
    rank=3,
    multiline=True,  # people write paragraphs
    template=PREVIEWS / "email.html",
    stylesheet=PREVIEWS / "email.css",
)


def preview(payload: Mapping[str, Any]) -> Preview:
    """What the recipient reads for `payload`: its text part, with its subject and recipients."""
    text = payload.get("text") if isinstance(payload, Mapping) else None
    if not isinstance(text, str):
        return Preview("")
    to = payload.get("to")
    notes: list[str] = []
    if in_reply_to := _str(payload.get("in_reply_to")):
        notes.append(f"threaded under {in_reply_to}")
    if reply_to := _str(payload.get("reply_to")):
        notes.append(f"replies go to {reply_to}")
    return Preview(
        text=text.rstrip("\n"),
        subject=_str(payload.get("subject")),
        to=", ".join(a for a in to if isinstance(a, str)) if isinstance(to, list) else _str(to),
        notes=tuple(notes),
        edits=_str(payload.get("settles")) or None,
    )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
