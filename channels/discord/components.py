"""What Switchboard posts on Discord: an `OutboundMessage` as a message payload of content, embeds
and message components. Pure and deterministic; plain JSON, no library.

The payload (agreed with the transport):

    {"channel_id": "<channel or thread id>" (absent for a DM: then "user_id"),
     "user_id": "<user id>" (only when there is no channel: the transport opens a DM with them),
     "message_id": "<id>" (the message it edits, PATCH …/messages/{id}: an outcome, or a request
        drawn again over its copy, its buttons live, as a step towards a quorum),
     "content": text of at most 2,000 characters, "embeds": [...], "components": [...],
     "allowed_mentions": {"parse": []},
     "flags": 64 (a notice with a private way back: posted as an ephemeral follow-up to the
        person's click, which the transport finds in the message, never in the payload),
     "continued": [{"content": ..., "allowed_mentions": {"parse": []}}, ...]
        (a reply longer than one message only)}

An approval's embed says who may decide it and, once it has some of the approvals it needs, how
far it is (the fields "Who may decide" and "Progress"); a copy of it to someone who approved
already is drawn settled, titled "Waiting for more approvals".

A conversation is "<channel id>" or "<channel id>:<thread id>" (a thread is a channel of its
own: the message goes to the thread id); the sandbox names a DM "dm:<user id>".

A click comes back with the `custom_id` set here (at most 100 characters):
`sb:approve:<request id>`, `sb:reject:<request id>`, `sb:answer:<request id>:<index>` for an
option's button, and `sb:answer:<request id>` for the select, whose options' values are the
indexes as strings (the click's `data.values`). An option's text is not in the id: the
interaction carries the message it was made on (`message.components`), and `options_of` reads
the options back from it (a button's label, a select option's label, by index), so that
`decode_custom_id(custom_id, values, options_of(message["components"]))` gives the chosen option.
A label is cut to Discord's limit (80 for a button, 100 for a select option, ending in "…"): an
option longer than that comes back as its cut label; the index (`decode_custom_id` without
options) is always exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from channels.discord.format import CONTENT_LIMIT, break_fences, escape_mentions, split
from core.channels import OutboundMessage, RequestContext

PREFIX = "sb"
APPROVE = "approve"
REJECT = "reject"
ANSWER = "answer"

EPHEMERAL = 1 << 6  # a message flag: only the person who clicked sees it
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
OPTION_LABEL_LIMIT = 100
OPTION_VALUE_LIMIT = 100
SELECT_OPTIONS_LIMIT = 25
BUTTONS_AT_MOST = 5  # more options than this: a select
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
EMBED_TOTAL_LIMIT = 6000  # title, description, field names and values, footer, author
DESCRIPTION_SHOWN = 2000  # a request's question in its embed
KEY_SHOWN = 100
NAME_SHOWN = 200  # an agent's or a requester's name
VALUE_SHOWN = 300  # characters of one argument's value shown before "…"
DECIDERS = "Who may decide"  # the field's name
PROGRESS = "Progress"

# Button styles and component types
ROW, BUTTON, SELECT = 1, 2, 3
PRIMARY, SECONDARY, SUCCESS, DANGER = 1, 2, 3, 4

# Embed colours
AMBER, BLURPLE, GREEN, RED, GREY = 0xF0B232, 0x5865F2, 0x23A55A, 0xDA373C, 0x949BA4

NO_MENTIONS: dict[str, Any] = {"parse": []}
EMPTY = "(no text)"  # Discord refuses a message with nothing in it
REPLY_HINT = "Reply in this conversation to answer."
MORE_HINT = "Or reply in this conversation with your answer."
ELLIPSIS = "\u2026"
NO_NAME = "\u2014"


def parse_conversation(conversation: str) -> tuple[str, str | None]:
    """A conversation ("<channel>" or "<channel>:<thread>") as (channel, thread).

    The sandbox names a direct conversation "dm:<user id>": that is ("dm", user id)."""
    channel, _, thread = conversation.partition(":")
    return channel, thread or None


def conversation_of(channel_id: str, thread_id: str | None) -> str:
    """The one form of a conversation: a channel, or a thread in it."""
    return f"{channel_id}:{thread_id}" if thread_id else channel_id


def custom_id(decision: str, request_id: str, index: int | None = None) -> str:
    """What a click on one of our buttons or selects carries back."""
    tail = "" if index is None else f":{index}"
    return f"{PREFIX}:{decision}:{request_id}{tail}"


def decode_custom_id(
    custom_id: str, values: Sequence[str] | None = None, options: tuple[str, ...] = ()
) -> tuple[str, str, str] | None:
    """A click on something `render` made, as (request id, decision, option); None otherwise.

    `values` are a select's chosen values (the interaction's `data.values`). The option is ""
    for an approval; for an answer it is `options[index]` when `options` are given (see
    `options_of`), else the index as a string. None for an id or index we did not make."""
    if not isinstance(custom_id, str) or len(custom_id) > CUSTOM_ID_LIMIT:
        return None
    prefix, _, rest = custom_id.partition(":")
    decision, _, request_id = rest.partition(":")
    if prefix != PREFIX or not request_id:
        return None
    if decision in (APPROVE, REJECT):
        return request_id, decision, ""
    if decision != ANSWER:
        return None
    if values:  # the select: its id is the request's, its value the index
        index = values[0] if isinstance(values[0], str) else ""
    else:  # a button: its id ends with the index
        request_id, colon, index = request_id.rpartition(":")
        if not colon or not request_id:
            return None
    if not index.isdigit() or not index.isascii() or len(index) > 6:
        return None
    if not options:
        return request_id, ANSWER, str(int(index))
    if int(index) >= len(options):
        return None
    return request_id, ANSWER, options[int(index)]


def options_of(components: object) -> tuple[str, ...]:
    """The options of a request as its message shows them (the message a click's interaction
    carries): each answer button's label and each select option's label, in index order.
    An index that is missing leaves an empty string in its place; garbage gives ()."""
    found: dict[int, str] = {}
    for component in _components(components):
        parsed = decode_custom_id(_str(component.get("custom_id")), None)
        if component.get("type") == BUTTON and parsed and parsed[1] == ANSWER:
            found.setdefault(int(parsed[2]), _str(component.get("label")))
        elif component.get("type") == SELECT:
            options = component.get("options")
            for option in options if isinstance(options, list) else []:
                if not isinstance(option, Mapping):
                    continue
                value = _str(option.get("value"))
                if value.isdigit() and value.isascii() and len(value) <= 6:
                    found.setdefault(int(value), _str(option.get("label")))
    if not found:
        return ()
    return tuple(found.get(i, "") for i in range(max(found) + 1))


def _components(components: object) -> list[Mapping[str, Any]]:
    """Every button and select in a message's rows."""
    found: list[Mapping[str, Any]] = []
    for row in components if isinstance(components, list) else []:
        inner = row.get("components") if isinstance(row, Mapping) else None
        for component in inner if isinstance(inner, list) else []:
            if isinstance(component, Mapping):
                found.append(component)
    return found


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


# --- render ------------------------------------------------------------------------------------


def render(message: OutboundMessage) -> dict[str, Any]:
    """The Discord payload for `message` (see the module's docstring)."""
    payload: dict[str, Any] = {}
    channel, thread = parse_conversation(message.conversation or "")
    if message.conversation and channel == "dm" and thread:
        payload["user_id"] = thread
    elif message.conversation and channel:
        payload["channel_id"] = thread or channel
    else:
        payload["user_id"] = message.address
    if message.kind in ("outcome", "request") and message.edit_of:
        payload["message_id"] = message.edit_of
    match message.kind:
        case "request":
            body = _request(message)
        case "outcome":
            body = _outcome(message)
        case "notice":
            body = _message(_clip(escape_mentions(message.text.strip()), CONTENT_LIMIT))
            if message.private_reply:  # a follow-up to the person's click, seen by them alone
                body["flags"] = EPHEMERAL
        case _:
            chunks = split(escape_mentions(message.text), CONTENT_LIMIT) or [EMPTY]
            body = _message(chunks[0])
            if len(chunks) > 1:
                body["continued"] = [
                    {"content": c, "allowed_mentions": dict(NO_MENTIONS)} for c in chunks[1:]
                ]
    payload.update(body)
    return payload


def _message(
    content: str,
    embeds: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "content": content or EMPTY,
        "embeds": embeds or [],
        "components": components or [],
        "allowed_mentions": {"parse": []},
    }


def _clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…"."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _label(text: str, limit: int) -> str:
    return _clip(" ".join(text.split()), limit) or NO_NAME


# --- requests ----------------------------------------------------------------------------------


def _request(message: OutboundMessage) -> dict[str, Any]:
    approval = message.request_kind == "approval"
    question = escape_mentions(message.text.strip())
    content = _notification(message.context, approval=approval)
    embed: dict[str, Any] = {
        "title": "Approval needed" if approval else "Question",
        "description": _clip(question, DESCRIPTION_SHOWN) or EMPTY,
        "color": AMBER if approval else BLURPLE,
    }
    fields = _fields(message.context, embed, approval=approval)
    components: list[dict[str, Any]] = []
    hint = ""
    request_id = message.request_id
    if request_id is None or len(custom_id(ANSWER, request_id, 999_999)) > CUSTOM_ID_LIMIT:
        hint = REPLY_HINT  # nothing a click could name: the answer is a reply
    elif approval:
        components = [
            _row(
                [
                    _button("Approve", custom_id(APPROVE, request_id), SUCCESS),
                    _button("Reject", custom_id(REJECT, request_id), DANGER),
                ]
            )
        ]
    elif not message.options:
        hint = REPLY_HINT
    elif len(message.options) <= BUTTONS_AT_MOST:
        components = [
            _row(
                [
                    _button(_label(o, BUTTON_LABEL_LIMIT), custom_id(ANSWER, request_id, i))
                    for i, o in enumerate(message.options)
                ]
            )
        ]
    else:
        components = [_row([_select(request_id, message.options)])]
        if len(message.options) > SELECT_OPTIONS_LIMIT:
            hint = MORE_HINT
    if fields:
        embed["fields"] = fields
    if hint:
        embed["footer"] = {"text": hint}
    return _message(content, [embed], components)


def _notification(context: RequestContext | None, *, approval: bool) -> str:
    """The request's content: one short line, what a phone's notification shows ("Approval
    needed: deploy for Bob Example", "Question from support"). The question is in the embed."""
    agent = _name(context.agent) if context else ""
    requester = _name(context.requester) if context else ""
    line = "Approval needed" if approval else "Question"
    if agent:
        line += f": {agent}" if approval else f" from {agent}"
    return f"{line} for {requester}" if requester else line


def _name(name: str | None) -> str:
    """An agent's or a person's name on one line, unable to mention anyone."""
    return _clip(" ".join(escape_mentions(name or "").split()), NAME_SHOWN)


def _row(components: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": ROW, "components": components}


def _button(label: str, custom: str, style: int = PRIMARY) -> dict[str, Any]:
    return {"type": BUTTON, "style": style, "label": label, "custom_id": custom}


def _select(request_id: str, options: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": SELECT,
        "custom_id": custom_id(ANSWER, request_id),
        "placeholder": "Choose an answer",
        "min_values": 1,
        "max_values": 1,
        "options": [
            {"label": _label(o, OPTION_LABEL_LIMIT), "value": str(i)}
            for i, o in enumerate(options[:SELECT_OPTIONS_LIMIT])
        ],
    }


def _fields(
    context: RequestContext | None, embed: Mapping[str, Any], *, approval: bool
) -> list[dict[str, Any]]:
    """Who asks, through which agent; the tool and its exact arguments; who may decide and how
    far it is (an approval's); the deadline: within 25 fields and the embed's 6,000 characters
    (arguments that do not fit are counted)."""
    if context is None:
        return []
    head: list[dict[str, Any]] = []
    if context.requester:
        head.append(_field("Requested by", _clip(escape_mentions(context.requester), NAME_SHOWN)))
    if context.agent:
        head.append(_field("Agent", _clip(escape_mentions(context.agent), NAME_SHOWN)))
    if context.tool:
        head.append(_field("Tool", _code(_clip(context.tool, KEY_SHOWN))))
    if context.context.strip():
        head.append(_field("Context", escape_mentions(context.context.strip()), False))
    tail: list[dict[str, Any]] = []
    deciders = _one_line(context.deciders) if approval else ""
    if deciders:
        tail.append(_field(DECIDERS, escape_mentions(deciders), False))
    progress = _one_line(context.progress) if approval else ""
    if progress:
        tail.append(_field(PROGRESS, escape_mentions(progress), False))
    if context.deadline is not None:
        when = _timestamps(context.deadline)
        after = "then it is rejected" if approval else "then it closes unanswered"
        tail.append(_field("Decide by" if approval else "Answer by", f"{when}; {after}", False))
    used = sum(len(_str(embed.get(k))) for k in ("title", "description"))
    used += len(REPLY_HINT) + _size(head) + _size(tail) + 60  # 60: the "more" field
    room = FIELDS_LIMIT - len(head) - len(tail)
    items = list(context.arguments.items())
    arguments: list[dict[str, Any]] = []
    for key, value in items[: room if len(items) <= room else room - 1]:
        field = _argument(str(key), value)
        if used + _size([field]) > EMBED_TOTAL_LIMIT:
            break
        arguments.append(field)
        used += _size([field])
    if len(arguments) < len(items):
        more = len(items) - len(arguments)
        arguments.append(
            _field("More", f"…and {more} more argument{'s' if more != 1 else ''}, not shown.")
        )
    return head + arguments + tail


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _size(fields: list[dict[str, Any]]) -> int:
    return sum(len(f["name"]) + len(f["value"]) for f in fields)


def _field(name: str, value: str, inline: bool = True) -> dict[str, Any]:
    return {
        "name": _clip(name, FIELD_NAME_LIMIT) or NO_NAME,
        "value": _clip(value, FIELD_VALUE_LIMIT) or NO_NAME,
        "inline": inline,
    }


def _argument(key: str, value: Any) -> dict[str, Any]:
    raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    shown = "*(empty)*" if raw == "" else _code(_clip(raw, VALUE_SHOWN))
    return _field(_clip(" ".join(key.split()), KEY_SHOWN), shown)


def _code(value: str) -> str:
    """A value as code, exactly as written: inline if it can be, else a code block."""
    if "\n" in value or "`" in value:
        return "```\n" + break_fences(value) + "\n```"
    return f"`{value}`"


def _timestamps(moment: datetime) -> str:
    """A moment Discord shows in each reader's own time zone: absolute, then relative."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    unix = int(moment.timestamp())
    return f"<t:{unix}:f> (<t:{unix}:R>)"


# --- outcomes ----------------------------------------------------------------------------------


SETTLED = ("Approved", "Rejected", "Answered", "Timed out", "Cancelled")  # an outcome's title
WAITING = "Waiting for more approvals"  # the title of a step towards a quorum


def _outcome(message: OutboundMessage) -> dict[str, Any]:
    """The request's message, edited: what became of it on top, coloured by it; the request as
    it was asked, with its buttons disabled (`components: []` where the request is not known).
    A step towards a quorum, to someone who approved already, is drawn so too: their part is
    done, and the request, still open, is amber and "Waiting for more approvals"."""
    shown = escape_mentions(message.text.strip())
    lowered = shown.lower()
    step = bool(message.context and message.context.progress)  # open: a step towards a quorum
    if lowered.startswith("approved") or lowered.startswith("answered"):
        colour = GREEN
    elif lowered.startswith(("rejected", "denied", "timed out", "expired", "cancelled")):
        colour = RED
    else:
        colour = AMBER if step else GREY
    content = _clip(shown, CONTENT_LIMIT)
    if message.context is None or not message.context.question:
        embed = {"description": _clip(shown, EMBED_DESCRIPTION_LIMIT) or EMPTY, "color": colour}
        return _message(content, [embed], [])
    context = message.context
    if _one_line(context.progress) == _one_line(message.text):  # said on top already
        context = context.model_copy(update={"progress": ""})
    asked = _request(message.model_copy(update={"text": context.question, "context": context}))
    [embed] = asked["embeds"]
    embed["color"] = colour
    settled = next((t for t in SETTLED if lowered.startswith(t.lower())), None)
    embed["title"] = settled or (WAITING if step else "Settled")
    embed.pop("footer", None)  # how to answer: no longer
    for row in asked["components"]:
        for component in row["components"]:
            component["disabled"] = True
    return _message(content, [embed], asked["components"])
