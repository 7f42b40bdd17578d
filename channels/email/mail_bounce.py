"""Bounces: a delivery status notification read for who could not be reached, why, and which of
our messages it was. Pure.

The standard shape is RFC 3464's `multipart/report; report-type=delivery-status`, which Postfix,
Exim, Gmail and Exchange all send: a `message/delivery-status` part with a block per recipient
(Action, Status, Diagnostic-Code) and the original message's headers in a `text/rfc822-headers`
or `message/rfc822` part. Where those are missing, the report's own `X-Original-Message-ID`
(Gmail's) or `Original-Envelope-Id` (the ENVID our sender gave, if it gave the Message-ID) names
the original. qmail's plain-text bounce ("Hi. This is the qmail-send program") is read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from channels.email.mail_text import decode_bytes, header_text

MAX_PARTS = 200  # parts of a report looked at, at most


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient the message did not reach (yet)."""

    recipient: str  # the address, lower-cased
    status: str  # RFC 3463: "5.1.1"; 5.x.x permanent, 4.x.x transient
    diagnostic: str = ""  # what the receiving server said

    @property
    def permanent(self) -> bool:
        return not self.status.startswith("4")


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery status notification: the failed recipients and the original's Message-ID."""

    failures: tuple[Failure, ...]
    original_message_id: str | None

    @property
    def permanent(self) -> bool:
        """Whether every failure is final (a transient one may still be delivered)."""
        return all(failure.permanent for failure in self.failures)


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([245])\d\d\b")
_MESSAGE_ID = re.compile(r"<[^<>\s]*>")
_XTEXT = re.compile(r"\+([0-9A-Fa-f]{2})")


def message_ids(value: str) -> list[str]:
    """The msg-ids in a header's value, in order, angle brackets kept and white space removed;
    an id written without brackets (as some clients do) is given them."""
    found = [re.sub(r"\s+", "", m) for m in re.findall(r"<[^<>]*>", value)]
    if not found:
        found = [f"<{token}>" for token in value.split() if "@" in token]
    return [m for m in found if m != "<>"]


def bounce_of(message: Message, parts: list[Message]) -> Bounce | None:
    """The bounce `message` is, if it is one; `parts` are its parts, the message first."""
    if message.get_content_type() == "multipart/report":
        if str(message.get_param("report-type", "")).lower() == "delivery-status":
            return _report(parts)
        return None
    sender = _raw(message, "From") or ""
    if message.get_content_type() == "text/plain" and "mailer-daemon@" in sender.lower():
        return _qmail(message)
    return None


def _report(parts: list[Message]) -> Bounce | None:
    failures: list[Failure] = []
    original: str | None = None
    fallback: str | None = None
    for part in parts[:MAX_PARTS]:
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _blocks(part)
            if blocks:
                fallback = fallback or _reported_id(blocks[0])
            failures += [f for f in map(_failure, blocks[1:]) if f]
        elif kind in ("text/rfc822-headers", "text/global-headers") and original is None:
            original = _first_id(HeaderParser().parsestr(_text(part)).get("Message-ID"))
        elif kind in ("message/rfc822", "message/global") and original is None:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = _first_id(_raw(inner[0], "Message-ID"))
    if not failures:
        return None
    return Bounce(failures=tuple(failures), original_message_id=original or fallback)


def _blocks(part: Message) -> list[Message]:
    """The report's blocks: the per-message one, then one per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    return []


def _failure(block: Message) -> Failure | None:
    action = (_raw(block, "Action") or "").strip().lower()
    if action not in ("failed", "delayed"):
        return None  # delivered, relayed, expanded
    recipient = _address(_raw(block, "Final-Recipient") or _raw(block, "Original-Recipient"))
    diagnostic = _unfold(_raw(block, "Diagnostic-Code") or "")
    diagnostic = diagnostic.split(";", 1)[1].strip() if ";" in diagnostic else diagnostic
    status = _status(_raw(block, "Status") or "") or _status(diagnostic)
    if status is None:
        status = "4.0.0" if action == "delayed" else "5.0.0"
    return Failure(recipient=recipient, status=status, diagnostic=diagnostic)


def _reported_id(block: Message) -> str | None:
    original = _first_id(_raw(block, "X-Original-Message-ID"))
    if original:
        return original
    envelope = _raw(block, "Original-Envelope-Id")
    if envelope:  # xtext (RFC 3461): "+2B" for "+"
        return _first_id(_XTEXT.sub(lambda m: chr(int(m.group(1), 16)), envelope))
    return None


# qmail

_QMAIL = re.compile(r"^Hi\. This is the qmail-send program", re.MULTILINE)
_QMAIL_RECIPIENT = re.compile(r"^<([^<>\s]+@[^<>\s]+)>:[ \t]*\n((?:.+\n?)*)", re.MULTILINE)
_QMAIL_COPY = re.compile(
    r"^--- (?:Below this line is a copy of the message|Enclosed are the original headers)"
    r"[^\n]*\n",
    re.MULTILINE,
)


def _qmail(message: Message) -> Bounce | None:
    text = _text(message)
    if not _QMAIL.search(text):
        return None
    found = _QMAIL_COPY.search(text)
    report, copy = (text[: found.start()], text[found.end() :]) if found else (text, "")
    transient = "temporary" in report.lower() and "permanent" not in report.lower()
    failures = []
    for match in _QMAIL_RECIPIENT.finditer(report):
        diagnostic = " ".join(match.group(2).split())
        status = _status(diagnostic) or ("4.0.0" if transient else "5.0.0")
        failures.append(Failure(match.group(1).lower(), status, diagnostic))
    if not failures:
        return None
    original = _first_id(HeaderParser().parsestr(copy.lstrip("\n")).get("Message-ID"))
    return Bounce(failures=tuple(failures), original_message_id=original)


# helpers


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError):  # an RFC 2231 charset naming no codec
        charset = None
    return decode_bytes(data, charset).replace("\r\n", "\n")


def _raw(message: Message, name: str) -> str | None:
    """A header's value as written (unfolded), read without the header registry."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return _unfold(header_text(str(value)))
    return None


def _unfold(value: str) -> str:
    return " ".join(value.split())


def _first_id(value: object) -> str | None:
    found = message_ids(str(value)) if value else []
    return found[0] if found else None


def _address(value: str | None) -> str:
    """The address in "rfc822; nobody@example.org" (the type is optional in practice)."""
    address = (value or "").split(";", 1)[-1].strip().strip("<>").strip()
    return address.lower()


def _status(text: str) -> str | None:
    found = _STATUS.search(text)
    if found:
        return found.group(0)
    code = _REPLY_CODE.search(text)
    return f"{code.group(1)}.0.0" if code and code.group(1) != "2" else None
