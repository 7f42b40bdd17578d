"""SMS's codec: what Twilio posts to us (an incoming text on /twilio/sms, a delivery report on
/twilio/status), checked, read and answered; texts out (text.py) and their preview. Pure: no I/O.

Twilio signs each webhook: `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed by the auth token,
of the URL Twilio called followed by every POST parameter (blank ones too) sorted by name. The URL
is the one configured in Twilio, which behind a proxy is not the one this server sees: it is
`SWITCHBOARD_PUBLIC_URL` + the path (+ the query, if any).

An incoming text is, by its whole body (case, spaces and punctuation aside):
- STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (and OPTOUT, REVOKE): the number opts out
  (`Consent`): nothing more is sent to it, and a request goes to the person's next channel;
- START, UNSTOP: it opts in again;
- HELP, INFO: answered at once with how to reply (unless Twilio answered it already, as its
  Advanced Opt-Out does and then says so in `OptOutType`);
- anything else: a message from that number (the person, through the directory). A reply to a request says YES or NO with the request's code
  (core/inbox.py reads it); STOP is never taken for an answer.

A conversation is `dm:<number>`: the sandbox's, the console's and Twilio's alike.

Carriers and Twilio confirm a STOP or a START themselves; Switchboard adds nothing to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import phonenumbers
from twilio.request_validator import RequestValidator

from channels.sms.preview import LOOK, preview
from channels.sms.text import render
from core.channels import (
    Ack,
    Acknowledged,
    AddressForm,
    Attachment,
    Consent,
    DeliveryStatus,
    Forged,
    Inbound,
    InboundMessage,
    Malformed,
    OutboundMessage,
    RawRequest,
)
from core.previews import Look, Preview

NAME = "sms"
INCOMING = "/twilio/sms"
STATUS = "/twilio/status"
STOP = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
START = frozenset({"start", "unstop"})
HELP = frozenset({"help", "info"})
HELP_TEXT = (
    "Switchboard: reply YES and the request's number to approve, or NO, the number and a reason"
    " to reject; reply STOP to get no more texts."
)
ADDRESS = AddressForm(
    "+15550199999",
    "an E.164 phone number like +15550100001 (spaces, dots, dashes, brackets allowed)",
    r"^[ ().-]*\+[ ().-]*[1-9](?:[ ().-]*[0-9]){6,14}[ ().-]*$",
)
# Twilio's delivery statuses, as Switchboard's; the others (queued, sending, …) say nothing new.
STATUSES: dict[str, Literal["sent", "delivered", "read"]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
}
FAILED = frozenset({"failed", "undelivered"})
# Twilio's error codes on a failed message: where sending again may help (the phone was off, the
# carrier busy), and where the person cannot get texts on that number at all.
RETRY = frozenset({"30001", "30003", "30008", "30009", "30022"})
UNREACHABLE = frozenset({"21211", "21610", "21612", "21614", "30004", "30005", "30006"})
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response>{}</Response>'


def conversation_of(number: str) -> str:
    """A conversation by text is the person's number, a direct one as the console shows it."""
    return f"dm:{number}"


def normalize(address: str) -> str:
    """A phone number in E.164 (+15550100001): spaces, dots, dashes and brackets allowed."""
    try:
        number = phonenumbers.parse(address.strip(), None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ValueError(f"{address!r} is not an E.164 phone number like +15550100001")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class SmsCodec:
    auth_token: str | None = None  # None: every webhook is forged (the sandbox takes none)
    public_url: str = "http://127.0.0.1:8000"
    name: str = NAME
    webhooks: tuple[str, ...] = (INCOMING, STATUS)
    look: Look = LOOK
    address: AddressForm = ADDRESS

    def verify(self, request: RawRequest) -> None:
        if not self.auth_token:
            raise Forged(
                "no TWILIO_AUTH_TOKEN: this server takes no webhook from Twilio", status=403
            )
        signature = request.headers.get("x-twilio-signature", "")
        if not signature:
            raise Forged("no X-Twilio-Signature", status=403)
        url = urlsplit(request.url)
        signed = self.public_url.rstrip("/") + url.path + (f"?{url.query}" if url.query else "")
        if not RequestValidator(self.auth_token).validate(signed, _form(request), signature):
            raise Forged("not Twilio's signature", status=403)

    def parse(self, request: RawRequest) -> list[Inbound]:
        form = _form(request)
        try:
            if urlsplit(request.url).path == STATUS:
                return [_status(form)]
            return [_incoming(form)]
        except KeyError as e:
            raise Malformed(f"not a Twilio webhook: no {e.args[0]}") from None
        except ValueError as e:  # a number that is no phone number; a ValidationError
            raise Malformed(f"not a Twilio webhook: {e}") from None

    def ack(self, request: RawRequest, accepted: Sequence[Inbound]) -> Ack:
        """Empty TwiML at once (the message goes through the inbox), or the help text."""
        helped = any(isinstance(i, Acknowledged) and i.what == "help" for i in accepted)
        said = f"<Message>{escape(HELP_TEXT)}</Message>" if helped else ""
        return Ack(200, TWIML.format(said).encode(), "text/xml")

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        return render(message, self.public_url)

    def preview(self, payload: Mapping[str, Any]) -> Preview:
        return preview(payload)

    def normalize(self, address: str) -> str:
        return normalize(address)


def _form(request: RawRequest) -> dict[str, str]:
    """The POST parameters as Twilio sent them, blank ones kept (its signature covers them)."""
    try:
        return dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed(f"not a Twilio webhook: {type(e).__name__}") from None


def _incoming(form: Mapping[str, str]) -> Inbound:
    sender = normalize(form["From"])
    body = form.get("Body", "")
    word = "".join(c for c in body.lower() if c.isalnum())
    if word in STOP or word in START:
        return Consent(channel=NAME, address=sender, allowed=word in START)
    if word in HELP:
        # Twilio's Advanced Opt-Out answered it already (and says so): not twice.
        return Acknowledged("help" if form.get("OptOutType", "") != "HELP" else "help answered")
    return InboundMessage(
        channel=NAME,
        external_id=form["MessageSid"],
        sender=sender,
        conversation=conversation_of(sender),
        text=body,
        attachments=_media(form),
        raw=f"message {form['MessageSid']}",
    )


def _media(form: Mapping[str, str]) -> tuple[Attachment, ...]:
    """An MMS's pictures and files, noted: their type and where Twilio keeps them."""
    count = int(form.get("NumMedia") or 0)
    return tuple(
        Attachment(
            name=f"media {i + 1}",
            content_type=form.get(f"MediaContentType{i}") or "application/octet-stream",
            url=form[f"MediaUrl{i}"],
        )
        for i in range(min(count, 10))
        if f"MediaUrl{i}" in form
    )


def _status(form: Mapping[str, str]) -> Inbound:
    sid, status = form["MessageSid"], form["MessageStatus"]
    if status in STATUSES:
        return DeliveryStatus(channel=NAME, message_id=sid, status=STATUSES[status])
    if status not in FAILED:
        return Acknowledged(f"status {status}")
    code = form.get("ErrorCode", "")
    return DeliveryStatus(
        channel=NAME,
        message_id=sid,
        status="failed",
        error=f"Twilio {status} {code}".strip() if code else f"Twilio {status}",
        retry=code in RETRY,
        unreachable=code in UNREACHABLE,
    )
