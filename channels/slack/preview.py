"""A Slack payload read back for the console: its Block Kit as a neutral `Preview`. Pure.

It reads what blocks.py renders, and fairly any Block Kit: headers, sections (text, fields, an
accessory), context, dividers, images, and actions with buttons and selects. Only the buttons and
options blocks.py made carry an `Action` (the others are Slack's to route, not ours), so only
those become `Button`s. Whatever it cannot read it leaves out; a payload that is no Slack
message at all previews as an empty `Preview`, never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from channels.slack.blocks import ANSWER, APPROVE, EDITS_BLOCK, REJECT
from core.channels import Action
from core.previews import Button, Preview

_DATE = re.compile(r"<!date\^[^|>]*\|(?P<fallback>[^>]*)>")


def preview(payload: Mapping[str, Any]) -> Preview:
    """What the person sees for `payload`, with the buttons that decide a request."""
    if not isinstance(payload, Mapping):
        return Preview("")
    messages = [payload, *(m for m in _list(payload.get("continued")) if isinstance(m, Mapping))]
    texts: list[str] = []
    buttons: list[Button] = []
    edits: str | None = None
    for message in messages:
        blocks = [b for b in _list(message.get("blocks")) if isinstance(b, Mapping)]
        if not blocks:  # no Block Kit: Slack shows the text
            texts.append(_unescape(_str(message.get("text"))))
            continue
        lines = []
        for block in blocks:
            lines += _lines(block)
            buttons += _buttons(block)
            block_id = _str(block.get("block_id"))
            if edits is None and block_id.startswith(EDITS_BLOCK):
                edits = block_id.removeprefix(EDITS_BLOCK) or None
        texts.append("\n".join(line for line in lines if line))
    return Preview(
        text="\n\n".join(t for t in texts if t),
        buttons=tuple(buttons),
        to=_to(payload),
        notes=_notes(payload, len(messages)),
        edits=edits,
    )


def _to(payload: Mapping[str, Any]) -> str:
    user = _str(payload.get("user"))
    return user or _str(payload.get("channel"))


def _notes(payload: Mapping[str, Any], messages: int) -> tuple[str, ...]:
    user = _str(payload.get("user"))
    ephemeral = (f"ephemeral: only {user} sees it",) if user else ()
    return ephemeral + ((f"{messages} messages",) if messages > 1 else ())


# --- text --------------------------------------------------------------------------------------


def _lines(block: Mapping[str, Any]) -> list[str]:
    match block.get("type"):
        case "header":
            return [_text(block.get("text"))]
        case "section":
            lines = [_text(block.get("text"))]
            lines += [_field(_text(f)) for f in _list(block.get("fields"))]
            return lines
        case "context":
            shown = (_text(e) or _str(_get(e, "alt_text")) for e in _list(block.get("elements")))
            return [" ".join(s for s in shown if s)]
        case "divider":
            return ["---"]
        case "image":
            title = _text(block.get("title")) or _str(block.get("alt_text"))
            return [f"[image: {title}]" if title else "[image]"]
        case "rich_text":
            return ["".join(_rich(block))]
    return []


def _field(text: str) -> str:
    """A field written `*key*\\nvalue` as "key: value"; any other as it is."""
    key, newline, value = text.partition("\n")
    if newline and len(key) > 2 and key.startswith("*") and key.endswith("*"):
        return f"{key[1:-1]}: {value}"
    return text


def _rich(node: object) -> Iterator[str]:
    """The words of a rich_text block (Slack's own rendering of what people write)."""
    if isinstance(node, Mapping):
        kind = node.get("type")
        if kind == "text":
            yield _str(node.get("text"))
        elif kind == "link":
            yield _str(node.get("text")) or _str(node.get("url"))
        elif kind == "user":
            yield f"@{_str(node.get('user_id'))}"
        elif kind == "channel":
            yield f"#{_str(node.get('channel_id'))}"
        elif kind == "emoji":
            yield f":{_str(node.get('name'))}:"
        for child in _list(node.get("elements")):
            yield from _rich(child)
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            yield "\n"


# --- buttons -----------------------------------------------------------------------------------


def _buttons(block: Mapping[str, Any]) -> list[Button]:
    elements = list(_list(block.get("elements"))) if block.get("type") == "actions" else []
    accessory = block.get("accessory") if block.get("type") == "section" else None
    if accessory is not None:
        elements.append(accessory)
    found: list[Button] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        if element.get("type") == "button":
            found += _button(element)
        elif element.get("type") == "static_select":
            for option in _options(element):
                found += _choice(element, option)
    return found


def _button(element: Mapping[str, Any]) -> list[Button]:
    action_id, value = _str(element.get("action_id")), _str(element.get("value"))
    label = _text(element.get("text"))
    try:
        if action_id == APPROVE:
            return [Button(label, Action(request_id=value, decision="approve"))]
        if action_id == REJECT:
            return [Button(label, Action(request_id=value, decision="reject"))]
        if action_id.startswith(ANSWER + ":"):
            return [Button(label, _answer(value))]
    except (ValueError, TypeError, KeyError, RecursionError):  # pydantic's errors included
        pass
    return []


def _choice(select: Mapping[str, Any], option: Mapping[str, Any]) -> list[Button]:
    if _str(select.get("action_id")) != ANSWER:
        return []
    try:
        return [Button(_text(option.get("text")), _answer(_str(option.get("value"))))]
    except (ValueError, TypeError, KeyError, RecursionError):
        return []


def _options(select: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    groups = [
        g.get("options") for g in _list(select.get("option_groups")) if isinstance(g, Mapping)
    ]
    for options in (select.get("options"), *groups):
        yield from (o for o in _list(options) if isinstance(o, Mapping))


def _answer(value: str) -> Action:
    """An option's value, `{"r": request id, "v": option}`: the answer it gives."""
    chosen = json.loads(value)
    if not (isinstance(chosen["r"], str) and isinstance(chosen["v"], str)):
        raise TypeError("not an answer this channel rendered")
    return Action(request_id=chosen["r"], decision="answer", value=chosen["v"])


# --- reading what may be anything --------------------------------------------------------------


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, Mapping) else None


def _text(value: object) -> str:
    """A text object's text as Slack shows it: plain text exactly as written; mrkdwn's markers
    left as written, but its entities (`&amp;`, `&lt;`, `&gt;`) as the characters and a date as
    its fallback (the reader's local time on Slack)."""
    text = _str(_get(value, "text"))
    return text if _get(value, "type") == "plain_text" else _unescape(text)


def _unescape(text: str) -> str:
    text = _DATE.sub(lambda m: m["fallback"], text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
