"""What the console needs from a channel to draw its conversations: a neutral reading of each
payload the channel rendered (`Preview`), and how the channel looks (`Look`).

Core never reads a platform's payload itself: a Block Kit message, a Discord component row and a
MIME email all reach the console through their own channel's `preview`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.channels import Action


@dataclass(frozen=True, slots=True)
class Button:
    """A button in a rendered message, and what pressing it sends."""

    label: str
    action: Action


@dataclass(frozen=True, slots=True)
class Preview:
    """A rendered payload, read back: what the person sees, whatever the platform's format."""

    text: str
    buttons: tuple[Button, ...] = ()
    subject: str = ""
    to: str = ""  # the recipient, as the payload names them
    notes: tuple[str, ...] = ()  # facts the platform adds: "2 segments", "160 chars"
    edits: str | None = None  # the platform message id of the copy this payload updates


@dataclass(frozen=True, slots=True)
class Look:
    """How the console presents a channel beside each message's `Preview`.

    `template` is a Jinja template (in the channel's folder) that draws one conversation as the
    platform would; it gets the console's `view` and may import the console's
    `_sandbox_bits.html` macros. Without one the console draws its own neutral conversation.
    `stylesheet` is served to every console page, for the template's classes and the channel's
    badge (`chan-<name>`).
    """

    title: str  # the platform's name as people know it: "Slack"
    rank: int = 100  # where its tab sits: lower first, then by name
    direct: str = "direct messages"  # a one-to-one conversation's name; "" where all are
    multiline: bool = False  # people write paragraphs: Enter starts a new line, not a send
    template: Path | None = None
    stylesheet: Path | None = None
