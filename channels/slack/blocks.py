"""What Switchboard posts on Slack: an `OutboundMessage` as a `chat.postMessage` (or
`chat.postEphemeral`, `chat.update`) payload of Block Kit. Pure and deterministic.

The payload (agreed with the transport, channels/slack/transport.py):

    {"channel": "C…" (or a user id: Slack opens the DM), "thread_ts": "…" (in a thread only),
     "text": the notification and fallback text, "blocks": [...],
     "user": "U…" (a notice only: posted ephemeral, to that person),
     "continued": [{"text": ..., "blocks": [...]}, ...] (a reply too long for one message)}

A click comes back with the `action_id` and `value` set here, which codec.py reads:
`switchboard:approve` / `switchboard:reject` with the request id as value, and for an answer
`switchboard:answer:<index>` (a button) or `switchboard:answer` (the select) with the value
`{"r": request id, "v": option}` in JSON. The actions block's `block_id` is `request:<id>`.
An outcome's section carries `block_id` `edits:<message id>`, so that its preview can say which
copy it replaces (the transport takes the id from the message itself); so does a request drawn
again over its copy (a step towards a quorum: `edit_of` set), whose buttons stay live.

An approval shows who may decide it (a context line) and, once it has some of the approvals it
needs, how far it is (a section of its own under the question).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from channels.slack.format import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    TEXT_LIMIT,
    break_fences,
    escape,
    mrkdwn,
    split,
)
from core.channels import OutboundMessage, RequestContext

APPROVE = "switchboard:approve"
REJECT = "switchboard:reject"
ANSWER = "switchboard:answer"  # the select; a button adds ":<index>"
REQUEST_BLOCK = "request:"  # + the request id: the actions block
EDITS_BLOCK = "edits:"  # + the id of the message an outcome replaces

HEADER_LIMIT = 150  # a header block's plain text
LABEL_LIMIT = 75  # a button's or an option's text
BUTTON_VALUE_LIMIT = 2000
OPTION_VALUE_LIMIT = 150  # a select option's value
OPTIONS_LIMIT = 100  # options in one select
ELEMENTS_LIMIT = 25  # elements in an actions block
FIELD_LIMIT = 2000  # a section field's text
FIELDS_PER_SECTION = 10
FIELD_SECTIONS = 5  # at most 50 arguments shown; the rest are counted
VALUE_SHOWN = 500  # characters of one argument's value shown before "…"
KEY_SHOWN = 100
ID_LIMIT = 255  # a block_id
BUTTONS_AT_MOST = 5  # more options than this: a select
QUESTION_SECTIONS = 10  # a request's question longer than this many sections is cut
NOTICE_SECTIONS = 10
DECIDERS_SHOWN = 1000  # characters of the "Who may decide" line
PROGRESS_SHOWN = 1000
CONTEXT_SHOWN = 2000  # characters of what an outside caller tells the decider
EMPTY = "(no text)"  # Slack refuses a message with no text at all
REPLY_HINT = "Reply in this thread to answer."
ELLIPSIS = "\u2026"
NO_NAME = "\u2014"


def parse_conversation(conversation: str) -> tuple[str, str | None]:
    """A conversation ("<channel>" or "<channel>:<thread ts>") as (channel, thread ts).

    Message ids have the same form ("<channel>:<ts>"). The sandbox names a direct conversation
    with no thread "dm:<user id>": that is the user's DM, where Slack takes the user id."""
    channel, _, thread = conversation.partition(":")
    if channel == "dm" and thread:
        return thread, None
    return channel, thread or None


def conversation_of(channel: str, thread_ts: str | None) -> str:
    """The one form of a conversation: a channel, or a thread in it by its root's ts."""
    return f"{channel}:{thread_ts}" if thread_ts else channel


def render(message: OutboundMessage) -> dict[str, Any]:
    """The Slack payload for `message` (see the module's docstring)."""
    if message.conversation:
        channel, thread = parse_conversation(message.conversation)
    else:
        channel, thread = message.address, None
    match message.kind:
        case "request":
            messages = [_request(message)]
        case "outcome":
            messages = [_outcome(message)]
        case "notice":
            messages = [_notice(message.text)]
        case _:
            messages = _reply(message.text)
    first, *more = messages
    payload: dict[str, Any] = {"channel": channel}
    if thread:
        payload["thread_ts"] = thread
    payload.update(first)
    if message.kind == "notice":
        payload["user"] = message.address
    if more:
        payload["continued"] = more
    return payload


# --- replies and notices -----------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _message(chunks: list[str], blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    chunks = chunks or [EMPTY]
    text = "\n\n".join(chunks)
    return {
        "text": _clip(text, TEXT_LIMIT),
        "blocks": blocks if blocks is not None else [_section(c) for c in chunks],
    }


def _reply(markdown: str) -> list[dict[str, Any]]:
    """The reply in sections of at most 3,000 characters; as many messages as it takes to keep
    each within 50 blocks and a `text` of 40,000 characters (the text is the same words)."""
    messages: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for chunk in split(mrkdwn(markdown), SECTION_LIMIT):
        joined = size + len(chunk) + (2 if current else 0)
        if current and (len(current) == BLOCK_LIMIT or joined > TEXT_LIMIT):
            messages.append(_message(current))
            current, joined = [], len(chunk)
        current.append(chunk)
        size = joined
    messages.append(_message(current))
    return messages


def _notice(markdown: str) -> dict[str, Any]:
    """A notice is short: one message, its text cut to what one message holds."""
    return _message(_sections(mrkdwn(markdown), NOTICE_SECTIONS))


def _sections(text: str, most: int) -> list[str]:
    """`text` in at most `most` section-sized chunks; what does not fit is cut, with "…"."""
    chunks = split(text, SECTION_LIMIT)
    if len(chunks) > most:
        chunks = chunks[:most]
        chunks[-1] = split(chunks[-1], SECTION_LIMIT - 2)[0] + "\n" + ELLIPSIS
    return chunks


# --- requests ----------------------------------------------------------------------------------


def _request(message: OutboundMessage) -> dict[str, Any]:
    question = mrkdwn(message.text)
    blocks = _question(message.text, question)
    if message.context is not None:
        approval = message.request_kind == "approval"
        if approval and message.context.progress.strip():
            blocks.append(_section(_progress(message.context.progress)))
        blocks += _context(message.context, approval=approval)
    if message.request_id is None:  # nothing a click could name: the answer is a reply
        blocks.append(_note(REPLY_HINT))
    elif message.request_kind == "approval":
        blocks.append(_decisions(message.request_id))
    else:
        blocks += _choices(message.request_id, message.options)
    _mark_edit(blocks, message.edit_of)  # drawn again over its copy, its buttons live
    return {"text": _clip(question, TEXT_LIMIT) or EMPTY, "blocks": blocks}


def _question(markdown: str, converted: str) -> list[dict[str, Any]]:
    """A short plain question as a header; anything else as sections of its mrkdwn."""
    plain = markdown.strip()
    if plain and len(plain) <= HEADER_LIMIT and "\n" not in plain and converted == escape(plain):
        return [{"type": "header", "text": {"type": "plain_text", "text": plain, "emoji": True}}]
    return [_section(c) for c in _sections(converted, QUESTION_SECTIONS)]


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _progress(progress: str) -> str:
    """How far an approval is: "*Progress:* 1 of 2: approved by Alice via discord; …"."""
    return "*Progress:* " + _clip(escape(" ".join(progress.split())), PROGRESS_SHOWN)


def _context(context: RequestContext, *, approval: bool) -> list[dict[str, Any]]:
    """Who asks, through which agent; who may decide (an approval's); the tool and its exact
    arguments; the deadline."""
    blocks = []
    asker = _asker(context)
    if asker:
        blocks.append(_note(asker))
    if context.context.strip():
        blocks.append(_section(_clip(escape(context.context.strip()), CONTEXT_SHOWN)))
    deciders = " ".join(context.deciders.split()) if approval else ""
    if deciders:
        blocks.append(_note(_clip(f"Who may decide: {escape(deciders)}", DECIDERS_SHOWN)))
    blocks += _arguments(context.tool, context.arguments)
    if context.deadline is not None:
        when = _date(context.deadline)
        after = "after that it is rejected" if approval else "after that it closes unanswered"
        blocks.append(_note(f"{'Decide' if approval else 'Answer'} by {when}; {after}."))
    return blocks


def _asker(context: RequestContext) -> str:
    who = _clip(escape(context.requester or ""), 200)
    agent = _clip(escape(context.agent), 200)
    if who and agent:
        return f"Requested by *{who}* for the *{agent}* agent"
    if who:
        return f"Requested by *{who}*"
    return f"Requested by the *{agent}* agent" if agent else ""


def _arguments(tool: str | None, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool as a section's text, its arguments as the section's fields: ten to a section."""
    fields = [_field(str(key), value) for key, value in arguments.items()]
    shown = FIELDS_PER_SECTION * FIELD_SECTIONS
    blocks: list[dict[str, Any]] = []
    for start in range(0, min(len(fields), shown), FIELDS_PER_SECTION):
        part = fields[start : start + FIELDS_PER_SECTION]
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in part]})
    if tool:
        heading = f"*Tool* {_code(_clip(tool, KEY_SHOWN))}"
        if blocks:
            blocks[0] = {
                "type": "section",
                "text": {"type": "mrkdwn", "text": heading},
                **blocks[0],
            }
        else:
            blocks.append(_section(heading))
    if len(fields) > shown:
        more = len(fields) - shown
        blocks.append(_note(f"…and {more} more argument{'s' if more != 1 else ''}, not shown."))
    return blocks


def _field(key: str, value: Any) -> str:
    name = f"*{_clip(escape(key.replace('*', '')), KEY_SHOWN) or NO_NAME}*\n"
    raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if raw == "":
        return name + "_(empty)_"
    raw = raw if len(raw) <= VALUE_SHOWN else raw[: VALUE_SHOWN - 1] + ELLIPSIS
    return name + _fit(raw, FIELD_LIMIT - len(name), _code)


def _code(value: str) -> str:
    """A value as code, exactly as written: inline if it can be, else a code block."""
    if "\n" in value or "`" in value:
        return "```\n" + break_fences(escape(value)) + "\n```"
    return f"`{escape(value)}`"


def _fit(raw: str, budget: int, show: Callable[[str], str]) -> str:
    """`show(raw)`, with `raw` cut (ending in "…") until what it shows fits in `budget`."""
    if len(whole := show(raw)) <= budget:
        return whole
    low, high = 0, len(raw)  # the longest prefix that fits, by halves: it fits, it does not
    while high - low > 1:
        middle = (low + high) // 2
        if len(show(raw[:middle] + ELLIPSIS)) <= budget:
            low = middle
        else:
            high = middle
    return show(raw[:low] + ELLIPSIS)


def _date(moment: datetime) -> str:
    """A date Slack shows in each reader's own time zone; the UTC time where it cannot."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    fallback = moment.strftime("%Y-%m-%dT%H:%MZ")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _decisions(request_id: str) -> dict[str, Any]:
    return _actions(
        request_id,
        [
            _button("Approve", APPROVE, request_id, "primary"),
            _button("Reject", REJECT, request_id, "danger"),
        ],
    )


def _actions(request_id: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": elements}
    block_id = REQUEST_BLOCK + request_id
    if len(block_id) <= ID_LIMIT:
        block["block_id"] = block_id
    return block


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": _label(label), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _label(text: str) -> str:
    return _clip(" ".join(text.split()), LABEL_LIMIT) or NO_NAME


def answer_value(request_id: str, option: str) -> str:
    """What a click on an option carries: the request and the option, as JSON."""
    return json.dumps({"r": request_id, "v": option}, ensure_ascii=False, separators=(",", ":"))


def _choices(request_id: str, options: tuple[str, ...]) -> list[dict[str, Any]]:
    """One button per option, or a select when there are more than five.

    Slack caps what an option can carry (a button's value at 2,000 characters, a select
    option's at 150): an option too long for the select gets a button beside it, one too long
    for a button is left out, and the question then says the answer can be written instead."""
    if not options:
        return [_note(REPLY_HINT)]
    values = [(i, option, answer_value(request_id, option)) for i, option in enumerate(options)]
    elements: list[dict[str, Any]]
    if len(options) <= BUTTONS_AT_MOST:
        elements = [
            _button(o, f"{ANSWER}:{i}", v) for i, o, v in values if len(v) <= BUTTON_VALUE_LIMIT
        ]
    else:
        listed = [(o, v) for _, o, v in values if len(v) <= OPTION_VALUE_LIMIT][:OPTIONS_LIMIT]
        elements = [_select(listed)] if listed else []
        elements += [
            _button(o, f"{ANSWER}:{i}", v)
            for i, o, v in values
            if OPTION_VALUE_LIMIT < len(v) <= BUTTON_VALUE_LIMIT
        ][: ELEMENTS_LIMIT - len(elements)]
    blocks = [_actions(request_id, elements)] if elements else []
    offered = sum(len(e.get("options", ())) or 1 for e in elements)
    if offered < len(options):
        blocks.append(_note("Or reply in this thread with your answer."))
    return blocks


def _select(options: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": ANSWER,
        "placeholder": {"type": "plain_text", "text": "Choose an answer", "emoji": True},
        "options": [
            {"text": {"type": "plain_text", "text": _label(o), "emoji": True}, "value": v}
            for o, v in options
        ],
    }


# --- outcomes ----------------------------------------------------------------------------------


def _outcome(message: OutboundMessage) -> dict[str, Any]:
    """The request's copy, updated: what became of it, in bold, and no buttons."""
    converted = mrkdwn(message.text)
    one_line = bool(converted) and "\n" not in converted and "*" not in converted
    shown = f"*{converted}*" if one_line else converted
    chunks = _sections(shown, NOTICE_SECTIONS) or [EMPTY]
    blocks = [_section(c) for c in chunks]
    _mark_edit(blocks, message.edit_of)
    return _message(chunks, blocks)


def _mark_edit(blocks: list[dict[str, Any]], edit_of: str | None) -> None:
    """Name the copy this message replaces in the id of its first block without one, where the
    id fits."""
    marker = EDITS_BLOCK + edit_of if edit_of else None
    if marker is None or len(marker) > ID_LIMIT:
        return
    free = next((b for b in blocks if "block_id" not in b), None)
    if free is not None:
        free["block_id"] = marker


def _clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…"; never inside an entity it cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:] and re.match(r"&[#\w]{1,8};", text[amp:]):
        cut = cut[:amp]
    return cut + ELLIPSIS
