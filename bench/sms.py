"""Twilio's webhook with SMS real: signed incoming-message webhooks to `POST /twilio/sms`.

The server runs with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and TWILIO_API_URL,
the last pointing at the tests' loopback Twilio (tests/doubles/twilio.py), which runs on the
bench's event loop for as long as the server does: `serve` reads the account at start-up, and
the outbox texts the support agent's replies through it (counted). SWITCHBOARD_PUBLIC_URL is the
URL Twilio would call, which the signatures cover.

Each message is the form Twilio posts for an incoming text, every parameter (the blank ones too)
signed with the auth token, each with its own MessageSid: none is a duplicate. A conversation by
text is a number: four in five messages come from the demo directory's three numbers, which
continue their threads, and every fifth from a number in no directory, new each time, which
starts one by asking after an order. SMS talks to the support agent, which is public: every
text is taken. The server verifies the signature, parses the form, stores the message
through the inbox and answers empty TwiML; only then does the bench count it, once it finds it in
the inbox.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable

from bench.http import Connection, Reply
from tests.doubles import twilio as double
from tests.doubles.twilio import ACCOUNT_SID, AUTH_TOKEN, PHONE_NUMBER, TwilioDouble

INCOMING = "/twilio/sms"
PUBLIC_URL = "https://switchboard.bench.example"  # what Twilio calls, and signs
KNOWN = ("+15550100001", "+15550100002", "+15550100005")  # deploy/people.demo.toml's numbers
TEXTS = ("where is order 10001?", "where is order 10002?", "what about order 10003?")


_strangers = itertools.count(1)


def incoming(n: int) -> list[double.WebhookRequest]:
    """n incoming texts (see the module's docstring)."""
    out = []
    for i in range(n):
        if i % 5 == 4:
            sender, text = f"+1555{next(_strangers) % 10**7:07d}", TEXTS[i % len(TEXTS)]
        else:
            sender, text = KNOWN[i % len(KNOWN)], "any news?"
        params = double.inbound_message(sender, text)
        out.append(double.webhook_request(PUBLIC_URL + INCOMING, params, AUTH_TOKEN))
    return out


class SmsWebhook:
    """`POST /twilio/sms` on a server with SMS real, texting through a loopback Twilio."""

    name = "sms_webhook"
    label = "SMS webhook"
    channel = "sms"
    path = INCOMING
    token: str | None = None  # Twilio signs its requests; it has no API token of ours
    accepted = 200

    def __init__(self) -> None:
        self.twilio: TwilioDouble | None = None

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[dict[str, str]]:
        async with TwilioDouble() as twilio:
            self.twilio = twilio
            try:
                yield {
                    "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL,
                    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    "TWILIO_FROM_NUMBER": PHONE_NUMBER,
                    "TWILIO_API_URL": twilio.base_url,
                }
            finally:
                self.twilio = None

    def messages(self, n: int, tag: str) -> list[double.WebhookRequest]:
        # `tag` is not needed: every MessageSid is new to the server.
        return incoming(n)

    def send(self, connection: Connection, message: double.WebhookRequest) -> Awaitable[Reply]:
        return connection.post(self.path, message.body, dict(message.headers))

    def calls(self) -> int | None:
        """REST calls the server has made to the loopback Twilio so far."""
        return None if self.twilio is None else len(self.twilio.calls)


SMS_WEBHOOK = SmsWebhook()
