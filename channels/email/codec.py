"""Email's codec: a raw mail read into what core takes (mail.py does the reading), mail out laid
out with its threading (compose.py), and its preview. Pure: no I/O.

A conversation is a mail thread: its first message's Message-ID and its subject without
"Re:"-like prefixes, `<root@host> Subject`. A reply's root is the first of its References (mail
clients keep it there), else its In-Reply-To, else its own Message-ID (a new thread). A changed
subject starts a new conversation, as Gmail and Outlook start a new thread.

Each mail out is threaded under its conversation (In-Reply-To and References: the root) with
"Re: <subject>", or, starting one, gets a subject of its own; its Message-ID comes from the outbox
row's idempotency key, on EMAIL_FROM's domain, so a retry is the same mail. A request's copy
carries a token in its Reply-To, `agents+<token>@domain`: the request's id and an HMAC of it and
of the recipient's address, under a key only this server has. A reply sent to that address
answers that request; without a valid token (a forwarded mail, a guessed address) it decides
nothing (`unvouched`), and neither does a mail without a DKIM or DMARC pass from
EMAIL_TRUSTED_AUTHSERV_ID, when it is set. The reply from its first meaningful line on is the
message, and the token its reference to the request (an `Action` without a decision): core reads
it as any text reply, APPROVE (or yes, ok…), REJECT and a reason, an option's number, or for a
question the answer.

Auto-replies, list mail and bounces are never answers: a bounce of our mail is the delivery's
failure (the request goes to the person's next channel when it is permanent); the others are
noted and dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from channels.email.compose import compose
from channels.email.mail import Mail, NotMail, authenticated, plus_token, read
from channels.email.mail_text import first_line
from channels.email.preview import LOOK, preview
from core.channels import (
    Ack,
    Acknowledged,
    Action,
    AddressForm,
    DeliveryStatus,
    Forged,
    Inbound,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
)
from core.previews import Look, Preview
from core.text import CONTROLS

NAME = "email"
MAILBOX = "imap:"  # the scheme of what the mailbox listener hands the codec
ADDRESS = AddressForm(
    "stranger@example.com",
    "an email address like alice@example.com",
    f"^\\s*[^@\\s{CONTROLS}]+@[^@\\s{CONTROLS}]+\\.[^@\\s{CONTROLS}]+\\s*$",
)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PREFIX = re.compile(r"^\s*((re|aw|sv|fwd?|wg|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
SIGNATURE = 16  # hex characters of a token's HMAC


def normalize(address: str) -> str:
    """An email address, in lower case."""
    found = parseaddr(address.strip())[1]
    if not EMAIL.fullmatch(found):
        raise ValueError(f"{address!r} is not an email address like alice@example.com")
    return found.lower()


def topic(subject: str) -> str:
    """A subject without its "Re:", "AW:", "Fwd:" and the like, on one line."""
    return " ".join(PREFIX.sub("", subject).split())


def conversation_of(root: str, subject: str) -> str:
    return f"{root} {topic(subject)}".strip()


def parse_conversation(conversation: str) -> tuple[str, str]:
    """The root Message-ID and the subject of a conversation."""
    root, _, subject = conversation.partition(" ")
    return root, subject


@dataclass(frozen=True, slots=True)
class EmailCodec:
    sender: str  # EMAIL_FROM, maybe with a display name: "Switchboard <agents@example.com>"
    secret: bytes  # the tokens' key
    console_url: str = "http://127.0.0.1:8000"
    trusted_authserv_id: str | None = None
    name: str = NAME
    webhooks: tuple[str, ...] = ()  # mail arrives through the mailbox, never over HTTP
    look: Look = LOOK
    address: AddressForm = ADDRESS

    @property
    def local(self) -> str:
        """EMAIL_FROM's local part: the plus-addresses' base ("agents" in agents+…@…)."""
        return normalize(self.sender).partition("@")[0]

    @property
    def domain(self) -> str:
        return normalize(self.sender).partition("@")[2]

    def verify(self, request: RawRequest) -> None:
        if not request.url.startswith(MAILBOX):
            raise Forged("mail arrives through the mailbox, not over HTTP")

    def parse(self, request: RawRequest) -> list[Inbound]:
        return self.read(request.body)

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        return Ack()

    def read(self, raw: bytes) -> list[Inbound]:
        """One mail from the mailbox."""
        try:
            mail = read(raw)
        except NotMail as e:
            raise Malformed(f"not a mail: {e}") from None
        if mail.bounce is not None and mail.bounce.original_message_id:
            return [self._bounced(mail)]
        if mail.automatic is not None:
            return [
                Acknowledged(f"automatic mail ({mail.automatic}): neither an answer nor answered")
            ]
        if not mail.from_address or not mail.message_id:
            raise Malformed("a mail without a From address or a Message-ID")
        return [self._message(mail)]

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        root, subject = parse_conversation(message.conversation or "")
        own = self._message_id(message.idempotency_key)
        threaded = bool(root)
        if not threaded:
            subject = _subject(message)  # in a thread, its own even if none: another is another
        token = self.token(message.request_id, message.address) if message.request_id else None
        payload = compose(
            message,
            sender=self.sender,
            subject=f"Re: {subject}".rstrip() if threaded else subject,
            message_id=own,
            in_reply_to=root or None,
            references=[root] if root else [],
            reply_to=f"{self.local}+{token}@{self.domain}" if token else None,
            console_url=self.console_url,
        )
        payload["conversation"] = conversation_of(root or own, subject)
        if message.kind == "outcome" and message.edit_of:
            payload["settles"] = message.edit_of  # a new mail, about the request's copy
        return payload

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        return preview(payload)

    def normalize(self, address: str) -> str:
        return normalize(address)

    def token(self, request_id: str, address: str) -> str:
        """The Reply-To token of a request's copy to `address`."""
        mac = hmac.new(self.secret, f"{request_id}\n{address.lower()}".encode(), hashlib.sha256)
        return f"{request_id}.{mac.hexdigest()[:SIGNATURE]}"

    def _request_of(self, token: str | None, sender: str) -> str | None:
        """The request a token names, if it is the one this server gave `sender`."""
        if not token or "." not in token:
            return None
        request_id = token.rpartition(".")[0]
        expected = self.token(request_id, sender).encode()
        return request_id if hmac.compare_digest(token.encode(), expected) else None

    def _message_id(self, key: str) -> str:
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{self.domain}>"

    def _bounced(self, mail: Mail) -> DeliveryStatus:
        assert mail.bounce is not None and mail.bounce.original_message_id
        said = "; ".join(
            f"{f.recipient} {f.status} {f.diagnostic}".strip() for f in mail.bounce.failures
        )
        permanent = mail.bounce.permanent
        return DeliveryStatus(
            channel=NAME,
            message_id=mail.bounce.original_message_id,
            status="failed",
            error=f"bounced: {said or 'no reason given'}",
            retry=not permanent,
            unreachable=permanent,
        )

    def _message(self, mail: Mail) -> InboundMessage:
        assert mail.message_id is not None
        root = next(iter(mail.references), None) or mail.in_reply_to or mail.message_id
        conversation = conversation_of(root, mail.subject)
        token = next(
            (
                t
                for a in (*mail.to, *mail.cc, *mail.delivered_to)
                if (t := plus_token(a, self.local))
            ),
            None,
        )
        request_id = self._request_of(token, mail.from_address)
        unvouched = ""
        if request_id is None:
            unvouched = "it came without the request's token: reply to the request's own email"
        if self.trusted_authserv_id and not authenticated(
            mail, self.trusted_authserv_id, mail.from_address.partition("@")[2]
        ):
            unvouched = f"{self.trusted_authserv_id} did not vouch for it (no DKIM or DMARC pass)"
        reply = mail.reply.strip()
        line = first_line(reply)  # what decides: from here on (a greeting above it is not)
        text = reply[reply.find(line) :] if line else reply
        if not text and root == mail.message_id:
            text = topic(mail.subject)  # a new mail said all in its subject
        referenced = request_id is not None and not unvouched
        action = Action(request_id=request_id) if referenced else None
        return InboundMessage(
            channel=NAME,
            external_id=mail.message_id,
            sender=mail.from_address,
            sender_name=mail.from_name,
            conversation=conversation,
            text=text,
            attachments=mail.attachments,
            action=action,
            unvouched=unvouched,
            raw=f"mail {mail.message_id}",
        )


def _subject(message: OutboundMessage) -> str:
    """The subject of a mail that starts a thread."""
    context = message.context
    agent = (context.agent if context else message.agent) or "Switchboard"
    gist = " ".join((context.question if context and context.question else message.text).split())
    gist = gist if len(gist) <= 80 else gist[:79] + "…"
    if message.kind == "request":
        what = "Approval needed" if message.request_kind == "approval" else "Question"
        return f"{what} ({agent}): {gist}"
    return f"{agent}: {gist}"
