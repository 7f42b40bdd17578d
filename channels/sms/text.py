"""What Switchboard texts: an `OutboundMessage` as the body of one SMS, within a few segments.
Pure and deterministic.

The payload (agreed with the transport):

    {"to": "<the recipient's address: an E.164 number>",
     "body": "<the text, never empty>",
     "segments": <how many segments the body is sent as>,
     "encoding": "GSM-7" | "UCS-2",
     "settles": "<message id>" (an outcome only, where it names the request's text: `edit_of`)}

`segments` and `encoding` are segments.py's count of the body; the console's preview counts again.
A text cannot be edited once sent, so an outcome is sent as a new text (the transport's `edit`
sends); `settles` only tells the console which text it settles, as every channel's outcome does.

A text reads as the phone shows it: Markdown made plain (markdown-it-py's tokens: no `**`, no
backticks; a link is "text (url)", a list item a line starting "- " or "1. "), the Slack and
Discord forms a model may copy (`<@U1>`, `<url|text>`, `<t:…>`) as what they stand for, and the
typography models like (curly quotes, dashes, "…", odd spaces) as their GSM-7 twins, so that one
smart quote does not switch the text to UCS-2 and halve its room. What is really not GSM-7
(names, emoji) is left alone. The agent speaks under its name, once, at the start ("Deploy bot:").

- a reply: at most 3 segments; a longer one is cut, ending with a link to its conversation in
  the console (`<console>/threads/<thread id>`) where the thread is known;
- a request: the question (shortened if need be), who it is for, the tool's arguments and who may
  decide where they fit, how far an approval is (its progress: "1 of 2: approved by Alice via
  discord; waiting for one more"), the options numbered, the deadline, and how to answer by its
  code, which is never cut: "Reply YES 417 to approve or NO 417 and a reason to reject.", "Reply
  417 and a number, or 417 and your answer.", "Reply 417 and your answer.". The same request
  with new progress (a step towards a quorum, `edit_of` set) is a new text of its own, so it says
  all this again;
- a notice: the text, within 2 segments;
- an outcome: a text cannot be edited once sent, so a new short one: "Settled: <what became of
  it> (417)", within 2 segments; a step towards a quorum, to someone who approved already, is
  no settlement: "1 of 2: approved by Alice via sms; waiting for one more (417)".

What an outside caller tells the decider (its context, "Context: CI run 1842 passed.") is shown
after the question, shortened to CONTEXT_SHOWN characters, where the whole question fits, and is
the first to give way.

Who may decide ("Who may decide: role:deploy-approver; 2 different people must approve (not Bob,
who asked)") is shown whole or not at all, and is the next to give way when the question needs
the room (then the arguments): the person it reaches may decide (the requester is not asked), a
quorum shows again in the progress once someone approved, and cut, the line could lose who may
not. The progress stays, shortened if need be, unless even then the question would keep less
than QUESTION_KEPT characters.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markdown_it import MarkdownIt
from markdown_it.token import Token

from channels.sms.segments import encoding, fit, fits, segments
from core.channels import OutboundMessage, RequestContext

REPLY_SEGMENTS = 3
REQUEST_SEGMENTS = 3
NOTICE_SEGMENTS = 2
OUTCOME_SEGMENTS = 2
EMPTY = "(no text)"  # a text with no body is refused
NAME_SHOWN = 24  # characters of an agent's name
REQUESTER_SHOWN = 32
OPTION_SHOWN = (60, 30, 16)  # an option's label, shorter as room runs out
QUESTION_KEPT = 40  # a shortened question keeps at least this much, else options give way
REPLY_KEPT = 80  # a cut reply keeps at least this much, else it goes without the link
PROGRESS_SHOWN = (120, 40)  # an approval's progress, shorter if the question needs the room
DECIDERS_SHOWN = 160  # who may decide, whole or not at all
CONTEXT_SHOWN = 120  # what an outside caller tells the decider, the first to give way
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def render(message: OutboundMessage, console_url: str) -> dict[str, Any]:
    """The SMS payload for `message` (see the module's docstring); `console_url` is the
    console's public address, which a cut reply links to."""
    match message.kind:
        case "request":
            body = _request(message)
        case "notice":
            body = fit(speaker(message.agent) + (plain(message.text) or EMPTY), NOTICE_SEGMENTS)
        case "outcome":
            body = _outcome(message)
        case _:
            body = _reply(message, console_url)
    payload: dict[str, Any] = {
        "to": message.address,
        "body": body,
        "segments": segments(body),
        "encoding": encoding(body),
    }
    if message.kind == "outcome" and message.edit_of:
        payload["settles"] = message.edit_of
    return payload


def speaker(agent: str) -> str:
    """Who speaks, once at the start of a text: "deploy" → "Deploy bot: "; no name, nothing."""
    name = " ".join(gsm_friendly(agent).split())[:NAME_SHOWN].strip()
    if not name:
        return ""
    name = name[0].upper() + name[1:]
    return f"{name}: " if name.lower().endswith("bot") else f"{name} bot: "


def thread_link(console_url: str, thread_id: str | None) -> str | None:
    """The console's page for the whole conversation, where both are known."""
    if not thread_id or not console_url.strip():
        return None
    return f"{console_url.strip().rstrip('/')}/threads/{quote(thread_id, safe='')}"


def when(moment: datetime) -> str:
    """A moment, short and in UTC: "14:00 UTC 30 Nov" (a naive one is taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment:%H:%M} UTC {moment.day} {MONTHS[moment.month - 1]}"


# --- replies, notices, outcomes ----------------------------------------------------------------


def _reply(message: OutboundMessage, console_url: str) -> str:
    body = speaker(message.agent) + (plain(message.text) or EMPTY)
    if fits(body, REPLY_SEGMENTS):
        return body
    link = thread_link(console_url, message.thread_id)
    if link is not None:
        suffix = f"\nFull reply: {link}"
        try:
            cut = fit(body, REPLY_SEGMENTS, suffix)
        except ValueError:  # a console address too long to leave room for the reply
            cut = ""
        if len(cut) >= min(len(body), REPLY_KEPT):
            return cut + suffix
    return fit(body, REPLY_SEGMENTS)


def _outcome(message: OutboundMessage) -> str:
    code = _one_line(message.reply_code)
    suffix = f" ({code})" if code else ""
    said = " ".join(plain(message.text).split()) or "Settled"
    step = message.context is not None and bool(message.context.progress)  # still open
    said = said if step else f"Settled: {said}"
    return fit(said, OUTCOME_SEGMENTS, suffix) + suffix


# --- requests ----------------------------------------------------------------------------------


def _request(message: OutboundMessage) -> str:
    context = message.context or RequestContext()
    approval = message.request_kind == "approval"
    code = _one_line(message.reply_code)
    question = plain(message.text) or plain(context.question)
    if not question:
        question = f"Run {_one_line(context.tool)}?" if approval and context.tool else "(no text)"
    head = speaker(message.agent or context.agent) + question
    requester = _one_line(gsm_friendly(context.requester or ""))[:REQUESTER_SHOWN].strip()
    for_whom = f" (for {requester})" if requester and requester not in question else ""
    last: list[str] = []
    if context.deadline is not None:
        last.append(f"{'Decide' if approval else 'Answer'} by {when(context.deadline)}.")
    last.append(_instruction(approval, code, bool(message.options)))
    extras = [e for e in (_arguments(context), _deciders(context)) if e] if approval else []
    about = _about(context)
    options = () if approval else message.options
    listed_whole = _option_lists(options)[0]
    # Only where the whole question fits: what the caller says first, then who may decide,
    # then the arguments give way.
    extra_sets = (
        ([about, *extras], extras, extras[:1], extras[1:])
        if about
        else (extras, extras[:1], extras[1:])
    )
    for progress in _progress(context) if approval else [""]:
        then = [progress, *last] if progress else last
        for shown in extra_sets:
            whole = _lines(head + for_whom, *shown, *listed_whole, *then)
            if shown and fits(whole, REQUEST_SEGMENTS):
                return whole
        for listed in _option_lists(options):
            tail = _lines(for_whom, *listed, *then)
            try:
                cut = fit(head, REQUEST_SEGMENTS, tail)
            except ValueError:
                continue
            if cut == head or len(cut) >= len(head) - len(question) + QUESTION_KEPT:
                return cut + tail
    # Nothing fits with the question (only a name or code too long could do this): the
    # instructions and the code, whole, matter more than the count.
    tail = _lines(for_whom, *last)
    try:
        return fit(head, REQUEST_SEGMENTS, tail) + tail
    except ValueError:
        return head[:QUESTION_KEPT] + tail


def _progress(context: RequestContext) -> list[str]:
    """How far an approval is, from the fullest to none: shorter where the question needs room."""
    said = _one_line(gsm_friendly(context.progress))
    if not said:
        return [""]
    return [*dict.fromkeys(_clip(said, limit) for limit in PROGRESS_SHOWN), ""]


def _about(context: RequestContext) -> str:
    """What an outside caller tells the decider, on one line, shortened to CONTEXT_SHOWN."""
    said = _one_line(gsm_friendly(context.context))
    return f"Context: {_clip(said, CONTEXT_SHOWN)}" if said else ""


def _deciders(context: RequestContext) -> str:
    """Who may decide, on one line, whole or not at all (see the module's docstring)."""
    said = _one_line(gsm_friendly(context.deciders))
    line = f"Who may decide: {said}" if said else ""
    return line if len(line) <= DECIDERS_SHOWN else ""


def _instruction(approval: bool, code: str, options: bool) -> str:
    """How to answer in a reply, naming the request by its code (core/inbox.py reads it back)."""
    if approval:
        if code:
            return f"Reply YES {code} to approve or NO {code} and a reason to reject."
        return "Reply YES to approve or NO and a reason to reject."
    if options:
        if code:
            return f"Reply {code} and a number, or {code} and your answer."
        return "Reply with a number, or with your answer."
    return f"Reply {code} and your answer." if code else "Reply with your answer."


def _option_lists(options: Sequence[str]) -> list[list[str]]:
    """The numbered options, from the fullest to the shortest way of showing them: each label
    shorter, then fewer of them (a reply may still name one by number, or say it)."""
    labels = [" ".join(plain(o).split()) or "(no text)" for o in options]
    found = [
        [f"{i} {_clip(label, limit)}" for i, label in enumerate(labels, 1)]
        for limit in OPTION_SHOWN
    ]
    shortest = found[-1] if found else []
    for count in range(len(shortest) - 1, -1, -1):
        more = len(shortest) - count
        found.append([*shortest[:count], f"...and {more} more"])
    return found or [[]]


def _arguments(context: RequestContext) -> str:
    """The tool's arguments on one line, exactly: "deploy: service=api, version=2.4.1". A value
    that could be misread (empty, with a comma, an equals sign, a line break) is in JSON."""
    if not context.arguments:
        return ""
    shown = ", ".join(f"{_one_line(str(k))}={_value(v)}" for k, v in context.arguments.items())
    tool = _one_line(context.tool or "")
    return f"{tool}: {shown}" if tool else shown


def _value(value: object) -> str:
    if isinstance(value, str) and value and not _AMBIGUOUS.search(value) and value == value.strip():
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


_AMBIGUOUS = re.compile(r"[,=\"\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _lines(first: str, *rest: str) -> str:
    return "\n".join([first, *rest])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


# --- plain text --------------------------------------------------------------------------------


def plain(markdown: str) -> str:
    """`markdown` as a text message shows it: plain, GSM-7 where the writer meant it, tidy."""
    return _tidy(gsm_friendly(_unmarked(_entities(markdown))))


# The typography models like, as GSM-7 has it; what GSM-7 lacks for real (names, emoji) stays.
_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"),
        **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", " "),
        **dict.fromkeys("\u202f\u205f\t", " "),
        **dict.fromkeys("\u2028\u2029\u000b\u000c\r", "\n"),
        **dict.fromkeys("\u200b\u2060\ufeff\u00ad", None),  # invisible, and not GSM-7
        "\u2026": "...",
        "\u2022": "-",
        "\u2192": "->",
        "\u2190": "<-",
        "\u21d2": "=>",
    }
)
_DASH = re.compile(r"[ ]*[\u2014\u2015][ ]*")
_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def gsm_friendly(text: str) -> str:
    """`text` with curly quotes, dashes, "…", bullets, arrows and odd spaces as GSM-7 has them
    (an em dash as " - "), invisible characters and control characters gone."""
    text = _DASH.sub(" - ", text.replace("\r\n", "\n").translate(_TYPOGRAPHY))
    return _CONTROLS.sub("", text)


def _tidy(text: str) -> str:
    """Each line's runs of spaces as one (its indent kept), no blank lines, no trailing spaces."""
    lines = []
    for line in text.split("\n"):
        words = line.split()
        if words:
            indent = len(line) - len(line.lstrip(" "))
            lines.append(" " * indent + " ".join(words))
    return "\n".join(lines)


# Slack's and Discord's forms in angle brackets, which a model may copy from what it read:
# <@U1|name> <@!1> <#C1|general> <!here> <https://x|text> <t:1700000000:f> <:smile:1>
_ENTITY = re.compile(
    r"<(?:(?P<who>[@#!][^<>\s|]*)|(?P<url>(?:https?|mailto):[^<>\s|]+)"
    r"|t:(?P<unix>-?\d{1,12})(?::[tTdDfFR])?|a?:(?P<emoji>\w+):\d+)(?:\|(?P<label>[^<>\n]*))?>"
)


def _entities(text: str) -> str:
    return _ENTITY.sub(_entity, text)


def _entity(m: re.Match[str]) -> str:
    label = (m["label"] or "").strip()
    if m["url"]:
        return f"{label} ({m['url']})" if label and label != m["url"] else m["url"]
    if m["unix"]:
        try:
            return when(datetime.fromtimestamp(int(m["unix"]), UTC))
        except (ValueError, OverflowError, OSError):
            return m["unix"]
    if m["emoji"]:
        return f":{m['emoji']}:"
    who = m["who"]
    if who.startswith("#"):
        return "#" + (label.lstrip("#") or who[1:])
    if who.startswith("!date"):  # <!date^1700000000^{date}|the fallback text>
        return label
    if label:
        return "@" + label.lstrip("@")
    if who.startswith("!"):  # <!here>, <!channel>, <!subteam^ID>
        return "@" + who[1:].partition("^")[0]
    return "@" + who[1:].lstrip("!&")


@functools.cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


_TAGS = re.compile(r"<!--.*?-->|<[^<>]*>", re.DOTALL)
_STARS = re.compile(r"\*\*+|~~+")  # markers left unpaired: shown as nothing


def _unmarked(markdown: str) -> str:
    """The text of `markdown`, one block a line: a heading or paragraph as its text, a list item
    after "- " or its number (nested ones indented), a table row's cells joined by ", ", code as
    written, HTML's tags dropped."""
    lines: list[str] = []
    lists: list[int | None] = []  # each open list: None for bullets, else the next number
    marker: str | None = None  # the list item's marker, for its first block
    row: list[str] | None = None

    def emit(text: str) -> None:
        nonlocal marker
        indent = "  " * len(lists)
        lead = indent[:-2] + marker if marker else indent
        marker = None
        for i, line in enumerate(text.split("\n")):
            lines.append((lead if i == 0 else indent) + line)

    for token in _markdown().parse(markdown):
        match token.type:
            case "bullet_list_open":
                lists.append(None)
            case "ordered_list_open":
                lists.append(_start(token))
            case "bullet_list_close" | "ordered_list_close":
                lists.pop()
            case "list_item_open":
                number = lists[-1] if lists else None
                marker = "- " if number is None else f"{number}. "
                if number is not None:
                    lists[-1] = number + 1
            case "list_item_close":
                marker = None
            case "tr_open":
                row = []
            case "tr_close":
                emit(", ".join(cell for cell in row or () if cell))
                row = None
            case "inline" if row is not None:
                row.append(" ".join(_inline(token.children or []).split()))
            case "inline":
                emit(_inline(token.children or []))
            case "fence" | "code_block":
                emit(token.content.rstrip("\n"))
            case "html_block":
                emit(_TAGS.sub("", token.content).strip("\n"))
    return "\n".join(lines)


def _start(token: Token) -> int:
    start = token.attrGet("start")
    return int(start) if isinstance(start, int | str) and str(start).isdigit() else 1


def _inline(children: list[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []  # each open link: its address, where its text starts
    for child in children:
        match child.type:
            case "text":
                out.append(_STARS.sub("", child.content))
            case "code_inline":
                out.append(child.content)
            case "softbreak" | "hardbreak":
                out.append("\n")
            case "link_open":
                href = child.attrGet("href")
                links.append(("" if child.markup == "autolink" else str(href or ""), len(out)))
            case "link_close" if links:
                href, start = links.pop()
                if href and "".join(out[start:]).strip() != href:
                    out.append(f" ({href})")
            case "image":
                src = str(child.attrGet("src") or "")
                out.append(f"{child.content} ({src})" if child.content else src)
    return "".join(out)
