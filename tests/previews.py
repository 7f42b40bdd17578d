"""A channel's conversation template, drawn as the console's sandbox draws it: for the tests of
each platform's preview (tests/test_slack_format.py, tests/test_discord_format.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.channels import OutboundMessage
from core.previews import Look, Preview
from core.web.console.conversations import Actor, Conversation, Message
from core.web.console.render import render as page
from core.web.console.sandbox import View

CHANNELS = Path(__file__).parents[1] / "channels"


def drawn(
    name: str,
    title: str,
    render: Callable[[OutboundMessage], dict[str, Any]],
    preview: Callable[[Mapping[str, Any]], Preview],
    messages: list[tuple[OutboundMessage, str]],
    *,
    conversation: str,
    address: str,
    look: Look | None = None,
) -> str:
    """The page for one conversation: `messages` (each with its outcome) as `render` made them,
    then a message from Alice with markup in it. `look` is the channel's own, if it has one."""
    folder = CHANNELS / name / "previews"
    if look is None:
        look = Look(title, template=folder / f"{name}.html", stylesheet=folder / f"{name}.css")
    at = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    shown = []
    for message, outcome in messages:
        payload = render(message)
        read = preview(payload)
        shown.append(
            Message(
                "out",
                at,
                "Switchboard",
                read.text,
                message.kind,
                buttons=read.buttons,
                payload=payload,
                outcome=outcome,
            )
        )
    shown.append(Message("in", at, "Alice Example", "hello <b>there</b>", "message"))
    talk = Conversation(conversation, shown, {"p1": "Alice Example"})
    alice = Actor("p1", "Alice Example", address)
    looks = ((name, look),)
    view = View(name, look, False, looks, [alice], alice, [talk], talk, talk.id)
    return page(f"{name}/{name}.html", looks=looks, view=view)
