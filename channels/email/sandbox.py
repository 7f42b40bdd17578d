"""Email's sandbox: mail written and read as it would be, sent nowhere.

Its transport answers as the SMTP server's acceptance would: the mail's own Message-ID, and the
thread the codec named. Its simulator writes the mail a person's mail client would send and hands
it to the codec's own reader, so that what the inbox gets is what the mailbox would bring: a reply
goes to the Reply-To of the mail it answers (the request's token with it), is threaded under it
(In-Reply-To, References, "Re:") and quotes it below an "On … wrote:" line, as Gmail writes it, for
the parser to take off; a new mail says its first line in its subject.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime
from typing import Any

from channels.email.codec import EmailCodec, normalize, parse_conversation, topic
from core.channels import (
    Action,
    InboundMessage,
    Malformed,
    OutboundMessage,
    Receipt,
)
from core.events import utcnow

DOMAIN = "sandbox.switchboard"
SUBJECT_WORDS = 60  # characters of a new mail's first line that make its subject


class MailSandbox:
    """Sends nowhere; each mail is accepted as a server would, under its own Message-ID."""

    async def send(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        return Receipt(str(payload["message_id"]), str(payload["conversation"]))

    async def edit(self, message: OutboundMessage, payload: dict[str, Any]) -> Receipt:
        return await self.send(message, payload)  # a mail is never edited: a new one is sent

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class MailSimulator:
    """What the mailbox would bring when a person writes or replies, read by the codec itself."""

    codec: EmailCodec

    @property
    def channel(self) -> str:
        return self.codec.name

    def new_conversation(self, address: str) -> str:
        """A mail not written yet: its Message-ID (its subject comes with its text)."""
        return _message_id()

    def simulate(
        self,
        *,
        sender: str,
        conversation: str,
        text: str = "",
        action: Action | None = None,
        answering: Mapping[str, Any] | None = None,
    ) -> InboundMessage:
        try:
            sender = normalize(sender)
            said = _words(text, action)
            if answering is not None:
                mail = self._reply(sender, said, answering, action)
            else:
                mail = self._mail(sender, said, conversation, action)
            mail["From"] = sender
            mail["Date"] = format_datetime(utcnow())
            raw = bytes(mail)
        except ValueError as e:  # no address, or what the email package will not write
            raise Malformed(f"no mail client would send that: {e}") from None
        [read] = self.codec.read(raw)
        if not isinstance(read, InboundMessage):  # it wrote what reads as an automatic mail
            raise Malformed("that reads as an automatic mail, not a person's")
        return read

    def _reply(
        self, sender: str, said: str, answering: Mapping[str, Any], action: Action | None
    ) -> EmailMessage:
        """A reply to the mail shown last, as a mail client writes it."""
        mail = EmailMessage(policy=default)
        mail["Message-ID"] = _message_id()
        to = _text(answering.get("reply_to")) or _text(answering.get("from"))
        mail["To"] = self._to(sender, action) or to
        mail["Subject"] = f"Re: {topic(_text(answering.get('subject')))}".rstrip()
        answered = _text(answering.get("message_id"))
        references = [r for r in answering.get("references") or () if isinstance(r, str)]
        if answered:
            mail["In-Reply-To"] = answered
            mail["References"] = " ".join([*references, answered])
        quoted = "\n".join(
            f"> {line}".rstrip() for line in _text(answering.get("text")).split("\n")
        )
        when = format_datetime(utcnow())
        mail.set_content(f"{said}\n\nOn {when}, {_text(answering.get('from'))} wrote:\n{quoted}\n")
        return mail

    def _mail(
        self, sender: str, said: str, conversation: str, action: Action | None
    ) -> EmailMessage:
        """A mail in a thread nothing was sent to this person in: the thread's first, when the
        conversation is a Message-ID of ours not used yet, else a reply to its first mail."""
        root, subject = parse_conversation(conversation)
        mail = EmailMessage(policy=default)
        mail["To"] = self._to(sender, action) or self.codec.sender
        if root.endswith(f"@{DOMAIN}>") and not subject:
            mail["Message-ID"] = root
            first = " ".join(said.partition("\n")[0].split())
            mail["Subject"] = first if len(first) <= SUBJECT_WORDS else first[:59] + "…"
        else:
            mail["Message-ID"] = _message_id()
            mail["Subject"] = f"Re: {subject}".rstrip()
            if root:
                mail["In-Reply-To"] = root
                mail["References"] = root
        mail.set_content(said + "\n")
        return mail

    def _to(self, sender: str, action: Action | None) -> str | None:
        """A press names its request: the reply goes to that request's own address."""
        if action is None or action.request_id is None:
            return None
        token = self.codec.token(action.request_id, sender)
        return f"{self.codec.local}+{token}@{self.codec.domain}"


def _words(text: str, action: Action | None) -> str:
    """What a person writes: their text, or for a press the words that say it."""
    if action is None or action.decision is None:
        return text
    match action.decision:
        case "approve":
            return " ".join(["APPROVE", text or action.reason]).strip()
        case "reject":
            return " ".join(["REJECT", text or action.reason]).strip()
    return action.value or text


def _message_id() -> str:
    return f"<sbx-{uuid.uuid4().hex[:16]}@{DOMAIN}>"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
