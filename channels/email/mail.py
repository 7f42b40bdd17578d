"""An incoming mail read into what the email channel needs: who wrote, in which thread, the text
and the new part of a reply, whether a machine sent it, a bounce, its attachments. Pure: bytes in,
a `Mail` out, no I/O.

`read` parses with the standard library's `email` package and its modern policy, and never raises
on what a mail may carry, only `NotMail` (a ValueError) for bytes that are no mail at all. A
header the standard library's parser fails on is read as its plain text; raw 8-bit header bytes
are read as UTF-8 (RFC 6532), else windows-1252. The text is decoded and chosen in mail_text.py, a bounce read in
mail_bounce.py.

`authenticated` trusts only what the receiving server (the `authserv_id` the deployment names)
wrote in Authentication-Results (RFC 8601); anyone can add such headers under any other name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy, compat32
from email.utils import parseaddr
from typing import Any

from channels.email.mail_bounce import Bounce, bounce_of, message_ids
from channels.email.mail_text import (
    decode_bytes,
    header_text,
    html_text,
    new_text,
    unflow,
)
from core.channels import Attachment
from core.text import CONTROLS

_CONTROL = re.compile(f"[{CONTROLS}]")

__all__ = ["Bounce", "Mail", "NotMail", "authenticated", "plus_token", "read"]

MAX_DEPTH = 32  # MIME parts nested deeper than this are not looked into

# What the standard library's header parsing still raises on some malformed headers, found by
# fuzzing: IndexError in its MIME parameter parser, AttributeError (a group where a mailbox should
# be) and TypeError in its address parser, ValueError for an RFC 2231 charset with a NUL in it.
# Caught only around its calls.
_HEADER_ERRORS = (ValueError, LookupError, AttributeError, TypeError)


class NotMail(ValueError):
    """The bytes are no mail: no header section with a From, or MIME nested beyond reading."""


@dataclass(frozen=True, slots=True)
class Mail:
    """What the email channel reads from one incoming mail. Ids keep their angle brackets."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]  # in order, oldest first, as the header lists them
    subject: str
    from_address: str  # the addr-spec, lower-cased; "" if the From header names none
    from_name: str
    to: tuple[str, ...]  # addr-specs, domains lower-cased (a local part's plus token kept)
    cc: tuple[str, ...]
    date: datetime | None  # aware; a date without a zone is taken as UTC
    return_path: str | None  # "" for the null sender "<>"; None when the header is missing
    delivered_to: tuple[str, ...]  # Delivered-To headers, the last hop's first
    text: str  # the whole text: the text/plain body, else the HTML body as plain text
    reply: str  # only what the person wrote this time
    automatic: str | None  # why a machine sent it (then it is no answer), else None
    bounce: Bounce | None
    attachments: tuple[Attachment, ...]
    authentication_results: tuple[str, ...]  # the headers' values, top (latest) first


class _Policy(EmailPolicy):
    """The modern policy, reading a header's raw 8-bit bytes as text rather than as U+FFFD, and a
    header its registry cannot parse as the plain string it is. Every read of a header, the
    parser's own included (a part's Content-Type, its boundary), comes through here."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        value = header_text(value)
        try:
            return super().header_fetch_parse(name, value)
        except _HEADER_ERRORS:
            return _unfolded(value)


def read(raw: bytes) -> Mail:
    """The mail in `raw` (as received: RFC 5322 bytes). Raises NotMail, and nothing else."""
    try:
        message = BytesParser(policy=_Policy()).parsebytes(raw)
    except RecursionError as e:  # the parser recurses into nested parts
        raise NotMail("MIME parts nested too deeply to read") from e
    if _raw(message, "From") is None:
        raise NotMail("no From header: not a mail")
    parts = _parts(message)
    body = _body(message, 0)
    text = body[1] if body else ""
    senders = _addresses(message, "From")
    sender_name, sender = senders[0] if senders else ("", "")
    return Mail(
        message_id=_first_id(message, "Message-ID"),
        in_reply_to=_first_id(message, "In-Reply-To"),
        references=tuple(message_ids(_raw(message, "References") or "")),
        subject=_unfolded(str(message.get("Subject") or "")),
        from_address=sender.lower(),
        from_name=sender_name,
        to=tuple(_normal(a) for _, a in _addresses(message, "To") if a),
        cc=tuple(_normal(a) for _, a in _addresses(message, "Cc") if a),
        date=_date(message),
        return_path=_return_path(message),
        delivered_to=tuple(_delivered_to(message)),
        text=text,
        reply=new_text(text),
        automatic=_automatic(message),
        bounce=bounce_of(message, parts),
        attachments=tuple(_attachment(part) for part in parts if _is_attached(part)),
        authentication_results=tuple(_raw_all(message, "Authentication-Results")),
    )


def plus_token(address: str, local: str) -> str | None:
    """The token after "+" in `address`'s local part when the rest is `local` (any case):
    plus_token("agents+tok123@example.com", "agents") == "tok123"; else None."""
    user, at, _ = address.strip().strip("<>").rpartition("@")
    base, plus, token = user.partition("+")
    if at and plus and token and base.lower() == local.lower():
        return token
    return None


# Headers


def _raw_all(message: Message, name: str) -> list[str]:
    """A header's values as written (unfolded), read without the header registry."""
    return [
        _unfolded(header_text(str(value)))
        for key, value in message.raw_items()
        if key.lower() == name.lower()
    ]


def _raw(message: Message, name: str) -> str | None:
    values = _raw_all(message, name)
    return values[0] if values else None


def _unfolded(value: str) -> str:
    """A header's value on one line, its control characters (an encoded-word may hold any)
    made spaces: every header read passes here."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _first_id(message: Message, name: str) -> str | None:
    found = message_ids(_raw(message, name) or "")
    return found[0] if found else None


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) of each address in the headers called `name`."""
    found: list[tuple[str, str]] = []
    for header in message.get_all(name) or []:
        addresses = getattr(header, "addresses", None)
        if addresses is None:  # one the registry could not parse: a plain string
            name, spec = parseaddr(str(header))
            found.append((_unfolded(name), _unfolded(spec)))
            continue
        for address in addresses:
            spec = _unfolded(address.addr_spec)
            found.append((_unfolded(address.display_name), "" if spec == "<>" else spec))
    return found


def _normal(address: str) -> str:
    """The address with its domain lower-cased; its local part, which may carry a token, as is."""
    user, at, domain = address.strip().rpartition("@")
    return f"{user}@{domain.lower()}" if at else address.strip()


def _delivered_to(message: Message) -> list[str]:
    found = (parseaddr(value)[1] for value in _raw_all(message, "Delivered-To"))
    return [_normal(address) for address in found if address]


def _date(message: Message) -> datetime | None:
    when = getattr(message.get("Date"), "datetime", None)
    if not isinstance(when, datetime):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _return_path(message: Message) -> str | None:
    value = _raw(message, "Return-Path")
    if value is None:
        return None
    inside = re.search(r"<([^<>]*)>", value)
    return (inside.group(1) if inside else parseaddr(value)[1]).strip()


# Machines

_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_MARKS = ("List-Id", "List-Unsubscribe", "X-Autoreply", "X-Autorespond")
_SUPPRESSED = {"all", "oof"}
# Exchange's out-of-office replies, in the languages we read; some carry no header that says so.
_OUT_OF_OFFICE = re.compile(
    r"^(?:Automatic reply|Automatische Antwort|Out of Office(?: AutoReply)?|R[ée]ponse automatique)"
    r"\s*:",
    re.IGNORECASE,
)


def _automatic(message: Message) -> str | None:
    """Why the mail is a machine's (RFC 3834 and the common non-standard shapes), else None."""
    submitted = _raw(message, "Auto-Submitted")
    words = [text for separator, text in _tokens(submitted or "") if not separator]
    if words and words[0].lower() != "no":  # comments (RFC 3834 allows them) dropped
        return f"Auto-Submitted: {submitted}"
    precedence = (_raw(message, "Precedence") or "").strip().lower()
    if precedence in _PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in _MARKS:
        if _raw(message, name) is not None:
            return name
    suppress = _raw(message, "X-Auto-Response-Suppress") or ""
    if {token.strip().lower() for token in suppress.split(",")} & _SUPPRESSED:
        return f"X-Auto-Response-Suppress: {suppress}"
    if _return_path(message) == "":
        return "Return-Path: <>"
    if message.get_content_type() == "multipart/report":
        return f"multipart/report; report-type={message.get_param('report-type', '')}"
    subject = _unfolded(str(message.get("Subject") or ""))
    if _OUT_OF_OFFICE.match(subject):
        return f"Subject: {subject}"
    return None


# Parts


def _parts(message: Message) -> list[Message]:
    """Every part, the message first, depth first; not inside attached messages."""
    found: list[Message] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        found.append(part)
        if part.get_content_maintype() == "multipart" and depth < MAX_DEPTH:
            stack += [(p, depth + 1) for p in reversed(_subparts(part))]
    return found


def _subparts(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _body(part: Message, depth: int) -> tuple[str, str] | None:
    """("plain" or "html", text) of the body `part` shows, if it shows one."""
    kind = part.get_content_type()
    if kind in ("text/plain", "text/html") and not _is_file(part):
        text = _decoded(part)
        return ("html", html_text(text)) if kind == "text/html" else ("plain", text)
    if part.get_content_maintype() != "multipart" or depth >= MAX_DEPTH:
        return None
    subparts = _subparts(part)
    if kind == "multipart/alternative":
        found = [b for b in (_body(p, depth + 1) for p in subparts) if b]
        plain = [b for b in found if b[0] == "plain" and b[1].strip()]
        shown = [b for b in found if b[1].strip()]
        for choice in (plain, shown, found):
            if choice:
                return choice[0]
        return None
    if kind in ("multipart/related", "multipart/report", "multipart/signed"):
        subparts = subparts[:1]  # the root; the report's human part; the signed content
    found = [b for b in (_body(p, depth + 1) for p in subparts) if b]
    if not found:
        return None
    return found[0][0], "\n\n".join(text for _, text in found if text.strip())


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text = decode_bytes(data, _charset(part))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_type() == "text/plain" and _param(part, "format") == "flowed":
        text = unflow(text, delsp=_param(part, "delsp") == "yes")
    return text


def _param(part: Message, name: str) -> str:
    return str(part.get_param(name, "")).strip().lower()


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except _HEADER_ERRORS:
        return None


def _is_file(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or _filename(part) is not None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except _HEADER_ERRORS:
        return None
    return header_text(name) if name else None


def _is_attached(part: Message) -> bool:
    """A part that is neither a multipart nor a text or HTML body."""
    if part.get_content_maintype() == "multipart":
        return False
    return part.get_content_type() not in ("text/plain", "text/html") or _is_file(part)


def _attachment(part: Message) -> Attachment:
    return Attachment(
        name=_filename(part) or "", content_type=part.get_content_type(), size=_size(part)
    )


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return len(payload)
    inner = _subparts(part)  # an attached message: its size as written out again
    try:
        return sum(len(m.as_bytes(policy=compat32)) for m in inner)
    except _HEADER_ERRORS:  # one too broken to write out: its size is not known
        return 0


# Authentication-Results (RFC 8601)


@dataclass(frozen=True, slots=True)
class _Result:
    method: str
    result: str
    properties: dict[str, str]


def authenticated(mail: Mail | Sequence[str], authserv_id: str, from_domain: str) -> bool:
    """Whether the server named `authserv_id` found the mail really from `from_domain`: one of
    its Authentication-Results headers reports dmarc=pass (for that From domain, where it names
    it), or dkim=pass for a signing domain (header.d, or header.i's) aligned with it, and none
    of them reports dmarc=fail.

    Results under any other authserv-id are ignored; the server must remove copies of its own
    header that arrive with the mail (RFC 8601 §5), and a conflicting dmarc=fail from one that
    got through is heeded. Alignment is relaxed without the public suffix list: the same domain,
    or one a subdomain of the other, the shorter having two labels at least (so a sibling
    subdomain, which DMARC would align, is not; a parent that is a public suffix of two labels
    such as co.uk would be, but only its registry can sign for it)."""
    if isinstance(mail, Mail):
        values: Sequence[str] = mail.authentication_results
    else:
        values = (mail,) if isinstance(mail, str) else mail
    domain = from_domain.strip().rstrip(".").lower()
    trusted = authserv_id.strip().lower()
    results = [
        result
        for value in values
        for server, found in [_authentication_results(value)]
        if server is not None and server.lower() == trusted
        for result in found
    ]
    if not domain or any(r.method == "dmarc" and r.result == "fail" for r in results):
        return False
    return any(_vouches(result, domain) for result in results)


def _vouches(result: _Result, domain: str) -> bool:
    if result.result != "pass":
        return False
    if result.method == "dmarc":
        return result.properties.get("header.from", domain).lower().rstrip(".") == domain
    if result.method == "dkim":
        signers = (result.properties.get("header.d"), result.properties.get("header.i"))
        return any(signer and _aligned(signer, domain) for signer in signers)
    return False


def _aligned(signer: str, domain: str) -> bool:
    signer = signer.rpartition("@")[2].strip().rstrip(".").lower()
    shorter = min(signer, domain, key=len)
    if "." not in shorter or not shorter.strip("."):
        return False
    return signer == domain or domain.endswith("." + signer) or signer.endswith("." + domain)


_Token = tuple[bool, str]  # (a separator ";" or "=", its text)


def _authentication_results(value: str) -> tuple[str | None, list[_Result]]:
    """The authserv-id and the results of one header's value; (None, []) without an id."""
    tokens = _tokens(value)
    if not tokens or tokens[0][0] or tokens[1:2] == [(True, "=")]:
        return None, []  # no authserv-id (Microsoft 365 writes none): trust nothing in it
    groups: list[list[_Token]] = [[]]
    for token in tokens[1:]:
        if token == (True, ";"):
            groups.append([])
        else:
            groups[-1].append(token)
    results = []
    for group in groups[1:]:  # groups[0]: the version, if any
        pairs = _pairs(group)
        if pairs:
            (method, result), *properties = pairs
            results.append(
                _Result(
                    method=method.split("/")[0].lower(),
                    result=result.lower(),
                    properties={name.lower(): v for name, v in properties},
                )
            )
    return tokens[0][1], results


def _pairs(group: list[_Token]) -> list[tuple[str, str]]:
    """`name=value` pairs; a name's words are joined where CFWS split it ("header . d")."""
    pairs: list[tuple[str, str]] = []
    words: list[str] = []
    at = 0
    while at < len(group):
        separator, text = group[at]
        if not separator:
            words.append(text)
            at += 1
            continue
        follows = group[at + 1] if at + 1 < len(group) else (True, "")
        if words and not follows[0]:
            pairs.append((_name(words), follows[1]))
            at += 1
        words = []
        at += 1
    return pairs


def _name(words: list[str]) -> str:
    name = words[-1]
    for word in reversed(words[:-1]):
        if not (word.endswith((".", "/")) or name.startswith((".", "/"))):
            break
        name = word + name
    return name


def _tokens(value: str) -> list[_Token]:
    """RFC 8601's lexical level: comments dropped, quoted strings unquoted, ";" and "=" apart."""
    tokens: list[_Token] = []
    word: list[str] = []

    def end_word() -> None:
        if word:
            tokens.append((False, "".join(word)))
            word.clear()

    at = 0
    while at < len(value):
        c = value[at]
        if c == "(":
            end_word()
            at = _after_comment(value, at)
        elif c == '"':
            end_word()
            text, at = _quoted(value, at)
            tokens.append((False, text))
        elif c in ";=":
            end_word()
            tokens.append((True, c))
            at += 1
        elif c.isspace():
            end_word()
            at += 1
        else:
            word.append(c)
            at += 1
    end_word()
    return tokens


def _after_comment(value: str, at: int) -> int:
    depth = 0
    while at < len(value):
        c = value[at]
        if c == "\\":
            at += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return at + 1
        at += 1
    return at


def _quoted(value: str, at: int) -> tuple[str, int]:
    chars: list[str] = []
    at += 1
    while at < len(value) and value[at] != '"':
        if value[at] == "\\" and at + 1 < len(value):
            at += 1
        chars.append(value[at])
        at += 1
    return "".join(chars), at + 1
