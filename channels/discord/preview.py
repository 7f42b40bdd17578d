"""A Discord payload read back for the console: content, embeds and components as a neutral
`Preview`. Pure.

The text is what Discord shows: the content (and each continued message's), then each embed's
title, description, fields as "name: value" lines and footer; a `<t:UNIX:style>` timestamp as
Discord shows it to a reader in UTC (a relative one as its absolute time: a preview has no "now"),
and the zero-width spaces that keep mentions from pinging left out. Markdown's markers stay as
written: the conversation's template draws them, through `DiscordLook.markdown`. Only the
buttons and select options components.py made carry an `Action`, so only those become
`Button`s; an answer's value is the option's label, as a click recovers it (`options_of`).
Whatever it cannot read it leaves out: garbage previews as an empty `Preview`, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from channels.discord.components import (
    ANSWER,
    BUTTON,
    SELECT,
    decode_custom_id,
    options_of,
)
from channels.discord.format import ZWSP
from channels.discord.markdown import timestamps, to_html
from core.channels import Action
from core.previews import Button, Look, Preview

PREVIEWS = Path(__file__).with_name("previews")


@dataclass(frozen=True, slots=True)
class DiscordLook(Look):
    """Discord's look, which also draws Discord's Markdown for its template (`markdown`)."""

    def markdown(
        self, text: object, now: datetime | None = None, *, inline: bool = False
    ) -> Markup:
        """`text` as Discord draws it, escaped (markdown.py); anything but a string, nothing.
        `now` is what a relative time counts from: the message's time in the conversation."""
        return to_html(text, now=now, inline=inline) if isinstance(text, str) else Markup()


LOOK = DiscordLook(
    "Discord", rank=1, template=PREVIEWS / "discord.html", stylesheet=PREVIEWS / "discord.css"
)


def preview(payload: Mapping[str, Any]) -> Preview:
    """What the person sees for `payload`, with the buttons that decide a request."""
    try:
        return _preview(payload)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError):
        return Preview("")


def _preview(payload: Mapping[str, Any]) -> Preview:
    if not isinstance(payload, Mapping):
        return Preview("")
    more = [m for m in _list(payload.get("continued")) if isinstance(m, Mapping)]
    texts = [_shown(_str(payload.get("content")))]
    for embed in _list(payload.get("embeds")):
        if isinstance(embed, Mapping):
            texts.append(_embed(embed))
    texts += [_shown(_str(m.get("content"))) for m in more]
    notes: list[str] = []
    if more:
        notes.append(f"{len(more) + 1} messages")
    if _str(payload.get("user_id")) and not _str(payload.get("channel_id")):
        notes.append("direct message")
    buttons = _buttons(payload.get("components"))
    edits = _str(payload.get("message_id")) or None
    if edits:
        then = "still work" if buttons else "disabled"  # a request drawn again, or settled
        notes.append(f"edits the request's message; its buttons {then}")
    return Preview(
        text="\n\n".join(t for t in texts if t),
        buttons=buttons,
        to=_str(payload.get("channel_id")) or _str(payload.get("user_id")),
        notes=tuple(notes),
        edits=edits,
    )


def _embed(embed: Mapping[str, Any]) -> str:
    lines = [_shown(_str(embed.get("title"))), _shown(_str(embed.get("description")))]
    for field in _list(embed.get("fields")):
        if isinstance(field, Mapping):
            name, value = _shown(_str(field.get("name"))), _shown(_str(field.get("value")))
            lines.append(f"{name}: {value}" if name else value)
    footer = embed.get("footer")
    if isinstance(footer, Mapping):
        lines.append(_shown(_str(footer.get("text"))))
    return "\n".join(line for line in lines if line)


def _buttons(components: object) -> tuple[Button, ...]:
    options = options_of(components)
    found: list[Button] = []
    for row in _list(components):
        for component in _list(row.get("components") if isinstance(row, Mapping) else None):
            if not isinstance(component, Mapping) or component.get("disabled"):
                continue  # a settled request's buttons: shown, pressed by no one
            cid = _str(component.get("custom_id"))
            if component.get("type") == BUTTON:
                parsed = decode_custom_id(cid, None, options)
                if parsed is not None:
                    found.append(_button(_str(component.get("label")), parsed))
            elif component.get("type") == SELECT:
                for option in _list(component.get("options")):
                    if not isinstance(option, Mapping):
                        continue
                    parsed = decode_custom_id(cid, [_str(option.get("value"))], options)
                    if parsed is not None and parsed[1] == ANSWER:
                        found.append(_button(_str(option.get("label")), parsed))
    return tuple(found)


def _button(label: str, parsed: tuple[str, str, str]) -> Button:
    request_id, decision, value = parsed
    match decision:
        case "approve":
            action = Action(request_id=request_id, decision="approve")
        case "reject":
            action = Action(request_id=request_id, decision="reject")
        case _:
            action = Action(request_id=request_id, decision="answer", value=value)
    return Button(label, action)


def _shown(text: str) -> str:
    """Text as Discord shows it: timestamps as a reader in UTC sees them, zero-width spaces gone."""
    return timestamps(text).replace(ZWSP, "")


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
