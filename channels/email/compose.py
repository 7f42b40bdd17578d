"""What Switchboard emails: an `OutboundMessage` as the payload the outbox stores and the
transport sends (`compose`), and that payload as the MIME message that goes out (`mime`).
Pure and deterministic: no clock, no network.

The payload (agreed with the transport), plain JSON:

    {"from": "Deploy agent via Switchboard <agents@example.com>",
     "to": ["<the recipient's address>"],
     "subject": "<one line, as the caller gave it>",
     "message_id": "<…@example.com>",
     "in_reply_to": "<…@example.com>" | None,
     "references": ["<…@example.com>", ...],
     "reply_to": "agents+<token>@example.com" | None,
     "headers": {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
     "text": "<the text/plain part, ending in a line break>",
     "html": "<the text/html part: a whole document, inline CSS only, ending in a line break>"}

The caller (the codec) chooses the subject (with its "Re:"), the ids that thread the mail and the
reply token; `compose` only lays them out, each on one line. The agent speaks in the From name
("Deploy agent via Switchboard", after EMAIL_FROM's own name, else "Switchboard").

- a reply: the agent's Markdown as written (it reads well as plain text), and drawn as HTML by
  markdown-it-py with raw HTML escaped, links only to http(s) and mailto, images as links (no
  remote image loads), code and tables styled inline;
- a request: how far an approval is, once it has some of the approvals it needs ("Progress: 1 of
  2: approved by Alice via discord; waiting for one more"), the question, how to answer in the
  words a person types on a phone ("Reply APPROVE to approve, or REJECT and a reason to
  reject.", "Reply with the number of your choice:" and the options numbered, "Reply with your
  answer."), the deadline in UTC ("Decide by 14:00 UTC, 30 Nov 2026; then it is rejected."),
  then who asked, through which agent, with which tool, who may decide (an approval's), and the
  tool's arguments, each value exactly (a string as written, anything else, or a string that
  could be misread, in JSON; a long one cut with "…"). A question longer than a few lines
  follows the instructions, so that those are always in the first lines a phone shows. A mail
  cannot be edited: the same request with new progress (a step towards a quorum) is a new mail;
- a notice: the text, plain;
- an outcome: a mail cannot be edited once sent, so a new one in the thread: what became of the
  request ("Approved by Alice via slack, 14:02 UTC") and its gist.

Both parts end with a link to the conversation in the console, where the thread is known.

`mime` makes the payload the `multipart/alternative` message (text/plain, then text/html, UTF-8
in quoted-printable or base64) with the modern policy. Whatever it reads is made safe to write:
line breaks and control characters in the subject, names, ids and header values become spaces,
and an extra header may only be an `X-` one, Auto-Submitted, Precedence or a `List-` one (never
a recipient). An address it cannot write (not an address; a non-ASCII local part, which needs
SMTPUTF8) raises ValueError: there is no one to send that mail to.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from typing import Any
from urllib.parse import quote

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from core.channels import OutboundMessage, RequestContext

SERVICE = "Switchboard"  # the From name when EMAIL_FROM has none
EMPTY = "(no text)"
NAME_SHOWN = 78  # characters of a display name
# Bytes of a display name that is not ASCII: its encoded word then fits on the header's first
# line. A longer one is split in two encoded words, and Python's folder then drops a space the
# name had, or its parser reads one in that the name did not have.
NAME_BYTES = 40
SUBJECT_SHOWN = 300
HEADER_SHOWN = 900  # an extra header's value, on one line within SMTP's 998
KEY_SHOWN = 60  # an argument's name
VALUE_SHOWN = 300  # an argument's value, before "…"
ARGUMENTS_SHOWN = 40
GIST_SHOWN = 140  # the request's question, in its outcome
DECIDERS_SHOWN = 300  # who may decide an approval
PROGRESS_SHOWN = 300  # how far it is
LEAD_CHARS = 300  # a question longer than this, or than LEAD_LINES, follows the instructions
LEAD_LINES = 4
ELLIPSIS = "\u2026"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
APPROVAL_HOW = "Reply APPROVE to approve, or REJECT and a reason to reject."
CHOICE_HOW = "Reply with the number of your choice:"
ANSWER_HOW = "Reply with your answer."
HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
DECIDERS = "Who may decide"  # a fact's label
PROGRESS = "Progress"

# 7bit: a non-ASCII body goes as quoted-printable or base64, never as 8bit a server may refuse.
POLICY = default.clone(cte_type="7bit")


def compose(
    message: OutboundMessage,
    *,
    sender: str,
    subject: str,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    reply_to: str | None,
    console_url: str,
) -> dict[str, Any]:
    """The email payload for `message` (see the module's docstring). `sender` is EMAIL_FROM:
    an address, perhaps with a display name."""
    match message.kind:
        case "request":
            text, html = _request(message)
        case "outcome":
            text, html = _outcome(message)
        case "notice":
            body = _text(message.text) or EMPTY
            text, html = body, _paragraphs(body)
        case _:
            body = _text(message.text) or EMPTY
            text, html = body, markdown_html(body)
    link = thread_link(console_url, message.thread_id)
    if link is not None:
        text += f"\n\n-- \nThe whole conversation: {link}"
        html += _footer(link)
    subject = _clip(one_line(subject), SUBJECT_SHOWN)
    return {
        "from": sender_of(sender, message.agent),
        "to": [one_line(message.address)],
        "subject": subject,
        "message_id": _id(message_id),
        "in_reply_to": _id(in_reply_to) or None,
        "references": [i for i in map(_id, references) if i],
        "reply_to": one_line(reply_to) or None,
        "headers": dict(HEADERS),
        "text": text + "\n",
        "html": _document(subject, html) + "\n",
    }


def sender_of(sender: str, agent: str) -> str:
    """The From header: the agent named before EMAIL_FROM's name ("Deploy agent via
    Switchboard <agents@example.com>")."""
    name, address = split_address(one_line(sender))
    service = one_line(name) or SERVICE
    speaker = _speaker(agent)
    display = display_name(f"{speaker} via {service}" if speaker else service)
    return f"{_quoted(display)} <{address}>" if address else display


def thread_link(console_url: str, thread_id: str | None) -> str | None:
    """The console's page for the whole conversation, where both are known."""
    base = one_line(console_url).rstrip("/")
    if not thread_id or not base:
        return None
    return f"{base}/threads/{quote(thread_id, safe='')}"


def when(moment: datetime) -> str:
    """A moment in UTC, in words a person reads at a glance: "14:00 UTC, 30 Nov 2026"."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment:%H:%M} UTC, {moment.day} {MONTHS[moment.month - 1]} {moment.year}"


# --- requests ----------------------------------------------------------------------------------


def _request(message: OutboundMessage) -> tuple[str, Markup]:
    context = message.context or RequestContext()
    approval = message.request_kind == "approval"
    question = _text(message.text) or _text(context.question)
    if not question:
        tool = one_line(context.tool)
        question = f"Run {tool}?" if approval and tool else EMPTY
    lead = len(question) <= LEAD_CHARS and question.count("\n") < LEAD_LINES
    options = () if approval else tuple(one_line(o) or EMPTY for o in message.options)
    how = APPROVAL_HOW if approval else CHOICE_HOW if options else ANSWER_HOW
    numbered = [f"{i}. {o}" for i, o in enumerate(options, 1)]
    deadline = _deadline(context.deadline, approval)
    facts = _facts(context, approval)
    arguments = _arguments(context.arguments)
    progress = _clip(one_line(context.progress), PROGRESS_SHOWN) if approval else ""

    text = [f"{PROGRESS}: {progress}"] if progress else []
    text += [question] if lead else []
    text.append("\n".join([how, *numbered]))
    text += [deadline] if deadline else []
    text += [] if lead else [question]
    text += [_aligned(facts)] if facts else []
    text += ["Arguments:\n" + _aligned(arguments, indent="  ")] if arguments else []

    html = [_progress_html(progress)] if progress else []
    html += [markdown_html(question)] if lead else []
    html.append(_how_html(approval, options))
    html += [Markup('<p style="{}">{}</p>').format(_DEADLINE, deadline)] if deadline else []
    html += [] if lead else [markdown_html(question)]
    html += [_table(facts, _FACTS_TABLE, _LABEL, _CELL)] if facts else []
    if arguments:
        html.append(Markup('<p style="{}">Arguments</p>').format(_HEADING))
        html.append(_table(arguments, _ARGUMENTS_TABLE, _KEY, _VALUE))
    return "\n\n".join(text), Markup("\n").join(html)


def _how_html(approval: bool, options: Sequence[str]) -> Markup:
    if approval:
        how = Markup("Reply <strong>APPROVE</strong> to approve, or <strong>REJECT</strong>")
        how += " and a reason to reject."
    else:
        how = Markup(escape(CHOICE_HOW if options else ANSWER_HOW))
    lines = [Markup('<p style="{}">{}</p>').format(_HOW, how)]
    lines += [
        Markup('<p style="{}"><strong>{}.</strong> {}</p>').format(_OPTION, i, o)
        for i, o in enumerate(options, 1)
    ]
    return Markup('<div style="{}">{}</div>').format(_HOW_BOX, Markup("\n").join(lines))


def _progress_html(progress: str) -> Markup:
    return Markup('<p style="{}"><strong>{}:</strong> {}</p>').format(_PROGRESS, PROGRESS, progress)


def _deadline(deadline: datetime | None, approval: bool) -> str:
    if deadline is None:
        return ""
    if approval:
        return f"Decide by {when(deadline)}; then it is rejected."
    return f"Answer by {when(deadline)}; then it closes unanswered."


def _facts(context: RequestContext, approval: bool) -> list[tuple[str, str]]:
    """Who asks, through which agent, with which tool; who may decide an approval."""
    found = [
        ("Requested by", one_line(context.requester)),
        ("Agent", one_line(context.agent)),
        ("Tool", one_line(context.tool)),
        ("Context", one_line(context.context)),
    ]
    facts = [(label, _clip(value, NAME_SHOWN)) for label, value in found if value]
    deciders = one_line(context.deciders)
    if approval and deciders:
        facts.append((DECIDERS, _clip(deciders, DECIDERS_SHOWN)))
    return facts


def _arguments(arguments: Mapping[str, Any]) -> list[tuple[str, str]]:
    items = list(arguments.items())
    shown = [
        (_clip(one_line(str(k)), KEY_SHOWN) or '""', _clip(_value(v), VALUE_SHOWN))
        for k, v in items[:ARGUMENTS_SHOWN]
    ]
    if len(items) > ARGUMENTS_SHOWN:
        more = len(items) - ARGUMENTS_SHOWN
        shown.append((ELLIPSIS, f"and {more} more, not shown"))
    return shown


def _value(value: object) -> str:
    """A value exactly: a string as written, unless it could be misread (empty, spaces around
    it, a line break or a control character in it); anything else in JSON, never a repr."""
    if isinstance(value, str) and value and value == value.strip() and not _UNCLEAR.search(value):
        return value
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):  # a circular value, or keys JSON refuses
        shown = json.dumps(str(value), ensure_ascii=False)
    return _SURROGATES.sub("\ufffd", shown)  # what no database or mail can carry


_UNCLEAR = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _aligned(rows: Sequence[tuple[str, str]], indent: str = "") -> str:
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join(f"{indent}{label + ':':<{width}} {value}" for label, value in rows)


def _table(rows: Sequence[tuple[str, str]], table: str, left: str, right: str) -> Markup:
    cells = Markup('<tr><th style="{}">{}</th><td style="{}">{}</td></tr>')
    body = Markup("\n").join(cells.format(left, k, right, v) for k, v in rows)
    return Markup('<table style="{}">\n{}\n</table>').format(table, body)


# --- outcomes, notices -------------------------------------------------------------------------


def _outcome(message: OutboundMessage) -> tuple[str, Markup]:
    said = _text(message.text) or "Settled"
    context = message.context or RequestContext()
    gist = _clip(one_line(context.question), GIST_SHOWN)
    text = f"{said}\n\nThe request: {gist}" if gist else said
    html = Markup('<p style="{}">{}</p>').format(_SETTLED, said)
    if gist:
        html += Markup('\n<p style="{}">The request: {}</p>').format(_MUTED, gist)
    return text, html


def _paragraphs(text: str) -> Markup:
    """Plain text as HTML: its paragraphs, its line breaks kept, everything escaped."""
    blocks = (b.strip("\n") for b in re.split(r"\n\s*\n", text))
    return Markup("\n").join(
        Markup('<p style="{}">{}</p>').format(_P, Markup("<br>\n").join(b.split("\n")))
        for b in blocks
        if b.strip()
    )


def _footer(link: str) -> Markup:
    shown = (
        Markup('<a href="{}" style="{}">{}</a>').format(link, _LINK, link)
        if link.startswith(("https://", "http://"))
        else escape(link)
    )
    return Markup('\n<p style="{}">The whole conversation: {}</p>').format(_FOOTER, shown)


def _document(subject: str, body: Markup) -> str:
    return str(
        Markup(
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<title>{}</title>\n</head>\n"
            '<body style="{}">\n<div style="max-width:640px">\n{}\n</div>\n</body>\n</html>'
        ).format(subject, _BODY, body)
    )


# --- Markdown, as HTML a mail client draws -----------------------------------------------------

_FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
_BODY = (
    f"margin:0;padding:16px;background:#ffffff;color:#1f2328;{_FONT};font-size:16px;line-height:1.5"
)
_P = "margin:0 0 12px"
_LINK = "color:#0969da"
_MUTED = "margin:0 0 12px;color:#59636e"
_HOW_BOX = "margin:0 0 12px;padding:10px 14px;border-left:4px solid #bf8700;background:#fff8c5"
_HOW = "margin:0;font-weight:600"
_OPTION = "margin:4px 0 0"
_DEADLINE = "margin:0 0 12px;color:#9a3412"
_PROGRESS = "margin:0 0 12px;padding:6px 10px;background:#ddf4ff;border-left:4px solid #0969da"
_HEADING = "margin:16px 0 4px;font-weight:600"
_SETTLED = "margin:0 0 12px;font-weight:600"
_FOOTER = (
    "margin:24px 0 0;padding-top:8px;border-top:1px solid #d1d9e0;color:#59636e;font-size:13px"
)
_FACTS_TABLE = "border-collapse:collapse;margin:0 0 12px"
# fixed: a long value wraps in its own column, never squeezing the names to a letter a line
_ARGUMENTS_TABLE = "border-collapse:collapse;margin:0 0 12px;width:100%;table-layout:fixed"
_LABEL = "padding:2px 12px 2px 0;text-align:left;vertical-align:top;font-weight:normal;color:#59636e;white-space:nowrap"
_CELL = "padding:2px 0;vertical-align:top"
_KEY = f"padding:4px 8px;text-align:left;vertical-align:top;font-weight:normal;border:1px solid #d1d9e0;background:#f6f8fa;{_MONO};font-size:14px;width:35%;overflow-wrap:anywhere;word-break:break-word"
_VALUE = f"padding:4px 8px;vertical-align:top;border:1px solid #d1d9e0;{_MONO};font-size:14px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word"
_CODE = f"{_MONO};font-size:90%;background:#f6f8fa;padding:1px 4px;border-radius:4px"
_PRE = f"margin:0 0 12px;padding:12px;background:#f6f8fa;border-radius:6px;{_MONO};font-size:14px;line-height:1.45;white-space:pre-wrap;word-break:break-word"
_STYLES = {
    "p": _P,
    "a": _LINK,
    "code": _CODE,
    "blockquote": "margin:0 0 12px;padding:0 12px;border-left:4px solid #d1d9e0;color:#59636e",
    "ul": "margin:0 0 12px;padding-left:24px",
    "ol": "margin:0 0 12px;padding-left:24px",
    "table": "border-collapse:collapse;margin:0 0 12px",
    "th": "border:1px solid #d1d9e0;padding:4px 8px;background:#f6f8fa",
    "td": "border:1px solid #d1d9e0;padding:4px 8px",
    "hr": "border:0;border-top:1px solid #d1d9e0;margin:16px 0",
    **{f"h{n}": f"margin:16px 0 8px;line-height:1.3;font-size:{size}px" for n, size in
       enumerate((24, 20, 18, 16, 16, 16), 1)},
}  # fmt: skip
SCHEMES = ("http", "https", "mailto")  # what a link may open: nothing relative, nothing active


class _MailRenderer(RendererHTML):
    """markdown-it's HTML, for a mail client: an image as a link to it (nothing loads from
    elsewhere when the mail is opened), code blocks with their style on `<pre>`, a link to
    nowhere as its text."""

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        src = str(token.attrGet("src") or "")
        if not src:
            return str(escape(alt))
        return str(Markup('<a href="{}" style="{}">{}</a>').format(src, _LINK, alt or src))

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return str(
            Markup('<pre style="{}"><code>{}</code></pre>\n').format(_PRE, tokens[idx].content)
        )

    code_block = fence

    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return "" if tokens[idx].meta.get("plain") else self.renderToken(tokens, idx, options, env)

    link_close = link_open


class _MailMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return _opens(url)


def _opens(url: str) -> bool:
    """Whether a link may open `url`: an absolute http(s) or mailto address."""
    scheme, colon, _ = url.partition(":")
    return bool(colon) and scheme.lower() in SCHEMES


@functools.cache
def _markdown() -> MarkdownIt:
    # breaks: an agent that starts a new line means one, as in chat
    options = {"html": False, "breaks": True}
    return _MailMarkdown("commonmark", options, renderer_cls=_MailRenderer).enable(
        ["table", "strikethrough"]
    )


def markdown_html(markdown: str) -> Markup:
    """`markdown` as HTML a mail client draws: styled inline, raw HTML escaped, safe links."""
    md = _markdown()
    tokens = md.parse(markdown)
    _style(tokens)
    return Markup(md.renderer.render(tokens, md.options, {}).strip("\n"))


def _style(tokens: Sequence[Token]) -> None:
    """Each tag's inline style; a link to nowhere (`[a]()`, which markdown-it does not check)
    made plain text."""
    links: list[bool] = []
    for token in tokens:
        if token.type == "link_open":
            links.append(_opens(str(token.attrGet("href") or "")))
        if token.type in ("link_open", "link_close") and not (links[-1] if links else True):
            token.meta["plain"] = True
        if token.type == "link_close" and links:
            links.pop()
        css = _STYLES.get(token.tag)
        if css and token.nesting >= 0:
            own = token.attrGet("style")
            token.attrSet("style", f"{css};{own}" if own else css)
        if token.children:
            _style(token.children)


# --- MIME --------------------------------------------------------------------------------------

# Headers `mime` writes itself, and ones no payload may add (recipients, the MIME structure).
_OWN = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references"}
_OWN |= {"reply-to", "sender", "mime-version", "return-path"}
_EXTRA = re.compile(r"(?i:x-[!-9;-~]+|list-[!-9;-~]+|auto-submitted|precedence)")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def mime(payload: Mapping[str, Any], *, date: datetime) -> EmailMessage:
    """The payload as the message to send: `multipart/alternative`, text then HTML. Raises
    ValueError for an address it cannot write; anything else it makes safe."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = address(_str(payload.get("from")))
    to = [address(a) for a in _strs(payload.get("to"))]
    if not to:
        raise ValueError("the payload names no recipient")
    msg["To"] = to
    _subject(msg, _clip(one_line(_str(payload.get("subject"))), SUBJECT_SHOWN))
    msg["Date"] = date.replace(tzinfo=UTC) if date.tzinfo is None else date
    for name, key in (("Message-ID", "message_id"), ("In-Reply-To", "in_reply_to")):
        if found := _id(_str(payload.get(key))):
            msg[name] = found
    if references := " ".join(i for i in map(_id, _strs(payload.get("references"))) if i):
        msg["References"] = references
    if reply_to := _str(payload.get("reply_to")):
        msg["Reply-To"] = address(reply_to)
    headers = payload.get("headers")
    for name, value in headers.items() if isinstance(headers, Mapping) else ():
        if isinstance(name, str) and _EXTRA.fullmatch(name) and name.lower() not in _OWN:
            msg[name] = _clip(one_line(_str(value)), HEADER_SHOWN)
    text, html = _body(payload.get("text")), _body(payload.get("html"))
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
        # A boundary made from the parts: the same payload makes the same bytes.
        msg.set_boundary("=_sb_" + hashlib.sha256((text + html).encode()).hexdigest()[:40])
    return msg


def _subject(msg: EmailMessage, subject: str) -> None:
    """Folded by the older Header, between words: the modern folder moves a subject that fits on
    a line of its own there, whole, leaving "Subject:" alone above it (which some readers keep as
    a leading space), and may put a space at a fold between two encoded words, where a reader
    drops it. Encoded when not ASCII, or when it holds what a reader would decode ("=?")."""
    plain = subject.isascii() and "=?" not in subject
    folded = Header(subject, None if plain else "utf-8", header_name="Subject")
    msg.set_raw("Subject", folded.encode(linesep="\n"))


def address(text: str) -> Address:
    """An address header's one address ("Name <a@b.example>" or "a@b.example"), its name on one
    line; ValueError if the address is not one email can carry."""
    name, spec = split_address(one_line(text))
    local, at, domain = spec.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise ValueError(f"not a domain email can carry: {spec!r}") from e
    if not at or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not an email address: {spec!r}")
    return Address(display_name(name), local, domain)


def split_address(text: str) -> tuple[str, str]:
    """("Name", "a@b.example") from "Name <a@b.example>" (the name unquoted), ("", text) else."""
    text = text.strip()
    at = text.rfind("<")
    if not text.endswith(">") or at < 0:
        return "", text
    name, spec = text[:at].strip(), text[at + 1 : -1].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return name, spec


def display_name(name: str) -> str:
    """A name as an address header shows it: on one line, at most NAME_SHOWN characters, or
    NAME_BYTES in UTF-8 where it is not ASCII; a longer one cut, ending in "…". A double quote
    is a single one and a backslash a slash (Python's folder writes a long name that has either
    without its quotes, its specials bare), and "=?" is "= ?" (else it is read as encoded)."""
    name = one_line(name).replace('"', "'").replace("\\", "/").replace("=?", "= ?")
    name = _clip(name, NAME_SHOWN)
    if name.isascii() or len(name.encode()) <= NAME_BYTES:
        return name
    while len(name.encode()) > NAME_BYTES - len(ELLIPSIS.encode()):
        name = name[:-1]
    return name.rstrip() + ELLIPSIS


def one_line(text: str | None) -> str:
    """`text` on one line, safe in a header: line breaks and control characters as spaces, runs
    of spaces as one, characters UTF-8 cannot carry (lone surrogates) as U+FFFD."""
    text = _SURROGATES.sub("\ufffd", _CONTROLS.sub(" ", text or ""))
    return " ".join(text.split())


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def _quoted(name: str) -> str:
    """A display name (one `display_name` made: no quote, no backslash) as an address header
    writes it: quoted where it has specials."""
    return f'"{name}"' if re.search(r"[()<>\[\]:;@,.]", name) else name


def _speaker(agent: str) -> str:
    """The agent as the From name says it: "deploy" is "Deploy agent", "helpbot" "Helpbot"."""
    name = one_line(agent)
    if not name:
        return ""
    name = name[0].upper() + name[1:]
    return name if name.lower().endswith(("agent", "bot")) else f"{name} agent"


def _id(value: str | None) -> str:
    """A message id on one line, with no spaces (which would make it two)."""
    return "".join(one_line(value).split())


def _text(text: str) -> str:
    """A body's text: its line breaks as "\\n", no control characters but tabs, no blank lines
    around it (a first line's indent kept: it may be code)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATES.sub("\ufffd", _BODY_CONTROLS.sub("", text)).strip("\n")
    return text if text.strip() else ""


_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _body(value: object) -> str:
    text = _text(value) if isinstance(value, str) else ""
    return text + "\n" if text else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _strs(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
