"""The SMS channel: texts in and out through Twilio, on the `twilio` library and phonenumbers.
Without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN it runs as its sandbox: its own codec, rendering
and reading as Twilio would, with a fake transport."""

from __future__ import annotations

from channels.sandbox import sandboxed
from channels.sms.codec import STATUS, SmsCodec, conversation_of, normalize
from core.channels import Channel
from core.errors import Misconfigured
from core.settings import Settings


def sms(settings: Settings) -> Channel:
    public_url = settings.switchboard_public_url
    if settings.twilio_account_sid is None or settings.twilio_auth_token is None:
        # A text cannot be edited: an outcome is a new one, in the sandbox as with Twilio.
        codec = SmsCodec(public_url=public_url)
        return sandboxed(codec, conversations=conversation_of, edits=False)
    sender = settings.twilio_messaging_service_sid or settings.twilio_from_number
    if not sender:
        raise Misconfigured(
            "sms: set TWILIO_FROM_NUMBER (the number texts come from) or"
            " TWILIO_MESSAGING_SERVICE_SID"
        )
    if not sender.startswith("MG"):
        try:
            sender = normalize(sender)
        except ValueError as e:
            raise Misconfigured(f"sms: TWILIO_FROM_NUMBER: {e}") from None
    from channels.sms.transport import SmsTransport

    token = settings.twilio_auth_token.get_secret_value()
    codec = SmsCodec(token, public_url)
    status_url = public_url.rstrip("/") + STATUS
    transport = SmsTransport(
        settings.twilio_account_sid, token, sender, settings.twilio_api_url, status_url
    )
    return Channel(codec, transport, check=transport.check)
